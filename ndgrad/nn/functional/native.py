"""torch's ATen-level forms of nn ops that torch also exposes at the top level.

``torch.native_layer_norm``, ``torch.grid_sampler_2d``, ``torch.constant_pad_nd``, ... are the
functions nn.functional calls underneath; a few programs (and torch's own tests) call them
directly. Each is a thin wrapper over ndgrad's functional op, plus the statistics the ATen
form returns beside its output, computed with differentiable ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ndgrad.nn.functional import pooling as _pool
from ndgrad.nn.functional.normalization import batch_norm as _batch_norm
from ndgrad.nn.functional.normalization import group_norm, layer_norm
from ndgrad.nn.functional.normalization import instance_norm as _instance_norm
from ndgrad.nn.functional.sparse import embedding as _embedding
from ndgrad.nn.functional.vision import grid_sample
from ndgrad.nn.functional.vision import pad as _pad
from ndgrad.tensor import Tensor

# The integer codes torch.grid_sampler takes for F.grid_sample's string arguments
_INTERPOLATION = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")


def constant_pad_nd(input: Tensor, pad: Sequence[int], value: float = 0.0) -> Tensor:
    """Pad with a constant (negative pads crop): ``F.pad(input, pad, "constant", value)``."""
    return _pad(input, pad, "constant", value)


def _grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                  align_corners: bool, spatial: int) -> Tensor:
    if input.dim() != spatial + 2:
        raise RuntimeError(f"grid_sampler_{spatial}d(): expected {spatial + 2}D input, got "
                           f"{input.dim()}D")
    if not 0 <= interpolation_mode < len(_INTERPOLATION):
        raise RuntimeError(f"grid_sampler(): interpolation_mode must be 0 (bilinear), 1 "
                           f"(nearest) or 2 (bicubic), got {interpolation_mode}")
    if not 0 <= padding_mode < len(_PADDING):
        raise RuntimeError(f"grid_sampler(): padding_mode must be 0 (zeros), 1 (border) or 2 "
                           f"(reflection), got {padding_mode}")
    return grid_sample(input, grid, _INTERPOLATION[interpolation_mode], _PADDING[padding_mode],
                       align_corners)


def grid_sampler_2d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """``F.grid_sample`` on a 4-D input, with its modes as torch's integer codes."""
    return _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners, 2)


def grid_sampler_3d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """``F.grid_sample`` on a 5-D input, with its modes as torch's integer codes."""
    return _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners, 3)


def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                 align_corners: bool) -> Tensor:
    """``torch.grid_sampler``: 2-D or 3-D by the input's rank."""
    return _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners,
                         input.dim() - 2)


def _mean_rstd(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor]:
    """The mean and 1/sqrt(biased variance + eps) over ``dims``, kept as size-1 dims."""
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, unbiased=False, keepdim=True)
    return mean, (var + eps).rsqrt()


def native_layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None,
                      bias: Tensor | None, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(layer_norm(input), mean, rstd)``; mean and rstd keep the normalized dims as size 1."""
    out = layer_norm(input, normalized_shape, weight, bias, eps)
    dims = tuple(range(input.dim() - len(normalized_shape), input.dim()))
    # torch returns layer norm's statistics outside the graph (group norm's inside it)
    mean, rstd = _mean_rstd(input.detach(), dims, eps)
    return out, mean, rstd


def native_group_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, N: int,
                      C: int, HxW: int, group: int, eps: float
                      ) -> tuple[Tensor, Tensor, Tensor]:
    """``(group_norm(input), mean, rstd)`` with mean and rstd of shape ``(N, group)``."""
    out = group_norm(input, group, weight, bias, eps)
    grouped = input.reshape(N, group, -1)
    mean, rstd = _mean_rstd(grouped, (2,), eps)
    return out, mean.reshape(N, group), rstd.reshape(N, group)


def native_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                      running_mean: Tensor | None, running_var: Tensor | None, training: bool,
                      momentum: float, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(batch_norm(input), save_mean, save_invstd)``: the batch's per-channel mean and
    1/sqrt(var + eps) when training (running stats updated in place, as ``F.batch_norm``);
    empty tensors in evaluation, as torch returns."""
    out = _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty: Any = input.new_empty((0,))
        return out, empty, input.new_empty((0,))
    dims = (0, *range(2, input.dim()))
    mean, rstd = _mean_rstd(input.detach(), dims, eps)  # outside the graph, as torch's
    return out, mean.reshape(-1), rstd.reshape(-1)


# -- torch's top-level forms of pooling, embedding and normalization ---------------------------
def _stride(stride: Any) -> Any:
    return None if stride is None or (isinstance(stride, Sequence) and not stride) else stride


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    """torch.max_pool1d: F.max_pool1d (an empty stride means the kernel size)."""
    return _pool.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    return _pool.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    return _pool.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = (),
                            padding: Any = 0, dilation: Any = 1,
                            ceil_mode: bool = False) -> tuple[Tensor, Tensor]:
    """torch.max_pool1d_with_indices: (values, indices)."""
    out = _pool.max_pool1d_with_indices(input, kernel_size, _stride(stride), padding,
                                        dilation, ceil_mode)
    return out  # type: ignore[no-any-return]


def adaptive_max_pool1d(input: Tensor, output_size: Any) -> tuple[Tensor, Tensor]:
    """torch.adaptive_max_pool1d: (values, indices), always (F's gives the values alone)."""
    out = _pool.adaptive_max_pool1d(input, output_size, return_indices=True)
    return out  # type: ignore[no-any-return]


def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """torch.embedding: the weight first, and -1 (any negative) for no padding index."""
    return _embedding(indices, weight, None if padding_idx < 0 else padding_idx,
                      scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
               running_mean: Tensor | None, running_var: Tensor | None, training: bool,
               momentum: float, eps: float, cudnn_enabled: bool = True) -> Tensor:
    """torch.batch_norm: F.batch_norm with the weight and bias first (cudnn_enabled unused)."""
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                  running_mean: Tensor | None, running_var: Tensor | None,
                  use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool = True) -> Tensor:
    """torch.instance_norm: F.instance_norm with the weight and bias first."""
    return _instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                          momentum, eps)
