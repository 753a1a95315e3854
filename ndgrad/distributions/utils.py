"""Helpers the distributions share, as torch.distributions.utils has them: broadcasting
parameters, probabilities and logits, lazily computed attributes."""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Number
from typing import Any

import numpy as np

import ndgrad
from ndgrad import _dtype
from ndgrad.autograd.grad_mode import enable_grad
from ndgrad.tensor import Tensor

euler_constant = 0.57721566490153286060  # Euler-Mascheroni


def finfo(t: Tensor) -> np.finfo:
    """The floating-point limits of t's dtype (torch.finfo(t.dtype))."""
    return np.finfo(t._data.dtype)


def broadcast_all(*values: Any) -> tuple[Tensor, ...]:
    """Numbers and tensors broadcast to one shape; numbers become tensors of the first
    tensor's dtype (the default dtype if there is none)."""
    if not all(isinstance(v, Tensor | Number) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    if not all(isinstance(v, Tensor) for v in values):
        nd = next((v._data.dtype for v in values if isinstance(v, Tensor)),
                  _dtype.default_float())
        values = tuple(v if isinstance(v, Tensor) else Tensor._make(np.asarray(v, dtype=nd))
                       for v in values)
    return ndgrad.broadcast_tensors(*values)


def _standard_normal(shape: Any, like: Tensor) -> Tensor:
    """N(0, 1) draws of ``shape`` in like's dtype, from ndgrad's generator (not recorded)."""
    rng = ndgrad.random.default_generator()
    return like._make(rng.standard_normal(tuple(shape)).astype(like._data.dtype))


def _uniform(shape: Any, like: Tensor, low: float = 0.0, high: float = 1.0) -> Tensor:
    """U[low, high) draws of ``shape`` in like's dtype."""
    rng = ndgrad.random.default_generator()
    return like._make(rng.uniform(low, high, tuple(shape)).astype(like._data.dtype))


def _sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """Sum out the ``dim`` rightmost dims."""
    if dim == 0:
        return value
    return value.reshape(*value.shape[:-dim], -1).sum(-1)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from logits: sigmoid for binary ones, softmax over the last dim else."""
    if is_binary:
        return logits.sigmoid()
    return logits.softmax(-1)


def clamp_probs(probs: Tensor) -> Tensor:
    """Probabilities clamped into [eps, 1 - eps], where their logs are finite."""
    eps = float(finfo(probs).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Logits from probabilities (the log-odds if binary, log p otherwise), clamped away from
    0 and 1 so that they stay finite."""
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return ps_clamped.log() - (-ps_clamped).log1p()
    return ps_clamped.log()


class lazy_property:  # noqa: N801 - torch's name
    """An attribute computed on first access (with grad recording on) and then stored on the
    instance: ``probs`` from ``logits`` or the other way round."""

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance: Any, obj_type: Any = None) -> Any:
        if instance is None:
            return _LazyPropertyAndProperty(self.wrapped)
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _LazyPropertyAndProperty(lazy_property, property):
    """What a lazy_property is on the class: a property, so that docs and introspection see
    it as one."""

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        property.__init__(self, wrapped)
        self.wrapped = wrapped


def tril_matrix_to_vec(mat: Tensor, diag: int = 0) -> Tensor:
    """The lower-triangular entries (from diagonal ``diag`` down) of (..., n, n), row by row."""
    n = mat.shape[-1]
    if not (-n <= diag < n):
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    rows, cols = np.tril_indices(n, diag)
    return mat[..., rows, cols]


def vec_to_tril_matrix(vec: Tensor, diag: int = 0) -> Tensor:
    """The inverse of tril_matrix_to_vec: (..., m) -> (..., n, n), zeros above diagonal
    ``diag``."""
    m = vec.shape[-1]
    # the positive root of n^2 + (1 + 2 diag) n - |diag| (diag + 1) - 2 m = 0
    n_real = (-(1 + 2 * diag) + math.sqrt((1 + 2 * diag) ** 2 + 8 * m
                                          + 4 * abs(diag) * (diag + 1))) / 2
    n = round(n_real)
    eps = np.finfo(np.float64).eps
    if abs(n - n_real) > eps or len(np.tril_indices(n, diag)[0]) != m:
        raise ValueError(f"The size of last dimension is {m} which cannot be expressed as the "
                         f"lower triangular part of a square D x D matrix.")
    rows, cols = np.tril_indices(n, diag)
    index = np.full((n, n), m, dtype=np.int64)  # m: the zero padded on after vec
    index[rows, cols] = np.arange(len(rows))
    padded = ndgrad.cat([vec, ndgrad.zeros(*vec.shape[:-1], 1, dtype=vec.dtype)], -1)
    return padded[..., Tensor._make(index.reshape(-1))].reshape(*vec.shape[:-1], n, n)
