"""Normalization primitives, fused: layer_norm and rms_norm over the trailing dims, and
batch_norm per channel (instance_norm is batch_norm over (1, N * C, *spatial)).

As composites they cost about ten passes over memory each way and keep four intermediates for
backward; as primitives they keep what PyTorch keeps (the input and one or two numbers per row)
and, with numba, run one loop over each row. Rows are the leading dims flattened:
x (..., *normalized_shape) -> (M, N); batch_norm's channels are x (N, C, *spatial) -> (N, C, S).

Backward formulas run on arrays, or on Tensors under create_graph: then the row statistics are
recomputed from x with differentiable ops, so that second derivatives see how they depend on x.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad.ops._numba import kernels_for
from ndgrad.ops.base import Primitive, anchor


def _rows(x: Any, n: int) -> Any:
    """x as (M, N) rows of the N normalized elements."""
    return x.reshape(-1, n)


def _row_mean(x2: np.ndarray) -> np.ndarray:
    """The mean of each row of a 2-d array, (M, 1): a matrix-vector product (one BLAS call)
    reads the rows faster than NumPy's reduction along a short last axis."""
    n = x2.shape[1]
    if n == 0 or not x2.flags.c_contiguous:
        return x2.mean(1, keepdims=True)
    ones = np.full((n, 1), 1 / n, x2.dtype)
    return x2 @ ones


def _unflatten(g: Any, shape: Any) -> Any:
    return None if g is None else g.reshape(shape)


class LayerNorm(Primitive):
    """y = (x - mean) / sqrt(var + eps) * w + b over the last N elements (biased var).

    With xhat = (x - mean) * rstd and gh = grad * w:
    dx = rstd (gh - mean(gh) - xhat mean(gh xhat)),  dw = sum_rows(grad xhat),
    db = sum_rows(grad)."""

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any, *, n: Any, eps: Any) -> Any:
        ctx.save_for_backward(x, w)
        ctx.n, ctx.eps = n, eps
        ctx.affine_shape = next((a.shape for a in (w, b) if a is not None), None)
        x2 = _rows(x, n)
        wf = None if w is None else w.reshape(-1)
        bf = None if b is None else b.reshape(-1)
        k = kernels_for(*[a for a in (x2, wf, bf) if a is not None]) if x2.size else None
        if k is not None:
            out = np.empty_like(x2)
            mean = np.empty(x2.shape[0], x2.dtype)
            rstd = np.empty(x2.shape[0], x2.dtype)
            k.layer_norm(x2, wf, bf, eps, out, mean, rstd)
            ctx.mean, ctx.rstd = mean[:, None], rstd[:, None]
            return out.reshape(x.shape)
        mean = _row_mean(x2)
        out = x2 - mean
        var = _row_mean(out * out)
        var += eps
        rstd = np.sqrt(var, out=var)
        np.divide(1, rstd, out=rstd)
        out *= rstd
        if wf is not None:
            out *= wf
        if bf is not None:
            out += bf
        ctx.mean, ctx.rstd = mean, rstd
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, w = ctx.saved_like(grad)
        n = ctx.n
        need_x, need_w, need_b = ctx.needs_input_grad
        x2, g2 = _rows(x, n), _rows(grad, n)
        wf = None if w is None else w.reshape(-1)
        on_arrays = isinstance(grad, np.ndarray)
        k = kernels_for(*[a for a in (x2, g2, wf) if a is not None]) if on_arrays else None
        if k is not None and x2.size:
            gx = np.empty_like(x2) if need_x else None
            gw = np.zeros(n, np.float64) if need_w else None
            gb = np.zeros(n, np.float64) if need_b else None
            k.layer_norm_backward(g2, x2, ctx.mean[:, 0], ctx.rstd[:, 0], wf, gx, gw, gb)
            return (None if gx is None else gx.reshape(x.shape),
                    None if gw is None else gw.astype(x.dtype).reshape(ctx.affine_shape),
                    None if gb is None else gb.astype(x.dtype).reshape(ctx.affine_shape))
        if on_arrays:
            mean, rstd = ctx.mean, ctx.rstd
        else:  # create_graph: the statistics as differentiable functions of x
            mean = x2.mean(1).reshape(-1, 1)
            xc = x2 - mean
            rstd = ((xc * xc).mean(1).reshape(-1, 1) + ctx.eps) ** -0.5
        xhat = (x2 - mean) * rstd
        gh = g2 if wf is None else g2 * wf
        gx = None
        if need_x:
            gx = (gh - gh.mean(1).reshape(-1, 1) - xhat * (gh * xhat).mean(1).reshape(-1, 1))
            gx = (gx * rstd).reshape(x.shape)
        gw = (g2 * xhat).sum(0) if need_w else None
        gb = anchor(g2.sum(0), x, w) if need_b else None  # constant in x and w
        return gx, _unflatten(gw, ctx.affine_shape), _unflatten(gb, ctx.affine_shape)


