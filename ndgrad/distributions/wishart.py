"""Wishart(df, covariance_matrix | precision_matrix | scale_tril): the distribution of
sums of df outer products of Gaussian vectors."""

from __future__ import annotations

import math
import warnings
from numbers import Number
from typing import Any

import ndgrad
from ndgrad.distributions import constraints
from ndgrad.distributions.exp_family import ExponentialFamily
from ndgrad.distributions.gamma import Chi2
from ndgrad.distributions.multivariate_normal import _precision_to_scale_tril
from ndgrad.distributions.utils import _standard_normal, finfo, lazy_property
from ndgrad.tensor import Size, Tensor

__all__ = ["Wishart"]

_log_2 = math.log(2)


def _mvdigamma(x: Tensor, p: int) -> Tensor:
    """The multivariate digamma function: sum_{i < p} digamma(x - i / 2)."""
    if not bool(x.gt((p - 1) / 2).all()):
        raise AssertionError("Wrong domain for multivariate digamma function.")
    return (x.unsqueeze(-1) - ndgrad.arange(p, dtype=x.dtype).div(2)).digamma().sum(-1)


def _clamp_above_eps(x: Tensor) -> Tensor:
    return x.clamp(min=finfo(x).eps)


class Wishart(ExponentialFamily):
    """The Wishart distribution over positive definite p x p matrices with ``df`` degrees of
    freedom (df > p - 1) and scale matrix given as the covariance matrix, the precision
    matrix, or its lower Cholesky factor ``scale_tril`` (exactly one). rsample draws by the
    Bartlett decomposition: X = (L A)(L A)^T with A lower triangular, A_ii^2 ~ Chi2(df - i)
    and A_ij ~ Normal(0, 1) below the diagonal."""

    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:  # type: ignore[override]
        return {"covariance_matrix": constraints.positive_definite,
                "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(self.event_shape[-1] - 1)}

    def __init__(self, df: Any, covariance_matrix: Tensor | None = None,
                 precision_matrix: Tensor | None = None, scale_tril: Tensor | None = None,
                 validate_args: bool | None = None) -> None:
        given = [m is not None for m in (covariance_matrix, scale_tril, precision_matrix)]
        if sum(given) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or "
                                 "scale_tril may be specified.")
        param = next(m for m in (covariance_matrix, precision_matrix, scale_tril)
                     if m is not None)
        if param.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        if isinstance(df, Number):
            batch_shape = Size(param.shape[:-2])
            self.df = ndgrad.tensor(df, dtype=param.dtype)
        else:
            batch_shape = Size(ndgrad.broadcast_shapes(param.shape[:-2], df.shape))
            self.df = df.expand(batch_shape)
        event_shape = param.shape[-2:]
        if bool(self.df.le(event_shape[-1] - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = "
                             f"{event_shape[-1] - 1}.")
        if scale_tril is not None:
            self.scale_tril = param.expand(*batch_shape, -1, -1)
        elif covariance_matrix is not None:
            self.covariance_matrix = param.expand(*batch_shape, -1, -1)
        else:
            self.precision_matrix = param.expand(*batch_shape, -1, -1)
        if bool(self.df.lt(event_shape[-1]).any()):
            warnings.warn("Low df values detected. Singular samples are highly likely to occur "
                          "for ndim - 1 < df < ndim.", stacklevel=2)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = ndgrad.linalg.cholesky(covariance_matrix)
        else:
            assert precision_matrix is not None
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        self._dist_chi2 = self._chi2(batch_shape)

    def _chi2(self, batch_shape: Size) -> Chi2:
        """Chi2(df - i) for i < p: the squared diagonal of the Bartlett factor."""
        p = self._event_shape[-1]
        offset = ndgrad.arange(p, dtype=self._unbroadcasted_scale_tril.dtype)
        return Chi2(self.df.unsqueeze(-1) - offset.expand(*batch_shape, -1))

    def expand(self, batch_shape: Any, _instance: Any = None) -> Wishart:
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = Size(batch_shape)
        cov_shape = batch_shape + self.event_shape
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(batch_shape)
        new._batch_dims = [-(x + 1) for x in range(len(batch_shape))]
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(cov_shape))
        super(Wishart, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._dist_chi2 = new._chi2(batch_shape)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> tuple[int, ...]:
        return (*self._batch_shape, *self._event_shape)

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        identity = ndgrad.eye(self._event_shape[-1], dtype=L.dtype)
        return ndgrad.cholesky_solve(identity, L).expand(self._matrix_shape())

    def _df_matrix(self, t: Tensor) -> Tensor:
        return t.reshape(*self._batch_shape, 1, 1)

    @property
    def mean(self) -> Tensor:
        return self._df_matrix(self.df) * self.covariance_matrix

    @property
    def mode(self) -> Tensor:
        """(df - p - 1) V, NaN where df <= p + 1 (no mode there)."""
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = ndgrad.where(factor <= 0, math.nan, factor)
        return self._df_matrix(factor) * self.covariance_matrix

    @property
    def variance(self) -> Tensor:
        """Var(X_ij) = df (V_ij^2 + V_ii V_jj)."""
        V = self.covariance_matrix
        diag_V = V.diagonal(0, -2, -1)
        return self._df_matrix(self.df) * (V.pow(2) + diag_V.unsqueeze(-1) * diag_V.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape: Any = ()) -> Tensor:
        sample_shape = Size(sample_shape)
        diag = _clamp_above_eps(self._dist_chi2.rsample(sample_shape).sqrt())
        L = self._unbroadcasted_scale_tril
        below = _standard_normal(sample_shape + self._batch_shape + self._event_shape, L)
        noise = below.tril(-1) + ndgrad.diag_embed(diag)
        chol = L @ noise
        return chol @ chol.mT

    def rsample(self, sample_shape: Any = (), max_try_correction: int | None = None) -> Tensor:
        """Bartlett draws; singular ones (possible for df < p) are redrawn up to
        ``max_try_correction`` (default 10) times, with a warning."""
        if max_try_correction is None:
            max_try_correction = 10
        sample_shape = Size(sample_shape)
        sample = self._bartlett_sampling(sample_shape)
        is_singular = self._singular(sample)
        if bool(is_singular.any()):
            warnings.warn("Singular sample detected.", stacklevel=2)
            for _ in range(max_try_correction):
                sample_new = self._bartlett_sampling(sample_shape)
                sample = ndgrad.where(is_singular.reshape(*is_singular.shape, *(
                    (1,) * (len(self._batch_shape) + 2))), sample_new, sample)
                is_singular = self._singular(sample)
                if not bool(is_singular.any()):
                    break
        return sample

    def _singular(self, sample: Tensor) -> Tensor:
        """Per draw (of sample_shape): whether any matrix of its batch is not positive
        definite."""
        is_singular = ~self.support.check(sample)
        if self._batch_shape:
            is_singular = is_singular.amax(tuple(self._batch_dims))
        return is_singular

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        nu = self.df
        p = self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        return (-nu * (p * _log_2 / 2 + L.diagonal(0, -2, -1).log().sum(-1))
                - (nu / 2).mvlgamma(p)
                + (nu - p - 1) / 2 * ndgrad.linalg.slogdet(value).logabsdet
                - ndgrad.cholesky_solve(value, L).diagonal(0, -2, -1).sum(-1) / 2)

    def entropy(self) -> Tensor:
        nu = self.df
        p = self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        return ((p + 1) * (p * _log_2 / 2 + L.diagonal(0, -2, -1).log().sum(-1))
                + (nu / 2).mvlgamma(p)
                - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p)
                + nu * p / 2)

    @property
    def _natural_params(self) -> tuple[Tensor, Tensor]:
        nu = self.df
        p = self._event_shape[-1]
        return -self.precision_matrix / 2, (nu - p - 1) / 2

    def _log_normalizer(self, *natural_params: Any) -> Tensor:
        x, y = natural_params
        p = self._event_shape[-1]
        return ((y + (p + 1) / 2) * (-ndgrad.linalg.slogdet(-2 * x).logabsdet + _log_2 * p)
                + (y + (p + 1) / 2).mvlgamma(p))
