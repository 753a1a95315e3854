"""Linear, convolution and pooling layers as functions. Each calls a primitive of
``ndgrad/ops/nn.py`` or ``ndgrad/ops/conv.py`` (one BLAS call, or im2col and one, each way).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad.nn.functional._helpers import _float_input, _int_tuple, _same_dtype
from ndgrad.ops.conv import (
    AvgPool2d,
    Conv2d,
    Conv2dGradInput,
    ConvParams,
    MaxPool2d,
    PoolParams,
    avg_pool_scale,
    conv_transpose_shape,
    out_size,
    pool_out_size,
)
from ndgrad.ops.nn import Linear
from ndgrad.tensor import Tensor

_int2 = int | tuple[int, int] | Sequence[int]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight^T + bias: one fused primitive (one BLAS call each way)."""
    x, w = input._data, weight._data  # checked on the arrays: this runs for every layer call
    if x.dtype != w.dtype or (bias is not None and bias._data.dtype != x.dtype):
        _same_dtype("linear", input, weight, bias)
    if w.ndim != 2 or x.ndim == 0:
        out = input.matmul(weight.t())
        return out if bias is None else out + bias
    if x.shape[-1] != w.shape[1]:
        rows = math.prod(input.shape[:-1]) if input.ndim > 1 else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} "
                           f"and {weight.shape[1]}x{weight.shape[0]})")
    if x.ndim == 1:
        return Linear.apply(input.unsqueeze(0), weight, bias).squeeze(0)
    return Linear.apply(input, weight, bias)


