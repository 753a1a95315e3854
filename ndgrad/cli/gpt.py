"""ndgrad-gpt: train a character-level GPT on Tiny Shakespeare with ndgrad, and sample from it.

    ndgrad-gpt                                  # nanoGPT's CPU "baby" run: val loss about 1.9
    ndgrad-gpt --max-iters 500 --out runs/short # any setting can be changed
    ndgrad-gpt --resume                         # continue the run saved in --out
    ndgrad-gpt sample --start "ROMEO:" --num-samples 3 --temperature 0.8 --top-k 20

The defaults are nanoGPT's ``config/train_shakespeare_char.py`` shrunk for a CPU, as its README
suggests: 4 layers, 4 heads, 128 dims, context 64, batch 12, no dropout, no biases; AdamW (lr
1e-3, betas (0.9, 0.99), weight decay 0.1 on matrices only), 2,000 iterations with 100 of
linear warmup and a cosine decay to 1e-4, gradients clipped to norm 1. Every 250 iterations
the loss is estimated on 200 batches of each split (always the same batches, so estimates are
comparable), a line is printed and ``--out`` (default ``runs/gpt-shakespeare``) receives
``checkpoint.safetensors`` (model, optimizer, random states and history: ``--resume`` continues
exactly as if never stopped), ``model.safetensors`` (the weights, loadable in PyTorch),
``metrics.csv`` and ``training.png``. A progress bar shows the loss (tqdm, when stderr is a
terminal). Ctrl-C stops with one line naming the last checkpoint. The last line printed is
``val_loss=X.XXXX``. The text is the copy shipped with ndgrad unless ``--data DIR`` (or
NDGRAD_DATA) holds one (see ndgrad.datasets.TinyShakespeare).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import ndgrad
from ndgrad import nn
from ndgrad.cli._outputs import (
    check_resume_flags,
    pyplot,
    save_png,
    write_metrics,
)
from ndgrad.datasets import DatasetFileError, TinyShakespeare
from ndgrad.nn import functional as F
from ndgrad.tensor import Tensor


# -- the model (nanoGPT's model.py, in ndgrad) ---------------------------------------------------
@dataclass
class GPTConfig:
    block_size: int = 64  # the longest context
    vocab_size: int = 65  # Tiny Shakespeare's distinct characters
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False  # biases in the Linears and LayerNorms


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.n_embd % config.n_head:
            raise ValueError(f"n_embd {config.n_embd} is not a multiple of n_head "
                             f"{config.n_head}")
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """nanoGPT's GPT: token and position embeddings, ``n_layer`` pre-norm blocks, a final
    LayerNorm and an output layer that shares its weight with the token embedding."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Any]:
        """Logits (b, t, vocab) and the mean cross-entropy against ``targets``; without targets,
        only the last position's logits (b, 1, vocab), as generation needs no more."""
        b, t = idx.size()
        if t > self.config.block_size:
            raise ValueError(f"cannot forward a sequence of length {t}: the block size is only "
                             f"{self.config.block_size}")
        pos = ndgrad.arange(0, t, dtype=ndgrad.long)  # (t,)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)  # (b, t, n_embd)
        if targets is None:
            return self.lm_head(x[:, [-1], :]), None
        logits = self.lm_head(x)
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    def configure_optimizers(self, weight_decay: float, learning_rate: float,
                             betas: tuple[float, float]) -> ndgrad.optim.AdamW:
        """AdamW decaying only the matrices (Linear and Embedding weights), as nanoGPT."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        return ndgrad.optim.AdamW(groups, lr=learning_rate, betas=betas)

    @ndgrad.no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None) -> Tensor:
        """Extend each row of ``idx`` (b, t) by ``max_new_tokens`` sampled tokens."""
        for _ in range(max_new_tokens):
            bs = self.config.block_size
            idx_cond = idx if idx.size(1) <= bs else idx[:, -bs:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature  # (b, vocab)
            if top_k is not None:
                v, _ = logits.topk(min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("inf")
            probs = F.softmax(logits, dim=-1)
            idx = ndgrad.cat((idx, ndgrad.multinomial(probs, num_samples=1)), dim=1)
        return idx


# -- the run's settings --------------------------------------------------------------------------
# nanoGPT's CPU "baby" run; each one is a command-line flag (--n-layer, --lr, ...).
DEFAULTS: dict[str, Any] = {
    "n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "dropout": 0.0, "bias": False,
    "batch_size": 12, "max_iters": 2000, "lr": 1e-3, "min_lr": 1e-4, "warmup_iters": 100,
    "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.99, "grad_clip": 1.0,
    "eval_interval": 250, "eval_iters": 200, "seed": 1337,
}
HELP = {
    "n_layer": "transformer blocks", "n_head": "attention heads", "n_embd": "embedding size",
    "block_size": "context length", "dropout": "dropout probability",
    "bias": "biases in Linear and LayerNorm (default: none)", "batch_size": "sequences per step",
    "max_iters": "training iterations (the lr decays over all of them)",
    "lr": "peak learning rate", "min_lr": "learning rate at the end of the cosine decay",
    "warmup_iters": "iterations of linear warmup", "weight_decay": "AdamW's, on matrices",
    "beta1": "AdamW's beta1", "beta2": "AdamW's beta2",
    "grad_clip": "clip the gradient norm to this (0: no clipping)",
    "eval_interval": "evaluate and save a checkpoint every N iterations",
    "eval_iters": "batches per split in each loss estimate", "seed": "random seed",
}


def get_lr(it: int, c: dict[str, Any]) -> float:
    """nanoGPT's schedule: linear warmup, then cosine decay to min_lr at max_iters."""
    if it < c["warmup_iters"]:
        return c["lr"] * (it + 1) / (c["warmup_iters"] + 1)
    if it >= c["max_iters"]:
        return c["min_lr"]
    ratio = (it - c["warmup_iters"]) / max(1, c["max_iters"] - c["warmup_iters"])
    return c["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (c["lr"] - c["min_lr"])


# -- data and evaluation ----------------------------------------------------------------------
def get_batch(data: Tensor, block_size: int, batch_size: int,
              generator: np.random.Generator) -> tuple[Tensor, Tensor]:
    """batch_size random windows of the text (B, T) and the same shifted by one (targets)."""
    ix = ndgrad.randint(0, len(data) - block_size, (batch_size,), generator=generator)
    offsets = ix[:, None] + ndgrad.arange(block_size)  # (B, T)
    return data[offsets], data[offsets + 1]


# sequences per forward pass when estimating the loss: fewer, larger passes cost less overhead
EVAL_ROWS = 120


@ndgrad.no_grad()
def estimate_loss(model: GPT, data: Tensor, c: dict[str, Any]) -> float:
    """Mean loss over ``eval_iters`` batches in eval mode. The batches come from a generator
    seeded afresh each time, so every estimate of a run scores the same windows; they are
    scored EVAL_ROWS at a time (the mean of equal-sized batch means is the overall mean)."""
    gen = ndgrad.Generator().manual_seed(c["seed"] + 1)
    x, y = get_batch(data, c["block_size"], c["batch_size"] * c["eval_iters"], gen)
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, len(x), EVAL_ROWS):
        _, loss = model(x[i:i + EVAL_ROWS], y[i:i + EVAL_ROWS])
        total += loss.item() * len(x[i:i + EVAL_ROWS])
    model.train(was_training)
    return total / len(x)


