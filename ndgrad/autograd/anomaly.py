"""Anomaly mode: remember where each op's forward ran, and stop at the first NaN gradient.

``with ndgrad.autograd.detect_anomaly(): loss.backward()`` makes the engine check every
gradient a backward op returns; the first one containing NaN raises an error naming the op and
showing the stack of its forward call.
"""

from __future__ import annotations

import contextlib
from typing import Any


class _State:
    enabled = False  # read by Function.apply (record the forward stack) and by the engine
    check_nan = True


state = _State()


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()``: forward stacks are recorded for backward errors."""
    return state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True when anomaly mode also checks every backward output for NaN."""
    return state.enabled and state.check_nan


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """Context manager and decorator that turns anomaly detection on.

    Each op records the stack of its forward call; during backward, the first op whose
    gradient contains NaN raises a RuntimeError naming the op and showing that stack."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        self._prev: list[tuple[bool, bool]] = []

    def __enter__(self) -> None:
        self._prev.append((state.enabled, state.check_nan))
        state.enabled, state.check_nan = True, self.check_nan

    def __exit__(self, *exc: Any) -> None:
        state.enabled, state.check_nan = self._prev.pop()


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """torch.set_anomaly_enabled: turn anomaly detection on or off from here on (what
    ``set_detect_anomaly`` does for the length of a block)."""
    state.enabled, state.check_nan = bool(enabled), check_nan


class set_detect_anomaly(contextlib.ContextDecorator):  # noqa: N801
    """``set_detect_anomaly(True)`` switches anomaly mode on now; in a ``with`` block, the
    previous mode comes back at the end."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._prev = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = bool(mode), check_nan
        self._mode = (bool(mode), check_nan)

    def __enter__(self) -> None:
        state.enabled, state.check_nan = self._mode

    def __exit__(self, *exc: Any) -> None:
        state.enabled, state.check_nan = self._prev
