"""ndgrad.backends.cudnn: cuDNN's switches (cuDNN is NVIDIA's GPU library; not used here)."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager

from ndgrad.backends._flags import set_flags

enabled = True  # torch's defaults, read back as set
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = 10


def is_available() -> bool:
    """False: no cuDNN (ndgrad computes with NumPy on the CPU)."""
    return False


def version() -> int | None:
    return None


def is_acceptable(tensor: object) -> bool:
    return False


def flags(enabled: bool | None = False, benchmark: bool | None = False,
          benchmark_limit: int | None = 10, deterministic: bool | None = False,
          allow_tf32: bool | None = True) -> AbstractContextManager[None]:
    """``with cudnn.flags(...)``: these flags for the body, then back as they were."""
    return set_flags(sys.modules[__name__], enabled=enabled, benchmark=benchmark,
                     benchmark_limit=benchmark_limit, deterministic=deterministic,
                     allow_tf32=allow_tf32)
