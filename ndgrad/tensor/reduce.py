"""Reductions: sum, mean, prod, max/min (and their indices), var/std, logsumexp, cumulative
sums and products, norms, all/any, and softmax/log_softmax along a dim. ``dim`` is an int, a
tuple of ints or None (all dims) as in torch; integer and bool sums accumulate in int64.
"""

from __future__ import annotations

import builtins
import math
import warnings
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import shape_arg, sum_to, wrap_dim, wrap_dims
from ndgrad.ops.nn import LogSoftmax, Softmax
from ndgrad.ops.reduce import Amax, Amin, Cumprod, Cumsum, Norm, Prod, Sum, reduce_dims
from ndgrad.tensor.base import TensorBase, _bool, _int, values_indices


class ReduceMixin(TensorBase):
    """Reductions over dims."""

    def sum(self, dim: Any = None, keepdim: _bool = False, dtype: Any = None) -> Any:
        """Sum over ``dim`` (all dims if None or empty); integers and bools sum to int64."""
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

    def mean(self, dim: Any = None, keepdim: _bool = False, dtype: Any = None) -> Any:
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind not in "fc":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                               f"a floating point or complex dtype. Got: {x.dtype}")
        dims = reduce_dims(dim, x._data.ndim)
        n = math.prod(x._data.shape[d] for d in dims)
        return x.sum(dims, keepdim) / n if n else x.sum(dims, keepdim) * float("nan")

    def prod(self, dim: _int | None = None, keepdim: _bool = False, dtype: Any = None) -> Any:
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        if dim is None or x._data.ndim == 0:
            d = 0 if dim is None else wrap_dim(dim, 0)
            return Prod.apply(x.reshape(-1), d, False)
        return Prod.apply(x, wrap_dim(dim, x._data.ndim), keepdim)

    def amax(self, dim: Any = (), keepdim: _bool = False) -> Any:
        """Max over ``dim`` (all dims if empty); tied maxima share the gradient evenly."""
        return Amax.apply(self, reduce_dims(dim, self._data.ndim), keepdim)

    def amin(self, dim: Any = (), keepdim: _bool = False) -> Any:
        return Amin.apply(self, reduce_dims(dim, self._data.ndim), keepdim)

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

    def max(self, dim: Any = None, keepdim: _bool = False) -> Any:
        """Full max (ties share the gradient), ``max(dim)`` -> (values, indices), or maximum."""
        return self._max_min("max", dim, keepdim)

    def min(self, dim: Any = None, keepdim: _bool = False) -> Any:
        return self._max_min("min", dim, keepdim)

    def argmax(self, dim: _int | None = None, keepdim: _bool = False) -> Any:
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim: _int | None = None, keepdim: _bool = False) -> Any:
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
            correction: Any = None) -> Any:
        return self._var("var", dim, unbiased, keepdim, correction)

    def std(self, dim: Any = None, unbiased: _bool | None = None, keepdim: _bool = False, *,
            correction: Any = None) -> Any:
        return self._var("std", dim, unbiased, keepdim, correction).sqrt()

    def _var(self, name: str, dim: Any, unbiased: _bool | None, keepdim: _bool,
             correction: Any) -> Any:
        """Squared deviations from the mean, summed over (n - correction). With no degrees of
        freedom left the result is inf or nan, and torch warns (it does not raise)."""
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        dims = reduce_dims(dim, self._data.ndim)
        n = math.prod(self._data.shape[d] for d in dims)
        if n - correction <= 0:
            warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                          f"less than the reduction factor (input numel divided by output "
                          f"numel).", UserWarning, stacklevel=3)
        centered = self - self.mean(dims, keepdim=True)
        if centered._data.dtype.kind == "c":  # |z - mean|^2, real
            centered = centered.abs()
        return (centered * centered).sum(dims, keepdim) / builtins.max(n - correction, 0)

    def logsumexp(self, dim: Any, keepdim: _bool = False) -> Any:
        """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) so exp never overflows."""
        x = self._floating()
        dims = wrap_dims(dim, x._data.ndim)
        m = x.detach().amax(dims, keepdim=True) if x._data.size else x.detach().sum(dims, True)
        m = m.masked_fill(m.isinf(), 0.0)
        out = (x - m).exp().sum(dims, keepdim=True).log() + m
        return out if keepdim else out.squeeze(dims)

    def cumsum(self, dim: _int, dtype: Any = None) -> Any:
        """Running sum along ``dim``; integers and bools accumulate in int64."""
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        return Cumsum.apply(x, wrap_dim(dim, x._data.ndim))

    def cumprod(self, dim: _int, dtype: Any = None) -> Any:
        """Running product along ``dim``; its gradient is exact where the input has zeros."""
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        return Cumprod.apply(x, wrap_dim(dim, x._data.ndim))

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: _bool = False,
             dtype: Any = None) -> Any:
        """Vector p-norm over ``dim`` (all dims if None): p = 2 ('fro'), 1, inf, -inf, 0, any."""
        if isinstance(p, str):
            if p != "fro":
                raise NotImplementedError(f"norm(p='{p}') is not supported by ndgrad; only "
                                          f"vector norms (p a number, or 'fro') are")
            p = 2
        elif not isinstance(p, int | float):
            raise TypeError(f"norm(): p must be a number or 'fro', got {type(p).__name__}")
        x = self._floating() if dtype is None else self.to(dtype)
        if x._data.dtype.kind == "c":  # the norm of |z|, real
            x = x.abs()
        return Norm.apply(x, builtins.float(p), reduce_dims(dim, x._data.ndim), keepdim)

    def all(self, dim: Any = None, keepdim: _bool = False) -> Any:
        """True where every element is nonzero (uint8 in, uint8 out, as in torch)."""
        return self._all_any(np.all, dim, keepdim)

    def any(self, dim: Any = None, keepdim: _bool = False) -> Any:
        return self._all_any(np.any, dim, keepdim)

    def _all_any(self, fn: Any, dim: Any, keepdim: _bool) -> Any:
        out = np.asarray(fn(self._data, axis=wrap_dims(dim, self._data.ndim), keepdims=keepdim))
        return self._make(out.astype(np.uint8) if self._data.dtype == np.uint8 else out)

    def count_nonzero(self, dim: Any = None) -> Any:
        return (self != 0).sum(dim)

    def softmax(self, dim: _int, dtype: Any = None) -> Any:
        """exp(x) / sum(exp(x)) along dim, computed from x - max (a primitive)."""
        return self._softmax_like(Softmax, "softmax", dim, dtype)

    def log_softmax(self, dim: _int, dtype: Any = None) -> Any:
        """x - logsumexp(x) along dim (a primitive: stable where log(softmax(x)) gives -inf)."""
        return self._softmax_like(LogSoftmax, "log_softmax", dim, dtype)

    def _softmax_like(self, op: Any, name: str, dim: _int, dtype: Any) -> Any:
        """Cast to dtype; a 0-d input is treated as 1-d."""
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind != "f":
            raise RuntimeError(f"\"{name}\" not implemented for '{x.dtype}'")
        if x._data.ndim == 0:
            wrap_dim(dim, 0)
            return op.apply(x.reshape(1), 0).reshape(())
        return op.apply(x, wrap_dim(dim, x._data.ndim))
