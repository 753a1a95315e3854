"""MNIST training speed: ndgrad vs PyTorch (2 threads) vs a hand-written NumPy MLP (the floor).

Run: python bench/mnist.py [--rounds 5] [--data DIR] [--parts speed,memory,profile]
(--parts mlp or cnn times one model alone)

* MLP 784-128-64-10 (ReLU), batch 64, SGD(lr=0.01, momentum=0.9), one epoch (938 steps).
* CNN conv(1->8, 3x3, pad 1)-ReLU-maxpool(2)-conv(8->16, 3x3, pad 1)-ReLU-maxpool(2)-
  linear(784->10), batch 64, Adam(lr=1e-3), 150 steps.

All three start from the same initial weights and see the same batches. The implementations
alternate in one process, several rounds, and the medians and ratios are printed. Within a round
they take turns of CHUNK steps (30-100 ms of work), so each one's time for the round is the
sum of its turns (it still trains one whole epoch): this machine goes through slow phases (up
to 1.5x, often shorter than an epoch), and whole-epoch turns let one library land in a slow
phase and the next in a fast one. After each turn the process idles for PAUSE (untimed): the
thread pools of torch and of OpenBLAS spin for a while after their work and slowed whoever ran
next; back to back, torch's CNN run took twice as long. Batches are fancy-indexed from one
normalised float32 array per epoch: torch and NumPy slice a permutation by hand, ndgrad goes
through its DataLoader over a TensorDataset (which does the same indexing), so the loader's own
overhead is inside ndgrad's time.

Peak memory of the MLP epoch is measured in a fresh subprocess per implementation (three each,
median), the same way for all three: the rise of the process's peak resident set (VmHWM, reset
through /proc/self/clear_refs just before the epoch, after a 5-step warm-up) over its resident
set at that moment. It is measured twice:
* "live": with glibc's mmap threshold pinned at 64 KiB (MALLOC_MMAP_THRESHOLD_), every block of
  64 KiB or more is its own mapping and goes back to the OS when freed, so the resident set
  follows what the library holds. This is the comparison the target is about.
* "glibc default": with the dynamic threshold, what the rise shows depends on what the allocator
  kept from the warm-up: memory torch freed stays in its heap and is reused (a rise near 0),
  while NumPy's large blocks are handed back to the OS and fetched again.
For ndgrad and NumPy, tracemalloc's peak of traced allocations during an epoch is printed as well
(torch's allocator is invisible to tracemalloc).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 64
MLP_LR, MLP_MOMENTUM = 0.01, 0.9
CNN_LR, CNN_STEPS = 1e-3, 150
REPO = Path(__file__).resolve().parents[1]


# -- data --------------------------------------------------------------------------------------
def load_mnist(data: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The training set as normalised float32 (N, 784) and int64 labels."""
    import ndgrad.datasets

    shared = REPO.parent / "shared" / "datasets"
    if data is None and "NDGRAD_DATA" not in os.environ and shared.is_dir():
        data = str(shared)
    ds = ndgrad.datasets.MNIST(root=data, train=True)
    x = (ds.data.numpy().reshape(-1, 784) / np.float32(255) - np.float32(0.1307)) / np.float32(
        0.3081)
    return x.astype(np.float32), ds.targets.numpy()


def init_weights(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """PyTorch-style uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) initial weights for both models."""
    rng = np.random.default_rng(seed)

    def u(fan_in: int, *shape: int) -> np.ndarray:
        b = 1 / np.sqrt(fan_in)
        return rng.uniform(-b, b, shape).astype(np.float32)

    mlp = {"0.weight": u(784, 128, 784), "0.bias": u(784, 128),
           "2.weight": u(128, 64, 128), "2.bias": u(128, 64),
           "4.weight": u(64, 10, 64), "4.bias": u(64, 10)}
    cnn = {"0.weight": u(9, 8, 1, 3, 3), "0.bias": u(9, 8),
           "3.weight": u(72, 16, 8, 3, 3), "3.bias": u(72, 16),
           "7.weight": u(784, 10, 784), "7.bias": u(784, 10)}
    return {"mlp": mlp, "cnn": cnn}


# -- the same model code for torch and ndgrad ----------------------------------------------------
def make_mlp(lib, weights):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    model.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
    return model


def make_cnn(lib, weights):
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(784, 10))
    model.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
    return model


def train(lib, model, opt, batches, chunk: int):
    """The PyTorch training loop, pausing (yield) after every ``chunk`` steps so that the
    libraries can take turns; returns the last loss so the work cannot be skipped."""
    loss = None
    step = 0
    for x, y in batches:
        loss = lib.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step == chunk:
            step = 0
            yield
    return float(loss.item())


