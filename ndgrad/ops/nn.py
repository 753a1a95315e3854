"""Neural-network primitives: promoted from composites for speed (Linear, CrossEntropy, NllLoss)
or for numerical stability (Softmax, LogSoftmax, LogSigmoid, CrossEntropy, BinaryCrossEntropy).

Backward formulas run on arrays, or on Tensors under create_graph (see Function.array_backward),
so higher-order gradients work. CrossEntropy's backward is the one with two paths: on arrays it
reuses forward's exponentials, which are constants to a graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.ops._erf import erf
from ndgrad.ops._numba import kernels_for
from ndgrad.ops.base import Primitive, anchor
from ndgrad.ops.elementwise import Clamp, Erf, Exp, Log, Log1p, Sigmoid, Tanh, Where
from ndgrad.ops.index import IndexAddZeros
from ndgrad.ops.reduce import _keepdim_shape


class Linear(Primitive):
    """y = x @ w^T + b, with one BLAS call each way; x (..., in) with at least 2 dims (F.linear
    gives 1-D inputs a leading dim), w (out, in), b (out,) or None.

    Leading dims are flattened first: (..., in) -> (M, in). NumPy's matmul of a 3-D array by a
    matrix runs one small product per leading index, a 2-D one a single large product."""

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any) -> Any:
        ctx.save_for_backward(w if ctx.needs_input_grad[0] else None,
                              x if ctx.needs_input_grad[1] else None)
        if x.ndim > 2:
            out = np.matmul(x.reshape(-1, x.shape[-1]), w.T).reshape(x.shape[:-1] + (-1,))
        else:
            out = np.matmul(x, w.T)
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        w, x = ctx.saved_like(grad)
        need_x, need_w, need_b = ctx.needs_input_grad
        g2 = grad
        if grad.ndim > 2:  # (..., out) -> (M, out): leading dims are summed by one matmul
            g2 = grad.reshape(-1, grad.shape[-1])
        gx = gw = None
        if need_x:
            gx = g2 @ w
            if grad.ndim > 2:
                gx = gx.reshape(tuple(grad.shape[:-1]) + (w.shape[-1],))
        if need_w:
            gw = g2.mT @ (x.reshape(-1, x.shape[-1]) if x.ndim > 2 else x)
        return gx, gw, g2.sum(0) if need_b else None


_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_K_BETA = 0.7978845608028654  # sqrt(2 / pi), of the tanh form
_K_KAPPA = 0.044715


class Gelu(Primitive):
    """GELU(x) = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 the normal CDF; d = Phi + x phi,
    phi(x) = exp(-x^2 / 2) / sqrt(2 pi). The tanh form (approximate="tanh") is
    x (1 + t) / 2 with t = tanh(sqrt(2 / pi) (x + 0.044715 x^3)), as in PyTorch.

    One primitive instead of a composite: only x is kept for backward (as torch does), not the
    four intermediates a composite keeps; with numba, forward and backward are one loop each.
    """

    @staticmethod
    def forward(ctx: Any, x: Any, approximate: Any) -> Any:
        ctx.save_for_backward(x)
        ctx.tanh = tanh = approximate == "tanh"
        k = kernels_for(x)
        if k is not None:
            out = np.empty_like(x)
            k.gelu(x.reshape(-1), out.reshape(-1), tanh)
            return out
        if tanh:
            inner = x * x
            inner *= x
            inner *= _K_KAPPA
            inner += x
            inner *= _K_BETA
            t = np.tanh(inner)
        else:
            t = erf(x * _SQRT1_2)
        t += 1
        t *= x
        t *= 0.5
        return t

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        k = kernels_for(x, grad) if isinstance(grad, np.ndarray) else None
        if k is not None:
            out = np.empty_like(x)
            k.gelu_backward(x.reshape(-1), grad.reshape(-1), out.reshape(-1), ctx.tanh)
            return out, None
        if ctx.tanh:  # on arrays or, under create_graph, Tensors
            t = Tanh.apply((x + x * x * x * _K_KAPPA) * _K_BETA)
            right = x * 0.5 * (1 - t * t) * _K_BETA * (x * x * (3 * _K_KAPPA) + 1)
            return grad * ((t + 1) * 0.5 + right), None
        cdf = (Erf.apply(x * _SQRT1_2) + 1) * 0.5
        pdf = Exp.apply(x * x * -0.5) * _INV_SQRT_2PI
        return grad * (cdf + x * pdf), None


class Embedding(Primitive):
    """weight[idx]: rows of a (V, C) table picked by integer indices (any shape).

    The gradient of row r is the sum of the gradient rows of every position that picked r
    (scaled by 1 / count with scale_grad_by_freq; zero for padding_idx). On arrays the sum is
    taken by sorting the indices and adding each run of equal ones with np.add.reduceat, a few
    passes instead of np.add.at's per-element loop."""

    @staticmethod
    def forward(ctx: Any, w: Any, *, idx: Any, padding_idx: Any = None,
                scale_grad_by_freq: bool = False) -> Any:
        ctx.idx, ctx.num, ctx.padding_idx, ctx.by_freq = idx, w.shape[0], padding_idx, \
            scale_grad_by_freq
        return np.take(w, idx, axis=0)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        idx, num = ctx.idx, ctx.num
        width = grad.shape[-1]
        flat = idx.reshape(-1)
        g2 = grad.reshape(-1, width)
        if not isinstance(grad, np.ndarray) or not flat.size:  # create_graph: a scatter-add
            dtype = grad.dtype if isinstance(grad, np.ndarray) else grad._data.dtype
            scale = _embedding_scale(flat, ctx.padding_idx, ctx.by_freq, dtype)
            if scale is not None:
                g2 = g2 * scale
            return IndexAddZeros.apply(g2, (num, width), (flat,))
        order = np.argsort(flat, kind="stable")
        rows = flat[order]
        starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
        picked = g2[order]
        out = np.zeros((num, width), grad.dtype)
        if starts.size == rows.size:  # every index once (positions, say): nothing to add up
            out[rows] = picked
        else:
            sums = np.add.reduceat(picked, starts, axis=0)
            if ctx.by_freq:
                sums /= np.diff(np.append(starts, rows.size)).astype(grad.dtype)[:, None]
            out[rows[starts]] = sums
        if ctx.padding_idx is not None:
            out[ctx.padding_idx] = 0
        return out


