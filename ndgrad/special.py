"""ndgrad.special: torch.special's functions, on NumPy (no SciPy).

The gamma family (gammaln/lgamma, digamma/psi, polygamma, multigammaln, zeta), the error
function family (erf, erfc, erfcx, erfinv, ndtr, ndtri, log_ndtr), the incomplete gamma
functions, Bessel and Airy functions, orthogonal polynomials, and torch's aliases of common
functions (expit, exp2, expm1, log1p, logit, xlogy, xlog1py, entr, sinc, round, softmax,
log_softmax, logsumexp). Numbers are computed as Cephes does (see ``ndgrad/ops/_special_*``).

Gradients are torch's (and double backward works): the functions torch does not
differentiate (the Bessel functions other than i0/i0e/i1/i1e, airy_ai, the polynomials)
return tensors that do not require grad, as torch's do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.ops import _special_bessel, _special_poly
from ndgrad.ops.special import (
    I1,
    Entr,
    Erfcx,
    I0e,
    I1e,
    LogNdtr,
    Ndtri,
    Xlog1py,
    Xlogy,
    Zeta,
)
from ndgrad.tensor import Tensor, tensor

__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
    "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma",
    "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc",
    "gammaln", "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e", "i1", "i1e",
    "laguerre_polynomial_l", "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax",
    "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
    "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
    "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "sinc", "softmax", "spherical_bessel_j0", "xlog1py",
    "xlogy", "zeta",
]


def _floating(input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor as input, got {type(input).__name__}")
    return input._floating()


def _out(result: Tensor, out: Tensor | None) -> Tensor:
    """torch's ``out=``: the result written into ``out`` (resized as torch resizes it)."""
    if out is None:
        return result
    if out.shape != result.shape:
        out._data = np.empty(result.shape, out._data.dtype)
    return out.copy_(result)


