"""torch.segment_reduce: reduce consecutive segments of ``data`` along ``axis``, the segments
given by their ``lengths`` or by ``offsets`` (segment s is [offsets[s], offsets[s + 1])), one
set of them for each index of the dims before ``axis`` (lengths and offsets have those dims
first).

A composite: each position gets its segment's number and ``scatter_reduce`` does the rest
(include_self=False), so autograd differentiates it, twice if asked (torch has no double
backward here). Empty segments give ``initial`` if given, else sum 0, prod 1, max -inf, min inf
and mean nan; ``initial`` joins every segment's reduction (for mean: (initial + sum) / length).

Gradients are torch's, with two deliberate exceptions in max/min: tied maxima share the
gradient equally whatever its sign (torch divides it only where it is positive, so a negative
gradient reaches each tied element whole), and a segment holding a nan passes nan gradients to
its elements, as scatter_reduce's amax does (torch's segment kernel routes the gradient to the
nan elements).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import wrap_dim
from ndgrad.tensor.core import Tensor
from ndgrad.tensor.functions import where

__all__ = ["segment_reduce"]

_REDUCTIONS = {"sum": "sum", "mean": "mean", "prod": "prod", "max": "max", "amax": "max",
               "min": "min", "amin": "min"}
_SCATTER = {"sum": "sum", "mean": "sum", "prod": "prod", "max": "amax", "min": "amin"}


def _index_array(t: Any, name: str) -> np.ndarray:
    arr = np.asarray(t._data if isinstance(t, Tensor) else t)
    if arr.dtype.kind not in "iu":
        raise NotImplementedError(f'"_segment_reduce_{name}_cpu_kernel1" not implemented for '
                                  f"'{_dtype.scalar_name(arr.dtype)}'")
    return arr.astype(np.int64)


def _offsets(data: Tensor, axis: int, lengths: Any, offsets: Any, unsafe: bool) -> np.ndarray:
    """The segments' offsets, (*data.shape[:axis], S + 1), checked as torch checks them."""
    name = "offsets" if offsets is not None else "lengths"
    arr = _index_array(offsets if offsets is not None else lengths, name)
    if axis != arr.ndim - 1:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of {name} "
                           f"but got {axis}.")
    if tuple(arr.shape[:-1]) != tuple(data.shape[:axis]):
        raise RuntimeError(f"segment_reduce(): Expected {name}'s leading dims "
                           f"{list(arr.shape[:-1])} to be data's dims before axis "
                           f"{list(data.shape[:axis])}.")
    if offsets is not None:
        off = arr
    else:
        if not unsafe and arr.size:
            if arr.min() < 0:
                raise RuntimeError("lengths contains negative value!")
            if (arr.sum(-1) != data.shape[axis]).any():
                raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to "
                                   "sum to data.size(lengths.dim()-1) when !unsafe.")
        off = np.concatenate([np.zeros((*arr.shape[:-1], 1), np.int64), arr.cumsum(-1)], -1)
    if off.shape[-1] and (np.diff(off, axis=-1) < 0).any():
        raise RuntimeError("Expected segment_length >= 0 to be true, but got false.")
    return off


def _segment_ids(off: np.ndarray, n: int) -> np.ndarray:
    """(*off.shape[:-1], n): the segment of each position along the axis, S (a bucket that is
    dropped) for positions outside every segment."""
    num = off.shape[-1] - 1
    pos = np.arange(n)
    if num <= 0:
        return np.zeros((*off.shape[:-1], n), np.int64)
    ends = off[..., 1:, None]  # (..., S, 1)
    ids = (ends <= pos).sum(-2)  # the segments that end at or before each position
    inside = (pos >= off[..., :1]) & (pos < off[..., -1:])
    return np.where(inside, ids, num)


def segment_reduce(data: Tensor, reduce: str, *, lengths: Any = None, indices: Any = None,
                   offsets: Any = None, axis: int = 0, unsafe: bool = False,
                   initial: Any = None) -> Tensor:
    """Reduce ("sum", "mean", "prod", "max"/"amax", "min"/"amin") each segment of ``data``
    along ``axis``: the result has the number of segments there (see the module docstring)."""
    axis = wrap_dim(axis, data.ndim)
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    kind = _REDUCTIONS.get(reduce)
    if kind is None:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    nd = data._data.dtype
    if nd.kind != "f":
        raise NotImplementedError(f'"_segment_reduce_cpu" not implemented for '
                                  f"'{_dtype.scalar_name(nd)}'")
    off = _offsets(data, axis, lengths, offsets, unsafe)
    num = off.shape[-1] - 1
    inner = (1,) * (data.ndim - axis - 1)

    # (*outer, N) segment numbers, broadcast over the dims after axis
    ids = _segment_ids(off, data.shape[axis]).reshape((*off.shape[:-1], -1, *inner))
    index = Tensor._make(np.ascontiguousarray(np.broadcast_to(ids, data.shape)))
    size = list(data.shape)
    size[axis] = num + 1
    red = data.new_zeros(size).scatter_reduce(axis, index, data, _SCATTER[kind],
                                              include_self=False).narrow(axis, 0, num)

    counts = np.diff(off, axis=-1).reshape((*off.shape[:-1], num, *inner))
    filled = Tensor._make(np.broadcast_to(counts > 0, red.shape).copy())
    init = None if initial is None else nd.type(initial)
    if kind == "sum":
        return red if init is None else red + Tensor._make(np.asarray(init))
    if kind == "prod":
        red = where(filled, red, Tensor._make(np.ones((), nd)))
        return red if init is None else red * Tensor._make(np.asarray(init))
    if kind == "mean":
        total = red if init is None else red + Tensor._make(np.asarray(init))
        mean = total / Tensor._make(np.maximum(counts, 1).astype(nd))
        empty = np.asarray(np.nan if init is None else init, nd)
        return where(filled, mean, Tensor._make(empty))
    # max, min: an empty segment holds the identity; initial joins unless a nan is there
    identity = np.asarray(-np.inf if kind == "max" else np.inf, nd)
    red = where(filled, red, Tensor._make(identity))
    if init is None:
        return red
    keep = (red >= float(init)) if kind == "max" else (red <= float(init))
    return where(keep | red.isnan(), red, Tensor._make(np.asarray(init)))
