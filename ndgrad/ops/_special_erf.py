"""The error-function family on NumPy arrays: erfc, erfcx, erfinv, and the normal
distribution's ndtri and log_ndtr. Float64 in, float64 out.

erfc and erfcx use W. J. Cody's rational approximations (the same ones as ``_erf.py``'s erf):
Cody's forms give erfc as exp(-x^2) times a ratio, so erfcx = exp(x^2) erfc(x) is that ratio
alone, accurate where exp(x^2) would overflow. ndtri is Cephes' ``ndtri``.
"""

from __future__ import annotations

import math

import numpy as np

from ndgrad.ops._erf import _C, _D, _P, _Q, _THRESH
from ndgrad.ops._erf import erf as _erf
from ndgrad.ops._polyeval import p1evl, polevl

_INV_SQRT_PI = 0.56418958354775628695
_TWO_OVER_SQRT_PI = 1.1283791670955126
_SQRT_2PI = 2.50662827463100050242


def _exp_square(y: np.ndarray) -> np.ndarray:
    """exp(y^2) without the rounding of y^2 (Cody's split: y^2 = s^2 + (y - s)(y + s) with s
    = y rounded to 1/16, whose square is exact); that rounding would cost erfc(26) 14 digits'
    worth of relative accuracy."""
    s = np.trunc(y * 16.0) / 16.0
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.exp(s * s) * np.exp((y - s) * (y + s))
    return np.where(np.isinf(y), np.inf, out)


def _erfcx_ratio(y: np.ndarray) -> np.ndarray:
    """erfcx(y) = exp(y^2) erfc(y) for y > 0.5 (Cody's two outer ranges)."""
    out = np.empty_like(y)
    mid = y <= 4.0
    ym = y[mid]
    out[mid] = polevl(ym, (_C[8], *_C[:8])) / p1evl(ym, _D)
    big = ~mid
    yb = y[big]
    with np.errstate(over="ignore", under="ignore"):
        z = 1.0 / (yb * yb)
        r = z * polevl(z, _P[5:] + _P[:5]) / p1evl(z, _Q)
    out[big] = (_INV_SQRT_PI - r) / yb
    return out


