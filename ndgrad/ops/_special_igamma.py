"""The regularized incomplete gamma functions P(a, x) (gammainc, torch.igamma) and
Q(a, x) = 1 - P(a, x) (gammaincc, torch.igammac), on float64 arrays.

The method at each point is the one SciPy's ``gammainc`` and torch's ``calc_igamma`` choose
(Cephes' ``igam``/``igamc`` with SciPy's refinements): the power series (DLMF 8.11.4) or
the continued fraction (8.9.2) away from the transition x ~ a, each of P or Q computed
directly where it is the smaller, and Temme's uniform asymptotic expansion (8.12.3-4) for
large a near x = a, where the others would need thousands of terms. The prefactor
x^a e^-x / Gamma(a) goes through a Lanczos sum near x = a, where a log x - x - lgamma(a) would
cancel to nothing.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from ndgrad.ops._polyeval import MACHEP, State, converge, polevl
from ndgrad.ops._special_erf import erfc
from ndgrad.ops._special_gamma import lgamma

_MAXLOG = 7.09782712893383996843e2
_MAXITER = 2000
_BIG = 4.503599627370496e15
_BIGINV = 2.22044604925031308085e-16

# Lanczos approximation (Boost's lanczos13m53, g = 6.0246800407767...): the sum scaled by
# exp(-g), as a ratio of two degree-12 polynomials (highest degree first)
_LANCZOS_G = 6.024680040776729583740234375
_LANCZOS_NUM = (0.006061842346248906525783753964555936883222, 0.5098416655656676188125178644,
                19.51992788247617482847860966, 449.9445569063168119446858608,
                6955.999602515376140356310116, 75999.29304014542649875303444,
                601859.6171681098786670226534, 3481712.154980645908820710190,
                14605578.08768506808414169983, 43338889.32467613834773723741,
                86363131.28813859145546927289, 103794043.1163445451906271054,
                56906521.91347156388090791034)
_LANCZOS_DEN = (1.0, 66.0, 1925.0, 32670.0, 357423.0, 2637558.0, 13339535.0, 45995730.0,
                105258076.0, 150917976.0, 120543840.0, 39916800.0, 0.0)


def _lanczos_sum_expg_scaled(a: np.ndarray) -> np.ndarray:
    """num(a) / den(a) (highest degree first), in powers of 1/a for a > 1 (no overflow)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        small = polevl(a, _LANCZOS_NUM) / polevl(a, _LANCZOS_DEN)
        inv = 1.0 / a
        large = polevl(inv, _LANCZOS_NUM[::-1]) / polevl(inv, _LANCZOS_DEN[::-1])
    return np.where(np.abs(a) > 1.0, large, small)


