"""Pooling primitives for 1, 2 or 3 spatial dims: max and average pooling over sliding windows,
max pooling over given windows (adaptive, fractional: by indices), and max unpooling.

Pooling loops over the kernel offsets, each a strided view of the (padded) input: a max or a
sum of K arrays of the output's size, never a (..., K) copy of the windows. 2-D max pooling
over tiling windows (kernel == stride, the usual 2x2) has a faster path; see _Argmax.

Each gradient primitive also takes the pooled input ``x``, as PyTorch's pooling backward ops
do: the gradient does not depend on x's values (its derivative in x is zero), but under
``create_graph`` it stays in the graph, so that gradient-penalty and Hessian code gets
PyTorch's zeros instead of "does not require grad".

Speed notes, measured: np.where and masked copyto branch per element (about 20x slower than
multiplying by a mask on real data).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ndgrad.ops.base import Primitive
from ndgrad.ops.conv import channels_first, offsets, window_slices
from ndgrad.ops.elementwise import _masked


class PoolParams(NamedTuple):
    """Geometry of pooling over d spatial dims: kernel, stride, symmetric padding, dilation,
    output size (tuples of d)."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    out: tuple[int, ...]


def pool_out_size(size: int, k: int, s: int, pad: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size; in ceil_mode the last window must start inside the input
    or its left padding."""
    span = size + 2 * pad - d * (k - 1) - 1
    n = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (n - 1) * s >= size + pad:
        n -= 1
    return n


def _spatial(slices: tuple[slice, ...]) -> tuple[slice, ...]:
    return (slice(None), slice(None)) + slices


def _windows(xp: np.ndarray, p: PoolParams) -> list[np.ndarray]:
    """For each kernel offset (row-major), the view (N, C, *out) of a padded input it reads."""
    return [xp[_spatial(w)] for w in window_slices(p.kernel, p.stride, p.dilation, p.out)]


def _reach(p: PoolParams) -> tuple[int, ...]:
    """How far the windows reach along each padded spatial dim."""
    return tuple((o - 1) * s + d * (k - 1) + 1
                 for o, s, d, k in zip(p.out, p.stride, p.dilation, p.kernel))


def _padded(x: np.ndarray, p: PoolParams, value: float) -> np.ndarray:
    """x padded by p.padding (and at the end as far as the last window reaches), as an
    (N, C, *Sp) view that keeps x's memory layout."""
    if not any(p.padding) and all(r <= s for r, s in zip(_reach(p), x.shape[2:])):
        return x
    return channels_first(x, tuple((q, q) for q in p.padding), _reach(p), value).swapaxes(0, 1)


def _zeros_padded(x_shape, p: PoolParams, dtype) -> np.ndarray:
    n, c = x_shape[:2]
    size = [max(s + 2 * q, r) for s, q, r in zip(x_shape[2:], p.padding, _reach(p))]
    return np.zeros((c, n, *size), dtype=dtype).swapaxes(0, 1)  # channels-first memory


def _unpad(xp: np.ndarray, x_shape, p: PoolParams) -> np.ndarray:
    return xp[_spatial(tuple(slice(q, q + s) for q, s in zip(p.padding, x_shape[2:])))]


def _layout(x: np.ndarray) -> tuple[int, ...]:
    """The axis order of x's memory: (1, 0, 2, ...) when channels come first (a conv output),
    else (0, 1, 2, ...). Pooling computes in memory order and hands back the same layout."""
    rest = tuple(range(2, x.ndim))
    if x.shape[0] > 1 and x.shape[1] > 1 and abs(x.strides[1]) > abs(x.strides[0]):
        return (1, 0) + rest
    return (0, 1) + rest


def _first_max(leaves: list[np.ndarray], owned: bool) -> tuple[np.ndarray, np.ndarray]:
    """Max over window elements given in row-major order, and the index of its FIRST
    occurrence: a pairwise tournament where the later element wins only if strictly greater.
    ``owned``: the leaves are scratch arrays that may be overwritten. Indices are picked by
    arithmetic (a + (b - a) * later), not np.where, which branches per element and is ~20x
    slower on the random masks of real data. In the first round b = a + 1, so the index is
    a + later: for a window of two (2x2 pooling's stages) the comparison's bytes are the index."""
    idx = np.int8 if len(leaves) <= 127 else np.int16
    level: list[tuple[np.ndarray, Any, bool]] = [(v, q, owned) for q, v in enumerate(leaves)]
    while len(level) > 1:
        nxt: list[tuple[np.ndarray, Any, bool]] = []
        for (ma, pa, own), (mb, pb, _) in zip(level[0::2], level[1::2]):
            later = mb > ma
            if type(pa) is int and type(pb) is int:  # first round: positions pa and pa + 1
                pos = later.view(np.int8) if idx is np.int8 else later.astype(idx)
                if pa:
                    pos += pa
            else:
                pos = (later.view(np.int8) * (pb - pa)).astype(idx, copy=False)
                pos += pa
            nxt.append((np.maximum(ma, mb, out=ma if own else None), pos, True))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    out, pos, own = level[0]
    if not own:
        out = np.copy(out, order="K")
    if np.ndim(pos) == 0:
        pos = np.zeros(out.shape, dtype=idx)
    return out, pos


def _select(g: np.ndarray, mask: np.ndarray, out: np.ndarray, finite: bool) -> None:
    """out = g where mask else 0. Multiplying by the mask is branch-free and fast; with
    infinities in g it would leave 0 * inf = nan elsewhere, so then take the exact way."""
    if finite:
        np.multiply(g, mask, out=out)
    else:
        out[...] = _masked(g, mask)


def _split(g: np.ndarray, pos: np.ndarray, outs: list[np.ndarray], finite: bool) -> None:
    """outs[q] = g where pos == q else 0: route g to the chosen one of len(outs) places. For
    two places pos holds only 0 and 1, so its bytes are the mask for place 1, and place 0 gets
    the rest, g - outs[1] (exact for finite g): two passes instead of four."""
    if len(outs) == 2 and finite and pos.dtype == np.int8:
        np.multiply(g, pos.view(np.bool_), out=outs[1])
        np.subtract(g, outs[1], out=outs[0])
        return
    for q, out in enumerate(outs):
        _select(g, pos == q, out, finite)


class _Argmax:
    """Where each window's first maximum is, and how to route gradients there and back.

    General windows keep ``pos`` (N, C, *out), the row-major offset in the window. 2-D windows
    that tile the input (kernel == stride, no padding) are reduced in two stages, and both
    choices are kept: first across each window row's KW columns, whose j-th elements over the
    whole (contiguous, memory-ordered) input are the single strided sequence flat[j::KW], so
    every NumPy loop runs over the full array instead of rows of OW elements; then across the
    KH rows. The first max of the best row is the row-major first max."""

    def __init__(self, p: PoolParams, x_shape: tuple[int, ...]) -> None:
        self.p, self.x_shape = p, x_shape
        self.pos: np.ndarray | None = None
        self.col: np.ndarray | None = None  # tiles: (M*KH*OW,) column chosen in each row
        self.row: np.ndarray | None = None  # tiles: (M, OW) row chosen in each window
        self.perm: tuple[int, ...] = tuple(range(len(x_shape)))

    @staticmethod
    def tiles(p: PoolParams) -> bool:
        return (len(p.kernel) == 2 and p.kernel == p.stride and not any(p.padding)
                and p.dilation == (1, 1))

    def max_tiles(self, x: np.ndarray) -> np.ndarray:
        (kh, kw), (oh, ow) = self.p.kernel, self.p.out
        self.perm = _layout(x)
        xm = x.transpose(self.perm)[:, :, :oh * kh, :ow * kw]  # memory order, tiled part
        flat = np.ascontiguousarray(xm).reshape(-1)
        cm, self.col = _first_max([flat[j::kw] for j in range(kw)], False)  # (M*KH*OW,)
        rows = cm.reshape(-1, kh, ow)
        out, self.row = _first_max([rows[:, i] for i in range(kh)], True)  # (M, OW)
        a, b = xm.shape[:2]
        return out.reshape(a, b, oh, ow).transpose(self.perm)

    def max_windows(self, x: np.ndarray) -> np.ndarray:
        xp = _padded(x, self.p, -np.inf)
        out, self.pos = _first_max(_windows(xp, self.p), False)
        return out

    def positions(self) -> np.ndarray:
        """(N, C, *out) offset of the chosen element in each window (row-major)."""
        if self.pos is None:
            assert self.col is not None and self.row is not None
            (kh, kw), (oh, ow) = self.p.kernel, self.p.out
            col = self.col.reshape(-1, kh, ow)
            chosen = np.take_along_axis(col, self.row[:, None, :].astype(np.intp), 1)[:, 0]
            pos = self.row.astype(np.int16) * kw + chosen
            mshape = tuple(self.x_shape[i] for i in self.perm[:2]) + (oh, ow)
            self.pos = pos.reshape(mshape).transpose(self.perm)
        return self.pos

    def route(self, grad: np.ndarray) -> np.ndarray:
        """Each output's gradient to its window's chosen input; zeros elsewhere."""
        p, finite = self.p, bool(np.isfinite(grad).all())
        if self.col is None:
            pos = self.positions()
            dxp = _zeros_padded(self.x_shape, p, grad.dtype)
            sel = np.empty(grad.shape, dtype=grad.dtype)
            for k, v in enumerate(_windows(dxp, p)):
                _select(grad, pos == k, sel, finite)
                v += sel  # windows may overlap
            return _unpad(dxp, self.x_shape, p)
        assert self.row is not None
        (kh, kw), (oh, ow) = p.kernel, p.out
        g = grad.transpose(self.perm).reshape(-1, ow)  # (M, OW) in memory order
        g_rows = np.empty((g.shape[0], kh, ow), dtype=grad.dtype)
        _split(g, self.row, [g_rows[:, i] for i in range(kh)], finite)
        g_rows = g_rows.reshape(-1)
        mshape = tuple(self.x_shape[i] for i in self.perm)
        tiled = (oh * kh, ow * kw)
        dx = np.empty(mshape[:2] + tiled, dtype=grad.dtype)
        flat = dx.reshape(-1)
        _split(g_rows, self.col, [flat[j::kw] for j in range(kw)], finite)
        if tiled != tuple(mshape[2:]):  # rows/cols no window covers get zero gradient
            full = np.zeros(mshape, dtype=grad.dtype)
            full[:, :, :tiled[0], :tiled[1]] = dx
            dx = full
        return dx.transpose(self.perm)

    def gather(self, g: np.ndarray) -> np.ndarray:
        """Adjoint of route: read the x-shaped g at each window's chosen input."""
        pos = self.positions()
        gp = _padded(g, self.p, 0.0)
        out = np.zeros(pos.shape, dtype=g.dtype)
        finite = bool(np.isfinite(g).all())
        sel = np.empty(pos.shape, dtype=g.dtype)
        for k, v in enumerate(_windows(gp, self.p)):
            _select(v, pos == k, sel, finite)
            out += sel
        return out


def _zeros_of(shape: tuple[int, ...], dtype: Any, needed: bool) -> np.ndarray | None:
    """The zero gradient that a pooling gradient passes to the pooled input (see the module
    docstring), when it is asked for."""
    return np.zeros(shape, dtype) if needed else None


class MaxPool(Primitive):
    """Max over each window. The gradient goes to the FIRST maximum of a window (row-major), as
    in PyTorch: on blank image regions whole windows tie, and spreading the gradient over every
    tied input would give the conv below a different gradient than PyTorch's."""

    @staticmethod
    def forward(ctx: Any, x: Any, p: Any, return_indices: Any) -> Any:
        am = _Argmax(p, x.shape)
        out = am.max_tiles(x) if _Argmax.tiles(p) else am.max_windows(x)
        out = np.ascontiguousarray(out)  # the tournament leaves it in a strided view
        ctx.am = am
        ctx.save_for_backward(x)
        if return_indices:
            ctx.mark_non_differentiable(idx := flat_indices(am.positions(), x.shape, p))
            return out, idx
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any, *_: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return MaxPoolGrad.apply(grad, x, ctx.am), None, None


def flat_indices(pos: np.ndarray, x_shape, p: PoolParams) -> np.ndarray:
    """Window positions -> PyTorch's indices: the flat offset of the chosen element in each
    (unpadded) input plane or volume, e.g. h * W + w in 2-D."""
    pos = pos.astype(np.int64)
    d = len(p.kernel)
    index = np.zeros(pos.shape, dtype=np.int64)
    for i in range(d):
        within = pos // math.prod(p.kernel[i + 1:]) % p.kernel[i]  # offset along dim i
        start = (np.arange(p.out[i]) * p.stride[i] - p.padding[i]).reshape(
            (-1,) + (1,) * (d - 1 - i))
        index = index * x_shape[2 + i] + start + within * p.dilation[i]
    return np.ascontiguousarray(index)


class MaxPoolGrad(Primitive):
    """Send each output's gradient to its window's first maximum: (N, C, *out) -> x's shape.
    ``x`` is the pooled input (or None), an input only to stay in the graph."""

    @staticmethod
    def forward(ctx: Any, grad: Any, x: Any, am: Any) -> Any:
        ctx.am = am
        return am.route(grad)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        zeros = _zeros_of(ctx.am.x_shape, grad.dtype, ctx.needs_input_grad[1])
        return MaxPoolGather.apply(grad, ctx.am), zeros, None


class MaxPoolGather(Primitive):
    """Adjoint of MaxPoolGrad: read x-shaped values at each window's chosen position."""

    @staticmethod
    def forward(ctx: Any, g: Any, am: Any) -> Any:
        ctx.am = am
        return am.gather(g)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return MaxPoolGrad.apply(grad, None, ctx.am), None


class AvgPool(Primitive):
    """Sum over each window times ``scale`` (1/divisor per output position, (*out))."""

    @staticmethod
    def forward(ctx: Any, x: Any, p: Any, scale: Any) -> Any:
        ctx.p, ctx.scale = p, scale
        ctx.save_for_backward(x)
        out = None
        for v in _windows(_padded(x, p, 0.0), p):
            out = np.copy(v, order="C") if out is None else np.add(out, v, out=out)
        out *= scale
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return AvgPoolGrad.apply(grad, x, tuple(x.shape), ctx.p, ctx.scale), None, None


class AvgPoolGrad(Primitive):
    """Adjoint of AvgPool: spread grad * scale over each window. ``x`` is the pooled input (or
    None), an input only to stay in the graph."""

    @staticmethod
    def forward(ctx: Any, grad: Any, x: Any, x_shape: Any, p: Any, scale: Any) -> Any:
        ctx.p, ctx.scale, ctx.x_shape = p, scale, x_shape
        g = grad * scale
        dxp = _zeros_padded(x_shape, p, grad.dtype)
        for v in _windows(dxp, p):
            v += g
        return _unpad(dxp, x_shape, p)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        zeros = _zeros_of(ctx.x_shape, grad.dtype, ctx.needs_input_grad[1])
        return AvgPool.apply(grad, ctx.p, ctx.scale), zeros, None, None, None


def avg_pool_scale(size: tuple[int, ...], p: PoolParams, count_include_pad: bool,
                   divisor_override: int | None, dtype) -> np.ndarray:
    """1/divisor for each output position, as PyTorch counts it: windows are clipped to the
    padded input (count_include_pad) or to the input itself."""
    if divisor_override:
        return np.asarray(1.0 / divisor_override, dtype=dtype)
    scale = np.ones((), dtype=np.float64)
    for s, k, st, q, o in zip(size, p.kernel, p.stride, p.padding, p.out):  # separable
        start = np.arange(o) * st - q
        end = np.minimum(start + k, s + q)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, s)
        scale = scale[..., None] * (1.0 / (end - start))
    return scale.astype(dtype)


