"""Pooling as functions, over 1, 2 or 3 spatial dims: max, average, power-average (lp),
adaptive, fractional, and max unpooling. The arithmetic is in ``ndgrad/ops/pool.py`` (sliding
windows as strided views) and ``ndgrad/ops/resample.py`` (adaptive averages).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad.nn.functional._helpers import _int_tuple
from ndgrad.nn.functional.activation import relu
from ndgrad.nn.functional.conv import _batched
from ndgrad.ops.pool import (
    AvgPool,
    MaxByIndex,
    MaxPool,
    MaxUnpool,
    PoolParams,
    adaptive_windows,
    argmax_over_windows,
    avg_pool_scale,
    pool_out_size,
)
from ndgrad.ops.resample import Resample, area_map
from ndgrad.tensor import Tensor
from ndgrad.tensor.creation import rand


def _unbatch(res: Any, unbatched: bool) -> Any:
    if not unbatched:
        return res
    return tuple(r.squeeze(0) for r in res) if isinstance(res, tuple) else res.squeeze(0)


def _pool_params(name: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, ceil_mode: bool, dims: int) -> PoolParams:
    k = _int_tuple(kernel_size, dims, "kernel_size")
    s = k if stride is None or (isinstance(stride, list | tuple) and len(stride) == 0) \
        else _int_tuple(stride, dims, "stride")
    pd = _int_tuple(padding, dims, "padding")
    d = _int_tuple(dilation, dims, "dilation")
    if any(v <= 0 for v in k + s + d):
        raise RuntimeError(f"{name}: kernel_size, stride and dilation must be greater than zero, "
                           f"but got kernel_size={list(k)}, stride={list(s)}, dilation={list(d)}")
    for pi, ki, di in zip(pd, k, d):
        if pi < 0 or pi > ((ki - 1) * di + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pi}, kernel_size={ki} and dilation={di}")
    out = tuple(pool_out_size(x.shape[2 + i], k[i], s[i], pd[i], d[i], ceil_mode)
                for i in range(dims))
    if min(out) <= 0:
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, x.shape[1:]))}). Calculated "
                           f"output size: ({'x'.join(map(str, (x.shape[1],) + out))}). Output "
                           f"size is too small")
    return PoolParams(k, s, pd, d, out)


def _max_pool(name: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool, return_indices: bool, dims: int) -> Any:
    x, unbatched = _batched(input, dims, name)
    p = _pool_params(name, x, kernel_size, stride, padding, dilation, ceil_mode, dims)
    return _unbatch(MaxPool.apply(x, p, return_indices), unbatched)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-D max pooling: 2-D max pooling over a height-1 image (which has the fast paths)."""
    x, unbatched = _batched(input, 1, "max_pool1d")
    s = None if stride is None or (isinstance(stride, list | tuple) and not stride) \
        else (1, _int_tuple(stride, 1, "stride")[0])
    res: Any = max_pool2d(x.unsqueeze(2), (1, _int_tuple(kernel_size, 1, "kernel_size")[0]), s,
                          (0, _int_tuple(padding, 1, "padding")[0]),
                          (1, _int_tuple(dilation, 1, "dilation")[0]), ceil_mode,
                          return_indices)
    res = tuple(r.squeeze(2) for r in res) if return_indices else res.squeeze(2)
    return _unbatch(res, unbatched)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows; the gradient goes to the first maximum of each window, as PyTorch."""
    return _max_pool("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, 2)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over (D, H, W) windows of (N, C, D, H, W) inputs."""
    return _max_pool("max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, 3)


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None,
                            padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> Any:
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None,
                            padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> Any:
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None,
                            padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> Any:
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(name: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: int | None,
              dims: int) -> Tensor:
    x, unbatched = _batched(input, dims, name)
    k = _int_tuple(kernel_size, dims, "kernel_size")
    pd = _int_tuple(padding, dims, "padding")
    if any(pi > ki // 2 for pi, ki in zip(pd, k)):
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"padding={list(pd)}, kernel_size={list(k)}")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    p = _pool_params(name, x, k, stride, pd, 1, ceil_mode, dims)
    scale = avg_pool_scale(tuple(x.shape[2:]), p, count_include_pad, divisor_override,
                           x._data.dtype)
    return _unbatch(AvgPool.apply(x, p, scale), unbatched)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over windows of (N, C, L) inputs."""
    return _avg_pool("avg_pool1d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None, 1)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over windows; the divisor counts padding only with count_include_pad."""
    return _avg_pool("avg_pool2d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, 2)


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over (D, H, W) windows of (N, C, D, H, W) inputs."""
    return _avg_pool("avg_pool3d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, 3)


def _lp_pool(input: Tensor, norm_type: float, kernel_size: Any, stride: Any, ceil_mode: bool,
             dims: int) -> Tensor:
    """(sum of x^p over each window)^(1/p), as PyTorch computes it: an average pool of x^p
    times the window size (a window summing to zero has gradient zero)."""
    pools = {1: max_pool1d, 2: max_pool2d, 3: max_pool3d}
    if norm_type == math.inf:
        return pools[dims](input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -pools[dims](-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    k = _int_tuple(kernel_size, dims, "kernel_size")
    out = _avg_pool(f"lp_pool{dims}d", input.pow(norm_type), k, stride, 0, ceil_mode, True,
                    None, dims)
    return (out.sign() * relu(out.abs())).mul(math.prod(k)).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3)


# -- adaptive pooling ------------------------------------------------------------------------
def _output_size(name: str, x: Tensor, output_size: Any, dims: int) -> tuple[int, ...]:
    """The adaptive output size; None keeps that input size."""
    if isinstance(output_size, int | np.integer) or output_size is None:
        output_size = (output_size,) * dims
    output_size = tuple(output_size)
    if len(output_size) == 1:
        output_size = output_size * dims
    if len(output_size) != dims:
        raise ValueError(f"{name}: output_size must be {dims} (got {list(output_size)})")
    size = tuple(x.shape[2 + i] if o is None else int(o) for i, o in enumerate(output_size))
    if any(o < 0 for o in size):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(size)}")
    if any(s == 0 for s in x.shape[2:]):
        raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {list(x.shape)} with dimension "
                           f"{2 + list(x.shape[2:]).index(0)} being empty")
    return size


def _adaptive_avg_pool(name: str, input: Tensor, output_size: Any, dims: int) -> Tensor:
    """Average over adaptive windows: separable, one averaging map per spatial dim."""
    x, unbatched = _batched(input, dims, name)
    size = _output_size(name, x, output_size, dims)
    maps = tuple(area_map(s, o) for s, o in zip(x.shape[2:], size))
    return _unbatch(Resample.apply(x, maps, True), unbatched)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    return _adaptive_avg_pool("adaptive_avg_pool1d", input, output_size, 1)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size: windows [floor(i*S/O), ceil((i+1)*S/O))."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    return _adaptive_avg_pool("adaptive_avg_pool3d", input, output_size, 3)


def _pool_by_index(x: Tensor, index: np.ndarray, return_indices: bool) -> Any:
    """Max pooling whose choices were made in NumPy: x read at ``index`` (PyTorch's flat
    indices), so that the gradient goes to the chosen inputs."""
    out = MaxByIndex.apply(x, index)
    return (out, Tensor._make(index)) if return_indices else out


def _adaptive_max_pool(name: str, input: Tensor, output_size: Any, return_indices: bool,
                       dims: int) -> Any:
    x, unbatched = _batched(input, dims, name)
    size = _output_size(name, x, output_size, dims)
    starts, lengths = [], []
    for s, o in zip(x.shape[2:], size):
        a, b = adaptive_windows(s, o)
        starts.append(a.reshape(1, 1, -1))
        lengths.append((b - a).reshape(1, 1, -1))
    index = argmax_over_windows(x._data, starts, lengths)
    return _unbatch(_pool_by_index(x, index, return_indices), unbatched)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    return _adaptive_max_pool("adaptive_max_pool1d", input, output_size, return_indices, 1)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over adaptive windows [floor(i*S/O), ceil((i+1)*S/O)); indices as PyTorch's."""
    return _adaptive_max_pool("adaptive_max_pool2d", input, output_size, return_indices, 2)


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    return _adaptive_max_pool("adaptive_max_pool3d", input, output_size, return_indices, 3)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = True) -> Any:
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = True) -> Any:
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = True) -> Any:
    return adaptive_max_pool3d(input, output_size, True)


