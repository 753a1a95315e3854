"""RMSprop, PyTorch's update rule.

    v = alpha * v + (1 - alpha) * g^2
    avg = sqrt(v - ga^2) + eps  with ga = lerp(ga, g, 1 - alpha)  (centered)  else sqrt(v) + eps
    b = momentum * b + g / avg;  p = p - lr * b     (momentum > 0)
    p = p - lr * g / avg                             (otherwise)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.optim.optimizer import (
    Optimizer,
    _check_lr,
    _check_nonnegative,
    _ema_sq_,
    _lerp_,
    _new_step,
    _no_differentiable,
    _params_with_grad,
)
from ndgrad.tensor import Tensor


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of recent gradients (Hinton's lecture notes)."""

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_nonnegative("momentum", momentum)
        _check_nonnegative("weight_decay", weight_decay)
        _check_nonnegative("alpha", alpha)
        _no_differentiable(differentiable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One RMSprop update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            alpha = group["alpha"]
            eps = group["eps"]
            momentum = group["momentum"]
            centered = group["centered"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["square_avg"] = Tensor._make(np.zeros_like(arr))
                    if momentum > 0:
                        state["momentum_buffer"] = Tensor._make(np.zeros_like(arr))
                    if centered:
                        state["grad_avg"] = Tensor._make(np.zeros_like(arr))
                state["step"]._data += 1
                g = self._effective_grad(p, grad, group["weight_decay"], group["maximize"])
                square_avg = state["square_avg"]._data
                tmp = self._tmp(arr, 1)
                _ema_sq_(square_avg, g, alpha, tmp)
                if centered:
                    grad_avg = state["grad_avg"]._data
                    _lerp_(grad_avg, g, 1 - alpha, tmp)
                    np.multiply(grad_avg, grad_avg, out=tmp)
                    np.subtract(square_avg, tmp, out=tmp)
                    np.sqrt(tmp, out=tmp)
                else:
                    np.sqrt(square_avg, out=tmp)
                np.add(tmp, eps, out=tmp)  # tmp is avg, the denominator
                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    np.multiply(buf, momentum, out=buf)
                    np.divide(g, tmp, out=tmp)
                    np.add(buf, tmp, out=buf)
                    np.multiply(buf, lr, out=tmp)
                    np.subtract(arr, tmp, out=arr)
                else:
                    self._apply_update(arr, lr, g, tmp)
                p._bump_version()
        return loss
