"""ndgrad.backends.mkldnn: oneDNN's switches (Intel's CPU library; ndgrad uses NumPy's BLAS)."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager

from ndgrad.backends._flags import set_flags

enabled = True
deterministic = False


def is_available() -> bool:
    """False: oneDNN is not used (ndgrad computes with NumPy)."""
    return False


def flags(enabled: bool | None = False, deterministic: bool | None = False
          ) -> AbstractContextManager[None]:
    return set_flags(sys.modules[__name__], enabled=enabled, deterministic=deterministic)
