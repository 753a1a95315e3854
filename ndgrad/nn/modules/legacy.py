"""torch.nn's legacy modules, kept for old programs: CrossMapLRN2d (Lua torch's
SpatialCrossMapLRN as torch ported it), and the deprecated NLLLoss2d and Container, which warn
as torch's do. New code uses nn.LocalResponseNorm, nn.NLLLoss and nn.Module.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

from ndgrad.autograd import Function
from ndgrad.nn.module import Module
from ndgrad.nn.modules.loss import NLLLoss
from ndgrad.tensor import Tensor

__all__ = ["CrossMapLRN2d", "NLLLoss2d", "Container"]


# -- CrossMapLRN2d ---------------------------------------------------------------------------
# torch's CrossMapLRN2d (torch/nn/modules/_functions.py) is an index-by-index Python port of
# Lua's SpatialCrossMapLRN, and both of its loops kept Lua's 1-based bounds: the forward sums
# over a window that, past the first channels, never drops channel 0; the backward sums over a
# window shifted by one channel. Its gradient is therefore not the derivative of its forward
# (torch.autograd.gradcheck fails on it). Programs that use it were trained with both, so
# ndgrad reproduces both: the forward's window as a 0/1 matrix built by running torch's loop,
# the backward as torch's formula, written with differentiable ops (torch's own cannot be
# differentiated again). nn.LocalResponseNorm is the correct cross-channel normalization.
@functools.lru_cache(maxsize=64)
def _forward_window(channels: int, size: int) -> np.ndarray:
    """M[c, j] = how often channel j's square enters channel c's scale in torch's loop."""
    pre = int((size - 1) / 2 + 1)
    m = np.zeros((channels, channels))
    m[0, :min(pre, channels)] = 1
    for c in range(1, channels):
        m[c] = m[c - 1]
        if c < channels - pre + 1:
            m[c, c + pre - 1] += 1
        if c > pre:  # Lua's bound, kept 1-based: channel 0 is never dropped
            m[c, c - pre] -= 1
    return m


@functools.lru_cache(maxsize=64)
def _backward_window(channels: int, size: int) -> np.ndarray:
    """B[c, j] = 1 for the channels j whose ratio torch's backward sums for channel c:
    j in [c - p, c + size - 1 - p], p = int(size - (size - 1) / 2)."""
    p = int(size - (size - 1) / 2)
    c = np.arange(channels)[:, None]
    j = np.arange(channels)[None, :]
    return ((j >= c - p) & (j <= c + size - 1 - p)).astype(np.float64)


def _window(x: Tensor, m: np.ndarray) -> Tensor:
    """sum_j m[c, j] * x[:, j] for every channel c: (N, C, H, W) -> (N, C, H, W)."""
    n, c, h, w = x.shape
    mat = Tensor._make(m.astype(x._data.dtype))
    return (mat @ x.reshape(n, c, h * w)).reshape(n, c, h, w)


def _scale(x: Tensor, size: int, alpha: float, k: float) -> Tensor:
    """k + alpha / size * (the squares of x summed over torch's forward window)."""
    return _window(x * x, _forward_window(x.shape[1], size)) * (alpha / size) + k


class _CrossMapLRN2dFunction(Function):
    """out = x * scale^-beta; torch's backward:
    grad * scale^-beta - 2 alpha beta / size * x * sum over B's window of grad * out / scale."""

    @staticmethod
    def forward(ctx: Any, input: Tensor, size: int, alpha: float, beta: float,
                k: float) -> Tensor:
        ctx.options = (size, alpha, beta, k)
        ctx.save_for_backward(input)
        return input * _scale(input, size, alpha, k).pow(-beta)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None, None]:
        size, alpha, beta, k = ctx.options
        (x,) = ctx.saved_tensors
        scale = _scale(x, size, alpha, k)
        scaled = scale.pow(-beta)
        ratio = grad * (x * scaled) / scale
        accum = _window(ratio, _backward_window(x.shape[1], size))
        return grad * scaled - x * accum * (2 * alpha * beta / size), None, None, None, None


class CrossMapLRN2d(Module):
    """Local response normalization across channels of a 4-D input (N, C, H, W), torch's
    legacy form: x / (k + alpha / size * sum of x^2 over nearby channels)^beta. Its values and
    gradients are torch's, including the window quirks of torch's port (see above)."""

    size: int
    alpha: float
    beta: float
    k: float

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D "
                             f"instead.")
        out: Tensor = _CrossMapLRN2dFunction.apply(input, self.size, self.alpha, self.beta,
                                                   self.k)
        return out

    def extra_repr(self) -> str:
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)


# -- deprecated aliases ----------------------------------------------------------------------
def _deprecated(message: str) -> None:
    warnings.warn(message, FutureWarning, stacklevel=3)


_NLLLOSS2D = ("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a drop-in "
              "replacement and see https://pytorch.org/docs/main/nn.html#torch.nn.NLLLoss for "
              "more details.")
_CONTAINER = ("`nn.Container` is deprecated. All of its functionality is now implemented in "
              "`nn.Module`. Subclass that instead.")


class NLLLoss2d(NLLLoss):
    """NLLLoss under its old name (it always took (N, C, H, W) inputs too); warns."""

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        _deprecated(_NLLLOSS2D)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class Container(Module):
    """A Module holding the modules given as keywords; warns when subclassed or made."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        _deprecated(_CONTAINER)
        super().__init_subclass__(**kwargs)

    def __init__(self, **kwargs: Any) -> None:
        _deprecated(_CONTAINER)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)
