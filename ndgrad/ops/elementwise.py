"""Elementwise primitives: forward on NumPy arrays, backward in differentiable Tensor ops.

Broadcasting is not handled here: binary ops return gradients of the output's shape and the
engine sums them down to each input's shape. Inputs may be Python numbers (``x * 2``); their
gradient is simply not asked for.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad.autograd.function import Function
from ndgrad.ops._erf import erf as _erf


class Primitive(Function):
    """A built-in op: ``forward`` works on NumPy arrays (see Function)."""

    array_io = True


# -- arithmetic ------------------------------------------------------------------------------
class Add(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        return np.add(x, y)

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        return np.subtract(x, y)

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad


class Mul(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        # save only what is needed, so that y.mul_(2) on a non-leaf y stays legal
        ctx.save_for_backward(y if ctx.needs_input_grad[0] else None,
                              x if ctx.needs_input_grad[1] else None)
        return np.multiply(x, y)

    @staticmethod
    def backward(ctx, grad):
        y, x = ctx.saved_tensors
        return (grad * y if ctx.needs_input_grad[0] else None,
                grad * x if ctx.needs_input_grad[1] else None)


class Div(Primitive):
    """d(x/y) = 1/y dx - x/y^2 dy."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, y)
        return np.true_divide(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        gx = grad / y if ctx.needs_input_grad[0] else None
        gy = -grad * x / (y * y) if ctx.needs_input_grad[1] else None
        return gx, gy


class Pow(Primitive):
    """d(x^y) = y x^(y-1) dx + x^y log(x) dy."""

    @staticmethod
    def forward(ctx, x, y):
        out = np.power(x, y)
        ctx.save_for_backward(x, y, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y, out = ctx.saved_tensors
        gx = gy = None
        if ctx.needs_input_grad[0]:
            if isinstance(y, int | float) and y == 0:
                gx = grad * 0
            else:
                gx = grad * y * x ** (y - 1)
        if ctx.needs_input_grad[1]:
            logx = math.log(x) if isinstance(x, int | float) else x.log()
            gy = grad * out * logx
            if not isinstance(x, int | float):  # torch: 0^y has zero gradient wrt y for y >= 0
                gy = gy.masked_fill((x == 0) & (y >= 0), 0.0)
        return gx, gy


class Neg(Primitive):
    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Remainder(Primitive):
    """x mod y (sign of y, like Python and torch); d/dx = 1, d/dy = -floor(x/y)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.mod(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        gy = -grad * (x / y).floor() if ctx.needs_input_grad[1] else None
        return grad, gy


# -- unary math ------------------------------------------------------------------------------
class Exp(Primitive):
    @staticmethod
    def forward(ctx, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


class Expm1(Primitive):
    @staticmethod
    def forward(ctx, x):
        out = np.expm1(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out + 1)


class Log(Primitive):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Log1p(Primitive):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (x + 1)


class Sqrt(Primitive):
    @staticmethod
    def forward(ctx, x):
        out = np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad / (out * 2)


class Sin(Primitive):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.cos()


class Cos(Primitive):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return -grad * x.sin()


class Tan(Primitive):
    @staticmethod
    def forward(ctx, x):
        out = np.tan(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out * out + 1)


class Tanh(Primitive):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out)


class Sigmoid(Primitive):
    """A primitive for stability: 1/(1+exp(-x)) overflows for large negative x."""

    @staticmethod
    def forward(ctx, x):
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * (1 - out)


class Erf(Primitive):
    """d erf(x) = 2/sqrt(pi) exp(-x^2) dx."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _erf(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (2 / math.sqrt(math.pi)) * (-(x * x)).exp()


class Relu(Primitive):
    @staticmethod
    def forward(ctx, x):
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out > 0)


class Abs(Primitive):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.sign()


class _ZeroGrad(Primitive):
    """Piecewise-constant ops (floor, sign, ...): differentiable, with gradient zero."""

    fn: Any = None

    @classmethod
    def forward(cls, ctx, x):
        return cls.fn(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0


class Floor(_ZeroGrad):
    fn = np.floor


class Ceil(_ZeroGrad):
    fn = np.ceil


class Trunc(_ZeroGrad):
    fn = np.trunc


class Round(_ZeroGrad):
    fn = np.round  # half to even, as torch.round


class Sign(_ZeroGrad):
    fn = np.sign


# -- selection -------------------------------------------------------------------------------
class Maximum(Primitive):
    """Gradient goes to the larger input; ties split it half and half (as torch does)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.maximum(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        w = (x > y) + (x == y) * 0.5
        return grad * w, grad * (1 - w)


class Minimum(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.minimum(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        w = (x < y) + (x == y) * 0.5
        return grad * w, grad * (1 - w)


class Where(Primitive):
    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.save_for_backward(cond)
        return np.where(cond, x, y)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        zero = grad * 0
        return None, grad.where(cond, zero), zero.where(cond, grad)


class Clamp(Primitive):
    """Gradient passes where min <= x <= max (bounds included, as in torch)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x, lo, hi)
        out = x
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        return out if out is not x else x.copy()

    @staticmethod
    def backward(ctx, grad):
        x, lo, hi = ctx.saved_tensors
        keep = None
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = (x <= hi) if keep is None else keep & (x <= hi)
        gx = grad * keep if keep is not None else grad
        glo = grad * (x < lo) if ctx.needs_input_grad[1] else None
        ghi = grad * (x > hi) if ctx.needs_input_grad[2] else None
        return gx, glo, ghi


class Cast(Primitive):
    """Change dtype; the gradient is cast back by the engine."""

    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class Clone(Primitive):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad
