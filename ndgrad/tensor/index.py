"""Indexing methods: ``x[index]`` and ``x[index] = v`` with PyTorch's index rules, gather,
scatter, index_select/add/fill, masked_select/scatter, and positions (nonzero). Selections by
value (sort, topk, unique) are in ``sort.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._helpers import broadcast_error, wrap_dim
from ndgrad.autograd.forward_ad import is_dual
from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.autograd.inplace import OVERLAP, overlaps, refuse_overlap, same_data, will_write
from ndgrad.ops.index import (
    Gather,
    GetItem,
    IndexAddZeros,
    IndexPut,
    Scatter,
    ScatterAdd,
    ScatterReduce,
    check_bounds,
    has_advanced,
    plan_index,
    put,
)
from ndgrad.ops.shape import expand_value
from ndgrad.tensor.base import TensorBase, _bool, _int, raw


def _np_index(index: Any) -> tuple:
    """Turn an index (ints, slices, None, Ellipsis, lists, ranges, int/bool tensors) into
    NumPy's."""
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
        elif isinstance(i, _SEQUENCES):  # a sequence inside the index: advanced
            i = np.asarray(i) if len(i) else np.zeros(0, np.int64)
            if i.dtype.kind not in "biu":
                raise IndexError("lists used as indices must contain only integers or booleans")
        out.append(i)
    return tuple(out)


_SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
_SEQUENCES = (list, tuple, range)  # a tuple, not list | tuple: that union is built per call


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


def _nonempty_dims(x: Any, idx: np.ndarray, src: Any) -> tuple[np.ndarray, Any]:
    """scatter on a 1-d self: a 0-d index or src is a 1-element vector, as torch counts a
    0-d tensor's dims as 1 (``zeros(10).scatter_(0, tensor(y), value=1)``, a one-hot)."""
    if x._data.ndim != 1:
        return idx, src
    if isinstance(src, TensorBase) and src._data.ndim == 0:
        src = src.reshape(1)
    return (idx.reshape(1) if idx.ndim == 0 else idx), src


def _unviewed(view: Any) -> Any:
    """A copy of a view, for ScatterReduce, which saves its input and output: were they views
    of the tensor an in-place form (scatter_reduce_) overwrites, backward would find them
    changed."""
    return view.clone()


def _whole(index: Any, shape: tuple[int, ...]) -> bool:
    """Whether torch's setitem writes into the tensor itself rather than a view of it: an
    index of Ellipsis and slices that each take a whole dim (start 0, step 1, stop at or past
    the end). The overwritten history then gets copy_'s or fill_'s constant zero gradient,
    where a view's CopySlices passes the upstream gradient on with the written part zeroed."""
    items = index if isinstance(index, tuple) else (index,)
    if any(i is not Ellipsis and type(i) is not slice for i in items) \
            or sum(i is Ellipsis for i in items) > 1:
        return False
    cut = items.index(Ellipsis) if Ellipsis in items else len(items)
    dims = list(range(cut)) + list(range(len(shape) - len(items) + cut + 1, len(shape)))
    slices = [i for i in items if i is not Ellipsis]
    if len(slices) > len(shape):
        return False
    return all(i.start in (None, 0) and i.step in (None, 1)
               and (i.stop is None or type(i.stop) is int and i.stop >= shape[d])
               for i, d in zip(slices, dims))


def _drop_leading_ones(v: Any) -> Any:
    """A setitem value without its leading size-1 dims, as torch drops them before
    broadcasting: ``x[0, 1] = ones(1)`` and ``x[0] = ones(1, 3)`` both write."""
    if not isinstance(v, TensorBase) or not v._data.ndim or v._data.shape[0] != 1:
        return v
    return v.reshape(_without_leading_ones(v._data.shape))


def _without_leading_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    k = next((i for i, n in enumerate(shape) if n != 1), len(shape))
    return shape[k:]


def _basic(steps: list[tuple]) -> bool:
    """Whether plan_index's steps are one basic index: setitem then writes, as torch's does,
    through the view it selects (an advanced one goes through index_put)."""
    return len(steps) == 1 and not has_advanced(steps[0])


