"""ndgrad.nn.functional: layers, activations and losses as functions, as torch.nn.functional.

Names, signatures and defaults are PyTorch's. Conv, pooling, linear, softmax, log_softmax and
cross_entropy call primitives (``ndgrad/ops/conv.py``, ``ndgrad/ops/nn.py``) for speed and
stability; everything else is a composite of Tensor ops, so autograd derives its backward.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import wrap_dim
from ndgrad.autograd.function import Function
from ndgrad.autograd.grad_mode import no_grad
from ndgrad.ops import conv as C
from ndgrad.ops import nn as NN
from ndgrad.tensor import Tensor, tensor, where

_int2 = int | tuple[int, int] | Sequence[int]


# -- argument helpers ------------------------------------------------------------------------
def _ntuple(v: Any, n: int, name: str) -> tuple[int, ...]:
    """An int or a sequence of n ints (a single-item sequence is repeated) as an n-tuple."""
    if isinstance(v, Tensor):
        v = v.tolist()
    if isinstance(v, int | np.integer):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                           f"values to match the convolution dimensions, but got {name}={list(v)}")
    return v


def _legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """The ``reduction`` that the deprecated ``size_average``/``reduce`` flags mean, with
    PyTorch's warning (losses' functions and Modules alike)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{reduction}' instead.", UserWarning, stacklevel=4)
    return reduction


def _reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's reduction argument, including the deprecated size_average/reduce pair."""
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_dtype(name: str, *ts: Tensor | None) -> None:
    dts = {t.dtype for t in ts if t is not None}
    if len(dts) > 1:
        raise RuntimeError(f"{name}: expected all tensors to have the same dtype, but got "
                           f"{', '.join(str(t.dtype) for t in ts if t is not None)}")


def _float_input(x: Tensor, name: str) -> None:
    if not x.is_floating_point():
        raise RuntimeError(f"{name}: expected a floating point input, but got {x.dtype}")


def _size_warning(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to "
                      f"broadcasting. Please ensure they have the same size.", stacklevel=3)


# -- linear and convolution ------------------------------------------------------------------
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
        return NN.Linear.apply(input.unsqueeze(0), weight, bias).squeeze(0)
    return NN.Linear.apply(input, weight, bias)


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
    p = _ntuple(padding, n, "padding")
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
    s = _ntuple(stride, 2, "stride")
    d = _ntuple(dilation, 2, "dilation")
    if any(v <= 0 for v in s) or any(v <= 0 for v in d):
        raise RuntimeError(f"stride and dilation must be positive, got stride={list(s)}, "
                           f"dilation={list(d)}")
    pads = _conv_padding(padding, tuple(weight.shape[2:]), s, d)
    p = C.ConvParams(s, pads, d, groups)  # type: ignore[arg-type]
    oh, ow = (C.out_size(x.shape[2 + i], weight.shape[2 + i], s[i], pads[i], d[i])
              for i in range(2))
    if oh <= 0 or ow <= 0:
        hp, wp = x.shape[2] + sum(pads[0]), x.shape[3] + sum(pads[1])
        raise RuntimeError(f"Calculated padded input size per channel: ({hp} x {wp}). Kernel "
                           f"size: ({(weight.shape[2] - 1) * d[0] + 1} x "
                           f"{(weight.shape[3] - 1) * d[1] + 1}). Kernel size can't be greater "
                           f"than actual input size")
    out = C.Conv2d.apply(x, weight, bias, p)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution: conv2d on a height-1 image."""
    x, unbatched = _batched(input, 1, "conv1d")
    if weight.ndim != 3:
        raise RuntimeError(f"conv1d expects a 3-D weight (out_channels, in_channels/groups, "
                           f"kW), got {list(weight.shape)}")
    s, d = _ntuple(stride, 1, "stride")[0], _ntuple(dilation, 1, "dilation")[0]
    if isinstance(padding, str):
        pad: Any = padding
    else:
        pad = (0, _ntuple(padding, 1, "padding")[0])
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
    s = _ntuple(stride, 2, "stride")
    d = _ntuple(dilation, 2, "dilation")
    pd = _ntuple(padding, 2, "padding")
    op = _ntuple(output_padding, 2, "output_padding")
    if any(o >= s_ and o >= d_ for o, s_, d_ in zip(op, s, d)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but "
                           f"got output_padding_height: {op[0]} output_padding_width: {op[1]} "
                           f"stride_height: {s[0]} stride_width: {s[1]} dilation_height: {d[0]} "
                           f"dilation_width: {d[1]}")
    p = C.ConvParams(s, ((pd[0], pd[0]), (pd[1], pd[1])), d, groups)  # type: ignore[arg-type]
    shape = C.conv_transpose_shape(tuple(x.shape), tuple(weight.shape), p, op)
    if shape[2] <= 0 or shape[3] <= 0:
        raise RuntimeError(f"Given input size per channel: ({x.shape[2]} x {x.shape[3]}). "
                           f"Calculated output size per channel: ({shape[2]} x {shape[3]}). "
                           f"Output size is too small")
    out = C.Conv2dGradInput.apply(x, weight, shape, p)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 1-D convolution: conv_transpose2d on a height-1 image."""
    x, unbatched = _batched(input, 1, "conv_transpose1d")
    s, pd, op, d = (_ntuple(v, 1, name)[0] for v, name in (
        (stride, "stride"), (padding, "padding"), (output_padding, "output_padding"),
        (dilation, "dilation")))
    out = conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, pd), (0, op),
                           groups, (1, d)).squeeze(2)
    return out.squeeze(0) if unbatched else out


