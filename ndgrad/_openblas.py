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
