"""ndgrad.cpu: torch.cpu, the device module of the one device ndgrad has. It is always there,
there is one of it, and its streams and synchronization have nothing to wait for (every op has
finished when it returns)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from ndgrad import amp as _amp

__all__ = ["Stream", "amp", "current_device", "current_stream", "device_count",
           "is_available", "is_initialized", "set_device", "stream", "synchronize"]


def is_available() -> bool:
    return True


def is_initialized() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def set_device(device: Any) -> None:
    """Accepted (there is one CPU device)."""


def synchronize(device: Any = None) -> None:
    """Nothing to wait for: ndgrad's ops finish before they return."""


class Stream:
    """torch.cpu.Stream: a placeholder, since CPU work runs in order as it is issued."""

    def __init__(self, priority: int = -1) -> None:
        self.priority = priority

    def wait_stream(self, stream: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def query(self) -> bool:
        return True


_default_stream = Stream()


def current_stream(device: Any = None) -> Stream:
    return _default_stream


@contextlib.contextmanager
def stream(stream: Any) -> Iterator[None]:
    yield


class amp:  # noqa: N801 - torch.cpu.amp, a namespace
    """torch.cpu.amp.autocast(...), the old spelling of amp.autocast("cpu", ...)."""

    @staticmethod
    def autocast(enabled: bool = True, dtype: Any = None, cache_enabled: bool = True) -> Any:
        warnings.warn("ndgrad.cpu.amp.autocast(args...) is deprecated (as torch's). Please use "
                      "ndgrad.amp.autocast('cpu', args...) instead.", FutureWarning,
                      stacklevel=2)
        return _amp.autocast("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
