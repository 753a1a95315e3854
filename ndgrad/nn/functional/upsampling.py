"""Resizing as functions: interpolate (nearest, nearest-exact, linear, bilinear, bicubic,
trilinear, area; align_corners, scale_factor, recompute_scale_factor, antialias) and the
deprecated upsample* forms. Each mode is one linear map per spatial dim (ndgrad/ops/resample.py).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ndgrad.nn.functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
)
from ndgrad.ops.resample import (
    AxisMap,
    Resample,
    antialias_map,
    cubic_map,
    linear_map,
    nearest_map,
)
from ndgrad.tensor import Tensor

_MODES = "nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact"
_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4}


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _sizes(input: Tensor, size: Any, scale_factor: Any, recompute_scale_factor: bool | None,
           mode: str) -> tuple[list[int], list[float | None]]:
    """PyTorch's rules: exactly one of size and scale_factor; the output size is
    floor(input size * scale); the scale itself reaches the kernels unless it is recomputed
    (always for 'area')."""
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    scales: list[float | None]
    if size is not None:
        if isinstance(size, list | tuple):
            if len(size) != dim:
                raise ValueError(f"Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(input.shape[2:])} and output size of {size}. Please "
                                 f"provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 f"output size in (o1, o2, ...,oK) format.")
            if not all(_is_int(v) for v in size):
                raise TypeError(f"expected size to be one of int or Tuple[int] or Tuple[int, "
                                f"int] or Tuple[int, int, int], but got size with types "
                                f"{[type(v) for v in size]}")
            out = [int(v) for v in size]
        else:
            out = [int(size)] * dim
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        return out, [None] * dim
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, list | tuple):
        if len(scale_factor) != dim:
            raise ValueError(f"Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(input.shape[2:])} and scale_factor of shape "
                             f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, "
                             f"...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
        scales = [float(s) for s in scale_factor]
    else:
        scales = [float(scale_factor)] * dim
    out = [int(math.floor(input.shape[2 + i] * s)) for i, s in enumerate(scales)]  # type: ignore
    if recompute_scale_factor or mode == "area":
        scales = [None] * dim
    return out, scales


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize (N, C, *S) to (N, C, *size) or by scale_factor, as torch.nn.functional's."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: {_MODES} (got {mode})")
    out, scales = _sizes(input, size, scale_factor, recompute_scale_factor, mode)
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and "
                         "requires a 4-D tensor as input")
    if mode == "area":
        pool = {3: adaptive_avg_pool1d, 4: adaptive_avg_pool2d, 5: adaptive_avg_pool3d}
        return pool[input.ndim](input, out)
    if mode in _LINEAR and _LINEAR[mode] != input.ndim:
        need = {3: "3D", 4: "4D", 5: "5D"}
        raise NotImplementedError(f"Got {need[input.ndim]} input, but {mode} mode needs "
                                  f"{need[_LINEAR[mode]]} input")
    if mode not in _LINEAR and mode not in ("nearest", "nearest-exact"):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: {_MODES} (got {mode})")
    if any(o <= 0 for o in out) or any(s <= 0 for s in input.shape[2:]):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, input.shape[2:]))}) and output "
                           f"({', '.join(map(str, out))})")
    maps: list[AxisMap | None] = []
    for s, o, sc in zip(input.shape[2:], out, scales):
        if mode in ("nearest", "nearest-exact"):
            maps.append(nearest_map(s, o, sc, mode == "nearest-exact"))
        elif antialias:
            maps.append(antialias_map(s, o, bool(align_corners), sc, mode == "bicubic"))
        elif mode == "bicubic":
            maps.append(cubic_map(s, o, bool(align_corners), sc))
        else:
            maps.append(linear_map(s, o, bool(align_corners), sc))
    return Resample.apply(input, tuple(maps), False)


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
