"""What ``ndgrad.cuda``, ``ndgrad.mps`` and ``ndgrad.xpu`` have in common: the answers of a
library with no accelerator. Queries say "none" (``is_available()`` is False, no devices, no
memory in use); housekeeping calls that scripts make unconditionally (seeding every GPU,
emptying caches, synchronizing before a timer) do nothing, because there is nothing to do; calls
that need a device raise ``DeviceUnavailableError``, as PyTorch without CUDA does."""

from __future__ import annotations

from typing import Any

from ndgrad._device import DeviceUnavailableError


def is_available() -> bool:
    """False: ndgrad computes on the CPU only."""
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def no_device(kind: str) -> DeviceUnavailableError:
    """The error for a call that needs a ``kind`` device."""
    return DeviceUnavailableError(f"ndgrad runs on the CPU only: there is no {kind} device here "
                                  f"(check ndgrad.{kind}.is_available() first)")


def manual_seed(seed: int) -> None:
    """Nothing to seed: there is no device generator (``ndgrad.manual_seed`` seeds the CPU's)."""
    int(seed)


manual_seed_all = manual_seed


def seed() -> None:
    """Nothing to seed: there is no device generator."""


seed_all = seed


def synchronize(device: Any = None) -> None:
    """Nothing to wait for: every ndgrad op has finished when it returns."""


def empty_cache() -> None:
    """Nothing to free: no device memory is held."""


def memory_allocated(device: Any = None) -> int:
    """0 bytes: no device memory is used."""
    return 0


max_memory_allocated = memory_reserved = max_memory_reserved = memory_allocated


def reset_peak_memory_stats(device: Any = None) -> None:
    """Nothing to reset: there are no device memory statistics."""


reset_max_memory_allocated = reset_accumulated_memory_stats = reset_peak_memory_stats
