"""Padding that repeats the input: reflect, replicate and circular (F.pad's non-constant
modes). Forward is np.pad; the gradient folds each border back onto the elements it copied,
one slice-add per border, instead of scattering (np.add.at) through an index.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.ops.base import Primitive

_NUMPY_MODE: dict[str, Any] = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _fold(g: np.ndarray, axis: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """The adjoint of padding one axis by (lo, hi): g's borders added back onto the core."""
    g = np.moveaxis(g, axis, 0)
    n = g.shape[0] - lo - hi
    core = g[lo:lo + n].copy()
    left, right = g[:lo], g[lo + n:]
    if mode == "reflect":  # left border is x[lo], ..., x[1]; right is x[n-2], ..., x[n-1-hi]
        core[1:lo + 1] += left[::-1]
        core[n - 1 - hi:n - 1] += right[::-1]
    elif mode == "replicate":
        core[0] += left.sum(0)
        core[n - 1] += right.sum(0)
    else:  # circular: left border is x[n-lo:], right is x[:hi]
        core[n - lo:] += left
        core[:hi] += right
    return np.moveaxis(core, 0, axis)


class PadRepeat(Primitive):
    """x padded by ``widths`` ((before, after) per dim, all >= 0) in ``mode``."""

    @staticmethod
    def forward(ctx: Any, x: Any, widths: Any, mode: Any) -> Any:
        ctx.widths, ctx.mode = widths, mode
        ctx.save_for_backward(x if mode != "circular" else None)
        return np.pad(x, widths, mode=_NUMPY_MODE[mode])

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return PadRepeatGrad.apply(grad, x, ctx.widths, ctx.mode), None, None


class PadRepeatGrad(Primitive):
    """The adjoint of PadRepeat. ``x`` (or None) is the padded input, an input only so that the
    gradient stays in the graph under create_graph, as PyTorch's reflection and replication
    pads' do (its derivative in x is zero)."""

    @staticmethod
    def forward(ctx: Any, grad: Any, x: Any, widths: Any, mode: Any) -> Any:
        ctx.widths, ctx.mode = widths, mode
        for axis, (lo, hi) in enumerate(widths):
            if lo or hi:
                grad = _fold(grad, axis, lo, hi, mode)
        ctx.shape = grad.shape
        return grad

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        zeros = np.zeros(ctx.shape, grad.dtype) if ctx.needs_input_grad[1] else None
        return PadRepeat.apply(grad, ctx.widths, ctx.mode), zeros, None, None


__all__ = ["PadRepeat", "PadRepeatGrad"]
