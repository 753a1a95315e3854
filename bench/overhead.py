"""Per-op overhead: forward+backward of a 3-op graph on 2x2 tensors, ndgrad vs torch.

Run: python bench/overhead.py. Both run in this process, interleaved; prints the median time per
iteration of each and the ratio ndgrad/torch (target: <= 1.0).
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def bench(step, iters: int = 2000) -> float:
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t0) / iters


def main(rounds: int = 7) -> None:
    import torch

    import ndgrad

    torch.set_num_threads(1)
    init = np.random.default_rng(0).standard_normal((3, 2, 2)).astype(np.float32)
    na, nb, nc = (ndgrad.tensor(v, requires_grad=True) for v in init)
    ta, tb, tc = (torch.tensor(v, requires_grad=True) for v in init)

    def nd_step():
        (na * nb + nc).relu().sum().backward()

    def torch_step():
        (ta * tb + tc).relu().sum().backward()

    nd_times, torch_times = [], []
    for _ in range(rounds):
        nd_times.append(bench(nd_step))
        torch_times.append(bench(torch_step))
    nd_t, t_t = statistics.median(nd_times), statistics.median(torch_times)
    print("graph: relu(a*b + c).sum().backward() on 2x2 float32 (3 ops + sum)")
    print(f"ndgrad: {nd_t * 1e6:8.2f} us/iter")
    print(f"torch:  {t_t * 1e6:8.2f} us/iter")
    print(f"ratio ndgrad/torch: {nd_t / t_t:.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
