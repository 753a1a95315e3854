"""batch_norm in training mode, forward and forward+backward: ndgrad vs torch, in one process.

Run: python bench/batch_norm.py. One thread for both libraries (torch.set_num_threads(1) and
threadpoolctl for NumPy's BLAS), float32, weight and bias requiring grad, running stats
updated. Rounds alternate between the libraries; prints the median time of a forward and of a
forward+backward per shape, and the ratio ndgrad/torch.
"""

from __future__ import annotations

import statistics
import time

SHAPES = [(64, 16, 28, 28), (128, 64, 8, 8), (256, 512)]


def _time(step, iters: int) -> float:
    """Median seconds per call over ``iters`` calls."""
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _steps(lib, x_arr):
    import numpy as np

    F = lib.nn.functional
    c = x_arr.shape[1]
    x = lib.tensor(x_arr, requires_grad=True)
    w = lib.tensor(np.ones(c, np.float32), requires_grad=True)
    b = lib.tensor(np.zeros(c, np.float32), requires_grad=True)
    rm, rv = lib.zeros(c), lib.ones(c)
    g = lib.tensor(np.random.default_rng(1).standard_normal(x_arr.shape).astype(np.float32))

    def forward():
        F.batch_norm(x, rm, rv, w, b, training=True)

    def both():
        x.grad = w.grad = b.grad = None
        F.batch_norm(x, rm, rv, w, b, training=True).backward(g)

    return forward, both


def main(rounds: int = 15, iters: int = 20) -> None:
    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    import ndgrad

    torch.set_num_threads(1)
    with threadpool_limits(1):
        for shape in SHAPES:
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            steps = {"ndgrad": _steps(ndgrad, x), "torch": _steps(torch, x)}
            res: dict[str, list[list[float]]] = {k: [[], []] for k in steps}
            for _ in range(rounds):
                for name, (fwd, both) in steps.items():
                    res[name][0].append(_time(fwd, iters))
                    res[name][1].append(_time(both, iters))
            nd = [statistics.median(r) * 1e3 for r in res["ndgrad"]]
            th = [statistics.median(r) * 1e3 for r in res["torch"]]
            print(f"{str(shape):18} fwd {nd[0]:7.3f} ms (torch {th[0]:6.3f}, "
                  f"x{nd[0] / th[0]:.2f})   fwd+bwd {nd[1]:7.3f} ms (torch {th[1]:6.3f}, "
                  f"x{nd[1] / th[1]:.2f})")


if __name__ == "__main__":
    main()
