"""ndgrad.autograd: the engine (Function, backward, grad), grad mode, gradcheck, anomaly mode,
and functional (jacobian, hessian, vjp, jvp, hvp, vhp)."""

from __future__ import annotations

from ndgrad.autograd import functional
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
           "gradcheck", "gradgradcheck", "functional", "Variable"]
