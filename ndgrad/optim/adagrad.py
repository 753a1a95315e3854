"""Adagrad, PyTorch's update rule.

    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g^2;   p = p - clr * g / (sqrt(s) + eps)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.optim.optimizer import (
    Optimizer,
    _check_fused,
    _check_lr,
    _check_nonnegative,
    _new_step,
    _no_differentiable,
    _params_with_grad,
)
from ndgrad.tensor import Tensor


class Adagrad(Optimizer):
    """Per-coordinate step sizes shrinking with the sum of squared gradients (Duchi et al.)."""

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        _check_nonnegative("lr_decay", lr_decay)
        _check_nonnegative("weight_decay", weight_decay)
        _check_nonnegative("initial_accumulator_value", initial_accumulator_value)
        _check_nonnegative("epsilon", eps)
        _check_fused(fused, foreach, differentiable)
        _no_differentiable(differentiable)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch creates Adagrad's state up front
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _new_step()
                state["sum"] = Tensor._make(np.full_like(p._data, initial_accumulator_value))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adagrad update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            lr_decay = group["lr_decay"]
            eps = group["eps"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                step_arr = state["step"]._data
                step_arr += 1
                clr = lr / (1 + (float(step_arr) - 1) * lr_decay)
                g = self._effective_grad(p, grad, group["weight_decay"], group["maximize"])
                state_sum = state["sum"]._data
                tmp = self._tmp(arr, 1)
                np.multiply(g, g, out=tmp)
                np.add(state_sum, tmp, out=state_sum)
                np.sqrt(state_sum, out=tmp)
                np.add(tmp, eps, out=tmp)  # tmp is the denominator
                self._apply_update(arr, clr, g, tmp)
                p._bump_version()
        return loss
