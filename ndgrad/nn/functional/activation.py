"""Activation functions, and softmax/softmin/log_softmax. Most are composites of Tensor ops
(autograd derives their backward); softmax, log_softmax, logsigmoid and hardswish are
primitives for numerical stability or torch's exact gradient at kinks.
"""

from __future__ import annotations

import warnings
from typing import Any

from ndgrad.nn.functional._helpers import _float_input
from ndgrad.ops.activation import Hardtanh, LeakyRelu, Prelu, Shrink, Threshold
from ndgrad.ops.nn import Gelu, Hardswish, LogSigmoid
from ndgrad.tensor import Tensor, where
from ndgrad.tensor.creation import rand_like, zeros_like


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
    return _maybe_inplace(input, lambda x: LeakyRelu.apply(x, negative_slope), inplace)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: in training each x <= 0 is scaled by its own slope drawn from
    U(lower, upper); in evaluation by their mean."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    _float_input(input, "rrelu")
    noise = rand_like(input.detach())._data * (upper - lower) + lower
    return _maybe_inplace(input, lambda x: LeakyRelu.apply(x, noise), inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1); exp sees min(x, 0), so it never overflows (a
    where, not clamp: nan keeps its nan gradient, as in torch)."""
    return _maybe_inplace(
        input, lambda x: where(x > 0, x, where(x > 0, 0.0, x).expm1() * alpha), inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return _maybe_inplace(input, lambda x: elu(x, alpha) * scale, inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _maybe_inplace(
        input, lambda x: where(x > 0, x, (where(x > 0, 0.0, x) / alpha).expm1() * alpha), inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) with the exact normal CDF (erf), or PyTorch's tanh approximation (a fused
    primitive, ndgrad.ops.nn.Gelu)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got "
                           f"'{approximate}'")
    _float_input(input, "gelu")
    return Gelu.apply(input, approximate)


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
    return _maybe_inplace(input, lambda x: Hardtanh.apply(x, min_val, max_val), inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, lambda x: hardtanh(x / 6 + 0.5, 0.0, 1.0), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    _float_input(input, "hardswish")
    return _maybe_inplace(input, Hardswish.apply, inplace)


def softsign(input: Tensor) -> Tensor:
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    return input - input.tanh()


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for large |x| (a primitive)."""
    return LogSigmoid.apply(input)


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def _softmax_dim(name: str, ndim: int, stacklevel: int = 3) -> int:
    """torch's implicit dim for softmax-like ops called without one (with its warning)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  f"include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim (Tensor.softmax); without dim, torch's implicit one."""
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return input.softmax(dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return softmax(-input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along dim (Tensor.log_softmax); without dim, torch's implicit one."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return input.log_softmax(dim, dtype=dtype)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x, with one weight or one per channel (dim 1)."""
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.numel() != 1 and weight.numel() != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {weight.numel()} and channel size = "
                           f"{channels}.")
    w = weight
    if input.ndim >= 2 and weight.numel() > 1:
        w = w.reshape([1, -1] + [1] * (input.ndim - 2))
    elif weight.ndim == 1 and input.ndim < 1:
        w = w.reshape(())
    return Prelu.apply(input, w)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    return _maybe_inplace(input, lambda x: Threshold.apply(x, threshold, value), inplace)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    return Shrink.apply(input, lambd, False)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return Shrink.apply(input, lambd, True)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """softmax((logits + g) / tau) with Gumbel(0, 1) noise g; ``hard``: the one-hot of its
    argmax in value, the soft sample's gradient (straight-through)."""
    gumbels = -(-rand_like(logits.detach()).log()).log()  # -log(Exp(1)) = -log(-log(U))
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


_threshold = threshold  # threshold_'s argument of the same name hides the function


# torch's in-place spellings: F.relu_(x) is F.relu(x, inplace=True)
def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _threshold(input, threshold, value, inplace=True)
