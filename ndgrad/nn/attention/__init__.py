"""torch.nn.attention: choosing scaled_dot_product_attention's kernel. ndgrad has one
implementation on the CPU (the math one, fused with numba where available), so ``sdpa_kernel``
checks its arguments and changes nothing; code written for GPUs runs unchanged."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.IntEnum):
    """The kernels torch can pick for scaled_dot_product_attention (same values)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


@contextlib.contextmanager
def sdpa_kernel(backends: SDPBackend | list[SDPBackend], set_priority: bool = False
                ) -> Iterator[None]:
    """``with sdpa_kernel(SDPBackend.MATH): ...``: accepted, and a no-op here (see above)."""
    if not isinstance(backends, list | SDPBackend):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of "
                             "SDPBackend instances")
    yield
