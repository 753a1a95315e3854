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


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (N, C, D, H, W) with probability p."""
    return _feature_dropout(input, p, training, inplace, 3)


def _alpha(input: Tensor, p: float, training: bool, inplace: bool,
           feature: bool) -> Tensor:
    """Dropout that keeps SELU's self-normalisation: dropped values become SELU's negative
    saturation -alpha', then an affine map a * x + b restores mean 0 and variance 1
    (PyTorch's constants)."""
    _check_p(p)
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return input.mul_(0.0) if inplace else input * 0.0
    shape = tuple(input.shape)
    if feature:
        if input.ndim < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = shape[:2] + (1,) * (input.ndim - 2)
    from ndgrad import random

    dtype = input._data.dtype
    keep = random.default_generator().random(shape) < 1 - p
    alpha = 1.7580993408473766
    a = 1.0 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    b = Tensor._make(((keep - 1.0) * alpha * a + alpha * a * p).astype(dtype))
    scale = Tensor._make((keep * a).astype(dtype))
    if inplace:
        return input.mul_(scale).add_(b)
    return input * scale + b


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Alpha dropout for SELU networks (each element)."""
    return _alpha(input, p, training, inplace, False)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels (dim 1)."""
    return _alpha(input, p, training, inplace, True)