def torch_batches(torch, x, y, perm, steps=None, shape=(-1, 784)):
    stop = len(perm) if steps is None else steps * BATCH
    for i in range(0, stop, BATCH):
        idx = perm[i:i + BATCH]
        yield x[idx].reshape(shape), y[idx]


def ndgrad_batches(ndgrad, x, y, perm, steps=None, shape=(-1, 784)):
    from ndgrad.utils.data import DataLoader, TensorDataset

    stop = len(perm) if steps is None else steps * BATCH
    ds = TensorDataset(x, y)
    # the permutation is fixed so that every library sees the same batches
    loader = DataLoader(ds, batch_size=BATCH, sampler=_Fixed(perm[:stop]))
    if shape == (-1, 784):
        return loader
    return ((xb.reshape(shape), yb) for xb, yb in loader)


class _Fixed:
    """A sampler with a given order (its index array feeds DataLoader's fast path)."""

    def __init__(self, order):
        self.order = order

    def _index_chunks(self):
        yield self.order

    def __iter__(self):
        return iter(self.order.tolist())

    def __len__(self):
        return len(self.order)


# -- the floor: NumPy by hand, no graph --------------------------------------------------------
def numpy_mlp_epoch(weights, x, y, perm, chunk: int):
    """Forward, backward and SGD-momentum in place; no input gradient, buffers reused. A
    generator like ``train`` (the weights are copied before it starts); returns the last loss."""
    w = {k: v.copy() for k, v in weights.items()}
    params = [w[k] for k in ("0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias")]
    return _numpy_mlp_steps(params, x, y, perm, chunk)


def _numpy_mlp_steps(params, x, y, perm, chunk: int):
    W1, b1, W2, b2, W3, b3 = params
    bufs = [np.zeros_like(p) for p in params]
    loss = 0.0
    for step, i in enumerate(range(0, len(perm), BATCH)):
        idx = perm[i:i + BATCH]
        xb, yb = x[idx], y[idx]
        n = len(idx)
        h1 = xb @ W1.T
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ W2.T
        h2 += b2
        np.maximum(h2, 0, out=h2)
        logits = h2 @ W3.T
        logits += b3
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = float(np.log(s[:, 0]).mean() - logits[rows, yb].mean())
        g = e
        g /= s
        g[rows, yb] -= 1
        g /= n
        grads3 = (g.T @ h2, g.sum(axis=0))
        d2 = g @ W3
        d2 *= h2 > 0
        grads2 = (d2.T @ h1, d2.sum(axis=0))
        d1 = d2 @ W2
        d1 *= h1 > 0
        grads1 = (d1.T @ xb, d1.sum(axis=0))
        for p, buf, grad in zip(params, bufs, (*grads1, *grads2, *grads3)):
            if step:
                buf *= MLP_MOMENTUM
                buf += grad
            else:
                buf[...] = grad
            p -= MLP_LR * buf
        if (step + 1) % chunk == 0:
            yield
    return loss


# -- timing ------------------------------------------------------------------------------------
CHUNK = 47  # steps per turn: 20 turns per MLP epoch (the CNN's turns are CHUNK // 3 steps)
# idle time after each turn: torch's thread pool and NumPy's OpenBLAS pool keep spinning for a
# while after their work, and back to back they slow whoever runs next (torch's CNN run took
# 1.8 s after ndgrad's turns with no pause, 0.9-1.0 s with 0.1 s or more)
PAUSE = 0.15


def race(runs: dict[str, Any], order: list[str], pause: float = 0.0) -> tuple[
        dict[str, tuple[float, float]], dict[str, float]]:
    """Run the generators in turns (in ``order``) until all are done, idle for ``pause``
    seconds (untimed) after each turn. Returns each one's summed (wall seconds, CPU seconds of
    all threads) and its result."""
    times = {k: (0.0, 0.0) for k in order}
    results: dict[str, float] = {}
    live = list(order)
    while live:
        for k in list(live):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                next(runs[k])
            except StopIteration as done:
                results[k] = done.value
                live.remove(k)
            wall, cpu = times[k]
            times[k] = (wall + time.perf_counter() - t0, cpu + time.process_time() - c0)
            if pause:
                time.sleep(pause)
    return times, results


