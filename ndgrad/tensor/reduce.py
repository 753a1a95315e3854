"""Reductions: sum, mean, prod, max/min (and their indices), var/std, logsumexp, the NaN-
ignoring nansum/nanmean, cumulative sums, products, maxima and logsumexps (and diff, their
inverse), norms, all/any, and softmax/log_softmax along a dim. ``dim`` is an int, a tuple of
ints or None (all dims) as in torch; integer and bool sums accumulate in int64. As in torch,
NumPy's names ``axis=`` and ``keepdims=`` are accepted for ``dim=`` and ``keepdim=``: they come
last, and are not keyword-only, because CPython 3.11 calls a function that has keyword-only
parameters by its slow path (sum, mean and softmax run in every training step).
"""

from __future__ import annotations

import builtins
import math
import warnings
from collections import namedtuple
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import (
    contiguous,
    not_implemented_for,
    shape_arg,
    sum_to,
    wrap_dim,
    wrap_dims,
)
from ndgrad.linalg._norms import matrix_norm
from ndgrad.ops.nn import LogSoftmax, Softmax
from ndgrad.ops.reduce import (
    Amax,
    Amin,
    Cumprod,
    Cumsum,
    DivCount,
    Logcumsumexp,
    Logsumexp,
    NanSum,
    Norm,
    Prod,
    StdFromVar,
    Sum,
    Var,
    reduce_dims,
)
from ndgrad.ops.shape import Cat
from ndgrad.tensor.base import TensorBase, _bool, _int, values_indices

min_max = namedtuple("min_max", ["min", "max"])  # what aminmax returns