# -- max pooling over given windows, by index ------------------------------------------------
def scatter_flat(g: np.ndarray, idx: np.ndarray, size: int) -> np.ndarray:
    """(N, C, *out) values added at flat indices of each (N, C) plane of ``size`` elements:
    -> (N, C, size). One bincount over all planes (repeated indices add up)."""
    n, c = g.shape[:2]
    planes = np.arange(n * c).reshape(n, c, *([1] * (g.ndim - 2))) * size
    where = (idx + planes).reshape(-1)
    out = np.bincount(where, weights=g.reshape(-1).astype(np.float64), minlength=n * c * size)
    return out.astype(g.dtype, copy=False).reshape(n, c, size)


def gather_flat(g: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Values of g (N, C, *S) at flat indices idx (N, C, *out) of each plane."""
    n, c = g.shape[:2]
    flat = g.reshape(n, c, math.prod(g.shape[2:]))
    return np.take_along_axis(flat, idx.reshape(n, c, math.prod(idx.shape[2:])), 2).reshape(
        idx.shape)


class MaxByIndex(Primitive):
    """x (N, C, *S) read at flat indices (N, C, *out) of each plane: max pooling whose
    windows' choices were made beforehand (adaptive, fractional), and max_unpool's gradient.
    Its gradient adds grad back at the chosen inputs."""

    @staticmethod
    def forward(ctx: Any, x: Any, idx: Any) -> Any:
        ctx.idx = idx
        ctx.save_for_backward(x)
        return gather_flat(x, idx)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return IndexMaxGrad.apply(grad, x, ctx.idx, tuple(x.shape)), None


class IndexMaxGrad(Primitive):
    """The adjoint of MaxByIndex: grad (N, C, *out) added at each chosen input. ``x`` is the
    pooled input, an input only to stay in the graph."""

    @staticmethod
    def forward(ctx: Any, grad: Any, x: Any, idx: Any, x_shape: Any) -> Any:
        ctx.idx, ctx.x_shape = idx, x_shape
        return scatter_flat(grad, idx, math.prod(x_shape[2:])).reshape(x_shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        zeros = _zeros_of(ctx.x_shape, grad.dtype, ctx.needs_input_grad[1])
        return MaxByIndex.apply(grad, ctx.idx), zeros, None, None


class MaxUnpool(Primitive):
    """Values written at flat indices of zero planes (N, C, *out): max pooling's partial
    inverse. An index repeated keeps the last value written, as PyTorch's CPU kernel; the
    gradient reads each value's place (max_pool's double backward in PyTorch)."""

    @staticmethod
    def forward(ctx: Any, x: Any, idx: Any, out_shape: Any) -> Any:
        ctx.idx, ctx.out_shape = idx, out_shape
        n, c = x.shape[:2]
        out = np.zeros((n, c, math.prod(out_shape[2:])), dtype=x.dtype)
        size = math.prod(x.shape[2:])
        np.put_along_axis(out, idx.reshape(n, c, size), x.reshape(n, c, size), 2)
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return MaxByIndex.apply(grad, ctx.idx), None, None


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows along one dim: [floor(i*size/out), ceil((i+1)*size/out))."""
    i = np.arange(out)
    return (i * size) // out, -(-((i + 1) * size) // out)