def run_mlp(lib_name: str, weights, x, y, perm, libs, chunk: int = CHUNK):
    """One MLP epoch as a generator (see ``train``); the model is built before it starts."""
    if lib_name == "numpy":
        return numpy_mlp_epoch(weights, x, y, perm, chunk)
    lib = libs[lib_name]
    model = make_mlp(lib, weights)
    opt = lib.optim.SGD(model.parameters(), lr=MLP_LR, momentum=MLP_MOMENTUM)
    xs, ys = lib.from_numpy(x), lib.from_numpy(y)
    make = torch_batches if lib_name == "torch" else ndgrad_batches
    p = lib.from_numpy(perm) if lib_name == "torch" else perm
    return train(lib, model, opt, make(lib, xs, ys, p), chunk)


def run_cnn(lib_name: str, weights, x, y, perm, libs, chunk: int = CHUNK):
    lib = libs[lib_name]
    model = make_cnn(lib, weights)
    opt = lib.optim.Adam(model.parameters(), lr=CNN_LR)
    xs, ys = lib.from_numpy(x), lib.from_numpy(y)
    make = torch_batches if lib_name == "torch" else ndgrad_batches
    p = lib.from_numpy(perm) if lib_name == "torch" else perm
    return train(lib, model, opt, make(lib, xs, ys, p, CNN_STEPS, (-1, 1, 28, 28)), chunk)


def finish(run) -> float:
    """Run a generator from ``run_mlp``/``run_cnn`` to the end; its result."""
    return race({"": run}, [""])[1][""]


def report(title: str, times: dict[str, list[tuple[float, float]]], losses: dict[str, float],
           ratios: list[tuple[str, str, str]]) -> None:
    """Medians of wall time (what the targets are about) and of CPU time (all threads; less
    sensitive to other load on the machine, but counts threads that spin while waiting), and
    the fastest round (the best estimate of the cost itself when other work disturbs some). The
    ratio the targets are checked against is the median over rounds of the per-round ratio."""
    wall = {k: statistics.median(t[0] for t in v) for k, v in times.items()}
    best = {k: min(t[0] for t in v) for k, v in times.items()}
    cpu = {k: statistics.median(t[1] for t in v) for k, v in times.items()}
    print(f"\n{title}")
    for k, v in times.items():
        spread = ", ".join(f"{t[0]:.2f}" for t in v)
        print(f"  {k:7s} wall median {wall[k]:7.3f} s, min {best[k]:7.3f} s (rounds: {spread}); "
              f"CPU median {cpu[k]:7.3f} s; last loss {losses[k]:.4f}")
    for a, b, target in ratios:
        # in each round a and b take turns of CHUNK steps, so their ratio in one round is
        # little moved by this machine's slow phases (up to 1.5x)
        paired = statistics.median(x[0] / y[0] for x, y in zip(times[a], times[b]))
        print(f"  {a}/{b}: median of per-round ratios {paired:.2f} (target {target}); ratio of "
              f"wall medians {wall[a] / wall[b]:.2f}, of minima {best[a] / best[b]:.2f}, of CPU "
              f"medians {cpu[a] / cpu[b]:.2f}")


def speed(rounds: int, data: str | None, models: set[str]) -> None:
    import torch

    import ndgrad

    torch.set_num_threads(2)
    libs = {"torch": torch, "ndgrad": ndgrad}
    x, y = load_mnist(data)
    weights = init_weights()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start (timings "
          f"are only meaningful on an otherwise idle machine)")
    perms = [np.random.default_rng(r).permutation(len(x)) for r in range(rounds)]
    if "mlp" in models:
        mlp_speed(rounds, x, y, perms, weights, libs)
    if "cnn" in models:
        cnn_speed(rounds, x, y, perms, weights, libs)


def mlp_speed(rounds, x, y, perms, weights, libs) -> None:
    names = ["ndgrad", "torch", "numpy"]
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
    losses: dict[str, float] = {}
    for k in ("ndgrad", "torch"):  # warm up imports
        finish(run_mlp(k, weights["mlp"], x, y, perms[0][:BATCH * 20], libs))
    for r in range(rounds):
        order = names[r % 3:] + names[:r % 3]  # rotate who goes first
        t, losses = race({k: run_mlp(k, weights["mlp"], x, y, perms[r], libs) for k in order},
                         order, PAUSE)
        for k in order:
            times[k].append(t[k])
    report("MLP 784-128-64-10, batch 64, SGD momentum, 1 epoch (938 steps)", times, losses,
           [("ndgrad", "torch", "<= 0.8"), ("ndgrad", "numpy", "<= 1.25"),
            ("numpy", "torch", "reference")])


