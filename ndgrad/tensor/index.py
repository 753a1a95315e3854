"""Indexing methods: ``x[index]`` and ``x[index] = v`` with PyTorch's index rules, gather,
scatter, index_select/add/fill, masked_select/scatter, and positions (nonzero). Selections by
value (sort, topk, unique) are in ``sort.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._helpers import broadcast_error, wrap_dim
from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.ops.index import (
    Gather,
    GetItem,
    IndexAddZeros,
    IndexPut,
    Scatter,
    ScatterAdd,
    check_bounds,
    plan_index,
    put,
)
from ndgrad.tensor.base import TensorBase, _bool, _int, raw


def _np_index(index: Any) -> tuple:
    """Turn an index (ints, slices, None, Ellipsis, lists, int/bool tensors) into NumPy's."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if isinstance(i, TensorBase):
            i = i._data
            if i.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if i.dtype == np.uint8:  # torch reads a byte tensor as a mask
                i = i.astype(np.bool_)
        elif isinstance(i, list):
            i = np.asarray(i)
            if i.dtype.kind == "f":
                raise IndexError("lists used as indices must contain only integers or booleans")
        out.append(i)
    return tuple(out)


def _index_error(e: IndexError) -> IndexError:
    return IndexError(str(e).replace("axis", "dimension"))



def _index_array(index: Any, op: str) -> np.ndarray:
    arr = index._data if isinstance(index, TensorBase) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index (got {arr.dtype})")
    return arr


def _check_index(idx: np.ndarray, shape: tuple[int, ...], d: int, what: str) -> None:
    """gather/scatter: index no larger than ``shape`` apart from dim d, entries in range."""
    for k, (a, b) in enumerate(zip(idx.shape, shape)):
        if k != d and a > b:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(idx.shape)} to be no larger than {what} {list(shape)} "
                               f"apart from dimension {d}")
    check_bounds(idx, shape[d], d)


def _check_scatter(idx: np.ndarray, x: Any, d: int, src: Any) -> None:
    shp = x._data.shape
    if idx.ndim != len(shp):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if src is not None:
        if src.ndim != len(shp):
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               "tensor")
        if any(a > b for a, b in zip(idx.shape, src.shape)) or any(
                a > b for k, (a, b) in enumerate(zip(idx.shape, shp)) if k != d):
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                               f"{list(shp)} apart from dimension {d} and to be no larger size "
                               f"than src {list(src.shape)}")
    if len(shp):
        _check_index(idx, shp, d, "self")


