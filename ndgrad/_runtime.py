"""Process-wide settings at the top of ndgrad, as torch has them: BLAS threads, deterministic
algorithms, float32 matmul precision, the default device, and ``compile``.

Threads are NumPy's: its BLAS (OpenBLAS or MKL) and OpenMP pools, which do the matmuls and
convolutions. They are read and set through threadpoolctl (``pip install ndgrad[threads]``);
without it, the number is only estimated and setting it warns that nothing changed."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from ndgrad._device import _CPU, check_device, device
from ndgrad._dtype import LEGACY_NAMES, set_default_dtype

_NO_THREADPOOLCTL = ("ndgrad sets NumPy's BLAS threads through threadpoolctl, which is not "
                     "installed: `pip install ndgrad[threads]` (or threadpoolctl), or set "
                     "OMP_NUM_THREADS before starting Python")


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS uses for a matmul (the largest, if there are several
    BLAS libraries). Without threadpoolctl: OMP_NUM_THREADS or OPENBLAS_NUM_THREADS if set,
    else the number of CPUs, which is what OpenBLAS starts with."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            if os.environ.get(var, "").isdigit():
                return max(int(os.environ[var]), 1)
        return os.cpu_count() or 1
    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return max(counts) if counts else 1


def set_num_threads(num: int) -> None:
    """Use ``num`` threads in NumPy's BLAS and OpenMP pools from now on (torch's intra-op
    threads)."""
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {num!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        warnings.warn(f"set_num_threads({num}) has no effect: {_NO_THREADPOOLCTL}", stacklevel=2)
        return
    threadpool_limits(limits=num)


def get_num_interop_threads() -> int:
    """1: ndgrad runs one op at a time (torch's inter-op pool runs independent ops at once)."""
    return 1


def set_num_interop_threads(num: int) -> None:
    """Accepted for torch's sake; ndgrad has no inter-op pool, so it stays at 1."""
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise RuntimeError(f"Expected positive number of threads, got {num!r}")


_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic algorithms. ndgrad's ops are all deterministic on the CPU (the
    same inputs and thread count give the same bits), so nothing needs to switch; the setting
    is kept for ``are_deterministic_algorithms_enabled``."""
    _deterministic["mode"], _deterministic["warn_only"] = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic["warn_only"]


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode: str | int) -> None:
    """``use_deterministic_algorithms`` by level: "default" (0) off, "warn" (1) on with
    warn_only, "error" (2) on."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """0, 1 or 2: see ``set_deterministic_debug_mode``."""
    if not _deterministic["mode"]:
        return 0
    return 1 if _deterministic["warn_only"] else 2


_warn_always = [False]


def set_warn_always(b: bool) -> None:
    """Kept for torch's sake (torch then repeats its warn-once warnings); ndgrad's warnings
    follow Python's ``warnings`` filters, which decide how often one shows."""
    _warn_always[0] = bool(b)


def is_warn_always_enabled() -> bool:
    return _warn_always[0]


_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = ["highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """torch lets "high"/"medium" run float32 matmuls with TF32 or bfloat16 inputs on hardware
    that has them; NumPy's BLAS has no such mode, so ndgrad always computes at "highest". The
    value is checked and kept (torch warns about an unknown one and ignores it)."""
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.", stacklevel=2)
        return
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision[0]


def set_default_device(device: Any) -> None:
    """Only the CPU (or None, which means it) can be the default device here."""
    check_device(device)


def get_default_device() -> device:
    return _CPU


def set_default_tensor_type(t: Any) -> None:
    """The legacy way to set the default float dtype: ``set_default_tensor_type(
    ndgrad.DoubleTensor)`` or ``'torch.DoubleTensor'``; CUDA types raise."""
    if isinstance(t, str):
        prefix, _, name = t.rpartition(".")
        if prefix.endswith("cuda"):
            check_device("cuda")
        found = [d for d, n in LEGACY_NAMES.items() if n == name]
        if prefix not in ("torch", "ndgrad") or not found:
            raise TypeError(f"invalid type: '{t}'")
        set_default_dtype(found[0])
        return
    if getattr(t, "is_cuda", False):
        check_device("cuda")
    set_default_dtype(getattr(t, "dtype", t))


def compile(model: Callable[..., Any] | None = None, *, fullgraph: bool = False,
            dynamic: bool | None = None, backend: Any = "inductor", mode: str | None = None,
            options: dict[str, Any] | None = None, disable: bool = False,
            **kwargs: Any) -> Any:
    """ndgrad has no compiler: the module or function runs as ordinary Python (same results, no
    speed-up). A function comes back as it is; a module comes back in torch's wrapper,
    ``OptimizedModule``, whose ``_orig_mod`` is the module and whose state_dict keys start with
    ``_orig_mod.``, as torch's (``disable=True``: the module itself, as torch). Works as
    ``@compile`` and ``@compile(...)``."""
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                  mode=mode, options=options, disable=disable, **kwargs)
    from ndgrad.nn.module import Module
    if isinstance(model, Module) and not disable:
        from ndgrad._dynamo.eval_frame import OptimizedModule
        return OptimizedModule(model)
    return model