# -- pooling ---------------------------------------------------------------------------------
def _pool_params(name: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, ceil_mode: bool) -> C.PoolParams:
    k = _ntuple(kernel_size, 2, "kernel_size")
    s = k if stride is None or (isinstance(stride, list | tuple) and len(stride) == 0) \
        else _ntuple(stride, 2, "stride")
    pd = _ntuple(padding, 2, "padding")
    d = _ntuple(dilation, 2, "dilation")
    if any(v <= 0 for v in k + s + d):
        raise RuntimeError(f"{name}: kernel_size, stride and dilation must be greater than zero, "
                           f"but got kernel_size={list(k)}, stride={list(s)}, dilation={list(d)}")
    for pi, ki, di in zip(pd, k, d):
        if pi < 0 or pi > ((ki - 1) * di + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pi}, kernel_size={ki} and dilation={di}")
    out = tuple(C.pool_out_size(x.shape[2 + i], k[i], s[i], pd[i], d[i], ceil_mode)
                for i in range(2))
    if out[0] <= 0 or out[1] <= 0:
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, x.shape[1:]))}). Calculated "
                           f"output size: ({x.shape[1]}x{out[0]}x{out[1]}). Output size is too "
                           f"small")
    return C.PoolParams(k, s, pd, d, out)  # type: ignore[arg-type]


