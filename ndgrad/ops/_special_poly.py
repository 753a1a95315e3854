"""Orthogonal polynomials of torch.special on float64 arrays: Chebyshev T, U, V, W (and their
shifted forms on [0, 1]), Hermite H and He, Laguerre L and Legendre P, of degree n (an array;
its fraction is dropped, as torch drops it).

Each follows torch's definition case by case: 0 for n < 0, exact values at the ends of the
interval, the closed trigonometric form inside it for large n (Chebyshev), and otherwise the
three-term recurrence, run for every element at once up to the largest degree asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _prepare(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    x, n = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(n, dtype=np.float64))
    shape = x.shape
    # torch casts n to int64; nan and inf (undefined there) count as -1 here
    deg = np.where(np.isfinite(n), np.trunc(np.where(np.isfinite(n), n, -1.0)), -1.0)
    return x.ravel(), deg.ravel(), shape


def _recurrence(p: np.ndarray, q: np.ndarray, n: np.ndarray, k0: int,
                step: Callable[[float, np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """q after the steps k = k0, k0+1, ... while k <= n (per element), stopping where q turns
    nan (as torch does)."""
    k = k0
    while True:
        act = (k <= n) & ~np.isnan(q)
        if not act.any():
            return q
        with np.errstate(all="ignore"):
            r = step(float(k), p, q)
        p, q = np.where(act, q, p), np.where(act, r, q)
        k += 1


_CHEBYSHEV_Q1: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "t": lambda y: y, "u": lambda y: y + y, "v": lambda y: y + y - 1.0,
    "w": lambda y: y + y + 1.0}


def _chebyshev(kind: str, y: np.ndarray, n: np.ndarray, trig_above: int) -> np.ndarray:
    """The Chebyshev polynomial of the given kind at y (in [-1, 1] inside the interval)."""
    with np.errstate(all="ignore"):
        theta = np.arccos(np.clip(y, -1.0, 1.0))
        odd = np.fmod(n, 2.0) != 0
        if kind == "t":
            ends = np.where((y > 0) | ~odd, 1.0, -1.0)
            trig = np.cos(n * theta)
        elif kind == "u":
            ends = np.where((y > 0) | ~odd, n + 1.0, -(n + 1.0))
            s = np.sin(theta)
            trig = np.where(s != 0, np.sin((n + 1.0) * theta) / s,
                            (n + 1.0) * np.cos((n + 1.0) * theta) / y)
        elif kind == "v":
            ends = np.where(y > 0, 1.0, np.where(odd, -(2.0 * n + 1.0), 2.0 * n + 1.0))
            trig = np.where(np.sin(theta / 2.0) != 1.0,
                            np.cos((n + 0.5) * theta) / np.cos(theta / 2.0),
                            np.where(odd, -(2.0 * n + 1.0), 2.0 * n + 1.0))
        else:
            ends = np.where(y > 0, 2.0 * n + 1.0, np.where(odd, -1.0, 1.0))
            trig = np.where(np.cos(theta / 2.0) != 1.0,
                            np.sin((n + 0.5) * theta) / np.sin(theta / 2.0),
                            np.where(y > 0, 2.0 * n + 1.0, np.where(odd, -1.0, 1.0)))
    q1 = _CHEBYSHEV_Q1[kind](y)
    rec = _recurrence(np.ones_like(y), q1, np.where(np.abs(y) < 1.0, np.minimum(n, trig_above), n),
                      2, lambda k, p, q: (y + y) * q - p)
    out = np.where(n == 0, 1.0, np.where(n == 1, q1, rec))
    out = np.where((n > trig_above) & (np.abs(y) < 1.0), trig, out)
    out = np.where(np.abs(y) == 1.0, ends, out)
    return np.where(n < 0, 0.0, out)


def _make_chebyshev(kind: str, shifted: bool, trig_above: int) -> Callable[..., np.ndarray]:
    def fn(x: np.ndarray, n: np.ndarray, single: bool = False) -> np.ndarray:
        xs, deg, shape = _prepare(x, n)
        y = xs + xs - 1.0 if shifted else xs
        return _chebyshev(kind, y, deg, trig_above).reshape(shape)

    kind_name = {"t": "first", "u": "second", "v": "third", "w": "fourth"}[kind]
    fn.__name__ = ("shifted_" if shifted else "") + f"chebyshev_polynomial_{kind}"
    fn.__doc__ = (f"The {'shifted ' if shifted else ''}Chebyshev polynomial of the {kind_name} "
                  f"kind of degree n" + (", on [0, 1]." if shifted else "."))
    return fn


chebyshev_polynomial_t = _make_chebyshev("t", False, 6)
chebyshev_polynomial_u = _make_chebyshev("u", False, 8)
chebyshev_polynomial_v = _make_chebyshev("v", False, 8)
chebyshev_polynomial_w = _make_chebyshev("w", False, 8)
shifted_chebyshev_polynomial_t = _make_chebyshev("t", True, 6)
shifted_chebyshev_polynomial_u = _make_chebyshev("u", True, 6)
shifted_chebyshev_polynomial_v = _make_chebyshev("v", True, 6)
shifted_chebyshev_polynomial_w = _make_chebyshev("w", True, 4)


def _hermite(x: np.ndarray, n: np.ndarray, single: bool, physicists: bool) -> np.ndarray:
    xs, deg, shape = _prepare(x, n)
    q1 = xs + xs if physicists else xs
    if physicists:  # H_(m+1) = 2x H_m - 2m H_(m-1)
        rec = _recurrence(np.ones_like(xs), q1, deg, 2,
                          lambda k, p, q: (xs + xs) * q - 2.0 * (k - 1.0) * p)
    else:  # He_(m+1) = x He_m - m He_(m-1)
        rec = _recurrence(np.ones_like(xs), q1, deg, 2, lambda k, p, q: xs * q - (k - 1.0) * p)
    out = np.where(deg > (128 if single else 512), np.nan, rec)  # torch's cut-offs
    out = np.where(deg == 0, 1.0, np.where(deg == 1, q1, out))
    return np.where(deg < 0, 0.0, out).reshape(shape)


def hermite_polynomial_h(x: np.ndarray, n: np.ndarray, single: bool = False) -> np.ndarray:
    """The physicists' Hermite polynomial H_n(x)."""
    return _hermite(x, n, single, True)


