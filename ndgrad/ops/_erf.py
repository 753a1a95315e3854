"""erf for NumPy arrays (NumPy has none, and SciPy is not a dependency)."""

from __future__ import annotations

import math

import numpy as np

_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in x's dtype."""
    return np.asarray(_erf_scalar(x), dtype=x.dtype)
