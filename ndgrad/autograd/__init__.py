"""ndgrad.autograd: the engine (Function, backward, grad), grad mode, gradcheck, anomaly mode,
functional (jacobian, hessian, vjp, jvp, hvp, vhp) and forward_ad (forward-mode AD); ``graph``
(saved-tensor hooks) and ``profiler`` load when first used."""

from __future__ import annotations

import importlib
from types import ModuleType

from ndgrad.autograd import forward_ad, functional
from ndgrad.autograd.anomaly import detect_anomaly, set_detect_anomaly
from ndgrad.autograd.engine import backward, grad
from ndgrad.autograd.function import Function
from ndgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from ndgrad.autograd.gradcheck import gradcheck, gradgradcheck
from ndgrad.autograd.variable import Variable

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "detect_anomaly", "set_detect_anomaly",
           "gradcheck", "gradgradcheck", "functional", "forward_ad", "Variable"]


def __getattr__(name: str) -> ModuleType:
    if name in ("graph", "profiler"):  # as torch.autograd.graph after a bare import
        return importlib.import_module(f"ndgrad.autograd.{name}")
    raise AttributeError(f"module 'ndgrad.autograd' has no attribute '{name}'")
