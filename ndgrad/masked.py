"""ndgrad.masked: torch.masked's reductions and normalizations of plain tensors with ``mask=``.

Each function replaces the masked-out elements (``mask`` False; the mask broadcasts to the
input) by the identity of its reduction (0 for sum, 1 for prod, -inf for amax and softmax, inf
for amin and softmin, nan for median) and calls the ordinary op, so the gradients are those of
``where`` and the op: zero at masked-out elements, as torch's. A fully masked-out slice gives the
identity (sum 0, amax -inf), and nan where there is none (mean, var, std, median). mean, var and
std divide by the number of elements kept. torch's MaskedTensor class is not provided.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import wrap_dim
from ndgrad.linalg import vector_norm
from ndgrad.nn import functional as F
from ndgrad.tensor import Tensor, where

__all__ = [
    "amax", "amin", "argmax", "argmin", "cumprod", "cumsum", "log_softmax", "logaddexp",
    "logsumexp", "mean", "median", "norm", "normalize", "prod", "softmax", "softmin", "std",
    "sum", "var",
]

DimOrDims = int | Sequence[int] | None
_SMALL_INTS = ("uint8", "bool", "int8", "int16", "int32")  # sum and prod promote them to int64


def _canonical_dim(dim: DimOrDims, ndim: int) -> tuple[int, ...]:
    """The dims to reduce, sorted and non-negative; None and () mean all of them."""
    if dim is None or (not isinstance(dim, int) and len(dim) == 0):
        return tuple(range(ndim))
    dims: list[int] = []
    for d in (dim,) if isinstance(dim, int) else dim:
        if d in dims:  # the raw dim against the wrapped ones, as torch.masked checks
            raise RuntimeError(f"dim={d} appears multiple times in the list of dims")
        dims.append(wrap_dim(d, ndim))
    return tuple(sorted(dims))


def _input_mask(input: Tensor, mask: Tensor) -> Tensor:
    """The mask as a bool tensor of the input's shape."""
    if tuple(mask.shape) != tuple(input.shape):
        if mask.ndim > input.ndim:
            raise IndexError("_input_mask expected broadcastable mask (got mask dimensionality "
                             "higher than of the input)")
        mask = mask.broadcast_to(input.shape)
    return mask.bool()


def _identity(op: str, input: Tensor, ord: float | None = None) -> float | int:
    """The value that does not change the reduction ``op``: what masked-out elements become."""
    floating = input.is_floating_point()
    if op == "sum":
        return 0
    if op == "prod":
        return 1
    if op == "median":
        return np.nan
    if op == "norm":
        return np.inf if ord == -np.inf else 0
    if op in ("amax", "amin"):
        if floating:
            return -np.inf if op == "amax" else np.inf
        if input.dtype.np.kind in "iu":
            info = np.iinfo(input.dtype.np)
            return int(info.min if op == "amax" else info.max)
    raise NotImplementedError(f"identity of {op} on {input.dtype} input")


def _combine(op: str, input: Tensor, mask: Tensor | None, ord: float | None = None) -> Tensor:
    """The input with its masked-out elements replaced by the identity of ``op``."""
    if mask is None:
        return input
    return where(_input_mask(input, mask), input, input.new_tensor(_identity(op, input, ord)))


def _promoted(input: Tensor, dtype: Any) -> Any:
    """sum and prod's default dtype: the input's, with small integers and bool as int64."""
    if dtype is not None:
        return dtype
    return _dtype.int64 if str(input.dtype).split(".")[-1] in _SMALL_INTS else input.dtype


def sum(input: Tensor, dim: DimOrDims = None, *, keepdim: bool = False, dtype: Any = None,
        mask: Tensor | None = None) -> Tensor:
    """The sum of the kept elements over ``dim`` (0 where none is kept)."""
    dims = _canonical_dim(dim, input.ndim)
    return _combine("sum", input, mask).sum(dims, bool(keepdim), dtype=_promoted(input, dtype))


def prod(input: Tensor, dim: DimOrDims = None, *, keepdim: bool = False, dtype: Any = None,
         mask: Tensor | None = None) -> Tensor:
    """The product of the kept elements over ``dim`` (1 where none is kept)."""
    result = _combine("prod", input, mask).to(dtype=_promoted(input, dtype))
    for d in reversed(_canonical_dim(dim, input.ndim)):  # one dim at a time, as torch
        result = result.prod(dim=d, keepdim=bool(keepdim))
    return result


