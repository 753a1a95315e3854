"""Adamax, PyTorch's update rule: Adam with the infinity norm in place of the RMS.

    g = grad + weight_decay * p                     (g = -grad first with maximize)
    m = lerp(m, g, 1 - beta1);   u = max(beta2 * u, |g| + eps)
    p = p - lr / (1 - beta1^t) * m / u
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.optim.optimizer import (
    Optimizer,
    _check_betas,
    _check_lr,
    _check_nonnegative,
    _lerp_,
    _new_step,
    _no_differentiable,
    _params_with_grad,
)
from ndgrad.tensor import Tensor


class Adamax(Optimizer):
    """Adam's variant with a running maximum of |g| as the denominator (Kingma & Ba, sec. 7)."""

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_betas(betas)
        _check_nonnegative("weight_decay", weight_decay)
        _no_differentiable(differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adamax update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = group["eps"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["exp_avg"] = Tensor._make(np.zeros_like(arr))
                    state["exp_inf"] = Tensor._make(np.zeros_like(arr))
                step_arr = state["step"]._data
                step_arr += 1
                g = self._effective_grad(p, grad, group["weight_decay"], group["maximize"])
                exp_avg = state["exp_avg"]._data
                exp_inf = state["exp_inf"]._data
                tmp = self._tmp(arr, 1)
                _lerp_(exp_avg, g, 1 - beta1, tmp)
                np.multiply(exp_inf, beta2, out=exp_inf)
                np.abs(g, out=tmp)
                np.add(tmp, eps, out=tmp)
                np.maximum(exp_inf, tmp, out=exp_inf)
                clr = lr / (1 - beta1 ** float(step_arr))
                self._apply_update(arr, clr, exp_avg, exp_inf)
                p._bump_version()
        return loss
