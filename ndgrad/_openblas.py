"""NumPy's OpenBLAS threads go to sleep soon after their work, instead of spinning for 0.1 s.

After each call, OpenBLAS's worker threads busy-wait for the next one for 2^28 CPU cycles
(about 0.1 s) before they sleep: in the 5 ms after a (768, 128) @ (128, 512) matmul, the
process burnt 6.6 ms of CPU doing nothing. That time is taken from whatever else wants the
cores: DataLoader worker processes, another MPI rank, the user's own threads. torch does not
see this: its BLAS and its other kernels share one OpenMP pool.

At import, ndgrad shortens OpenBLAS's spin to 2^20 cycles (OPENBLAS_THREAD_TIMEOUT=20, about
0.4 ms at 2.6 GHz) and restarts its thread pool, which reads the setting when it starts: the
matmuls of one training step follow each other within that time and find the threads awake,
and between steps and phases the threads sleep. In the 5 ms after a matmul the process now burns
1.4 ms of CPU; a GPT training step of bench/gpt.py takes as long as before with 72 instead of
88-100 ms of CPU time. Shorter is worse: at the minimum, 2^4 cycles, every small matmul had to
wake the threads, and the NumPy MLP of bench/mnist.py took 0.86 s an epoch instead of 0.45 s.
A user's own OPENBLAS_THREAD_TIMEOUT is left as it is; nothing happens where NumPy uses another
BLAS (MKL, Accelerate) or an OpenBLAS without these entry points.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

SHORT_SPIN = "20"


def _find() -> Any:
    """NumPy's OpenBLAS as a ctypes library, or None (not Linux, another BLAS)."""
    import numpy  # noqa: F401  (loads its BLAS)
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        if ".so" not in os.path.basename(path):
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if hasattr(lib, "openblas_read_env") and hasattr(lib, "blas_thread_shutdown_"):
            return lib
    return None


def idle_when_done() -> bool:
    """Make OpenBLAS's threads sleep soon after their work (see above); True if done."""
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return False
    lib = _find()
    if lib is None:
        return False
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = SHORT_SPIN
    try:
        lib.openblas_read_env()  # OpenBLAS reads its variables once, when it loads
        lib.blas_thread_shutdown_()  # the pool starts again at the next call, with the new spin
    finally:
        del os.environ["OPENBLAS_THREAD_TIMEOUT"]  # not handed on to child processes
    return True


IDLE_WHEN_DONE = idle_when_done()


class Hooks:
    """What ndgrad.ops._pool needs of NumPy's OpenBLAS to run its threaded calls on numba's
    threads: the addresses of its threads-callback pointer and of ``exec_blas`` (its own
    pool's runner), its thread count, and the largest thread number it has room for."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.hook = ctypes.c_void_p.in_dll(lib, "openblas_threads_callback_")
        self.exec_blas = ctypes.cast(lib.exec_blas, ctypes.c_void_p).value or 0
        self._threads = ctypes.c_int.in_dll(lib, "blas_cpu_number")
        config = _config(lib)
        self.room = next((int(w.split("=", 1)[1]) for w in config.split()
                          if w.startswith("MAX_THREADS=")), 0)
        # cblas_sgemm and cblas_dgemm with 64-bit integers (NumPy's usual build), by NumPy's
        # dtype char (float32 "f", float64 "d")
        self.gemm: dict[str, int] = {}
        if "USE64BITINT" in config.split():
            for dtype_char, blas_char in (("f", "s"), ("d", "d")):
                for name in (f"scipy_cblas_{blas_char}gemm64_", f"cblas_{blas_char}gemm64_"):
                    fn = getattr(lib, name, None)
                    if fn is not None:
                        self.gemm[dtype_char] = ctypes.cast(fn, ctypes.c_void_p).value or 0
                        break

    def threads(self) -> int:
        """OpenBLAS's thread count now (what threadpoolctl and set_num_threads change)."""
        return max(1, self._threads.value)

    def attach(self, callback: int) -> None:
        """Run OpenBLAS's threaded calls through ``callback`` from now on (0: its own pool).
        Its own workers are stopped first; they start again if a call needs them."""
        if callback:
            self.lib.blas_thread_shutdown_()
        self.hook.value = callback or None


def _config(lib: Any) -> str:
    """OpenBLAS's build config string ("OpenBLAS 0.3.31 USE64BITINT ... MAX_THREADS=64"; MAX_THREADS
    is the size of its per-thread tables), or "" where it has none."""
    for name in ("openblas_get_config", "scipy_openblas_get_config64_", "openblas_get_config64_"):
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            return (fn() or b"").decode(errors="replace")
    return ""


def hooks() -> Hooks | None:
    """NumPy's OpenBLAS's Hooks, or None where it lacks the threads callback (OpenBLAS older
    than 0.3.27, another BLAS, not Linux)."""
    lib = _find()
    if lib is None:
        return None
    try:
        return Hooks(lib)
    except (ValueError, AttributeError):  # a symbol missing
        return None
