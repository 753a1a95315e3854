"""ASGD (averaged SGD), PyTorch's update rule.

    g = grad + weight_decay * p                     (g = -grad first with maximize)
    p = p * (1 - lambd * eta) - eta * g
    ax = ax + mu * (p - ax)        (ax = p while mu == 1)
    eta = lr / (1 + lambd * lr * t)^alpha;   mu = 1 / max(1, t - t0)

``ax`` is the running average of the iterates (Polyak & Juditsky), averaging from step ``t0``
on; the parameters themselves follow plain SGD with a decaying step ``eta``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.optim.optimizer import (
    Optimizer,
    _check_lr,
    _check_nonnegative,
    _new_step,
    _no_differentiable,
    _params_with_grad,
)
from ndgrad.tensor import Tensor


class ASGD(Optimizer):
    """SGD with a decaying step that also keeps the average of its iterates in ``state['ax']``."""

    def __init__(self, params: Any, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("weight_decay", weight_decay)
        _no_differentiable(differentiable)
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One ASGD update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    # eta and mu are tensors of the default float dtype, as PyTorch's: their
                    # rounding is part of the update
                    state["step"] = _new_step()
                    state["eta"] = _new_step()
                    state["eta"]._data[...] = lr
                    state["mu"] = _new_step()
                    state["mu"]._data[...] = 1.0
                    state["ax"] = Tensor._make(np.zeros_like(arr))
                step_arr = state["step"]._data
                step_arr += 1
                g = self._effective_grad(p, grad, group["weight_decay"], group["maximize"])
                eta = float(state["eta"]._data)
                mu_arr = state["mu"]._data
                tmp = self._tmp(arr, 1)
                np.multiply(arr, 1 - lambd * eta, out=arr)
                np.multiply(g, eta, out=tmp)
                np.subtract(arr, tmp, out=arr)
                ax = state["ax"]._data
                if float(mu_arr) != 1:
                    np.subtract(arr, ax, out=tmp)
                    np.multiply(tmp, mu_arr, out=tmp)
                    np.add(ax, tmp, out=ax)
                else:
                    np.copyto(ax, arr)
                step = float(step_arr)
                state["eta"]._data[...] = lr / (1 + lambd * lr * step) ** alpha
                mu_arr[...] = 1 / max(1, step - t0)
                p._bump_version()
        return loss
