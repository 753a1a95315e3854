"""Dropout: zero elements (or whole channels) with probability p in training, scaling the rest
by 1 / (1 - p) so the expected value is unchanged.
"""

from __future__ import annotations

import warnings

import numpy as np

from ndgrad.tensor import Tensor


def _dropout_mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> Tensor:
    """Keep each element with probability 1 - p, scaled by 1 / (1 - p) (ndgrad's generator)."""
    from ndgrad import random

    rng = random.default_generator()
    u = rng.random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    # kept (a bool array) times the scale in the mask's dtype: two passes, not np.where's three
    return Tensor._make(np.multiply(u < 1 - p, np.dtype(dtype).type(1.0 / (1 - p)), dtype=dtype))


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


def _feature_shape(input: Tensor, channel_dim: int) -> tuple[int, ...]:
    """The shape of a mask drawn once per channel: input's dims up to ``channel_dim``, then
    ones (torch's feature noise); a channel needs a dim before it, or is the unbatched dim 0."""
    if input.ndim <= channel_dim:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    lead = tuple(input.shape[:channel_dim + 1])
    return lead + (1,) * (input.ndim - len(lead))


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     channel_dim: int) -> Tensor:
    """Zero whole channels (dim ``channel_dim`` and the dims before it index the draws)."""
    _check_p(p)
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return input.mul_(0.0) if inplace else input * 0.0
    mask = _dropout_mask(_feature_shape(input, channel_dim), p, input._data.dtype)
    return input.mul_(mask) if inplace else input * mask


def _spatial_warning(name: str, ndim: int, ranks: tuple[int, int], spatial: int) -> None:
    """torch's deprecation warning for dropout2d/3d inputs of other ranks."""
    if ndim not in ranks:
        warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and "
                      f"will result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that {name} exists "
                      f"to provide channel-wise dropout on inputs with {spatial} spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension (i.e. "
                      f"{ranks[0]}D or {ranks[1]}D inputs).", stacklevel=3)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or unbatched (C, L) with probability p."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           f"input. Note that dropout1d exists to provide channel-wise dropout "
                           f"on inputs with 1 spatial dimension, a channel dimension, and an "
                           f"optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, inplace, input.ndim - 2)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (dim 1) of (N, C, H, W) with probability p. As torch, a 3-D input
    is read as (N, C, L), not as unbatched (C, H, W), with a warning."""
    _check_p(p)
    _spatial_warning("dropout2d", input.ndim, (3, 4), 2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-"
                      "wise 1D dropout behavior is desired - input is interpreted as shape (N, "
                      "C, L), where C is the channel dim. This behavior will change in a future "
                      "release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, 1)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) with probability p; any other rank is read as
    unbatched (channels in dim 0), as torch."""
    _check_p(p)
    _spatial_warning("dropout3d", input.ndim, (4, 5), 3)
    return _feature_dropout(input, p, training, inplace, 1 if input.ndim == 5 else 0)


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
    shape = _feature_shape(input, 1) if feature else tuple(input.shape)
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