def _prefactor(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """x^a e^-x / Gamma(a), the factor in front of both series (Boost's (15)-(16), with
    exp(a - x) for the misprinted exp(x - a))."""
    with np.errstate(all="ignore"):
        ax = a * np.log(x) - x - lgamma(a)
        direct = np.where(ax < -_MAXLOG, 0.0, np.exp(ax))
        fac = a + _LANCZOS_G - 0.5
        res = np.sqrt(fac / math.e) / _lanczos_sum_expg_scaled(a)
        num = x - a - _LANCZOS_G + 0.5
        numfac = num / fac
        near = np.where((a < 200) & (x < 200), res * np.exp(a - x) * np.power(x / fac, a),
                        res * np.exp(a * (np.log1p(numfac) - numfac)
                                     + x * (0.5 - _LANCZOS_G) / fac))
    return np.where(np.abs(a - x) > 0.4 * np.abs(a), direct, near)


def _p_series(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """P(a, x) = x^a e^-x / Gamma(a + 1) sum_n x^n / ((a + 1)...(a + n)) (DLMF 8.11.4)."""
    def step(s: State) -> np.ndarray:
        s["r"] += 1.0
        s["c"] *= s["x"] / s["r"]
        s["ans"] += s["c"]
        return s["c"] <= MACHEP * s["ans"]

    ones = np.ones_like(a)
    ans = converge(step, {"x": x, "r": a.copy(), "c": ones, "ans": ones.copy()}, _MAXITER)["ans"]
    return ans * _prefactor(a, x) / a


def _q_series(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Q(a, x) for small x (DLMF 8.7.3), arranged against cancellation."""
    def step(s: State) -> np.ndarray:
        s["n"] += 1.0
        s["fac"] *= -s["x"] / s["n"]
        term = s["fac"] / (s["a"] + s["n"])
        s["sum"] += term
        return np.abs(term) <= MACHEP * np.abs(s["sum"])

    zeros = np.zeros_like(a)
    total = converge(step, {"a": a, "x": x, "n": zeros, "fac": np.ones_like(a),
                            "sum": zeros.copy()}, _MAXITER)["sum"]
    logx = np.log(x)
    return -np.expm1(a * logx - lgamma(1.0 + a)) - np.exp(a * logx - lgamma(a)) * total


def _q_continued_fraction(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Q(a, x) for x > 1.1 and x >= a: Legendre's continued fraction (DLMF 8.9.2), by the
    three-term recurrences of its convergents, rescaled before they overflow."""
    y = 1.0 - a
    z = x + y + 1.0
    state = {"y": y, "z": z, "c": np.zeros_like(a), "pkm2": np.ones_like(a), "qkm2": x.copy(),
             "pkm1": x + 1.0, "qkm1": z * x}
    state["ans"] = state["pkm1"] / state["qkm1"]

    def step(s: State) -> np.ndarray:
        s["c"] += 1.0
        s["y"] += 1.0
        s["z"] += 2.0
        yc = s["y"] * s["c"]
        pk = s["pkm1"] * s["z"] - s["pkm2"] * yc
        qk = s["qkm1"] * s["z"] - s["qkm2"] * yc
        nonzero = qk != 0
        r = pk / np.where(nonzero, qk, 1.0)
        t = np.where(nonzero, np.abs((s["ans"] - r) / np.where(nonzero, r, 1.0)), 1.0)
        s["ans"] = np.where(nonzero, r, s["ans"])
        s["pkm2"], s["pkm1"], s["qkm2"], s["qkm1"] = s["pkm1"], pk, s["qkm1"], qk
        scale = np.where(np.abs(pk) > _BIG, _BIGINV, 1.0)
        for k in ("pkm2", "pkm1", "qkm2", "qkm1"):
            s[k] = s[k] * scale
        return t <= MACHEP

    with np.errstate(all="ignore"):
        ans = converge(step, state, _MAXITER)["ans"]
    return ans * _prefactor(a, x)


@functools.cache
def _temme_coefficients(k_max: int = 25, n_max: int = 25) -> np.ndarray:
    """d[k, n], the Maclaurin coefficients of Temme's c_k(eta) (DLMF 8.12.11-14), derived in
    exact rational arithmetic on first use (a tenth of a second), not copied from a table.

    mu = lambda - 1 as a series in eta, mu = sum alpha_n eta^n, solves mu mu' = eta (1 + mu)
    (from eta^2/2 = mu - log(1 + mu)); then g_k = (2k+1)!! alpha_(2k+1) are Stirling's gamma
    coefficients, d[0, n] = (n + 2) alpha_(n+2) (d[0, 0] = -1/3) and
    d[k, n] = (-1)^k g_k d[0, n] + (n + 2) d[k-1, n+2]."""
    deg = n_max + 2 * k_max + 2
    alpha = [Fraction(0), Fraction(1)] + [Fraction(0)] * (deg - 1)
    for n in range(2, deg + 1):
        conv = sum(((n + 1 - i) * alpha[i] * alpha[n + 1 - i] for i in range(2, n)), Fraction(0))
        alpha[n] = (alpha[n - 1] - conv) / (n + 1)
    g = [Fraction(1)]
    for k in range(1, k_max):
        g.append(math.prod(range(1, 2 * k + 2, 2)) * alpha[2 * k + 1])
    d0 = [Fraction(-1, 3)] + [(n + 2) * alpha[n + 2] for n in range(1, deg - 1)]
    rows = [d0]
    for k in range(1, k_max):
        prev = rows[-1]
        rows.append([(-1) ** k * g[k] * d0[n] + (n + 2) * prev[n + 2]
                     for n in range(len(prev) - 2)])
    return np.array([[float(v) for v in row[:n_max]] for row in rows])


def _log1pmx(s: np.ndarray) -> np.ndarray:
    """log(1 + s) - s, by its series for |s| < 1/2 (the difference would cancel)."""
    series = polevl(s, [(-1.0) ** (n + 1) / n for n in range(48, 1, -1)] + [0.0, 0.0])
    with np.errstate(all="ignore"):
        return np.where(np.abs(s) < 0.5, series, np.log1p(s) - s)


def _temme(a: np.ndarray, x: np.ndarray, lower: bool) -> np.ndarray:
    """P (lower) or Q for large a with x near a: 1/2 erfc(-+eta sqrt(a/2)) -+ S(a, eta)."""
    sgn = -1.0 if lower else 1.0
    lam = x / a
    eta = np.sqrt(-2.0 * _log1pmx((x - a) / a)) * np.sign(lam - 1.0)
    res = 0.5 * erfc(sgn * eta * np.sqrt(a / 2.0))
    d = _temme_coefficients()
    ck = np.vander(eta, d.shape[1], increasing=True) @ d.T  # (m, K): c_k(eta)
    terms = ck * a[:, None] ** -np.arange(d.shape[0])
    # an asymptotic series: stop at its smallest term (before the terms grow again)
    absterm = np.abs(terms)
    grows = np.zeros_like(absterm, dtype=bool)
    grows[:, 1:] = absterm[:, 1:] > absterm[:, :-1]
    keep = ~np.logical_or.accumulate(grows, axis=1)
    total = (terms * keep).sum(axis=1)
    return res + sgn * np.exp(-0.5 * a * eta * eta) * total / np.sqrt(2.0 * np.pi * a)


def _asymptotic_region(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        r = np.abs(x - a) / a
        return ((a > 20.0) & (a < 200.0) & (r < 0.3)) | ((a > 200.0) & (r < 4.5 / np.sqrt(a)))


def _incomplete(a: np.ndarray, x: np.ndarray, lower: bool) -> np.ndarray:
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    shape = a.shape
    a, x = a.ravel(), x.ravel()
    out = np.full(a.shape, np.nan)  # a < 0, x < 0, nan, a = x = 0 and a = x = inf stay nan
    one_p, one_q = (1.0, 0.0) if lower else (0.0, 1.0)  # where P = 1 (Q = 0), and back
    finite = ~np.isinf(a) & ~np.isinf(x)
    out[(a == 0) & (x > 0)] = one_p
    out[(x == 0) & (a > 0)] = one_q
    out[(a == np.inf) & (x >= 0) & (x < np.inf)] = one_q
    out[(x == np.inf) & (a > 0) & (a < np.inf)] = one_p
    todo = (a > 0) & (x > 0) & finite
    av, xv = a[todo], x[todo]
    res = np.empty_like(av)
    asym = _asymptotic_region(av, xv)
    res[asym] = _temme(av[asym], xv[asym], lower)
    # elsewhere: P by its series, Q by its series or continued fraction, and the other as 1 - it
    if lower:
        use_q = ~asym & (xv > 1.0) & (xv > av)
    else:
        with np.errstate(divide="ignore"):
            use_q = ~asym & ~(((xv > 1.1) & (xv < av))
                              | ((xv <= 0.5) & (-0.4 / np.log(xv) < av))
                              | ((xv > 0.5) & (xv <= 1.1) & (xv * 1.1 < av)))
    use_p = ~asym & ~use_q
    p = _p_series(av[use_p], xv[use_p])
    res[use_p] = p if lower else 1.0 - p
    aq, xq = av[use_q], xv[use_q]
    cf = xq > 1.1
    q = np.empty_like(aq)
    q[cf] = _q_continued_fraction(aq[cf], xq[cf])
    q[~cf] = _q_series(aq[~cf], xq[~cf])
    res[use_q] = 1.0 - q if lower else q
    out[todo] = res
    return out.reshape(shape)


def gammainc(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """P(a, x) = gamma(a, x) / Gamma(a), the regularized lower incomplete gamma function."""
    return _incomplete(a, x, lower=True)


def gammaincc(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Q(a, x) = 1 - P(a, x), the regularized upper incomplete gamma function."""
    return _incomplete(a, x, lower=False)


def gammainc_da(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dP(a, x)/da, which has no closed form: a central difference of P (or, where P is
    close to 1, of -Q) with step 1e-5 a, good to ~1e-9 relative since P itself is good to
    ~1e-14."""
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    h = 1e-5 * a
    use_q = x > a
    fn_p = _incomplete(a + h, x, lower=True) - _incomplete(a - h, x, lower=True)
    fn_q = _incomplete(a - h, x, lower=False) - _incomplete(a + h, x, lower=False)
    return np.where(use_q, fn_q, fn_p) / (2.0 * h)


def standard_gamma_grad(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """dx/da for x ~ Gamma(a, 1) held at its CDF value (implicit reparameterization,
    Figurnov et al. 2018): -(dP/da) / (dP/dx), dP/dx being the density."""
    with np.errstate(all="ignore"):
        log_density = (a - 1.0) * np.log(x) - x - lgamma(a)
        out = -gammainc_da(a, x) * np.exp(-log_density)
    return np.where(np.isfinite(out), out, 0.0)
