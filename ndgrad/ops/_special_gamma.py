"""The gamma family on NumPy arrays: lgamma, digamma, Hurwitz zeta and polygamma.

Each takes and returns float64 arrays and follows Cephes (``lgam``, ``psi``, ``zeta``) and
C's conventions at the poles, as torch does: lgamma is +inf at 0 and the negative integers,
digamma(+-0) = -+inf and nan at the negative integers. NumPy has none of these functions and
SciPy is not a dependency; every loop here runs over terms of a series, never over elements.
"""

from __future__ import annotations

import math

import numpy as np

from ndgrad.ops._polyeval import MACHEP, p1evl, polevl

# lgamma(x) for x >= 13: Stirling's series, (x - 1/2) log x - x + log sqrt(2 pi) + A(1/x^2)/x
_LGAM_A = (8.11614167470508450300e-4, -5.95061904284301438324e-4, 7.93650340457716943945e-4,
           -2.77777777730099687205e-3, 8.33333333333331927722e-2)
# lgamma(2 + u) for 0 <= u < 1: u B(u) / C(u), C with a leading 1
_LGAM_B = (-1.37825152569120859100e3, -3.88016315134637840924e4, -3.31612992738871184744e5,
           -1.16237097492762307383e6, -1.72173700820839662146e6, -8.53555664245765465627e5)
_LGAM_C = (-3.51815701436523470549e2, -1.70642106651881159223e4, -2.20528590553854454839e5,
           -1.13933444367982507207e6, -2.53252307177582951285e6, -2.01889141433532773231e6)
_LOG_SQRT_2PI = 0.91893853320467274178
_LOG_PI = 1.14472988584940017414


def _lgamma_positive(x: np.ndarray) -> np.ndarray:
    """lgamma for finite x > 0."""
    out = np.empty_like(x)
    big = x >= 13.0
    if big.any():
        xb = x[big]
        q = (xb - 0.5) * np.log(xb) - xb + _LOG_SQRT_2PI
        p = 1.0 / (xb * xb)
        q += np.where(xb > 1e8, 0.0, polevl(p, _LGAM_A) / xb)
        out[big] = q
    small = ~big
    if small.any():
        xs = x[small]
        # x = k + u with u in [0, 1) exact: the rational fit takes u itself, so lgamma stays
        # accurate near its zeros at 1 and 2 (u and x - 2 never round)
        k = np.floor(xs)
        u = xs - k
        base = u * polevl(u, _LGAM_B) / p1evl(u, _LGAM_C)  # lgamma(2 + u)
        # lgamma(x) = lgamma(2 + u) + log((2 + u)(3 + u)...(x - 1)) for x >= 3 ...
        prod = np.ones_like(u)
        for j in range(2, 12):
            prod *= np.where(k > j, j + u, 1.0)
        res = base + np.log(prod)
        # ... and lgamma(2 + u) - log(u + 1) (- log u) for x in [1, 2) (x in (0, 1))
        res -= np.where(k < 2, np.log1p(u), 0.0)
        res -= np.where(k < 1, np.log(np.where(k < 1, u, 1.0)), 0.0)
        out[small] = res
    return out


def _abs_sinpi(x: np.ndarray) -> np.ndarray:
    """|sin(pi x)|, from the distance r to the nearest integer (exact, |r| <= 1/2): pi x
    itself would round, and sin near pi amplifies that rounding."""
    return np.abs(np.sin(np.pi * (x - np.round(x))))


def lgamma(x: np.ndarray) -> np.ndarray:
    """log |Gamma(x)|: +inf at 0 and the negative integers, +inf at +-inf."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.inf)
    pos = (x > 0) & (x < np.inf)
    out[pos] = _lgamma_positive(x[pos])
    out[np.isnan(x)] = np.nan
    neg = (x < 0) & (x != np.floor(x))  # the negative integers (and -inf) stay +inf
    if neg.any():
        xn = x[neg]
        # the reflection formula Gamma(x) Gamma(1 - x) = pi / sin(pi x)
        out[neg] = _LOG_PI - np.log(_abs_sinpi(xn)) - _lgamma_positive(1.0 - xn)
    return out


_DIGAMMA_A = (8.33333333333333333333e-2, -2.10927960927960927961e-2, 7.57575757575757575758e-3,
              -4.16666666666666666667e-3, 3.96825396825396825397e-3, -8.33333333333333333333e-3,
              8.33333333333333333333e-2)


def _digamma_positive(x: np.ndarray) -> np.ndarray:
    """digamma for x > 0: psi(x) = psi(x + n) - sum 1/(x + i) with x + n >= 10, then the
    asymptotic series log x - 1/(2x) - sum B_2k / (2k x^2k)."""
    res = np.zeros_like(x)
    x = x.copy()
    for _ in range(10):
        low = x < 10.0
        if not low.any():
            break
        res -= np.where(low, 1.0 / x, 0.0)
        x += low
    z = 1.0 / (x * x)
    y = np.where(x < 1e17, z * polevl(z, _DIGAMMA_A), 0.0)
    return res + np.log(x) - 0.5 / x - y


def digamma(x: np.ndarray) -> np.ndarray:
    """psi(x) = d/dx log Gamma(x): -inf at +0, +inf at -0, nan at the negative integers."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    pos = x > 0
    out[pos] = _digamma_positive(x[pos])
    neg = x < 0
    if neg.any():
        xn = x[neg]
        # psi(x) = psi(1 - x) - pi / tan(pi x), with tan(pi x) = tan(pi r) for the distance r
        # to the nearest integer (exact): pi x itself would round
        r = xn - np.round(xn)
        with np.errstate(divide="ignore", invalid="ignore"):
            refl = _digamma_positive(1.0 - xn) - np.pi / np.tan(np.pi * r)
        out[neg] = np.where(r == 0, np.nan, refl)
    zero = x == 0
    out[zero] = np.copysign(np.inf, -x[zero])
    out[np.isnan(x)] = np.nan
    return out