# -- outputs ----------------------------------------------------------------------------------
def write_plot(path: Path, step_losses: Sequence[float], history: dict[str, list[float]],
               title: str) -> None:
    """The loss of every training step beside the train and val estimates."""
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(np.arange(1, len(step_losses) + 1), step_losses, lw=0.5, alpha=0.4,
            label="training batch")
    ax.plot(history["iter"], history["train_loss"], "o-", label="train (estimate)")
    ax.plot(history["iter"], history["val_loss"], "s-", label="val (estimate)")
    ax.set(xlabel="iteration", ylabel="cross-entropy (nats per character)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_png(path, fig)


class Progress:
    """A tqdm bar over the iterations when stderr is a terminal; otherwise nothing, and the
    per-evaluation lines are the only progress shown."""

    def __init__(self, start: int, total: int) -> None:
        self.bar = None
        if sys.stderr.isatty():
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, initial=start, unit="it", file=sys.stderr,
                            dynamic_ncols=True, leave=False)

    def update(self, loss: float, lr: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", refresh=False)
            self.bar.update()

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- training -----------------------------------------------------------------------------------
def build(c: dict[str, Any], vocab_size: int) -> tuple[GPT, ndgrad.optim.AdamW]:
    config = GPTConfig(block_size=c["block_size"], vocab_size=vocab_size, n_layer=c["n_layer"],
                       n_head=c["n_head"], n_embd=c["n_embd"], dropout=c["dropout"],
                       bias=c["bias"])
    model = GPT(config)
    return model, model.configure_optimizers(c["weight_decay"], c["lr"],
                                             (c["beta1"], c["beta2"]))


def train_step(model: GPT, optimizer: ndgrad.optim.AdamW, x: Tensor, y: Tensor,
               lr: float, grad_clip: float) -> float:
    for group in optimizer.param_groups:
        group["lr"] = lr
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def train(args: argparse.Namespace) -> None:
    out = Path(args.out)
    ckpt_path = out / "checkpoint.safetensors"
    checkpoint = None
    if args.resume:
        if not ckpt_path.is_file():
            raise SystemExit(f"ndgrad-gpt: --resume: no checkpoint at {ckpt_path}")
        checkpoint = ndgrad.load(ckpt_path)
    c = settle_config(args, checkpoint["config"] if checkpoint else None)
    args.seed = c["seed"]  # --sample samples with the run's seed
    ds = load_text(args.data)
    data = {"train": ds.train_data, "val": ds.val_data}
    out.mkdir(parents=True, exist_ok=True)

    ndgrad.manual_seed(c["seed"])
    model, optimizer = build(c, ds.vocab_size)
    batch_gen = ndgrad.Generator().manual_seed(c["seed"])
    history: dict[str, list[float]] = {"iter": [], "train_loss": [], "val_loss": [], "lr": [],
                                       "seconds": []}
    step_losses: list[float] = []
    start, seconds = 0, 0.0
    saved_at = None  # the iteration of the last checkpoint, for the Ctrl-C message
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        ndgrad.set_rng_state(checkpoint["rng"])
        batch_gen.set_state(checkpoint["batch_rng"])
        history = {k: list(v) for k, v in checkpoint["history"].items()}
        step_losses = checkpoint["step_losses"].tolist()
        start, seconds = int(checkpoint["iter"]), float(checkpoint["seconds"])
        saved_at = start
        print(f"resuming {out} at iteration {start}/{c['max_iters']}")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"GPT: {n_params / 1e6:.2f}M parameters, {c['n_layer']} layers, {c['n_head']} heads, "
          f"{c['n_embd']} dims, context {c['block_size']}; Tiny Shakespeare: "
          f"{len(ds.train_data):,} training and {len(ds.val_data):,} validation characters, "
          f"vocabulary {ds.vocab_size}; batch {c['batch_size']}, {c['max_iters']} iterations, "
          f"lr {c['lr']}, seed {c['seed']}", flush=True)

    def save(it: int) -> None:
        nonlocal saved_at
        ndgrad.save({"config": c, "iter": it, "seconds": seconds, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "rng": ndgrad.get_rng_state(),
                     "batch_rng": batch_gen.get_state(), "vocab": "".join(ds.chars),
                     "history": history,
                     "step_losses": np.asarray(step_losses, dtype=np.float64)}, ckpt_path)
        ndgrad.save(model.state_dict(), out / "model.safetensors")
        write_metrics(out / "metrics.csv", history, "iter")
        write_plot(out / "training.png", step_losses, history,
                   f"ndgrad-gpt: {c['n_layer']} layers, {c['n_embd']} dims")
        saved_at = it

    def evaluate(it: int) -> None:
        losses = {split: estimate_loss(model, d, c) for split, d in data.items()}
        for key, value in (("iter", it), ("train_loss", losses["train"]),
                           ("val_loss", losses["val"]), ("lr", get_lr(max(it - 1, 0), c)),
                           ("seconds", seconds)):
            history[key].append(value)
        bar.write(f"iter {it}/{c['max_iters']}: train_loss={losses['train']:.4f} "
                  f"val_loss={losses['val']:.4f} ({seconds:.1f} s)")

    bar = Progress(start, c["max_iters"])
    it, t0, running = start, time.perf_counter() - seconds, None
    try:
        if start == 0:
            evaluate(0)
            save(0)
        while it < c["max_iters"]:
            lr = get_lr(it, c)
            x, y = get_batch(data["train"], c["block_size"], c["batch_size"], batch_gen)
            loss = train_step(model, optimizer, x, y, lr, c["grad_clip"])
            it += 1
            step_losses.append(loss)
            running = loss if running is None else 0.95 * running + 0.05 * loss
            bar.update(running, lr)
            if it % c["eval_interval"] == 0 or it == c["max_iters"]:
                seconds = time.perf_counter() - t0
                evaluate(it)
                save(it)
                if args.stop_after is not None and it >= args.stop_after:
                    break
    except KeyboardInterrupt:
        bar.close()
        where = "no checkpoint was written yet"
        if saved_at is not None:
            where = (f"the last checkpoint is {ckpt_path} (iteration {saved_at}/"
                     f"{c['max_iters']}); continue with: ndgrad-gpt --out "
                     f"{shlex.quote(str(out))} --resume")
        print(f"ndgrad-gpt: interrupted at iteration {it}; {where}", file=sys.stderr)
        raise SystemExit(130) from None
    bar.close()
    print(f"trained {history['iter'][-1]} iterations in {history['seconds'][-1]:.1f} s; outputs "
          f"in {out}")
    if args.sample:
        print_samples(model, ds, args)
    print(f"val_loss={history['val_loss'][-1]:.4f}")


