"""SGD with momentum, dampening, Nesterov momentum and weight decay (PyTorch's update rule).

    g = grad + weight_decay * p                    (g = -grad first with maximize)
    b = g                        on the first step
    b = momentum * b + (1 - dampening) * g        afterwards
    g = g + momentum * b  (nesterov)   or   g = b
    p = p - lr * g
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.ops._numba import kernels_for
from ndgrad.optim.optimizer import (
    Optimizer,
    _check_fused,
    _check_lr,
    _hyper,
    _no_differentiable,
    _params_with_grad,
)
from ndgrad.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_fused(fused, foreach, differentiable)
        _no_differentiable(differentiable)
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One SGD update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            momentum = group["momentum"]
            dampening = group["dampening"]
            nesterov = group["nesterov"]
            weight_decay = group["weight_decay"]
            maximize = group["maximize"]
            dtype = None
            for p, grad in _params_with_grad(group):
                arr = p._data
                if arr.dtype is not dtype:
                    dtype = arr.dtype
                    lr_, momentum_, undamped, weight_decay_ = _hyper(
                        dtype, float(group["lr"]), momentum, 1 - dampening, weight_decay)
                if momentum != 0:
                    state = self.state[p]
                    buf_t = state.get("momentum_buffer")
                    first = buf_t is None
                    if first:
                        buf_t = state["momentum_buffer"] = Tensor._make(np.empty_like(grad))
                    k = kernels_for(arr, grad, buf_t._data)
                else:
                    buf_t, first, k = None, False, kernels_for(arr, grad)
                if k is not None:  # numba: the same steps, one pass over memory
                    hyper = np.array([lr_, momentum_, undamped, weight_decay_], arr.dtype)
                    k.sgd_update(arr.reshape(-1), grad.reshape(-1),
                                 None if buf_t is None else buf_t._data.reshape(-1), hyper,
                                 first, bool(nesterov), bool(maximize), dampening != 0)
                    p._bump_version()
                    continue
                g = grad
                if weight_decay or maximize:
                    g = self._effective_grad(p, grad, weight_decay_, maximize)
                if buf_t is not None:
                    buf = buf_t._data
                    if first:
                        np.copyto(buf, g)
                    else:
                        buf *= momentum_
                        if dampening == 0:
                            buf += g
                        else:
                            tmp = self._tmp(arr, 1)
                            np.multiply(g, undamped, out=tmp)
                            np.add(buf, tmp, out=buf)
                    if nesterov:
                        tmp = self._tmp(arr, 1)
                        np.multiply(buf, momentum_, out=tmp)
                        np.add(g, tmp, out=tmp)
                        g = tmp
                    else:
                        g = buf
                # a temporary, not the scratch array: the step is when the activations are
                # gone, so it adds nothing to the peak (NumPy has no fused arr -= lr * g)
                arr -= g * lr_
                p._bump_version()
        return loss
