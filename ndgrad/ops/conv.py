"""Convolution and pooling primitives, built for speed on NumPy.

Convolution is im2col + matmul (BLAS): the input (N, C, H, W) is read as (C, N, H, W), a strided
view picks every kernel offset, and one copy makes the column matrix (C*KH*KW, N*OH*OW);
``weight (O, C*KH*KW) @ cols``, one product per sample, writes the output contiguous (N, O, OH,
OW), the layout torch's conv and pooling outputs have (users ``.view()`` them).

The three conv primitives are one bilinear map seen from its three sides, so each one's backward
is made of the others and gradients of any order exist (``create_graph=True``):

    Conv2d(x, w)              y = conv(x, w)
    Conv2dGradInput(gy, w)    the adjoint in x: conv_transpose; it is conv_transpose2d's forward
    Conv2dGradWeight(x, gy)   the adjoint in w

Pooling loops over the KH*KW kernel offsets, each a strided view of the (padded) input: a max
or a sum of KH*KW arrays of the output's size, never a (..., KH*KW) copy of the windows. Max
pooling over tiling windows (kernel == stride, the usual 2x2) has a faster path; see _Argmax.

Speed notes, measured: NumPy's per-call overhead is per innermost loop, so work is arranged into
long contiguous or evenly strided runs; np.where and masked copyto branch per element (about 20x
slower than multiplying by a mask on real data); large temporaries are reused (_work) because a
fresh multi-MB array costs a page fault per 4 KB on every training step.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ndgrad.ops.base import Primitive

Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))


class ConvParams(NamedTuple):
    """Geometry of a 2-D convolution; padding may be asymmetric (padding='same')."""

    stride: tuple[int, int]
    pads: Pads
    dilation: tuple[int, int]
    groups: int


def out_size(size: int, k: int, s: int, pad: tuple[int, int], d: int) -> int:
    """Output length of a sliding window: floor((size + pads - d*(k-1) - 1) / s) + 1."""
    return (size + pad[0] + pad[1] - d * (k - 1) - 1) // s + 1


def _offsets(k: int, s: int, d: int, n: int) -> list[slice]:
    """For each kernel offset, the slice of the padded axis that the n windows read."""
    return [slice(i * d, i * d + s * (n - 1) + 1, s) for i in range(k)]


_WORK: dict[tuple, list[np.ndarray]] = {}  # key -> arrays kept for reuse
_WORK_KEYS, _WORK_PER_KEY = 32, 4


def _work(key: tuple, shape: tuple[int, ...], dtype, fill: float | None = None) -> np.ndarray:
    """A scratch array for an op's large temporaries (padded inputs, im2col columns), kept
    between calls: a fresh array of a few MB costs a page fault per 4 KB page on every step,
    more than the copy that fills it.

    An array is handed out again only when nothing else refers to it: values saved for
    backward, views of it and users' references all count, so one still in use is never
    overwritten. With ``fill``, a new array starts filled with it; callers that only ever write
    the interior (the same for one key: the key must determine it) find the border as it was."""
    k = (key, tuple(shape), np.dtype(dtype).str, fill)
    arrays = _WORK.setdefault(k, [])
    for arr in arrays:
        if sys.getrefcount(arr) <= 3:  # the list's, the loop variable's and getrefcount's
            return arr
    arr = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
    if len(arrays) < _WORK_PER_KEY:
        arrays.append(arr)
    if len(_WORK) > _WORK_KEYS:  # forget the oldest shapes
        del _WORK[next(iter(_WORK))]
    return arr


def _to_cnhw(x: np.ndarray, pads: Pads, size: tuple[int, int] | None = None,
             value: float = 0.0) -> np.ndarray:
    """(N, C, H, W) -> padded (C, N, Hp, Wp), a scratch array that must not escape the op;
    a view of x when there is nothing to pad.

    ``size`` asks for at least (Hp, Wp) (extra rows/cols at the end, e.g. for ceil_mode)."""
    (pt, pb), (pl, pr) = pads
    n, c, h, w = x.shape
    hp, wp = h + pt + pb, w + pl + pr
    if size is not None:
        hp, wp = max(hp, size[0]), max(wp, size[1])
    xt = x.transpose(1, 0, 2, 3)
    if (hp, wp) == (h, w):
        return xt
    xp = _work(("pad", pads, h, w), (c, n, hp, wp), x.dtype, fill=value)
    xp[:, :, pt:pt + h, pl:pl + w] = xt
    return xp


def _im2col(x: np.ndarray, kh: int, kw: int, p: ConvParams, oh: int, ow: int) -> np.ndarray:
    """(N, C, H, W) -> (G, C/G*KH*KW, N*OH*OW): every window as a column, in one copy."""
    n, c = x.shape[:2]
    xp = _to_cnhw(x, p.pads)
    (sh, sw), (dh, dw) = p.stride, p.dilation
    s0, s1, s2, s3 = xp.strides
    # (C, KH, KW, N, OH, OW) view: kernel offsets move by the dilation, windows by the stride
    win = as_strided(xp, (c, kh, kw, n, oh, ow), (s0, dh * s2, dw * s3, s1, sh * s2, sw * s3),
                     writeable=False)
    cols = _work(("cols",), win.shape, x.dtype)
    np.copyto(cols, win)
    return cols.reshape(p.groups, c // p.groups * kh * kw, n * oh * ow)


def _col2im(cols: np.ndarray, shape: tuple[int, ...], kh: int, kw: int, p: ConvParams,
            oh: int, ow: int) -> np.ndarray:
    """Adjoint of _im2col: add every column back at its window, one slice-add per offset."""
    n, c, h, w = shape
    (pt, pb), (pl, pr) = p.pads
    (sh, sw), (dh, dw) = p.stride, p.dilation
    hp = max(h + pt + pb, dh * (kh - 1) + sh * (oh - 1) + 1)
    wp = max(w + pl + pr, dw * (kw - 1) + sw * (ow - 1) + 1)
    cols = cols.reshape(c, kh, kw, n, oh, ow)
    if kh == 1 and kw == 1 and (sh, sw) == (1, 1) and (hp, wp) == (h, w):
        return cols.reshape(c, n, h, w).transpose(1, 0, 2, 3)  # 1x1 conv: nothing overlaps
    out = np.zeros((c, n, hp, wp), dtype=cols.dtype)
    for i, rows in enumerate(_offsets(kh, sh, dh, oh)):
        for j, cs in enumerate(_offsets(kw, sw, dw, ow)):
            out[:, :, rows, cs] += cols[:, i, j]
    return out[:, :, pt:pt + h, pl:pl + w].transpose(1, 0, 2, 3)


def _grad_input_wide(wg: np.ndarray, gy: np.ndarray, x_shape: tuple[int, ...], kh: int,
                     kw: int, p: ConvParams) -> np.ndarray:
    """col2im for stride 1, with long loops. The columns are computed for output rows as wide
    as the padded image (gy padded with zero columns, whose columns are then zero too), so in
    the flattened padded image each kernel offset's contribution is ONE contiguous shifted add
    of length OH*Wp per (channel, sample), instead of OH rows of OW elements."""
    n, c, h, w = x_shape
    o, oh, ow = gy.shape[1:]
    (pt, pb), (pl, pr) = p.pads
    dh, dw = p.dilation
    hp, wp = max(h + pt + pb, dh * (kh - 1) + oh), max(w + pl + pr, dw * (kw - 1) + ow)
    gyw = _work(("gy_wide", ow), (o, n, oh, wp), gy.dtype, fill=0.0)  # columns >= OW stay 0
    gyw[:, :, :, :ow] = gy.transpose(1, 0, 2, 3)
    lw = n * oh * wp
    dcols = _work(("dcols",), (p.groups, wg.shape[2], lw), gy.dtype)
    _matmul(wg.transpose(0, 2, 1), gyw.reshape(p.groups, o // p.groups, lw), out=dcols)
    dcols = dcols.reshape(c, kh, kw, n, oh * wp)
    # the last offset's add runs dw*(kw-1) elements past the image: a tail of spare room
    flat = np.zeros((c, n, hp * wp + dw * (kw - 1)), dtype=gy.dtype)
    for i in range(kh):
        for j in range(kw):
            start = i * dh * wp + j * dw
            flat[:, :, start:start + oh * wp] += dcols[:, i, j]
    img = flat[:, :, :hp * wp].reshape(c, n, hp, wp)
    return img[:, :, pt:pt + h, pl:pl + w].transpose(1, 0, 2, 3)


def _gy_matrix(gy: np.ndarray, groups: int) -> np.ndarray:
    """(N, O, OH, OW) -> (G, O/G, N*OH*OW): free when gy has this conv's output layout."""
    n, o = gy.shape[:2]
    return gy.transpose(1, 0, 2, 3).reshape(groups, o // groups, -1)


def _crop(t, shape):
    """The leading (OH, OW) part of a conv result (conv_transpose's output_padding case)."""
    if tuple(t.shape[2:]) == tuple(shape[2:]):
        return t
    return t[:, :, :shape[2], :shape[3]]


def _matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Grouped matmul; one plain 2-D BLAS call when there is a single group."""
    if a.shape[0] == 1:
        return np.matmul(a[0], b[0], out=None if out is None else out[0])[None]
    return np.matmul(a, b, out=out)


class Conv2d(Primitive):
    """y = conv(x, w) + b. x (N, C, H, W), w (O, C/G, KH, KW), b (O,) or None."""

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any, p: Any) -> Any:
        n, _, h, wd = x.shape
        o, _, kh, kw = w.shape
        oh = out_size(h, kh, p.stride[0], p.pads[0], p.dilation[0])
        ow = out_size(wd, kw, p.stride[1], p.pads[1], p.dilation[1])
        cols = _im2col(x, kh, kw, p, oh, ow)  # (G, CgKK, N*OH*OW)
        wg = w.reshape(p.groups, o // p.groups, -1)  # (G, O/G, CgKK)
        if p.groups == 1:  # per sample: (O, CKK) @ (CKK, OH*OW) -> (N, O, OH*OW), contiguous
            out = np.matmul(wg[0], cols[0].reshape(-1, n, oh * ow).transpose(1, 0, 2))
        else:
            out = np.ascontiguousarray(_matmul(wg, cols).reshape(o, n, -1).transpose(1, 0, 2))
        if b is not None:
            out += b[:, None]
        # keep the columns for the weight gradient: recomputing them costs a copy of this size
        ctx.save_for_backward(x, w, cols if ctx.needs_input_grad[1] else None)
        ctx.p = p
        return out.reshape(n, o, oh, ow)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, w, cols = ctx.saved_like(grad)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = Conv2dGradInput.apply(grad, w, tuple(x.shape), ctx.p) if need_x else None
        gw = None
        if need_w:
            gw = Conv2dGradWeight.apply(x, grad, tuple(w.shape), ctx.p,
                                        getattr(cols, "_data", cols))  # an array, or None
        gb = grad.sum((0, 2, 3)) if need_b else None
        return gx, gw, gb, None


class Conv2dGradInput(Primitive):
    """The adjoint of conv in its input (conv_transpose): gy (N, O, OH, OW), w -> (N, C, H, W)."""

    @staticmethod
    def forward(ctx: Any, gy: Any, w: Any, x_shape: Any, p: Any) -> Any:
        o, _, kh, kw = w.shape
        oh, ow = gy.shape[2:]
        ctx.save_for_backward(gy if ctx.needs_input_grad[1] else None, w)
        ctx.p, ctx.gy_shape = p, gy.shape
        wg = w.reshape(p.groups, o // p.groups, -1)  # (G, O/G, CgKK)
        # contiguous (N, C, H, W), as torch's conv_transpose2d output (one copy of it)
        if p.stride == (1, 1):
            return np.ascontiguousarray(_grad_input_wide(wg, gy, x_shape, kh, kw, p))
        gym = _gy_matrix(gy, p.groups)
        dcols = _work(("dcols",), (p.groups, wg.shape[2], gym.shape[2]), gy.dtype)
        _matmul(wg.transpose(0, 2, 1), gym, out=dcols)  # (G, CgKK, L)
        return np.ascontiguousarray(_col2im(dcols, x_shape, kh, kw, p, oh, ow))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        gy, w = ctx.saved_like(grad)
        need_gy, need_w = ctx.needs_input_grad[:2]
        ggy = _crop(Conv2d.apply(grad, w, None, ctx.p), ctx.gy_shape) if need_gy else None
        gw = Conv2dGradWeight.apply(grad, gy, tuple(w.shape), ctx.p, None) if need_w else None
        return ggy, gw, None, None


class Conv2dGradWeight(Primitive):
    """The adjoint of conv in its weight: x (N, C, H, W), gy (N, O, OH, OW) -> (O, C/G, KH, KW).

    ``cols`` are the forward's columns when the caller still has them (else rebuilt from x)."""

    @staticmethod
    def forward(ctx: Any, x: Any, gy: Any, w_shape: Any, p: Any, cols: Any) -> Any:
        o, _, kh, kw = w_shape
        oh, ow = gy.shape[2:]
        if cols is None:
            cols = _im2col(x, kh, kw, p, oh, ow)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              gy if ctx.needs_input_grad[0] else None)
        ctx.p, ctx.x_shape, ctx.gy_shape = p, x.shape, gy.shape
        if p.groups == 1:  # per sample, summed: reads gy (N, O, OH*OW) as it is, no copy
            n = gy.shape[0]
            gwt = np.matmul(cols[0].reshape(-1, n, oh * ow).transpose(1, 0, 2),
                            gy.reshape(n, o, oh * ow).transpose(0, 2, 1)).sum(0)[None]
        else:
            # as cols @ gy^T (G, CgKK, O/G), transposed after: BLAS runs this long, thin
            # product faster than gy @ cols^T (measurements in the commit that made it so)
            gwt = _matmul(cols, _gy_matrix(gy, p.groups).transpose(0, 2, 1))
        return gwt.transpose(0, 2, 1).reshape(w_shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, gy = ctx.saved_like(grad)
        need_x, need_gy = ctx.needs_input_grad[:2]
        gx = Conv2dGradInput.apply(gy, grad, ctx.x_shape, ctx.p) if need_x else None
        ggy = _crop(Conv2d.apply(x, grad, None, ctx.p), ctx.gy_shape) if need_gy else None
        return gx, ggy, None, None, None


# -- pooling ---------------------------------------------------------------------------------
class PoolParams(NamedTuple):
    """Geometry of 2-D pooling: kernel, stride, symmetric padding, dilation, output size."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]


def pool_out_size(size: int, k: int, s: int, pad: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size; in ceil_mode the last window must start inside the input
    or its left padding."""
    span = size + 2 * pad - d * (k - 1) - 1
    n = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (n - 1) * s >= size + pad:
        n -= 1
    return n


def _windows(xp: np.ndarray, p: PoolParams):
    """Yield (offset number, view (N, C, OH, OW)) for each kernel offset of a padded input."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = p.kernel, p.stride, p.dilation, p.out
    k = 0
    for rows in _offsets(kh, sh, dh, oh):
        for cols in _offsets(kw, sw, dw, ow):
            yield k, xp[:, :, rows, cols]
            k += 1


def _padded_nchw(x: np.ndarray, p: PoolParams, value: float) -> np.ndarray:
    """x padded by p.padding (and at the end as far as the last window reaches), as an
    (N, C, Hp, Wp) view that keeps x's memory layout."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = p.kernel, p.stride, p.dilation, p.out
    ph, pw = p.padding
    need = ((oh - 1) * sh + dh * (kh - 1) + 1, (ow - 1) * sw + dw * (kw - 1) + 1)
    h, w = x.shape[2:]
    if (ph, pw) == (0, 0) and need[0] <= h and need[1] <= w:
        return x
    return _to_cnhw(x, ((ph, ph), (pw, pw)), need, value).transpose(1, 0, 2, 3)


def _zeros_padded(x_shape, p: PoolParams, dtype) -> np.ndarray:
    n, c = x_shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = p.kernel, p.stride, p.dilation, p.out
    ph, pw = p.padding
    hp = max(x_shape[2] + 2 * ph, (oh - 1) * sh + dh * (kh - 1) + 1)
    wp = max(x_shape[3] + 2 * pw, (ow - 1) * sw + dw * (kw - 1) + 1)
    return np.zeros((c, n, hp, wp), dtype=dtype).transpose(1, 0, 2, 3)  # channels-first memory


def _unpad(xp: np.ndarray, x_shape, p: PoolParams) -> np.ndarray:
    ph, pw = p.padding
    return xp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]


