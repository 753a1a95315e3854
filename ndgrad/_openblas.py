"""NumPy's OpenBLAS threads go to sleep when their work is done, instead of spinning.

After each call, OpenBLAS's worker threads busy-wait for the next one for 2^28 CPU cycles
(about 0.1 s) before they sleep: in the 5 ms after a (768, 128) @ (128, 512) matmul, the
process burnt 6.6 ms of CPU doing nothing. That time is taken from whatever else wants the
cores: DataLoader worker processes, another MPI rank, the user's own threads. torch does not
see this: its BLAS and its other kernels share one OpenMP pool.

At import, ndgrad sets OpenBLAS's spin to its minimum (OPENBLAS_THREAD_TIMEOUT=4, 2^4 cycles)
and restarts its thread pool, which reads the setting when it starts. A matmul then wakes the
sleeping threads in microseconds: the matmul above took 0.555 ms after, 0.581 ms before, and
a GPT training step of bench/gpt.py took as long as before (1.14-1.16x torch's, against
1.15-1.17x) with 69 instead of 100 ms of CPU time. A user's own OPENBLAS_THREAD_TIMEOUT is left
as it is; nothing happens where NumPy uses another BLAS (MKL, Accelerate) or an OpenBLAS
without these entry points.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

SHORT_SPIN = "4"


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
    """Make OpenBLAS's threads sleep right after their work (see above); True if done."""
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
