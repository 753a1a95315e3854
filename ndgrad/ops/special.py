"""Special-function primitives (torch.special and the Tensor methods lgamma, digamma, erfinv,
...): forward on NumPy arrays through the numerics of ``_special_*.py``, backward beside it
with torch's derivative formulas, written in operators and other primitives so that it runs
on arrays or, under create_graph, on Tensors (double backward).

The numerics work in float64; results are cast back to the input's dtype (float32 stays
float32, a little more accurate than torch's float32 arithmetic).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad.ops import _special_bessel, _special_erf, _special_gamma, _special_igamma
from ndgrad.ops.base import Primitive
from ndgrad.ops.elementwise import Exp, Log, Sign, Where

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _like(out: np.ndarray, ref: Any) -> np.ndarray:
    """The float64 result in the dtype of ``ref`` (an input array, or a dtype)."""
    return out.astype(np.result_type(ref), copy=False)


# -- the gamma family ------------------------------------------------------------------------
class Lgamma(Primitive):
    """d log|Gamma(x)| = digamma(x) dx."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return _like(_special_gamma.lgamma(x), x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * Digamma.apply(x)


class Digamma(Primitive):
    """d digamma(x) = polygamma(1, x) dx."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return _like(_special_gamma.digamma(x), x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * Polygamma.apply(x, 1)


class Polygamma(Primitive):
    """The n-th derivative of digamma; d polygamma(n, x) = polygamma(n + 1, x) dx."""

    @staticmethod
    def forward(ctx: Any, x: Any, n: int) -> Any:
        ctx.save_for_backward(x)
        ctx.n = n
        return _like(_special_gamma.polygamma(n, x), x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * Polygamma.apply(x, ctx.n + 1), None


class Zeta(Primitive):
    """The Hurwitz zeta function zeta(x, q); d/dq = -x zeta(x + 1, q). torch has no
    derivative in x (nor a known closed form), so asking for it raises as torch does."""

    @staticmethod
    def forward(ctx: Any, x: Any, q: Any) -> Any:
        ctx.save_for_backward(x, q)
        return _like(_special_gamma.zeta(x, q), np.result_type(x, q))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        x, q = ctx.saved_like(grad)
        return None, grad * -x * Zeta.apply(x + 1.0, q)


class _IncompleteGamma(Primitive):
    """P(a, x) or Q(a, x) = 1 - P; d/dx P = x^(a-1) e^-x / Gamma(a). torch has no derivative
    in a, and raises when asked for one: so does this."""

    lower = True
    name_ = "igamma"

    @classmethod
    def forward(cls: Any, ctx: Any, a: Any, x: Any) -> Any:
        ctx.save_for_backward(a, x)
        fn = _special_igamma.gammainc if cls.lower else _special_igamma.gammaincc
        return _like(fn(a, x), np.result_type(a, x))

    @classmethod
    def backward(cls: Any, ctx: Any, grad: Any) -> Any:
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(
                f"the derivative for '{cls.name_}: input' is not implemented.")
        a, x = ctx.saved_like(grad)
        density = Exp.apply((a - 1.0) * Log.apply(x) - x - Lgamma.apply(a))
        return None, grad * density if cls.lower else -grad * density


class Igamma(_IncompleteGamma):
    lower = True
    name_ = "igamma"


class Igammac(_IncompleteGamma):
    lower = False
    name_ = "igammac"


# -- the error function family -----------------------------------------------------------------
class Erfc(Primitive):
    """d erfc(x) = -2/sqrt(pi) exp(-x^2) dx."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return _like(_special_erf.erfc(x), x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * (-2.0 / _SQRT_PI) * Exp.apply(-(x * x))


class Erfcx(Primitive):
    """erfcx(x) = exp(x^2) erfc(x); d erfcx = (2 x erfcx(x) - 2/sqrt(pi)) dx."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = _like(_special_erf.erfcx(x), x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        return grad * (2.0 * x * out - 2.0 / _SQRT_PI)


class Erfinv(Primitive):
    """d erfinv(y) = sqrt(pi)/2 exp(erfinv(y)^2) dy."""

    @staticmethod
    def forward(ctx: Any, y: Any) -> Any:
        out = _like(_special_erf.erfinv(y), y)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return grad * (_SQRT_PI / 2.0) * Exp.apply(out * out)


class Ndtri(Primitive):
    """The standard normal quantile; d ndtri(p) = sqrt(2 pi) exp(ndtri(p)^2 / 2) dp."""

    @staticmethod
    def forward(ctx: Any, p: Any) -> Any:
        out = _like(_special_erf.ndtri(p), p)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return grad * _SQRT_2PI * Exp.apply(out * out * 0.5)


class LogNdtr(Primitive):
    """log Phi(x); d/dx = phi(x) / Phi(x) = exp(-x^2/2 - log Phi(x)) / sqrt(2 pi), finite in
    the far lower tail where phi and Phi both underflow."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = _like(_special_erf.log_ndtr(x), x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        return grad * Exp.apply(-(out + x * x * 0.5)) * (1.0 / _SQRT_2PI)