def cumsum(input: Tensor, dim: int, *, dtype: Any = None, mask: Tensor | None = None) -> Tensor:
    """Running sum along ``dim``, masked-out elements counting as 0."""
    d = _canonical_dim(dim, input.ndim)[0]
    dtype = input.dtype if dtype is None else dtype
    return _combine("sum", input, mask).cumsum(d, dtype=dtype)


def cumprod(input: Tensor, dim: int, *, dtype: Any = None, mask: Tensor | None = None) -> Tensor:
    """Running product along ``dim``, masked-out elements counting as 1."""
    d = _canonical_dim(dim, input.ndim)[0]
    dtype = input.dtype if dtype is None else dtype
    return _combine("prod", input, mask).cumprod(d, dtype=dtype)


def amax(input: Tensor, dim: DimOrDims = None, *, keepdim: bool = False, dtype: Any = None,
         mask: Tensor | None = None) -> Tensor:
    """The largest kept element over ``dim`` (-inf, or the dtype's minimum, where none is)."""
    dtype = input.dtype if dtype is None else dtype
    dims = _canonical_dim(dim, input.ndim)
    return _combine("amax", input, mask).amax(dims, bool(keepdim)).to(dtype=dtype)


def amin(input: Tensor, dim: DimOrDims = None, *, keepdim: bool = False, dtype: Any = None,
         mask: Tensor | None = None) -> Tensor:
    """The smallest kept element over ``dim`` (inf, or the dtype's maximum, where none is)."""
    dtype = input.dtype if dtype is None else dtype
    dims = _canonical_dim(dim, input.ndim)
    return _combine("amin", input, mask).amin(dims, bool(keepdim)).to(dtype=dtype)


def argmax(input: Tensor, dim: int | None = None, *, keepdim: bool = False, dtype: Any = None,
           mask: Tensor | None = None) -> Tensor:
    """Index of the largest kept element; like torch, in the input's dtype unless ``dtype``."""
    dtype = input.dtype if dtype is None else dtype
    return _combine("amax", input, mask).argmax(dim, bool(keepdim)).to(dtype=dtype)


def argmin(input: Tensor, dim: int | None = None, *, keepdim: bool = False, dtype: Any = None,
           mask: Tensor | None = None) -> Tensor:
    """Index of the smallest kept element; like torch, in the input's dtype unless ``dtype``."""
    dtype = input.dtype if dtype is None else dtype
    return _combine("amin", input, mask).argmin(dim, bool(keepdim)).to(dtype=dtype)


def _count(input: Tensor, mask: Tensor | None, dims: tuple[int, ...], keepdim: bool) -> Tensor:
    """How many elements are kept over ``dims`` (int64)."""
    kept = input.new_ones(input.shape, dtype=_dtype.bool_) if mask is None \
        else _input_mask(input, mask)
    return kept.sum(dims, keepdim)


def mean(input: Tensor, dim: DimOrDims = None, *, keepdim: bool = False, dtype: Any = None,
         mask: Tensor | None = None) -> Tensor:
    """The mean of the kept elements over ``dim`` (nan where none is kept)."""
    source = "Input" if dtype is None else "Optional"
    dtype = input.dtype if dtype is None else dtype
    if not dtype.is_floating_point:
        raise ValueError(f"mean(): Could not infer output dtype. {source} dtype must be either "
                         f"a floating point or complex dtype. Got: {dtype}")
    dims = _canonical_dim(dim, input.ndim)
    total = sum(input, dims, keepdim=keepdim, dtype=dtype, mask=mask)
    return total / _count(input, mask, dims, bool(keepdim))


def median(input: Tensor, dim: int = -1, *, keepdim: bool = False, dtype: Any = None,
           mask: Tensor | None = None) -> Tensor:
    """The median of the kept elements along ``dim`` (nan where none is kept; an integer input
    must keep at least one element in every slice)."""
    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input.ndim)[0]
    is_float = input.is_floating_point()
    if not is_float:
        input = input.float()
    output = _combine("median", input, mask).nanmedian(d, keepdim).values
    if is_float:
        return output
    if bool(output.isnan().any()):
        raise ValueError("masked median expects no fully masked out rows if dtype is not "
                         "floating point")
    return output.to(dtype=dtype)


def logsumexp(input: Tensor, dim: DimOrDims = None, *, keepdim: bool = False, dtype: Any = None,
              mask: Tensor | None = None) -> Tensor:
    """log(sum(exp)) of the kept elements over ``dim`` (-inf where none is kept)."""
    dtype = input.dtype if dtype is None else dtype
    dims = _canonical_dim(dim, input.ndim)
    return _combine("amax", input, mask).logsumexp(dims, keepdim=keepdim).to(dtype=dtype)


