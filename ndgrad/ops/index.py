"""Indexing primitives: ``x[index]`` and ``x[index] = v``, gather and scatter, unfold's windows.

``plan_index`` turns a PyTorch index into steps NumPy can take (basic indexing gives views, as
PyTorch's does; advanced indexing copies). Each primitive's backward is its adjoint: the
gradient of a gather is a scatter-add, of a get-item an add into zeros at the same place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.ops.base import Primitive
from ndgrad.ops.shape import Cat, Pad, Permute


def has_advanced(index: tuple) -> bool:
    return any(isinstance(i, np.ndarray) for i in index)


def check_bounds(idx: np.ndarray, n: int, dim: int) -> None:
    """gather/scatter/index_add take indices in [0, n): negative ones are errors, as in torch."""
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= n:
            raise RuntimeError(f"index {lo if lo < 0 else hi} is out of bounds for dimension "
                               f"{dim} with size {n}")


def _bad_index(i: object) -> IndexError:
    return IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                      f"Variables are valid indices (got {type(i).__name__})")


def plan_index(index: tuple, shape: tuple[int, ...]) -> list[tuple]:
    """Check a NumPy-style index with torch's rules and messages; return the steps to apply.

    torch applies integers (and 0-d integer tensors) before advanced indices, so ``x[1, :, idx]``
    keeps idx's dim where it is, while NumPy would move it to the front. Such an index becomes
    two steps: the integers (a view), then the advanced indices."""
    ndim = len(shape)
    if len(index) <= ndim:  # fast path: in-range ints and forward slices, one dim each
        for n, i in zip(shape, index):
            if type(i) is int:
                if not -n <= i < n:
                    break
            elif type(i) is not slice or not (i.step is None or type(i.step) is int and i.step > 0):
                break
        else:
            return [index]
    items, used, n_int, n_adv = [], 0, 0, 0
    for i in index:
        if isinstance(i, np.ndarray):
            if i.dtype == np.bool_:
                used += i.ndim
                n_adv += i.ndim > 0
            elif i.ndim == 0:
                i = int(i)
                used, n_int = used + 1, n_int + 1
            else:
                used, n_adv = used + 1, n_adv + 1
        elif isinstance(i, bool | np.bool_):
            i, n_adv = np.bool_(i), n_adv + 1  # a new dim of size 1 (True) or 0 (False)
        elif isinstance(i, int | np.integer):
            used, n_int = used + 1, n_int + 1
        elif isinstance(i, slice):
            if i.step is not None:
                if not isinstance(i.step, int | np.integer):
                    raise _bad_index(i.step)
                if i.step == 0:
                    raise ValueError("slice step cannot be zero")
                if i.step < 0:
                    raise ValueError("step must be greater than zero")
            used += 1
        elif i is not None and i is not Ellipsis:
            raise _bad_index(i)
        items.append(i)
    if used > ndim:
        if ndim == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    d = 0  # the dim of x that the next item indexes
    for i in items:
        if i is Ellipsis:
            d += ndim - used
        elif isinstance(i, slice):
            d += 1
        elif isinstance(i, int | np.integer):
            if not -shape[d] <= i < shape[d]:
                raise IndexError(f"index {i} is out of bounds for dimension {d} with size "
                                 f"{shape[d]}")
            d += 1
        elif isinstance(i, np.ndarray) and i.ndim:
            if i.dtype == np.bool_:
                for k, n in enumerate(i.shape):
                    if n != shape[d + k]:
                        raise IndexError(f"The shape of the mask {list(i.shape)} at index {k} "
                                         f"does not match the shape of the indexed tensor "
                                         f"{list(shape)} at index {d + k}")
                d += i.ndim
            else:
                if i.size and not (-shape[d] <= i.min() and i.max() < shape[d]):
                    bad = i.max() if i.max() >= shape[d] else i.min()
                    raise IndexError(f"index {bad} is out of bounds for dimension {d} with size "
                                     f"{shape[d]}")
                d += 1
    if not (n_int and n_adv):
        return [tuple(items)]
    pre: list[Any] = []
    post: list[Any] = []
    for i in items:
        if isinstance(i, np.ndarray) and i.ndim:
            pre.extend([slice(None)] * (i.ndim if i.dtype == np.bool_ else 1))
            post.append(i)
        elif isinstance(i, np.bool_):  # torch: unsqueeze, then index the new dim with [0] or []
            pre.append(None)
            post.append(np.zeros(int(i), np.int64))
        elif isinstance(i, int | np.integer):
            pre.append(i)
        else:
            pre.append(i)
            post.append(i if i is Ellipsis else slice(None))
    return [tuple(pre), tuple(post)]


class GetItem(Primitive):
    """x[index]; the gradient is scattered back into zeros (repeated indices accumulate)."""

    is_view = True

    @staticmethod
    def forward(ctx: Any, x: Any, index: Any) -> Any:
        ctx.shape, ctx.index = x.shape, index
        if has_advanced(index):  # torch's IndexBackward saves the indices: backward frees them
            ctx.save_for_backward(index)
        out = x[index]
        if type(out) is not np.ndarray:  # integers only: NumPy gives a scalar, torch a 0-d view
            out = x[index + (Ellipsis,)] if isinstance(index, tuple) else x[index, ...]
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        ctx.saved_like(grad)  # raises after a backward freed them
        return IndexAddZeros.apply(grad, ctx.shape, ctx.index), None


class Split(Primitive):
    """x's pieces of the given ``sizes`` along ``dim``, as views, under one node (torch's
    SplitBackward): backward joins the pieces' gradients with one concatenate (a piece that got
    none counts as zeros), where a node per piece would make each its own zeros of x's size
    and the engine would then add them up.

    Each piece records as its view step the slice that makes it (``ctx.view_steps``)."""

    is_view = True

    @staticmethod
    def forward(ctx: Any, x: Any, *, sizes: Any, dim: int) -> Any:
        ctx.dim = dim
        lead, start = (slice(None),) * dim, 0
        out: list[Any] = []
        steps: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
        for n in sizes:
            index = lead + (slice(start, start + n),)
            out.append(x[index])
            steps.append((GetItem, (index,), {}))
            start += n
        ctx.view_steps = steps
        return tuple(out)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        return Cat.apply(*grads, dim=ctx.dim)


class IndexAddZeros(Primitive):
    """zeros(shape) with ``grad`` added at ``index``: the adjoint of GetItem."""

    @staticmethod
    def forward(ctx: Any, grad: Any, shape: Any, index: Any) -> Any:
        ctx.index = index
        out = np.zeros(shape, dtype=grad.dtype)
        if has_advanced(index):
            np.add.at(out, index, grad)
        else:
            out[index] = grad
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad[ctx.index], None, None


def put(x: np.ndarray, steps: list[tuple], value) -> None:
    """x[index] = value in place, for plan_index's steps (all but the last give views)."""
    for step in steps[:-1]:
        x = x[step]
    x[steps[-1]] = value


