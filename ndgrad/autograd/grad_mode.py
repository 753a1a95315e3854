"""Grad mode: one global switch that says whether ops record the graph.

``no_grad`` turns it off (for evaluation and optimizer updates); the engine turns it off while it
runs backward unless ``create_graph=True``. Each class works as a context manager and as a
decorator, as in PyTorch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any


class _State:
    enabled = True  # read by Function.apply on every op


state = _State()


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward."""
    return state.enabled


class _GradMode(contextlib.ContextDecorator):
    """Set grad mode to ``self.mode`` inside a ``with`` block or a decorated function.

    Previous modes are kept on a stack so one instance can be re-entered (recursive decorated
    functions)."""

    mode = True

    def __enter__(self) -> None:
        self.__dict__.setdefault("_prev", []).append(state.enabled)
        state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        state.enabled = self._prev.pop()


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Disable graph recording: results of ops have ``requires_grad=False``."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """``set_grad_enabled(False)`` switches recording off now, or for a ``with`` block."""

    def __init__(self, mode: bool) -> None:
        self._prev = [state.enabled]
        self.mode = bool(mode)
        state.enabled = self.mode  # takes effect immediately, as in PyTorch

    def __enter__(self) -> None:
        state.enabled = self.mode


class inference_mode(_GradMode):  # noqa: N801
    """Like ``no_grad`` (ndgrad has no separate inference tensors); ``inference_mode(False)``
    leaves grad mode as it is."""

    def __init__(self, mode: bool | Callable[..., Any] = True) -> None:
        self.mode = False if mode is True or callable(mode) else state.enabled
        self._keep = mode is False

    def __enter__(self) -> None:
        if self._keep:
            self.mode = state.enabled
        super().__enter__()
