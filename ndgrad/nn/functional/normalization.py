"""Normalization layers as functions: batch, layer, group, instance and local response norm,
and normalize.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ndgrad._dtype import float32
from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.nn.functional.pooling import avg_pool2d, avg_pool3d
from ndgrad.nn.functional.vision import pad
from ndgrad.ops.normalization import BatchNorm, LayerNorm, RMSNorm
from ndgrad.tensor import Tensor


def _channel_shape(x: Tensor) -> list[int]:
    return [1, -1] + [1] * (x.ndim - 2)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) by batch statistics (training) or running ones (a fused
    primitive, ndgrad.ops.normalization.BatchNorm).

    In training, running_mean/running_var are updated in place:
    running = (1 - momentum) * running + momentum * batch stat (the variance unbiased)."""
    if input.ndim < 2:
        if input.numel() == 0:  # PyTorch returns an empty input as it is
            return input.clone()
        raise ValueError(f"expected 2D or more input (got {input.ndim}D input)")
    for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat is not None and stat.requires_grad and grad_state.enabled:
            raise RuntimeError(f"The function 'native_batch_norm' is not differentiable with "
                               f"respect to argument '{name}'. This input cannot have "
                               f"requires_grad True.")
    _check_mixed_dtypes(input, (weight, bias, running_mean, running_var))
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if not training:
        _check_num_features(input, running_mean, running_var, weight, bias)
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        return BatchNorm.apply(input, weight, bias, eps=float(eps),
                               stats=(running_mean._data, running_var._data))
    if input.shape[0] * math.prod(input.shape[2:]) == 1:  # (an empty batch passes, as in torch)
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {input.shape}")
    _check_num_features(input, running_mean, running_var, weight, bias)
    stats = [s for s in (running_mean, running_var) if s is not None]
    running = (*[None if s is None else s._data for s in (running_mean, running_var)],
               float(momentum))
    out = BatchNorm.apply(input, weight, bias, eps=float(eps), running=running)
    for s in stats:  # updated in place by forward
        s._bump_version()
    return out


def _check_num_features(input: Tensor, *params: Tensor | None) -> None:
    """torch's check that each of running_mean, running_var, weight, bias (in that order) has
    one element per channel (dim 1): NumPy would broadcast a length-1 one silently."""
    if input.numel() == 0:  # torch returns an empty batch before checking
        return
    c = input.shape[1]
    for name, p in zip(("running_mean", "running_var", "weight", "bias"), params):
        if p is not None and p.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {p.numel()}")


def _check_mixed_dtypes(input: Tensor, params: Sequence[Tensor | None]) -> None:
    """torch's rule for batch_norm's parameters and running stats on the CPU: all of the input's
    dtype, or all float32 with a 16-bit float input (torch's mixed mode); its two messages."""
    dtypes = {p.dtype for p in params if p is not None}
    if not dtypes or dtypes == {input.dtype}:
        return
    if dtypes != {float32}:
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    if not (input.dtype.is_floating_point and input.dtype.itemsize == 2):
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def _normalized_dims(input: Tensor, normalized_shape: Sequence[int] | int) -> int:
    """The number of elements normalized together (the trailing normalized_shape dims),
    after torch's check that they are the input's last dims."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    return math.prod(shape)


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last len(normalized_shape) dims, then scale and shift (a fused
    primitive, ndgrad.ops.normalization.LayerNorm)."""
    n = _normalized_dims(input, normalized_shape)
    return LayerNorm.apply(input, weight, bias, n=n, eps=float(eps))


def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) dims; eps
    defaults to the machine epsilon of the input's dtype, as in torch."""
    n = _normalized_dims(input, normalized_shape)
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    return RMSNorm.apply(input, weight, n=n, eps=float(eps))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over groups of channels (and all spatial positions), per sample."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    x = input.reshape(n, num_groups, input.numel() // (n * num_groups) if n else c // num_groups)
    centered = x - x.mean(2, keepdim=True)
    var = (centered * centered).mean(2, keepdim=True)
    out = (centered * (var + eps).rsqrt()).reshape(input.shape)
    shape = _channel_shape(input)
    if weight is not None:
        out = out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each (sample, channel) over its spatial positions: batch_norm of the input
    seen as (1, N * C, *spatial), as torch computes it, the running stats (if any) updated
    with the mean over the batch of each sample's statistics."""
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if math.prod(input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    n, c = input.shape[:2]
    stats = (running_mean, running_var)
    mean_, var_ = (None if s is None else Tensor._make(np.tile(s._data, n)) for s in stats)
    out = batch_norm(input.reshape(1, n * c, *input.shape[2:]), mean_, var_,
                     None if weight is None else weight.repeat(n),
                     None if bias is None else bias.repeat(n), True, momentum, eps)
    for s, p in zip(stats, (mean_, var_)):
        if s is not None and p is not None:
            with np.errstate(invalid="ignore"):  # no samples: nan, as torch's
                s._data[...] = p._data.reshape(n, c).sum(0) / n
            s._bump_version()
    return out.reshape(input.shape)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p, eps) along dim."""
    if p == 2:
        # clamp the squared norm first: sqrt's gradient at 0 would be 0 * inf
        norm = (input * input).sum(dim, keepdim=True).clamp(min=eps * eps).sqrt()
    else:
        norm = input.norm(p, dim, keepdim=True).clamp(min=eps)
    res = input / norm.expand_as(input)
    if out is not None:
        out.copy_(res)
        return out
    return res


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta (AlexNet's
    LRN), computed as PyTorch does: an average pool of x^2 along the channel dim."""
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = input * input
    if dim == 3:
        div = pad(div.unsqueeze(1), (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.shape
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1).reshape(sizes)
    return input / (div * alpha + k).pow(beta)
