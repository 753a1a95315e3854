"""Normalization primitives: layer_norm and rms_norm over the trailing dims, fused; the bias
of the norms written as composites (batch_norm, instance_norm).

As composites they cost about ten passes over memory each way and keep four intermediates for
backward; as primitives they keep what PyTorch keeps (the input and one or two numbers per row)
and, with numba, run one loop over each row. Rows are the leading dims flattened:
x (..., *normalized_shape) -> (M, N).

Backward formulas run on arrays, or on Tensors under create_graph: then the row statistics are
recomputed from x with differentiable ops, so that second derivatives see how they depend on x.
"""

from __future__ import annotations

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


class ChannelBias(Primitive):
    """out + b, one bias per channel (dim 1), for a norm of ``x`` written as a composite. b's
    gradient, grad summed over all dims but 1, is constant in x but tied to it (anchor), as
    torch's fused norms keep it in the graph under create_graph (a zero second derivative);
    the tie is made in backward only when it builds a graph, so forward is one add."""

    @staticmethod
    def forward(ctx: Any, out: Any, b: Any, x: Any) -> Any:
        ctx.save_for_backward(x)  # only to tie b's gradient to it
        ctx.dims = (0, *range(2, out.ndim))
        return out + b.reshape(-1, *[1] * (out.ndim - 2))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        gb = anchor(grad.sum(ctx.dims), x) if ctx.needs_input_grad[1] else None
        return grad, gb, None