def _layout(x: np.ndarray) -> tuple[int, int, int, int]:
    """The axis order of x's memory: (1, 0, 2, 3) when channels come first (a conv output),
    else (0, 1, 2, 3). Pooling computes in memory order and hands back the same layout."""
    if x.shape[0] > 1 and x.shape[1] > 1 and abs(x.strides[1]) > abs(x.strides[0]):
        return (1, 0, 2, 3)
    return (0, 1, 2, 3)


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
        out[...] = np.where(mask, g, 0)


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

    General windows keep ``pos`` (N, C, OH, OW), the row-major offset in the window. Windows
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
        self.perm = (0, 1, 2, 3)

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
        xp = _padded_nchw(x, self.p, -np.inf)
        out, self.pos = _first_max([v for _, v in _windows(xp, self.p)], False)
        return out

    def positions(self) -> np.ndarray:
        """(N, C, OH, OW) offset of the chosen element in each window (row-major)."""
        if self.pos is None:
            assert self.col is not None and self.row is not None
            (kh, kw), (oh, ow) = self.p.kernel, self.p.out
            col = self.col.reshape(-1, kh, ow)
            chosen = np.take_along_axis(col, self.row[:, None, :].astype(np.intp), 1)[:, 0]
            pos = self.row.astype(np.int16) * kw + chosen
            n, c = self.x_shape[:2]
            mshape = tuple((n, c)[i] for i in self.perm[:2]) + (oh, ow)
            self.pos = pos.reshape(mshape).transpose(self.perm)
        return self.pos

    def route(self, grad: np.ndarray) -> np.ndarray:
        """Each output's gradient to its window's chosen input; zeros elsewhere."""
        p, finite = self.p, bool(np.isfinite(grad).all())
        if self.col is None:
            pos = self.positions()
            dxp = _zeros_padded(self.x_shape, p, grad.dtype)
            for k, v in _windows(dxp, p):
                sel = np.empty(grad.shape, dtype=grad.dtype)
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
        gp = _padded_nchw(g, self.p, 0.0)
        out = np.zeros(pos.shape, dtype=g.dtype)
        finite = bool(np.isfinite(g).all())
        sel = np.empty(pos.shape, dtype=g.dtype)
        for k, v in _windows(gp, self.p):
            _select(v, pos == k, sel, finite)
            out += sel
        return out


