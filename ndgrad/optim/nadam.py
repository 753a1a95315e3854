"""NAdam, PyTorch's update rule: Adam with Nesterov momentum (Dozat), the momentum coefficient
warming up by ``momentum_decay``.

    g = grad + weight_decay * p          (or p = p * (1 - lr * weight_decay) when decoupled)
    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay));   prod_t = mu_1 * ... * mu_t
    m = lerp(m, g, 1 - beta1);   v = beta2 * v + (1 - beta2) * g^2
    denom = sqrt(v / (1 - beta2^t)) + eps
    p = p - lr * (1 - mu_t) / (1 - prod_t) * g / denom
          - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / denom
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


class NAdam(Optimizer):
    """Adam whose update looks one momentum step ahead (Nesterov-accelerated Adam)."""

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_betas(betas)
        _check_nonnegative("weight_decay", weight_decay)
        _check_nonnegative("momentum_decay", momentum_decay)
        _no_differentiable(differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One NAdam update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            weight_decay = group["weight_decay"]
            momentum_decay = group["momentum_decay"]
            eps = group["eps"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["mu_product"] = _new_step()
                    state["mu_product"]._data[...] = 1.0
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
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
                # the product lives in a tensor of the default float dtype, as PyTorch's, so
                # it is rounded the same way at every step
                mu_product_arr = state["mu_product"]._data
                mu_product_arr *= mu
                mu_product = float(mu_product_arr)
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data
                denom = self._tmp(arr, 1)
                _lerp_(exp_avg, g, 1 - beta1, denom)
                _ema_sq_(exp_avg_sq, g, beta2, denom)
                np.divide(exp_avg_sq, 1 - beta2**step, out=denom)
                np.sqrt(denom, out=denom)
                np.add(denom, eps, out=denom)
                self._apply_update(arr, lr * (1.0 - mu) / (1.0 - mu_product), g, denom)
                self._apply_update(arr, lr * mu_next / (1.0 - mu_product * mu_next), exp_avg,
                                   denom)
                p._bump_version()
        return loss
