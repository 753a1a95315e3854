"""Adafactor, PyTorch's update rule (Shazeer & Stern): Adam's second moment, but for a matrix
kept as one running mean per row and one per column (their outer product, normalized, is the
estimate), so the optimizer's memory grows with rows + columns, not rows * columns. No first
moment; the step is relative to the parameter's RMS and clipped.

    beta2_t = 1 - t^beta2_decay;   rho_t = min(lr, 1 / sqrt(t))
    alpha = max(eps2, RMS(p)) * rho_t                   (before weight decay)
    p = p * (1 - lr * weight_decay)
    matrices: R = lerp(R, mean(g^2, dim=-1), 1 - beta2_t);  C = lerp(C, mean(g^2, dim=-2), ...)
              v = R @ C / max(mean(R, dim=-2), eps1)
    vectors:  v = lerp(v, g^2, 1 - beta2_t)
    u = g / sqrt(max(v, eps1^2));   p = p - alpha / max(1, RMS(u) / d) * u
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.optim.optimizer import Optimizer, _new_step, _params_with_grad
from ndgrad.tensor import Tensor


def _norm(x: np.ndarray) -> float:
    """The 2-norm of all of x, as a Python float."""
    return float(np.sqrt(np.vdot(x, x)))


def _lerp(x: np.ndarray, end: np.ndarray, weight: float) -> None:
    """x = lerp(x, end, weight) in place, with PyTorch's two formulas."""
    if abs(weight) < 0.5:
        x += weight * (end - x)
    else:
        np.subtract(end, (end - x) * (1 - weight), out=x)


def _mean_square(g: np.ndarray, axis: int) -> np.ndarray:
    """mean(g^2) along ``axis``, as PyTorch's norm(g, dim).square() / size (keepdim)."""
    norm = np.sqrt(np.sum(g * g, axis=axis, keepdims=True))
    return norm * norm / g.shape[axis]


class Adafactor(Optimizer):
    """Memory-light Adam-like steps: factored second moments for matrices, relative step
    sizes, update clipping at RMS ``d``."""

    def __init__(self, params: Any, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, foreach: bool | None = None,
                 maximize: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adafactor update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            eps1, eps2 = group["eps"]
            weight_decay = group["weight_decay"]
            for p, grad in _params_with_grad(group):
                arr = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    if grad.ndim > 1:
                        state["row_var"] = Tensor._make(np.zeros((*grad.shape[:-1], 1),
                                                                 grad.dtype))
                        state["col_var"] = Tensor._make(np.zeros((*grad.shape[:-2], 1,
                                                                  grad.shape[-1]), grad.dtype))
                    else:
                        state["variance"] = Tensor._make(np.zeros_like(grad))
                g = -grad if group["maximize"] else grad
                if eps1 is None:  # PyTorch takes it from the first parameter of the group
                    eps1 = float(np.finfo(arr.dtype).eps)
                step_arr = state["step"]._data
                step_arr += 1
                step = float(step_arr)
                one_minus_beta2_t = step ** group["beta2_decay"]
                rho_t = min(lr, 1 / step**0.5)
                alpha = max(eps2, _norm(arr) / arr.size**0.5) * rho_t
                if weight_decay != 0:
                    np.multiply(arr, 1 - lr * weight_decay, out=arr)
                if g.ndim > 1:
                    row_var = state["row_var"]._data  # (..., R, 1)
                    col_var = state["col_var"]._data  # (..., 1, C)
                    _lerp(row_var, _mean_square(g, -1), one_minus_beta2_t)
                    _lerp(col_var, _mean_square(g, -2), one_minus_beta2_t)
                    var_estimate = row_var @ col_var  # (..., R, C)
                    var_estimate /= np.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
                else:
                    variance = state["variance"]._data
                    _lerp(variance, g * g, one_minus_beta2_t)
                    var_estimate = variance.copy()
                np.maximum(var_estimate, eps1 * eps1, out=var_estimate)
                update = np.sqrt(var_estimate, out=var_estimate)
                np.divide(1, update, out=update)  # rsqrt
                update *= g
                denom = max(1.0, _norm(update) / (update.size**0.5 * group["d"]))
                arr -= alpha / denom * update
                p._bump_version()
        return loss