def _conv_padding(padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Per-dim (before, after) padding; 'same' puts the odd pixel after, as PyTorch."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding != "same":
            raise ValueError(f"Invalid padding string '{padding}', should be one of "
                             f"['valid', 'same']")
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    p = _int_tuple(padding, n, "padding")
    if any(v < 0 for v in p):
        raise RuntimeError("negative padding is not supported")
    return tuple((v, v) for v in p)


def _conv_checks(name: str, x: Tensor, w: Tensor, b: Tensor | None, groups: int,
                 transposed: bool = False) -> None:
    _same_dtype(name, x, w, b)
    _float_input(x, name)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    in_ch = w.shape[0] if transposed else w.shape[1] * groups
    if x.shape[1] != in_ch:
        raise RuntimeError(f"Given {'transposed=1, ' if transposed else ''}groups={groups}, "
                           f"weight of size {list(w.shape)}, expected input{list(x.shape)} to "
                           f"have {in_ch} channels, but got {x.shape[1]} channels instead")
    if w.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {list(w.shape)} instead")
    out_ch = w.shape[1] * groups if transposed else w.shape[0]
    if b is not None and (b.ndim != 1 or b.shape[0] != out_ch):
        raise RuntimeError(f"Given weight of size {list(w.shape)}, expected bias to be 1-"
                           f"dimensional with {out_ch} elements, but got bias of size "
                           f"{list(b.shape)} instead")


def _batched(x: Tensor, dims: int, name: str) -> tuple[Tensor, bool]:
    """Accept unbatched input (one dim fewer) as PyTorch does: add a batch dim of 1."""
    if x.ndim == dims + 1:
        return x.unsqueeze(0), True
    if x.ndim != dims + 2:
        raise RuntimeError(f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(x.shape)}")
    return x, False


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _int2 = 1,
           padding: Any = 0, dilation: _int2 = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation): im2col + one matmul, see ndgrad/ops/conv.py."""
    x, unbatched = _batched(input, 2, "conv2d")
    if weight.ndim != 4:
        raise RuntimeError(f"weight should have at least three dimensions; conv2d expects a "
                           f"4-D weight (out_channels, in_channels/groups, kH, kW), got "
                           f"{list(weight.shape)}")
    _conv_checks("conv2d", x, weight, bias, groups)
    s = _int_tuple(stride, 2, "stride")
    d = _int_tuple(dilation, 2, "dilation")
    if any(v <= 0 for v in s) or any(v <= 0 for v in d):
        raise RuntimeError(f"stride and dilation must be positive, got stride={list(s)}, "
                           f"dilation={list(d)}")
    pads = _conv_padding(padding, tuple(weight.shape[2:]), s, d)
    p = ConvParams(s, pads, d, groups)  # type: ignore[arg-type]
    oh, ow = (out_size(x.shape[2 + i], weight.shape[2 + i], s[i], pads[i], d[i])
              for i in range(2))
    if oh <= 0 or ow <= 0:
        hp, wp = x.shape[2] + sum(pads[0]), x.shape[3] + sum(pads[1])
        raise RuntimeError(f"Calculated padded input size per channel: ({hp} x {wp}). Kernel "
                           f"size: ({(weight.shape[2] - 1) * d[0] + 1} x "
                           f"{(weight.shape[3] - 1) * d[1] + 1}). Kernel size can't be greater "
                           f"than actual input size")
    out = Conv2d.apply(x, weight, bias, p)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution: conv2d on a height-1 image."""
    x, unbatched = _batched(input, 1, "conv1d")
    if weight.ndim != 3:
        raise RuntimeError(f"conv1d expects a 3-D weight (out_channels, in_channels/groups, "
                           f"kW), got {list(weight.shape)}")
    s, d = _int_tuple(stride, 1, "stride")[0], _int_tuple(dilation, 1, "dilation")[0]
    if isinstance(padding, str):
        pad: Any = padding
    else:
        pad = (0, _int_tuple(padding, 1, "padding")[0])
    out = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), pad, (1, d), groups)
    out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: _int2 = 1, padding: _int2 = 0, output_padding: _int2 = 0,
                     groups: int = 1, dilation: _int2 = 1) -> Tensor:
    """Transposed 2-D convolution: the adjoint of conv2d in its input (Conv2dGradInput)."""
    x, unbatched = _batched(input, 2, "conv_transpose2d")
    if weight.ndim != 4:
        raise RuntimeError(f"conv_transpose2d expects a 4-D weight (in_channels, "
                           f"out_channels/groups, kH, kW), got {list(weight.shape)}")
    _conv_checks("conv_transpose2d", x, weight, bias, groups, transposed=True)
    s = _int_tuple(stride, 2, "stride")
    d = _int_tuple(dilation, 2, "dilation")
    pd = _int_tuple(padding, 2, "padding")
    op = _int_tuple(output_padding, 2, "output_padding")
    if any(o >= s_ and o >= d_ for o, s_, d_ in zip(op, s, d)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but "
                           f"got output_padding_height: {op[0]} output_padding_width: {op[1]} "
                           f"stride_height: {s[0]} stride_width: {s[1]} dilation_height: {d[0]} "
                           f"dilation_width: {d[1]}")
    p = ConvParams(s, ((pd[0], pd[0]), (pd[1], pd[1])), d, groups)  # type: ignore[arg-type]
    shape = conv_transpose_shape(tuple(x.shape), tuple(weight.shape), p, op)
    if shape[2] <= 0 or shape[3] <= 0:
        raise RuntimeError(f"Given input size per channel: ({x.shape[2]} x {x.shape[3]}). "
                           f"Calculated output size per channel: ({shape[2]} x {shape[3]}). "
                           f"Output size is too small")
    out = Conv2dGradInput.apply(x, weight, shape, p)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 1-D convolution: conv_transpose2d on a height-1 image."""
    x, unbatched = _batched(input, 1, "conv_transpose1d")
    s, pd, op, d = (_int_tuple(v, 1, name)[0] for v, name in (
        (stride, "stride"), (padding, "padding"), (output_padding, "output_padding"),
        (dilation, "dilation")))
    out = conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, pd), (0, op),
                           groups, (1, d)).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _pool_params(name: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, ceil_mode: bool) -> PoolParams:
    k = _int_tuple(kernel_size, 2, "kernel_size")
    s = k if stride is None or (isinstance(stride, list | tuple) and len(stride) == 0) \
        else _int_tuple(stride, 2, "stride")
    pd = _int_tuple(padding, 2, "padding")
    d = _int_tuple(dilation, 2, "dilation")
    if any(v <= 0 for v in k + s + d):
        raise RuntimeError(f"{name}: kernel_size, stride and dilation must be greater than zero, "
                           f"but got kernel_size={list(k)}, stride={list(s)}, dilation={list(d)}")
    for pi, ki, di in zip(pd, k, d):
        if pi < 0 or pi > ((ki - 1) * di + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pi}, kernel_size={ki} and dilation={di}")
    out = tuple(pool_out_size(x.shape[2 + i], k[i], s[i], pd[i], d[i], ceil_mode)
                for i in range(2))
    if out[0] <= 0 or out[1] <= 0:
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, x.shape[1:]))}). Calculated "
                           f"output size: ({x.shape[1]}x{out[0]}x{out[1]}). Output size is too "
                           f"small")
    return PoolParams(k, s, pd, d, out)  # type: ignore[arg-type]


def max_pool2d(input: Tensor, kernel_size: _int2, stride: _int2 | None = None,
               padding: _int2 = 0, dilation: _int2 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max over windows; the gradient goes to the first maximum of each window, as PyTorch."""
    x, unbatched = _batched(input, 2, "max_pool2d")
    p = _pool_params("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    res = MaxPool2d.apply(x, p, return_indices)
    if unbatched:
        return tuple(r.squeeze(0) for r in res) if return_indices else res.squeeze(0)
    return res


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-D max pooling: max_pool2d over a height-1 image."""
    x, unbatched = _batched(input, 1, "max_pool1d")
    s = None if stride is None or (isinstance(stride, list | tuple) and not stride) \
        else (1, _int_tuple(stride, 1, "stride")[0])
    res: Any = max_pool2d(x.unsqueeze(2), (1, _int_tuple(kernel_size, 1, "kernel_size")[0]), s,
                     (0, _int_tuple(padding, 1, "padding")[0]),
                     (1, _int_tuple(dilation, 1, "dilation")[0]), ceil_mode, return_indices)
    res = tuple(r.squeeze(2) for r in res) if return_indices else res.squeeze(2)
    if unbatched:
        return tuple(r.squeeze(0) for r in res) if return_indices else res.squeeze(0)
    return res


def avg_pool2d(input: Tensor, kernel_size: _int2, stride: _int2 | None = None,
               padding: _int2 = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over windows; the divisor counts padding only with count_include_pad."""
    x, unbatched = _batched(input, 2, "avg_pool2d")
    k = _int_tuple(kernel_size, 2, "kernel_size")
    pd = _int_tuple(padding, 2, "padding")
    if any(pi > ki // 2 for pi, ki in zip(pd, k)):
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"padW = {pd[1]}, padH = {pd[0]}, kW = {k[1]}, kH = {k[0]}")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    p = _pool_params("avg_pool2d", x, k, stride, pd, 1, ceil_mode)
    scale = avg_pool_scale(x.shape[2], x.shape[3], p, count_include_pad, divisor_override,
                             x._data.dtype)
    out = AvgPool2d.apply(x, p, scale)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    x, unbatched = _batched(input, 1, "avg_pool1d")
    s = None if stride is None else (1, _int_tuple(stride, 1, "stride")[0])
    out = avg_pool2d(x.unsqueeze(2), (1, _int_tuple(kernel_size, 1, "kernel_size")[0]), s,
                     (0, _int_tuple(padding, 1, "padding")[0]), ceil_mode,
                     count_include_pad).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _adaptive_matrix(size: int, out: int, dtype: Any) -> np.ndarray:
    """(out, size) averaging matrix: row i averages [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        a, b = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, a:b] = 1.0 / (b - a)
    return m


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average over adaptive windows; an average over a rectangle is separable, so the general
    case is two small matmuls: A_h @ x @ A_w^T."""
    x, unbatched = _batched(input, 2, "adaptive_avg_pool2d")
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    oh, ow = (x.shape[2 + i] if o is None else int(o) for i, o in enumerate(output_size))
    h, w = x.shape[2:]
    if (oh, ow) == (1, 1):
        out = x.mean((2, 3), keepdim=True)
    elif oh and ow and h % oh == 0 and w % ow == 0:
        out = avg_pool2d(x, (h // oh, w // ow))
    else:
        ah = Tensor._make(_adaptive_matrix(h, oh, x._data.dtype))
        aw = Tensor._make(_adaptive_matrix(w, ow, x._data.dtype).T.copy())
        out = ah.matmul(x.matmul(aw))
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    x, unbatched = _batched(input, 1, "adaptive_avg_pool1d")
    o = _int_tuple(output_size, 1, "output_size")[0]
    out = adaptive_avg_pool2d(x.unsqueeze(2), (1, o)).squeeze(2)
    return out.squeeze(0) if unbatched else out
