"""Dropout: zero elements (or whole channels) with probability p in training, scaling the rest
by 1 / (1 - p) so the expected value is unchanged.
"""

from __future__ import annotations

import numpy as np

from ndgrad.tensor import Tensor


def _dropout_mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> Tensor:
    """Keep each element with probability 1 - p, scaled by 1 / (1 - p) (ndgrad's generator)."""
    from ndgrad import random

    rng = random.default_generator()
    u = rng.random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    mask = np.where(u < 1 - p, 1.0 / (1 - p), 0.0).astype(dtype)
    return Tensor._make(mask)


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (when training)."""
    _check_p(p)
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return input.mul_(0.0) if inplace else input * 0.0
    mask = _dropout_mask(tuple(input.shape), p, input._data.dtype)
    return input.mul_(mask) if inplace else input * mask


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     dims: int) -> Tensor:
    _check_p(p)
    if not training or p == 0 or input.numel() == 0:
        return input
    batched = input.ndim == dims + 2
    lead = tuple(input.shape[:2]) if batched else tuple(input.shape[:1])
    shape = lead + (1,) * (input.ndim - len(lead))
    if p == 1:
        mask = Tensor._make(np.zeros(shape, dtype=input._data.dtype))
    else:
        mask = _dropout_mask(shape, p, input._data.dtype)
    return input.mul_(mask) if inplace else input * mask


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (N, C, L) with probability p."""
    return _feature_dropout(input, p, training, inplace, 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (N, C, H, W) with probability p."""
    return _feature_dropout(input, p, training, inplace, 2)