# -- fractional max pooling ------------------------------------------------------------------
def _fractional_max_pool(name: str, input: Tensor, kernel_size: Any, output_size: Any,
                         output_ratio: Any, return_indices: bool, samples: Tensor | None,
                         dims: int) -> Any:
    """Max over windows of a fixed size whose starts step pseudo-randomly (Graham, 2014):
    per plane and dim a sample u in [0, 1) gives starts int((i + u) * a) - int(u * a), with
    a = (S - K) / (O - 1), and the last window ends at the input's end (PyTorch's rule)."""
    x, unbatched = _batched(input, dims, name)
    k = _int_tuple(kernel_size, dims, "kernel_size")
    if output_size is None:
        if output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output_size or an "
                             f"output_ratio")
        ratio = (output_ratio,) * dims if isinstance(output_ratio, int | float) \
            else tuple(output_ratio)
        ratio = ratio * dims if len(ratio) == 1 else ratio
        size = tuple(int(x.shape[2 + i] * ratio[i]) for i in range(dims))
    else:
        size = _int_tuple(output_size, dims, "output_size")
    n, c = x.shape[:2]
    axes = ("height", "width") if dims == 2 else ("time", "height", "width")
    for s, o, kk, axis in zip(x.shape[2:], size, k, axes):
        if o + kk - 1 > s:  # torch's messages: name the axis
            raise RuntimeError(f"{name}{'' if dims == 2 else '_out'}(): pool {axis} {kk} too "
                               f"large relative to input {axis} {s}")
    if samples is None:
        samples = rand(n, c, dims, dtype=x.dtype)
    u = samples._data.reshape(n, c, dims)
    dt = u.dtype.type  # PyTorch computes the steps in the input's float type
    # 2-D: sample 0 steps the width and sample 1 the height; 3-D: samples follow (T, H, W)
    order = [1, 0] if dims == 2 else list(range(dims))
    starts, lengths = [], []
    for i, (s, o, kk) in enumerate(zip(x.shape[2:], size, k)):
        ui = u[:, :, order[i], None]  # (N, C, 1)
        st = np.full((n, c, o), s - kk, dtype=np.int64)
        if o > 1:
            alpha = dt(s - kk) / dt(o - 1)
            steps = np.arange(o - 1, dtype=dt)
            st[:, :, :-1] = ((steps + ui) * alpha).astype(np.int64) \
                - (ui * alpha).astype(np.int64)
        starts.append(st)
        lengths.append(np.full((1, 1, o), kk, dtype=np.int64))
    index = argmax_over_windows(x._data, starts, lengths)
    return _unbatch(_pool_by_index(x, index, return_indices), unbatched)


