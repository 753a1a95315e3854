"""``out=``: writing a function's result into a tensor the caller gives, with torch's rules.

The result is computed as usual, then copied into ``out``: its dtype must be one the result can
be cast to by torch's rule (float -> int and number -> bool are refused), a wrong shape is
resized (with torch's warning when ``out`` had elements), and no autograd: out= functions
refuse inputs that require grad while grad mode is on, as torch's do."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.autograd.inplace import will_write
from ndgrad.tensor.base import TensorBase


def write_out(out: Any, result: Any, fn: str, warn: bool = True) -> Any:
    """Copy ``result`` into ``out`` (resized if needed; ``warn``: say so, as torch's ops do
    but not its creation functions) and return ``out``."""
    if not isinstance(out, TensorBase):
        raise TypeError(f"{fn}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if result._requires_grad:
        raise RuntimeError(f"{fn}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")
    if out._requires_grad and out.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    arr = result._data
    if not _can_cast(arr.dtype, out._data.dtype):
        raise RuntimeError(f"result type {_name(arr.dtype)} can't be cast to the desired output "
                           f"type {_name(out._data.dtype)}")
    if out._data.shape != arr.shape:
        if out._data.size and warn:
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out._data.shape)}, which does not match the required output "
                          f"shape {list(arr.shape)}. This behavior is deprecated, and in a "
                          f"future release outputs will not be resized unless they have zero "
                          f"elements.", stacklevel=3)
        out._data = np.empty(arr.shape, out._data.dtype)
    else:
        will_write(out)
    np.copyto(out._data, arr, casting="unsafe")
    out._bump_version()
    return out


def _can_cast(src: np.dtype, dst: np.dtype) -> bool:
    """torch's canCast: no float -> integer or bool, no number -> bool (narrower is fine)."""
    if src.kind == "f" and dst.kind != "f":
        return False
    return not (src.kind != "b" and dst.kind == "b")


def _name(nd: np.dtype) -> str:
    """torch's scalar type name in messages: Float, Long, Bool, ..."""
    return _dtype.LEGACY_NAMES[_dtype.from_np(nd)].removesuffix("Tensor")


def factory_out(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a creation function) with an ``out=`` keyword: the result takes ``out``'s dtype
    unless ``dtype`` is given, then is written into it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        if out is None:
            return fn(*args, **kwargs)
        if kwargs.get("dtype") is None and isinstance(out, TensorBase):
            kwargs["dtype"] = out.dtype
        return write_out(out, fn(*args, **kwargs), fn.__name__, warn=False)

    return wrapper


def with_out(fn: Callable[..., Any], name: str | None = None) -> Callable[..., Any]:
    """``fn`` with an ``out=`` keyword (the top-level form of a function or Tensor method).
    A Tensor method's first argument can be given as ``input=``, the name torch's functions
    give it (``torch.matmul(input=a, other=b)``)."""
    label = name or fn.__name__
    try:
        named_input = "input" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        named_input = True

    @functools.wraps(fn)
    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        if not named_input and "input" in kwargs:
            args = (kwargs.pop("input"), *args)
        if out is None:
            return fn(*args, **kwargs)
        return write_out(out, fn(*args, **kwargs), label)

    return wrapper


__all__ = ["factory_out", "with_out", "write_out"]
