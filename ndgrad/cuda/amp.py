"""ndgrad.cuda.amp: torch.cuda.amp's (deprecated) spellings of ``ndgrad.amp``'s ``autocast``
and ``GradScaler`` for CUDA; here autocast warns and does nothing, GradScaler disables itself."""

from __future__ import annotations

from typing import Any

from ndgrad import amp


class autocast(amp.autocast):  # noqa: N801 - torch's name
    """``torch.cuda.amp.autocast(...)`` = ``autocast("cuda", ...)``: warns, then does nothing."""

    def __init__(self, enabled: bool = True, dtype: Any = None,
                 cache_enabled: bool = True) -> None:
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(amp.GradScaler):
    """``torch.cuda.amp.GradScaler(...)`` = ``GradScaler("cuda", ...)``: without CUDA it warns
    and disables itself (if enabled), as torch's does."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)
