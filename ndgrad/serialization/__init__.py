"""ndgrad.save / ndgrad.load: checkpoints in PyTorch's format or as safetensors, never by
running code from a file.

Two formats, chosen by the file name when saving and by the contents when loading:

- PyTorch's (``torch.save``'s zip format; ``.pt``, ``.pth``, ``.bin``, ``.ckpt``, ``.tar``):
  read through a restricted pickle reader that can build only tensors, NumPy arrays, numbers,
  strings and plain containers, as ``torch.load(weights_only=True)`` does, so pretrained
  PyTorch weights load into ndgrad models; written so that ``torch.load(weights_only=True)``
  reads them. torch's legacy format (before 1.6) is read too.
- safetensors (``.safetensors``, any other name, and file objects without such a name unless
  ``format="torch"``): see ``_safetensors``.

A bad file (truncated, corrupt, lying about sizes, too deeply nested) raises one RuntimeError
that names the file; a file that asks for anything beyond the allow-list (a global such as
``os.system``, a whole pickled model) raises ``pickle.UnpicklingError``, also naming the file.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from typing import Any

from ndgrad.serialization import _safetensors, _torch
from ndgrad.serialization._allowlist import (
    CorruptError,
    RefusedError,
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    safe_globals,
)

__all__ = ["save", "load", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "safe_globals"]

_TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")


def _path_of(f: Any) -> str | None:
    return os.fspath(f) if isinstance(f, str | os.PathLike) else None


# -- save -------------------------------------------------------------------------------------
def save(obj: Any, f: Any, pickle_module: Any = None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, *, format: str | None = None) -> None:
    """Write ``obj`` (a state_dict, an optimizer's state_dict, or dicts/lists/tuples of tensors,
    NumPy arrays, numbers, strings and None) to the path ``f`` or a binary file object.

    A path ending in ``.pt``/``.pth``/``.bin``/``.ckpt``/``.tar`` (or ``format="torch"``) gets
    PyTorch's zip format, which ``torch.load`` reads, and so does a file opened on such a path
    (``open("model.pt", "wb")``: its ``name``); other paths and file objects (``BytesIO``) get
    safetensors (``format="safetensors"``). ``pickle_module``/``pickle_protocol`` are accepted
    for torch's signature; ndgrad always writes protocol 2, as torch does by default. Whole
    Modules are refused: save ``model.state_dict()``. The write is atomic for paths: a crash
    never leaves a truncated checkpoint behind."""
    path = _path_of(f)
    name = path if path is not None else getattr(f, "name", None)
    if format is None:
        format = "torch" if isinstance(name, str) and name.lower().endswith(_TORCH_SUFFIXES) \
            else "safetensors"
    if format == "torch":
        try:
            data = _torch.dumps(obj)
        except RecursionError:
            raise ValueError("ndgrad.save cannot store this object: it is nested too deeply "
                             "(or contains itself)") from None
        except TypeError as e:
            raise TypeError(f"ndgrad.save stores tensors, NumPy arrays, numbers, strings, None "
                            f"and dicts/lists/tuples of them (no pickled code); it cannot "
                            f"store {e}") from None
    elif format == "safetensors":
        data = _safetensors.dumps(obj)
    else:
        raise ValueError(f"ndgrad.save: format must be 'torch' or 'safetensors', got "
                         f"{format!r}")
    if path is None:
        if not hasattr(f, "write"):
            raise TypeError(f"ndgrad.save expects a path or a binary file object, got "
                            f"{type(f).__name__}")
        f.write(data)
        return
    write_atomically(path, data)


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """A temporary file in the same directory, flushed to disk, then renamed over ``path``."""
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
def load(f: Any, map_location: Any = None, pickle_module: Any = None, *,
         weights_only: bool | None = None, mmap: bool | None = None, **kwargs: Any) -> Any:
    """Read a checkpoint: a ``torch.save`` file (zip or legacy format), or a safetensors file
    (``ndgrad.save``'s, or ``safetensors.torch.save_file``'s). Tensors come back as Tensors
    (views of one storage still share memory), NumPy arrays as arrays.

    Nothing in the file is ever run, whatever ``weights_only`` says: only tensors, arrays,
    numbers, strings and plain containers are built (add trusted classes with
    :func:`add_safe_globals`). Everything loads onto the CPU; ``map_location`` may say "cpu"
    (or map devices to it). ``pickle_module`` and ``mmap`` are accepted for torch's signature
    and ignored."""
    if map_location is not None and str(map_location).split(":")[0] != "cpu" \
            and not callable(map_location) and not isinstance(map_location, dict):
        raise RuntimeError(f"ndgrad runs on the CPU only; map_location={map_location!r} is "
                           f"not available")
    path = _path_of(f)
    name = repr(path) if path is not None else _stream_name(f)
    if path is not None:
        try:
            with open(path, "rb") as fh:
                return _load_from(fh, name)
        except FileNotFoundError:
            raise FileNotFoundError(f"no checkpoint at {path!r}") from None
    if isinstance(f, bytes | bytearray | memoryview):
        return _load_from(io.BytesIO(bytes(f)), name)
    if not hasattr(f, "read"):
        raise TypeError(f"ndgrad.load expects a path or a binary file object, got "
                        f"{type(f).__name__}")
    return _load_from(f, name)


def _stream_name(f: Any) -> str:
    fname = getattr(f, "name", None)
    return repr(fname) if isinstance(fname, str) else "the checkpoint stream"


def _load_from(fh: Any, name: str) -> Any:
    """Dispatch on the contents, turning every kind of bad file into one error naming it."""
    try:
        if not (hasattr(fh, "seekable") and fh.seekable()):
            fh = io.BytesIO(fh.read())
        start = fh.tell()
        head = fh.read(16)
        fh.seek(start)
        if head[:4] == b"PK\x03\x04" and not _safetensors.looks_like_safetensors(head):
            return _torch.read_zip(fh)
        data = fh.read()
        if data[:1] == b"\x80" and not _safetensors.looks_like_safetensors(data):
            return _torch.read_legacy(data)
        if data[257:262] == b"ustar":
            raise RefusedError("it is in torch's oldest (tar) format, from before PyTorch 0.4; "
                               "load it in PyTorch and save it again")
        return _safetensors.loads(data)
    except RefusedError as e:
        raise pickle.UnpicklingError(f"ndgrad.load refused {name}: {e}") from None
    except CorruptError as e:
        raise RuntimeError(f"cannot load {name}: {e}") from None
    except MemoryError:
        raise RuntimeError(f"{name} needs more memory than is available to load") from None
