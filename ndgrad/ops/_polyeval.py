"""Evaluating polynomials, Chebyshev series and convergent loops on whole arrays, for the
special functions (``_special_*.py``).

The coefficient tuples there are Cephes' (Stephen L. Moshier's Cephes Math Library, 3-clause
BSD), stored highest degree first, as Cephes' ``polevl`` reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

MACHEP = 1.11022302462515654042e-16  # 2**-53: the relative size of a float64 rounding


def polevl(x: np.ndarray, coef: Sequence[float]) -> np.ndarray:
    """coef[0] x^n + coef[1] x^(n-1) + ... + coef[n], by Horner's rule."""
    out = np.full(np.shape(x), coef[0])
    for c in coef[1:]:
        out *= x
        out += c
    return out


def p1evl(x: np.ndarray, coef: Sequence[float]) -> np.ndarray:
    """polevl with a leading coefficient 1 that is not stored: x^n + coef[0] x^(n-1) + ..."""
    out = x + coef[0]
    for c in coef[1:]:
        out *= x
        out += c
    return out


def chbevl(x: np.ndarray, coef: Sequence[float]) -> np.ndarray:
    """sum' coef[i] T_i(x/2), the Chebyshev series of Cephes' ``chbevl`` (Clenshaw's
    recurrence; the zeroth coefficient is the last, and counts half)."""
    b0 = np.full(np.shape(x), coef[0])
    b1 = np.zeros(np.shape(x))
    b2 = b1
    for c in coef[1:]:
        b2, b1 = b1, b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


State = dict[str, np.ndarray]


def converge(step: Callable[[State], np.ndarray], state: State, maxiter: int) -> State:
    """Run ``step`` until every element has converged, at most ``maxiter`` times.

    ``state`` holds 1-d arrays with one entry per element; ``step`` updates them (in place or
    by replacing them in the dict) and returns a mask of the elements that have converged.
    Those leave the loop, so each pass works only on the elements still iterating: a series
    that needs 2,000 terms at one point does not cost 2,000 passes over the whole array."""
    out = {k: v.copy() for k, v in state.items()}
    idx = np.arange(next(iter(state.values())).size)
    for _ in range(maxiter):
        if not idx.size:
            break
        done = step(state)
        if done.any():
            for k, v in state.items():
                out[k][idx[done]] = v[done]
            keep = ~done
            idx = idx[keep]
            state = {k: v[keep] for k, v in state.items()}
    for k, v in state.items():  # those that did not converge keep their last values
        out[k][idx] = v
    return out
