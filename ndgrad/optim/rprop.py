"""Rprop (resilient backpropagation), PyTorch's update rule: only the sign of the gradient is
used, each coordinate keeping its own step size.

    s = sign(g * g_prev)
    step_size = clamp(step_size * (etaplus if s > 0, etaminus if s < 0, 1 if s == 0),
                      step_size_min, step_size_max)
    g = 0 where s < 0   (a sign change: skip this coordinate once)
    p = p - sign(g) * step_size;   g_prev = g
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.optim.optimizer import (
    Optimizer,
    _check_lr,
    _new_step,
    _no_differentiable,
    _params_with_grad,
)
from ndgrad.tensor import Tensor


class Rprop(Optimizer):
    """Per-coordinate steps that grow while the gradient keeps its sign and shrink when it
    flips (Riedmiller & Braun). Meant for full-batch training; ``lr`` is the initial step."""

    def __init__(self, params: Any, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _no_differentiable(differentiable)
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Rprop update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["prev"] = Tensor._make(np.zeros_like(arr))
                    state["step_size"] = Tensor._make(np.full_like(grad, float(group["lr"])))
                state["step"]._data += 1
                prev = state["prev"]._data
                step_size = state["step_size"]._data
                sign = self._tmp(arr, 1)
                np.multiply(grad, prev, out=sign)
                if group["maximize"]:  # sign(-g * prev): the product's sign flips
                    np.negative(sign, out=sign)
                np.sign(sign, out=sign)
                positive, negative, zero = sign > 0, sign < 0, sign == 0
                sign[positive] = etaplus
                sign[negative] = etaminus
                sign[zero] = 1
                np.multiply(step_size, sign, out=step_size)
                np.clip(step_size, step_size_min, step_size_max, out=step_size)
                # the gradient with its sign-flipped coordinates zeroed becomes prev
                if group["maximize"]:
                    np.negative(grad, out=prev)
                else:
                    np.copyto(prev, grad)
                prev[negative] = 0
                np.sign(prev, out=sign)
                np.multiply(sign, step_size, out=sign)
                np.subtract(arr, sign, out=arr)
                p._bump_version()
        return loss