# -- the gamma family ---------------------------------------------------------------------------
def gammaln(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """log |Gamma(x)| (torch.lgamma)."""
    return _out(_floating(input).lgamma(), out)


def digamma(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """d/dx log Gamma(x)."""
    return _out(_floating(input).digamma(), out)


psi = digamma


def polygamma(n: int, input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The n-th derivative of digamma."""
    return _out(_floating(input).polygamma(n), out)


def multigammaln(input: Tensor, p: int, *, out: Tensor | None = None) -> Tensor:
    """The multivariate log-gamma function of dimension p (torch.mvlgamma)."""
    return _out(_floating(input).mvlgamma(p), out)


def _pair(input: Any, other: Any) -> tuple[Tensor, Tensor]:
    """Two operands (one may be a number) in the floating dtype they promote to."""
    if isinstance(input, Tensor):
        return input._float_pair(other)
    if isinstance(other, Tensor):
        b, a = other._float_pair(input)
        return a, b
    raise TypeError(f"expected a Tensor among the arguments, got {type(input).__name__} and "
                    f"{type(other).__name__}")


def zeta(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """The Hurwitz zeta function sum_k (k + other)^-input."""
    return _out(Zeta.apply(*_pair(input, other)), out)


def gammainc(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The regularized lower incomplete gamma function P(input, other) (torch.igamma)."""
    return _out(input.igamma(other), out)


def gammaincc(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The regularized upper incomplete gamma function Q(input, other) (torch.igammac)."""
    return _out(input.igammac(other), out)


# -- the error function and the normal distribution ---------------------------------------------
def erf(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _out(_floating(input).erf(), out)


def erfc(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _out(_floating(input).erfc(), out)


def erfcx(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """exp(x^2) erfc(x), finite where erfc underflows."""
    return _out(Erfcx.apply(_floating(input)), out)


def erfinv(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _out(_floating(input).erfinv(), out)


def ndtr(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The standard normal CDF, erfc(-x / sqrt 2) / 2: accurate in both tails."""
    return _out(_floating(input).mul(-math.sqrt(0.5)).erfc() * 0.5, out)


def ndtri(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The standard normal quantile function, the inverse of ndtr."""
    return _out(Ndtri.apply(_floating(input)), out)


def log_ndtr(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """log ndtr(x), finite far into the lower tail."""
    return _out(LogNdtr.apply(_floating(input)), out)


# -- Bessel and Airy functions ------------------------------------------------------------------
def i0(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _out(_floating(input).i0(), out)


def i0e(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """exp(-|x|) I0(x)."""
    return _out(I0e.apply(_floating(input)), out)


def i1(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """I1, the modified Bessel function of the first kind of order 1."""
    return _out(I1.apply(_floating(input)), out)


def i1e(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """exp(-|x|) I1(x)."""
    return _out(I1e.apply(_floating(input)), out)


def _not_differentiated(fn: Callable[[np.ndarray], np.ndarray], doc: str) -> Any:
    """A function torch gives no derivative: computed on the array, outside the graph."""
    def special_fn(input: Tensor, *, out: Tensor | None = None) -> Tensor:
        x = _floating(input)
        return _out(x._make(fn(x._data).astype(x._data.dtype, copy=False)), out)

    special_fn.__name__ = special_fn.__qualname__ = fn.__name__
    special_fn.__doc__ = doc
    return special_fn


bessel_j0 = _not_differentiated(_special_bessel.bessel_j0, "J0, the Bessel function of order 0.")
bessel_j1 = _not_differentiated(_special_bessel.bessel_j1, "J1, the Bessel function of order 1.")
bessel_y0 = _not_differentiated(_special_bessel.bessel_y0,
                                "Y0, the Bessel function of the second kind of order 0.")
bessel_y1 = _not_differentiated(_special_bessel.bessel_y1,
                                "Y1, the Bessel function of the second kind of order 1.")
modified_bessel_i0 = _not_differentiated(_special_bessel.i0, "I0 (not differentiated, as torch).")
modified_bessel_i1 = _not_differentiated(_special_bessel.i1, "I1 (not differentiated, as torch).")
modified_bessel_k0 = _not_differentiated(_special_bessel.k0,
                                         "K0, the modified Bessel function of the second kind.")
modified_bessel_k1 = _not_differentiated(_special_bessel.k1,
                                         "K1, the modified Bessel function of the second kind.")
scaled_modified_bessel_k0 = _not_differentiated(_special_bessel.k0e, "exp(x) K0(x).")
scaled_modified_bessel_k1 = _not_differentiated(_special_bessel.k1e, "exp(x) K1(x).")
spherical_bessel_j0 = _not_differentiated(_special_bessel.spherical_j0, "sin(x) / x.")
airy_ai = _not_differentiated(_special_bessel.airy_ai, "Ai, the Airy function.")


# -- orthogonal polynomials (torch gives them no derivative) ------------------------------------
def _polynomial(name: str) -> Any:
    fn = getattr(_special_poly, name)

    def special_fn(input: Any, n: Any, *, out: Tensor | None = None) -> Tensor:
        x = input if isinstance(input, Tensor) else tensor(input)
        deg = n if isinstance(n, Tensor) else tensor(n)
        nd = _dtype.result_type(x, deg)
        if nd.kind != "f":
            nd = _dtype.default_float()
        result = fn(x._data, deg._data, single=nd == np.float32)
        return _out(x._make(np.asarray(result).astype(nd)), out)

    special_fn.__name__ = special_fn.__qualname__ = name
    special_fn.__doc__ = fn.__doc__
    return special_fn


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t")
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u")
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v")
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w")
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t")
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u")
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v")
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w")
hermite_polynomial_h = _polynomial("hermite_polynomial_h")
hermite_polynomial_he = _polynomial("hermite_polynomial_he")
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l")
legendre_polynomial_p = _polynomial("legendre_polynomial_p")


# -- logarithms, logistic, and torch's aliases --------------------------------------------------
def xlogy(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """input * log(other), 0 where input == 0 (0 log 0 = 0)."""
    return _out(Xlogy.apply(*_pair(input, other)), out)


def xlog1py(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """input * log1p(other), 0 where input == 0."""
    return _out(Xlog1py.apply(*_pair(input, other)), out)


def entr(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """-x log x elementwise (0 at 0, -inf for x < 0)."""
    return _out(Entr.apply(_floating(input)), out)


def expit(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The logistic sigmoid."""
    return _out(_floating(input).sigmoid(), out)


def logit(input: Tensor, eps: float | None = None, *, out: Tensor | None = None) -> Tensor:
    return _out(_floating(input).logit(eps), out)


def exp2(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _out(input.exp2(), out)


def expm1(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _out(input.expm1(), out)


def log1p(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _out(input.log1p(), out)


def sinc(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0."""
    return _out(_floating(input).sinc(), out)


def round(input: Tensor, *, decimals: int = 0, out: Tensor | None = None) -> Tensor:  # noqa: A001
    return _out(input.round(decimals=decimals), out)


def softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return input.log_softmax(dim, dtype=dtype)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False, *,
              out: Tensor | None = None) -> Tensor:
    return _out(input.logsumexp(dim, keepdim=keepdim), out)
