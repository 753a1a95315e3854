"""What a checkpoint may build, and nothing more: ndgrad's allow-list for pickled data.

Plain values (sets, ``OrderedDict``/``Counter``, bytes, complex numbers), numeric NumPy arrays,
scalars and dtypes, each made by a small function here that checks its arguments and never hands
the file's state to NumPy; and the globals a user trusts, added with ``add_safe_globals`` as in
``torch.serialization``. ``_torch`` adds tensors on top.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


class CorruptError(Exception):
    """The bytes are not a well-formed checkpoint (truncated, damaged, or lying about sizes)."""


class RefusedError(Exception):
    """The file asks for something a restricted reader never does (an unknown global, ...)."""


class Pending:
    """A half-made object that the BUILD opcode finishes: ``build(state)`` returns the real one.

    NumPy arrays and dtypes are pickled as "make an empty one" (REDUCE) followed by "set its
    state" (BUILD); ndgrad checks that state itself and then replaces the placeholder."""

    def build(self, state: Any) -> Any:
        raise NotImplementedError


# -- globals a user trusts (torch.serialization.add_safe_globals) -------------------------
_user_globals: list[Any] = []
_NEVER_MODULES = ("os", "sys", "posix", "nt", "subprocess", "builtins", "__builtin__")


def add_safe_globals(safe_globals: list[Any]) -> None:
    """Allow files to name these classes/functions (or ``(obj, "module.name")`` pairs), as
    ``torch.serialization.add_safe_globals`` does: loading then calls them with the file's
    arguments and sets their state, so list only classes you trust (``argparse.Namespace``)."""
    for g in safe_globals:
        if g not in _user_globals:
            _user_globals.append(g)


def get_safe_globals() -> list[Any]:
    """The globals added with ``add_safe_globals`` (ndgrad's own allow-list not included)."""
    return list(_user_globals)


def clear_safe_globals() -> None:
    """Forget every global added with ``add_safe_globals``."""
    _user_globals.clear()


@contextmanager
def safe_globals(safe_globals: list[Any]) -> Iterator[None]:
    """``with safe_globals([cls]): ndgrad.load(...)``: allow ``cls`` inside the block only."""
    added = [g for g in safe_globals if g not in _user_globals]
    add_safe_globals(added)
    try:
        yield
    finally:
        for g in added:
            _user_globals.remove(g)


def _user_global(module: str, name: str) -> Any:
    full = f"{module}.{name}"
    for g in _user_globals:
        obj, path = g if isinstance(g, tuple) else (g, f"{g.__module__}.{g.__qualname__}")
        if path == full:
            return obj
    return None


# -- the plain-value allow-list: builtins, collections, codecs, NumPy -----------------------
def _set(items: Iterable[Any] = ()) -> set[Any]:
    return set(_sequence(items, "set"))


def _frozenset(items: Iterable[Any] = ()) -> frozenset[Any]:
    return frozenset(_sequence(items, "frozenset"))


def _sequence(items: Any, what: str) -> Any:
    if not isinstance(items, list | tuple):
        raise CorruptError(f"{what}() expects a list of items, got {type(items).__name__}")
    return items


def _complex(real: float = 0.0, imag: float = 0.0) -> complex:
    if not all(isinstance(v, int | float) for v in (real, imag)):
        raise CorruptError("complex() expects two numbers")
    return complex(real, imag)


def _bytes(text: str = "", encoding: str = "latin1") -> bytes:
    """``_codecs.encode(text, 'latin1')``: how protocol 2 writes a ``bytes`` object."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CorruptError("bytes are pickled as _codecs.encode(str, 'latin1')")
    return text.encode("latin1")


def _bytearray(data: Any = b"", encoding: str = "latin1") -> bytearray:
    return bytearray(_bytes(data, encoding) if isinstance(data, str) else _as_bytes(data))


def _as_bytes(data: Any) -> bytes:
    if not isinstance(data, bytes | bytearray):
        raise CorruptError(f"expected bytes, got {type(data).__name__}")
    return bytes(data)


NDARRAY = object()  # the file's ``numpy.ndarray``: only ever an argument of _reconstruct


def _np_dtype(spec: Any, align: bool = False, copy: bool = True) -> _PendingDType:
    """``numpy.dtype('f8', False, True)``, restricted to numeric types; BUILD sets its byte
    order."""
    if not isinstance(spec, str) or len(spec) > 16:
        raise CorruptError(f"a numpy dtype is named by a short string, got {spec!r:.40}")
    try:
        d = np.dtype(spec)
    except TypeError:
        raise CorruptError(f"unknown numpy dtype {spec!r}") from None
    if d.kind not in "biufc" or d.fields is not None or d.subdtype is not None:
        raise RefusedError(f"numpy arrays of dtype {spec!r} (only bool, integer, floating and "
                           f"complex arrays are read)")
    return _PendingDType(d)


class _PendingDType(Pending):
    def __init__(self, d: np.dtype) -> None:
        self.dtype = d

    def build(self, state: Any) -> np.dtype:
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not (isinstance(state, tuple) and len(state) in (8, 9) and state[0] in (3, 4)
                and state[1] in ("<", ">", "|", "=") and state[2:5] == (None, None, None)):
            raise CorruptError("damaged numpy dtype state")
        return self.dtype.newbyteorder(state[1]) if state[1] in "<>" else self.dtype


def _np_reconstruct(cls: Any, shape: Any = (0,), typecode: Any = b"b") -> _PendingArray:
    """``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')``: an array BUILD fills."""
    if cls is not NDARRAY:
        raise RefusedError("numpy's _reconstruct may only make a plain numpy.ndarray")
    return _PendingArray()


