"""Elementwise primitives on a float's representation and on pairs of numbers: logaddexp,
copysign, nan_to_num, frexp/ldexp, nextafter, and fmax/fmin (maximum and minimum that ignore
nan). Forward on NumPy arrays beside backward, as in ``ops/elementwise.py``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad._helpers import as_ndarray
from ndgrad.ops.base import Primitive
from ndgrad.ops.elementwise import Exp, Where, ZerosLike


class LogAddExp(Primitive):
    """log(e^x + e^y) without overflow; d/dx = 1 / (1 + e^(y - x)) (torch's formula: nan
    where both are the same infinity)."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x, y)
        return np.logaddexp(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        return (grad / (Exp.apply(y - x) + 1) if ctx.needs_input_grad[0] else None,
                grad / (Exp.apply(x - y) + 1) if ctx.needs_input_grad[1] else None)


class LogAddExp2(Primitive):
    """log2(2^x + 2^y); d/dx = 1 / (1 + 2^(y - x))."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x, y)
        return np.logaddexp2(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        return (grad / (2.0 ** (y - x) + 1) if ctx.needs_input_grad[0] else None,
                grad / (2.0 ** (x - y) + 1) if ctx.needs_input_grad[1] else None)


class Copysign(Primitive):
    """|x| with the sign of y (of -0.0 too); d/dx = copysign(1, x) * copysign(1, y), 0 at
    x == 0; y gets a zero gradient."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        out = as_ndarray(np.copysign(x, y))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        gx = grad * Where.apply(x == 0, 0.0, out / x) if ctx.needs_input_grad[0] else None
        return gx, ZerosLike.apply(grad) if ctx.needs_input_grad[1] else None


class NanToNum(Primitive):
    """nan, inf and -inf replaced by numbers; the gradient passes where x is finite."""

    @staticmethod
    def forward(ctx: Any, x: Any, nan: Any, posinf: Any, neginf: Any) -> Any:
        ctx.save_for_backward(x)
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * (abs(x) < math.inf), None, None, None  # finite: not nan, not +-inf


class Frexp(Primitive):
    """The mantissa m of x = m * 2^e (0.5 <= |m| < 1); dm = dx / 2^e."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        mantissa, exponent = np.frexp(x)
        ctx.save_for_backward(np.exp2(exponent).astype(x.dtype))
        return mantissa

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (scale,) = ctx.saved_like(grad)
        return grad / scale


class FMax(Primitive):
    """maximum that ignores nan (a nan loses to a number). The gradient goes to x where
    x >= y or y is nan (ties to x, as torch's fmax), else to y."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x, y)
        return np.fmax(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        to_x = (x >= y) | (y != y)  # y != y: y is nan
        return Where.apply(to_x, grad, 0.0), Where.apply(to_x, 0.0, grad)


class FMin(Primitive):
    """minimum that ignores nan; the gradient goes to x where x <= y or y is nan."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x, y)
        return np.fmin(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        to_x = (x <= y) | (y != y)
        return Where.apply(to_x, grad, 0.0), Where.apply(to_x, 0.0, grad)


class NextAfter(Primitive):
    """The next floating-point number after x toward y: a step too small to see, so torch
    passes the gradient to x as it is (0 where x == y, where the result is y), and gives y
    zero."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x, y)
        return np.nextafter(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        return Where.apply(x != y, grad, 0.0), ZerosLike.apply(grad)


class Ldexp(Primitive):
    """x * 2^y; d/dx = 2^y, d/dy = out * log(2)."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        # 2^y in two halves: x * 2^y may be a number where 2^y is not (a mantissa of frexp
        # times 2^1024); exact for an integer y, as each factor is a power of two
        half = np.where(np.isfinite(y), np.floor(y / 2), 0)
        out = as_ndarray(x * np.exp2(half) * np.exp2(y - half))
        ctx.save_for_backward(y, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        y, out = ctx.saved_like(grad)
        return (grad * 2.0 ** y if ctx.needs_input_grad[0] else None,
                grad * out * math.log(2.0) if ctx.needs_input_grad[1] else None)