def hermite_polynomial_he(x: np.ndarray, n: np.ndarray, single: bool = False) -> np.ndarray:
    """The probabilists' Hermite polynomial He_n(x)."""
    return _hermite(x, n, single, False)


def laguerre_polynomial_l(x: np.ndarray, n: np.ndarray, single: bool = False) -> np.ndarray:
    """The Laguerre polynomial L_n(x): (k+1) L_(k+1) = (2k + 1 - x) L_k - k L_(k-1)."""
    xs, deg, shape = _prepare(x, n)
    q1 = 1.0 - xs
    rec = _recurrence(np.ones_like(xs), q1, deg, 2,
                      lambda k, p, q: ((2.0 * k - 1.0 - xs) * q - (k - 1.0) * p) / k)
    out = np.where(deg == 0, 1.0, np.where(deg == 1, q1, rec))
    out = np.where(xs == 0, 1.0, out)
    return np.where(deg < 0, 0.0, out).reshape(shape)


def legendre_polynomial_p(x: np.ndarray, n: np.ndarray, single: bool = False) -> np.ndarray:
    """The Legendre polynomial P_n(x): (k+1) P_(k+1) = (2k + 1) x P_k - k P_(k-1)."""
    xs, deg, shape = _prepare(x, n)
    rec = _recurrence(np.ones_like(xs), xs.copy(), deg, 2,
                      lambda k, p, q: ((2.0 * k - 1.0) * xs * q - (k - 1.0) * p) / k)
    out = np.where(deg == 0, 1.0, np.where(deg == 1, xs, rec))
    odd = np.fmod(deg, 2.0) != 0
    out = np.where(np.abs(xs) == 1.0, np.where((xs > 0) | ~odd, 1.0, -1.0), out)
    return np.where(deg < 0, 0.0, out).reshape(shape)
