"""Which path the fused primitives take: compiled kernels (numba) or NumPy.

NumPy runs one pass over memory per call, so an op such as GELU (about thirty calls for a
float32 erf) costs many passes where one loop would do. With the optional extra
``pip install ndgrad[fast]`` (numba), the fused primitives (GELU, layer_norm, rms_norm,
batch_norm, attention's softmax, Adam's update) run one compiled loop instead; each
primitive's NumPy code stays the reference, and the path taken without numba.

The kernels module (``ndgrad.ops._kernels``) is imported on the first fused call, not with
ndgrad: importing numba takes a fraction of a second, and each kernel is compiled on its first
call for each dtype (numba keeps the machine code in its on-disk cache, so later runs skip
that). ``NDGRAD_NUMBA=0`` in the environment, or ``set_enabled(False)``, turns the compiled
path off.

On a CPU with AVX-512, LLVM's tuning for most such CPUs keeps loops to 256-bit vectors; ndgrad
asks numba for 512-bit ones (LLVM's ``-prefer-256-bit``), unless ``NUMBA_CPU_FEATURES`` is set
or numba has already compiled something in this process. GELU's kernels took 0.25 and 0.34 ms
for a (768, 512) float32 batch instead of 0.38 and 0.52 ms on such a machine (an Intel Xeon
with AVX-512), where OpenBLAS's matmuls run 512-bit code already.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

_state: dict[str, Any] = {
    "enabled": os.environ.get("NDGRAD_NUMBA", "1").strip().lower() not in ("0", "false", "off"),
    "kernels": None,  # the module once imported; False when numba is not installed
}


def available() -> bool:
    """Whether numba is installed (the ``ndgrad[fast]`` extra)."""
    return importlib.util.find_spec("numba") is not None


def kernels() -> Any:
    """The compiled kernels module, or None when numba is missing or the path is off."""
    if not _state["enabled"]:
        return None
    k = _state["kernels"]
    if k is None:
        k = False
        if available():
            try:
                _prefer_512_bit_vectors()
                k = importlib.import_module("ndgrad.ops._kernels")
            except ImportError as e:  # e.g. a numba too old for the installed NumPy
                warnings.warn(f"numba is installed but could not be imported ({e}); ndgrad's "
                              f"fused ops run in NumPy", RuntimeWarning, stacklevel=2)
        _state["kernels"] = k
    return k or None


def _prefer_512_bit_vectors() -> None:
    """Let numba's loops use 512-bit vectors where the CPU has them (see above)."""
    if os.environ.get("NUMBA_CPU_FEATURES"):
        return
    from numba.core import config
    from numba.core.codegen import get_host_cpu_features

    if getattr(config, "CPU_FEATURES", None) is None:  # set in config at numba's import
        features = get_host_cpu_features()
        if "+avx512f" in features.split(","):
            config.CPU_FEATURES = features + ",-prefer-256-bit"  # type: ignore[attr-defined]


def set_enabled(flag: bool) -> bool:
    """Turn the compiled path on or off (it is on when numba is installed); returns the old
    setting."""
    old = bool(_state["enabled"])
    _state["enabled"] = bool(flag)
    return old


@contextmanager
def enabled(flag: bool) -> Iterator[None]:
    """``with enabled(False):`` runs the NumPy reference path (tests compare both with torch)."""
    old = set_enabled(flag)
    try:
        yield
    finally:
        set_enabled(old)


_FLOATS = "fd"  # float32 and float64 by type code (dtype.name is a slow Python property)


def kernels_for(*arrays: Any) -> Any:
    """``kernels()`` when the arrays suit the kernels (NumPy arrays, C-contiguous, all float32
    or all float64), else None: the caller takes its NumPy path."""
    k = kernels()
    if k is None:
        return None
    dtype = arrays[0].dtype
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.c_contiguous:
            return None
    return k if dtype.char in _FLOATS else None
