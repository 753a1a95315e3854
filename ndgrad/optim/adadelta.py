"""Adadelta, PyTorch's update rule.

    g = grad + weight_decay * p                     (g = -grad first with maximize)
    v = rho * v + (1 - rho) * g^2
    delta = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * delta^2
    p = p - lr * delta
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
    _new_step,
    _no_differentiable,
    _params_with_grad,
)
from ndgrad.tensor import Tensor


class Adadelta(Optimizer):
    """Step sizes from the ratio of running RMS of updates to running RMS of gradients, so the
    units of the update match the parameter's (Zeiler); lr only scales the result."""

    def __init__(self, params: Any, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonnegative("epsilon", eps)
        _check_nonnegative("weight_decay", weight_decay)
        _no_differentiable(differentiable)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adadelta update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            rho = group["rho"]
            eps = group["eps"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["square_avg"] = Tensor._make(np.zeros_like(arr))
                    state["acc_delta"] = Tensor._make(np.zeros_like(arr))
                state["step"]._data += 1
                g = self._effective_grad(p, grad, group["weight_decay"], group["maximize"])
                square_avg = state["square_avg"]._data
                acc_delta = state["acc_delta"]._data
                std, delta = self._tmp(arr, 1), self._tmp(arr, 2)
                _ema_sq_(square_avg, g, rho, std)
                np.add(square_avg, eps, out=std)
                np.sqrt(std, out=std)
                np.add(acc_delta, eps, out=delta)
                np.sqrt(delta, out=delta)
                np.divide(delta, std, out=delta)
                np.multiply(delta, g, out=delta)
                _ema_sq_(acc_delta, delta, rho, std)
                np.multiply(delta, lr, out=delta)
                np.subtract(arr, delta, out=arr)
                p._bump_version()
        return loss