def _embedding_scale(flat: np.ndarray, padding_idx: int | None, by_freq: bool,
                     dtype: Any) -> np.ndarray | None:
    """Per-position factors of the gradient (M, 1): 1 / count of the index with
    scale_grad_by_freq, 0 at padding_idx; None when all are 1."""
    if padding_idx is None and not by_freq:
        return None
    s = np.ones(flat.shape, dtype)
    if by_freq:
        _, inv, counts = np.unique(flat, return_inverse=True, return_counts=True)
        s = (1.0 / counts[inv.reshape(-1)]).astype(dtype)
    if padding_idx is not None:
        s[flat == padding_idx] = 0
    return s[:, None]


class Hardswish(Primitive):
    """x * clip(x + 3, 0, 6) / 6, with torch's gradient: 0 for x <= -3, 1 for x >= 3 and
    x / 3 + 1/2 between (nan at nan, as torch's vectorized kernel). The composite
    x * clamp(x + 3) / 6 gives -1/2 and 3/2 at the kinks, and nan at +-inf."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * Where.apply(x <= -3, 0.0, Where.apply(x >= 3, 1.0, x / 3 + 0.5))


def _ones(m: int, dtype: type) -> np.ndarray:
    """np.ones(m, dtype) without np.ones' Python-level overhead (it matters per step)."""
    out: np.ndarray = np.empty(m, dtype)
    out.fill(1)
    return out


