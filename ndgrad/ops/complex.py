"""Complex numbers: real and imaginary parts, conjugate, z/|z|, angle, building from parts.

How gradients of complex tensors are carried. torch's ``.grad`` of a complex z = x + iy is
dL/dx + i dL/dy for a real loss L. Inside the engine ndgrad carries its conjugate, dL/dx -
i dL/dy (the convention of JAX's cotangents). With it, the backward formula of every
holomorphic op (mul, div, matmul, exp, sum, reshape, ...) is the same expression as for real
numbers, ``grad * f'(z)``, so the real formulas in ``ops/`` need no change. The engine
conjugates at the edges (the gradient a user passes to backward, ``.grad``, autograd.grad's
results, hooks, users' Functions), and takes the real part where a complex gradient reaches a
real input. Only the non-holomorphic ops below (and abs) need formulas of their own:
for y = f(z) with cotangent h (the conjugate of torch's gradient), the cotangent of z is
h * df/dz + conj(h) * conj(df/dz*).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad.ops.base import Primitive


def _complex(x: Any) -> bool:
    dt = x.dtype
    return (dt.kind if isinstance(dt, np.dtype) else dt.np.kind) == "c"


class Real(Primitive):
    """Re(z); its cotangent goes back unchanged (as the real part of z's)."""

    @staticmethod
    def forward(ctx: Any, z: Any) -> Any:
        return np.ascontiguousarray(z.real)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad


class Imag(Primitive):
    """Im(z) = (z - conj z) / 2i: cotangent -i h."""

    @staticmethod
    def forward(ctx: Any, z: Any) -> Any:
        ctx.dtype = z.dtype
        return np.ascontiguousarray(z.imag)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad * np.asarray(-1j, ctx.dtype)


class Conj(Primitive):
    """conj(z): cotangent conj(h)."""

    @staticmethod
    def forward(ctx: Any, z: Any) -> Any:
        return np.conj(z)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return Conj.apply(grad)


class Complex(Primitive):
    """x + iy from two real tensors. The cotangent of z carries h = hx - i hy, so x gets Re(h)
    and y gets -Im(h)."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        return x + 1j * y.astype(np.result_type(y, np.complex64))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return Real.apply(grad), -Imag.apply(grad)


class Sgn(Primitive):
    """z / |z| (0 at 0). With w = sgn z: dw/dz = 1 / 2|z|, dw/dz* = -w^2 / 2|z|, so the
    cotangent is (h - conj(w)^2 conj(h)) / 2|z|."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, z: Any) -> Any:
        a = np.abs(z)
        out = np.where(a == 0, 0, z / np.where(a == 0, 1, a)).astype(z.dtype)
        ctx.save_for_backward(z, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        z, w = ctx.saved_like(grad)
        a = z.abs()
        wc = w.conj()
        out = (grad - wc * wc * grad.conj()) / (2 * a.masked_fill(a == 0, 1))
        return out.masked_fill(a == 0, 0)


class Angle(Primitive):
    """arg(z) = atan2(Im z, Re z): cotangent -i h conj(z) / |z|^2 (0 at 0); real inputs: 0 or
    pi, gradient 0."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, z: Any) -> Any:
        ctx.save_for_backward(z)
        ctx.complex = z.dtype.kind == "c"
        if not ctx.complex:  # pi for negatives, else 0 (-0.0 too, as torch); nan stays nan
            return np.where(np.isnan(z), z, np.where(z < 0, z.dtype.type(math.pi), 0)
                            ).astype(z.dtype)
        return np.angle(z).astype(z.real.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (z,) = ctx.saved_like(grad)
        if not ctx.complex:
            return grad * 0
        a2 = (z * z.conj()).real
        out = grad * z.conj() * z._make(np.asarray(-1j, z._data.dtype)) / a2.masked_fill(
            a2 == 0, 1)
        return out.masked_fill(a2 == 0, 0)


__all__ = ["Real", "Imag", "Conj", "Complex", "Sgn", "Angle", "_complex"]
