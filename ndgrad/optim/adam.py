"""Adam (and, with decoupled weight decay, AdamW), PyTorch's update rule.

    g = grad + weight_decay * p          (or p = p * (1 - lr * weight_decay) when decoupled)
    m = lerp(m, g, 1 - beta1);   v = beta2 * v + (1 - beta2) * g^2
    v_max = max(v_max, v)                (amsgrad; used instead of v below)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

With numba installed (ndgrad[fast]) each parameter's update is one compiled pass over its
arrays (ndgrad.ops._kernels.adam_update, torch's fused=True idea), in the same order of
operations as the NumPy code below, which runs otherwise. One flat buffer for all parameters
(torch's foreach) was slower here: NumPy's dozen passes over a 3 MB buffer leave the cache,
while a parameter's arrays stay in it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.ops._numba import kernels_for
from ndgrad.optim.optimizer import (
    Optimizer,
    _check_betas,
    _check_fused,
    _check_lr,
    _check_nonnegative,
    _ema_sq_,
    _lerp_,
    _new_step,
    _no_differentiable,
    _params_with_grad,
)
from ndgrad.tensor import Tensor


class Adam(Optimizer):
    """Adam: per-parameter step sizes from running moments of the gradient (Kingma & Ba)."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_betas(betas)
        _check_nonnegative("weight_decay", weight_decay)
        if not (isinstance(betas[0], float) and isinstance(betas[1], float)
                or isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor)):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, beta in enumerate(betas):
            if isinstance(beta, Tensor) and beta.numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
        _check_fused(fused, foreach, differentiable)
        _no_differentiable(differentiable)
        betas = (float(betas[0]), float(betas[1]))  # a 1-element tensor becomes its value
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)
        for s in self.state.values():  # old checkpoints stored step as a number
            if isinstance(s, dict) and "step" in s and not isinstance(s["step"], Tensor):
                step = _new_step()
                step._data[...] = float(s["step"])
                s["step"] = step

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adam update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = group["betas"]
            beta1, beta2 = float(beta1), float(beta2)
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["exp_avg"] = Tensor._make(np.zeros_like(arr))
                    state["exp_avg_sq"] = Tensor._make(np.zeros_like(arr))
                    if amsgrad:
                        state["max_exp_avg_sq"] = Tensor._make(np.zeros_like(arr))
                step_arr = state["step"]._data
                step_arr += 1
                step = float(step_arr)
                step_size = lr / (1 - beta1**step)
                bias_correction2_sqrt = math.sqrt(1 - beta2**step)
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data
                max_sq = state["max_exp_avg_sq"]._data if amsgrad else None
                k = kernels_for(*[a for a in (arr, grad, exp_avg, exp_avg_sq, max_sq)
                                  if a is not None])
                if k is not None:  # numba: the same steps, one pass over memory
                    hyper = np.array([1 - lr * weight_decay if decoupled else 1.0, weight_decay,
                                      1 - beta1, 1 - (1 - beta1), beta2, 1 - beta2, eps,
                                      step_size, bias_correction2_sqrt], arr.dtype)
                    k.adam_update(arr.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1),
                                  exp_avg_sq.reshape(-1),
                                  None if max_sq is None else max_sq.reshape(-1), hyper,
                                  weight_decay != 0 and not decoupled, bool(maximize),
                                  abs(1 - beta1) < 0.5)
                    p._bump_version()
                    continue
                if weight_decay != 0 and decoupled:
                    np.multiply(arr, 1 - lr * weight_decay, out=arr)
                    g = self._effective_grad(p, grad, 0, maximize)
                else:
                    g = self._effective_grad(p, grad, weight_decay, maximize)
                tmp = self._tmp(arr, 1)
                _lerp_(exp_avg, g, 1 - beta1, tmp)
                _ema_sq_(exp_avg_sq, g, beta2, tmp)
                if max_sq is not None:
                    np.maximum(max_sq, exp_avg_sq, out=max_sq)
                    np.sqrt(max_sq, out=tmp)
                else:
                    np.sqrt(exp_avg_sq, out=tmp)
                np.divide(tmp, bias_correction2_sqrt, out=tmp)
                np.add(tmp, eps, out=tmp)  # tmp is the denominator
                self._apply_update(arr, step_size, exp_avg, tmp)
                p._bump_version()
        return loss