def _shifted(x: np.ndarray, dim: int) -> np.ndarray:
    """x - max(x, dim): exp of it never overflows (rows of -inf stay nan, as in PyTorch). A 0-d
    x is one row of one element (its result a new 0-d array)."""
    if x.ndim == 0:
        return np.subtract(x.reshape(1), x.reshape(1)).reshape(())
    if x.shape[dim] == 0:
        return x.copy()
    return np.subtract(x, np.max(x, axis=dim, keepdims=True), order="C")  # torch's layout


def _dims(x: Any, dim: int) -> tuple[int, ...]:
    """The dims a softmax sums over: (dim,), none for a 0-d x (its own row)."""
    return (dim,) if x.ndim else ()


class Softmax(Primitive):
    """softmax along dim; d = out * (grad - sum(grad * out, dim))."""

    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any) -> Any:
        e = _shifted(x, dim)  # a new array: exp in place keeps a 0-d one an array
        np.exp(e, out=e)
        e /= np.sum(e, axis=_dims(x, dim), keepdims=True)
        ctx.save_for_backward(e)
        ctx.dim, ctx.kshape = _dims(x, dim), _keepdim_shape(e.shape, (dim,))
        return e

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return out * (grad - (grad * out).sum(ctx.dim).reshape(ctx.kshape)), None


class LogSoftmax(Primitive):
    """x - logsumexp(x, dim), computed stably; d = grad - softmax * sum(grad, dim).

    With numba, the last dim (a language model's vocabulary) takes one compiled loop each way,
    a row at a time while it is in cache: NumPy's five passes over the (rows, V) array and two
    temporaries of its size made the forward of a (700, 10000) float32 batch take 10 ms (torch
    5 ms), its backward 9 ms."""

    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any) -> Any:
        k = kernels_for(x) if x.size and dim == x.ndim - 1 else None
        if k is not None:
            z = np.empty_like(x)
            k.log_softmax_rows(x.reshape(-1, x.shape[-1]), z.reshape(-1, x.shape[-1]))
        else:
            z = _shifted(x, dim)
            z -= np.log(np.sum(np.exp(z), axis=_dims(x, dim), keepdims=True))
        ctx.save_for_backward(z)
        ctx.dim, ctx.dims, ctx.kshape = dim, _dims(x, dim), _keepdim_shape(z.shape, (dim,))
        return z

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        k = kernels_for(grad, out) if isinstance(grad, np.ndarray) and out.size \
            and ctx.dim == out.ndim - 1 else None
        if k is not None:
            gx = np.empty_like(out)
            k.log_softmax_backward_rows(grad.reshape(-1, out.shape[-1]),
                                        out.reshape(-1, out.shape[-1]),
                                        gx.reshape(-1, out.shape[-1]))
            return gx, None
        return grad - Exp.apply(out) * grad.sum(ctx.dims).reshape(ctx.kshape), None


class LogSigmoid(Primitive):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): finite for every x; d = sigmoid(-x)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * Sigmoid.apply(-x)


def _softmax_from_lse(x: np.ndarray, xmax: np.ndarray, log_s: np.ndarray) -> np.ndarray:
    """softmax of each row of x from its max and log-sum-exp(x - max) (M, 1): one new (M, C)
    array. (x - max) - log_s, in this order, keeps float32 exact for huge logits, as torch."""
    p = np.subtract(x, xmax)
    p -= log_s
    return np.exp(p, out=p)