class ReduceMixin(TensorBase):
    """Reductions over dims."""

    def sum(self, dim: Any = None, keepdim: _bool = False, dtype: Any = None, axis: Any = None,
            keepdims: _bool | None = None) -> Any:
        """Sum over ``dim`` (all dims if None or empty); integers and bools sum to int64."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        return Sum.apply(x, reduce_dims(dim, x._data.ndim), keepdim)

    def sum_to_size(self, *size: Any) -> Any:
        """Sum over the dims along which ``size`` was broadcast to this tensor's shape."""
        shape = shape_arg(size)
        try:
            return sum_to(self, shape)
        except ValueError:
            raise RuntimeError(f"size {list(shape)} is not expandable to size "
                               f"{list(self.shape)}") from None

    def mean(self, dim: Any = None, keepdim: _bool = False, dtype: Any = None, axis: Any = None,
             keepdims: _bool | None = None) -> Any:
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind not in "fc":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                               f"a floating point or complex dtype. Got: {x.dtype}")
        dims = reduce_dims(dim, x._data.ndim)
        n = math.prod(x._data.shape[d] for d in dims)
        total = x.sum(dims, keepdim)
        return DivCount.apply(total, n)

    def prod(self, dim: _int | None = None, keepdim: _bool = False, dtype: Any = None,
             axis: _int | None = None, keepdims: _bool | None = None) -> Any:
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        if x._data.ndim == 0:
            if dim is not None:
                wrap_dim(dim, 0)
            return Prod.apply(x, None, keepdim)
        if dim is None:
            return Prod.apply(x.reshape(-1), 0, False, True)
        return Prod.apply(x, wrap_dim(dim, x._data.ndim), keepdim)

    def amax(self, dim: Any = (), keepdim: _bool = False, axis: Any = None,
             keepdims: _bool | None = None) -> Any:
        """Max over ``dim`` (all dims if empty); tied maxima share the gradient evenly."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return Amax.apply(self, reduce_dims(dim, self._data.ndim), keepdim)

    def amin(self, dim: Any = (), keepdim: _bool = False, axis: Any = None,
             keepdims: _bool | None = None) -> Any:
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return Amin.apply(self, reduce_dims(dim, self._data.ndim), keepdim)

    def aminmax(self, *, dim: _int | None = None, keepdim: _bool = False,
                axis: _int | None = None, keepdims: _bool | None = None) -> Any:
        """(min, max) over ``dim`` (all dims if None), as amin and amax."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        if dim is None:
            if self._data.size == 0:
                raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension "
                                   "as the operation has no identity.")
            dims: Any = ()
        else:
            dims = wrap_dim(dim, self._data.ndim)
            if self._data.ndim and self._data.shape[dims] == 0:
                raise IndexError(f"aminmax: Expected reduction dim {dims} to have non-zero "
                                 f"size.")
        return min_max(self.amin(dims, keepdim), self.amax(dims, keepdim))

    def _max_min(self, name: str, dim: Any, keepdim: _bool) -> Any:
        if isinstance(dim, TensorBase):
            return self.maximum(dim) if name == "max" else self.minimum(dim)
        if dim is None:
            if self._data.size == 0:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                                   f"input.numel() == 0. Specify the reduction dim with the "
                                   f"'dim' argument.")
            op = Amax if name == "max" else Amin
            return op.apply(self, tuple(range(self._data.ndim)), False, True)
        d = wrap_dim(dim, self._data.ndim)
        idx = self.argmax(d, keepdim=True) if name == "max" else self.argmin(d, keepdim=True)
        values = self.gather(d, idx) if self._data.ndim else self.clone()
        if not keepdim:
            values, idx = values.squeeze(d), idx.squeeze(d)
        return values_indices(values, idx)

    def max(self, dim: Any = None, keepdim: _bool = False, axis: Any = None,
            keepdims: _bool | None = None) -> Any:
        """Full max (ties share the gradient), ``max(dim)`` -> (values, indices), or maximum."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return self._max_min("max", dim, keepdim)

    def min(self, dim: Any = None, keepdim: _bool = False, axis: Any = None,
            keepdims: _bool | None = None) -> Any:
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return self._max_min("min", dim, keepdim)

    def argmax(self, dim: _int | None = None, keepdim: _bool = False, axis: _int | None = None,
               keepdims: _bool | None = None) -> Any:
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim: _int | None = None, keepdim: _bool = False, axis: _int | None = None,
               keepdims: _bool | None = None) -> Any:
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return self._arg(np.argmin, dim, keepdim)

    def _arg(self, fn: Any, dim: _int | None, keepdim: _bool) -> Any:
        if self._data.size == 0 and (dim is None or self._data.ndim == 0
                                     or self._data.shape[wrap_dim(dim, self._data.ndim)] == 0):
            raise IndexError(f"{fn.__name__}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0, or the reduction dim to have non-zero size.")
        if dim is None:
            out = np.asarray(fn(self._data), dtype=np.int64)
            return self._make(out.reshape((1,) * self._data.ndim) if keepdim else out)
        d = wrap_dim(dim, self._data.ndim)
        if self._data.ndim == 0:
            return self._make(np.zeros((), np.int64))
        return self._make(np.asarray(fn(self._data, axis=d, keepdims=keepdim), np.int64))

    def var(self, dim: Any = None, unbiased: _bool | None = None, keepdim: _bool = False, *,
            correction: Any = None, axis: Any = None, keepdims: _bool | None = None) -> Any:
        """Variance over ``dim``, divided by n - correction (1 unless ``unbiased=False``);
        ``var(True)`` is ``var(unbiased=True)``, as in torch."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return self._var("var", dim, unbiased, keepdim, correction)

    def std(self, dim: Any = None, unbiased: _bool | None = None, keepdim: _bool = False, *,
            correction: Any = None, axis: Any = None, keepdims: _bool | None = None) -> Any:
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return StdFromVar.apply(self._var("std", dim, unbiased, keepdim, correction))

    def _var(self, name: str, dim: Any, unbiased: _bool | None, keepdim: _bool,
             correction: Any) -> Any:
        """Squared deviations from the mean, summed over (n - correction). With no degrees of
        freedom left the result is inf or nan, and torch warns (it does not raise)."""
        if isinstance(dim, bool):  # var(unbiased), torch's other overload
            dim, unbiased = None, dim
        if self._data.dtype.kind not in "fc":
            raise RuntimeError("std and var only support floating point and complex dtypes")
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        dims = reduce_dims(dim, self._data.ndim)
        n = math.prod(self._data.shape[d] for d in dims)
        if n - correction <= 0:
            warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                          f"less than the reduction factor (input numel divided by output "
                          f"numel).", UserWarning, stacklevel=3)
        if self._data.dtype.kind != "c":
            return Var.apply(self, dims, keepdim, builtins.max(n - correction, 0),
                             dim is None or not self._data.ndim)
        centered = (self - self.mean(dims, keepdim=True)).abs()  # |z - mean|^2, real
        return (centered * centered).sum(dims, keepdim) / builtins.max(n - correction, 0)

    def logsumexp(self, dim: Any = None, keepdim: _bool = False, axis: Any = None,
                  keepdims: _bool | None = None) -> Any:
        """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) so exp never overflows."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        if dim is None:
            raise TypeError("logsumexp() missing 1 required positional argument: \"dim\"")
        x = self._floating()
        a = x._data
        if isinstance(dim, tuple | list) and not dim and a.ndim and a.size and not keepdim:
            # dim=() reduces every dim, as sum's; torch's kernel then adds the (1, ..., 1) max
            # to its 0-d sum in place, which it refuses
            raise RuntimeError(f"output with shape [] doesn't match the broadcast shape "
                               f"[{', '.join(['1'] * a.ndim)}]")
        return Logsumexp.apply(x, reduce_dims(dim, a.ndim), keepdim)

    def cumsum(self, dim: _int | None = None, dtype: Any = None, axis: _int | None = None
               ) -> Any:
        """Running sum along ``dim``; integers and bools accumulate in int64."""
        dim = _required_dim("cumsum", dim, axis)
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        return Cumsum.apply(x, wrap_dim(dim, x._data.ndim))

    def cumprod(self, dim: _int | None = None, dtype: Any = None, axis: _int | None = None
                ) -> Any:
        """Running product along ``dim``; its gradient is exact where the input has zeros."""
        dim = _required_dim("cumprod", dim, axis)
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        return Cumprod.apply(x, wrap_dim(dim, x._data.ndim))

    def cumsum_(self, dim: _int, dtype: Any = None) -> Any:
        return self._inplace(lambda: self.cumsum(dim, dtype))

    def cumprod_(self, dim: _int, dtype: Any = None) -> Any:
        return self._inplace(lambda: self.cumprod(dim, dtype))

    def cummax(self, dim: _int | None = None, axis: _int | None = None) -> Any:
        """(values, indices): the running maximum along ``dim`` and where it was last reached.
        A NaN, once met, is the maximum from there on (at the index of the latest NaN)."""
        return self._cum_extreme(np.maximum, _required_dim("cummax", dim, axis))

    def cummin(self, dim: _int | None = None, axis: _int | None = None) -> Any:
        return self._cum_extreme(np.minimum, _required_dim("cummin", dim, axis))

    def _cum_extreme(self, ufunc: Any, dim: _int) -> Any:
        """The index of the running extreme is the last position up to here where x equals
        it: NumPy accumulates the extremes, then the maximum of such positions. The values
        are gathered there, so the gradient goes to them (torch's cummaxmin_backward)."""
        d = wrap_dim(dim, self._data.ndim)
        if self._data.ndim == 0:
            return values_indices(self.clone(), self._make(np.zeros((), np.int64)))
        x = self._data
        run = contiguous(ufunc.accumulate(x, axis=d))
        pos = np.arange(x.shape[d]).reshape((-1,) + (1,) * (x.ndim - d - 1))
        hit = x == run
        if x.dtype.kind == "f":  # from a NaN on the extreme is NaN, at the latest NaN
            hit |= np.isnan(x)
        idx = self._make(np.maximum.accumulate(np.where(hit, pos, 0), axis=d))
        return values_indices(self.gather(d, idx), idx)

    def logcumsumexp(self, dim: _int | None = None, axis: _int | None = None) -> Any:
        """log(cumsum(exp(x))) along ``dim``, without overflow."""
        dim = _required_dim("logcumsumexp", dim, axis)
        if self._data.dtype.kind != "f":
            raise not_implemented_for("logcumsumexp_out_cpu", self._data.dtype)
        return Logcumsumexp.apply(self, wrap_dim(dim, self._data.ndim))

    def diff(self, n: _int = 1, dim: _int = -1, prepend: Any = None, append: Any = None) -> Any:
        """The n-th forward difference along ``dim`` (x[i+1] - x[i], n times), after joining
        ``prepend`` and ``append``; bools differ by xor."""
        if self._data.ndim == 0:
            raise RuntimeError("diff expects input to be at least one-dimensional")
        if n < 0:
            raise RuntimeError(f"order must be non-negative but got {n}")
        d = wrap_dim(dim, self._data.ndim)
        parts = [p for p in (prepend, self, append) if p is not None]
        for p in parts:
            if p.ndim != self._data.ndim:
                raise RuntimeError("diff expects prepend or append to be the same dimension as "
                                   "input")
            bad = [i for i in range(p.ndim) if i != d and p.shape[i] != self.shape[i]]
            if bad:
                i = bad[0]
                raise RuntimeError(f"diff expects the shape of tensor to prepend or append to "
                                   f"match that of input except along the differencing "
                                   f"dimension; input.size({i}) = {self.shape[i]}, but got "
                                   f"tensor.size({i}) = {p.shape[i]}")
        if n == 0:  # torch ignores prepend and append then
            return self.clone()
        if len(parts) > 1:
            nd = _dtype.result_type(*parts)
            x = Cat.apply(*(p.to(nd) for p in parts), dim=d)
        else:
            x = self
        for _ in range(n):
            size = x._data.shape[d]
            if size == 0:
                break
            hi, lo = x.narrow(d, 1, size - 1), x.narrow(d, 0, size - 1)
            x = hi != lo if x._data.dtype == np.bool_ else hi - lo
        return x

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: _bool = False,
             dtype: Any = None) -> Any:
        """Vector p-norm over ``dim`` (all dims if None): p = 2 ('fro'), 1, inf, -inf, 0, any;
        p = 'nuc' (or 'fro' over more than two dims) is linalg.matrix_norm, as torch's."""
        if isinstance(p, str):
            if p != "fro" or not (dim is None or isinstance(dim, int) or len(dim) <= 2):
                dims = list(range(self._data.ndim)) if dim is None else dim
                return matrix_norm(self, p, dims, keepdim, dtype=dtype)
            p = 2
        elif not isinstance(p, int | float):
            raise TypeError(f"norm(): p must be a number or 'fro', got {type(p).__name__}")
        x = _dtype.float_input("linalg.vector_norm", self, dtype)
        if x._data.dtype.kind == "c":  # the norm of |z|, real
            x = x.abs()
        return Norm.apply(x, builtins.float(p), reduce_dims(dim, x._data.ndim), keepdim)

    def cov(self, *, correction: _int = 1, fweights: Any = None, aweights: Any = None) -> Any:
        """The covariance matrix of the variables in the rows (observations in the columns) of
        a 1-D or 2-D tensor, weighted by integer frequencies and/or observation weights, as
        torch's (a 0-d result for one variable)."""
        if self._data.ndim > 2:
            raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got "
                               f"an input with {self._data.ndim} dimensions")
        x = self._floating() if self._data.dtype.kind != "b" else self.to(_dtype.float32)
        x = x.reshape(1, -1) if x._data.ndim < 2 else x
        n = x._data.shape[1]
        w = None
        for name, weights in (("fweights", fweights), ("aweights", aweights)):
            if weights is None:
                continue
            if weights.ndim > 1 or weights.numel() != n:
                raise RuntimeError(f"cov(): expected {name} to have one dimension and the same "
                                   f"number of elements as the observations ({n}), got shape "
                                   f"{list(weights.shape)}")
            if name == "fweights" and weights._data.dtype.kind not in "iu":
                raise RuntimeError("cov(): expected fweights to have integral dtype")
            if weights._data.size and weights._data.min() < 0:
                raise RuntimeError(f"cov(): {name} cannot be negative")
            w = weights if w is None else w * weights
        w_sum = w.sum() if w is not None else n
        avg = (x * w if w is not None else x).sum(1) / w_sum
        if w is None:
            norm = w_sum - correction
        elif aweights is not None and correction != 0:
            norm = w_sum - correction * (w * aweights).sum() / w_sum
        else:
            norm = w_sum - correction
        if float(norm) <= 0:
            warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly "
                          "less than the number of observations.", UserWarning, stacklevel=2)
            norm = 0
        centered = x - avg.unsqueeze(1)
        c = centered @ (centered * w if w is not None else centered).mT
        return (c / norm).squeeze()

    def corrcoef(self) -> Any:
        """The Pearson correlation coefficients of the rows: cov divided by the products of the
        standard deviations, clipped to [-1, 1]."""
        c = self.cov()
        if c._data.ndim == 0:
            return c / c
        std = c.diagonal().sqrt()
        return (c / std.reshape(-1, 1) / std.reshape(1, -1)).clamp(-1, 1)

    def dist(self, other: Any, p: Any = 2) -> Any:
        """The p-norm of self - other (broadcast): norm(self - other, p)."""
        return (self - other).norm(p)

    def renorm(self, p: Any, dim: _int, maxnorm: Any) -> Any:
        """Each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to norm
        maxnorm (times 1 / (1 + 1e-7 / norm), as torch's); the others unchanged."""
        if self._data.ndim <= 1:
            raise RuntimeError(f"renorm: input needs at least 2 dimensions, got "
                               f"{self._data.ndim} dimensions")
        if p <= 0:
            raise RuntimeError("renorm: non-positive-norm not supported")
        if maxnorm < 0:
            raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
        d = wrap_dim(dim, self._data.ndim)
        others = tuple(i for i in range(self._data.ndim) if i != d)
        norm = self.norm(p, others, keepdim=True)
        factor = (maxnorm / (norm + 1e-7)).where(norm > maxnorm, 1.0)
        return self * factor

    def renorm_(self, p: Any, dim: _int, maxnorm: Any) -> Any:
        return self._inplace(lambda: self.renorm(p, dim, maxnorm))

    def all(self, dim: Any = None, keepdim: _bool = False, axis: Any = None,
            keepdims: _bool | None = None) -> Any:
        """True where every element is nonzero (uint8 in, uint8 out, as in torch)."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return self._all_any(np.all, dim, keepdim)

    def any(self, dim: Any = None, keepdim: _bool = False, axis: Any = None,
            keepdims: _bool | None = None) -> Any:
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        return self._all_any(np.any, dim, keepdim)

    def _all_any(self, fn: Any, dim: Any, keepdim: _bool) -> Any:
        out = np.asarray(fn(self._data, axis=wrap_dims(dim, self._data.ndim), keepdims=keepdim))
        return self._make(out.astype(np.uint8) if self._data.dtype == np.uint8 else out)

    def count_nonzero(self, dim: Any = None, axis: Any = None) -> Any:
        """How many elements are nonzero, over ``dim`` (an int, a tuple or None: all)."""
        if axis is not None:
            dim = axis
        return (self != 0).sum(dim)

    def nansum(self, dim: Any = None, keepdim: _bool = False, dtype: Any = None,
               axis: Any = None, keepdims: _bool | None = None) -> Any:
        """sum with NaNs counted as zero (and given no gradient)."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        if self._data.dtype.kind != "f":
            return self.sum(dim, keepdim, dtype)
        x = self if dtype is None else self.to(dtype)
        return NanSum.apply(x, reduce_dims(dim, x._data.ndim), keepdim)

    def nanmean(self, dim: Any = None, keepdim: _bool = False, dtype: Any = None,
                axis: Any = None, keepdims: _bool | None = None) -> Any:
        """mean of the non-NaN elements (NaN where there are none)."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        if self._data.dtype.kind != "f":
            raise RuntimeError(f"nanmean(): expected input to have floating point dtype but "
                               f"got {self.dtype}")
        count = (~self.isnan()).sum(dim, keepdim)
        return self.nansum(dim, keepdim, dtype) / count

    def softmax(self, dim: _int | None = None, dtype: Any = None, axis: _int | None = None
                ) -> Any:
        """exp(x) / sum(exp(x)) along dim, computed from x - max (a primitive)."""
        if axis is not None:
            dim = axis
        return self._softmax_like(Softmax, "softmax", dim, dtype)

    def log_softmax(self, dim: _int | None = None, dtype: Any = None,
                    axis: _int | None = None) -> Any:
        """x - logsumexp(x) along dim (a primitive: stable where log(softmax(x)) gives -inf)."""
        if axis is not None:
            dim = axis
        return self._softmax_like(LogSoftmax, "log_softmax", dim, dtype)

    def _softmax_like(self, op: Any, name: str, dim: _int | None, dtype: Any) -> Any:
        """Cast to dtype; a 0-d input is one row of one element. Integers and bools have no
        kernel in torch (an empty one is returned as an empty tensor of its dtype)."""
        dim = _required_dim(name, dim, None)  # raises for None
        x = self if dtype is None else self.to(dtype)
        d = wrap_dim(dim, x._data.ndim)
        if x._data.dtype.kind != "f":
            if x._data.size == 0:
                return x._make(np.empty_like(x._data))
            last = x._data.ndim == 0 or d == x._data.ndim - 1
            raise not_implemented_for(f"{name}{'_lastdim' if last else ''}_kernel_impl",
                                      x._data.dtype)
        return op.apply(x, d)  # (a 0-d x too: its result is a tensor of its own, not a view)


def _required_dim(name: str, dim: Any, axis: Any) -> Any:
    """``dim``, or NumPy's ``axis`` in its place; one of them must be given."""
    if axis is not None:
        return axis
    if dim is None:
        raise TypeError(f"{name}() missing 1 required positional argument: \"dim\"")
    return dim