def _erfc_tail(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > 0.5: exp(-y^2) (split as in _exp_square) times Cody's ratio. Beyond
    26.55 the results are subnormal, with the few digits a subnormal holds (as torch's)."""
    s = np.trunc(y * 16.0) / 16.0
    with np.errstate(under="ignore", invalid="ignore"):
        out = np.exp(-s * s) * (np.exp(-(y - s) * (y + s)) * _erfcx_ratio(y))
    return np.where(y == np.inf, 0.0, out)


def erfc(x: np.ndarray) -> np.ndarray:
    """1 - erf(x), without the cancellation: accurate to the last digits down to 1e-308."""
    x = np.asarray(x, dtype=np.float64)
    y = np.abs(x)
    out = np.empty_like(x)
    small = y <= _THRESH
    out[small] = 1.0 - _erf(x[small])
    far = ~small & ~np.isnan(x)
    yf = y[far]
    e = _erfc_tail(yf)
    out[far] = np.where(x[far] < 0, 2.0 - e, e)
    out[np.isnan(x)] = np.nan
    return out


def erfcx(x: np.ndarray) -> np.ndarray:
    """The scaled complementary error function exp(x^2) erfc(x): ~1/(sqrt(pi) x) for large x,
    2 exp(x^2) (so inf below -26.6) for very negative x."""
    x = np.asarray(x, dtype=np.float64)
    y = np.abs(x)
    out = np.empty_like(x)
    small = y <= _THRESH
    xs = x[small]
    out[small] = np.exp(xs * xs) * (1.0 - _erf(xs))
    far = ~small & ~np.isnan(x)
    xf = x[far]
    r = _erfcx_ratio(np.abs(xf))
    with np.errstate(over="ignore"):
        out[far] = np.where(xf < 0, 2.0 * _exp_square(xf) - r, r)
    out[np.isnan(x)] = np.nan
    return out


# erfinv's first guess: G. L. Pavlis's rational fits (as torch's calc_erfinv), then Newton
_EI_A = (-0.140543331, 0.914624893, -1.645349621, 0.886226899)
_EI_B = (0.012229801, -0.329097515, 1.442710462, -2.118377725, 1.0)
_EI_C = (1.641345311, 3.429567803, -1.624906493, -1.970840454)
_EI_D = (1.637067800, 3.543889200, 1.0)


def erfinv(y: np.ndarray) -> np.ndarray:
    """The inverse of erf on (-1, 1); +-inf at +-1 and nan beyond.

    A rational first guess, then two Newton steps: on erf(x) = y near 0, and on
    erfc(|x|) = 1 - |y| in the tails, where 1 - |y| is exact and erf(x) - y would cancel."""
    y = np.asarray(y, dtype=np.float64)
    ay = np.abs(y)
    out = np.full(y.shape, np.nan)
    out[ay == 1.0] = np.copysign(np.inf, y[ay == 1.0])
    central = ay <= 0.7
    yc = y[central]
    z = yc * yc
    x = yc * polevl(z, _EI_A) / polevl(z, _EI_B)
    for _ in range(2):
        x = x - (_erf(x) - yc) / (_TWO_OVER_SQRT_PI * np.exp(-x * x))
    out[central] = x
    tail = (ay > 0.7) & (ay < 1.0)
    c = 1.0 - ay[tail]  # exact (Sterbenz): the tail's erfc value
    z = np.sqrt(-np.log(c / 2.0))
    x = polevl(z, _EI_C) / polevl(z, _EI_D)
    for _ in range(3):  # the first guess is rougher in the far tail
        x = x + (erfc(x) - c) / (_TWO_OVER_SQRT_PI * np.exp(-x * x))
    out[tail] = np.copysign(x, y[tail])
    return out


# ndtri (Cephes): |y - 1/2| <= 3/8, then z = sqrt(-2 log y) in [2, 8) and [8, 64)
_NDTRI_P0 = (-5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1,
             1.39312609387279679503e1, -1.23916583867381258016e0)
_NDTRI_Q0 = (1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1,
             -2.25462687854119370527e2, 2.00260212380060660359e2, -8.20372256168333339912e1,
             1.59056225126211695515e1, -1.18331621121330003142e0)
_NDTRI_P1 = (4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1,
             4.40805073893200834700e1, 1.46849561928858024014e1, 2.18663306850790267539e0,
             -1.40256079171354495875e-1, -3.50424626827848203418e-2,
             -8.57456785154685413611e-4)
_NDTRI_Q1 = (1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1,
             1.50425385692907503408e1, 2.50464946208309415979e0, -1.42182922854787788574e-1,
             -3.80806407691578277194e-2, -9.33259480895457427372e-4)
_NDTRI_P2 = (3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0,
             1.33303460815807542389e0, 2.01485389549179081538e-1, 1.23716634817820021358e-2,
             3.01581553508235416007e-4, 2.65806974686737550832e-6, 6.23974539184983293730e-9)
_NDTRI_Q2 = (6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0,
             2.16236993594496635890e-1, 1.34204006088543189037e-2, 3.28014464682127739104e-4,
             2.89247864745380683936e-6, 6.79019408009981274425e-9)
_EXP_M2 = 0.13533528323661269189  # exp(-2)


def ndtri(p: np.ndarray) -> np.ndarray:
    """The quantile of the standard normal: x with ndtr(x) = p; -inf at 0, inf at 1."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    out[p == 0] = -np.inf
    out[p == 1] = np.inf
    inside = (p > 0) & (p < 1)
    pi = p[inside]
    upper = pi > 1.0 - _EXP_M2
    y = np.where(upper, 1.0 - pi, pi)  # the smaller tail
    res = np.empty_like(y)
    mid = y > _EXP_M2
    ym = y[mid] - 0.5
    y2 = ym * ym
    res[mid] = (ym + ym * (y2 * polevl(y2, _NDTRI_P0) / p1evl(y2, _NDTRI_Q0))) * _SQRT_2PI
    tail = ~mid
    z = np.sqrt(-2.0 * np.log(y[tail]))
    x0 = z - np.log(z) / z
    w = 1.0 / z
    x1 = np.where(z < 8.0, w * polevl(w, _NDTRI_P1) / p1evl(w, _NDTRI_Q1),
                  w * polevl(w, _NDTRI_P2) / p1evl(w, _NDTRI_Q2))
    res[tail] = x1 - x0  # the lower tail's (negative) quantile
    out[inside] = np.where(upper, -res, res)  # (the upper half is all tail)
    return out


def log_ndtr(x: np.ndarray) -> np.ndarray:
    """log of the standard normal CDF: log(erfcx(-t)/2) - t^2 (t = x/sqrt 2) in the lower
    tail, where the CDF itself underflows; log1p(-erfc(t)/2) above."""
    x = np.asarray(x, dtype=np.float64)
    t = x * math.sqrt(0.5)
    with np.errstate(over="ignore", invalid="ignore"):
        low = np.log(erfcx(-t) / 2.0) - t * t
        high = np.log1p(-erfc(t) / 2.0)
    return np.where(x < -1.0, low, high)
