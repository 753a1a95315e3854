"""Resampling along spatial dims: interpolation (nearest, linear, cubic, antialiased) and
adaptive average pooling ("area").

Every one of these is separable: a linear map along each spatial dim in turn. Along one dim an
output element is a weighted sum of a few input elements ("taps": 1 for nearest, 2 for linear,
4 for cubic, a window's length for area), so a map is kept as two (T, out) arrays, the input
index and the weight of each tap, and applied as T gathers along that dim (never as a dense
(out, in) matrix, whose cost grows with the input's length). The gradient is the adjoint map,
the same form with its taps regrouped by input element (``AxisMap.T``); the adjoint of the
adjoint is the map itself, so gradients of any order exist.

The index arithmetic follows PyTorch's kernels (aten/src/ATen/native/UpSample.h): the same
source coordinates, and nearest's in float32, so that the same input pixels are picked.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ndgrad.ops.base import Primitive


class AxisMap(NamedTuple):
    """A linear map along one dim: out[j] = sum_t weight[t, j] * x[taps[t, j]]."""

    taps: np.ndarray  # (T, out) int64: the input index of each tap
    weight: np.ndarray | None  # (T, out) float64; None: every weight is 1
    size: int  # the input's length

    @property
    def T(self) -> AxisMap:  # noqa: N802 (the transpose, as for matrices)
        """The adjoint: for each input element, the outputs that read it and their weights."""
        taps, n_out = self.taps.shape
        rows = self.taps.reshape(-1)
        cols = np.broadcast_to(np.arange(n_out), (taps, n_out)).reshape(-1)
        w = np.ones(rows.size) if self.weight is None else self.weight.reshape(-1)
        order = np.argsort(rows, kind="stable")
        rows, cols, w = rows[order], cols[order], w[order]
        counts = np.bincount(rows, minlength=self.size)
        k = max(int(counts.max()) if counts.size else 0, 1)
        rank = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        index = np.zeros((k, self.size), dtype=np.int64)
        weight = np.zeros((k, self.size))
        index[rank, rows] = cols
        weight[rank, rows] = w
        uniform = self.weight is None and bool((counts == k).all())
        return AxisMap(index, None if uniform else weight, n_out)

    def apply(self, x: np.ndarray, axis: int) -> np.ndarray:
        """The map along ``axis`` of x."""
        shape = (-1,) + (1,) * (x.ndim - 1 - axis)
        out = None
        for t in range(self.taps.shape[0]):
            v = np.take(x, self.taps[t], axis=axis)
            if self.weight is not None:
                v *= self.weight[t].astype(x.dtype).reshape(shape)
            out = v if out is None else np.add(out, v, out=out)
        if out is None:  # an empty output
            out = np.zeros(x.shape[:axis] + (self.taps.shape[1],) + x.shape[axis + 1:], x.dtype)
        return out


def _apply_all(x: np.ndarray, maps: tuple[AxisMap | None, ...]) -> np.ndarray:
    for i, m in enumerate(maps):
        if m is not None:
            x = m.apply(x, 2 + i)
    return x


class Resample(Primitive):
    """x (N, C, *S) -> (N, C, *out): ``maps[i]`` along spatial dim i (None: unchanged).

    ``anchored``: whether the gradient stays in the graph with x (PyTorch's adaptive pooling
    does, its interpolation does not; see ndgrad/ops/pool.py)."""

    @staticmethod
    def forward(ctx: Any, x: Any, maps: Any, anchored: Any) -> Any:
        ctx.maps, ctx.anchored = maps, anchored
        ctx.save_for_backward(x if anchored else None)
        ctx.x_shape = x.shape
        return _apply_all(x, maps)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        adjoint = tuple(None if m is None else m.T for m in ctx.maps)
        return ResampleGrad.apply(grad, x, adjoint, ctx.maps, ctx.x_shape), None, None


class ResampleGrad(Primitive):
    """The adjoint maps applied to grad; ``x`` (or None) is an input only to stay in the
    graph. ``maps`` are the forward's maps, this op's own adjoint."""

    @staticmethod
    def forward(ctx: Any, grad: Any, x: Any, adjoint: Any, maps: Any, x_shape: Any) -> Any:
        ctx.maps, ctx.x_shape = maps, x_shape
        return _apply_all(grad, adjoint)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        zeros = np.zeros(ctx.x_shape, grad.dtype) if ctx.needs_input_grad[1] else None
        return Resample.apply(grad, ctx.maps, False), zeros, None, None, None


# -- the maps --------------------------------------------------------------------------------
def area_map(size: int, out: int) -> AxisMap:
    """Adaptive average pooling: output i averages [floor(i*S/O), ceil((i+1)*S/O))."""
    i = np.arange(out)
    start, end = (i * size) // out, -(-((i + 1) * size) // out)
    length = end - start
    k = int(length.max()) if out else 1
    t = np.arange(k)[:, None]
    index = np.minimum(start + t, size - 1)
    weight = np.where(t < length, 1.0 / np.maximum(length, 1), 0.0)
    return AxisMap(index, weight, size)


def _scale(size: int, out: int, align_corners: bool, scale: float | None) -> float:
    """PyTorch's area_pixel_compute_scale: input pixels per output pixel."""
    if align_corners:
        return (size - 1) / (out - 1) if out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else size / out


