"""Sorting and selecting by value: the orders NumPy computes, and one primitive.

Sorted values, medians, modes and k-th values are picked from the input with ``gather``, so
their gradient is gather's (the upstream gradient lands on the picked element), as torch's
``value_selecting_reduction_backward``. The orders themselves (indices) have no gradient: they
are plain NumPy, here. ``ShareEvenly`` is the exception: a value of the whole tensor (median(),
nanmedian()) whose gradient torch splits among every element equal to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.ops.base import Primitive
from ndgrad.ops.elementwise import Where


def sort_order(x: np.ndarray, dim: int, descending: bool = False) -> np.ndarray:
    """Indices that sort ``x`` along ``dim``, stably (equal values keep their order); NaN is
    larger than every number, so it comes last, or first when descending (torch's order)."""
    if not descending:
        return np.argsort(x, axis=dim, kind="stable")
    # a stable descending sort: sort the reversed array ascending, reverse back, and map the
    # positions in the reversed array to positions in x
    n = x.shape[dim]
    return (n - 1) - np.flip(np.argsort(np.flip(x, dim), axis=dim, kind="stable"), dim)


def median_index(x: np.ndarray, dim: int, ignore_nan: bool) -> np.ndarray:
    """Along ``dim`` (keepdim), where the median sits: the lower middle element of the stable
    order, as torch's nth_element with an index tie-break picks it. ``median`` gives the first
    NaN of a row that has one; ``nanmedian`` the median of the numbers (a NaN if none)."""
    order = sort_order(x, dim)
    n = x.shape[dim]
    count = np.sum(~np.isnan(x), axis=dim, keepdims=True) if x.dtype.kind == "f" else n
    if ignore_nan:
        k = np.maximum(count - 1, 0) // 2
    else:  # with a NaN, its stable position (after the numbers) is the count of numbers
        k = np.where(count < n, count, (n - 1) // 2)
    k = np.broadcast_to(k, order.shape[:dim] + (1,) + order.shape[dim + 1:])
    return np.take_along_axis(order, k, axis=dim)


def mode_index(x: np.ndarray, dim: int) -> np.ndarray:
    """Along ``dim`` (keepdim), where the most frequent value sits: the smallest such value,
    and its last occurrence (torch's scan of the sorted row). NaNs count one by one."""
    order = sort_order(x, dim)
    s = np.take_along_axis(x, order, axis=dim)
    n = x.shape[dim]
    pos = np.arange(n).reshape((n,) + (1,) * (x.ndim - dim - 1))
    first = np.ones(s.shape, bool)  # where a run of equal values starts
    first[(slice(None),) * dim + (slice(1, None),)] = (
        s[(slice(None),) * dim + (slice(1, None),)] != s[(slice(None),) * dim + (slice(0, -1),)])
    last = np.roll(first, -1, axis=dim)  # where a run ends: the next one starts there
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=dim)
    freq = np.where(last, pos - start + 1, 0)
    best = np.argmax(freq, axis=dim, keepdims=True)  # the first (smallest) of the most frequent
    return np.take_along_axis(order, best, axis=dim)


def median_all(x: np.ndarray, ignore_nan: bool) -> np.ndarray:
    """The median of all elements as a 0-d array (NaN for an empty input)."""
    flat = x.reshape(-1)
    if flat.size == 0:
        return np.array(np.nan, dtype=x.dtype)
    return flat[median_index(flat, 0, ignore_nan)].reshape(())


class ShareEvenly(Primitive):
    """``value``, a number taken from ``x`` (its median, say): the gradient is shared equally
    by the elements of x equal to it, or by its NaNs when value is NaN (torch's
    evenly_distribute_backward)."""

    @staticmethod
    def forward(ctx: Any, x: Any, value: Any) -> Any:
        ctx.save_for_backward(x, value)
        return value.copy()

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, value = ctx.saved_like(grad)
        mask = (x == value) | ((x != x) & (value != value))
        return Where.apply(mask, grad / mask.sum(), 0.0), None


def _ranks(x: np.ndarray) -> np.ndarray:
    """Each element's position in the stable sorted order of its row (the last dim)."""
    order = np.argsort(x, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(x.shape[-1]), axis=-1)
    return ranks


def searchsorted_rows(seq: np.ndarray, values: np.ndarray, right: bool) -> np.ndarray:
    """For each value, how many elements of ``seq`` (sorted along its last dim) are below it
    (or at most it, if ``right``): where it would be inserted to keep seq sorted. A 1-D seq
    serves every value; otherwise row i of values searches row i of seq (NumPy's searchsorted
    has no batched form: each row is merged with its values in one stable sort instead, and a
    value's insertion point is its rank in the merge minus its rank among the values)."""
    if seq.ndim <= 1:
        return np.asarray(np.searchsorted(seq, values, "right" if right else "left"))
    m = values.shape[-1]
    # equal elements keep their order in a stable sort: values placed first land before equal
    # elements of seq (left), placed last after them (right)
    merged = np.concatenate([seq, values] if right else [values, seq], axis=-1)
    start = seq.shape[-1] if right else 0
    in_merge = _ranks(merged)[..., start:start + m]
    return in_merge - _ranks(values)
