"""SparseAdam, PyTorch's update rule, for parameters (embedding tables) whose gradient touches
only some rows: Adam's moments and the parameter are updated on those rows only, the others
left exactly as they were (plain Adam would decay every row's moments at every step).

    on the rows present in the gradient:
    m = m + (1 - beta1) * (g - m);   v = v + (1 - beta2) * (g^2 - v)
    p = p - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)

ndgrad's gradients are dense (``nn.Embedding(sparse=True)`` gives the same dense gradient as
``sparse=False``), so the rows present are the rows whose gradient has a nonzero entry: the
rows the batch looked up, as in PyTorch's sparse gradient. The one difference: a row looked up
whose gradient is exactly zero everywhere (say its every use was masked out) counts as present
for PyTorch and as absent here, so its moments are not decayed that step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.optim.optimizer import Optimizer, _check_betas, _params_with_grad
from ndgrad.tensor import Tensor


class SparseAdam(Optimizer):
    """Lazy Adam: only the rows with a gradient this step move (for sparse embeddings)."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One lazy Adam update of the rows that have a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = group["eps"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = Tensor._make(np.zeros_like(arr))
                    state["exp_avg_sq"] = Tensor._make(np.zeros_like(arr))
                state["step"] += 1
                if arr.ndim == 0:
                    rows: Any = ...  # a scalar is present when its gradient is nonzero
                    if grad == 0:
                        continue
                else:
                    rows = np.flatnonzero(grad.reshape(len(grad), -1).any(axis=1))
                    if rows.size == 0:
                        continue
                g = -grad[rows] if group["maximize"] else grad[rows]
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data
                old_m, old_v = exp_avg[rows], exp_avg_sq[rows]
                m = (g - old_m) * (1 - beta1)  # the update first, then the new value
                exp_avg[rows] += m
                v = (g * g - old_v) * (1 - beta2)
                exp_avg_sq[rows] += v
                m += old_m
                v += old_v
                denom = np.sqrt(v)
                denom += eps
                step = state["step"]
                step_size = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
                arr[rows] += -step_size * (m / denom)
                p._bump_version()
        return loss