def _source(size: int, out: int, align_corners: bool, scale: float | None,
            cubic: bool) -> np.ndarray:
    """Each output pixel's position in input coordinates (area_pixel_compute_source_index)."""
    s = _scale(size, out, align_corners, scale)
    j = np.arange(out, dtype=np.float64)
    if align_corners:
        return s * j
    src = s * (j + 0.5) - 0.5
    return src if cubic else np.maximum(src, 0.0)


def nearest_map(size: int, out: int, scale: float | None, exact: bool) -> AxisMap:
    """Nearest neighbour: floor(j * s) ('nearest', PyTorch's legacy rule) or
    floor((j + 0.5) * s) ('nearest-exact'), s in float32 as PyTorch computes it."""
    j = np.arange(out)
    if not exact and out == size:
        src = j
    elif not exact and out == 2 * size:
        src = j >> 1
    else:
        s = np.float32(1.0 / scale) if scale is not None and scale > 0 \
            else np.float32(size) / np.float32(out)
        pos = (j + 0.5 if exact else j).astype(np.float32)
        src = np.floor(pos * s).astype(np.int64)
    return AxisMap(np.minimum(src, size - 1).reshape(1, -1), None, size)


def linear_map(size: int, out: int, align_corners: bool, scale: float | None) -> AxisMap:
    """Linear interpolation between the two input pixels around each source position."""
    src = _source(size, out, align_corners, scale, False)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    lam = np.clip(src - i0, 0.0, 1.0)
    i1 = np.minimum(i0 + 1, size - 1)
    return AxisMap(np.stack([i0, i1]), np.stack([1.0 - lam, lam]), size)


def _cubic_weights(t: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution weights of the 4 taps at offsets -1, 0, 1, 2 from floor(src)."""
    def near(v):  # |v| <= 1
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v):  # 1 < |v| < 2
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)])


def cubic_map(size: int, out: int, align_corners: bool, scale: float | None) -> AxisMap:
    """Bicubic's 1-D part (PyTorch's A = -0.75), indices clamped at the borders."""
    src = _source(size, out, align_corners, scale, True)
    i0 = np.floor(src).astype(np.int64)
    index = np.clip(i0 + np.arange(-1, 3)[:, None], 0, size - 1)
    return AxisMap(index, _cubic_weights(src - i0, -0.75), size)


def antialias_map(size: int, out: int, align_corners: bool, scale: float | None,
                  cubic: bool) -> AxisMap:
    """Antialiased linear or cubic interpolation (as PIL, and PyTorch's antialias=True): when
    shrinking, the filter is stretched by the scale so that every input pixel contributes;
    weights normalised to sum to 1."""
    s = _scale(size, out, align_corners, scale)
    interp = 4 if cubic else 2
    support = interp * 0.5 * s if s >= 1.0 else interp * 0.5
    invscale = 1.0 / s if s >= 1.0 else 1.0
    center = s * (np.arange(out) + 0.5)
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)
    xsize = np.minimum((center + support + 0.5).astype(np.int64), size) - xmin
    k = max(int(math.ceil(support)) * 2 + 1, 1)
    t = np.arange(k)[:, None]
    x = np.abs((t + xmin - center + 0.5) * invscale)
    if cubic:  # a = -0.5 here, as PIL
        a = -0.5
        w = np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                     np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0))
    else:
        w = np.maximum(1.0 - x, 0.0)
    w = np.where(t < xsize, w, 0.0)
    total = w.sum(0)
    w = np.where(total != 0, w / np.where(total != 0, total, 1.0), w)
    return AxisMap(np.minimum(xmin + t, size - 1), w, size)


__all__ = ["AxisMap", "Resample", "ResampleGrad", "area_map", "nearest_map", "linear_map",
           "cubic_map", "antialias_map"]
