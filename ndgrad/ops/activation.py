"""Activations that are linear between kinks: leaky_relu (and rrelu), prelu, hardtanh,
threshold, hardshrink, softshrink. Each backward is grad times the slope at x (PiecewiseGrad), with
PyTorch's choice of slope at the kinks themselves, and stays in the graph under create_graph
with a zero second derivative, as PyTorch's.

The slopes are written with comparisons and Where, so that the same formula runs on arrays
and, under create_graph, on Tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.ops.base import Primitive, anchor
from ndgrad.ops.elementwise import PiecewiseGrad, Where


class LeakyRelu(Primitive):
    """x where x > 0, else slope * x; ``slope`` a number, or an array (rrelu's random slopes).
    The slope at 0 is the negative side's, as PyTorch's."""

    @staticmethod
    def forward(ctx: Any, x: Any, slope: Any) -> Any:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return np.where(x > 0, x, x * slope).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return PiecewiseGrad.apply(grad, x, Where.apply(x > 0, 1.0, ctx.slope)), None


class Prelu(Primitive):
    """x where x > 0, else w * x; w broadcasts to x (one weight, or one per channel). x's
    gradient, grad where x > 0 else grad * w, is tied to x (anchor): with a constant w it is
    constant in x, but torch's fused backward keeps it in the graph under create_graph. w's,
    grad * x where x <= 0, the engine sums to w's shape."""

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any) -> Any:
        ctx.save_for_backward(x, w)
        return np.where(x > 0, x, x * w)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, w = ctx.saved_like(grad)
        pos = x > 0
        gx = anchor(Where.apply(pos, grad, grad * w), x) if ctx.needs_input_grad[0] else None
        gw = Where.apply(pos, 0.0, grad * x) if ctx.needs_input_grad[1] else None
        return gx, gw


class Hardtanh(Primitive):
    """clamp(x, lo, hi); slope 1 strictly inside, 0 at the bounds, outside and at nan (as
    PyTorch's vectorized hardtanh_backward)."""

    @staticmethod
    def forward(ctx: Any, x: Any, lo: Any, hi: Any) -> Any:
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return PiecewiseGrad.apply(grad, x, (x > ctx.lo) & (x < ctx.hi)), None, None


class Threshold(Primitive):
    """x where x > threshold, else value; slope 0 where x <= threshold."""

    @staticmethod
    def forward(ctx: Any, x: Any, threshold: Any, value: Any) -> Any:
        ctx.save_for_backward(x)
        ctx.threshold = threshold
        return np.where(x <= threshold, value, x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return PiecewiseGrad.apply(grad, x, ~(x <= ctx.threshold)), None, None


class Shrink(Primitive):
    """hardshrink (x outside [-lambd, lambd], else 0) or softshrink (the same, moved lambd
    toward 0); slope 0 inside the band, bounds included, and at nan (as PyTorch's)."""

    @staticmethod
    def forward(ctx: Any, x: Any, lambd: Any, soft: Any) -> Any:
        ctx.save_for_backward(x)
        ctx.lambd = lambd
        inside = (x >= -lambd) & (x <= lambd)
        if soft:
            shifted = np.where(x > lambd, x - lambd, x + lambd)
            return np.where(inside, 0, shifted).astype(x.dtype, copy=False)
        return np.where(inside, 0, x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        outside = (x < -ctx.lambd) | (x > ctx.lambd)
        return PiecewiseGrad.apply(grad, x, outside), None, None


__all__ = ["LeakyRelu", "Hardtanh", "Threshold", "Shrink"]
