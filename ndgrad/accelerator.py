"""ndgrad.accelerator: torch.accelerator's device-neutral questions, answered for a CPU-only
library. PyTorch's own tutorials pick the device with ``torch.accelerator.current_accelerator()
.type if torch.accelerator.is_available() else "cpu"``: here that is always "cpu"."""

from __future__ import annotations

from typing import Any

from ndgrad._device import DeviceUnavailableError, device
from ndgrad._noaccel import device_count, is_available

__all__ = ["current_accelerator", "current_device_index", "device_count", "is_available",
           "set_device_index", "synchronize"]

_NONE = "Cannot access accelerator device when none is available."


def current_accelerator(check_available: bool = False) -> device | None:
    """The accelerator's device type, or None: there is none."""
    return None


def current_device_index() -> int:
    raise DeviceUnavailableError(_NONE)


def set_device_index(device: Any) -> None:
    raise DeviceUnavailableError(_NONE)


set_device_idx = set_device_index


def synchronize(device: Any = None) -> None:
    raise DeviceUnavailableError(_NONE)