def fractional_max_pool2d(input: Tensor, kernel_size: Any, output_size: Any = None,
                          output_ratio: Any = None, return_indices: bool = False,
                          _random_samples: Tensor | None = None) -> Any:
    return _fractional_max_pool("fractional_max_pool2d", input, kernel_size, output_size,
                                output_ratio, return_indices, _random_samples, 2)


def fractional_max_pool3d(input: Tensor, kernel_size: Any, output_size: Any = None,
                          output_ratio: Any = None, return_indices: bool = False,
                          _random_samples: Tensor | None = None) -> Any:
    return _fractional_max_pool("fractional_max_pool3d", input, kernel_size, output_size,
                                output_ratio, return_indices, _random_samples, 3)


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size: Any, output_size: Any = None,
                                       output_ratio: Any = None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> Any:
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size: Any, output_size: Any = None,
                                       output_ratio: Any = None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> Any:
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


# -- max unpooling ---------------------------------------------------------------------------
def _max_unpool(name: str, input: Tensor, indices: Tensor, kernel_size: Any, stride: Any,
                padding: Any, output_size: Any, dims: int) -> Tensor:
    """Put each value back where max pooling found it (flat indices per plane); zeros
    elsewhere."""
    k = _int_tuple(kernel_size, dims, "kernel_size")
    s = k if stride is None else _int_tuple(stride, dims, "stride")
    pd = _int_tuple(padding, dims, "padding")
    x, unbatched = _batched(input, dims, name)
    idx = indices.unsqueeze(0) if unbatched else indices
    if tuple(idx.shape) != tuple(x.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(x.shape)}) but got indices tensor with shape: "
                           f"{list(idx.shape)}")
    default = [(x.shape[2 + i] - 1) * s[i] + k[i] - 2 * pd[i] for i in range(dims)]
    if output_size is None:
        size = default
    else:
        size = list(output_size.tolist() if isinstance(output_size, Tensor) else output_size)
        if len(size) == dims + 2 or (len(size) == dims + 1 and unbatched):
            size = size[-dims:]
        if len(size) != dims:
            raise ValueError(f"output_size should be a sequence containing {dims} or {dims + 2} "
                             f"elements, but it has a length of '{len(size)}'")
        for i in range(dims):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < size[i] < hi:
                raise ValueError(f'invalid output_size "{size}" (dim {i} must be between {lo} '
                                 f'and {hi})')
    total = math.prod(size)
    arr = idx._data
    if arr.size and (arr.min() < 0 or arr.max() >= total):
        bad = int(arr.max() if arr.max() >= total else arr.min())
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, size))}")
    out = MaxUnpool.apply(x, arr.astype(np.int64), (x.shape[0], x.shape[1], *size))
    return _unbatch(out, unbatched)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    return _max_unpool("max_unpool1d", input, indices, kernel_size, stride, padding,
                       output_size, 1)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    return _max_unpool("max_unpool2d", input, indices, kernel_size, stride, padding,
                       output_size, 2)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    return _max_unpool("max_unpool3d", input, indices, kernel_size, stride, padding,
                       output_size, 3)
