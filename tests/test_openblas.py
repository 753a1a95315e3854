"""ndgrad._openblas: NumPy's OpenBLAS threads sleep 0.4 ms after their work instead of spinning for
0.1 s and taking the cores from everything else."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# a matmul, then 20 ms idle: prints ndgrad._openblas.IDLE_WHEN_DONE and the CPU milliseconds
# the process used meanwhile (about 20 for each thread that spins)
CHILD = """
import time, numpy as np, ndgrad, ndgrad._openblas as o
a = np.ones((768, 128), np.float32); w = np.ones((128, 512), np.float32)
burnt = []
for _ in range(5):
    a @ w
    c0 = time.process_time(); time.sleep(0.02); burnt.append(time.process_time() - c0)
print(o.IDLE_WHEN_DONE, 1e3 * sorted(burnt)[2])
"""


def run_child(**env: str) -> tuple[bool, float]:
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", CHILD], env={**clean, **env}, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0] == "True", float(out[1])


def openblas_threads() -> int:
    from threadpoolctl import threadpool_info
    return max([p["num_threads"] for p in threadpool_info() if p["internal_api"] == "openblas"],
               default=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_threads_sleep_after_a_matmul_unless_the_user_says_otherwise() -> None:
    pytest.importorskip("threadpoolctl")
    if openblas_threads() < 2:
        pytest.skip("NumPy's BLAS is not a multi-threaded OpenBLAS here")
    idle, slept = run_child()
    assert idle and slept < 5, slept
    idle, spun = run_child(OPENBLAS_THREAD_TIMEOUT="28")  # OpenBLAS's default: it spins
    # ~20 ms on a free core; less when other tests (pytest -n 2) hold the cores
    assert not idle and spun > max(4.0, 3 * slept), (spun, slept)
