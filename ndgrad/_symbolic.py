"""torch's ``sym_*`` helpers (sym_int, sym_float, sym_max, sym_min, sym_not, sym_ite,
sym_sqrt, sym_sum). In torch they keep symbolic sizes symbolic under torch.compile; ndgrad has
no symbolic sizes, so these are their plain-Python branches, behaving as torch's do on numbers,
NumPy scalars and tensors (code written for torch.compile runs unchanged)."""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

__all__ = ["sym_float", "sym_int", "sym_ite", "sym_max", "sym_min", "sym_not", "sym_sqrt",
           "sym_sum"]

_ALL_TYPES = (np.integer, np.floating, builtins.int, builtins.float)
_FLOAT_TYPES = (np.floating, builtins.float)


def sym_int(a: Any) -> int:
    """int(a) (truncating toward zero, as int() does)."""
    return builtins.int(a)


def sym_float(a: Any) -> float:
    """float(a), or ``a.__sym_float__()`` where defined."""
    if hasattr(a, "__sym_float__"):
        return a.__sym_float__()
    return builtins.float(a)


def _check_number(a: Any) -> None:
    if not isinstance(a, _ALL_TYPES):
        raise AssertionError(f"expected {_ALL_TYPES}, got {type(a)}")


def _extreme(pick: Any, a: Any, b: Any) -> Any:
    """pick(a, b) of two numbers, a float if either is one (max(1, 1.0) is 1.0 either way)."""
    _check_number(a)
    _check_number(b)
    if isinstance(a, _FLOAT_TYPES) or isinstance(b, _FLOAT_TYPES):
        return builtins.float(pick(a, b))
    return pick(a, b)


def sym_max(a: Any, b: Any) -> Any:
    """max(a, b) of two numbers, a float if either is one."""
    return _extreme(builtins.max, a, b)


def sym_min(a: Any, b: Any) -> Any:
    """min(a, b) of two numbers, a float if either is one."""
    return _extreme(builtins.min, a, b)


def sym_not(a: Any) -> Any:
    """``not a``, or ``a.__sym_not__()`` where defined."""
    if hasattr(a, "__sym_not__"):
        return a.__sym_not__()
    return not a


def sym_ite(b: bool, t: Any, f: Any) -> Any:
    """``t if b else f``, for a bool ``b`` and ``t``, ``f`` of one type."""
    if not isinstance(b, builtins.bool):
        raise AssertionError(f"expected SymBool or bool, got {type(b)}")
    if type(t) is not type(f):
        raise AssertionError(f"type mismatch: {type(t)} vs {type(f)}")
    return t if b else f


def sym_sqrt(a: Any) -> Any:
    """math.sqrt(a), or ``a.__sym_sqrt__()`` where defined."""
    if hasattr(a, "__sym_sqrt__"):
        return a.__sym_sqrt__()
    return math.sqrt(a)


def sym_sum(*args: Any) -> Any:
    """sum of the arguments, given as ``sym_sum(a, b, c)`` or ``sym_sum([a, b, c])``."""
    if len(args) == 1 and isinstance(args[0], list | tuple):
        args = tuple(args[0])
    return builtins.sum(args)
