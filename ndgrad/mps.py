"""ndgrad.mps: what torch.mps answers without an Apple GPU (see ndgrad/_noaccel.py): no device,
no memory in use, seeding and cache calls that do nothing."""

from __future__ import annotations

from ndgrad._noaccel import (
    device_count,
    empty_cache,
    is_available,
    manual_seed,
    memory_allocated,
    seed,
    synchronize,
)

current_allocated_memory = driver_allocated_memory = recommended_max_memory = memory_allocated

__all__ = ["current_allocated_memory", "device_count", "driver_allocated_memory", "empty_cache",
           "is_available", "manual_seed", "recommended_max_memory", "seed", "synchronize"]
