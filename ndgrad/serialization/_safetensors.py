"""Checkpoints as safetensors files: ndgrad's own format, which involves no pickle at all.

Tensors go into the safetensors body; everything around them (dict keys of any type, lists,
tuples, numbers, strings, None: an optimizer's ``param_groups``, a training loop's epoch counter)
goes into the header metadata as JSON. A model's ``state_dict()`` is stored under its own keys,
so the file loads straight into PyTorch with ``safetensors.torch.load_file`` (and a file written
by ``safetensors.torch.save_file`` loads here).
"""

from __future__ import annotations

import json
import struct
from collections import OrderedDict
from typing import Any

import numpy as np

from ndgrad.nn.module import Module
from ndgrad.serialization._allowlist import CorruptError
from ndgrad.tensor import Tensor

_STRUCTURE_KEY = "ndgrad.structure"
_FORMAT_VERSION = "1"


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError("ndgrad.save/ndgrad.load need the safetensors package for "
                          "safetensors files: pip install safetensors (or pip install "
                          "'ndgrad[io]')") from None
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

    def _array(self, arr: np.ndarray, path: list[str], kind: str) -> dict[str, str]:
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"ndgrad.save cannot store an array of dtype {arr.dtype} "
                            f"(at {'.'.join(path) or 'the top level'})")
        name = self._name(path)
        # (np.ascontiguousarray would turn a 0-d array into shape (1,))
        self.arrays[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
        return {kind: name}

    def encode(self, obj: Any, path: list[str]) -> Any:
        if isinstance(obj, Tensor):
            return self._array(obj._data, path, "__tensor__")
        if type(obj) is np.ndarray:
            return self._array(obj, path, "__ndarray__")
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return self._array(np.asarray(obj), path, "__npscalar__")
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
            return {"__odict__" if isinstance(obj, OrderedDict) else "__dict__": items}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, [*path, str(i)]) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, [*path, str(i)]) for i, v in enumerate(obj)]
        if isinstance(obj, Module):
            raise TypeError(f"ndgrad.save cannot store a whole {type(obj).__name__} module: save "
                            f"its state_dict() instead (a module's code cannot be stored safely)")
        raise TypeError(f"ndgrad.save stores tensors, arrays, numbers, strings, None and "
                        f"dicts/lists/tuples of them (it never pickles); got "
                        f"{type(obj).__module__}.{type(obj).__qualname__} at "
                        f"{'.'.join(path) or 'the top level'}")


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(node, dict):
        if "__tensor__" in node:
            return Tensor._make(arrays[node["__tensor__"]])
        if "__ndarray__" in node:
            return arrays[node["__ndarray__"]]
        if "__npscalar__" in node:
            return arrays[node["__npscalar__"]][()]
        if "__odict__" in node:
            return OrderedDict((k, _decode(v, arrays)) for k, v in node["__odict__"])
        if "__dict__" in node:  # files from before ndgrad told dict and OrderedDict apart
            return {k: _decode(v, arrays) for k, v in node["__dict__"]}
        if "__tuple__" in node:
            return tuple(_decode(v, arrays) for v in node["__tuple__"])
        raise ValueError(f"unknown node in the checkpoint's structure: {sorted(node)}")
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    return node


def dumps(obj: Any) -> bytes:
    """``obj`` as a safetensors file: arrays in the body, the structure in the metadata."""
    encoder = _Encoder()
    try:
        skeleton = encoder.encode(obj, [])
    except RecursionError:
        raise ValueError("ndgrad.save cannot store this object: it is nested too deeply (or "
                         "contains itself)") from None
    metadata = {"format": "pt", _STRUCTURE_KEY: json.dumps(skeleton),
                "ndgrad.version": _FORMAT_VERSION}
    return bytes(_safetensors_numpy().save(encoder.arrays, metadata=metadata))


# -- decoding ---------------------------------------------------------------------------------
def looks_like_safetensors(data: bytes) -> bool:
    """A u64 header length that fits in the file, followed by a JSON object."""
    if len(data) < 9:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    return n <= len(data) - 8 and data[8:9] == b"{"


def _header_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors header (8-byte little-endian length, then JSON)."""
    if len(data) < 8:
        raise CorruptError(f"it is not a valid safetensors file: the file has only {len(data)} "
                           f"bytes (truncated or empty?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise CorruptError(f"it is not a valid safetensors file: its header claims {n} bytes but "
                           f"the file has {len(data) - 8} after the length (truncated, or not a "
                      f"safetensors file)")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptError(f"it is not a valid safetensors file: its header is not valid JSON "
                           f"({e})") from None
    except RecursionError:
        raise CorruptError("it is not a valid safetensors file: its JSON header is nested too "
                           "deeply") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def loads(data: bytes) -> Any:
    """What :func:`dumps` wrote, or a plain safetensors file as a dict of Tensors."""
    metadata = _header_metadata(data)
    try:
        arrays = _safetensors_numpy().load(data)
    except Exception as e:  # safetensors raises its own SafetensorError
        raise CorruptError(f"it is not a valid safetensors file (corrupt or truncated?): "
                           f"{e}") from None
    arrays = {k: v if v.flags.writeable else v.copy() for k, v in arrays.items()}
    structure = metadata.get(_STRUCTURE_KEY)
    if structure is None:  # a plain safetensors file: a flat dict of tensors in file order
        return OrderedDict((k, Tensor._make(v)) for k, v in arrays.items())
    try:
        return _decode(json.loads(structure), arrays)
    except (json.JSONDecodeError, KeyError, ValueError, TypeError, IndexError) as e:
        raise CorruptError(f"a damaged ndgrad structure record in its metadata: {e!r}") from None
    except RecursionError:
        raise CorruptError("its ndgrad structure record is nested too deeply") from None
