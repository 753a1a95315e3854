"""ndgrad.save / ndgrad.load: checkpoints as safetensors files, never pickle.

Tensors go into the safetensors body; everything around them (dict keys of any type, lists,
tuples, numbers, strings, None: an optimizer's ``param_groups``, a training loop's epoch counter)
goes into the header metadata as JSON. A model's ``state_dict()`` is stored under its own keys,
so the file loads straight into PyTorch with ``safetensors.torch.load_file`` (and a file written
by ``safetensors.torch.save_file`` loads here). Writes are atomic: a temporary file in the same
directory, flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections import OrderedDict
from typing import Any

import numpy as np

from ndgrad.tensor import Tensor

_STRUCTURE_KEY = "ndgrad.structure"
_FORMAT_VERSION = "1"


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError("ndgrad.save/ndgrad.load need the safetensors package: "
                          "pip install safetensors (or pip install 'ndgrad[io]')") from None
    return safetensors.numpy


# -- encoding: object -> (arrays, JSON skeleton) ---------------------------------------------
class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _name(self, path: list[str]) -> str:
        name = ".".join(path) or "tensor"
        base, n = name, 1
        while name in self.arrays:  # keys containing "." can collide; keep every name unique
            name = f"{base}#{n}"
            n += 1
        return name

    def encode(self, obj: Any, path: list[str]) -> Any:
        if isinstance(obj, Tensor) or isinstance(obj, np.ndarray):
            arr = obj._data if isinstance(obj, Tensor) else obj
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"ndgrad.save cannot store an array of dtype {arr.dtype} "
                                f"(at {'.'.join(path) or 'the top level'})")
            name = self._name(path)
            # (np.ascontiguousarray would turn a 0-d array into shape (1,))
            self.arrays[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
            return {"__tensor__": name}
        if obj is None or isinstance(obj, bool | int | float | str):
            return obj
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not (k is None or isinstance(k, bool | int | float | str)):
                    raise TypeError(f"ndgrad.save can only store dict keys that are strings, "
                                    f"numbers or None; got {type(k).__name__} at "
                                    f"{'.'.join(path) or 'the top level'}")
                items.append([k, self.encode(v, [*path, str(k)])])
            return {"__dict__": items}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, [*path, str(i)]) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, [*path, str(i)]) for i, v in enumerate(obj)]
        raise TypeError(f"ndgrad.save stores tensors, arrays, numbers, strings, None and "
                        f"dicts/lists/tuples of them (it never pickles); got "
                        f"{type(obj).__module__}.{type(obj).__qualname__} at "
                        f"{'.'.join(path) or 'the top level'}")


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(node, dict):
        if "__tensor__" in node:
            return Tensor._make(arrays[node["__tensor__"]])
        if "__dict__" in node:
            return OrderedDict((k, _decode(v, arrays)) for k, v in node["__dict__"])
        if "__tuple__" in node:
            return tuple(_decode(v, arrays) for v in node["__tuple__"])
        raise ValueError(f"unknown node in the checkpoint's structure: {sorted(node)}")
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    return node


def _path_of(f: Any) -> str | None:
    return os.fspath(f) if isinstance(f, str | os.PathLike) else None


# -- save -------------------------------------------------------------------------------------
def save(obj: Any, f: Any, **kwargs: Any) -> None:
    """Write ``obj`` (a state_dict, an optimizer's state_dict, or dicts/lists of tensors and
    plain values) to the path ``f`` (or a binary file object) as a safetensors file.

    The write is atomic for paths: a crash never leaves a truncated checkpoint behind."""
    st = _safetensors_numpy()
    encoder = _Encoder()
    skeleton = encoder.encode(obj, [])
    metadata = {"format": "pt", _STRUCTURE_KEY: json.dumps(skeleton),
                "ndgrad.version": _FORMAT_VERSION}
    data = st.save(encoder.arrays, metadata=metadata)
    path = _path_of(f)
    if path is None:
        if not hasattr(f, "write"):
            raise TypeError(f"ndgrad.save expects a path or a binary file object, got "
                            f"{type(f).__name__}")
        f.write(data)
        return
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600 files; use the usual umask mode
                os.fchmod(out.fileno(), 0o666 & ~_umask())
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        _fsync_dir(directory)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: str) -> None:
    """Persist the rename itself (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- load -------------------------------------------------------------------------------------
def _header_metadata(data: bytes, name: str) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors header (8-byte little-endian length, then JSON)."""
    if len(data) < 8:
        raise RuntimeError(f"{name} is not a valid safetensors checkpoint: the file has only "
                           f"{len(data)} bytes (truncated or empty?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise RuntimeError(f"{name} is not a valid safetensors checkpoint: its header claims "
                           f"{n} bytes but the file has {len(data) - 8} after the length "
                           f"(truncated, or not a safetensors file)")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RuntimeError(f"{name} is not a valid safetensors checkpoint: its header is not "
                           f"valid JSON ({e})") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def _looks_like_safetensors(data: bytes) -> bool:
    """A u64 header length that fits in the file, followed by a JSON object."""
    if len(data) < 9:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    return n <= len(data) - 8 and data[8:9] == b"{"


def load(f: Any, map_location: Any = None, weights_only: bool = True, **kwargs: Any) -> Any:
    """Read a checkpoint written by ``ndgrad.save`` (or any safetensors file, e.g. from
    ``safetensors.torch.save_file``) and return what was saved, with Tensors for arrays.

    A corrupt or truncated file raises a RuntimeError naming the file. Nothing is unpickled:
    PyTorch's pickle-based ``.pt`` files are refused with instructions to convert them."""
    if map_location is not None and str(map_location).split(":")[0] != "cpu" \
            and not callable(map_location) and not isinstance(map_location, dict):
        raise RuntimeError(f"ndgrad runs on the CPU only; map_location={map_location!r} is "
                           f"not available")
    path = _path_of(f)
    name = repr(path) if path is not None else "the checkpoint stream"
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"no checkpoint at {path!r}") from None
    elif hasattr(f, "read"):
        data = f.read()
    elif isinstance(f, bytes | bytearray | memoryview):
        data = bytes(f)
    else:
        raise TypeError(f"ndgrad.load expects a path or a binary file object, got "
                        f"{type(f).__name__}")
    if not _looks_like_safetensors(data) and (data[:2] == b"PK" or data[:1] == b"\x80"):
        raise RuntimeError(f"{name} looks like a PyTorch pickle checkpoint (torch.save). ndgrad "
                           f"never unpickles files; convert it in PyTorch with "
                           f"safetensors.torch.save_file(torch.load(path), 'model.safetensors') "
                           f"and load that file instead")
    metadata = _header_metadata(data, name)
    st = _safetensors_numpy()
    try:
        arrays = st.load(data)
    except Exception as e:  # safetensors raises its own SafetensorError
        raise RuntimeError(f"{name} is not a valid safetensors checkpoint (corrupt or "
                           f"truncated?): {e}") from None
    arrays = {k: v if v.flags.writeable else v.copy() for k, v in arrays.items()}
    structure = metadata.get(_STRUCTURE_KEY)
    if structure is None:  # a plain safetensors file: a flat dict of tensors in file order
        return OrderedDict((k, Tensor._make(v)) for k, v in arrays.items())
    try:
        skeleton = json.loads(structure)
        return _decode(skeleton, arrays)
    except (json.JSONDecodeError, KeyError, ValueError, TypeError) as e:
        raise RuntimeError(f"{name} has a damaged ndgrad structure record in its metadata: "
                           f"{e!r}") from None