class IndexPut(Primitive):
    """``x`` with ``x[index] = value``, out of place (``x[index] = v`` is built on it).

    ``steps`` is plan_index's list: every step but the last is basic indexing, so indexing a copy
    with them gives a view to write into."""

    @staticmethod
    def forward(ctx: Any, x: Any, steps: Any, value: Any) -> Any:
        steps = steps if isinstance(steps, list) else [steps]  # one index or plan_index's steps
        ctx.vshape = np.shape(value)
        ctx.save_for_backward(steps)  # freed by backward, as torch's IndexPutBackward/CopySlices
        out = x.copy()
        put(out, steps, value)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        steps, = ctx.saved_like(grad)
        gx = IndexPut.apply(grad, steps, 0.0) if ctx.needs_input_grad[0] else None
        gv = None
        if ctx.needs_input_grad[2]:
            gv = grad
            for step in steps:
                gv = GetItem.apply(gv, step)
            extra = len(ctx.vshape) - gv.ndim
            if extra > 0:  # value's leading size-1 dims were dropped when it was written
                gv = gv.reshape((1,) * extra + tuple(gv.shape))
        return gx, None, gv


def _along(index: np.ndarray, dim: int) -> tuple:
    """The full NumPy index that addresses x[..., index[...], ...] along ``dim``."""
    idx: list[Any] = list(np.indices(index.shape, sparse=True))
    idx[dim] = index
    return tuple(idx)


class Gather(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any, index: Any) -> Any:
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, index
        return x[_along(index, dim)]

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return IndexAddZeros.apply(grad, ctx.shape, _along(ctx.index, ctx.dim)), None, None


class ScatterAdd(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any, index: Any, src: Any) -> Any:
        ctx.dim, ctx.index, ctx.src_shape = dim, index, np.shape(src)
        out = x.copy()
        np.add.at(out, _along(index, dim), _src_part(src, index))
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        gsrc = _pad_to(Gather.apply(grad, ctx.dim, ctx.index), ctx.src_shape)
        return grad, None, None, gsrc


class Scatter(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any, index: Any, src: Any) -> Any:
        ctx.dim, ctx.index, ctx.src_shape = dim, index, np.shape(src)
        out = x.copy()
        out[_along(index, dim)] = _src_part(src, index)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        gx = Scatter.apply(grad, ctx.dim, ctx.index, 0.0) if ctx.needs_input_grad[0] else None
        gsrc = None
        if ctx.needs_input_grad[3]:
            gsrc = _pad_to(Gather.apply(grad, ctx.dim, ctx.index), ctx.src_shape)
        return gx, None, None, gsrc


_REDUCE_UFUNCS = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
                  "amin": np.minimum}


