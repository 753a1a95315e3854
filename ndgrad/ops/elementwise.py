"""Elementwise primitives: forward on NumPy arrays; backward one formula that runs on arrays,
or on Tensors (differentiable again) under create_graph (see Function.array_backward).

Broadcasting is not handled here: binary ops return gradients of the output's shape and the
engine sums them down to each input's shape. Inputs may be Python numbers (``x * 2``); their
gradient is simply not asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._helpers import as_ndarray, broadcast_error
from ndgrad.ops._erf import erf as _erf
from ndgrad.ops.base import Primitive, anchor
from ndgrad.ops.complex import Conj, Sgn


# -- arithmetic ------------------------------------------------------------------------------
class Add(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        return np.add(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad, grad


class Sub(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        return np.subtract(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad, -grad


class Mul(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        # save only what is needed, so that y.mul_(2) on a non-leaf y stays legal
        ctx.save_for_backward(y if ctx.needs_input_grad[0] else None,
                              x if ctx.needs_input_grad[1] else None)
        return np.multiply(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        y, x = ctx.saved_like(grad)
        return (grad * y if ctx.needs_input_grad[0] else None,
                grad * x if ctx.needs_input_grad[1] else None)


class Div(Primitive):
    """d(x/y) = 1/y dx - x/y^2 dy."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, y)
        return np.true_divide(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        gx = grad / y if ctx.needs_input_grad[0] else None
        # torch's grouping, x / y / y: y * y would underflow to 0 before x / y does
        gy = -grad * (x / y / y) if ctx.needs_input_grad[1] else None
        return gx, gy


def _int_power(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Integers to an integer tensor power, negative ones included, as torch computes them:
    1 ** -n = 1, (-1) ** -n = +-1 by parity, any other base to a negative power truncates
    to 0."""
    neg = y < 0
    out = np.power(x, np.where(neg, 0, y))
    at_neg = np.where(x == 1, 1, np.where(x == -1, np.where(y % 2 == 0, 1, -1), 0))
    return as_ndarray(np.where(neg, at_neg, out).astype(out.dtype, copy=False))


# torch's CPU kernel runs these Python exponents of a float32/float64 tensor as other ops,
# whose float32 results differ from pow's in the last bit (Karpathy's ``(var + 1e-5)**-0.5``)
_POW_AS: dict[float, Callable[[np.ndarray], np.ndarray]] = {
    0.5: np.sqrt,
    -0.5: lambda x: 1 / np.sqrt(x),  # torch's rsqrt kernel
    -1: np.reciprocal,
    2: lambda x: x * x,
    3: lambda x: x * x * x,
    -2: lambda x: 1 / (x * x),
}


def _power(x: Any, y: Any) -> Any:
    """x ** y, with the exponents in _POW_AS computed as torch computes them."""
    if (isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64)
            and isinstance(y, int | float) and not isinstance(y, bool) and y in _POW_AS):
        return _POW_AS[y](x)
    return np.power(x, y)


class Pow(Primitive):
    """d(x^y) = y x^(y-1) dx + x^y log(x) dy, with torch's conventions where that is 0 * inf:
    the x-gradient is 0 where y == 0, the y-gradient is 0 where x == 0 and y >= 0."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        try:
            out = as_ndarray(_power(x, y))
        except ValueError as e:  # NumPy: "Integers to negative integer powers are not allowed."
            if "broadcast" in str(e):
                raise  # _binary turns it into torch's message naming both sizes
            if not isinstance(y, np.ndarray):  # a Python exponent: torch refuses it too
                raise RuntimeError(str(e)) from None
            out = _int_power(x, y)
        if out.dtype == np.int8 and np.result_type(x, y) == np.bool_:
            out = out.astype(np.bool_)  # NumPy's bool ** bool is int8, torch's is bool
        # a tensor exponent's result is saved whichever gradient is needed, as torch's: changing
        # it in place refuses backward even when only x's is asked for (fuzz seed 7623569)
        ctx.save_for_backward(x, y, None if isinstance(y, int | float) else out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y, out = ctx.saved_like(grad)
        gx = gy = None
        if ctx.needs_input_grad[0]:
            # torch's grouping, grad * (...), so that second derivatives agree at inf and nan;
            # Pow.apply, not **, so that x ** (y - 1) takes _POW_AS on arrays too
            if isinstance(y, int | float):
                gx = ZerosLike.apply(grad) if y == 0 else grad * (y * Pow.apply(x, y - 1))
            else:
                gx = Where.apply(y == 0, 0.0, grad * (y * x ** (y - 1)))
        if ctx.needs_input_grad[1]:
            if isinstance(x, int | float):
                # a Python base: log(0) = -inf and log(negative) = nan, as torch computes them
                logx = math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
                gy = grad * (out * logx) if x != 0 else grad * Where.apply(y >= 0, 0.0, out * logx)
            else:
                gy = grad * Where.apply((x == 0) & (y >= 0), 0.0, out * Log.apply(x))
        return gx, gy


class Neg(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        return np.negative(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return -grad


class ZerosLike(Primitive):
    """Zeros in grad's shape: the gradient of a piecewise-constant op (torch's zeros_like;
    ``grad * 0`` would be nan where grad is inf or nan). Not differentiable, as torch's: under
    create_graph the gradient of ``floor`` does not require grad."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = np.zeros_like(x)
        ctx.mark_non_differentiable(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return None


class Overwrite(Primitive):
    """t's values replaced by v's (v in t's shape and dtype): fill_ and copy_. t's history gets a
    constant zero gradient, as torch's FillBackward (``where(False, t, v)`` made it depend on the
    upstream gradient under create_graph), and v all of it."""

    @staticmethod
    def forward(ctx: Any, t: Any, v: Any) -> Any:
        return np.array(v)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return ZerosLike.apply(grad) if ctx.needs_input_grad[0] else None, grad


def _check_int_divisor(x: np.ndarray, y: Any) -> None:
    if np.asarray(x).dtype.kind in "biu" and np.asarray(y).dtype.kind in "biu" and np.any(
            np.equal(y, 0)):
        raise RuntimeError("ZeroDivisionError: integer division or modulo by zero")


class _Modulo(Primitive):
    """Remainder and Fmod differ only in how the quotient is rounded: fn(x, y) = x - y * q
    with q = quotient(x, y), x / y rounded as ``fn`` rounds it; so d/dx = 1, d/dy = -q."""

    fn: Any = None
    quotient: Any = None  # (x, y) -> x / y rounded, with a zero gradient

    @classmethod
    def forward(cls: Any, ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              y if ctx.needs_input_grad[1] else None)
        if type(x) is not np.ndarray or x.dtype.kind != "f":
            _check_int_divisor(x, y)
        return cls.fn(x, y)

    @classmethod
    def backward(cls: Any, ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        gy = -grad * cls.quotient(x, y) if ctx.needs_input_grad[1] else None
        return grad, gy


class FloorDivide(Primitive):
    """Division rounded down (as Python's //); piecewise constant, so both gradients are zero
    (torch's div(rounding_mode='floor') too)."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        if type(x) is not np.ndarray or x.dtype.kind != "f":
            _check_int_divisor(x, y)
        return np.floor_divide(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return ZerosLike.apply(grad), ZerosLike.apply(grad)


def _trunc_divide(x: Any, y: Any) -> Any:
    if np.result_type(x, y).kind == "f":
        return np.trunc(np.true_divide(x, y))
    q = np.floor_divide(x, y)  # integers: round toward zero, as C's division
    return q + ((np.remainder(x, y) != 0) & ((np.less(x, 0)) != (np.less(y, 0))))


class TruncDivide(Primitive):
    """Division rounded toward zero; both gradients are zero (torch's
    div(rounding_mode='trunc'))."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        if type(x) is not np.ndarray or x.dtype.kind != "f":
            _check_int_divisor(x, y)
        return as_ndarray(_trunc_divide(x, y))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return ZerosLike.apply(grad), ZerosLike.apply(grad)


# -- unary math ------------------------------------------------------------------------------
class Exp(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = as_ndarray(np.exp(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return grad * out


class Expm1(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = as_ndarray(np.expm1(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return grad * (out + 1)


class Log(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad / x


class Log2(Primitive):
    """Its own primitive so that log2(8) is exactly 3 (log(x) / log(2) is not always)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.log2(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad / (x * math.log(2.0))


class Log10(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.log10(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad / (x * math.log(10.0))


class Log1p(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad / (x + 1)


class Sqrt(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = as_ndarray(np.sqrt(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return grad / (out * 2)


class Rsqrt(Primitive):
    """1 / sqrt(x); d = -out^3 / 2 dx (torch's formula, in terms of the output)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = as_ndarray(1 / np.sqrt(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return grad * (out * out * out) * -0.5


class Reciprocal(Primitive):
    """1 / x; d = -out^2 dx."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = as_ndarray(1 / x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return -grad * (out * out)


class Sin(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * Cos.apply(x)


class Cos(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return -grad * Sin.apply(x)


class Tan(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = as_ndarray(np.tan(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return grad * (out * out + 1)


class Tanh(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = as_ndarray(np.tanh(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return grad * (1 - out * out)


class Sigmoid(Primitive):
    """A primitive for stability: 1/(1+exp(-x)) overflows for large negative x."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        if type(grad) is np.ndarray:  # no graph of it wanted: the formula itself
            return grad * (1 - out) * out
        return SigmoidBackward.apply(grad, out)


class SigmoidBackward(Primitive):
    """sigmoid's gradient under create_graph, with torch's derivatives: d/d out is one product,
    gg * grad * (1 - 2 out); the product rule through grad * out * (1 - out) met inf - inf."""

    @staticmethod
    def forward(ctx: Any, grad: Any, out: Any) -> Any:
        ctx.save_for_backward(grad, out)
        return as_ndarray(grad * (1 - out) * out)

    @staticmethod
    def backward(ctx: Any, gg: Any) -> Any:
        grad, out = ctx.saved_like(gg)
        return SigmoidBackward.apply(gg, out), gg * grad * (-2 * out + 1)


class Erf(Primitive):
    """d erf(x) = 2/sqrt(pi) exp(-x^2) dx."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return _erf(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * (2 / math.sqrt(math.pi)) * Exp.apply(-(x * x))


_SCALARS: dict[tuple[float, np.dtype], np.ndarray] = {}


def _scalar(value: float, dtype: np.dtype) -> np.ndarray:
    """A shared read-only 0-d array: NumPy compares against it or clips to it faster than
    against a Python number (no scalar conversion or promotion on every call)."""
    z = _SCALARS.get((value, dtype))
    if z is None:
        z = _SCALARS[(value, dtype)] = np.full((), value, dtype)
        z.flags.writeable = False
    return z


def _relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0), as torch computes it: nan stays nan and -0.0 stays -0.0.

    Floats go through NumPy's clip ufunc with 0-d bounds (0, inf): it has a SIMD loop for that
    case, where maximum against a scalar does not. The result keeps x's memory layout, as
    ufuncs do."""
    if x.dtype.kind != "f":
        return as_ndarray(np.maximum(x, 0))
    return x.clip(_scalar(0.0, x.dtype), _scalar(np.inf, x.dtype))


_SAME_SIZE_INT = {"e": np.int16, "f": np.int32, "d": np.int64}


def _masked(grad: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """grad where mask, else +0.0: np.where(mask, grad, 0), bit for bit.

    For a float grad of mask's shape, this is an AND of grad's bits with 0 or all ones (the
    mask as integers of grad's size, negated): three simple passes, which took 3 us for
    (64, 128) float32 and 0.17 ms for (64, 8, 28, 28), where NumPy's where with a bool mask took
    11 us and 1.46 ms."""
    ints = _SAME_SIZE_INT.get(grad.dtype.char)
    if ints is None or type(grad) is not np.ndarray or type(mask) is not np.ndarray \
            or mask.shape != grad.shape:
        return np.where(mask, grad, _scalar(0.0, grad.dtype))
    bits = mask.astype(ints)
    np.negative(bits, out=bits)
    np.bitwise_and(grad.view(ints), bits, out=bits)
    return bits.view(grad.dtype)


class PiecewiseGrad(Primitive):
    """grad * slope: the gradient of an op that is linear between kinks (relu, leaky_relu,
    hardtanh, threshold, ...), given its slope at x (a mask, an array or a number).

    x is an input only so that under create_graph the gradient stays in the graph with x, as
    PyTorch's threshold_backward and friends do: its derivative in x is zero (the slope is
    constant between the kinks), so gradient-penalty and Hessian code gets zeros, not "does
    not require grad"."""

    @staticmethod
    def forward(ctx: Any, grad: Any, x: Any, slope: Any) -> Any:
        ctx.save_for_backward(x)
        ctx.slope, ctx.x_meta = slope, (np.shape(x), np.result_type(x))
        if np.result_type(slope) == np.bool_:  # a mask selects: an infinite grad * 0 is nan
            out = _masked(grad, slope)
        else:
            out = grad * slope
        return out if out.dtype == grad.dtype else out.astype(grad.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        zeros = anchor(np.zeros(*ctx.x_meta), x) if ctx.needs_input_grad[1] else None
        return PiecewiseGrad.apply(grad, x, ctx.slope), zeros, None


class Relu(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = as_ndarray(_relu(x))  # clip of a 0-d array is a scalar: saved as the output
        ctx.save_for_backward(out)
        ctx.zero = _scalar(0.0, out.dtype) if out.dtype.kind == "f" else 0
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        # passes at nan, as torch's threshold_backward does
        return PiecewiseGrad.apply(grad, out, out != ctx.zero)


class Abs(Primitive):
    """|x|; for complex z the cotangent is h * conj(z / |z|) (see ndgrad/ops/complex.py)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        ctx.complex = x.dtype.kind == "c"
        return np.abs(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        if ctx.complex:
            return grad * Conj.apply(Sgn.apply(x))
        return grad * Sign.apply(x)


class _ZeroGrad(Primitive):
    """Piecewise-constant ops (floor, sign, ...): differentiable, with gradient zero (zeros, not
    grad * 0, which is nan where the incoming gradient is infinite)."""

    fn: Any = None

    @classmethod
    def forward(cls: Any, ctx: Any, x: Any) -> Any:
        return cls.fn(x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return ZerosLike.apply(grad)


class Floor(_ZeroGrad):
    fn = np.floor


class Ceil(_ZeroGrad):
    fn = np.ceil


class Trunc(_ZeroGrad):
    fn = np.trunc


class Round(_ZeroGrad):
    fn = np.round  # half to even, as torch.round


class RoundDecimals(Primitive):
    """Round to ``decimals`` places as torch does: nearbyint(x * 10^d) / 10^d, or for
    d < 0, nearbyint(x / 10^-d) * 10^-d (half to even); gradient zero."""

    @staticmethod
    def forward(ctx: Any, x: Any, decimals: Any) -> Any:
        ten = x.dtype.type(10.0 ** abs(decimals))
        return np.round(x * ten) / ten if decimals > 0 else np.round(x / ten) * ten

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return ZerosLike.apply(grad), None


def _sign(x: np.ndarray) -> np.ndarray:
    out = np.sign(x)
    if x.dtype.kind == "f":
        out = np.where(np.isnan(out), 0, out).astype(x.dtype, copy=False)  # torch: sign(nan) = 0
    return out


class Sign(_ZeroGrad):
    fn = staticmethod(_sign)


# the two modulo ops (see _Modulo above), defined once the rounding ops exist
class Remainder(_Modulo):
    """x mod y (sign of y, like Python and torch); d/dy = -floor(x/y)."""

    fn = np.mod
    quotient = staticmethod(lambda x, y: FloorDivide.apply(x, y))  # as torch: not floor(x / y)


class Fmod(_Modulo):
    """C's fmod: the remainder has the sign of x; d/dy = -trunc(x/y)."""

    fn = np.fmod
    quotient = staticmethod(lambda x, y: TruncDivide.apply(x, y))


# -- selection -------------------------------------------------------------------------------
def _select_grads(grad: Any, x_loses: Any, y_loses: Any, tie: Any) -> tuple[Any, Any]:
    """maximum/minimum's gradients, selected (not multiplied by masks, which turns an infinite
    gradient into nan): nothing to the input that lost, half each on a tie, all of it to both
    where a nan makes neither win (torch's rule)."""
    share = Where.apply(tie, grad * 0.5, grad)
    return Where.apply(x_loses, 0.0, share), Where.apply(y_loses, 0.0, share)


class Maximum(Primitive):
    """The gradient goes to the larger input; ties split it half and half, and a nan (which
    wins) passes it to both inputs (torch's formula)."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x, y)
        return np.maximum(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        return _select_grads(grad, x < y, x > y, x == y)


class Minimum(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x, y)
        return np.minimum(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        return _select_grads(grad, x > y, x < y, x == y)


class Where(Primitive):
    @staticmethod
    def forward(ctx: Any, cond: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(cond)
        try:
            return np.where(cond, x, y)
        except ValueError:
            raise broadcast_error(*(np.shape(v) for v in (cond, x, y))) from None

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (cond,) = ctx.saved_like(grad)
        return None, Where.apply(cond, grad, 0.0), Where.apply(cond, 0.0, grad)


class Clamp(Primitive):
    """Gradient passes to x where min <= x <= max (bounds included), to a tensor bound where it
    is the output; when min > max the output is max everywhere (torch's rules)."""

    @staticmethod
    def forward(ctx: Any, x: Any, lo: Any, hi: Any) -> Any:
        ctx.save_for_backward(x, lo, hi)
        if x.dtype.kind == "f":  # clip keeps x where it equals a bound: -0.0 stays, as in torch
            return np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)
        out = x
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        return out if out is not x else x.copy()

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, lo, hi = ctx.saved_like(grad)
        need = ctx.needs_input_grad
        if lo is None:
            keep, to_lo, to_hi = x <= hi, None, x > hi if need[2] else None
        elif hi is None:
            keep, to_lo, to_hi = x >= lo, x < lo if need[1] else None, None
        else:
            keep = (x >= lo) & (x <= hi)
            to_lo = (x < lo) & (lo < hi) if need[1] else None
            to_hi = (x > hi) | (hi < lo) if need[2] else None
        # selected, not multiplied by the masks: an infinite gradient where x was clamped
        # (sqrt(clamp(d, 0)) at d <= 0) gives 0, not inf * 0 = nan
        return (Where.apply(keep, grad, 0.0) if need[0] else None,
                Where.apply(to_lo, grad, 0.0) if to_lo is not None else None,
                Where.apply(to_hi, grad, 0.0) if to_hi is not None else None)


class Cast(Primitive):
    """Change dtype; the gradient is cast back by the engine. The copy is laid out as torch's
    (``preserved_copy``): NumPy's astype keeps an expanded tensor's odd order."""

    @staticmethod
    def forward(ctx: Any, x: Any, dtype: Any) -> Any:
        return preserved_copy(x, dtype)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad, None


class Clone(Primitive):
    """A copy: row-major, or with ``preserve`` laid out in memory as torch's
    clone(memory_format=preserve_format) lays it out (see ``preserved_order``), which decides
    whether a later ``view``/``reshape`` of the copy can share its memory."""

    @staticmethod
    def forward(ctx: Any, x: Any, preserve: bool = False) -> Any:
        return preserved_copy(x) if preserve else x.copy()

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad, None


def preserved_copy(x: np.ndarray, dtype: Any = None) -> np.ndarray:
    """x copied (in ``dtype``) into memory laid out as torch's preserve_format lays it out:
    dims ordered as ``preserved_order`` says, densely (clone, to/type conversions)."""
    dtype = x.dtype if dtype is None else dtype
    if x.ndim < 2 or x.flags.c_contiguous:
        return x.astype(dtype, order="C")
    outer_first = preserved_order(x)[::-1]
    out = np.empty([x.shape[d] for d in outer_first], dtype).transpose(np.argsort(outer_first))
    np.copyto(out, x, casting="unsafe")
    return out


def preserved_order(x: np.ndarray) -> list[int]:
    """x's dims from the innermost in memory to the outermost, as torch's infer_dense_strides
    sorts them (an insertion sort by stride; a zero stride (expand) keeps the row-major
    order, equal strides put the smaller size inside): torch's clone and empty_like keep a
    permuted tensor's layout, and give a strided one (a diagonal, a slice) the dense layout
    in its order."""
    shape, strides = x.shape, [abs(s) for s in x.strides]

    def should_swap(d0: int, d1: int) -> int:
        s0, s1 = strides[d0], strides[d1]
        if s0 == 0 or s1 == 0:
            return 0
        if s0 != s1:
            return -1 if s0 < s1 else 1
        return 1 if shape[d0] > shape[d1] else 0

    perm = list(range(x.ndim - 1, -1, -1))
    for i in range(1, x.ndim):
        dim1 = i
        for j in range(1, i + 1):
            dim0 = i - j
            c = should_swap(perm[dim0], perm[dim1])
            if c > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif c < 0:
                break
    return perm