def max_pool2d(input: Tensor, kernel_size: _int2, stride: _int2 | None = None,
               padding: _int2 = 0, dilation: _int2 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max over windows; the gradient goes to the first maximum of each window, as PyTorch."""
    x, unbatched = _batched(input, 2, "max_pool2d")
    p = _pool_params("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    res = C.MaxPool2d.apply(x, p, return_indices)
    if unbatched:
        return tuple(r.squeeze(0) for r in res) if return_indices else res.squeeze(0)
    return res


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-D max pooling: max_pool2d over a height-1 image."""
    x, unbatched = _batched(input, 1, "max_pool1d")
    s = None if stride is None or (isinstance(stride, list | tuple) and not stride) \
        else (1, _ntuple(stride, 1, "stride")[0])
    res: Any = max_pool2d(x.unsqueeze(2), (1, _ntuple(kernel_size, 1, "kernel_size")[0]), s,
                     (0, _ntuple(padding, 1, "padding")[0]),
                     (1, _ntuple(dilation, 1, "dilation")[0]), ceil_mode, return_indices)
    res = tuple(r.squeeze(2) for r in res) if return_indices else res.squeeze(2)
    if unbatched:
        return tuple(r.squeeze(0) for r in res) if return_indices else res.squeeze(0)
    return res


def avg_pool2d(input: Tensor, kernel_size: _int2, stride: _int2 | None = None,
               padding: _int2 = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over windows; the divisor counts padding only with count_include_pad."""
    x, unbatched = _batched(input, 2, "avg_pool2d")
    k = _ntuple(kernel_size, 2, "kernel_size")
    pd = _ntuple(padding, 2, "padding")
    if any(pi > ki // 2 for pi, ki in zip(pd, k)):
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"padW = {pd[1]}, padH = {pd[0]}, kW = {k[1]}, kH = {k[0]}")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    p = _pool_params("avg_pool2d", x, k, stride, pd, 1, ceil_mode)
    scale = C.avg_pool_scale(x.shape[2], x.shape[3], p, count_include_pad, divisor_override,
                             x._data.dtype)
    out = C.AvgPool2d.apply(x, p, scale)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    x, unbatched = _batched(input, 1, "avg_pool1d")
    s = None if stride is None else (1, _ntuple(stride, 1, "stride")[0])
    out = avg_pool2d(x.unsqueeze(2), (1, _ntuple(kernel_size, 1, "kernel_size")[0]), s,
                     (0, _ntuple(padding, 1, "padding")[0]), ceil_mode,
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
    o = _ntuple(output_size, 1, "output_size")[0]
    out = adaptive_avg_pool2d(x.unsqueeze(2), (1, o)).squeeze(2)
    return out.squeeze(0) if unbatched else out


# -- activations -----------------------------------------------------------------------------
def _maybe_inplace(input: Tensor, fn: Any, inplace: bool) -> Tensor:
    """Run ``fn(input)``, writing the result into input when ``inplace`` (as PyTorch's x_)."""
    if inplace:
        return input._inplace(lambda: fn(input))
    return fn(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return input.relu_() if inplace else input.relu()


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else slope * x (slope is the gradient at 0, as PyTorch)."""
    return _maybe_inplace(input, lambda x: where(x > 0, x, x * negative_slope), inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1); exp sees min(x, 0), so it never overflows."""
    return _maybe_inplace(
        input, lambda x: where(x > 0, x, x.clamp(max=0.0).expm1() * alpha), inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return _maybe_inplace(input, lambda x: elu(x, alpha) * scale, inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _maybe_inplace(
        input, lambda x: where(x > 0, x, (x.clamp(max=0.0) / alpha).expm1() * alpha), inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) with the exact normal CDF (erf), or PyTorch's tanh approximation."""
    if approximate == "none":
        return input * ((input * (1 / math.sqrt(2))).erf() + 1) * 0.5
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2 / math.pi)
        return input * (inner.tanh() + 1) * 0.5
    raise RuntimeError(f"approximate argument must be either none or tanh, got '{approximate}'")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, lambda x: x * x.sigmoid(), inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold (exp never overflows)."""
    bx = input * beta
    soft = bx.clamp(max=threshold).exp().log1p() / beta
    return where(bx > threshold, input, soft)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, lambda x: x * softplus(x).tanh(), inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val); gradient 0 at the bounds themselves, as PyTorch."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")

    def fn(x: Tensor) -> Tensor:
        inside = (x > min_val) & (x < max_val)
        return where(inside, x, x.detach().clamp(min_val, max_val))

    return _maybe_inplace(input, fn, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, lambda x: hardtanh(x / 6 + 0.5, 0.0, 1.0), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    _float_input(input, "hardswish")
    return _maybe_inplace(input, NN.Hardswish.apply, inplace)


def softsign(input: Tensor) -> Tensor:
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    return input - input.tanh()


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for large |x| (a primitive)."""
    return NN.LogSigmoid.apply(input)


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def _softmax_dim(name: str, ndim: int, stacklevel: int = 3) -> int:
    """torch's implicit dim for softmax-like ops called without one (with its warning)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  f"include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_like(op: type[Function], name: str, input: Tensor, dim: int | None,
                  dtype: Any) -> Tensor:
    """softmax and log_softmax: cast to dtype, pick the implicit dim, treat a 0-d input as 1-d."""
    x = input if dtype is None else input.to(dtype)
    if not x.is_floating_point():
        raise RuntimeError(f"\"{name}\" not implemented for '{x.dtype}'")
    if dim is None:
        dim = _softmax_dim(name, x.ndim, stacklevel=4)  # warn at softmax's caller
    if x.ndim == 0:
        wrap_dim(dim, 0)
        return op.apply(x.reshape(1), 0).reshape(())
    return op.apply(x, wrap_dim(dim, x.ndim))


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim, computed from x - max (a primitive)."""
    return _softmax_like(NN.Softmax, "softmax", input, dim, dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return softmax(-input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along dim (a primitive: stable where log(softmax(x)) gives -inf)."""
    return _softmax_like(NN.LogSoftmax, "log_softmax", input, dim, dtype)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    w = weight
    if input.ndim >= 2 and weight.numel() > 1:
        w = weight.reshape([1, -1] + [1] * (input.ndim - 2))
    return where(input > 0, input, input * w)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, lambda x: where(x > threshold, x, value), inplace)


# -- dropout ---------------------------------------------------------------------------------
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


# -- normalization ---------------------------------------------------------------------------
def _channel_shape(x: Tensor) -> list[int]:
    return [1, -1] + [1] * (x.ndim - 2)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) by batch statistics (training) or running ones.

    In training, running_mean/running_var are updated in place:
    running = (1 - momentum) * running + momentum * batch stat (the variance unbiased)."""
    if input.ndim < 2:
        raise ValueError(f"expected 2D or more input (got {input.ndim}D input)")
    dims = (0,) + tuple(range(2, input.ndim))
    shape = _channel_shape(input)
    if training:
        n = input.numel() // input.shape[1]
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
        mean = input.mean(dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dims, keepdim=True)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(mean.detach().reshape(-1) * momentum)
                if running_var is not None:
                    unbiased = var.detach().reshape(-1) * (n / (n - 1))
                    running_var.mul_(1 - momentum).add_(unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        centered = input - running_mean.reshape(shape)
        var = running_var.reshape(shape)
    scale = (var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight.reshape(shape)
    out = centered * scale
    return out if bias is None else out + bias.reshape(shape)


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last len(normalized_shape) dims, then scale and shift."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    centered = input - input.mean(dims, keepdim=True)
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


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
    x = input.reshape(n, num_groups, -1)
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
    """Normalize each (sample, channel) over its spatial positions."""
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    n, c = input.shape[:2]
    out = group_norm(input, c, weight, bias, eps)
    if running_mean is not None or running_var is not None:
        dims = tuple(range(2, input.ndim))
        with no_grad():
            mean = input.detach().mean(dims).mean(0)
            m = input.numel() // (n * c)
            var = input.detach().var(dims, correction=1 if m > 1 else 0).mean(0)
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean * momentum)
            if running_var is not None:
                running_var.mul_(1 - momentum).add_(var * momentum)
    return out


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


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1/|x1| * x2/|x2|) along dim; each norm is clamped at eps (value only, as in
    PyTorch, whose clamp runs without grad)."""
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    a, b = x1.expand(shape), x2.expand(shape)
    d = wrap_dim(dim, len(shape))

    def norm(v: Tensor) -> Tensor:
        sq = (v * v).sum(d, keepdim=True)
        n = sq.clamp(min=np.finfo(v._data.dtype).tiny).sqrt()
        return n + (n.detach().clamp(min=eps) - n.detach())

    return ((a / norm(a)) * (b / norm(b))).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    return (x1 - x2 + eps).norm(p, -1, keepdim)


# -- embedding, one_hot, pad -----------------------------------------------------------------
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of weight picked by integer indices; the padding_idx row gets no gradient."""
    idx = input if isinstance(input, Tensor) else tensor(input)
    if idx.dtype not in (_dtype.int64, _dtype.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {idx.dtype} instead "
                           f"(while checking arguments for embedding)")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= num
    arr = idx._data
    if arr.size and (arr.min() < 0 or arr.max() >= num):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm_(weight, arr, max_norm, norm_type)
    out = weight[idx]
    if padding_idx is None and not scale_grad_by_freq:
        return out
    # scale the gradient, not the value: out * s + (out * (1 - s)).detach()
    s = np.ones(arr.shape, dtype=weight._data.dtype)
    if scale_grad_by_freq:
        uniq, inv, counts = np.unique(arr, return_inverse=True, return_counts=True)
        s = (1.0 / counts[inv.reshape(arr.shape)]).astype(s.dtype)
    if padding_idx is not None:
        s[arr == padding_idx] = 0.0
    st = Tensor._make(s[..., None])
    return out * st + (out * (1 - st)).detach()


def _embedding_renorm_(weight: Tensor, idx: np.ndarray, max_norm: float,
                       norm_type: float) -> None:
    """Rescale, in place, the rows used whose norm exceeds max_norm (PyTorch's rule)."""
    rows = np.unique(idx)
    w = weight._data
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
        weight._bump_version()


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """(...,) int64 class indices -> (..., num_classes) int64 one-hot."""
    if tensor.dtype != _dtype.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    arr = tensor._data
    if num_classes == -1:
        if arr.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(arr.max()) + 1
    if arr.size and arr.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if arr.size and arr.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = np.zeros(arr.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, arr[..., None], 1, axis=-1)
    return Tensor._make(out)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad (or, with negative amounts, crop) the last len(pad)//2 dims; pad lists
    (left, right) pairs starting from the last dim. Modes: constant, reflect, replicate,
    circular."""
    pad = [int(v) for v in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    pairs = {input.ndim - 1 - i: (pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)}
    if mode == "constant":
        return _pad_constant(input, pairs, 0.0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if (input.ndim, len(pad)) not in ((2, 2), (3, 2), (3, 4), (4, 4), (4, 6), (5, 6)):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {input.ndim}D "
                                  f"input tensor. Supported combinations for non-constant "
                                  f"padding: (2D or 3D input, pad of 2), (3D or 4D, 4), "
                                  f"(4D or 5D, 6)")
    out = input
    for d, (lo, hi) in sorted(pairs.items()):
        n = input.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({lo}, {hi}) at dimension {d} "
                               f"of input {list(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        pos = np.arange(-lo, n + hi)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            pos = np.abs(pos) % period
            pos = np.where(pos >= n, period - pos, pos)
        elif mode == "replicate":
            pos = np.clip(pos, 0, n - 1)
        else:
            pos = pos % n
        out = out.index_select(d, Tensor._make(pos.astype(np.int64)))
    return out


def _pad_constant(x: Tensor, pairs: dict[int, tuple[int, int]], value: float) -> Tensor:
    grow = [(max(pairs.get(d, (0, 0))[0], 0), max(pairs.get(d, (0, 0))[1], 0))
            for d in range(x.ndim)]
    if any(lo < 0 or hi < 0 for lo, hi in pairs.values()):  # negative pads crop
        idx = tuple(slice(-min(lo, 0), x.shape[d] + min(hi, 0)) if d in pairs else slice(None)
                    for d, (lo, hi) in ((d, pairs.get(d, (0, 0))) for d in range(x.ndim)))
        x = x[idx]
    if not any(lo or hi for lo, hi in grow):
        return x
    from ndgrad.ops import shape as S

    return S.Pad.apply(x, tuple(grow), value)


# -- attention -------------------------------------------------------------------------------
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v. A bool mask marks the positions that take part;
    a float mask is added to the scores; is_causal masks the upper triangle."""
    lq, lk = query.shape[-2], key.shape[-2]
    scale_factor = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = _repeat_heads(key, rep)
        value = _repeat_heads(value, rep)
    scores = query.matmul(key.transpose(-2, -1)) * scale_factor
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        keep = np.tril(np.ones((lq, lk), dtype=bool))
        scores = scores.masked_fill(Tensor._make(~keep), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == _dtype.bool_:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    attn = softmax(scores, -1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return attn.matmul(value)


def _repeat_heads(t: Tensor, rep: int) -> Tensor:
    """(..., H, L, E) -> (..., H*rep, L, E), each head repeated rep times in a row."""
    shape = tuple(t.shape)
    t = t.unsqueeze(-3).expand(*shape[:-2], rep, *shape[-2:])
    return t.reshape(*shape[:-3], shape[-3] * rep, *shape[-2:])


# -- losses ----------------------------------------------------------------------------------
def _class_last(input: Tensor, target: Tensor, name: str) -> tuple[Tensor, Tensor, tuple]:
    """(N, C, d1, ...) logits and (N, d1, ...) targets -> (M, C) and (M,), plus the target's
    shape (for reduction='none'). (C,) with a 0-d target is one sample."""
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError(f"{name}: expected a 0-D target for 1-D input, got target of "
                               f"size {list(target.shape)}")
        return input.unsqueeze(0), target.reshape(1), ()
    xs, ts = input._data.shape, target._data.shape
    if len(xs) == 2:
        if len(ts) != 1 or ts[0] != xs[0]:
            raise ValueError(f"Expected input batch_size ({xs[0]}) to match target "
                             f"batch_size ({ts[0] if ts else 0}).")
        return input, target, ts
    expect = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expect:
        raise RuntimeError(f"Expected target size {list(expect)}, got {list(target.shape)}")
    c = input.shape[1]
    return input.movedim(1, -1).reshape(-1, c), target.reshape(-1), expect


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax + nll in one primitive for class-index targets (its gradient is
    (softmax - onehot) * scale); probability targets (float, input's shape) are a composite."""
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    if weight is not None:
        weight = weight.to(input.dtype)
    if target.is_floating_point():
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    _float_input(input, "cross_entropy")
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != input.shape[
            1 if input.ndim > 1 else 0]):
        raise RuntimeError(f"weight tensor should be defined either for all "
                           f"{input.shape[1 if input.ndim > 1 else 0]} classes or no classes "
                           f"but got weight tensor of shape: {list(weight.shape)}")
    x, t, shape = _class_last(input, target, "cross_entropy")
    # only the logits are an input of the graph; the rest are options (no edges to walk)
    out = NN.CrossEntropy.apply(x, target=t._data, weight=None if weight is None else weight._data,
                                ignore_index=ignore_index, reduction=reduction,
                                label_smoothing=float(label_smoothing))
    return out.reshape(shape) if reduction == "none" else out


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                         label_smoothing: float) -> Tensor:
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected target size {list(input.shape)}, got "
                           f"{list(target.shape)}")
    cdim = 1 if input.ndim > 1 else 0
    c = input.shape[cdim]
    logp = log_softmax(input, cdim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    terms = logp * target
    if weight is not None:
        terms = terms * weight.reshape([-1] + [1] * (input.ndim - cdim - 1))
    if reduction == "none":
        return -terms.sum(cdim)
    if reduction == "sum":
        return -terms.sum()
    return -terms.sum() / (input.numel() // c) if input.numel() else terms.sum() * float("nan")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """-input[i, target[i]] * weight[target[i]]; 'mean' divides by the summed weights."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.is_floating_point():
        raise RuntimeError(f"expected scalar type Long but found {target.dtype}")
    x, t, shape = _class_last(input, target, "nll_loss")
    c = x.shape[1]
    valid = t._data != ignore_index
    ti = np.where(valid, t._data, 0)
    bad = (ti < 0) | (ti >= c)
    if bad.any():
        raise IndexError(f"Target {int(ti[bad][0])} is out of bounds.")
    w = valid.astype(x._data.dtype)
    if weight is not None:
        w = w * weight._data.astype(x._data.dtype)[ti]
    wt = Tensor._make(w)
    picked = x.gather(1, Tensor._make(ti[:, None])).squeeze(1)
    loss = -picked * wt
    if reduction == "none":
        return loss.reshape(shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / wt.sum()


def _weighted(loss: Tensor, input: Tensor, weight: Tensor | None, reduction: str,
              mean_by_weight: bool) -> Tensor:
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    _size_warning(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    diff = input - target
    return _weighted(diff * diff, input, weight, reduction, True)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    _size_warning(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    return _weighted((input - target).abs(), input, weight, reduction, True)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0 is l1_loss)."""
    _size_warning(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = input - target
    ad = d.abs()
    if beta == 0:
        return _reduce(ad, reduction)
    return _reduce(where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    _size_warning(input, target)
    reduction = _reduction(None, None, reduction)
    d = input - target
    ad = d.abs()
    loss = where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _weighted(loss, input, weight, reduction, False)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-(t log x + (1 - t) log(1 - x)), logs clamped at -100 (a primitive, as PyTorch)."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         f"size.")
    loss = NN.BinaryCrossEntropy.apply(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """(1 - t) x - (1 + (pos_weight - 1) t) log(sigmoid(x)): stable for any logit."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    log_sig = NN.LogSigmoid.apply(input)
    if pos_weight is not None:
        loss = (1 - target) * input - ((pos_weight - 1) * target + 1) * log_sig
    else:
        loss = (1 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Pointwise target * (log target - input), input being log-probabilities; 'batchmean'
    divides the sum by the batch size (the true KL divergence)."""
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    elif reduction not in ("none", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        safe = where(positive, target, 1.0)  # 0 * log 0 is 0 (xlogy), with finite gradients
        loss = target * safe.log() - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    cos = cosine_similarity(input1, input2, -1, 1e-12)
    loss = where(target == 1, 1 - cos, (cos - margin).clamp(min=0.0))
    return _reduce(loss, reduction)

