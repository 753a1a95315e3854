"""Functions of several tensors, as torch has them at the top level: where, cat, stack, einsum,
broadcast_tensors; and the functional forms of a few methods (softmax, log_softmax)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import broadcast_error, wrap_dim
from ndgrad.ops.linalg import Einsum
from ndgrad.ops.shape import Cat
from ndgrad.tensor.base import Size
from ndgrad.tensor.conversion import cast
from ndgrad.tensor.core import Tensor
from ndgrad.tensor.creation import tensor


def _as_tensor(v: Any) -> Tensor:
    return v if isinstance(v, Tensor) else tensor(v)


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """Elementwise ``input if condition else other``, broadcasting all three; ``where(cond)``
    alone is ``cond.nonzero(as_tuple=True)``."""
    cond = _as_tensor(condition)
    if input is None and other is None:
        return cond.nonzero(as_tuple=True)
    if not isinstance(input, Tensor):  # a number: it takes the dtype input and other promote to
        if isinstance(input, np.number | np.bool_):
            input = input.item()
        input = Tensor._make(np.asarray(input, dtype=_dtype.result_type(input, other)))
    return input.where(cond, other)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (1-D empty tensors are skipped, as in torch)."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               f"concatenated")
    ts = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    d = wrap_dim(dim, ts[0].ndim)
    for i, t in enumerate(tensors):
        if t is not ts[0] and t.ndim == 1 and t.shape[0] == 0:
            continue
        if t.ndim != ts[0].ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got "
                               f"{ts[0].ndim} and {t.ndim}")
        if any(a != b for j, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if j != d):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected "
                               f"size {list(ts[0].shape)} but got size {list(t.shape)} for "
                               f"tensor number {i} in the list.")
    nd = (_dtype.result_type(*tensors) if len({t._data.dtype for t in tensors}) > 1
          else tensors[0]._data.dtype)
    return Cat.apply(*(cast(t, nd) for t in tensors), dim=d)


concat = cat
concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim."""
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    d = wrap_dim(dim, len(shape) + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation (differentiable): ``einsum('ij,jk->ik', a, b)``."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    ts = [_as_tensor(o) for o in operands]
    nd = _dtype.result_type(*ts)
    return Einsum.apply(equation.replace(" ", ""), *(cast(t, nd) for t in ts))


def var_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: Any = None, axis: Any = None,
             keepdims: bool | None = None) -> tuple[Tensor, Tensor]:
    """(var, mean) over ``dim``, with var's arguments (``var_mean(x, unbiased)`` too)."""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (input.var(dim, unbiased, keepdim, correction=correction),
            input.mean(dim, keepdim))


def std_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: Any = None, axis: Any = None,
             keepdims: bool | None = None) -> tuple[Tensor, Tensor]:
    """(std, mean) over ``dim``, with std's arguments."""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (input.std(dim, unbiased, keepdim, correction=correction),
            input.mean(dim, keepdim))


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(t: Tensor) -> bool:
    return t.is_floating_point()


def broadcast_shapes(*shapes: Any) -> Size:
    """The shape that tensors of ``shapes`` broadcast to (torch's message if they don't)."""
    try:
        return Size(np.broadcast_shapes(*shapes))
    except ValueError:
        raise broadcast_error(*shapes) from None


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.expand(shape) for t in tensors)


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return input.log_softmax(dim, dtype=dtype)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Any = None) -> Tensor:
    """Category indices drawn from each row of ``input`` (see Tensor.multinomial)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.multinomial(num_samples, replacement, generator=generator)
