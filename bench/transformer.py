"""word_language_model's TransformerModel training step: ndgrad vs PyTorch, in one process.

Run: python bench/transformer.py [--rounds 7] [--steps 5] [--configs default,small]
     [--parts check,train,phases,profile] [--dtype float32]

The model and the training step are pytorch/examples' word_language_model (model.py's
TransformerModel, main.py's train()): Embedding * sqrt(emsize), sinusoidal positional encoding
and dropout, nn.TransformerEncoder of nn.TransformerEncoderLayer under the causal mask
(log(tril(ones))), a Linear decoder over the vocabulary, log_softmax and NLLLoss (that is,
cross-entropy), backward, clip_grad_norm_(0.25), plain SGD (``p.data.add_(p.grad, alpha=-lr)``).
Configs: ``default`` is the example's defaults on a 10k vocabulary (Penn Treebank's; emsize 200,
nhead 2, nhid 200, nlayers 2, bptt 35, batch 20, dropout 0.2); ``small`` is a tenth of the
vocabulary with narrower layers.

Both libraries start from torch's weights (its state_dict copied into ndgrad's model) and train
on the same random token batches, one thread each (torch.set_num_threads(1), threadpoolctl for
NumPy's BLAS). Rounds alternate which library goes first, each runs ``--steps`` steps then idles
PAUSE seconds untimed (bench/rnn.py says why); printed are each library's median ms/step, the
spread and the median of the per-round ratios ndgrad/torch, in wall time and in CPU time (one
thread each: on a machine that others keep busy, the CPU time of a step moved 1-3% between
rounds where its wall time moved 30%). ndgrad's compiled kernels are loaded before the thread
counts are pinned: numba's OpenMP layer raises every OpenMP pool of the process, torch's too.
``phases`` splits a step into forward (model and loss), backward and optimizer (zero_grad,
clip, update), in CPU time (process_time) around each, for both libraries. ``check`` trains a
few steps without dropout in float64 and prints the largest difference of loss and gradients
from torch's. ``profile`` prints cProfile's top entries of ndgrad's steps.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from typing import Any

PAUSE = 0.15
LR, CLIP = 20.0, 0.25
CONFIGS = {  # ntoken, emsize, nhead, nhid, nlayers, bptt, batch
    "default": dict(ntoken=10000, emsize=200, nhead=2, nhid=200, nlayers=2, bptt=35, batch=20),
    "small": dict(ntoken=1000, emsize=64, nhead=2, nhid=128, nlayers=2, bptt=35, batch=20),
}


def make_model(lib: Any, ntoken: int, ninp: int, nhead: int, nhid: int, nlayers: int,
               dropout: float) -> Any:
    """pytorch/examples' word_language_model TransformerModel, written against ``lib``."""
    nn, F = lib.nn, lib.nn.functional

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000) -> None:
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = lib.zeros(max_len, d_model)
            position = lib.arange(0, max_len, dtype=lib.float).unsqueeze(1)
            div_term = lib.exp(lib.arange(0, d_model, 2).float()
                               * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = lib.sin(position * div_term)
            pe[:, 1::2] = lib.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

        def forward(self, x: Any) -> Any:
            return self.dropout(x + self.pe[:x.size(0), :])

    class TransformerModel(nn.Transformer):
        def __init__(self) -> None:
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                             num_encoder_layers=nlayers)
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)  # replaces nn.Transformer's decoder
            # the example passes its dropout to nn.Transformer's layers too (default 0.1 there)
            for m in self.modules():
                if isinstance(m, nn.Dropout):
                    m.p = dropout
                if isinstance(m, nn.MultiheadAttention):
                    m.dropout = dropout

        def forward(self, src: Any) -> Any:
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                self.src_mask = lib.log(lib.tril(lib.ones(len(src), len(src))))
            src = self.input_emb(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            output = self.encoder(src, mask=self.src_mask)
            return F.log_softmax(self.decoder(output), dim=-1)

    return TransformerModel()


class Run:
    """One library's model, batches and training step, with the step's phases timed apart."""

    def __init__(self, lib: Any, state: dict[str, Any], cfg: dict[str, int], batches: list[Any],
                 dropout: float, dtype: str) -> None:
        self.lib, self.ntoken = lib, cfg["ntoken"]
        lib.manual_seed(0)
        self.model = make_model(lib, cfg["ntoken"], cfg["emsize"], cfg["nhead"], cfg["nhid"],
                                cfg["nlayers"], dropout).to(getattr(lib, dtype))
        self.model.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
        self.model.train()
        self.params = list(self.model.parameters())
        self.criterion = lib.nn.NLLLoss()
        # (bptt, batch) inputs and their next tokens, flattened, as main.py's get_batch
        self.data = [(lib.tensor(b[:-1]), lib.tensor(b[1:].reshape(-1))) for b in batches]
        self.phases = [0.0, 0.0, 0.0]

    def step(self, x: Any, y: Any, timed: bool = False) -> Any:
        clock = time.process_time  # one thread: the CPU time of each phase (see race)
        t0 = clock()
        output = self.model(x)
        loss = self.criterion(output.view(-1, self.ntoken), y)
        t1 = clock()
        loss.backward()
        t2 = clock()
        self.lib.nn.utils.clip_grad_norm_(self.params, CLIP)
        for p in self.params:
            p.data.add_(p.grad, alpha=-LR)
        self.model.zero_grad()
        t3 = clock()
        if timed:
            for i, dt in enumerate((t1 - t0, t2 - t1, t3 - t2)):
                self.phases[i] += dt
        return loss

    def train(self, timed: bool = False) -> float:
        for x, y in self.data:
            loss = self.step(x, y, timed)
        return float(loss.item())


def setup(libs: dict[str, Any], cfg: dict[str, int], steps: int, dropout: float,
          dtype: str) -> dict[str, Run]:
    import numpy as np

    torch = libs["torch"]
    torch.manual_seed(0)
    reference = make_model(torch, cfg["ntoken"], cfg["emsize"], cfg["nhead"], cfg["nhid"],
                           cfg["nlayers"], dropout).to(getattr(torch, dtype))
    state = {k: v.detach().numpy().copy() for k, v in reference.state_dict().items()}
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, cfg["ntoken"], size=(cfg["bptt"] + 1, cfg["batch"]))
               for _ in range(steps)]
    return {name: Run(lib, state, cfg, batches, dropout, dtype) for name, lib in libs.items()}


