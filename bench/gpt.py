"""GPT training-step speed and memory: ndgrad vs PyTorch in one process, nanoGPT's CPU baby run.

Run: python bench/gpt.py [--rounds 5] [--parts speed,steady,memory,ops,profile]
(OMP_NUM_THREADS=1 python bench/gpt.py: one thread for both, torch and ndgrad; on a machine
that other work keeps busy, two spinning threads per library measure the contention)

* The model of ndgrad-gpt and examples/gpt_shakespeare.py: 4 layers, 4 heads, 128 dims, context
  64, vocabulary 65, no biases, GELU, weight tying (0.8M parameters); batch 12.
* One step: forward, cross-entropy, backward, clip_grad_norm_(1.0), AdamW (weight decay 0.1 on
  matrices, betas (0.9, 0.99)) with the lr set by hand, as the job does.

ndgrad runs twice: with its compiled kernels (numba, the ``ndgrad[fast]`` extra; "ndgrad") and
with them off ("ndgrad-numpy", the NumPy reference path), so both ratios are printed. Both
libraries run the same code (examples/gpt_shakespeare.py, its ``import ndgrad as torch``
swapped for ``import torch`` on the torch side) from the same initial weights on the same
batches of Tiny Shakespeare. As in bench/mnist.py, they alternate in one process, several
rounds: within a round they take turns of CHUNK steps, each followed by an untimed PAUSE (the
thread pools of torch and ndgrad spin for a while after their work and slow whoever runs next;
ndgrad's is numba's OpenMP threads, which also run OpenBLAS's threaded matmuls: see
ndgrad/ops/_pool.py), so this machine's slow phases land on both alike. The ratio the targets
are checked against is the median over rounds of the per-round ratio.

Peak memory is measured in a fresh subprocess per library (three each, median), as in
bench/mnist.py: the rise of the peak resident set (VmHWM, reset through /proc/self/clear_refs
after a warm-up) over the resident set at that moment, during MEMORY_STEPS steps; once with
glibc's mmap threshold pinned at 64 KiB ("live": freed blocks of 64 KiB or more go back to the
OS, so the resident set follows what the library holds; the comparison the target is about)
and once with glibc's default. For ndgrad, tracemalloc's peak during the steps is printed too.

The steady part checks the speed ratio another way: each library trains STEADY_STEPS steps in
a row (after STEADY_WARMUP untimed ones) in a fresh process of its own, the contenders taking
turns, several rounds; per-round ratios and their median, as for speed. That is how a training
run goes (no pauses, nothing else in the process); where the two parts disagree by more than
this machine's noise, the turns of the speed part favour one library.

The profile part prints cProfile's top entries of PROFILE_STEPS ndgrad steps, by own time and
by cumulative time. The ops part times each fused op of the step alone (forward and backward on
the step's shapes), the three contenders taking turns of OP_CALLS calls, best of OP_ROUNDS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
THREADS = int(os.environ.get("OMP_NUM_THREADS", "2"))  # torch's; OpenBLAS reads the variable
EXAMPLE = REPO / "examples" / "gpt_shakespeare.py"
BATCH, BLOCK, LR, CLIP = 12, 64, 1e-3, 1.0
STEPS = 60  # per library per round
CHUNK = 3  # steps per turn (100-300 ms of work)
PAUSE = 0.15  # untimed idle after each turn
MEMORY_STEPS = 20
STEADY_STEPS, STEADY_WARMUP = 100, 20
PROFILE_STEPS = 30
OP_CALLS, OP_ROUNDS = 20, 7
CONTENDERS = ["ndgrad", "ndgrad-numpy", "torch"]


def numpy_path(run: Any) -> Any:
    """A training generator run with ndgrad's compiled kernels off during its turns."""
    from ndgrad.ops import _numba

    while True:
        with _numba.enabled(False):
            try:
                next(run)
            except StopIteration as done:
                return done.value
        yield


