"""LSTM training speed: ndgrad vs PyTorch, one char-LSTM training step, in one process.

Run: python bench/rnn.py [--rounds 7] [--steps 10] [--threads 2] [--batch 32] [--seq 64]
     [--hidden 128] [--layers 2] [--parts train,forward]

The model is the one of examples/char_lstm.py: Embedding(65, 64) -> LSTM(64, hidden, layers,
batch_first) -> Linear(hidden, 65), cross-entropy on every position, Adam. Both libraries
start from the same weights (torch's, copied into ndgrad) and see the same batches. Rounds
alternate which library goes first; in a round each library runs ``--steps`` steps, then the
process idles for PAUSE seconds (untimed): torch's and OpenBLAS's thread pools spin for a while
after their work and slowed whoever ran next (see bench/mnist.py). Printed: each library's
median time per step over the rounds, the spread of the rounds, and the median of the
per-round ratios ndgrad/torch (a round's two runs are close in time, so the machine's slow
phases mostly cancel in the ratio). ``forward`` times the LSTM's forward alone, under no_grad.

--threads sets torch's threads and, through OPENBLAS_NUM_THREADS (read when NumPy loads, hence
the late imports), NumPy's BLAS threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

PAUSE = 0.15
VOCAB, EMBED = 65, 64


def make_model(lib: Any, hidden: int, layers: int) -> Any:
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, hidden, layers, batch_first=True)
            self.head = nn.Linear(hidden, VOCAB)

        def forward(self, x: Any) -> Any:
            out, _ = self.lstm(self.emb(x))
            return self.head(out)

    return CharLSTM()


def make_runs(libs: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """For each library, a function that runs ``args.steps`` training steps."""
    import numpy as np

    rng = np.random.default_rng(0)
    batches = [rng.integers(0, VOCAB, size=(args.batch, args.seq + 1)) for _ in range(args.steps)]
    torch = libs["torch"]
    torch.manual_seed(0)
    reference = make_model(torch, args.hidden, args.layers)
    state = {k: v.detach().numpy().copy() for k, v in reference.state_dict().items()}
    runs = {}
    for name, lib in libs.items():
        model = make_model(lib, args.hidden, args.layers)
        model.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
        opt = lib.optim.Adam(model.parameters(), lr=2e-3)
        data = [(lib.tensor(b[:, :-1]), lib.tensor(b[:, 1:].reshape(-1))) for b in batches]

        def train(lib=lib, model=model, opt=opt, data=data) -> float:
            for x, y in data:
                loss = lib.nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            return float(loss.item())

        def forward(lib=lib, model=model, data=data) -> float:
            with lib.no_grad():
                for x, _ in data:
                    out, _ = model.lstm(model.emb(x))
            return float(out[0, 0, 0])

        runs[name] = {"train": train, "forward": forward}
    return runs


def race(runs: dict[str, Any], part: str, rounds: int, steps: int) -> None:
    times: dict[str, list[float]] = {k: [] for k in runs}
    for k in runs:  # warm up: imports, BLAS threads, allocator
        runs[k][part]()
        time.sleep(PAUSE)
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(runs)[::-1]
        for k in order:
            t0 = time.perf_counter()
            runs[k][part]()
            times[k].append((time.perf_counter() - t0) / steps * 1e3)
            time.sleep(PAUSE)
    for k, v in times.items():
        spread = ", ".join(f"{t:.1f}" for t in v)
        print(f"  {k:7s} median {statistics.median(v):7.2f} ms/step (rounds: {spread})")
    ratios = [a / b for a, b in zip(times["ndgrad"], times["torch"], strict=True)]
    print(f"  ndgrad/torch: median of per-round ratios {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--parts", default="train,forward")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import torch

    import ndgrad

    torch.set_num_threads(args.threads)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start; torch "
          f"threads {args.threads}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    runs = make_runs({"ndgrad": ndgrad, "torch": torch}, args)
    what = (f"Embedding({VOCAB}, {EMBED}) -> LSTM({EMBED}, {args.hidden}, "
            f"num_layers={args.layers}) -> Linear, batch {args.batch}, seq {args.seq}")
    for part in args.parts.split(","):
        title = "training step (forward, backward, Adam)" if part == "train" else \
            "LSTM forward under no_grad"
        print(f"\n{title}: {what}")
        race(runs, part, args.rounds, args.steps)


if __name__ == "__main__":
    main()
