"""GeneralizedPareto(loc, scale, concentration): the generalized Pareto distribution
(peaks over a threshold)."""

from __future__ import annotations

import math
from numbers import Number, Real
from typing import Any

import ndgrad
from ndgrad.distributions import constraints
from ndgrad.distributions.distribution import Distribution
from ndgrad.distributions.utils import _uniform, broadcast_all
from ndgrad.tensor import Size, Tensor

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """Survival function (1 + xi z)^(-1/xi), z = (x - loc) / scale (exp(-z) at xi = 0), on
    x >= loc, and below loc - scale / xi when xi = concentration < 0. A concentration
    within isclose of 0 takes the exponential limit. rsample() is the icdf of a uniform
    draw."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, concentration: Any,
                 validate_args: bool | None = None) -> None:
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        if (isinstance(loc, Number) and isinstance(scale, Number)
                and isinstance(concentration, Number)):
            batch_shape = Size()
        else:
            batch_shape = self.loc.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> GeneralizedPareto:
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        batch_shape = Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        super(GeneralizedPareto, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = _uniform(shape, self.loc)
        return self.icdf(u)

    def _eq_zero_and_safe(self) -> tuple[Tensor, Tensor]:
        eq_zero = self.concentration.isclose(ndgrad.zeros_like(self.concentration))
        safe_conc = ndgrad.where(eq_zero, ndgrad.ones_like(self.concentration),
                                 self.concentration)
        return eq_zero, safe_conc

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._eq_zero_and_safe()
        y = 1 / safe_conc + ndgrad.ones_like(z)
        where_nonzero = ndgrad.where(y == 0, y, y * (safe_conc * z).log1p())
        log_scale = math.log(self.scale) if isinstance(self.scale, Real) else self.scale.log()
        return -log_scale - ndgrad.where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._eq_zero_and_safe()
        where_nonzero = -(safe_conc * z).log1p() / safe_conc
        return ndgrad.where(eq_zero, -z, where_nonzero)

    def log_cdf(self, value: Tensor) -> Tensor:
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value: Tensor) -> Tensor:
        return self.log_cdf(value).exp()

    def icdf(self, value: Tensor) -> Tensor:
        loc, scale = self.loc, self.scale
        eq_zero, safe_conc = self._eq_zero_and_safe()
        logu = (-value).log1p()
        where_nonzero = loc + scale / safe_conc * (-safe_conc * logu).expm1()
        where_zero = loc - scale * logu
        return ndgrad.where(eq_zero, where_zero, where_nonzero)

    def _z(self, x: Tensor) -> Tensor:
        return (x - self.loc) / self.scale

    @property
    def mean(self) -> Tensor:
        """loc + scale / (1 - concentration), nan for concentration >= 1."""
        valid = self.concentration < 1
        safe_conc = ndgrad.where(valid, self.concentration, 0.5)
        result = self.loc + self.scale / (1 - safe_conc)
        return ndgrad.where(valid, result, math.nan)

    @property
    def variance(self) -> Tensor:
        """nan for concentration >= 1/2."""
        valid = self.concentration < 0.5
        safe_conc = ndgrad.where(valid, self.concentration, 0.25)
        result = self.scale**2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc))
        return ndgrad.where(valid, result, math.nan)

    def entropy(self) -> Tensor:
        ans = self.scale.log() + self.concentration + 1
        return ans.broadcast_to(self._batch_shape)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        lower = self.loc
        upper = ndgrad.where(self.concentration < 0, lower - self.scale / self.concentration,
                             math.inf)
        return constraints.interval(lower, upper)