def load_model_code(lib_name: str) -> types.ModuleType:
    """examples/gpt_shakespeare.py as a module, on ndgrad or (its import swapped) on torch."""
    source = EXAMPLE.read_text()
    if lib_name == "torch":
        source = source.replace("\nimport ndgrad as torch\n", "\nimport torch\n")
    module = types.ModuleType(f"gpt_shakespeare_{lib_name}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, str(EXAMPLE), "exec"), module.__dict__)
    return module


def batches(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n batches of (inputs, targets), int64 (BATCH, BLOCK), from Tiny Shakespeare."""
    from ndgrad.datasets import TinyShakespeare

    data = TinyShakespeare().train_data.numpy()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        offsets = rng.integers(0, len(data) - BLOCK, BATCH)[:, None] + np.arange(BLOCK)
        out.append((data[offsets], data[offsets + 1]))
    return out


def initial_weights() -> dict[str, np.ndarray]:
    code = load_model_code("ndgrad")
    code.torch.manual_seed(0)
    model = code.GPT(code.GPTConfig())
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def build(lib_name: str, weights: dict[str, np.ndarray]) -> tuple[Any, Any, Any]:
    """(library, model, optimizer) with the given weights."""
    code = load_model_code("torch" if lib_name == "torch" else "ndgrad")
    lib = code.torch
    model = code.GPT(code.GPTConfig())
    model.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in weights.items()})
    return lib, model, model.configure_optimizers(0.1, LR, (0.9, 0.99))


def train(lib, model, optimizer, data, chunk: int):
    """Training steps as a generator that pauses (yields) every ``chunk`` steps, so that the
    libraries can take turns; returns the last loss so the work cannot be skipped."""
    loss = None
    for step, (x, y) in enumerate(data, 1):
        for group in optimizer.param_groups:
            group["lr"] = LR
        _, loss = model(lib.from_numpy(x), lib.from_numpy(y))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        if step % chunk == 0:
            yield
    return float(loss.item())


def race(runs: dict[str, Any], order: list[str], pause: float) -> tuple[
        dict[str, tuple[float, float]], dict[str, float]]:
    """Run the generators in turns until all are done, idling ``pause`` s (untimed) after each
    turn; each one's summed (wall seconds, CPU seconds of all threads) and its result."""
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
            time.sleep(pause)
    return times, results


def speed(rounds: int) -> None:
    import torch

    torch.set_num_threads(THREADS)
    print(f"{os.cpu_count()} CPUs, {THREADS} thread(s) per library, load average "
          f"{os.getloadavg()[0]:.2f} at the start (timings are only meaningful on an otherwise "
          f"idle machine)")
    weights = initial_weights()
    names = CONTENDERS
    built = {k: build(k, weights) for k in names}

    def run(k: str, data: list, chunk: int) -> Any:
        steps = train(*built[k], data, chunk)
        return numpy_path(steps) if k == "ndgrad-numpy" else steps

    for k in names:  # warm up: imports, BLAS, the optimizer's state, numba's kernels
        for _ in run(k, batches(3, 99), 3):
            pass
    # numba's OpenMP layer, started by ndgrad's first compiled kernel, sets the process's
    # OpenMP pools (torch's too) to the core count: pin torch's again after it
    torch.set_num_threads(THREADS)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
    losses: dict[str, float] = {}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        data = batches(STEPS, r)
        t, losses = race({k: run(k, data, CHUNK) for k in order}, order, PAUSE)
        for k in order:
            times[k].append(t[k])
    print(f"\nGPT 4x128, context 64, batch 12, AdamW: {STEPS} steps per round, {rounds} rounds")
    per_step = {k: [w / STEPS * 1000 for w, _ in v] for k, v in times.items()}
    for k in names:
        spread = ", ".join(f"{ms:.1f}" for ms in per_step[k])
        cpu = statistics.median(c for _, c in times[k]) / STEPS * 1000
        print(f"  {k:12s} {statistics.median(per_step[k]):6.1f} ms/step median, min "
              f"{min(per_step[k]):6.1f} (rounds: {spread}); CPU {cpu:6.1f} ms/step; last loss "
              f"{losses[k]:.4f}")
    for k in names[:-1]:
        ratios = [a[0] / b[0] for a, b in zip(times[k], times["torch"])]
        cpu_ratios = [a[1] / b[1] for a, b in zip(times[k], times["torch"])]
        print(f"  {k}/torch: median of per-round ratios {statistics.median(ratios):.2f} (rounds: "
              f"{', '.join(f'{x:.2f}' for x in ratios)}; target <= 1.0, at worst 1.5); ratio "
              f"of minima {min(per_step[k]) / min(per_step['torch']):.2f}; of CPU times "
              f"{statistics.median(cpu_ratios):.2f}")


def steady_child(lib_name: str) -> None:
    """STEADY_STEPS steps in a row in this fresh process; prints the wall ms per step."""
    import torch

    torch.set_num_threads(THREADS)
    lib, model, opt = build(lib_name, initial_weights())
    for _ in train(lib, model, opt, batches(STEADY_WARMUP, 99), STEADY_WARMUP):
        pass
    data = batches(STEADY_STEPS, 0)
    t0 = time.perf_counter()
    for _ in train(lib, model, opt, data, STEADY_STEPS):
        pass
    print(1e3 * (time.perf_counter() - t0) / STEADY_STEPS)


def steady(rounds: int) -> None:
    print(f"\nSteady training: {STEADY_STEPS} steps in a row per fresh process (after "
          f"{STEADY_WARMUP} untimed), the contenders alternating, {rounds} rounds")
    ms: dict[str, list[float]] = {k: [] for k in CONTENDERS}
    for r in range(rounds):
        for name in CONTENDERS if r % 2 == 0 else CONTENDERS[::-1]:
            env = {"NDGRAD_NUMBA": "0"} if name == "ndgrad-numpy" else {}
            out = subprocess.run([sys.executable, __file__, "--steady-child", name],
                                 capture_output=True, text=True, check=True,
                                 env={**os.environ, **env}).stdout.split()
            ms[name].append(float(out[-1]))
    for k in CONTENDERS:
        print(f"  {k:12s} {statistics.median(ms[k]):6.1f} ms/step median (rounds: "
              f"{', '.join(f'{x:.1f}' for x in ms[k])})")
    for k in CONTENDERS[:-1]:
        ratios = [a / b for a, b in zip(ms[k], ms["torch"])]
        print(f"  {k}/torch: median of per-round ratios {statistics.median(ratios):.2f} (rounds: "
              f"{', '.join(f'{x:.2f}' for x in ratios)}; target <= 1.0, at worst 1.5)")


# -- memory ------------------------------------------------------------------------------------
def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(lib_name: str) -> None:
    """MEMORY_STEPS steps in this fresh process; prints 'rss_kb tracemalloc_kb'."""
    import tracemalloc

    import torch

    torch.set_num_threads(THREADS)
    lib, model, opt = build(lib_name, initial_weights())
    for _ in train(lib, model, opt, batches(3, 99), 3):  # imports, BLAS, optimizer state
        pass
    data = batches(MEMORY_STEPS, 0)
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set (VmHWM) to the current one
    for _ in train(lib, model, opt, data, MEMORY_STEPS):
        pass
    rss = _status_kb("VmHWM") - before
    peak = -1
    if lib_name != "torch":  # again, traced: tracemalloc's own tables must not count above
        tracemalloc.start()
        for _ in train(lib, model, opt, data, MEMORY_STEPS):
            pass
        peak = tracemalloc.get_traced_memory()[1] // 1024
    print(rss, peak)


def memory(repeats: int = 3) -> None:
    print(f"\nPeak memory of {MEMORY_STEPS} training steps: rise of the peak resident set over "
          f"the resident set before them (fresh process each, median of {repeats})")
    rise: dict[tuple[str, str], float] = {}
    for mode, env in (("live", {"MALLOC_MMAP_THRESHOLD_": "65536"}), ("glibc default", {})):
        for name in CONTENDERS:
            runs = []
            lib_env = {"NDGRAD_NUMBA": "0"} if name == "ndgrad-numpy" else {}
            for _ in range(repeats):
                out = subprocess.run([sys.executable, __file__, "--memory-child", name],
                                     capture_output=True, text=True, check=True,
                                     env={**os.environ, **env, **lib_env}).stdout.split()
                runs.append((int(out[-2]), int(out[-1])))
            rss = statistics.median(r[0] for r in runs) / 1024
            rise[(mode, name)] = rss
            traced = statistics.median(r[1] for r in runs)
            extra = f", tracemalloc peak {traced / 1024:5.1f} MiB" if traced >= 0 else ""
            spread = ", ".join(f"{r[0] / 1024:.2f}" for r in runs)
            print(f"  {mode:13s} {name:12s} peak RSS rise {rss:6.2f} MiB ({spread}){extra}")
    for name in CONTENDERS[:-1]:
        print(f"  {name}/torch, live: {rise[('live', name)] / rise[('live', 'torch')]:.2f} "
              f"(target <= 1)")


def op_cases(lib: Any) -> dict[str, Any]:
    """Each fused op of the GPT's step, forward and backward on the step's shapes, as a
    function of nothing (the inputs are made once)."""
    F = lib.nn.functional
    rng = np.random.default_rng(0)

    def arr(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    def leaf(a: np.ndarray) -> Any:
        return lib.tensor(a, requires_grad=True)

    x128, x512, w512, w128 = arr(12, 64, 128), arr(12, 64, 512), arr(512, 128), arr(128)
    q, k, v, g32 = arr(12, 4, 64, 32), arr(12, 4, 64, 32), arr(12, 4, 64, 32), arr(12, 4, 64, 32)
    logits, targets = arr(768, 65), rng.integers(0, 65, 768)
    table, ids = arr(65, 128), rng.integers(0, 65, (12, 64))
    shapes = [(65, 128), (64, 128)] + [(128,), (384, 128), (128, 128), (128,), (512, 128),
                                       (128, 512)] * 4 + [(128,)]
    params = [leaf(arr(*s)) for s in shapes]
    for p in params:
        p.grad = lib.tensor(arr(*p.shape))
    opt = lib.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    return {
        "linear (768x128 -> 512)": lambda: F.linear(leaf(x128), leaf(w512)).backward(
            lib.tensor(x512)),
        "gelu (768x512)": lambda: F.gelu(leaf(x512)).backward(lib.tensor(x512)),
        "layer_norm (768x128)": lambda: F.layer_norm(leaf(x128), (128,), leaf(w128)).backward(
            lib.tensor(x128)),
        "sdpa causal (48x64x32)": lambda: F.scaled_dot_product_attention(
            leaf(q), leaf(k), leaf(v), is_causal=True).backward(lib.tensor(g32)),
        "cross_entropy (768x65)": lambda: F.cross_entropy(
            leaf(logits), lib.tensor(targets)).backward(),
        "embedding (65x128, 768 ids)": lambda: F.embedding(lib.tensor(ids), leaf(table)).backward(
            lib.tensor(x128)),
        "AdamW step (27 params, 0.8M)": opt.step,
    }


def ops() -> None:
    import torch

    from ndgrad.ops import _numba

    torch.set_num_threads(THREADS)
    import ndgrad

    cases = {"ndgrad": op_cases(ndgrad), "ndgrad-numpy": op_cases(ndgrad),
             "torch": op_cases(torch)}
    print(f"\nFused ops alone, forward + backward: ms per call, best of {OP_ROUNDS} turns of "
          f"{OP_CALLS} calls each (contenders alternate)")
    print(f"  {'op':30s} {'ndgrad':>8s} {'numpy':>8s} {'torch':>8s}  ndgrad/torch  numpy/torch")
    for name in cases["torch"]:
        best = {k: float("inf") for k in CONTENDERS}
        for r in range(OP_ROUNDS + 1):  # round 0 warms up (and compiles numba's kernels)
            for k in CONTENDERS if r % 2 else CONTENDERS[::-1]:
                fn = cases[k][name]
                with _numba.enabled(k != "ndgrad-numpy"):
                    t0 = time.perf_counter()
                    for _ in range(OP_CALLS):
                        fn()
                    elapsed = (time.perf_counter() - t0) / OP_CALLS * 1000
                if r:
                    best[k] = min(best[k], elapsed)
                time.sleep(PAUSE / 5)
        b = best
        print(f"  {name:30s} {b['ndgrad']:8.3f} {b['ndgrad-numpy']:8.3f} {b['torch']:8.3f}  "
              f"{b['ndgrad'] / b['torch']:12.2f}  {b['ndgrad-numpy'] / b['torch']:11.2f}")


def profile(top: int = 30) -> None:
    import cProfile
    import pstats

    lib, model, opt = build("ndgrad", initial_weights())
    for _ in train(lib, model, opt, batches(3, 99), 3):
        pass
    data = batches(PROFILE_STEPS, 0)
    prof = cProfile.Profile()
    prof.enable()
    for _ in train(lib, model, opt, data, PROFILE_STEPS):
        pass
    prof.disable()
    stats = pstats.Stats(prof)
    print(f"\ncProfile of {PROFILE_STEPS} ndgrad training steps (top {top} by own time)")
    stats.sort_stats("tottime").print_stats(top)
    print(f"cProfile of {PROFILE_STEPS} ndgrad training steps (top {top} by cumulative time)")
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", default="speed,memory",
                        help="comma-separated: speed, steady, memory, ops, profile")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--steady-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    if args.steady_child:
        steady_child(args.steady_child)
        return
    parts = set(args.parts.split(","))
    unknown = parts - {"speed", "steady", "memory", "ops", "profile"}
    if unknown:
        parser.error(f"unknown --parts {sorted(unknown)}; choose from speed, steady, memory, "
                     f"ops, profile")
    if "speed" in parts:
        speed(args.rounds)
    if "steady" in parts:
        steady(args.rounds)
    if "memory" in parts:
        memory()
    if "ops" in parts:
        ops()
    if "profile" in parts:
        profile()


if __name__ == "__main__":
    main()