class RMSNorm(Primitive):
    """y = x / sqrt(mean(x^2) + eps) * w over the last N elements.

    With xhat = x * rstd and gh = grad * w: dx = rstd (gh - xhat mean(gh xhat)),
    dw = sum_rows(grad xhat)."""

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, *, n: Any, eps: Any) -> Any:
        ctx.save_for_backward(x, w)
        ctx.n, ctx.eps = n, eps
        x2 = _rows(x, n)
        wf = None if w is None else w.reshape(-1)
        k = kernels_for(*[a for a in (x2, wf) if a is not None]) if x2.size else None
        if k is not None:
            out = np.empty_like(x2)
            rstd = np.empty(x2.shape[0], x2.dtype)
            k.rms_norm(x2, wf, eps, out, rstd)
            ctx.rstd = rstd[:, None]
            return out.reshape(x.shape)
        ms = _row_mean(x2 * x2)
        ms += eps
        rstd = np.sqrt(ms, out=ms)
        np.divide(1, rstd, out=rstd)
        out = x2 * rstd
        if wf is not None:
            out *= wf
        ctx.rstd = rstd
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, w = ctx.saved_like(grad)
        n = ctx.n
        need_x, need_w = ctx.needs_input_grad
        x2, g2 = _rows(x, n), _rows(grad, n)
        wf = None if w is None else w.reshape(-1)
        on_arrays = isinstance(grad, np.ndarray)
        k = kernels_for(*[a for a in (x2, g2, wf) if a is not None]) if on_arrays else None
        if k is not None and x2.size:
            gx = np.empty_like(x2) if need_x else None
            gw = np.zeros(n, np.float64) if need_w else None
            k.rms_norm_backward(g2, x2, ctx.rstd[:, 0], wf, gx, gw)
            return (None if gx is None else gx.reshape(x.shape),
                    None if gw is None else gw.astype(x.dtype).reshape(w.shape))
        if on_arrays:
            rstd = ctx.rstd
        else:  # create_graph: rstd as a differentiable function of x
            rstd = ((x2 * x2).mean(1).reshape(-1, 1) + ctx.eps) ** -0.5
        xhat = x2 * rstd
        gh = g2 if wf is None else g2 * wf
        gx = None
        if need_x:
            gx = ((gh - xhat * (gh * xhat).mean(1).reshape(-1, 1)) * rstd).reshape(x.shape)
        gw = (g2 * xhat).sum(0) if need_w else None
        return gx, _unflatten(gw, None if w is None else w.shape)


