"""Anomaly mode: remember where each op's forward ran, and stop at the first NaN gradient.

``with ndgrad.autograd.detect_anomaly(): loss.backward()`` makes the engine check every
gradient a backward op returns; the first one containing NaN raises an error naming the op and
showing the stack of its forward call.
"""

from __future__ import annotations

import contextlib
from typing import Any


class _State:
    enabled = False


state = _State()


def is_anomaly_enabled() -> bool:
    return state.enabled


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """Context manager and decorator that turns anomaly detection on (``check_nan=True``)."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = state.enabled
        state.enabled = self.check_nan

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self._prev


class set_detect_anomaly(detect_anomaly):  # noqa: N801
    """``set_detect_anomaly(True)`` switches anomaly mode on now, or for a ``with`` block."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self._prev = state.enabled
        state.enabled = mode
