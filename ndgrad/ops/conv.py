"""Convolution primitives for 1, 2 or 3 spatial dims, built for speed on NumPy.

Convolution is im2col + matmul (BLAS): the input (N, C, *S) is read as (C, N, *S), a strided
view picks every kernel offset, and one copy makes the column matrix (C*K, N*L) (K = the
kernel's size, L = the output's spatial size); ``weight (O, C*K) @ cols``, one product per
sample, writes the output contiguous (N, O, *OS), the layout torch's conv and pooling outputs
have (users ``.view()`` them).

The three conv primitives are one bilinear map seen from its three sides, so each one's backward
is made of the others and gradients of any order exist (``create_graph=True``):

    Conv(x, w)              y = conv(x, w)
    ConvGradInput(gy, w)    the adjoint in x: conv_transpose; it is conv_transpose's forward
    ConvGradWeight(x, gy)   the adjoint in w

Speed notes, measured: NumPy's per-call overhead is per innermost loop, so work is arranged into
long contiguous or evenly strided runs; large temporaries are reused (_work) because a fresh
multi-MB array costs a page fault per 4 KB on every training step.
"""

from __future__ import annotations

import itertools
import math
import sys
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ndgrad.ops.base import Primitive, anchor

Pads = tuple[tuple[int, int], ...]  # per spatial dim: (before, after)


class ConvParams(NamedTuple):
    """Geometry of a convolution over d spatial dims (tuples of d); padding may be asymmetric
    (padding='same')."""

    stride: tuple[int, ...]
    pads: Pads
    dilation: tuple[int, ...]
    groups: int


def out_size(size: int, k: int, s: int, pad: tuple[int, int], d: int) -> int:
    """Output length of a sliding window: floor((size + pads - d*(k-1) - 1) / s) + 1."""
    return (size + pad[0] + pad[1] - d * (k - 1) - 1) // s + 1


def offsets(k: int, s: int, d: int, n: int) -> list[slice]:
    """For each kernel offset, the slice of the padded axis that the n windows read."""
    return [slice(i * d, i * d + s * (n - 1) + 1, s) for i in range(k)]


def window_slices(kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
                  out: tuple[int, ...]) -> list[tuple[slice, ...]]:
    """For each kernel offset (row-major), the spatial slices of a padded input it reads."""
    per_dim = [offsets(k, s, d, n) for k, s, d, n in zip(kernel, stride, dilation, out)]
    return list(itertools.product(*per_dim))


_WORK: dict[tuple, list[np.ndarray]] = {}  # key -> arrays kept for reuse
_WORK_KEYS, _WORK_PER_KEY = 32, 4


def work(key: tuple, shape: tuple[int, ...], dtype, fill: float | None = None) -> np.ndarray:
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


def channels_first(x: np.ndarray, pads: Pads, size: tuple[int, ...] | None = None,
                   value: float = 0.0) -> np.ndarray:
    """(N, C, *S) -> padded (C, N, *Sp), a scratch array that must not escape the op;
    a view of x when there is nothing to pad.

    ``size`` asks for at least Sp (extra entries at the end, e.g. for ceil_mode)."""
    n, c, *sp = x.shape
    padded = [s + lo + hi for s, (lo, hi) in zip(sp, pads)]
    if size is not None:
        padded = [max(p, s) for p, s in zip(padded, size)]
    xt = x.swapaxes(0, 1)
    if padded == sp:
        return xt
    xp = work(("pad", pads, tuple(sp)), (c, n, *padded), x.dtype, fill=value)
    xp[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for (lo, _), s in zip(pads, sp))] = xt
    return xp