def _identity(reduce: str, dtype: np.dtype) -> Any:
    """The value that leaves a reduction unchanged: where include_self=False starts."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype == np.bool_:
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


class ScatterReduce(Primitive):
    """A copy of x with each src[i][j] reduced (sum, prod, mean, amax, amin) into
    x[index[i][j]][j] for dim 0 (and so on), x's own value included unless ``include_self`` is
    False. Gradients are torch's scatter_reduce_backward: for prod, the product of the others
    (exact with zeros); for mean, divided by the count; for amax/amin, shared by the ties."""

    array_backward = False  # written in Tensor ops (gather, scatter_add, masked_fill)

    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any, index: Any, src: Any, reduce: Any,
                include_self: Any) -> Any:
        where, part = _along(index, dim), _src_part(src, index)
        out = x.copy()
        if not include_self:
            out[where] = _identity(reduce, x.dtype)
        _REDUCE_UFUNCS[reduce].at(out, where, part)
        if reduce == "mean":
            count = np.zeros(x.shape, np.int64)
            np.add.at(count, where, 1)
            count += include_self
            count[count == 0] = 1
            out = out / count if x.dtype.kind == "f" else out // count
            out = out.astype(x.dtype, copy=False)
        ctx.args = (dim, index, reduce, include_self, np.shape(src))
        ctx.save_for_backward(x, src, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, src, out = ctx.saved_tensors
        d, index, reduce, include_self, src_shape = ctx.args
        src = src[tuple(slice(0, k) for k in index.shape)]  # the part that was read
        idx = grad._make(index)
        if reduce == "sum":
            g_self, g_src = grad, grad.gather(d, idx)
        elif reduce == "prod":  # products of the others, computed without dividing by a zero
            masked_self = x.masked_fill(x == 0, 1)
            g_self = grad * ScatterReduce.apply(masked_self, d, index, src, "prod",
                                                include_self) / masked_self
            src_zero = src == 0
            zeros_at = grad.new_zeros(x.shape).scatter_add(d, idx, src_zero.to(x.dtype))
            single_zero = src_zero & (zeros_at.gather(d, idx) == 1)
            without = ScatterReduce.apply(x, d, index, src.masked_fill(single_zero, 1), "prod",
                                          include_self)
            g_src = (grad * without).gather(d, idx).where(
                single_zero, (grad * out).gather(d, idx) / src.masked_fill(src_zero, 1))
        elif reduce == "mean":
            count = (grad.new_ones if include_self else grad.new_zeros)(x.shape).scatter_add(
                d, idx, src.new_ones(src.shape))
            count = count.masked_fill(count == 0, 1)
            g_self, g_src = grad / count, grad.gather(d, idx) / count.gather(d, idx)
        else:  # amax, amin: the gradient is shared by every element equal to the result
            value = out.gather(d, idx)
            self_hit, src_hit = x == out, src == value
            ties = self_hit.to(x.dtype).scatter_add(d, idx, src_hit.to(x.dtype))
            share = grad / ties
            g_self, g_src = self_hit * share, src_hit * share.gather(d, idx)
        if not include_self:
            g_self = g_self.scatter(d, idx, 0.0)
        return g_self, None, None, _pad_to(g_src, src_shape), None, None


def _src_part(src, index):
    # torch only reads src[:index.shape[0], :index.shape[1], ...]
    if np.ndim(src) == 0:
        return src
    return src[tuple(slice(0, s) for s in index.shape)]


def _pad_to(g, shape):
    if tuple(g.shape) == tuple(shape):
        return g
    return Pad.apply(g, tuple((0, t - s) for s, t in zip(g.shape, shape, strict=True)), 0.0)


class Unfold(Primitive):
    """Every window of ``size`` elements, ``step`` apart, along ``dim``, as a new last dim: a
    (read-only) view, as torch's, by NumPy's sliding_window_view. Windows overlap when step <
    size: the gradient adds each window's gradient back where the window came from."""

    is_view = True

    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any, size: Any, step: Any) -> Any:
        ctx.shape, ctx.dim, ctx.step = x.shape, dim, step
        if x.ndim == 0:  # torch: a 0-d tensor has one window of size 1
            return x.reshape(1)
        windows = np.lib.stride_tricks.sliding_window_view(x, size, axis=dim)
        return windows[(slice(None),) * dim + (slice(None, None, step),)]

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        if not ctx.shape:
            return grad.reshape(()), None, None, None
        d, nd = ctx.dim, len(ctx.shape)
        n, size = grad.shape[d], grad.shape[-1]
        # (..., n, rest..., size) -> (..., n, size, rest...), then add at x[..., start + k, ...]
        order = tuple(range(d + 1)) + (nd,) + tuple(range(d + 1, nd))
        where = np.arange(n).reshape(n, 1) * ctx.step + np.arange(size)
        g = Permute.apply(grad, order)
        return IndexAddZeros.apply(g, ctx.shape, (slice(None),) * d + (where,)), None, None, None
