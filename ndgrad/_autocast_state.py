"""The autocast state torch keeps per thread, which ``ndgrad.amp.autocast`` sets on entry and
restores on exit: for each device type whether autocast is on and its lower-precision dtype,
whether casts are cached, and how deeply autocast contexts are nested.

ndgrad computes in its inputs' dtypes even inside autocast (see ``ndgrad/amp.py``), so the state
changes no op's result; it is real state all the same, so that code asking
``is_autocast_enabled("cpu")`` or ``get_autocast_dtype("cpu")`` (custom ops choosing a path,
tests of mixed-precision code) gets torch's answers. No casts are made, so there is never a
cast cache to clear.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from ndgrad import _dtype
from ndgrad._device import _DEVICE_TYPES

__all__ = ["autocast_decrement_nesting", "autocast_increment_nesting", "clear_autocast_cache",
           "get_autocast_cpu_dtype", "get_autocast_dtype", "get_autocast_gpu_dtype",
           "is_autocast_cache_enabled", "is_autocast_cpu_enabled", "is_autocast_enabled",
           "set_autocast_cache_enabled", "set_autocast_cpu_dtype", "set_autocast_cpu_enabled",
           "set_autocast_dtype", "set_autocast_enabled", "set_autocast_gpu_dtype"]

# torch's default lower-precision dtype of each device type that has one
_DEFAULT_DTYPE = {"cpu": "bfloat16", "hpu": "bfloat16", "xla": "bfloat16", "cuda": "float16",
                  "xpu": "float16", "mps": "float16", "ipu": "float16", "mtia": "float16",
                  "hip": "float16", "maia": "float16", "privateuseone": "float16"}


class _State(threading.local):
    """One thread's autocast state (a new thread starts with autocast off, as in torch)."""

    def __init__(self) -> None:
        self.enabled: dict[str, bool] = {}
        self.dtype: dict[str, Any] = {}
        self.cache_enabled = True
        self.nesting = 0


_state = _State()


def _device_type(device_type: Any) -> str:
    if not isinstance(device_type, str):
        raise TypeError(f"expected a device type string, got {type(device_type).__name__}")
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of "
                           f"device string: {device_type}")
    return device_type


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` (without it, CUDA's, as torch answers)."""
    dev = "cuda" if device_type is None else _device_type(device_type)
    return _state.enabled.get(dev, False)


def set_autocast_enabled(device_type: Any, enabled: bool | None = None) -> None:
    """Turn autocast on or off for ``device_type``; ``set_autocast_enabled(flag)`` (the old
    form) sets CUDA's."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _state.enabled[_device_type(device_type)] = bool(enabled)


def get_autocast_dtype(device_type: str) -> Any:
    """The dtype autocast would use on ``device_type`` (bfloat16 on the CPU unless set)."""
    dev = _device_type(device_type)
    if dev in _state.dtype:
        return _state.dtype[dev]
    if dev not in _DEFAULT_DTYPE:
        raise RuntimeError("unsupported scalarType")
    return getattr(_dtype, _DEFAULT_DTYPE[dev])


def set_autocast_dtype(device_type: str, dtype: Any) -> None:
    """Set the dtype autocast uses on ``device_type`` (not checked here, as in torch: entering
    a CPU autocast with a dtype other than bfloat16 or float16 warns and disables it)."""
    if not isinstance(dtype, _dtype.dtype):  # a NumPy dtype or type: ndgrad's own
        dtype = _dtype.from_np(_dtype.to_np(dtype))
    _state.dtype[_device_type(device_type)] = dtype


def is_autocast_cache_enabled() -> bool:
    """Whether autocast would cache the casts of leaf tensors (on unless set off)."""
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Drop autocast's cached casts: ndgrad makes none, so there is nothing to drop."""


def autocast_increment_nesting() -> int:
    """One more autocast context entered; returns the depth."""
    _state.nesting += 1
    return _state.nesting


def autocast_decrement_nesting() -> int:
    """One autocast context left; returns the depth (0: the outermost was left)."""
    _state.nesting -= 1
    return _state.nesting


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"ndgrad.{old} is deprecated. Please use ndgrad.{new} instead.",
                  DeprecationWarning, stacklevel=3)


def is_autocast_cpu_enabled() -> bool:
    """Deprecated: ``is_autocast_enabled("cpu")``."""
    _deprecated("is_autocast_cpu_enabled()", "is_autocast_enabled('cpu')")
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled: bool) -> None:
    """Deprecated: ``set_autocast_enabled("cpu", enabled)``."""
    _deprecated("set_autocast_cpu_enabled(enabled)", "set_autocast_enabled('cpu', enabled)")
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype() -> Any:
    """Deprecated: ``get_autocast_dtype("cpu")``."""
    _deprecated("get_autocast_cpu_dtype()", "get_autocast_dtype('cpu')")
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype: Any) -> None:
    """Deprecated: ``set_autocast_dtype("cpu", dtype)``."""
    _deprecated("set_autocast_cpu_dtype(dtype)", "set_autocast_dtype('cpu', dtype)")
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype() -> Any:
    """Deprecated: ``get_autocast_dtype("cuda")``."""
    _deprecated("get_autocast_gpu_dtype()", "get_autocast_dtype('cuda')")
    return get_autocast_dtype("cuda")


def set_autocast_gpu_dtype(dtype: Any) -> None:
    """Deprecated: ``set_autocast_dtype("cuda", dtype)``."""
    _deprecated("set_autocast_gpu_dtype(dtype)", "set_autocast_dtype('cuda', dtype)")
    set_autocast_dtype("cuda", dtype)