class MaxPool2d(Primitive):
    """Max over each window. The gradient goes to the FIRST maximum of a window (row-major), as
    in PyTorch: on blank image regions whole windows tie, and spreading the gradient over every
    tied input would give the conv below a different gradient than PyTorch's."""

    @staticmethod
    def forward(ctx: Any, x: Any, p: Any, return_indices: Any) -> Any:
        am = _Argmax(p, x.shape)
        tiles = p.kernel == p.stride and p.padding == (0, 0) and p.dilation == (1, 1)
        out = am.max_tiles(x) if tiles else am.max_windows(x)
        out = np.ascontiguousarray(out)  # the tournament leaves it in a strided view
        ctx.am = am
        if return_indices:
            ctx.mark_non_differentiable(idx := _flat_indices(am.positions(), x.shape, p))
            return out, idx
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any, *_: Any) -> Any:
        return MaxPool2dGrad.apply(grad, ctx.am), None, None


def _flat_indices(pos: np.ndarray, x_shape, p: PoolParams) -> np.ndarray:
    """Window positions -> PyTorch's indices: h * W + w in each (unpadded) input plane."""
    (_, kw), (sh, sw), (dh, dw), (oh, ow) = p.kernel, p.stride, p.dilation, p.out
    pos = pos.astype(np.int64)
    rows = np.arange(oh)[:, None] * sh - p.padding[0] + (pos // kw) * dh
    cols = np.arange(ow)[None, :] * sw - p.padding[1] + (pos % kw) * dw
    return np.ascontiguousarray(rows * x_shape[3] + cols)


class MaxPool2dGrad(Primitive):
    """Send each output's gradient to its window's first maximum: (N, C, OH, OW) -> x's shape."""

    @staticmethod
    def forward(ctx: Any, grad: Any, am: Any) -> Any:
        ctx.am = am
        return am.route(grad)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return MaxPool2dGather.apply(grad, ctx.am), None


class MaxPool2dGather(Primitive):
    """Adjoint of MaxPool2dGrad: read x-shaped values at each window's chosen position."""

    @staticmethod
    def forward(ctx: Any, g: Any, am: Any) -> Any:
        ctx.am = am
        return am.gather(g)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return MaxPool2dGrad.apply(grad, ctx.am), None


class AvgPool2d(Primitive):
    """Sum over each window times ``scale`` (1/divisor per output position, (OH, OW))."""

    @staticmethod
    def forward(ctx: Any, x: Any, p: Any, scale: Any) -> Any:
        ctx.p, ctx.scale, ctx.x_shape = p, scale, x.shape
        xp = _padded_nchw(x, p, 0.0)
        out = None
        for _, v in _windows(xp, p):
            out = np.copy(v, order="C") if out is None else np.add(out, v, out=out)
        out *= scale
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return AvgPool2dGrad.apply(grad, ctx.x_shape, ctx.p, ctx.scale), None, None


class AvgPool2dGrad(Primitive):
    """Adjoint of AvgPool2d: spread grad * scale over each window."""

    @staticmethod
    def forward(ctx: Any, grad: Any, x_shape: Any, p: Any, scale: Any) -> Any:
        ctx.p, ctx.scale = p, scale
        g = grad * scale
        dxp = _zeros_padded(x_shape, p, grad.dtype)
        for _, v in _windows(dxp, p):
            v += g
        return _unpad(dxp, x_shape, p)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return AvgPool2d.apply(grad, ctx.p, ctx.scale), None, None, None


def avg_pool_scale(h: int, w: int, p: PoolParams, count_include_pad: bool,
                   divisor_override: int | None, dtype) -> np.ndarray:
    """1/divisor for each output position, as PyTorch counts it: windows are clipped to the
    padded input (count_include_pad) or to the input itself."""
    if divisor_override:
        return np.asarray(1.0 / divisor_override, dtype=dtype)
    ph, pw = p.padding
    mask = np.zeros((1, 1, h + 2 * ph, w + 2 * pw), dtype=np.float64)
    if count_include_pad:
        mask[...] = 1.0
    else:
        mask[:, :, ph:ph + h, pw:pw + w] = 1.0
    q = p._replace(padding=(0, 0))
    need = ((q.out[0] - 1) * q.stride[0] + q.dilation[0] * (q.kernel[0] - 1) + 1,
            (q.out[1] - 1) * q.stride[1] + q.dilation[1] * (q.kernel[1] - 1) + 1)
    if need[0] > mask.shape[2] or need[1] > mask.shape[3]:  # ceil_mode windows past the end
        mask = np.pad(mask, ((0, 0), (0, 0), (0, max(0, need[0] - mask.shape[2])),
                             (0, max(0, need[1] - mask.shape[3]))))
    count = sum(v for _, v in _windows(mask, q))
    return (1.0 / count[0, 0]).astype(dtype)


def conv_transpose_shape(x_shape, w_shape, p: ConvParams, output_padding) -> tuple[int, ...]:
    """Output shape of conv_transpose2d: (H-1)*s - pads + d*(k-1) + output_padding + 1."""
    n, _, h, w = x_shape
    _, cg, kh, kw = w_shape
    sizes = []
    for size, k, s, pad, d, op in zip((h, w), (kh, kw), p.stride, p.pads, p.dilation,
                                      output_padding):
        sizes.append((size - 1) * s - pad[0] - pad[1] + d * (k - 1) + op + 1)
    return (n, cg * p.groups, *sizes)


__all__ = ["ConvParams", "Conv2d", "Conv2dGradInput", "Conv2dGradWeight", "PoolParams",
           "MaxPool2d", "MaxPool2dGrad", "MaxPool2dGather", "AvgPool2d", "AvgPool2dGrad",
           "avg_pool_scale", "conv_transpose_shape", "out_size", "pool_out_size"]
