"""torch's ATen-level forms of nn ops that torch also exposes at the top level.

``torch.native_layer_norm``, ``torch.grid_sampler_2d``, ``torch.constant_pad_nd``, ... are the
functions nn.functional calls underneath; a few programs (and torch's own tests) call them
directly. Each is a thin wrapper over ndgrad's functional op, plus the statistics the ATen
form returns beside its output, computed with differentiable ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ndgrad.nn.functional.normalization import batch_norm, group_norm, layer_norm
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
    out = batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty: Any = input.new_empty((0,))
        return out, empty, input.new_empty((0,))
    dims = (0, *range(2, input.dim()))
    mean, rstd = _mean_rstd(input.detach(), dims, eps)  # outside the graph, as torch's
    return out, mean.reshape(-1), rstd.reshape(-1)