# -- sampling -----------------------------------------------------------------------------------
def print_samples(model: GPT, ds: TinyShakespeare, args: argparse.Namespace) -> None:
    """``--num-samples`` continuations of ``--start``, each ``--max-new-tokens`` long."""
    start = args.start
    if start.startswith("FILE:"):
        start = Path(start[5:]).read_text(encoding="utf-8")
    if not start:
        raise SystemExit("ndgrad-gpt: --start is empty; give at least one character")
    try:
        ids = ds.encode(start)
    except ValueError as e:
        raise SystemExit(f"ndgrad-gpt: --start: {e}") from None
    ndgrad.manual_seed(args.seed)
    model.eval()
    idx = ndgrad.tensor([ids] * args.num_samples, dtype=ndgrad.long)  # (num_samples, t)
    out = model.generate(idx, args.max_new_tokens, args.temperature, args.top_k)
    for row in out.tolist():
        print(ds.decode(row))
        print("---------------")


def sample(args: argparse.Namespace) -> None:
    ckpt_path = Path(args.out) / "checkpoint.safetensors"
    if not ckpt_path.is_file():
        raise SystemExit(f"ndgrad-gpt sample: no checkpoint at {ckpt_path}; train first "
                         f"(ndgrad-gpt --out {args.out})")
    checkpoint = ndgrad.load(ckpt_path)
    ds = load_text(args.data)
    if checkpoint["vocab"] != "".join(ds.chars):
        raise SystemExit(f"ndgrad-gpt sample: {ckpt_path} was trained on another vocabulary")
    model, _ = build(checkpoint["config"], ds.vocab_size)
    model.load_state_dict(checkpoint["model"])
    print(f"sampling from {ckpt_path} (iteration {int(checkpoint['iter'])})", file=sys.stderr)
    print_samples(model, ds, args)