def _refuse_expanded_setitem(x: np.ndarray, steps: list[tuple], v: Any) -> None:
    """torch's check for ``x[index] = v`` into an x whose elements share memory (expand): a
    basic index is written, as torch does, through the view it selects, which must not share
    memory itself, unless v is its very data (``x[...] = x`` changes nothing). A 0-d v of
    another shape is written by fill_, which always checks (fuzz seed 7792219)."""
    if _basic(steps):
        dst = x[steps[0]]
        if not overlaps(dst) or isinstance(v, TensorBase) and v._data.ndim and same_data(
                dst, v._data if v._data.shape == dst.shape else expand_value(v._data, dst.shape)):
            return
    raise RuntimeError(OVERLAP)


def _setitem_shape_error(x: Any, steps: list[tuple], value: Any) -> RuntimeError:
    """torch's message for ``x[index] = value`` with a value that does not broadcast to what
    the index selects: a basic index writes through a view, so it is expand()'s message."""
    vshape = tuple(value.shape) if isinstance(value, TensorBase) else np.shape(value)
    target = x._data
    for step in steps:
        target = target[step]
    if _basic(steps):
        try:  # (leading size-1 dims of the value are dropped first, as setitem does)
            x._make(np.empty(_without_leading_ones(tuple(vshape)), x._data.dtype)).expand(
                target.shape)
        except RuntimeError as e:
            return e
    return RuntimeError(f"shape mismatch: value tensor of shape {list(vshape)} cannot be "
                        f"broadcast to indexing result of shape {list(target.shape)}")


def _refuse_setitem_overlap(x: np.ndarray, steps: list[tuple], v: Any) -> None:
    """torch's memory-overlap checks for ``x[index] = v`` (plan_index's steps; ``v`` before
    its leading size-1 dims are dropped). A basic index copies v into the view it selects
    (copy_: partial overlap refused), after dropping v's leading size-1 dims and broadcasting
    if the shapes differ, or fills the view from a 0-d v (no check); an advanced one is
    index_put_ into the view its basic part selects (any overlap of value or index tensors
    refused), unless it is a single boolean mask with a one-element value, which torch turns
    into masked_fill_ (no check)."""
    *pre, last = steps
    for step in pre:
        x = x[step]
    src = v._data if isinstance(v, TensorBase) else None
    if not has_advanced(last):
        if src is None or src.ndim == 0:
            return
        dst = x[last]
        if type(dst) is not np.ndarray:  # integers only: NumPy gives a scalar
            dst = x[last + (Ellipsis,)]
        if src.shape != dst.shape:
            src = src.reshape(_without_leading_ones(src.shape))
            if src.ndim == 0 and dst.size != 1:
                return  # broadcast from one element: not dense, torch does not check
            if src.ndim:  # (a 0-d src keeps its shape: torch's expand of it has strides 0,
                try:      # never dst's layout, so any shared memory is a partial overlap)
                    src = np.broadcast_to(src, dst.shape)
                except ValueError:
                    return  # the write raises the shape error
        refuse_overlap(dst, src)
        return
    arrays = [i for i in last if isinstance(i, np.ndarray)]
    if (src is None or src.size == 1) and len(arrays) == 1 and arrays[0].dtype == np.bool_:
        return
    part: list[Any] = []
    for i in last:  # an index array's dims become whole slices (a 0-d mask, a new dim)
        if isinstance(i, np.ndarray) and i.dtype == np.bool_:
            part.extend([slice(None)] * i.ndim if i.ndim else [None])
        elif isinstance(i, np.ndarray):
            part.append(slice(None))
        else:
            part.append(None if isinstance(i, np.bool_) else i)
    dst = x[tuple(part)]
    for a in [src, *arrays]:
        refuse_overlap(dst, a, disjoint=True)