class _PendingArray(Pending):
    def build(self, state: Any) -> np.ndarray:
        if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
            state = state[1:]  # (version, shape, dtype, is_fortran, data)
        if not (isinstance(state, tuple) and len(state) == 4):
            raise CorruptError("damaged numpy array state")
        shape, dtype, fortran, data = state
        return _array_from_bytes(data, dtype, shape, "F" if fortran else "C")


def _np_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> np.ndarray:
    """``numpy.core.numeric._frombuffer``: how pickle protocol 5 writes an array."""
    if order not in ("C", "F"):
        raise CorruptError(f"unknown array order {order!r}")
    return _array_from_bytes(buf, dtype, shape, order)


def _np_scalar(dtype: Any, data: Any) -> Any:
    """``numpy.core.multiarray.scalar(dtype, bytes)``: a NumPy scalar such as np.float64(1)."""
    return _array_from_bytes(data, dtype, (), "C")[()]


def _array_from_bytes(data: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """A writable array from checked raw bytes: never hands the file's state to NumPy."""
    if not isinstance(dtype, np.dtype):
        raise CorruptError("a numpy array's dtype is missing or unfinished")
    if not (isinstance(shape, tuple) and all(_is_index(n) for n in shape)):
        raise CorruptError(f"damaged numpy array shape {shape!r:.60}")
    data = _as_bytes(data)
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise CorruptError(f"a numpy array of shape {shape} and dtype {dtype} needs "
                           f"{math.prod(shape) * dtype.itemsize} bytes, the file has {len(data)}")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order=order)  # type: ignore[call-overload]
    return arr.view(np.uint8) != 0 if dtype.kind == "b" else arr.copy(order="K")


def _is_index(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


PLAIN_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("collections", "Counter"): Counter,
    ("builtins", "set"): _set,
    ("builtins", "frozenset"): _frozenset,
    ("builtins", "complex"): _complex,
    ("builtins", "bytearray"): _bytearray,
    ("builtins", "bytes"): _bytes,
    ("_codecs", "encode"): _bytes,
    ("numpy", "ndarray"): NDARRAY,
    ("numpy", "dtype"): _np_dtype,
}
for _core in ("numpy.core", "numpy._core"):  # NumPy 1.x and 2.x spell the module differently
    PLAIN_GLOBALS[(f"{_core}.multiarray", "_reconstruct")] = _np_reconstruct
    PLAIN_GLOBALS[(f"{_core}.multiarray", "scalar")] = _np_scalar
    PLAIN_GLOBALS[(f"{_core}.numeric", "_frombuffer")] = _np_frombuffer

MAX_TUPLE_DEPTH = 1000  # Python's own pickler cannot write deeper ones (its recursion limit)

# Python 2 names that protocol 2 still writes (pickle's fix_imports)
PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def is_user_global(obj: Any) -> bool:
    return any((g[0] if isinstance(g, tuple) else g) is obj for g in _user_globals)


def set_state(inst: Any, state: Any) -> None:
    """What pickle's BUILD does, for a class the user allowed."""
    setstate = getattr(inst, "__setstate__", None)
    if setstate is not None:
        setstate(state)
        return
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    if state:
        inst.__dict__.update(state)
    for k, v in (slots or {}).items():
        setattr(inst, k, v)


def unsupported_global(module: str, name: str) -> str:
    """The message for a global that is not allowed, with torch's way to allow a trusted one."""
    if module.split(".")[0] in _NEVER_MODULES:
        return (f"the file names {module}.{name}; ndgrad never runs code from a file, and "
                f"globals from {module} cannot be allowed")
    return (f"the file names the global {module}.{name}, which is not allowed: ndgrad reads "
            f"only tensors, numbers, strings, NumPy arrays and plain containers, and runs no "
            f"code from a file (as torch.load(weights_only=True)). If you trust this class, "
            f"allow it with ndgrad.serialization.add_safe_globals([{name}]) or "
            f"`with ndgrad.serialization.safe_globals([{name}]):`")


def user_global(module: str, name: str) -> Any:
    """A global the user allowed (``add_safe_globals``), or None."""
    if module.split(".")[0] in _NEVER_MODULES:
        return None
    return _user_global(module, name)