# -- command line -------------------------------------------------------------------------------
def load_text(data: str | None) -> TinyShakespeare:
    try:
        return TinyShakespeare(root=data)
    except DatasetFileError as e:  # says where it looked and how to supply the file
        raise SystemExit(f"ndgrad-gpt: {e} (Here: --data <dir>.)") from None


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/gpt-shakespeare",
                   help="run directory (default: runs/gpt-shakespeare)")
    p.add_argument("--data", default=None, help="directory holding Tiny Shakespeare's "
                   "input.txt (default: $NDGRAD_DATA, then the copy shipped with ndgrad)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed of the weights, batches and samples (default: 1337; "
                   "when resuming, the run's)")
    g = p.add_argument_group("sampling")
    g.add_argument("--start", default="\n",
                   help='the prompt; "FILE:path" reads it from a file (default: a newline)')
    g.add_argument("--num-samples", type=int, default=3)
    g.add_argument("--max-new-tokens", type=int, default=500)
    g.add_argument("--temperature", type=float, default=0.8,
                   help="below 1 is more conservative, above 1 more adventurous")
    g.add_argument("--top-k", type=int, default=None,
                   help="sample only among the k likeliest characters (default: all)")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    if argv and argv[0] == "sample":
        p = argparse.ArgumentParser(prog="ndgrad-gpt sample",
                                    description="Sample text from a trained ndgrad-gpt run.")
        add_common(p)
        args = p.parse_args(argv[1:])
        args.command = "sample"
    else:
        p = argparse.ArgumentParser(
            prog="ndgrad-gpt", description="Train a character-level GPT on Tiny Shakespeare "
            "with ndgrad (ndgrad-gpt sample ...: sample from a trained run).",
            epilog="Defaults (nanoGPT's CPU baby run): "
            + ", ".join(f"{k}={v}" for k, v in DEFAULTS.items()) + ".")
        add_common(p)
        g = p.add_argument_group("training (defaults: nanoGPT's CPU baby run)")
        for key, default in DEFAULTS.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(default, bool):
                g.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               help=HELP[key])
            elif key != "seed":
                g.add_argument(flag, type=type(default), default=None,
                               help=f"{HELP[key]} (default: {default})")
        p.add_argument("--resume", action="store_true",
                       help="continue the run saved in --out from its last checkpoint")
        p.add_argument("--sample", action="store_true",
                       help="print samples after training (see the sampling options)")
        p.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)
        args = p.parse_args(argv)
        args.command = "train"
    if args.num_samples <= 0 or args.max_new_tokens < 0:
        raise SystemExit("ndgrad-gpt: --num-samples must be positive and --max-new-tokens "
                         "non-negative")
    if args.temperature <= 0:
        raise SystemExit(f"ndgrad-gpt: --temperature must be positive, got {args.temperature}")
    if args.top_k is not None and args.top_k <= 0:
        raise SystemExit(f"ndgrad-gpt: --top-k must be positive, got {args.top_k}")
    return args