class CrossEntropy(Primitive):
    """Fused log_softmax + nll (+ label smoothing) for class-index targets.

    x (M, C), target (M,) integers, weight (C,) array or None. Per row i, with y = target[i],
    w_y = weight[y] (0 if y == ignore_index), eps = label_smoothing, lse = logsumexp(x_i):
        loss_i = (1 - eps) * w_y * (lse - x_iy) + eps / C * sum_c w_c * (lse - x_ic)
    'mean' divides the sum by sum_i w_y (PyTorch's rule, also for the smoothing term).
    d loss_i / d x_i = (1 - eps) w_y (p_i - onehot(y)) + eps / C (p_i sum_c w_c - w),
    with p_i = softmax(x_i): the fused gradient is (softmax - onehot) * scale.
    """

    @staticmethod
    def forward(ctx: Any, x: Any, target: Any, weight: Any, ignore_index: Any, reduction: Any,
                label_smoothing: Any) -> Any:
        m, c = x.shape
        # the max of each row, for a stable exp, reduced along the long axis: NumPy's max of
        # short rows (C < 64) is slower than a transposed copy and a max down its columns, but
        # for a vocabulary of 10k that copy took 10.6 ms, max(1) 1 ms ((700, 10k) float32)
        if not c:
            xmax = np.zeros((m, 1), x.dtype)
        elif c >= 64:
            xmax = x.max(1)[:, None]
        else:
            xmax = np.ascontiguousarray(x.T).max(0)[:, None]
        e = np.subtract(x, xmax)
        s = np.exp(e, out=e).sum(1)
        log_s = np.log(s)
        lse = log_s + xmax[:, 0]  # logsumexp of each row, without overflow
        # the usual case, every target a class and none ignored, takes one check
        lo, hi = (int(np.minimum.reduce(target)), int(np.maximum.reduce(target))) if m else (0, 0)
        if 0 <= lo and hi < c and not lo <= ignore_index <= hi:
            valid, all_valid, t = _ones(m, bool), True, target
        else:
            valid = target != ignore_index
            all_valid = bool(valid.all())
            t = target if all_valid else np.where(valid, target, 0)
            if m and (t.min() < 0 or t.max() >= c):
                raise IndexError(f"Target {int(t[(t < 0) | (t >= c)][0])} is out of bounds.")
        eps = label_smoothing
        # the usual case (no weight, nothing ignored, no smoothing) has every w_y = 1
        wy = None if weight is None and all_valid else (
            valid.astype(x.dtype) if weight is None else weight[t] * valid)
        loss = lse - x[np.arange(m), t]
        if wy is not None:
            loss *= wy
        wsum = c if weight is None else weight.sum()
        if eps > 0:
            dot = x.sum(1) if weight is None else x @ weight  # sum_c w_c x_ic
            loss = (1 - eps) * loss + (eps / c) * (lse * wsum - dot) * valid
        denom = (m if wy is None else wy.sum()) if reduction == "mean" else None
        # softmax = exp(x - lse), formed again in backward: x and each row's lse (as max and
        # log_s) are kept, not the exponentials (M, C): torch keeps as little (peak memory)
        ctx.save_for_backward(x)
        ctx.shift = xmax, log_s[:, None]
        ctx.t, ctx.valid, ctx.wy, ctx.weight, ctx.wsum = t, valid, wy, weight, wsum
        ctx.denom, ctx.reduction, ctx.eps = denom, reduction, eps
        if reduction == "none":
            return loss.astype(x.dtype, copy=False)
        out = np.add.reduce(loss)
        if reduction == "mean" and denom:
            out = out / denom
        elif reduction == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):  # all ignored: nan, as torch
                out = out / denom
        return np.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        m, c = x.shape
        eps, weight, valid, t = ctx.eps, ctx.weight, ctx.valid, ctx.t
        on_arrays = isinstance(grad, np.ndarray)
        dt = x.dtype if on_arrays else x._data.dtype
        if on_arrays and ctx.wy is None and not eps and m:  # usual: (softmax - onehot) * r
            # denom = m > 0, as a 0-d array: NumPy divides by a Python int more slowly
            rv = grad / np.array(ctx.denom, grad.dtype) if ctx.reduction == "mean" else grad
            gx = _softmax_from_lse(x, *ctx.shift)
            gx *= np.reshape(rv, (-1, 1)).astype(dt, copy=False)
            gx[np.arange(m), t] -= rv
            return gx
        wy = _ones(m, dt) if ctx.wy is None else ctx.wy
        a = (1 - eps) * wy + (eps / c) * ctx.wsum * valid if eps else wy  # coefficient of p_i
        # ignored rows get exactly 0, whatever the upstream gradient (even nan), as in torch
        if not on_arrays:  # create_graph: every step differentiable in x
            r = grad
            if ctx.reduction == "mean":
                r = grad / ctx.denom if ctx.denom else grad * 0
            if ctx.wy is not None:
                r = Where.apply(valid, r, 0.0)
            b = np.zeros((m, c), dtype=dt)
            b[np.arange(m), t] = (1 - eps) * wy
            if eps > 0:
                b += (eps / c) * valid[:, None] * (1 if weight is None else weight)
            coef = a.astype(dt)[:, None] * Softmax.apply(x, 1) - b
            return (r.reshape(-1, 1) if r.ndim else r) * coef
        # on arrays: softmax = e / s from forward, and the one-hot part subtracted in place
        with np.errstate(divide="ignore", invalid="ignore"):
            rv = grad / ctx.denom if ctx.reduction == "mean" else grad
        rv = np.where(valid, rv, 0).astype(dt, copy=False)  # (M,)
        gx = _softmax_from_lse(x, *ctx.shift)
        gx *= (a * rv).astype(dt)[:, None]
        gx[np.arange(m), t] -= (1 - eps) * wy * rv
        if eps > 0:
            gx -= ((eps / c) * valid * rv)[:, None] * (1 if weight is None else weight)
        return gx.astype(dt, copy=False)