# Euler-Maclaurin: (2k)! / B_2k, for the tail of the Hurwitz zeta sum
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
           1.8152105401943546773e17, -7.1661652561756670113e18)


def _zeta_positive(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """zeta(x, q) for x > 1 and q > 0 (1-d arrays): at most ten direct terms, then the
    Euler-Maclaurin tail."""
    with np.errstate(all="ignore"):
        s = np.power(q, -x)
        a = q.copy()
        b = np.zeros_like(s)
        done = np.zeros(x.shape, bool)
        i = 0
        while True:
            more = ~done & ((i < 9) | (a <= 9.0))
            if not more.any():
                break
            i += 1
            a = np.where(more, a + 1.0, a)
            b = np.where(more, np.power(a, -x), b)
            s = np.where(more, s + b, s)
            done |= more & (np.abs(b) < MACHEP * np.abs(s))
        # the Euler-Maclaurin tail, for the sums that have not converged yet
        w = a
        s = np.where(done, s, s + b * w / (x - 1.0) - 0.5 * b)
        fac = np.ones_like(s)
        k = 0.0
        for coef in _ZETA_A:
            fac *= x + k
            b /= w
            t = fac * b / coef
            s = np.where(done, s, s + t)
            done |= np.abs(t) < MACHEP * np.abs(s)
            k += 1.0
            fac *= x + k
            b /= w
            k += 1.0
    return s


def zeta(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The Hurwitz zeta function sum_k (k + q)^-x for x > 1 (after Cephes' ``zeta``): the
    first terms summed directly until k + q > 9, the rest by the Euler-Maclaurin formula.

    inf at x = 1 and at q = 0, -1, -2, ...; nan for x < 1 and for q < 0 with x not an
    integer, as torch.special.zeta. For q < 0 (x an integer) the terms of negative base are
    summed as a zeta of positive argument, not one by one: polygamma(2, -1e8 - 0.5) costs
    what polygamma(2, 0.5) costs."""
    x, q = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(q, dtype=np.float64))
    shape = x.shape
    x, q = x.ravel(), q.ravel()
    out = np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore"):
        integer_q = q == np.floor(q)
        out[(x >= 1.0) & (q <= 0) & integer_q] = np.inf
        out[x == 1.0] = np.inf
        pos = (x > 1.0) & (q > 0)
        out[pos] = _zeta_positive(x[pos], q[pos])
        out[(x > 1.0) & (q == np.inf)] = 0.0  # the limit (torch: nan)
        neg = (x > 1.0) & (q < 0) & ~integer_q & (x == np.floor(x)) & np.isfinite(q)
    if neg.any():
        xn, qn = x[neg], q[neg]
        # the m terms q, q+1, ..., q+m-1 are negative: -(f + j) for j < m, f = -(q + m - 1)
        m = np.ceil(-qn)
        f = -(qn + (m - 1.0))  # exact: q + m - 1 would round q + m first
        sign = np.where(np.fmod(xn, 2.0) == 0, 1.0, -1.0)  # (-1)^x
        out[neg] = (_zeta_positive(xn, 1.0 - f)
                    + sign * (_zeta_positive(xn, f) - _zeta_positive(xn, f + m)))
    return out.reshape(shape)


def polygamma(n: int, x: np.ndarray) -> np.ndarray:
    """The n-th derivative of digamma: psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 1."""
    if n == 0:
        return digamma(x)
    fact = float(math.factorial(n)) if n <= 170 else math.inf
    with np.errstate(all="ignore"):
        return (fact if n % 2 else -fact) * zeta(np.float64(n + 1), x)