def race(runs: dict[str, Run], rounds: int, steps: int) -> None:
    """Wall time per step, and CPU time per step (one thread each: the CPU time is what the
    step cost, whatever else the shared machine ran meanwhile)."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    for k in runs:  # warm up: numba's kernels, BLAS, the allocator
        runs[k].train()
        time.sleep(PAUSE)
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(runs)[::-1]
        for k in order:
            t0, c0 = time.perf_counter(), time.process_time()
            runs[k].train()
            times[k].append((time.perf_counter() - t0) / steps * 1e3)
            cpu[k].append((time.process_time() - c0) / steps * 1e3)
            time.sleep(PAUSE)
    for what, res in (("wall", times), ("CPU", cpu)):
        for k, v in res.items():
            spread = ", ".join(f"{t:.1f}" for t in v)
            print(f"  {what:4s} {k:7s} median {statistics.median(v):7.2f} ms/step "
                  f"(rounds: {spread})")
        ratios = [a / b for a, b in zip(res["ndgrad"], res["torch"], strict=True)]
        print(f"  {what:4s} ndgrad/torch: median of per-round ratios "
              f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})")


def phases(runs: dict[str, Run], rounds: int, steps: int) -> None:
    for run in runs.values():
        run.phases = [0.0, 0.0, 0.0]
    for r in range(rounds):
        for k in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            runs[k].train(timed=True)
            time.sleep(PAUSE)
    for k, run in runs.items():
        fwd, bwd, opt = (t / (rounds * steps) * 1e3 for t in run.phases)
        print(f"  {k:7s} forward {fwd:7.2f}  backward {bwd:7.2f}  optimizer {opt:6.2f} "
              f"ms/step (CPU time)")


def check(libs: dict[str, Any], cfg: dict[str, int], steps: int) -> None:
    """Dropout off, float64: the largest differences from torch after each step."""
    import numpy as np

    runs = setup(libs, cfg, steps, 0.0, "float64")
    nd, th = runs["ndgrad"], runs["torch"]
    for (x, y), (tx, ty) in zip(nd.data, th.data, strict=True):
        out, tout = nd.model(x), th.model(tx)
        loss, tloss = nd.criterion(out.view(-1, nd.ntoken), y), \
            th.criterion(tout.view(-1, th.ntoken), ty)
        loss.backward()
        tloss.backward()
        grad_diff = max(float(np.abs(p.grad.numpy() - q.grad.numpy()).max())
                        for p, q in zip(nd.params, th.params, strict=True))
        print(f"  loss {float(loss):.10f} vs torch {float(tloss):.10f}; "
              f"max |grad - torch's| {grad_diff:.2e}")
        for run in (nd, th):
            run.lib.nn.utils.clip_grad_norm_(run.params, CLIP)
            with run.lib.no_grad():
                for p in run.params:
                    p.add_(p.grad, alpha=-LR)
            run.model.zero_grad()


def profile(run: Run, top: int = 30) -> None:
    import cProfile
    import pstats

    run.train()
    prof = cProfile.Profile()
    prof.enable()
    run.train()
    prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--configs", default="default,small")
    parser.add_argument("--parts", default="check,train,phases")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--dropout", type=float, default=0.2)
    args = parser.parse_args()
    # one thread for both: OpenMP's pools (torch's, and numba's, which ndgrad's fused ops use
    # and which loads only later) read OMP_NUM_THREADS when they start, OpenBLAS its own
    # variable when NumPy loads (hence the late imports); threadpoolctl then pins what loaded
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    import torch
    from threadpoolctl import threadpool_limits

    import ndgrad

    # ndgrad's compiled kernels first: numba's OpenMP layer, when it starts, raises the
    # process's OpenMP threads to the core count, torch's included (torch.get_num_threads()
    # read 2 after it here, and torch's elementwise ops ran 3-10x slower on the busy cores)
    from ndgrad.ops import _numba

    _numba.kernels()
    torch.set_num_threads(1)
    threadpool_limits(1)  # NumPy's BLAS (and numba's pool, which ndgrad sizes from it)
    libs = {"ndgrad": ndgrad, "torch": torch}
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; one thread each, "
          f"{args.dtype}, dropout {args.dropout}")
    for name in args.configs.split(","):
        cfg = CONFIGS[name]
        print(f"\n== {name}: " + ", ".join(f"{k} {v}" for k, v in cfg.items()))
        parts = args.parts.split(",")
        if "check" in parts:
            print("check (float64, no dropout, 3 steps):")
            check(libs, cfg, 3)
        runs = setup(libs, cfg, args.steps, args.dropout, args.dtype)
        if "train" in parts:
            print("training step (forward, NLL loss, backward, clip, SGD):")
            race(runs, args.rounds, args.steps)
        if "phases" in parts:
            print("phases:")
            phases(runs, args.rounds, args.steps)
        if "profile" in parts:
            profile(runs["ndgrad"])
        if torch.get_num_threads() != 1:
            print(f"  (torch ran on {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