def logaddexp(input: Tensor, other: Tensor, *, dtype: Any = None,
              input_mask: Tensor | None = None, other_mask: Tensor | None = None) -> Tensor:
    """log(exp(input) + exp(other)), each side's masked-out elements counting as -inf."""
    dtype = input.dtype if dtype is None else dtype
    return _combine("amax", input, input_mask).logaddexp(
        _combine("amax", other, other_mask)).to(dtype=dtype)


def norm(input: Tensor, ord: float = 2.0, dim: DimOrDims = None, *, keepdim: bool = False,
         dtype: Any = None, mask: Tensor | None = None) -> Tensor:
    """The vector ``ord``-norm of the kept elements over ``dim`` (as if the others were 0, or
    inf for ord=-inf)."""
    dtype = input.dtype if dtype is None else dtype
    dims = _canonical_dim(dim, input.ndim)
    x = _combine("norm", input, mask, ord)
    return vector_norm(x, ord, dims, bool(keepdim), dtype=dtype)


def _std_var(input: Tensor, dim: DimOrDims, unbiased: bool | None, correction: float | None,
             keepdim: bool, dtype: Any, mask: Tensor | None, take_sqrt: bool) -> Tensor:
    """var (std with ``take_sqrt``) of the kept elements: the summed squared deviations from
    their mean over max(count - correction, 0)."""
    if unbiased is not None and correction is not None:
        raise ValueError("Only one of unbiased and correction may be given")
    c = 1.0 if unbiased is None else float(unbiased)
    c = c if correction is None else float(correction)
    if dtype is None:
        dtype = input.dtype if input.is_floating_point() else _dtype.float32
    compute = dtype if dtype.is_floating_point else _dtype.float32
    dims = _canonical_dim(dim, input.ndim)
    count = _count(input, mask, dims, True)
    x = input - sum(input, dims, keepdim=True, dtype=dtype, mask=mask) / count
    total = sum(x * x, dims, keepdim=keepdim, dtype=compute, mask=mask)
    count = count.reshape(total.shape).to(dtype=compute)
    if c != 0:
        count = (count - c).clamp_min(0)
    output = (total / count).to(dtype=dtype)
    return output.sqrt() if take_sqrt else output


def var(input: Tensor, dim: DimOrDims = None, unbiased: bool | None = None, *,
        correction: float | None = None, keepdim: bool = False, dtype: Any = None,
        mask: Tensor | None = None) -> Tensor:
    """The variance of the kept elements over ``dim`` (nan where none is kept)."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, take_sqrt=False)


def std(input: Tensor, dim: DimOrDims = None, unbiased: bool | None = None, *,
        correction: float | None = None, keepdim: bool = False, dtype: Any = None,
        mask: Tensor | None = None) -> Tensor:
    """The standard deviation of the kept elements over ``dim`` (nan where none is kept)."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, take_sqrt=True)


def softmax(input: Tensor, dim: int, *, dtype: Any = None,
            mask: Tensor | None = None) -> Tensor:
    """softmax along ``dim`` over the kept elements; masked-out ones get 0 (a fully masked-out
    slice gives nan, as torch's)."""
    d = _canonical_dim(dim, input.ndim)[0]
    dtype = input.dtype if dtype is None else dtype
    return F.softmax(_combine("amax", input, mask), d, dtype=dtype)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None,
                mask: Tensor | None = None) -> Tensor:
    """log_softmax along ``dim`` over the kept elements; masked-out ones get -inf."""
    d = _canonical_dim(dim, input.ndim)[0]
    dtype = input.dtype if dtype is None else dtype
    return F.log_softmax(_combine("amax", input, mask), d, dtype=dtype)


def softmin(input: Tensor, dim: int, *, dtype: Any = None,
            mask: Tensor | None = None) -> Tensor:
    """softmin along ``dim`` over the kept elements; masked-out ones get 0."""
    d = _canonical_dim(dim, input.ndim)[0]
    dtype = input.dtype if dtype is None else dtype
    return F.softmin(_combine("amin", input, mask), d, dtype=dtype)


def normalize(input: Tensor, ord: float, dim: int, *, eps: float = 1e-12, dtype: Any = None,
              mask: Tensor | None = None) -> Tensor:
    """The kept elements divided by their ``ord``-norm along ``dim`` (at least ``eps``); the
    masked-out ones become 0."""
    dtype = input.dtype if dtype is None else dtype
    nrm = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask)
    return _combine("sum", input, mask) / nrm.maximum(nrm.new_full((), eps))