class NllLoss(Primitive):
    """-x[i, t_i] * w_i for the rows of x (M, C), reduced: 'none', 'sum', or 'mean' (divided by
    sum_i w_i, torch's rule). ``w`` (M,) is each row's weight, 0 where ``valid`` is False (an
    ignored target, whose gradient is exactly 0, as torch's). x's gradient, -grad * w_i at
    (i, t_i), is constant in x but tied to it (anchor), as torch's fused backward keeps it in
    the graph under create_graph; the tie is made in backward only when it builds a graph."""

    @staticmethod
    def forward(ctx: Any, x: Any, target: Any, w: Any, valid: Any, reduction: Any) -> Any:
        ctx.save_for_backward(x)  # only to tie x's gradient to it
        ctx.shape, ctx.index = x.shape, (np.arange(x.shape[0]), target)
        ctx.w, ctx.valid, ctx.reduction = w, valid, reduction
        loss = -(x[ctx.index] * w)
        if reduction == "none":
            return loss
        total = np.add.reduce(loss)
        if reduction == "mean":
            ctx.wsum = np.add.reduce(w)
            with np.errstate(divide="ignore", invalid="ignore"):  # all ignored: nan, as torch
                total = total / ctx.wsum
        return np.asarray(total, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        if ctx.reduction == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                grad = grad / ctx.wsum
        g = Where.apply(ctx.valid, -(grad * ctx.w), 0.0)
        return anchor(IndexAddZeros.apply(g, ctx.shape, ctx.index), x)


class BinaryCrossEntropy(Primitive):
    """Pointwise -(t log(x) + (1 - t) log(1 - x)), each log clamped at -100 as in PyTorch.

    d/dx = (x - t) / max(x (1 - x), eps); d/dt = log(1 - x) - log(x) (clamped logs)."""

    EPSILON = float(np.float32(1e-12))  # PyTorch's constant is a C float

    @staticmethod
    def forward(ctx: Any, x: Any, t: Any) -> Any:
        if np.any((x < 0) | (x > 1)):
            raise RuntimeError("all elements of input should be between 0 and 1")
        ctx.save_for_backward(x, t)
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        return (t - 1) * log_1mx - t * log_x

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, t = ctx.saved_like(grad)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = grad * (x - t) / Clamp.apply((1 - x) * x, BinaryCrossEntropy.EPSILON, None)
        if ctx.needs_input_grad[1]:
            gt = grad * (Clamp.apply(Log1p.apply(-x), -100.0, None)
                         - Clamp.apply(Log.apply(x), -100.0, None))
        return gx, gt