def _channels(x: Any) -> Any:
    """x (N, C, *spatial) as (N, C, S): a channel's elements are [:, c, :]. (S is counted,
    not -1: an empty batch has no size to infer it from.)"""
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def _channel_sum(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """sum over (N, S) of a (or of a * b) per channel, (C,): einsum reads (N, C, S) in place,
    without the transposed copy or the temporary product that sum(axis=(0, 2)) would make."""
    return np.einsum("ncs->c", a) if b is None else np.einsum("ncs,ncs->c", a, b)


class BatchNorm(Primitive):
    """y = (x - mean) * rstd * w + b per channel (dim 1) of x (N, C, *spatial), with the
    batch's mean and biased variance over (N, *spatial) (training) or given ones (``stats``,
    the running statistics in evaluation); rstd = 1 / sqrt(var + eps).

    In training, ``running`` = (running_mean, running_var, momentum) arrays are updated in
    place, as torch's native_batch_norm does: running = (1 - momentum) running + momentum stat,
    the variance unbiased. With M = N * prod(spatial), xhat = (x - mean) rstd and g = grad:
    dx = w rstd / M (M g - sum(g) - xhat sum(g xhat)) in training, w rstd g in evaluation;
    dw = sum(g xhat), db = sum(g), the sums per channel."""

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any, *, eps: Any, stats: Any = None,
                running: Any = None) -> Any:
        ctx.save_for_backward(x, w)
        ctx.eps, ctx.training = eps, stats is None
        x3 = _channels(x)  # (N, C, S)
        m = x3.shape[0] * x3.shape[2]
        wf = None if w is None else w.reshape(-1)
        bf = None if b is None else b.reshape(-1)
        k = kernels_for(*[a for a in (x3, wf, bf) if a is not None]) if x3.size else None
        xc = None  # x - mean, when the NumPy path made it
        if stats is None and m == 0:  # an empty batch: nothing to normalize or track
            mean, var = np.zeros(x3.shape[1], x.dtype), np.ones(x3.shape[1], x.dtype)
        elif stats is None:
            if k is not None:
                mean, var = np.empty(x3.shape[1], x.dtype), np.empty(x3.shape[1], x.dtype)
                k.batch_norm_stats(x3, mean, var)
            else:
                mean = _channel_sum(x3) / m
                xc = x3 - mean[:, None]
                var = _channel_sum(xc, xc) / m
            if running is not None:
                running_mean, running_var, momentum = running
                _update_running(running_mean, running_var, momentum, mean, var * (m / (m - 1)))
        else:
            # copies: backward reads the statistics this forward used
            mean, var = (np.array(s, x.dtype).reshape(-1) for s in stats)
        rstd = 1 / np.sqrt(var + eps)
        scale = rstd if wf is None else rstd * wf
        ctx.mean, ctx.rstd = mean, rstd
        if k is not None:
            out = np.empty_like(x3)
            k.batch_norm(x3, mean, scale, np.zeros_like(scale) if bf is None else bf, out)
            return out.reshape(x.shape)
        out = x3 - mean[:, None] if xc is None else xc
        out *= scale[:, None]
        if bf is not None:
            out += bf[:, None]
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, w = ctx.saved_like(grad)
        need_x, need_w, need_b = ctx.needs_input_grad
        x3, g3 = _channels(x), _channels(grad)
        m = x3.shape[0] * x3.shape[2]
        wf = None if w is None else w.reshape(-1)
        if isinstance(grad, np.ndarray):
            return BatchNorm._backward_arrays(ctx, x3, g3, wf, m, x.shape)
        shape = (1, -1, 1)
        if ctx.training:  # create_graph: the statistics as differentiable functions of x
            mean = x3.mean((0, 2))
            xc = x3 - mean.reshape(shape)
            rstd = ((xc * xc).mean((0, 2)) + ctx.eps) ** -0.5
        else:  # the running statistics, constants
            mean, rstd = ctx.mean, ctx.rstd
        rstd3 = rstd.reshape(shape)
        xhat = (x3 - mean.reshape(shape)) * rstd3
        gh = g3 if wf is None else g3 * wf.reshape(shape)
        gx = None
        if need_x:
            if ctx.training:
                gx = gh - gh.mean((0, 2)).reshape(shape) - xhat * (gh * xhat).mean(
                    (0, 2)).reshape(shape)
            else:
                gx = gh
            gx = (gx * rstd3).reshape(x.shape)
        gw = (g3 * xhat).sum((0, 2)).reshape(w.shape) if need_w else None
        gb = anchor(g3.sum((0, 2)), x, w) if need_b else None  # constant in x and w
        return gx, gw, gb

    @staticmethod
    def _backward_arrays(ctx: Any, x3: np.ndarray, g3: np.ndarray, wf: np.ndarray | None,
                         m: int, shape: tuple[int, ...]) -> Any:
        """backward on arrays: with numba one pass for the per-channel sums and one for dx;
        in NumPy, the sums by einsum and dx = k g + a (x - mean) + c with k, a, c per
        channel."""
        need_x, need_w, need_b = ctx.needs_input_grad
        mean, rstd = ctx.mean, ctx.rstd
        training = ctx.training and m > 0  # (an empty batch's dx is empty)
        k = rstd if wf is None else rstd * wf  # dy/dx through xhat's numerator: w rstd
        sums = need_w or need_b or need_x and training
        kern = kernels_for(x3, g3, k) if x3.size else None
        if kern is not None:
            acc_g, acc_gxc = np.zeros(x3.shape[1]), np.zeros(x3.shape[1])  # float64
            gx = np.empty_like(x3) if need_x else None
            kern.batch_norm_backward(g3, x3, mean, rstd, k, training, sums, gx, acc_g, acc_gxc)
            dtype = x3.dtype
            return (None if gx is None else gx.reshape(shape),
                    (acc_gxc * rstd).astype(dtype) if need_w else None,
                    acc_g.astype(dtype) if need_b else None)
        sum_g = xc = sum_gxc = None
        if sums:
            sum_g = _channel_sum(g3)
            xc = x3 - mean[:, None]
            sum_gxc = _channel_sum(g3, xc)  # sum(g xhat) / rstd
        gx = None
        if need_x:
            if training:
                assert xc is not None and sum_g is not None and sum_gxc is not None
                # dx = k g - k sum(g) / M - xc k rstd^2 sum(g xc) / M, written into xc
                gx = np.multiply(xc, (-k * rstd * rstd * sum_gxc / m)[:, None], out=xc)
                gx += (-k * sum_g / m)[:, None]
                gx += g3 * k[:, None]
            else:
                gx = g3 * k[:, None]
            gx = gx.reshape(shape)
        gw = None if not need_w or sum_gxc is None else sum_gxc * rstd
        return gx, gw, sum_g if need_b else None


def _update_running(running_mean: np.ndarray | None, running_var: np.ndarray | None,
                    momentum: float, mean: np.ndarray, var: np.ndarray) -> None:
    """running = (1 - momentum) running + momentum stat, in place (torch's update)."""
    for stat, value in ((running_mean, mean), (running_var, var)):
        if stat is not None:
            stat *= 1 - momentum
            stat += momentum * value
