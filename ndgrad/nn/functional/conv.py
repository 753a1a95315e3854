"""Linear, bilinear and convolution layers (1, 2 and 3 spatial dims) as functions. Each calls
a primitive of ``ndgrad/ops/nn.py`` or ``ndgrad/ops/conv.py`` (one BLAS call, or im2col and one,
each way).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ndgrad.nn.functional._helpers import _float_input, _int_tuple, _same_dtype
from ndgrad.ops.conv import Conv, ConvGradInput, ConvParams, conv_transpose_shape, out_size
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


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """y[..., o] = x1 @ weight[o] @ x2 + bias[o]: x1 (*, I), x2 (*, J), weight (O, I, J)."""
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{list(input1.shape)} and {list(input2.shape)}")
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] \
            or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input sizes {input1.shape[-1]} and {input2.shape[-1]} "
                           f"do not match weight of size {list(weight.shape)}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{list(bias.shape)} but output size is {weight.shape[0]}")
    o, i, j = weight.shape
    lead = tuple(input1.shape[:-1])
    x1, x2 = input1.reshape(-1, i), input2.reshape(-1, j)
    # (M, I) @ (I, O*J) -> (M, O, J), then the dot product with x2 over J
    mixed = x1.matmul(weight.permute(1, 0, 2).reshape(i, o * j)).reshape(-1, o, j)
    out = (mixed * x2.unsqueeze(1)).sum(-1).reshape(*lead, o)
    return out if bias is None else out + bias


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


def _conv(name: str, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
          padding: Any, dilation: Any, groups: int, dims: int) -> Tensor:
    """Convolution over ``dims`` spatial dims (cross-correlation): im2col + one matmul, see
    ndgrad/ops/conv.py."""
    x, unbatched = _batched(input, dims, name)
    if weight.ndim != dims + 2:
        raise RuntimeError(f"{name} expects a {dims + 2}-D weight (out_channels, "
                           f"in_channels/groups, *kernel_size), got {list(weight.shape)}")
    _conv_checks(name, x, weight, bias, groups)
    s = _int_tuple(stride, dims, "stride")
    d = _int_tuple(dilation, dims, "dilation")
    if any(v <= 0 for v in s) or any(v <= 0 for v in d):
        raise RuntimeError(f"stride and dilation must be positive, got stride={list(s)}, "
                           f"dilation={list(d)}")
    pads = _conv_padding(padding, tuple(weight.shape[2:]), s, d)
    p = ConvParams(s, pads, d, groups)
    sizes = [out_size(x.shape[2 + i], weight.shape[2 + i], s[i], pads[i], d[i])
             for i in range(dims)]
    if min(sizes) <= 0:
        padded = " x ".join(str(x.shape[2 + i] + sum(pads[i])) for i in range(dims))
        kernel = " x ".join(str((weight.shape[2 + i] - 1) * d[i] + 1) for i in range(dims))
        raise RuntimeError(f"Calculated padded input size per channel: ({padded}). Kernel "
                           f"size: ({kernel}). Kernel size can't be greater than actual input "
                           f"size")
    out = Conv.apply(x, weight, bias, p)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution over (N, C, L) inputs; weight (O, C/groups, K)."""
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _int2 = 1,
           padding: Any = 0, dilation: _int2 = 1, groups: int = 1) -> Tensor:
    """2-D convolution over (N, C, H, W) inputs; weight (O, C/groups, KH, KW)."""
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D convolution over (N, C, D, H, W) inputs; weight (O, C/groups, KD, KH, KW)."""
    return _conv("conv3d", input, weight, bias, stride, padding, dilation, groups, 3)


def _conv_transpose(name: str, input: Tensor, weight: Tensor, bias: Tensor | None,
                    stride: Any, padding: Any, output_padding: Any, groups: int, dilation: Any,
                    dims: int) -> Tensor:
    """Transposed convolution: the adjoint of conv in its input (ConvGradInput)."""
    x, unbatched = _batched(input, dims, name)
    if weight.ndim != dims + 2:
        raise RuntimeError(f"{name} expects a {dims + 2}-D weight (in_channels, "
                           f"out_channels/groups, *kernel_size), got {list(weight.shape)}")
    _conv_checks(name, x, weight, bias, groups, transposed=True)
    s = _int_tuple(stride, dims, "stride")
    d = _int_tuple(dilation, dims, "dilation")
    pd = _int_tuple(padding, dims, "padding")
    op = _int_tuple(output_padding, dims, "output_padding")
    if any(v <= 0 for v in s) or any(v <= 0 for v in d):
        raise RuntimeError(f"stride and dilation must be positive, got stride={list(s)}, "
                           f"dilation={list(d)}")
    if any(v < 0 for v in pd + op):
        raise RuntimeError("negative padding is not supported")
    if any(o >= s_ and o >= d_ for o, s_, d_ in zip(op, s, d)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but "
                           f"got output_padding={list(op)}, stride={list(s)}, "
                           f"dilation={list(d)}")
    p = ConvParams(s, tuple((v, v) for v in pd), d, groups)
    shape = conv_transpose_shape(tuple(x.shape), tuple(weight.shape), p, op)
    if min(shape[2:]) <= 0:
        raise RuntimeError(f"Given input size per channel: "
                           f"({' x '.join(map(str, x.shape[2:]))}). Calculated output size per "
                           f"channel: ({' x '.join(map(str, shape[2:]))}). Output size is too "
                           f"small")
    out = ConvGradInput.apply(x, weight, shape, p, bias)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 1-D convolution; weight (C_in, C_out/groups, K)."""
    return _conv_transpose("conv_transpose1d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation, 1)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: _int2 = 1, padding: _int2 = 0, output_padding: _int2 = 0,
                     groups: int = 1, dilation: _int2 = 1) -> Tensor:
    """Transposed 2-D convolution; weight (C_in, C_out/groups, KH, KW)."""
    return _conv_transpose("conv_transpose2d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation, 2)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 3-D convolution; weight (C_in, C_out/groups, KD, KH, KW)."""
    return _conv_transpose("conv_transpose3d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation, 3)


