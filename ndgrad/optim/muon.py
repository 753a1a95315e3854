"""Muon (MomentUm Orthogonalized by Newton-Schulz), torch.optim.Muon's update rule, for 2-D
parameters (the weight matrices of a network; use AdamW for the rest):

    B = momentum * B + (1 - momentum) * g                  (torch's lerp form)
    U = g + momentum * (B - g)   (nesterov)   or   U = B
    O = NS(U): U / |U|_F, then ns_steps quintic Newton-Schulz steps
        X <- a X + (b A + c A^2) X,  A = X X^T               (X wide: transposed if tall)
    p = p * (1 - lr * weight_decay) - lr * sqrt(max(1, rows / cols)) * O

O is close to the orthogonal factor of U (its singular values pushed towards 1), so every
direction of the update moves at a similar rate. torch runs the Newton-Schulz steps in
bfloat16; ndgrad, which has no bfloat16, runs them in the parameter's dtype, so its updates
are the same up to bfloat16's rounding (about 1e-2 of an update).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.optim.optimizer import Optimizer, _check_lr, _params_with_grad
from ndgrad.tensor import Tensor

DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.775, 2.0315
EPS = 1e-07
DEFAULT_NS_STEPS = 5


def _zeropower_via_newtonschulz(grad: np.ndarray, ns_coefficients: tuple[float, float, float],
                                ns_steps: int, eps: float) -> np.ndarray:
    """The quintic Newton-Schulz iteration of Keller Jordan's Muon: roughly the orthogonal
    factor U V^T of grad = U S V^T (singular values land in about [0.5, 1.5])."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    x = grad.T if grad.shape[0] > grad.shape[1] else grad
    x = x / max(float(np.linalg.norm(x)), eps)  # spectral norm at most 1
    for _ in range(ns_steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.T if grad.shape[0] > grad.shape[1] else x


def _adjust_lr(lr: float, adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    """torch's learning-rate scaling by shape: "original" (the default) sqrt(max(1, A / B)),
    "match_rms_adamw" 0.2 sqrt(max(A, B)), anything else 1."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr


class Muon(Optimizer):
    """Muon for 2-D parameters (see the module docstring), with torch's defaults."""

    def __init__(self, params: Any, lr: float = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple[float, float, float] = (DEFAULT_A, DEFAULT_B,
                                                                DEFAULT_C),
                 eps: float = EPS, ns_steps: int = DEFAULT_NS_STEPS,
                 adjust_lr_fn: str | None = None) -> None:
        _check_lr(lr)
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum,
                    "nesterov": nesterov, "ns_coefficients": ns_coefficients, "eps": eps,
                    "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Muon update of every parameter that has a gradient."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, momentum = float(group["lr"]), group["momentum"]
            for p, grad in _params_with_grad(group):
                if grad.dtype.kind == "c":
                    raise RuntimeError("Muon does not support complex parameters")
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = Tensor._make(np.zeros_like(grad))
                buf = state["momentum_buffer"]._data
                buf += (grad - buf) * grad.dtype.type(1 - momentum)  # lerp towards grad
                update = grad + (buf - grad) * grad.dtype.type(momentum) \
                    if group["nesterov"] else buf
                ortho = _zeropower_via_newtonschulz(update, group["ns_coefficients"],
                                                    group["ns_steps"], group["eps"])
                adjusted = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
                arr = p._data
                arr *= arr.dtype.type(1 - lr * group["weight_decay"])
                arr -= (ortho * adjusted).astype(arr.dtype, copy=False)
                p._bump_version()
                state["momentum_buffer"]._bump_version()
        return loss