def settle_config(args: argparse.Namespace, saved: dict[str, Any] | None) -> dict[str, Any]:
    """The run's settings: the checkpoint's when resuming (explicit flags must agree with it),
    else the flags over DEFAULTS."""
    given = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None}
    if saved is not None:
        check_resume_flags("ndgrad-gpt", given, saved)
        return dict(saved)
    c = {**DEFAULTS, **given}
    for key in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_iters",
                "eval_interval", "eval_iters"):
        if c[key] <= 0:
            raise SystemExit(f"ndgrad-gpt: --{key.replace('_', '-')} must be positive, got "
                             f"{c[key]}")
    if c["n_embd"] % c["n_head"]:
        raise SystemExit(f"ndgrad-gpt: --n-embd {c['n_embd']} must be a multiple of --n-head "
                         f"{c['n_head']}")
    if not 0 <= c["dropout"] < 1:
        raise SystemExit(f"ndgrad-gpt: --dropout must be in [0, 1), got {c['dropout']}")
    if c["lr"] <= 0 or c["min_lr"] < 0 or c["warmup_iters"] < 0 or c["grad_clip"] < 0:
        raise SystemExit("ndgrad-gpt: --lr must be positive; --min-lr, --warmup-iters and "
                         "--grad-clip must not be negative")
    return c


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "sample":
        args.seed = 1337 if args.seed is None else args.seed
        try:
            sample(args)
        except KeyboardInterrupt:
            raise SystemExit(130) from None  # stopping a sample loses nothing: no traceback
        return
    train(args)


if __name__ == "__main__":
    main()
