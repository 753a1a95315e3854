"""CTC loss speed: ndgrad vs PyTorch, forward and backward of F.ctc_loss, in one process.

Run: python bench/ctc.py [--rounds 7] [--steps 20] [--threads 2] [--T 50] [--N 16] [--C 20]
     [--S 10]

Both libraries get the same log-probabilities (T, N, C), padded targets (N, S) and lengths (some
shorter than the maximum). Rounds alternate which library goes first, with an untimed pause
between runs (thread pools spin after their work; see bench/mnist.py). Printed: each library's
median time per step and the median of the per-round ratios ndgrad/torch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

PAUSE = 0.15


def make_run(lib: Any, args: argparse.Namespace) -> Any:
    """A function running ``args.steps`` forward+backward passes of ctc_loss with ``lib``."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.T, args.N, args.C)).astype(np.float32)
    targets = rng.integers(1, args.C, (args.N, args.S))
    in_len = rng.integers(args.T // 2, args.T + 1, args.N)
    tgt_len = rng.integers(1, args.S + 1, args.N)
    logits = lib.tensor(x, requires_grad=True)
    tg, il, tl = lib.tensor(targets), lib.tensor(in_len), lib.tensor(tgt_len)

    def run() -> float:
        for _ in range(args.steps):
            loss = lib.nn.functional.ctc_loss(logits.log_softmax(2), tg, il, tl)
            logits.grad = None
            loss.backward()
        return float(loss.item())

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("rounds", 7), ("steps", 20), ("threads", 2), ("T", 50), ("N", 16),
                          ("C", 20), ("S", 10)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import torch

    import ndgrad

    torch.set_num_threads(args.threads)
    runs = {"ndgrad": make_run(ndgrad, args), "torch": make_run(torch, args)}
    losses = {k: r() for k, r in runs.items()}  # warm up, and the two must agree
    print(f"ctc_loss forward+backward, T={args.T} N={args.N} C={args.C} S={args.S}, float32; "
          f"losses {losses['ndgrad']:.5f} (ndgrad) {losses['torch']:.5f} (torch)")
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(args.rounds):
        for k in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            time.sleep(PAUSE)
            t0 = time.perf_counter()
            runs[k]()
            times[k].append((time.perf_counter() - t0) / args.steps * 1e3)
    for k, v in times.items():
        print(f"  {k:7s} median {statistics.median(v):7.3f} ms/step")
    ratios = [a / b for a, b in zip(times["ndgrad"], times["torch"], strict=True)]
    print(f"  ndgrad/torch: median of per-round ratios {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
