"""LKJCholesky(dim, concentration): the LKJ distribution over lower Cholesky factors of
correlation matrices."""

from __future__ import annotations

import math
from typing import Any

import ndgrad
from ndgrad.distributions import constraints
from ndgrad.distributions.dirichlet import Beta
from ndgrad.distributions.distribution import Distribution
from ndgrad.distributions.utils import _standard_normal, broadcast_all, finfo
from ndgrad.tensor import Size, Tensor

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """Cholesky factors L of correlation matrices M = L L^T with density proportional to
    det(M)^(concentration - 1) (uniform over correlation matrices when concentration = 1).
    Sampling uses the onion method (Lewandowski, Kurowicka and Joe, 2009, Sec. 3.2),
    vectorized as torch does; there is no rsample."""

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim: int, concentration: Any = 1.0,
                 validate_args: bool | None = None) -> None:
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.shape
        event_shape = Size((dim, dim))
        # Beta(i / 2, eta + (dim - 2 - i) / 2) per row i: the squared norm of its off-diagonal
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = ndgrad.arange(self.dim - 1, dtype=self.concentration.dtype)
        offset = ndgrad.cat([ndgrad.zeros(1, dtype=offset.dtype), offset])
        beta_conc1 = offset + 0.5
        beta_conc0 = marginal_conc.unsqueeze(-1) - 0.5 * offset
        self._beta = Beta(beta_conc1, beta_conc0)
        super().__init__(batch_shape, event_shape, validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> LKJCholesky:
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        super(LKJCholesky, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape: Any = ()) -> Tensor:
        with ndgrad.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            u_normal = _standard_normal(self._extended_shape(sample_shape), y).tril(-1)
            # a uniform direction per row (the first row, all zero, stays zero)
            norm = u_normal.norm(dim=-1, keepdim=True)
            u_hypersphere = u_normal / ndgrad.where(norm > 0, norm, 1.0)
            w = y.sqrt() * u_hypersphere
            eps = finfo(w).tiny
            diag_elems = (1 - w.pow(2).sum(-1)).clamp(min=eps).sqrt()
            return w + ndgrad.diag_embed(diag_elems)

    def log_prob(self, value: Tensor) -> Tensor:
        """prod_i L_ii^(2 (eta - 1) + dim - i) (the density of M times the Jacobian of
        L -> L L^T), normalized as in [LKJ 2009, p. 1999]."""
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(0, -1, -2)[..., 1:]
        order = ndgrad.arange(2, self.dim + 1, dtype=self.concentration.dtype)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = (order * diag_elems.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = alpha.lgamma() * dm1
        numerator = (alpha - 0.5).mvlgamma(dm1)
        pi_constant = 0.5 * dm1 * math.log(math.pi)
        normalize_term = pi_constant + numerator - denominator
        return unnormalized_log_pdf - normalize_term