def cnn_speed(rounds, x, y, perms, weights, libs) -> None:
    times: dict[str, list[tuple[float, float]]] = {"ndgrad": [], "torch": []}
    losses: dict[str, float] = {}
    for r in range(rounds):
        order = ["ndgrad", "torch"] if r % 2 == 0 else ["torch", "ndgrad"]
        t, losses = race({k: run_cnn(k, weights["cnn"], x, y, perms[r], libs, CHUNK // 3)
                          for k in order}, order, PAUSE)
        for k in order:
            times[k].append(t[k])
    report(f"CNN conv8-pool-conv16-pool-linear, batch 64, Adam, {CNN_STEPS} steps", times,
           losses, [("ndgrad", "torch", "<= 1.3")])


# -- memory ------------------------------------------------------------------------------------
def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(lib_name: str, data: str | None) -> None:
    """One MLP epoch in this fresh process; prints 'rss_kb tracemalloc_kb'."""
    import tracemalloc

    import torch

    import ndgrad

    torch.set_num_threads(2)
    libs = {"torch": torch, "ndgrad": ndgrad}
    x, y = load_mnist(data)
    weights = init_weights()["mlp"]
    perm = np.random.default_rng(0).permutation(len(x))
    finish(run_mlp(lib_name, weights, x, y, perm[:BATCH * 5], libs))  # imports, BLAS, caches
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set (VmHWM) to the current one
    finish(run_mlp(lib_name, weights, x, y, perm, libs))
    rss = _status_kb("VmHWM") - before
    peak = -1
    if lib_name != "torch":  # a second epoch: tracemalloc's own tables must not count above
        tracemalloc.start()
        finish(run_mlp(lib_name, weights, x, y, perm, libs))
        peak = tracemalloc.get_traced_memory()[1] // 1024
    print(rss, peak)


def memory(data: str | None, repeats: int = 3) -> None:
    print("\nPeak memory of one MLP epoch: rise of the peak resident set over the resident set at "
          f"the start of the epoch (fresh process each, median of {repeats}; see the docstring)")
    modes = (("live", {"MALLOC_MMAP_THRESHOLD_": "65536"}), ("glibc default", {}))
    rise: dict[tuple[str, str], float] = {}
    for mode, env in modes:
        for name in ("ndgrad", "torch", "numpy"):
            cmd = [sys.executable, __file__, "--memory-child", name]
            if data:
                cmd += ["--data", data]
            runs = []
            for _ in range(repeats):
                out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                     env={**os.environ, **env}).stdout.split()
                runs.append((int(out[-2]), int(out[-1])))
            rss = statistics.median(r[0] for r in runs) / 1024
            rise[(mode, name)] = rss
            traced = statistics.median(r[1] for r in runs)
            extra = f", tracemalloc peak {traced / 1024:5.1f} MiB" if traced >= 0 else ""
            spread = ", ".join(f"{r[0] / 1024:.2f}" for r in runs)
            print(f"  {mode:13s} {name:7s} peak RSS rise {rss:5.2f} MiB ({spread}){extra}")
    print(f"  ndgrad/torch, live: {rise[('live', 'ndgrad')] / rise[('live', 'torch')]:.2f} "
          f"(target <= 1)")


def profile(data: str | None) -> None:
    import cProfile
    import pstats

    import ndgrad

    x, y = load_mnist(data)
    perm = np.random.default_rng(0).permutation(len(x))
    for name, run in (("MLP epoch", run_mlp), (f"CNN run ({CNN_STEPS} steps)", run_cnn)):
        prof = cProfile.Profile()
        prof.enable()
        finish(run("ndgrad", init_weights()[name[:3].lower()], x, y, perm, {"ndgrad": ndgrad}))
        prof.disable()
        print(f"\ncProfile of one ndgrad {name} (top 25 by own time)")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", default=None, help="data dir (default: NDGRAD_DATA)")
    parser.add_argument("--parts", default="speed,memory",
                        help="comma-separated: speed (= mlp,cnn), mlp, cnn, memory, profile "
                             "(cProfile of ndgrad's MLP epoch and CNN run)")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.data)
        return
    parts = set(args.parts.split(","))
    unknown = parts - {"speed", "mlp", "cnn", "memory", "profile"}
    if unknown:
        parser.error(f"unknown --parts {sorted(unknown)}; choose from speed, mlp, cnn, memory, "
                     f"profile")
    models = {"mlp", "cnn"} if "speed" in parts else parts & {"mlp", "cnn"}
    if models:
        speed(args.rounds, args.data, models)
    if "memory" in parts:
        memory(args.data)
    if "profile" in parts:
        profile(args.data)


if __name__ == "__main__":
    main()