# -- modified Bessel functions of the first kind -----------------------------------------------
class I0(Primitive):
    """d I0(x) = I1(x) dx."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return _like(_special_bessel.i0(x), x)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * I1.apply(x)


class I0e(Primitive):
    """d i0e(x) = (i1e(x) - sgn(x) i0e(x)) dx."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = _like(_special_bessel.i0e(x), x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        return grad * (I1e.apply(x) - Sign.apply(x) * out)


class I1(Primitive):
    """d I1(x) = (I0(x) - I1(x)/x) dx, 1/2 at x = 0."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = _like(_special_bessel.i1(x), x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        zero = x == 0
        safe = Where.apply(zero, 1.0, x)  # no 0/0: its nan would leak into double backward
        return grad * Where.apply(zero, 0.5, I0.apply(x) - out / safe)


class I1e(Primitive):
    """d i1e(x) = (i0e(x) - i1e(x) (sgn(x) + 1/x)) dx, 1/2 at x = 0."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        out = _like(_special_bessel.i1e(x), x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        zero = x == 0
        safe = Where.apply(zero, 1.0, x)
        return grad * Where.apply(zero, 0.5, I0e.apply(x) - out * (Sign.apply(x) + 1.0 / safe))


# -- logarithms with conventions ---------------------------------------------------------------
class _XLog(Primitive):
    """x log(y) (or x log1p(y)), 0 where x == 0 unless y is nan (0 log 0 = 0, as in entropy
    sums). d/dx = log(y) (0 where x == 0 and y <= 0 (-1), as torch); d/dy = x / y
    (x / (1 + y))."""

    plus_one = False

    @classmethod
    def forward(cls: Any, ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x, y)
        # in the dtype of x and y (np.log of a Python number is a float64 NumPy scalar)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.multiply(x, np.log1p(y) if cls.plus_one else np.log(y),
                              dtype=np.result_type(x, y))
        return np.where((x == 0) & ~np.isnan(y), out.dtype.type(0), out)

    @classmethod
    def backward(cls: Any, ctx: Any, grad: Any) -> Any:
        x, y = ctx.saved_like(grad)
        gx = gy = None
        if ctx.needs_input_grad[0]:
            edge = -1.0 if cls.plus_one else 0.0
            gx = Where.apply((x == 0) & (y <= edge), 0.0, cls.apply(grad, y))
        if ctx.needs_input_grad[1]:
            gy = grad * x / (y + 1.0) if cls.plus_one else grad * x / y
        return gx, gy


class Xlogy(_XLog):
    plus_one = False


class Xlog1py(_XLog):
    plus_one = True


class Entr(Primitive):
    """-x log x (0 at 0, -inf for x < 0); d/dx = -(1 + log x)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(x > 0, -x * np.log(x), np.where(x == 0, 0.0, -np.inf))
        return np.where(np.isnan(x), np.nan, out).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return grad * -(Log.apply(x) + 1.0)


class Logit(Primitive):
    """log(z / (1 - z)) with z = x clamped to [eps, 1 - eps] when eps is given; d/dx =
    1/(x (1 - x)), 0 outside the clamp (nan outside [0, 1] without eps), as torch."""

    @staticmethod
    def forward(ctx: Any, x: Any, eps: Any) -> Any:
        ctx.save_for_backward(x)
        ctx.eps = eps
        z = x if eps is None else np.clip(x, eps, 1.0 - eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(z / (1.0 - z)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        eps = ctx.eps
        g = grad / (x * (1.0 - x))
        if eps is None:
            return Where.apply((x < 0) | (x > 1), math.nan, g), None
        return Where.apply((x < eps) | (x > 1.0 - eps), 0.0, g), None