def _im2col(x: np.ndarray, ksize: tuple[int, ...], p: ConvParams,
            osize: tuple[int, ...]) -> np.ndarray:
    """(N, C, *S) -> (G, C/G*K, N*L): every window as a column, in one copy."""
    n, c = x.shape[:2]
    xp = channels_first(x, p.pads)
    s0, s1, *ss = xp.strides
    # (C, *K, N, *OS) view: kernel offsets move by the dilation, windows by the stride
    shape = (c, *ksize, n, *osize)
    strides = (s0, *(d * s for d, s in zip(p.dilation, ss)), s1,
               *(st * s for st, s in zip(p.stride, ss)))
    win = as_strided(xp, shape, strides, writeable=False)
    cols = work(("cols",), shape, x.dtype)
    np.copyto(cols, win)
    return cols.reshape(p.groups, c // p.groups * math.prod(ksize), n * math.prod(osize))


def _padded_size(shape: tuple[int, ...], ksize: tuple[int, ...], p: ConvParams,
                 osize: tuple[int, ...]) -> list[int]:
    """Per spatial dim, the padded length that holds the input and every window."""
    return [max(s + lo + hi, d * (k - 1) + st * (o - 1) + 1) for s, (lo, hi), d, k, st, o
            in zip(shape[2:], p.pads, p.dilation, ksize, p.stride, osize)]


def _crop_padding(img: np.ndarray, shape: tuple[int, ...], p: ConvParams) -> np.ndarray:
    """(C, N, *Sp) -> the unpadded input's region, as (N, C, *S)."""
    inner = tuple(slice(lo, lo + s) for (lo, _), s in zip(p.pads, shape[2:]))
    return img[(slice(None), slice(None)) + inner].swapaxes(0, 1)


def _col2im(cols: np.ndarray, shape: tuple[int, ...], ksize: tuple[int, ...], p: ConvParams,
            osize: tuple[int, ...]) -> np.ndarray:
    """Adjoint of _im2col: add every column back at its window, one slice-add per offset."""
    n, c = shape[:2]
    padded = _padded_size(shape, ksize, p, osize)
    cols = cols.reshape(c, *ksize, n, *osize)
    if math.prod(ksize) == 1 and all(s == 1 for s in p.stride) and padded == list(shape[2:]):
        return cols.reshape(c, n, *shape[2:]).swapaxes(0, 1)  # 1x1 conv: nothing overlaps
    out = np.zeros((c, n, *padded), dtype=cols.dtype)
    for offset, where in zip(itertools.product(*map(range, ksize)),
                             window_slices(ksize, p.stride, p.dilation, osize)):
        out[(slice(None), slice(None)) + where] += cols[(slice(None),) + offset]
    return _crop_padding(out, shape, p)


def _grad_input_wide(wg: np.ndarray, gy: np.ndarray, x_shape: tuple[int, ...],
                     ksize: tuple[int, ...], p: ConvParams) -> np.ndarray:
    """col2im for stride 1, with long loops. The columns are computed for outputs as wide as
    the padded input in every spatial dim but the first (gy padded with zeros, whose columns
    are then zero too), so in the flattened padded input each kernel offset's contribution is
    ONE contiguous shifted add of length L per (channel, sample), instead of many short rows."""
    n, c = x_shape[:2]
    o, *osize = gy.shape[1:]
    padded = _padded_size(x_shape, ksize, p, tuple(osize))
    wide = (osize[0], *padded[1:])  # (O1, P2, ..., Pd)
    gyw = work(("gy_wide", tuple(osize)), (o, n, *wide), gy.dtype, fill=0.0)  # outside stays 0
    gyw[(slice(None), slice(None)) + tuple(slice(0, s) for s in osize)] = gy.swapaxes(0, 1)
    lw = math.prod(wide)
    dcols = work(("dcols",), (p.groups, wg.shape[2], n * lw), gy.dtype)
    _matmul(wg.transpose(0, 2, 1), gyw.reshape(p.groups, o // p.groups, n * lw), out=dcols)
    dcols = dcols.reshape(c, *ksize, n, lw)
    # element strides of the flattened padded input, and where each kernel offset starts
    pstrides = [math.prod(padded[i + 1:]) for i in range(len(padded))]
    starts = [sum(i * d * s for i, d, s in zip(offset, p.dilation, pstrides))
              for offset in itertools.product(*map(range, ksize))]
    # the last offsets' adds run past the input: a tail of spare room
    total = math.prod(padded)
    flat = np.zeros((c, n, max(total, max(starts) + lw)), dtype=gy.dtype)
    for offset, start in zip(itertools.product(*map(range, ksize)), starts):
        flat[:, :, start:start + lw] += dcols[(slice(None),) + offset]
    img = flat[:, :, :total].reshape(c, n, *padded)
    return _crop_padding(img, x_shape, p)


def _gy_matrix(gy: np.ndarray, groups: int) -> np.ndarray:
    """(N, O, *OS) -> (G, O/G, N*L): free when gy has this conv's output layout."""
    o = gy.shape[1]
    return gy.swapaxes(0, 1).reshape(groups, o // groups, -1)


def _crop(t, shape):
    """The leading part of a conv result (conv_transpose's output_padding case)."""
    if tuple(t.shape[2:]) == tuple(shape[2:]):
        return t
    return t[(slice(None), slice(None)) + tuple(slice(0, s) for s in shape[2:])]


def _matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Grouped matmul; one plain 2-D BLAS call when there is a single group."""
    if a.shape[0] == 1:
        return np.matmul(a[0], b[0], out=None if out is None else out[0])[None]
    return np.matmul(a, b, out=out)


class Conv(Primitive):
    """y = conv(x, w) + b. x (N, C, *S), w (O, C/G, *K), b (O,) or None."""

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any, p: Any) -> Any:
        n = x.shape[0]
        o, _, *ksize = w.shape
        osize = tuple(out_size(s, k, st, pad, d) for s, k, st, pad, d
                      in zip(x.shape[2:], ksize, p.stride, p.pads, p.dilation))
        cols = _im2col(x, tuple(ksize), p, osize)  # (G, CgK, N*L)
        wg = w.reshape(p.groups, o // p.groups, -1)  # (G, O/G, CgK)
        size = math.prod(osize)
        if p.groups == 1:  # per sample: (O, CK) @ (CK, L) -> (N, O, L), contiguous
            out = np.matmul(wg[0], cols[0].reshape(-1, n, size).transpose(1, 0, 2))
        else:
            out = np.ascontiguousarray(_matmul(wg, cols).reshape(o, n, size).transpose(1, 0, 2))
        if b is not None:
            out += b[:, None]
        # keep the columns for the weight gradient: recomputing them costs a copy of this size
        ctx.save_for_backward(x, w, cols if ctx.needs_input_grad[1] else None)
        ctx.p = p
        return out.reshape(n, o, *osize)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, w, cols = ctx.saved_like(grad)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = ConvGradInput.apply(grad, w, tuple(x.shape), ctx.p) if need_x else None
        gw = None
        if need_w:
            gw = ConvGradWeight.apply(x, grad, tuple(w.shape), ctx.p,
                                      getattr(cols, "_data", cols))  # an array, or None
        gb = anchor(grad.sum((0, *range(2, grad.ndim))), x, w) if need_b else None
        return gx, gw, gb, None


class ConvGradInput(Primitive):
    """The adjoint of conv in its input (conv_transpose): gy (N, O, *OS), w -> (N, C, *S);
    plus b (C,) when given (conv_transpose's bias, fused as torch's)."""

    @staticmethod
    def forward(ctx: Any, gy: Any, w: Any, x_shape: Any, p: Any, b: Any = None) -> Any:
        o, _, *ksize = w.shape
        osize = tuple(gy.shape[2:])
        ctx.save_for_backward(gy if ctx.needs_input_grad[1] else None, w)
        ctx.p, ctx.gy_shape = p, gy.shape
        wg = w.reshape(p.groups, o // p.groups, -1)  # (G, O/G, CgK)
        # contiguous (N, C, *S), as torch's conv_transpose output (one copy of it)
        if all(s == 1 for s in p.stride):
            out = np.ascontiguousarray(_grad_input_wide(wg, gy, x_shape, tuple(ksize), p))
        else:
            gym = _gy_matrix(gy, p.groups)
            dcols = work(("dcols",), (p.groups, wg.shape[2], gym.shape[2]), gy.dtype)
            _matmul(wg.transpose(0, 2, 1), gym, out=dcols)  # (G, CgK, N*L)
            out = np.ascontiguousarray(_col2im(dcols, x_shape, tuple(ksize), p, osize))
        if b is not None:
            out += b.reshape(-1, *[1] * (out.ndim - 2))
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        gy, w = ctx.saved_like(grad)
        need_gy, need_w = ctx.needs_input_grad[:2]
        need_b = len(ctx.needs_input_grad) > 4 and ctx.needs_input_grad[4]
        ggy = _crop(Conv.apply(grad, w, None, ctx.p), ctx.gy_shape) if need_gy else None
        gw = ConvGradWeight.apply(grad, gy, tuple(w.shape), ctx.p, None) if need_w else None
        gb = anchor(grad.sum((0, *range(2, grad.ndim))), gy, w) if need_b else None
        return ggy, gw, None, None, gb


class ConvGradWeight(Primitive):
    """The adjoint of conv in its weight: x (N, C, *S), gy (N, O, *OS) -> (O, C/G, *K).

    ``cols`` are the forward's columns when the caller still has them (else rebuilt from x)."""

    @staticmethod
    def forward(ctx: Any, x: Any, gy: Any, w_shape: Any, p: Any, cols: Any) -> Any:
        if cols is None:
            cols = _im2col(x, tuple(w_shape[2:]), p, tuple(gy.shape[2:]))
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              gy if ctx.needs_input_grad[0] else None)
        ctx.p, ctx.x_shape, ctx.gy_shape = p, x.shape, gy.shape
        if p.groups == 1:
            n, o, size = gy.shape[0], gy.shape[1], math.prod(gy.shape[2:])
            if cols.shape[1] > size:
                # one GEMM over gy copied to (N*L, O): the per-sample products below would
                # allocate N*CK*O, which dwarfs that copy when CK > L (deep layers, L tiny)
                gy_rows = np.ascontiguousarray(gy.reshape(n, o, size).transpose(0, 2, 1))
                gwt = (cols[0] @ gy_rows.reshape(n * size, o))[None]
            else:  # per sample, summed: reads gy (N, O, L) as it is, no copy
                gwt = np.matmul(cols[0].reshape(-1, n, size).transpose(1, 0, 2),
                                gy.reshape(n, o, size).transpose(0, 2, 1)).sum(0)[None]
        else:
            # as cols @ gy^T (G, CgK, O/G), transposed after: BLAS runs this long, thin
            # product faster than gy @ cols^T (measurements in the commit that made it so)
            gwt = _matmul(cols, _gy_matrix(gy, p.groups).transpose(0, 2, 1))
        return gwt.transpose(0, 2, 1).reshape(w_shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, gy = ctx.saved_like(grad)
        need_x, need_gy = ctx.needs_input_grad[:2]
        gx = ConvGradInput.apply(gy, grad, ctx.x_shape, ctx.p) if need_x else None
        ggy = _crop(Conv.apply(x, grad, None, ctx.p), ctx.gy_shape) if need_gy else None
        return gx, ggy, None, None, None


def conv_transpose_shape(x_shape, w_shape, p: ConvParams, output_padding) -> tuple[int, ...]:
    """Output shape of conv_transpose: (S-1)*s - pads + d*(k-1) + output_padding + 1."""
    sizes = []
    for size, k, s, pad, d, op in zip(x_shape[2:], w_shape[2:], p.stride, p.pads, p.dilation,
                                      output_padding):
        sizes.append((size - 1) * s - pad[0] - pad[1] + d * (k - 1) + op + 1)
    return (x_shape[0], w_shape[1] * p.groups, *sizes)


# -- unfold and fold: im2col and col2im in PyTorch's layout ----------------------------------
class Unfold(Primitive):
    """Every sliding window as a column: x (N, C, *S) -> (N, C*K, L), PyTorch's F.unfold
    (channel-major rows, kernel offsets row-major within a channel)."""

    @staticmethod
    def forward(ctx: Any, x: Any, ksize: Any, p: Any) -> Any:
        n, c, *size = x.shape
        osize = tuple(out_size(s, k, st, pad, d) for s, k, st, pad, d
                      in zip(size, ksize, p.stride, p.pads, p.dilation))
        ctx.ksize, ctx.p, ctx.shape = ksize, p, x.shape
        xp = np.pad(x, ((0, 0), (0, 0)) + tuple(p.pads))
        s0, s1, *ss = xp.strides
        shape = (n, c, *ksize, *osize)
        strides = (s0, s1, *(d * s for d, s in zip(p.dilation, ss)),
                   *(st * s for st, s in zip(p.stride, ss)))
        win = as_strided(xp, shape, strides, writeable=False)
        return win.reshape(n, c * math.prod(ksize), math.prod(osize))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return Fold.apply(grad, ctx.shape, ctx.ksize, ctx.p), None, None


class Fold(Primitive):
    """The adjoint of Unfold: columns (N, C*K, L) summed back into (N, C, *S) (F.fold)."""

    @staticmethod
    def forward(ctx: Any, cols: Any, shape: Any, ksize: Any, p: Any) -> Any:
        n, c, *size = shape
        ctx.ksize, ctx.p = ksize, p
        osize = tuple(out_size(s, k, st, pad, d) for s, k, st, pad, d
                      in zip(size, ksize, p.stride, p.pads, p.dilation))
        cols = cols.reshape(n, c, *ksize, *osize)
        padded = [s + lo + hi for s, (lo, hi) in zip(size, p.pads)]
        padded = [max(q, d * (k - 1) + st * (o - 1) + 1) for q, d, k, st, o
                  in zip(padded, p.dilation, ksize, p.stride, osize)]
        out = np.zeros((n, c, *padded), dtype=cols.dtype)
        for offset, where in zip(itertools.product(*map(range, ksize)),
                                 window_slices(ksize, p.stride, p.dilation, osize)):
            out[(slice(None), slice(None)) + where] += cols[(slice(None), slice(None)) + offset]
        inner = tuple(slice(lo, lo + s) for (lo, _), s in zip(p.pads, size))
        return out[(slice(None), slice(None)) + inner]

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return Unfold.apply(grad, ctx.ksize, ctx.p), None, None, None


__all__ = ["Unfold", "Fold", "ConvParams", "Conv", "ConvGradInput", "ConvGradWeight",
           "conv_transpose_shape", "out_size", "offsets", "window_slices", "work", "channels_first"]
