"""conv2d + max_pool2d, forward and backward: ndgrad vs torch, in one process.

Run: python bench/conv.py [--threads N]. The two layers of the MNIST CNN (3x3 convs, padding 1,
2x2 pooling): (64, 1, 28, 28) -> 8 channels, whose input is the data batch (no input
gradient), and (64, 8, 14, 14) -> 16 channels, whose input needs its gradient. Rounds alternate
between the libraries; prints the median wall time per step of each, the ratio ndgrad/torch,
and the same for CPU time (all threads of the process), which a busy machine disturbs less.

--threads (default 2) sets torch's threads and, through OPENBLAS_NUM_THREADS (read when NumPy
loads, hence the late imports), NumPy's BLAS threads. On an oversubscribed machine 2-thread
BLAS calls can take 10-40x longer than 1-thread ones, for both libraries; --threads 1 then
compares the work each library does. After each library's round the process idles (untimed)
for PAUSE seconds: the thread pools of torch and of OpenBLAS spin for a while after their work
and slowed whoever ran next (see bench/mnist.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

PAUSE = 0.15


def _time(step, iters: int) -> tuple[float, float]:
    """(wall, CPU) seconds per call."""
    step()  # warm up caches and allocators
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t0) / iters, (time.process_time() - c0) / iters


def _make_step(lib, x_arr, w_arr, b_arr, x_grad: bool):
    import numpy as np

    F = lib.nn.functional
    x = lib.tensor(x_arr, requires_grad=x_grad)
    w = lib.tensor(w_arr, requires_grad=True)
    b = lib.tensor(b_arr, requires_grad=True)
    g = lib.tensor(np.ones((x_arr.shape[0], w_arr.shape[0], x_arr.shape[2] // 2,
                            x_arr.shape[3] // 2), dtype=np.float32))

    def step():
        w.grad = b.grad = x.grad = None
        out = F.max_pool2d(F.conv2d(x, w, b, padding=1), 2)
        out.backward(g)

    return step


def main(rounds: int = 7, iters: int = 20, threads: int = 2) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
    import numpy as np
    import torch

    import ndgrad
    import ndgrad.nn.functional  # noqa: F401

    torch.set_num_threads(threads)
    print(f"torch threads: {threads}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    rng = np.random.default_rng(0)
    layers = [("conv 1->8   (64,1,28,28), input without grad", (64, 1, 28, 28), 8, False),
              ("conv 8->16  (64,8,14,14), input with grad   ", (64, 8, 14, 14), 16, True)]
    for name, shape, cout, x_grad in layers:
        x = rng.standard_normal(shape).astype(np.float32)
        x[:, :, :4] = 0.0  # blank rows, as in MNIST: tied pooling windows
        w = (rng.standard_normal((cout, shape[1], 3, 3)) * 0.3).astype(np.float32)
        b = np.zeros(cout, dtype=np.float32)
        steps = {lib.__name__: _make_step(lib, x, w, b, x_grad) for lib in (ndgrad, torch)}
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in steps}
        for _ in range(rounds):
            for k, step in steps.items():
                times[k].append(_time(step, iters))
                time.sleep(PAUSE)
        med = {k: [statistics.median(t[i] for t in v) * 1e3 for i in (0, 1)]
               for k, v in times.items()}
        (nw, nc), (tw, tc) = med["ndgrad"], med["torch"]
        print(f"{name}: wall ndgrad {nw:7.3f} ms  torch {tw:7.3f} ms  ratio {nw / tw:.2f} | "
              f"cpu ndgrad {nc:7.3f} ms  torch {tc:7.3f} ms  ratio {nc / tc:.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    main(args.rounds, threads=args.threads)
