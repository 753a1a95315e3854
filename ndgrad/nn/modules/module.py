"""torch.nn.modules.module's import path: Module and the hooks common to all modules.

Programs reach the global hooks here (``torch.nn.modules.module.register_module_forward_hook``),
so this module names them; they live in ndgrad/nn/hooks.py beside the module's own hooks, and
Module in ndgrad/nn/module.py.
"""

from __future__ import annotations

from typing import Any

from ndgrad.nn import hooks as _hooks
from ndgrad.nn.hooks import (
    register_module_backward_hook,
    register_module_buffer_registration_hook,
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_full_backward_hook,
    register_module_full_backward_pre_hook,
    register_module_module_registration_hook,
    register_module_parameter_registration_hook,
)
from ndgrad.nn.module import Module

__all__ = [
    "Module",
    "register_module_backward_hook",
    "register_module_buffer_registration_hook",
    "register_module_forward_hook",
    "register_module_forward_pre_hook",
    "register_module_full_backward_hook",
    "register_module_full_backward_pre_hook",
    "register_module_module_registration_hook",
    "register_module_parameter_registration_hook",
]


def __getattr__(name: str) -> Any:
    """torch's private global state (``_global_forward_hooks``, ``_global_is_full_backward_hook``,
    ...), which some programs read: hooks.py's, looked up there so a rebound flag reads live."""
    if name.startswith("_global_") and hasattr(_hooks, name):
        return getattr(_hooks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
