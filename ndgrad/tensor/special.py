"""Special-function methods, the ones torch.Tensor has: lgamma, digamma, polygamma, mvlgamma,
erfc, erfinv, i0, sinc, logit, xlogy, igamma, igammac, and their in-place forms. Each is one
line over a primitive of ``ndgrad/ops/special.py`` or a short composite; the rest of
torch.special (erfcx, ndtri, the Bessel functions, ...) is in ``ndgrad/special.py``.

Integer and bool inputs become the default float, as in torch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.ops.special import (
    I0,
    Digamma,
    Erfc,
    Erfinv,
    Igamma,
    Igammac,
    Lgamma,
    Logit,
    Polygamma,
)
from ndgrad.tensor.base import TensorBase, _float, _int


class SpecialMixin(TensorBase):
    """The gamma family, erfc/erfinv, i0, sinc, logit, xlogy and the incomplete gamma."""

    def lgamma(self) -> Any:
        """log |Gamma(x)|."""
        return Lgamma.apply(self._floating())

    def digamma(self) -> Any:
        """d/dx lgamma(x)."""
        return Digamma.apply(self._floating())

    def polygamma(self, n: _int) -> Any:
        """The n-th derivative of digamma (``torch.polygamma(n, x)`` is ``x.polygamma(n)``)."""
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
        if n < 0:
            raise RuntimeError("polygamma(n, x) does not support negative n.")
        return Polygamma.apply(self._floating(), n)

    def mvlgamma(self, p: _int) -> Any:
        """The multivariate log-gamma of dimension p: sum_i lgamma(x - i/2) (i < p) plus
        p (p - 1)/4 log(pi)."""
        if p < 1:
            raise RuntimeError("p has to be greater than or equal to 1")
        x = self._floating()
        offsets = x._make(np.arange(-p * 0.5 + 0.5, 0.5, 0.5, dtype=x._data.dtype))
        return (x.unsqueeze(-1) + offsets).lgamma().sum(-1) + p * (p - 1) * 0.25 * math.log(
            math.pi)

    def erfc(self) -> Any:
        """1 - erf(x), accurate where erf(x) is close to 1."""
        return Erfc.apply(self._floating())

    def erfinv(self) -> Any:
        """The inverse of erf on (-1, 1)."""
        return Erfinv.apply(self._floating())

    def i0(self) -> Any:
        """I0, the modified Bessel function of the first kind of order 0."""
        return I0.apply(self._floating())

    def logit(self, eps: _float | None = None) -> Any:
        """log(x / (1 - x)), with x clamped to [eps, 1 - eps] if eps is given."""
        return Logit.apply(self._floating(), eps)

    def _float_pair(self, other: Any) -> tuple[Any, Any]:
        """self and other in the floating dtype they promote to (other may be a number)."""
        other = self._operand(other)
        nd = _dtype.result_type(self, other)
        if nd.kind != "f":
            nd = _dtype.default_float()
        if not isinstance(other, TensorBase):
            other = self._make(np.asarray(other, dtype=nd))
        dt = _dtype.from_np(nd)
        return self.to(dt), other.to(dt)

    def igamma(self, other: Any) -> Any:
        """The regularized lower incomplete gamma P(self, other)."""
        return Igamma.apply(*self._float_pair(other))

    def igammac(self, other: Any) -> Any:
        """The regularized upper incomplete gamma Q(self, other) = 1 - P(self, other)."""
        return Igammac.apply(*self._float_pair(other))

    # -- in-place forms ----------------------------------------------------------------------
    def lgamma_(self) -> Any:
        return self._inplace(self.lgamma)

    def digamma_(self) -> Any:
        return self._inplace(self.digamma)

    def polygamma_(self, n: _int) -> Any:
        return self._inplace(lambda: self.polygamma(n))

    def mvlgamma_(self, p: _int) -> Any:
        return self._inplace(lambda: self.mvlgamma(p))

    def erf_(self) -> Any:
        return self._inplace(self.erf)

    def erfc_(self) -> Any:
        return self._inplace(self.erfc)

    def erfinv_(self) -> Any:
        return self._inplace(self.erfinv)

    def i0_(self) -> Any:
        return self._inplace(self.i0)

    def logit_(self, eps: _float | None = None) -> Any:
        return self._inplace(lambda: self.logit(eps))

    def igamma_(self, other: Any) -> Any:
        return self._inplace(lambda: self.igamma(other), arg=other)

    def igammac_(self, other: Any) -> Any:
        return self._inplace(lambda: self.igammac(other), arg=other)
