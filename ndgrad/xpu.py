"""ndgrad.xpu: what torch.xpu answers without an Intel GPU (see ndgrad/_noaccel.py), for code
that checks ``torch.xpu.is_available()`` beside CUDA and MPS."""

from __future__ import annotations

from typing import Any

from ndgrad._noaccel import (
    device_count,
    empty_cache,
    is_available,
    is_initialized,
    manual_seed,
    manual_seed_all,
    max_memory_allocated,
    memory_allocated,
    memory_reserved,
    no_device,
    seed,
    seed_all,
    synchronize,
)

__all__ = ["current_device", "device_count", "empty_cache", "is_available", "is_initialized",
           "manual_seed", "manual_seed_all", "max_memory_allocated", "memory_allocated",
           "memory_reserved", "seed", "seed_all", "set_device", "synchronize"]


def current_device() -> int:
    raise no_device("xpu")


def set_device(device: Any) -> None:
    raise no_device("xpu")