class IndexMixin(TensorBase):
    """Indexing, gathering, scattering and selecting."""

    def __getitem__(self, index: Any) -> Any:
        steps = plan_index(_np_index(index), self._data.shape)
        out = self
        try:
            for step in steps:
                parent, out = out, GetItem.apply(out, step)
                if out._base is not None:  # a view: in-place ops on it write through to parent
                    out._view_of = (parent, step)
        except IndexError as e:
            raise _index_error(e) from None
        return out

    def gather(self, dim: _int, index: Any) -> Any:
        """out[i][j] = self[index[i][j]][j] for dim 0 (and so on for other dims)."""
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "gather")
        if idx.ndim != self._data.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as input "
                               "tensor")
        if self._data.ndim == 0:
            return self.reshape(1).gather(0, self._make(idx.reshape(1))).reshape(())
        _check_index(idx, self._data.shape, d, "self")
        return Gather.apply(self, d, idx)

    def scatter(self, dim: _int, index: Any, src: Any = None, value: Any = None,
                reduce: str | None = None) -> Any:
        """A copy of self with self[index[i][j]][j] = src[i][j] for dim 0 (and so on)."""
        if reduce is not None:
            if reduce != "add":
                raise NotImplementedError(f"scatter reduce='{reduce}' is not supported")
            return self.scatter_add(dim, index, src if src is not None else value)
        src = src if src is not None else value
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "scatter")
        if isinstance(src, TensorBase):
            _check_scatter(idx, self, d, src)
            return Scatter.apply(self, d, idx, src.to(self.dtype))
        _check_scatter(idx, self, d, None)
        return Scatter.apply(self, d, idx, raw(self._operand(src)))

    def scatter_add(self, dim: _int, index: Any, src: Any) -> Any:
        """A copy of self with src[i][j] added at self[index[i][j]][j] (repeats accumulate)."""
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "scatter_add")
        _check_scatter(idx, self, d, src)
        return ScatterAdd.apply(self, d, idx, src.to(self.dtype))

    def scatter_(self, dim: _int, index: Any, src: Any = None, value: Any = None,
                 reduce: str | None = None) -> Any:
        return self._inplace(lambda: self.scatter(dim, index, src, value, reduce), arg=src)

    def scatter_add_(self, dim: _int, index: Any, src: Any) -> Any:
        return self._inplace(lambda: self.scatter_add(dim, index, src), arg=src)

    def index_select(self, dim: _int, index: Any) -> Any:
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "index_select")
        if idx.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        n = self._data.shape[d] if self._data.ndim else 1
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError("index out of range in self")
        if self._data.ndim == 0:
            return self.clone()
        return self[(slice(None),) * d + (idx.reshape(-1),)]

    def index_add(self, dim: _int, index: Any, source: Any, alpha: Any = 1) -> Any:
        """A copy of self with source's slices along dim added at ``index`` (repeats add up)."""
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "index_add").reshape(-1)
        shp, sshp = self._data.shape, tuple(source.shape)
        if len(sshp) != len(shp) or any(a != b for k, (a, b) in enumerate(zip(shp, sshp))
                                        if k != d):
            raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                               f"specified dimension. Got self.shape = {list(shp)} source.shape "
                               f"= {list(sshp)}")
        if idx.size != sshp[d]:
            raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                               f"source.size(dim): ({sshp[d]}), for dim: {d}")
        check_bounds(idx, shp[d], d)
        src = source * alpha if alpha != 1 else source
        steps = (slice(None),) * d + (idx,)
        return self + IndexAddZeros.apply(src.to(self.dtype), shp, steps)

    def index_add_(self, dim: _int, index: Any, source: Any, alpha: Any = 1) -> Any:
        return self._inplace(lambda: self.index_add(dim, index, source, alpha), arg=source)

    def index_fill(self, dim: _int, index: Any, value: Any) -> Any:
        d = wrap_dim(dim, self._data.ndim)
        idx = (slice(None),) * d + (_index_array(index, "index_fill").reshape(-1),)
        return IndexPut.apply(self, idx, self._operand(value, self.dtype))

    def masked_select(self, mask: Any) -> Any:
        """The elements where ``mask`` (broadcast with self) is True, as a 1-D tensor."""
        try:
            shape = np.broadcast_shapes(self._data.shape, mask._data.shape)
        except ValueError:
            raise broadcast_error(mask._data.shape, self._data.shape) from None
        if mask._data.dtype != np.bool_:
            raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask.dtype}")
        return self.expand(shape)[mask.expand(shape)]

    def masked_scatter(self, mask: Any, source: Any) -> Any:
        m = mask.expand(self.shape)._data
        n = int(m.sum())
        return IndexPut.apply(self, (m,), source.reshape(-1)[:n])

    def nonzero(self, as_tuple: _bool = False) -> Any:
        nz = np.nonzero(self._data)
        if as_tuple:
            return tuple(self._make(i.astype(np.int64)) for i in nz)
        return self._make(np.stack(nz, axis=1).astype(np.int64))

    def __setitem__(self, index: Any, value: Any) -> None:
        steps = plan_index(_np_index(index), self._data.shape)
        v = self._operand(value, self.dtype)
        try:
            if grad_state.enabled and (self._requires_grad or isinstance(v, TensorBase)
                                        and v._requires_grad):
                self._inplace(lambda: IndexPut.apply(self, steps, v), arg=v)
            else:  # nothing to record: write straight into the array
                put(self._data, steps, raw(v))
                self._bump_version()
        except IndexError as e:
            raise _index_error(e) from None
        except ValueError as e:  # NumPy's broadcasting error for a value of the wrong shape
            if not self._data.flags.writeable:  # an expand()ed view: elements share memory
                raise RuntimeError("unsupported operation: more than one element of the written-"
                                   "to tensor refers to a single memory location. Please clone() "
                                   "the tensor before performing the operation.") from None
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(np.shape(value))} "
                               f"cannot be broadcast to indexing result: {e}") from None

    def _get_step(self, step: tuple) -> Any:
        """self[step] for one step of ``plan_index`` (autograd/inplace.py re-views with it)."""
        return GetItem.apply(self, step)

    def _index_put(self, step: tuple, value: Any) -> Any:
        """A copy of self with self[step] = value, recorded (an in-place op on a view made by
        indexing writes through to its parent with it)."""
        return IndexPut.apply(self, step, value)
