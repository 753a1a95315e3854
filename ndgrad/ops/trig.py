"""Inverse trigonometric and hyperbolic primitives, atan2, hypot and sinc: forward on NumPy
arrays, backward one formula (torch's, from its derivatives.yaml) that runs on arrays or, under
create_graph, on Tensors. Sin, Cos, Tan and Tanh live in elementwise.py with the other
everyday math.

At the edges of a domain the formulas give what torch's give: asin'(1) = 1/sqrt(0) = inf,
atan2'(0, 0) = 0, sinc'(0) = 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad._helpers import as_ndarray
from ndgrad.ops.base import Primitive
from ndgrad.ops.elementwise import Cos, Sin, Sqrt, Where


def _rsqrt(v: Any) -> Any:
    return 1 / Sqrt.apply(v)


class Asin(Primitive):
    """d asin(x) = dx / sqrt(1 - x^2)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.arcsin(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * _rsqrt(1 - x * x)


class Acos(Primitive):
    """d acos(x) = -dx / sqrt(1 - x^2)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.arccos(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return -grad * _rsqrt(1 - x * x)


class Atan(Primitive):
    """d atan(x) = dx / (1 + x^2)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.arctan(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad / (x * x + 1)


class Atan2(Primitive):
    """atan2(y, x), the angle of the point (x, y): d = (x dy - y dx) / (x^2 + y^2), and 0 at
    the origin."""

    @staticmethod
    def forward(ctx: Any, y: Any, x: Any) -> Any:
        ctx.save_for_backward(y, x)
        return np.arctan2(y, x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        y, x = ctx.saved_like(grad)
        norm2 = y * y + x * x
        recip = Where.apply(norm2 == 0, 0.0, 1 / norm2)  # torch: 0 at the origin, not nan
        return (grad * x * recip if ctx.needs_input_grad[0] else None,
                grad * -y * recip if ctx.needs_input_grad[1] else None)


class Sinh(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.sinh(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * Cosh.apply(x)


class Cosh(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.cosh(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * Sinh.apply(x)


class Asinh(Primitive):
    """d asinh(x) = dx / sqrt(x^2 + 1)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.arcsinh(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * _rsqrt(x * x + 1)


class Acosh(Primitive):
    """d acosh(x) = dx / sqrt(x^2 - 1)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.arccosh(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * _rsqrt(x * x - 1)


class Atanh(Primitive):
    """d atanh(x) = dx / (1 - x^2)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.arctanh(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad / (1 - x * x)


class Hypot(Primitive):
    """sqrt(x^2 + y^2) without overflow: d = (x dx + y dy) / hypot(x, y)."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        out = as_ndarray(np.hypot(x, y))
        # each input only for its own gradient, as torch's: y.add_(1) after x.hypot(y) with
        # only x requiring grad stays legal
        ctx.save_for_backward(x if ctx.needs_input_grad[0] else None,
                              y if ctx.needs_input_grad[1] else None, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y, out = ctx.saved_like(grad)
        return (grad * x / out if ctx.needs_input_grad[0] else None,
                grad * y / out if ctx.needs_input_grad[1] else None)


class Sinc(Primitive):
    """sin(pi x) / (pi x), 1 at 0; d = (pi x cos(pi x) - sin(pi x)) / (pi x^2), and 0 where
    pi x^2 is 0 (torch's mask: x^2 underflows to 0 for |x| below 1e-154 too)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        px = x * x.dtype.type(math.pi)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.sin(px) / px
        return np.where(x == 0, x.dtype.type(1), out).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        px = x * math.pi
        pxx = x * x * math.pi
        d = (px * Cos.apply(px) - Sin.apply(px)) / pxx
        return Where.apply(pxx == 0, 0.0, grad * d)
