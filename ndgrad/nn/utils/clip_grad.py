"""Gradient clipping: rescale (clip_grad_norm_) or clamp (clip_grad_value_) ``.grad`` in place."""

from __future__ import annotations

import math
import types
from collections.abc import Iterable
from typing import Any

import numpy as np

from ndgrad.tensor import Tensor

_tensor_or_tensors = Tensor | Iterable[Tensor]


def _as_list(tensors: Any) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(a: np.ndarray, p: float) -> np.ndarray:
    """The p-norm of ``a`` flattened, as a 0-d array in a's dtype."""
    flat = a.reshape(-1)
    if p == 2.0:
        return np.sqrt(np.dot(flat, flat))  # one BLAS call, no temporary array
    if flat.size == 0:
        return np.zeros((), a.dtype)
    if p == math.inf:
        return np.abs(flat).max()
    if p == -math.inf:
        return np.abs(flat).min()
    if p == 0.0:
        return np.asarray(np.count_nonzero(flat), dtype=a.dtype)
    if p == 1.0:
        return np.abs(flat).sum()
    return (np.abs(flat) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors: _tensor_or_tensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The p-norm of all ``tensors`` together, as if concatenated into one vector."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._make(np.zeros((), np.float32))
    norms = [_vector_norm(t._data, norm_type) for t in tensors]
    dtype = np.result_type(*(n.dtype for n in norms))
    total = np.asarray(_vector_norm(np.array(norms, dtype=dtype), norm_type), dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           f"`parameters` is non-finite, so it cannot be clipped. To disable "
                           f"this error and scale the gradients by the non-finite norm anyway, "
                           f"set `error_if_nonfinite=False`")
    return Tensor._make(total)


def clip_grads_with_norm_(parameters: _tensor_or_tensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale every gradient by min(max_norm / (total_norm + 1e-6), 1), in place."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm._data
    coef = np.minimum(np.asarray(float(max_norm), total.dtype) / (total + total.dtype.type(1e-6)),
                      total.dtype.type(1.0))
    for g in grads:
        np.multiply(g._data, coef.astype(g._data.dtype), out=g._data)
        g._bump_version()


def clip_grad_norm_(parameters: _tensor_or_tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients so that their total ``norm_type``-norm is at most ``max_norm``;
    returns the total norm before clipping (a 0-d tensor)."""
    if isinstance(parameters, types.GeneratorType):
        parameters = list(parameters)
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(parameters: _tensor_or_tensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)
            p.grad._bump_version()
