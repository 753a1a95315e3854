"""Sorting and selecting by value: sort, topk, kthvalue, median, mode, quantile, unique, and
the counting ops (histc, bincount). NumPy finds the positions (``ndgrad/ops/sort.py``);
the values are gathered from the input, so their gradient lands where they came from.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from ndgrad._helpers import not_implemented_for, wrap_dim
from ndgrad.ops.sort import ShareEvenly, median_all, median_index, mode_index, sort_order
from ndgrad.tensor.base import TensorBase, _bool, _int, values_indices
from ndgrad.tensor.storage import unview

_QUANTILE_MODES = ("linear", "lower", "higher", "midpoint", "nearest")
histogram_result = namedtuple("histogram_result", ["hist", "bin_edges"])


def _check_reduction_dim(x: Any, d: int, name: str) -> None:
    if x._data.ndim and x._data.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


class SortMixin(TensorBase):
    """Sorting, selection by rank, and counting."""

    def sort(self, dim: _int = -1, descending: _bool = False, stable: _bool = False) -> Any:
        """(values, indices) sorted along dim. Always stable; NaN sorts as the largest value."""
        d = wrap_dim(dim, self._data.ndim)
        if self._data.ndim == 0:
            return values_indices(self.clone(), self._make(np.zeros((), np.int64)))
        idx = self._make(sort_order(self._data, d, descending))
        return values_indices(self.gather(d, idx), idx)

    def argsort(self, dim: _int = -1, descending: _bool = False, stable: _bool = False) -> Any:
        return self.sort(dim, descending, stable).indices

    def msort(self) -> Any:
        """Sorted along the first dim."""
        return self.sort(0).values

    def topk(self, k: _int, dim: _int = -1, largest: _bool = True, sorted: _bool = True) -> Any:
        """The k largest (or smallest) elements along dim and their indices, in sorted order
        (also for ``sorted=False``, where torch's order is unspecified)."""
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d] if self._data.ndim else 1
        if not 0 <= k <= n:
            raise RuntimeError(f"selected index k out of range (k={k}, size along dim {d} is {n})")
        if self._data.ndim == 0:  # torch gives the element itself, even for k = 0
            return values_indices(self.clone(), self._make(np.zeros((), np.int64)))
        order = sort_order(self._data, d, largest)
        idx = self._make(order[(slice(None),) * d + (slice(0, k),)])
        return values_indices(self.gather(d, idx), idx)

    def kthvalue(self, k: _int, dim: _int = -1, keepdim: _bool = False) -> Any:
        """The k-th smallest element along dim (1-based), with its index."""
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d] if self._data.ndim else 1
        if not 1 <= k <= n:
            raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
        if self._data.ndim == 0:
            return values_indices(self.clone(), self._make(np.zeros((), np.int64)))
        order = sort_order(self._data, d)
        return self._pick(order[(slice(None),) * d + (slice(k - 1, k),)], d, keepdim)

    def _pick(self, idx: np.ndarray, d: _int, keepdim: _bool) -> Any:
        """(values, indices) at ``idx`` (keepdim-shaped, along d), squeezed unless keepdim."""
        i = self._make(idx.astype(np.int64, copy=False))
        v = self.gather(d, i)
        if keepdim:
            return values_indices(v, i)
        return values_indices(unview(v.squeeze(d)), unview(i.squeeze(d)))

    def median(self, dim: _int | None = None, keepdim: _bool = False,
               axis: _int | None = None, keepdims: _bool | None = None) -> Any:
        """The lower median: of all elements (NaN if there is one), or (values, indices) along
        ``dim``. The median of all elements shares its gradient among the tied elements."""
        return self._median("median", dim, keepdim, axis, keepdims, False)

    def nanmedian(self, dim: _int | None = None, keepdim: _bool = False,
                  axis: _int | None = None, keepdims: _bool | None = None) -> Any:
        """The median of the non-NaN elements (NaN if there are none)."""
        return self._median("nanmedian", dim, keepdim, axis, keepdims, True)

    def _median(self, name: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any,
                ignore_nan: _bool) -> Any:
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        if dim is None:
            return ShareEvenly.apply(self, median_all(self._data, ignore_nan))
        d = wrap_dim(dim, self._data.ndim)
        if self._data.ndim == 0:
            return values_indices(self.clone(), self._make(np.zeros((), np.int64)))
        _check_reduction_dim(self, d, "median")
        return self._pick(median_index(self._data, d, ignore_nan), d, keepdim)

    def mode(self, dim: _int = -1, keepdim: _bool = False, axis: _int | None = None,
             keepdims: _bool | None = None) -> Any:
        """The most frequent value along dim (the smallest, if several are), with the index of
        its last occurrence."""
        if axis is not None:
            dim = axis
        if keepdims is not None:
            keepdim = keepdims
        d = wrap_dim(dim, self._data.ndim)
        if self._data.ndim == 0:
            return values_indices(self.clone(), self._make(np.zeros((), np.int64)))
        _check_reduction_dim(self, d, "mode")
        if self._data.size == 0:
            return self._pick(np.zeros(_keep(self._data.shape, d), np.int64), d, keepdim)
        return self._pick(mode_index(self._data, d), d, keepdim)

    def quantile(self, q: Any, dim: _int | None = None, keepdim: _bool = False, *,
                 interpolation: str = "linear") -> Any:
        """The q-th quantiles along dim (of all elements if None), interpolating between the
        two nearest sorted values; NaN if the input has one. q is a number or a 1-D tensor
        (then the quantiles are stacked along a new first dim)."""
        return self._quantile(q, dim, keepdim, interpolation, False)

    def nanquantile(self, q: Any, dim: _int | None = None, keepdim: _bool = False, *,
                    interpolation: str = "linear") -> Any:
        """quantile of the non-NaN elements."""
        return self._quantile(q, dim, keepdim, interpolation, True)

    def _quantile(self, q: Any, dim: Any, keepdim: _bool, interpolation: str,
                  ignore_nan: _bool) -> Any:
        """torch's quantile_compute: sort, turn q into fractional ranks, gather the values
        below and above, and interpolate (written in ops, so the gradient is torch's)."""
        name = "nanquantile" if ignore_nan else "quantile"
        x = self
        if x._data.size == 0:
            raise RuntimeError(f"{name}() input tensor must be non-empty")
        if x._data.dtype not in (np.float32, np.float64):
            raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
        if interpolation not in _QUANTILE_MODES:
            raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                               f"midpoint or nearest, but got {interpolation}")
        if isinstance(q, TensorBase):
            if q._data.ndim > 1:
                raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
            if q._data.dtype != x._data.dtype:
                raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        else:
            if not 0 <= q <= 1:
                raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
            q = self._make(np.asarray(q, dtype=x._data.dtype))
        if not np.all((q._data >= 0) & (q._data <= 1)):
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
        # the reduced dim last, with a size-1 dim in its place for keepdim
        if dim is None:
            out_shape = (1,) * x._data.ndim if keepdim else ()
            x = x.reshape(-1)
        else:
            d = wrap_dim(dim, x._data.ndim)
            out_shape = _keep(x._data.shape, d) if keepdim else tuple(
                s for i, s in enumerate(x._data.shape) if i != d)
            x = x.unsqueeze(-1).transpose(d, -1) if x._data.ndim else x.reshape(1)
        n = x._data.shape[-1]
        srt = x.sort(-1).values.reshape(out_shape + (n,)).unsqueeze(0)  # (1, *out_shape, n)
        # ranks: (nq, *out_shape, 1), positions in [0, n - 1] of the sorted values
        qs = q.reshape((q._data.size,) + (1,) * (len(out_shape) + 1))
        nan = srt.isnan()
        if ignore_nan:
            ranks = qs * ((~nan).sum(-1, keepdim=True) - 1)
            ranks = ranks.masked_fill(ranks < 0, 0.0)
        else:  # a row with a NaN: rank n - 1, where sorting put it
            ranks = (qs * (n - 1)).masked_fill(nan.any(-1, keepdim=True), n - 1)
        if interpolation in ("lower", "higher", "nearest"):
            rounding: Any = {"lower": np.floor, "higher": np.ceil, "nearest": np.round}
            ranks = self._make(rounding[interpolation](ranks._data))  # round half to even
        below = ranks._data.astype(np.int64)
        full = srt.expand(ranks.shape[:-1] + (n,))
        out = full.gather(-1, self._make(below))
        if interpolation in ("linear", "midpoint"):
            w = ranks - self._make(below) if interpolation == "linear" else 0.5
            above = full.gather(-1, self._make(np.ceil(ranks._data).astype(np.int64)))
            out = _lerp(out, above, w)
        out = out.squeeze(-1)
        return unview(out.squeeze(0) if q._data.ndim == 0 else out)

    def unique(self, sorted: _bool = True, return_inverse: _bool = False,
               return_counts: _bool = False, dim: _int | None = None) -> Any:
        """The distinct values (sorted, as torch's CPU unique always is) or, with ``dim``, the
        distinct slices along dim; optionally where each element went and how many there were.
        Each NaN is distinct."""
        x = self._data
        if dim is None:
            res: Any = np.unique(x.reshape(-1), return_inverse=True, return_counts=True,  # type: ignore[call-overload]
                                 equal_nan=False)
            inverse_shape = x.shape
        else:
            d = _unique_dim(x, dim)
            if x.shape[d] == 0:
                vals = np.zeros(x.shape, x.dtype)
                res = (vals, np.zeros(0, np.int64), np.zeros(0, np.int64))
            else:
                res = np.unique(x, return_inverse=True, return_counts=True, axis=d,  # type: ignore[call-overload]
                                equal_nan=False)
            inverse_shape = (x.shape[d],)
        out = [self._make(res[0])]
        if return_inverse:
            out.append(self._make(res[1].reshape(inverse_shape).astype(np.int64)))
        if return_counts:
            out.append(self._make(res[2].astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def unique_consecutive(self, return_inverse: _bool = False, return_counts: _bool = False,
                           dim: _int | None = None) -> Any:
        """Each run of equal consecutive values (or slices along dim) kept once."""
        x = self._data
        if dim is None:
            flat, d = x.reshape(-1), 0
        else:
            flat, d = x, _unique_dim(x, dim)
        n = flat.shape[d]
        rest = tuple(i for i in range(flat.ndim) if i != d)
        step = np.ones(n, bool)  # where a new run starts
        if n > 1:
            differs = np.take(flat, np.arange(1, n), d) != np.take(flat, np.arange(n - 1), d)
            step[1:] = differs.any(rest) if rest else differs
        starts = np.flatnonzero(step)
        out = [self._make(np.take(flat, starts, d))]
        if return_inverse:
            shape = x.shape if dim is None else (n,)
            out.append(self._make((np.cumsum(step) - 1).reshape(shape).astype(np.int64)))
        if return_counts:
            out.append(self._make(np.diff(np.append(starts, n)).astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def histc(self, bins: _int = 100, min: Any = 0, max: Any = 0) -> Any:
        """Counts in ``bins`` equal-width bins over [min, max] (the data's range if both are
        0), as floats; elements outside are ignored, ``max`` itself goes in the last bin."""
        x = self._data
        if x.dtype.kind != "f":
            raise RuntimeError(f"\"histogram_cpu\" not implemented for '{self.dtype}'")
        if bins <= 0:
            raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for "
                               f"dimension 0")
        lo, hi = float(min), float(max)
        if lo == hi and x.size:
            lo, hi = float(x.min()), float(x.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        if lo > hi or not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"torch.histc(): max must be larger than min and both finite, "
                               f"but got min {lo} and max {hi}")
        flat = x.reshape(-1)
        inside = flat[(flat >= lo) & (flat <= hi)]
        pos = ((inside - lo) * bins / (hi - lo)).astype(np.int64)
        pos = np.minimum(pos, bins - 1)  # x == max goes in the last bin
        return self._make(np.bincount(pos, minlength=bins).astype(x.dtype))

    def histogram(self, bins: Any = 100, *, range: Any = None, weight: Any = None,
                  density: _bool = False) -> Any:
        """(hist, bin_edges): counts (or summed ``weight``, or a density) in ``bins`` equal
        bins over ``range`` (the data's by default) or between the given edges; the last bin
        includes its right edge."""
        x = self._data
        if x.dtype.kind != "f":
            raise not_implemented_for("histogramdd", x.dtype)
        hist, edges = _histogram(x.reshape(-1, 1), [bins], range, weight, density)
        return histogram_result(self._make(hist), self._make(edges[0]))

    def bincount(self, weights: Any = None, minlength: _int = 0) -> Any:
        """How often each value 0, 1, ... occurs in a 1-D non-negative integer tensor (summing
        ``weights`` instead of ones if given)."""
        x = self._data
        if x.dtype.kind not in "iub":
            raise not_implemented_for("bincount_cpu", x.dtype)
        if x.ndim != 1:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        if x.size and x.min() < 0:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        if minlength < 0:
            raise RuntimeError("minlength should be >= 0")
        if weights is None:
            return self._make(np.bincount(x, minlength=minlength).astype(np.int64))
        w = weights._data if isinstance(weights, TensorBase) else np.asarray(weights)
        if w.shape != x.shape:
            raise RuntimeError("weights should be 1-d and have the same length as input")
        out_dtype = w.dtype if w.dtype.kind == "f" else np.float64
        return self._make(np.bincount(x, w, minlength=minlength).astype(out_dtype))


def _unique_dim(x: np.ndarray, dim: int) -> int:
    """The dim unique runs over, with torch's errors."""
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = wrap_dim(dim, x.ndim)
    if x.size == 0 and x.shape[d]:
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique "
                           "cannot be applied")
    return d


def _keep(shape: tuple[int, ...], d: int) -> tuple[int, ...]:
    return tuple(1 if i == d else s for i, s in enumerate(shape))


def _lerp(a: Any, b: Any, w: Any) -> Any:
    """a + w (b - a), computed from the nearer end as torch's lerp does (equal in exact
    arithmetic; the same rounding as torch's). w is a tensor or a number."""
    if isinstance(w, float):
        return a + w * (b - a) if w < 0.5 else b - (b - a) * (1 - w)
    return (a + w * (b - a)).where(w < 0.5, b - (b - a) * (1 - w))


def _histogram(points: np.ndarray, bins: Any, ranges: Any, weight: Any,
               density: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """The histogram of (N, D) points, in their dtype, as torch's histogramdd bins them: per
    dim, ``bins`` equal bins over the range (``ranges`` is (min0, max0, min1, max1, ...), the
    data's by default) or given edges; a point belongs to bin i when edge i <= x < edge i+1,
    the last bin including its right edge; points outside the edges are left out."""
    n, d = points.shape
    edges, where = [], []
    inside = np.ones(n, bool)
    for i, b in enumerate(bins):
        v = points[:, i]
        if isinstance(b, TensorBase | np.ndarray):
            e = np.asarray(b._data if isinstance(b, TensorBase) else b, points.dtype)
        else:
            if ranges is not None:
                lo, hi = float(ranges[2 * i]), float(ranges[2 * i + 1])
            else:
                lo, hi = (float(v.min()), float(v.max())) if n else (0.0, 1.0)
            if lo == hi:  # as NumPy: one unit wide
                lo, hi = lo - 0.5, hi + 0.5
            e = np.linspace(lo, hi, int(b) + 1, dtype=points.dtype)
        edges.append(e)
        inside &= (v >= e[0]) & (v <= e[-1])
        where.append(np.minimum(np.searchsorted(e, v, "right") - 1, e.size - 2))
    shape = tuple(e.size - 1 for e in edges)
    flat = np.ravel_multi_index(tuple(w[inside] for w in where), shape) if inside.any() else (
        np.zeros(0, np.int64))
    w = weight._data.reshape(-1)[inside] if isinstance(weight, TensorBase) else None
    hist = np.bincount(flat, w, minlength=int(np.prod(shape))).reshape(shape)
    if density:
        volume = np.ones(shape)
        for k, e in enumerate(edges):
            volume = volume * np.diff(e).reshape((-1,) + (1,) * (d - k - 1))
        hist = hist / hist.sum() / volume
    return hist.astype(points.dtype), edges
