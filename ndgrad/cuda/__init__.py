"""ndgrad.cuda: what torch.cuda answers on a machine without CUDA, so that the usual device
idiom (``device = "cuda" if torch.cuda.is_available() else "cpu"``) picks the CPU and the
housekeeping calls scripts make anyway (``manual_seed_all``, ``empty_cache``, ``synchronize``)
do nothing. Anything that needs a GPU raises ``ndgrad.DeviceUnavailableError``, an
AssertionError as PyTorch-without-CUDA raises (and a RuntimeError as PyTorch-without-a-GPU)."""

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
    max_memory_reserved,
    memory_allocated,
    memory_reserved,
    no_device,
    reset_accumulated_memory_stats,
    reset_max_memory_allocated,
    reset_peak_memory_stats,
    seed,
    seed_all,
    synchronize,
)
from ndgrad.cuda import amp
from ndgrad.tensor.legacy import cuda_types

__all__ = ["amp", "current_device", "device_count", "empty_cache", "get_device_capability",
           "get_device_name", "get_device_properties", "get_rng_state", "get_rng_state_all",
           "init", "initial_seed", "is_available", "is_bf16_supported", "is_initialized",
           "manual_seed", "manual_seed_all", "max_memory_allocated", "max_memory_reserved",
           "mem_get_info", "memory_allocated", "memory_reserved", "reset_accumulated_memory_stats",
           "reset_max_memory_allocated", "reset_peak_memory_stats", "seed", "seed_all",
           "set_device", "set_rng_state", "set_rng_state_all", "synchronize"]


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def init() -> None:
    raise no_device("cuda")


def current_device() -> int:
    raise no_device("cuda")


def set_device(device: Any) -> None:
    raise no_device("cuda")


def get_device_name(device: Any = None) -> str:
    raise no_device("cuda")


def get_device_properties(device: Any = None) -> Any:
    raise no_device("cuda")


def get_device_capability(device: Any = None) -> tuple[int, int]:
    raise no_device("cuda")


def mem_get_info(device: Any = None) -> tuple[int, int]:
    raise no_device("cuda")


def initial_seed() -> int:
    raise no_device("cuda")


def get_rng_state(device: Any = "cuda") -> Any:
    raise no_device("cuda")


def set_rng_state(new_state: Any, device: Any = "cuda") -> None:
    raise no_device("cuda")


def get_rng_state_all() -> list[Any]:
    """One state per CUDA device: an empty list (checkpoint code saves it unconditionally)."""
    return []


def set_rng_state_all(new_states: Any) -> None:
    """Restore one state per CUDA device: accepts the empty list get_rng_state_all gives."""
    if len(new_states):
        raise no_device("cuda")


# torch.cuda.FloatTensor and friends: names that exist (``isinstance`` says False) but cannot
# make a tensor
globals().update(cuda_types)
