"""ndgrad.amp: torch.amp's mixed-precision API, for a library that computes in the dtypes it is
given. ``autocast`` is a context (and decorator) that changes no dtype: on the CPU, PyTorch's
would run matmuls and convolutions in bfloat16, which NumPy cannot do fast, so ndgrad keeps the
inputs' dtypes (results are as or more precise); for CUDA it warns, as torch without CUDA does.
It does set the autocast state that ``is_autocast_enabled``/``get_autocast_dtype`` report
(``ndgrad/_autocast_state.py``), as torch's does.
``GradScaler`` is real: it scales the loss, unscales the gradients, skips steps whose gradients
overflowed and adapts the scale, as torch's does (useful with float16 parameters)."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

from ndgrad import _autocast_state as _state
from ndgrad import _dtype
from ndgrad._autocast_state import is_autocast_enabled
from ndgrad._device import _DEVICE_TYPES
from ndgrad.tensor.base import TensorBase

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd", "is_autocast_available",
           "is_autocast_enabled"]


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast can be entered for ``device_type`` (only the CPU exists here)."""
    return device_type == "cpu"


class autocast:  # noqa: N801 - torch's name
    """``with autocast(device_type, dtype=None, enabled=True):`` runs its body unchanged.

    PyTorch would run some ops in a lower precision inside it; ndgrad keeps every op in its
    inputs' dtype, so code written for autocast runs and gives float32 results. For a device
    other than the CPU it warns that autocast is disabled (there is no such device)."""

    def __init__(self, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start "
                               f"of device string: {device_type}")
        self.device = device_type
        self.fast_dtype = _state.get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = (_state.is_autocast_cache_enabled() if cache_enabled is None
                               else bool(cache_enabled))
        self._enabled = bool(enabled)
        if enabled and device_type != "cpu":
            warnings.warn(f"User provided device_type of '{device_type}', but {device_type} is "
                          f"not available (ndgrad runs on the CPU only). Disabling autocast.",
                          stacklevel=2)
            self._enabled = False
        elif enabled and self.fast_dtype not in (_dtype.bfloat16, _dtype.float16):
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtypes of ndgrad.bfloat16, "
                          "ndgrad.float16 currently.", stacklevel=2)
            self._enabled = False

    def __enter__(self) -> autocast:
        """Set the thread's autocast state (ndgrad/_autocast_state.py), kept to restore."""
        self._prev = (_state.is_autocast_enabled(self.device),
                      _state.get_autocast_dtype(self.device), _state.is_autocast_cache_enabled())
        _state.set_autocast_enabled(self.device, self._enabled)
        _state.set_autocast_dtype(self.device, self.fast_dtype)
        _state.autocast_increment_nesting()
        _state.set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, *exc: object) -> None:
        if _state.autocast_decrement_nesting() == 0:
            _state.clear_autocast_cache()
        enabled, dtype, cache = self._prev
        _state.set_autocast_enabled(self.device, enabled)
        _state.set_autocast_dtype(self.device, dtype)
        _state.set_autocast_cache_enabled(cache)
        return None

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """As a decorator: ``func`` runs inside this context."""

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return wrapper


def custom_fwd(fwd: Callable[..., Any] | None = None, *, device_type: str = "cpu",
               cast_inputs: Any = None) -> Any:
    """torch.amp.custom_fwd for a custom Function's forward: unchanged (autocast changes
    nothing here, so there is nothing to switch off or cast)."""
    if fwd is None:
        return lambda f: f
    return fwd


def custom_bwd(bwd: Callable[..., Any] | None = None, *, device_type: str = "cpu") -> Any:
    """torch.amp.custom_bwd for a custom Function's backward: unchanged."""
    if bwd is None:
        return lambda f: f
    return bwd


class GradScaler:
    """Loss scaling for low-precision gradients, as ``torch.amp.GradScaler``.

    ``scaler.scale(loss).backward()`` multiplies the loss (so the gradients) by ``scale``;
    ``scaler.step(opt)`` divides the gradients back (``unscale_``) and steps only if they are
    all finite; ``scaler.update()`` halves the scale after an overflow and doubles it after
    ``growth_interval`` clean steps. For a device other than the CPU it warns and disables
    itself, as torch does without CUDA: then ``scale`` returns the loss and ``step`` steps."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        if enabled and device != "cpu":
            warnings.warn(f"torch.amp.GradScaler is enabled, but {device} is not available "
                          f"(ndgrad runs on the CPU only). Disabling.", stacklevel=2)
            enabled = False
        if enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._device, self._enabled = device, enabled
        self._scale = float(init_scale)
        self._growth_factor, self._backoff_factor = float(growth_factor), float(backoff_factor)
        self._growth_interval, self._growth_tracker = int(growth_interval), 0
        self._found_inf: dict[int, bool] = {}  # id(optimizer) -> overflow, since unscale_
        self._stepped: set[int] = set()

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a tensor, or lists/tuples of them) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, TensorBase):
            return outputs.mul(self._scale)
        if isinstance(outputs, list | tuple):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer: Any) -> None:
        """Divide ``optimizer``'s gradients by the scale in place (e.g. before clipping them)."""
        if not self._enabled:
            return
        key = id(optimizer)
        if key in self._stepped:
            raise RuntimeError("unscale_() is being called after step().")
        if key in self._found_inf:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        inv = 1.0 / self._scale
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._data
                g *= g.dtype.type(inv)
                found = found or not bool(((g - g) == 0).all())  # inf - inf and nan - x are nan
        self._found_inf[key] = found

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscale (unless done) and step, or skip the step if a gradient is inf or nan."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        key = id(optimizer)
        if key in self._stepped:
            raise RuntimeError("step() has already been called since the last update().")
        if key not in self._found_inf:
            self.unscale_(optimizer)
        self._stepped.add(key)
        if self._found_inf[key]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | None = None) -> None:
        """Back off after an overflow, grow after ``growth_interval`` clean steps; or set
        ``new_scale``."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        elif self._found_inf:
            if any(self._found_inf.values()):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = self._scale * self._growth_factor
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
        else:
            raise AssertionError("No inf checks were recorded prior to update.")
        self._found_inf.clear()
        self._stepped.clear()

    def state_dict(self) -> dict[str, Any]:
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