def argmax_over_windows(x: np.ndarray, starts: list[np.ndarray], lengths: list[np.ndarray]
                        ) -> np.ndarray:
    """Where the max of x (N, C, *S) is in each window [start, start + length) along each
    spatial dim, as PyTorch's flat indices. ``starts[i]`` and ``lengths[i]`` are (A, B, out_i) with
    A in (1, N), B in (1, C): the same windows for every plane (adaptive pooling) or each
    plane's own (fractional pooling).

    The windows of dim i are read as an (A, B, out_i, kmax_i) index grid, short windows padded
    by repeating their last element, which changes neither the max nor where it first occurs;
    one advanced-indexing copy then holds every window."""
    n, c, *size = x.shape
    d = len(size)
    grids, flat = [], np.zeros((1, 1), dtype=np.int64)
    for i, (st, ln) in enumerate(zip(starts, lengths)):
        kmax = int(ln.max()) if ln.size else 1
        grid = st[..., None] + np.minimum(np.arange(kmax), ln[..., None] - 1)
        shape = [grid.shape[0], grid.shape[1]] + [1] * (2 * d)
        shape[2 + 2 * i:4 + 2 * i] = grid.shape[2:]
        grid = grid.reshape(shape)  # (A, B, 1, 1, ..., out_i, kmax_i, ..., 1, 1)
        grids.append(grid)
        flat = flat * size[i] + grid
    lead = (np.arange(n).reshape((n,) + (1,) * (2 * d + 1)),
            np.arange(c).reshape((1, c) + (1,) * (2 * d)))
    win = x[lead + tuple(grids)]  # (N, C, O1, K1, O2, K2, ...)
    order = (0, 1) + tuple(2 + 2 * i for i in range(d)) + tuple(3 + 2 * i for i in range(d))
    win = win.transpose(order)
    osize, kshape = win.shape[2:2 + d], win.shape[2 + d:]
    win = win.reshape(n, c, *osize, math.prod(kshape))  # (N, C, *out, K1*K2*...)
    flat = np.broadcast_to(flat, (n, c) + flat.shape[2:]).transpose(order).reshape(win.shape)
    pos = win.argmax(-1)[..., None]  # the first max; a nan wins, as in PyTorch
    return np.take_along_axis(flat, pos, -1)[..., 0]


__all__ = ["PoolParams", "MaxPool", "MaxPoolGrad", "MaxPoolGather", "AvgPool", "AvgPoolGrad",
           "MaxByIndex", "IndexMaxGrad", "MaxUnpool", "avg_pool_scale", "pool_out_size",
           "flat_indices", "adaptive_windows", "argmax_over_windows", "offsets"]
