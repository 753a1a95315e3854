"""RAdam, PyTorch's update rule: Adam whose adaptive step is switched on, and rectified, only
once the variance of the adaptive learning rate is tractable (Liu et al.).

    g = grad + weight_decay * p          (or p = p * (1 - lr * weight_decay) when decoupled)
    m = lerp(m, g, 1 - beta1);   v = beta2 * v + (1 - beta2) * g^2
    rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    p = p - lr * m / (1 - beta1^t) * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps)  (rho_t > 5)
    p = p - lr * m / (1 - beta1^t)                                                (otherwise)
    with r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
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
    _ema_sq_,
    _lerp_,
    _new_step,
    _no_differentiable,
    _params_with_grad,
)
from ndgrad.tensor import Tensor


class RAdam(Optimizer):
    """Rectified Adam: plain momentum SGD for the first steps, then rectified Adam."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_betas(betas)
        _check_nonnegative("weight_decay", weight_decay)
        _no_differentiable(differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One RAdam update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["exp_avg"] = Tensor._make(np.zeros_like(arr))
                    state["exp_avg_sq"] = Tensor._make(np.zeros_like(arr))
                step_arr = state["step"]._data
                step_arr += 1
                step = float(step_arr)
                if weight_decay != 0 and group["decoupled_weight_decay"]:
                    np.multiply(arr, 1 - lr * weight_decay, out=arr)
                    g = self._effective_grad(p, grad, 0, group["maximize"])
                else:
                    g = self._effective_grad(p, grad, weight_decay, group["maximize"])
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data
                update, tmp = self._tmp(arr, 1), self._tmp(arr, 2)
                _lerp_(exp_avg, g, 1 - beta1, update)
                _ema_sq_(exp_avg_sq, g, beta2, update)
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
                # the same order of operations as PyTorch: ((m / bc1) * lr) * adaptive * rect
                np.divide(exp_avg, bias_correction1, out=update)
                np.multiply(update, lr, out=update)
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    np.sqrt(exp_avg_sq, out=tmp)
                    np.add(tmp, eps, out=tmp)
                    np.divide(bias_correction2**0.5, tmp, out=tmp)  # the adaptive lr
                    np.multiply(update, tmp, out=update)
                    np.multiply(update, rect, out=update)
                np.subtract(arr, update, out=arr)
                p._bump_version()
        return loss