class IndexMixin(TensorBase):
    """Indexing, gathering, scattering and selecting."""

    def __getitem__(self, index: Any) -> Any:
        steps = plan_index(_np_index(index), self._data.shape)
        out = self
        try:
            for step in steps:
                out = GetItem.apply(out, step)
        except IndexError as e:
            raise _index_error(e) from None
        return out

    def gather(self, dim: _int, index: Any) -> Any:
        """out[i][j] = self[index[i][j]][j] for dim 0 (and so on for other dims); index may be
        smaller than self. A 0-d self is a 1-element vector here."""
        idx = _index_array(index, "gather")
        if idx.size == 0 and idx.ndim != self._data.ndim:  # torch skips the checks then
            return self.reshape(-1).narrow(0, 0, 0).reshape(idx.shape)
        if self._data.ndim == 0:
            wrap_dim(dim, 0)
            if idx.ndim > 1:
                raise RuntimeError("Index tensor must have the same number of dimensions as "
                                   "input tensor")
            return self.reshape(1).gather(0, self._make(idx.reshape(-1))).reshape(idx.shape)
        d = wrap_dim(dim, self._data.ndim)
        if idx.ndim == 0 and self._data.ndim == 1:  # a 0-d index is one element (torch's
            return self.gather(d, self._make(idx.reshape(1))).reshape(())  # nonempty dims)
        if idx.ndim != self._data.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as input "
                               "tensor")
        _check_index(idx, self._data.shape, d, "self")
        return Gather.apply(self, d, idx)

    def take_along_dim(self, indices: Any, dim: _int | None = None) -> Any:
        """gather along ``dim`` after broadcasting self and indices on the other dims (or, for
        dim None, on the flattened tensors)."""
        idx = _index_array(indices, "take_along_dim")
        if dim is None:
            return self.reshape(-1).gather(0, self._make(idx.reshape(-1)))
        if idx.ndim != self._data.ndim:
            raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                               f"number of dimensions, but got {self._data.ndim} dimensions for "
                               f"input, and {idx.ndim} dimensions for indices")
        if self._data.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d]
        if idx.size and (idx.min() < -n or idx.max() >= n):  # torch reads out of bounds
            bad = idx.max() if idx.max() >= n else idx.min()
            raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {n}")
        idx = np.where(idx < 0, idx + n, idx)  # negative indices count from the end
        want = list(self._data.shape)
        want[d] = idx.shape[d]
        shape = np.broadcast_shapes(tuple(want), idx.shape)
        mine = shape[:d] + (self._data.shape[d],) + shape[d + 1:]
        return self.expand(mine).gather(d, self._make(np.broadcast_to(idx, shape)))

    def take(self, index: Any) -> Any:
        """The elements at ``index`` of the flattened tensor (negative ones count from the end),
        in index's shape."""
        idx = _index_array(index, "take")
        n = self._data.size
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx.max() if idx.max() >= n else idx.min()
            raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                             f"elements.")
        return self.reshape(-1)[self._make(idx)]

    def put(self, index: Any, source: Any, accumulate: _bool = False) -> Any:
        """A copy of self with the flattened elements at ``index`` set to (or, if
        ``accumulate``, increased by) the elements of source, in order."""
        idx = _index_array(index, "put").reshape(-1)
        src = self._operand(source, self.dtype)
        if idx.size != src.numel():
            raise IndexError(f"put_(): Expected source and index to have the same number of "
                               f"elements, but got source.numel() = {src.numel()}, "
                               f"index.numel() = {idx.size}")
        n = self._data.size
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx.max() if idx.max() >= n else idx.min()
            raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                             f"elements.")
        flat, where, values = self.reshape(-1), (idx,), src.reshape(-1).to(self.dtype)
        if accumulate:
            out = flat + IndexAddZeros.apply(values, (n,), where)
        else:
            out = IndexPut.apply(flat, where, values)
        return out.reshape(self.shape)

    def put_(self, index: Any, source: Any, accumulate: _bool = False) -> Any:
        return self._inplace(lambda: self.put(index, source, accumulate), arg=source,
                             reads=(source, index), disjoint=True)

    def index_put(self, indices: Any, values: Any, accumulate: _bool = False) -> Any:
        """A copy of self with ``self[indices] = values`` (or ``+=``, with repeated indices
        adding up, if ``accumulate``); indices is a tuple of index tensors."""
        if not isinstance(indices, tuple | list):
            raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not "
                            f"{type(indices).__name__}")
        index = _np_index(tuple(slice(None) if i is None else i for i in indices))
        steps = plan_index(index, self._data.shape)
        v = self._operand(values, self.dtype)
        if not accumulate:
            return IndexPut.apply(self, steps, v)
        if len(steps) > 1:  # integers before advanced indices: make them advanced too
            index = tuple(np.asarray(i) if isinstance(i, int | np.integer) else i for i in index)
        target = np.broadcast_to(np.empty((), self._data.dtype), self._data.shape)[index].shape
        v = v.to(self.dtype) if isinstance(v, TensorBase) else self._make(
            np.asarray(v, self._data.dtype))
        try:
            v = v.expand(target)
        except RuntimeError:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(v.shape)} cannot "
                               f"be broadcast to indexing result of shape "
                               f"{list(target)}") from None
        return self + IndexAddZeros.apply(v, self._data.shape, index)

    def index_put_(self, indices: Any, values: Any, accumulate: _bool = False) -> Any:
        return self._inplace(lambda: self.index_put(indices, values, accumulate), arg=values,
                             reads=(values, *indices), disjoint=True)

    def scatter(self, dim: _int, index: Any, src: Any = None, value: Any = None,
                reduce: str | None = None) -> Any:
        """A copy of self with self[index[i][j]][j] = src[i][j] for dim 0 (and so on); index
        may be smaller than self and src. ``reduce='add'`` or ``'multiply'`` combines instead."""
        src = src if src is not None else value
        if reduce is not None:
            if reduce not in ("add", "multiply"):
                raise RuntimeError(f"reduce argument must be either add or multiply. Got "
                                   f"{reduce}")
            if not isinstance(src, TensorBase):
                idx = _index_array(index, "scatter")
                src = self._make(np.full(idx.shape, src, self._data.dtype))
            return self.scatter_reduce(dim, index, src, "sum" if reduce == "add" else "prod")
        idx = _index_array(index, "scatter")
        if idx.size == 0 and idx.ndim != self._data.ndim:  # torch skips the checks then
            return self.clone()
        if self._data.ndim == 0:
            wrap_dim(dim, 0)
            s = src.reshape(-1) if isinstance(src, TensorBase) else src
            return self.reshape(1).scatter(0, self._make(idx.reshape(-1)), s).reshape(())
        d = wrap_dim(dim, self._data.ndim)
        idx, src = _nonempty_dims(self, idx, src)
        if isinstance(src, TensorBase):
            _check_scatter(idx, self, d, src)
            return Scatter.apply(self, d, idx, src.to(self.dtype))
        _check_scatter(idx, self, d, None)
        return Scatter.apply(self, d, idx, raw(self._operand(src)))

    def scatter_add(self, dim: _int, index: Any, src: Any) -> Any:
        """A copy of self with src[i][j] added at self[index[i][j]][j] (repeats accumulate)."""
        idx = _index_array(index, "scatter_add")
        if idx.size == 0 and idx.ndim != self._data.ndim:
            return self.clone()
        if self._data.ndim == 0:
            wrap_dim(dim, 0)
            return self.reshape(1).scatter_add(0, self._make(idx.reshape(-1)),
                                               src.reshape(-1)).reshape(())
        d = wrap_dim(dim, self._data.ndim)
        idx, src = _nonempty_dims(self, idx, src)
        _check_scatter(idx, self, d, src)
        return ScatterAdd.apply(self, d, idx, src.to(self.dtype))

    def scatter_reduce(self, dim: _int, index: Any, src: Any, reduce: str, *,
                       include_self: _bool = True) -> Any:
        """A copy of self with each src[i][j] reduced into self[index[i][j]][j] (dim 0; and so
        on) by sum, prod, mean, amax or amin, with self's own value unless ``include_self`` is
        False."""
        if reduce not in _SCATTER_REDUCTIONS:
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, "
                               f"got {reduce}")
        idx = _index_array(index, "scatter_reduce")
        if not isinstance(src, TensorBase) or src._data.dtype != self._data.dtype:
            raise RuntimeError("scatter_reduce(): Expected self.dtype to be equal to src.dtype")
        if idx.size == 0 and idx.ndim != self._data.ndim:
            return self.clone()
        if self._data.ndim == 0:
            wrap_dim(dim, 0)
            return _unviewed(_unviewed(self.reshape(1)).scatter_reduce(
                0, self._make(idx.reshape(-1)), src.reshape(-1), reduce,
                include_self=include_self).reshape(()))
        d = wrap_dim(dim, self._data.ndim)
        idx, src = _nonempty_dims(self, idx, src)
        _check_scatter(idx, self, d, src)
        return ScatterReduce.apply(self, d, idx, src, reduce, include_self)

    def scatter_(self, dim: _int, index: Any, src: Any = None, value: Any = None,
                 reduce: str | None = None) -> Any:
        return self._inplace(lambda: self.scatter(dim, index, src, value, reduce), arg=src,
                             reads=(src, index), disjoint=True)

    def scatter_add_(self, dim: _int, index: Any, src: Any) -> Any:
        return self._inplace(lambda: self.scatter_add(dim, index, src), arg=src,
                             reads=(src, index), disjoint=True)

    def scatter_reduce_(self, dim: _int, index: Any, src: Any, reduce: str, *,
                        include_self: _bool = True) -> Any:
        return self._inplace(lambda: self.scatter_reduce(dim, index, src, reduce,
                                                         include_self=include_self), arg=src,
                             reads=(src, index), disjoint=True)

    def index_select(self, dim: _int, index: Any) -> Any:
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "index_select")
        if idx.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        n = self._data.shape[d] if self._data.ndim else 1
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError("index out of range in self")
        if self._data.ndim == 0:
            if idx.size != 1:
                raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                                   f"{idx.size} value(s)")
            return self.clone()
        return self[(slice(None),) * d + (idx.reshape(-1),)]

    def _index_args(self, name: str, dim: _int, index: Any, source: Any) -> tuple[Any, ...]:
        """The checked arguments of index_add/copy/reduce: (dim, flat index, source), for a
        0-d self those of its 1-element vector."""
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, name).reshape(-1)
        shp, sshp = self._data.shape, tuple(source.shape)
        if not shp and not sshp:
            shp, sshp, source = (1,), (1,), source.reshape(1)
        if name == "index_copy" and len(shp) == 1 and not sshp:  # a scalar source, as torch's
            if idx.size != 1:
                raise IndexError(f"index_copy_(): When source is scalar, index should have one "
                                 f"element (got {idx.size})")
            sshp, source = (1,), source.reshape(1)
        if len(sshp) != len(shp) or any(a != b for k, (a, b) in enumerate(zip(shp, sshp))
                                        if k != d):
            raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                               f"specified dimension. Got self.shape = {list(self.shape)} "
                               f"source.shape = {list(source.shape)}")
        if idx.size != sshp[d]:
            raise RuntimeError(f"{name}_(): Number of indices ({idx.size}) should be equal to "
                               f"source.size(dim): ({sshp[d]}), for dim: {d}")
        check_bounds(idx, shp[d], d)
        return d, idx, source

    def index_add(self, dim: _int, index: Any, source: Any, alpha: Any = 1) -> Any:
        """A copy of self with source's slices along dim added at ``index`` (repeats add up)."""
        d, idx, source = self._index_args("index_add", dim, index, source)
        src = source * alpha if alpha != 1 else source
        steps = (slice(None),) * d + (idx,)
        x = self if self._data.ndim else self.reshape(1)
        return (x + IndexAddZeros.apply(src.to(self.dtype), x.shape, steps)).reshape(self.shape)

    def index_add_(self, dim: _int, index: Any, source: Any, alpha: Any = 1) -> Any:
        return self._inplace(lambda: self.index_add(dim, index, source, alpha), arg=source,
                             reads=(source, index), disjoint=True)

    def index_copy(self, dim: _int, index: Any, source: Any) -> Any:
        """A copy of self with its slices along dim at ``index`` replaced by source's."""
        d, idx, source = self._index_args("index_copy", dim, index, source)
        x = self if self._data.ndim else self.reshape(1)
        steps = (slice(None),) * d + (idx,)
        return IndexPut.apply(x, steps, source.to(self.dtype)).reshape(self.shape)

    def index_copy_(self, dim: _int, index: Any, source: Any) -> Any:
        return self._inplace(lambda: self.index_copy(dim, index, source), arg=source,
                             reads=(source, index), disjoint=True)

    def index_reduce(self, dim: _int, index: Any, source: Any, reduce: str, *,
                     include_self: _bool = True) -> Any:
        """A copy of self with source's slices along dim reduced (prod, mean, amax, amin) into
        the slices at ``index``: scatter_reduce with the index spread over source's shape."""
        if reduce not in ("prod", "mean", "amax", "amin"):
            raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                               f"amin but got {reduce}.")
        d, idx, source = self._index_args("index_reduce", dim, index, source)
        x = self if self._data.ndim else _unviewed(self.reshape(1))
        spread = np.broadcast_to(idx.reshape((-1,) + (1,) * (x.ndim - d - 1)), source.shape)
        out = x.scatter_reduce(d, self._make(spread), source, reduce, include_self=include_self)
        return out if self._data.ndim else _unviewed(out.reshape(()))

    def index_reduce_(self, dim: _int, index: Any, source: Any, reduce: str, *,
                      include_self: _bool = True) -> Any:
        return self._inplace(lambda: self.index_reduce(dim, index, source, reduce,
                                                       include_self=include_self), arg=source,
                             reads=(source, index), disjoint=True)

    def index_fill(self, dim: _int, index: Any, value: Any) -> Any:
        """A copy of self with its slices along dim at ``index`` set to ``value``."""
        d = wrap_dim(dim, self._data.ndim)
        # each slice once: a tensor value's gradient sums the filled slices, not the indices
        idx = np.unique(_index_array(index, "index_fill").reshape(-1))
        x = self if self._data.ndim else self.reshape(1)
        check_bounds(idx, x._data.shape[d], d)
        steps = (slice(None),) * d + (idx,)
        return IndexPut.apply(x, steps, self._operand(value, self.dtype)).reshape(self.shape)

    def index_fill_(self, dim: _int, index: Any, value: Any) -> Any:
        return self._inplace(lambda: self.index_fill(dim, index, value), arg=value, reads=())

    def select(self, dim: _int, index: _int) -> Any:
        """The slice at ``index`` along dim, without that dim (a view): x[:, index] for dim 1."""
        if self._data.ndim == 0:
            raise IndexError("select() cannot be applied to a 0-dim tensor.")
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d]
        if not -n <= index < n:
            raise IndexError(f"select(): index {index} out of range for tensor of size "
                             f"{list(self.shape)} at dimension {d}")
        return self[(slice(None),) * d + (index,)]

    def select_scatter(self, src: Any, dim: _int, index: _int) -> Any:
        """A copy of self with the slice ``select(dim, index)`` replaced by src."""
        return self._slice_put(src, dim, self.select(dim, index), index)

    def slice_scatter(self, src: Any, dim: _int = 0, start: _int | None = None,
                      end: _int | None = None, step: _int = 1) -> Any:
        """A copy of self with the slice start:end:step along dim replaced by src."""
        d = wrap_dim(dim, self._data.ndim)
        part = slice(start, end, step)
        return self._slice_put(src, d, self[(slice(None),) * d + (part,)], part)

    def _slice_put(self, src: Any, dim: _int, view: Any, part: Any) -> Any:
        if tuple(src.shape) != tuple(view.shape):
            raise RuntimeError(f"expected src to have a size equal to the slice of self. src "
                               f"size = {list(src.shape)}, slice size = {list(view.shape)}")
        d = wrap_dim(dim, self._data.ndim)
        return IndexPut.apply(self, (slice(None),) * d + (part,), src.to(self.dtype))

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
        """A copy of self (broadcast with mask) with the elements where mask is True taken, in
        order, from the start of the flattened source."""
        if mask._data.dtype != np.bool_:
            raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                               f"dtype {mask.dtype}")
        try:
            shape = np.broadcast_shapes(self._data.shape, mask._data.shape)
        except ValueError:
            raise broadcast_error(self._data.shape, mask._data.shape) from None
        m = np.broadcast_to(mask._data, shape)
        n = int(m.sum())
        if n > source.numel():
            raise RuntimeError("masked_scatter: expected source to have at least as many "
                               "elements as the ones in mask")
        x = self.expand(shape) if shape != self._data.shape else self
        return IndexPut.apply(x, (m,), source.reshape(-1)[:n].to(self.dtype))

    def masked_scatter_(self, mask: Any, source: Any) -> Any:
        return self._inplace(lambda: self.masked_scatter(mask, source), arg=source, reads=())

    def nonzero(self, as_tuple: _bool = False) -> Any:
        """The indices of the nonzero elements: one row per element (N, ndim), or one tensor
        per dim if ``as_tuple`` (a 0-d tensor counts as 1-element vector there)."""
        x = self._data
        nz = np.nonzero(x.reshape(1) if x.ndim == 0 else x)
        if as_tuple:
            return tuple(self._make(i.astype(np.int64)) for i in nz)
        if x.ndim == 0:
            return self._make(np.zeros((nz[0].size, 0), np.int64))
        return self._make(np.stack(nz, axis=1).astype(np.int64))

    def argwhere(self) -> Any:
        """The indices of the nonzero elements, one row each: nonzero()."""
        return self.nonzero()

    def nonzero_static(self, *, size: _int, fill_value: _int = -1) -> Any:
        """nonzero() cut or padded (with ``fill_value``) to exactly ``size`` rows."""
        if size < 0:
            raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, but got "
                               f"size: {size}")
        found = self.nonzero()._data[:size]
        out = np.full((size, found.shape[1]), fill_value, np.int64)
        out[:found.shape[0]] = found
        return self._make(out)

    def __setitem__(self, index: Any, value: Any) -> None:
        steps = plan_index(_np_index(index), self._data.shape)
        v = self._operand(value, self.dtype)
        try:
            _refuse_setitem_overlap(self._data, steps, v)
            shared = overlaps(self._data)  # an expand()ed self
            if shared:
                _refuse_expanded_setitem(self._data, steps, v)
            v = _drop_leading_ones(v)
            if grad_state.enabled and (self.requires_grad or isinstance(v, TensorBase)
                                        and v.requires_grad) or is_dual(self) or is_dual(v):
                if _whole(index, self._data.shape):  # torch writes into self, not a view
                    if isinstance(v, TensorBase):  # (expanded: x[...] = x.mT of an (n, 1) x)
                        self.copy_(v.expand(self._data.shape))
                    else:
                        self.fill_(v)
                elif shared:  # recorded on the view, whose base's history is rebased
                    dst = self[index]  # (v expanded first, as torch's setitem does)
                    dst.copy_(v.expand(dst.shape) if isinstance(v, TensorBase) else v)
                else:
                    self._inplace(lambda: IndexPut.apply(self, steps, v), arg=v, reads=())
            else:  # nothing to record: write straight into the array
                will_write(self)
                put(self._data, steps, raw(v))
                self._bump_version()
        except IndexError as e:
            raise _index_error(e) from None
        except ValueError:  # NumPy's broadcasting error for a value of the wrong shape
            raise _setitem_shape_error(self, steps, value) from None
