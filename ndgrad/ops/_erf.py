"""erf for NumPy arrays (NumPy has none, and SciPy is not a dependency).

float64: W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev approximations for
the error function", Math. Comp. 23, 1969; the CALERF routine of SPECFUN), evaluated on whole
arrays without a Python loop: within 2 ulp (4.3e-16 relative) of ``math.erf``.

float32 (and float16, through float32): computed in float32, with the minimax polynomials of Arm's
optimized-routines ``erff`` (MIT licence): x + x P(x^2) for |x| < 0.875, else
1 - exp(-(a + a Q(a))) with a = min(|x|, 4). About a dozen passes over float32 memory instead of
forty over float64, within 1.4 ulp of the correctly rounded result (1.1 with fused multiply-adds,
as ``ndgrad.ops._kernels`` evaluates the same polynomials).
"""

from __future__ import annotations

import math

import numpy as np

# |x| <= 0.5: erf(x) = x P(x^2) / Q(x^2)
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
# 0.5 < |x| <= 4: erfc(x) = exp(-x^2) P(x) / Q(x)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
# |x| > 4: erfc(x) = exp(-x^2) / x (1/sqrt(pi) + P(1/x^2) / (x^2 Q(1/x^2)))
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)
_INV_SQRT_PI = 5.6418958354775628695e-1
_THRESH = 0.5  # Cody's erf approximation holds on [0, 0.5]
_XBIG = 26.543  # erfc(x) underflows to 0 beyond this


# erf(x) = x + x R(x^2) with R = P/Q - 1 = (P - Q)/Q: the small correction R carries the
# rounding error, not the leading x (x P/Q directly is 3 ulp off near 0.4)
_AB = (_A[4] - 1.0, *(a - b for a, b in zip(_A[:4], _B)))


def _horner(num: np.ndarray, den: np.ndarray, t: np.ndarray, ps: tuple[float, ...],
            qs: tuple[float, ...]) -> None:
    """num = (...((num + p0) t + p1) t ...) t, and den alike, in place (no temporaries)."""
    for p, q in zip(ps, qs):
        num += p
        num *= t
        den += q
        den *= t


def _small(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """erf(x) for |x| <= 0.5, given z = x^2."""
    num, den = _AB[0] * z, z.copy()
    _horner(num, den, z, _AB[1:4], _B[:3])
    num += _AB[4]
    den += _B[3]
    num /= den
    num *= x
    num += x
    return num


def _erf_mid(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """erf(y) for 0.5 < y <= 4, given z = y^2, as 1 - erfc(y)."""
    num, den = _C[8] * y, y.copy()
    _horner(num, den, y, _C[:7], _D[:7])
    num += _C[7]
    den += _D[7]
    num /= den
    # erfc = exp(-y^2) P/Q. The rounding of y^2 costs erfc up to y^2 ulp relative, which is
    # far below one ulp of erf = 1 - erfc (erfc(4) is 1.5e-8): one exp is enough for erf
    num *= np.exp(np.negative(z, out=den), out=den)
    # erf = 1 - erfc, written (0.5 - erfc) + 0.5 to keep the last bit
    np.subtract(0.5, num, out=num)
    num += 0.5
    return num


def _erf_big(y: np.ndarray) -> np.ndarray:
    """erf(y) for y > 4 (inf included); 1 to double precision from y = 6 on."""
    z = 1.0 / (y * y)
    num, den = _P[5] * z, z.copy()
    _horner(num, den, z, _P[:4], _Q[:4])
    r = z * (num + _P[4]) / (den + _Q[4])
    erfc = np.exp(-y * y) * ((_INV_SQRT_PI - r) / y)
    return np.where(y >= _XBIG, 1.0, (0.5 - erfc) + 0.5)


# float32: erf(x) = x + x P(x^2) for |x| < 0.875 (P = _A32, lowest power first)
_A32 = tuple(np.float32(float.fromhex(h)) for h in (
    "0x1.06eba6p-03", "-0x1.8126e0p-02", "0x1.ce1a46p-04", "-0x1.b68bd2p-06", "0x1.473f48p-08",
    "-0x1.3a1a82p-11"))
# erf(x) = sign(x) (1 - exp(-(a + a Q(a)))) for a = |x| in [0.875, 4] (Q = _B32)
_B32 = tuple(np.float32(float.fromhex(h)) for h in (
    "0x1.079d0cp-3", "0x1.450aa0p-1", "0x1.b55cb0p-4", "-0x1.8d6300p-6", "0x1.fd1336p-9",
    "-0x1.91d2ccp-12", "0x1.222900p-16"))
_SPLIT32 = np.float32(0.875)
_FOUR32 = np.float32(4.0)  # erf(4) is 1 in float32 (erfc(4) = 1.5e-8 is below half an ulp)


def _poly32(t: np.ndarray, coefs: tuple[np.float32, ...]) -> np.ndarray:
    """c[-1] t^(n-1) + ... + c[1] t, by Horner, in a new array (the constant term is left out,
    for the caller's last step)."""
    r = t * coefs[-1]
    for c in coefs[-2:0:-1]:
        r += c
        r *= t
    return r


def _erf32_flat(x: np.ndarray) -> np.ndarray:
    """erf of a 1-d float32 array, in float32."""
    with np.errstate(invalid="ignore", over="ignore"):
        a = np.minimum(np.abs(x), _FOUR32)  # also caps inf; nan stays nan
        z = x * x
        small = _poly32(z, _A32)
        small += _A32[0]
        small *= x
        small += x  # x + x P(x^2)
        big = _poly32(a, _B32)
        big += _B32[0]
        big *= a
        big += a
        np.negative(big, out=big)
        np.exp(big, out=big)
        np.subtract(np.float32(1), big, out=big)
        np.copysign(big, x, out=big)
        return np.where(a < _SPLIT32, small, big)


_erf_scalar = np.frompyfunc(math.erf, 1, 1)
_TINY = 256  # below this many elements math.erf per element is faster
_CHUNK = 1 << 15  # elements per pass: the ~40 in-place passes over a chunk stay in cache


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in x's dtype (computed in float64, or float32 for
    float32 and float16).

    Within 2 ulp of ``math.erf`` everywhere. Each formula runs on the whole chunk and the
    results are merged once: boolean gathers and scatters cost more than the arithmetic."""
    x = np.asarray(x)
    if x.size <= _TINY:  # ~40 NumPy calls cost more than a few Python-level math.erf calls
        return np.asarray(_erf_scalar(x), dtype=x.dtype if x.dtype.kind == "f" else np.float64)
    if x.dtype in (np.float32, np.float16):
        flat = x.astype(np.float32, copy=False).reshape(-1)
        out32 = np.empty(flat.shape, np.float32)
        for i in range(0, flat.size, _CHUNK):
            out32[i:i + _CHUNK] = _erf32_flat(flat[i:i + _CHUNK])
        return out32.astype(x.dtype, copy=False).reshape(x.shape)
    x64 = x.astype(np.float64).reshape(-1)  # 1-d (0-d math gives scalars), and our own copy
    if x64.size <= _CHUNK:
        out = _erf_flat(x64)
    else:
        out = x64
        for i in range(0, x64.size, _CHUNK):
            out[i:i + _CHUNK] = _erf_flat(x64[i:i + _CHUNK])
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False).reshape(
        x.shape)


def _erf_flat(x: np.ndarray) -> np.ndarray:
    y = np.abs(x)
    z = y * y
    with np.errstate(invalid="ignore", over="ignore"):
        small = y <= _THRESH  # (nan compares False everywhere and stays nan in _erf_mid)
        if small.all():  # the common case of small activations
            return _small(x, z)
        out = _erf_mid(y, z)
        if small.any():
            out = np.where(small, _small(x, z), np.copysign(out, x, out=out))
        else:
            np.copysign(out, x, out=out)
        big = y > 4.0
        if big.any():
            idx = np.nonzero(big)
            out[idx] = np.copysign(_erf_big(y[idx]), x[idx])
    return out
