"""ndgrad-mnist: train an MLP or a CNN on MNIST with ndgrad, end to end.

    ndgrad-mnist --model mlp            # 784-512-256-10 MLP, SGD: >= 98% test accuracy
    ndgrad-mnist --model cnn            # two conv blocks with BatchNorm, Adam: >= 99%
    ndgrad-mnist --out runs/mlp --resume

Each epoch prints a line with its losses and test accuracy (on a terminal, a tqdm progress
bar with the running loss shows on stderr meanwhile); the last line printed is
``test_accuracy=0.XXXX``. ``--out`` receives the weights (``model.safetensors``, loadable in
PyTorch), ``checkpoint.safetensors`` (model, optimizer, lr schedule, epoch, random states and
history: ``--resume`` continues the run exactly where the last finished epoch left it),
``metrics.csv`` and ``training.png``; it is created when the first epoch ends. Ctrl-C stops
with one line saying how to resume. Data: the copy of MNIST shipped with ndgrad, or ``--data
DIR`` (or the NDGRAD_DATA environment variable) to use the files there, downloading them into
it with ``--download`` (see ndgrad.datasets.MNIST).

``mpirun -n 2 ndgrad-mnist ...`` trains data-parallel (DistributedDataParallel): each rank
takes its share of every batch of ``--batch-size`` (the global batch), rank 0 alone prints and
writes the outputs, and each rank uses cores / ranks BLAS threads.
"""

from __future__ import annotations

import argparse
import functools
import os
import shlex
import sys
import time
from collections.abc import Iterable, Sequence
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
from ndgrad.datasets import MNIST, DatasetFileError
from ndgrad.utils.data import DataLoader, TensorDataset

MEAN, STD = 0.1307, 0.3081  # of the MNIST training pixels, in [0, 1]

# Settings that reach the accuracy targets; each can be overridden on the command line.
# Both use a one-cycle lr schedule (warm up for 30% of the steps, then cosine annealing).
DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"epochs": 8, "batch_size": 128, "optimizer": "sgd", "lr": 0.1},
    "cnn": {"epochs": 4, "batch_size": 128, "optimizer": "adam", "lr": 3e-3},
}
# What must match for --resume to continue the same run.
RUN_KEYS = ("model", "epochs", "batch_size", "optimizer", "lr", "seed", "limit_train",
            "limit_test")


def build_model(kind: str) -> nn.Module:
    """The network for ``--model``: images (N, 1, 28, 28) -> logits (N, 10)."""
    if kind == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(256, 10),
        )
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 16, 14, 14)
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, 7, 7)
            nn.Flatten(), nn.Dropout(0.25),
            nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(128, 10),
        )
    raise ValueError(f"unknown model {kind!r}; expected 'mlp' or 'cnn'")


def build_optimizer(name: str, params: Any, lr: float) -> Any:
    """SGD with Nesterov momentum, or Adam (the one-cycle schedule also cycles the momentum)."""
    if name == "sgd":
        return ndgrad.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if name == "adam":
        return ndgrad.optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; expected 'sgd' or 'adam'")


def load_split(data: str | None, train: bool, limit: int | None,
               download: bool = False) -> TensorDataset:
    """MNIST as normalised float32 images (N, 1, 28, 28) and int64 labels, built once."""
    ds = MNIST(root=data, train=train, download=download)
    pixels, labels = ds.data.numpy(), ds.targets.numpy()
    if limit is not None:
        pixels, labels = pixels[:limit], labels[:limit]
    x = (pixels / np.float32(255) - np.float32(MEAN)) / np.float32(STD)
    return TensorDataset(ndgrad.from_numpy(x[:, None].astype(np.float32)),
                         ndgrad.from_numpy(labels))


# -- training ---------------------------------------------------------------------------------
def progress(batches: Iterable[Any], total: int, desc: str) -> Any:
    """A tqdm bar over ``batches`` on a terminal's stderr; else (a log file, a pipe, or no
    tqdm) the plain iterable: the per-epoch lines are the log, not hundreds of redraws."""
    if not sys.stderr.isatty():
        return batches
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return batches
    return tqdm(batches, total=total, desc=desc, unit="batch", leave=False, file=sys.stderr,
                dynamic_ncols=True)


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: Any, scheduler: Any,
                desc: str) -> list[float]:
    """One pass over ``loader``; returns the loss of every step."""
    model.train()
    losses: list[float] = []
    bar = progress(loader, len(loader), desc)
    running = None
    try:
        for step, (x, y) in enumerate(bar):
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            running = losses[-1] if running is None else 0.98 * running + 0.02 * losses[-1]
            if step % 10 == 0 and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{running:.4f}", refresh=False)
    finally:  # also on Ctrl-C: clear the bar's line before the message
        if hasattr(bar, "close"):
            bar.close()
    return losses


def evaluate(model: nn.Module, dataset: TensorDataset) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over ``dataset`` in eval mode."""
    model.eval()
    total_loss, correct = 0.0, 0
    with ndgrad.no_grad():
        # 256, not the usual 1000: a CNN's im2col buffers grow with the batch (smaller peak
        # memory, and faster since the buffers stay in cache)
        for x, y in DataLoader(dataset, batch_size=256):
            logits = model(x)
            total_loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum().item())
    n = len(dataset)
    return total_loss / n, correct / n


# -- outputs ----------------------------------------------------------------------------------
def write_plot(path: Path, step_losses: Sequence[float], steps_per_epoch: int,
               history: dict[str, list[float]], title: str) -> None:
    """Training loss per step (and its per-epoch mean) beside the test accuracy per epoch."""
    plt = pyplot()
    if plt is None:
        return
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.asarray(history["epoch"])
    steps = np.arange(1, len(step_losses) + 1) / steps_per_epoch
    ax_loss.plot(steps, step_losses, lw=0.5, alpha=0.5, label="per step")
    ax_loss.plot(epochs - 0.5, history["train_loss"], "o-", label="epoch mean")
    ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log", title="training loss",
                xlim=(0, epochs[-1]))
    ax_loss.legend()
    accuracy = 100 * np.asarray(history["test_accuracy"])
    # autoscaling pads a lone point by a few percent either way: past 100% after one epoch
    pad = max(0.5, 0.1 * float(accuracy.max() - accuracy.min()))
    ax_acc.plot(epochs, accuracy, "o-")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy",
               xlim=(epochs[0] - 0.5, epochs[-1] + 0.5),
               ylim=(max(0.0, accuracy.min() - pad), min(100.0, accuracy.max() + pad)))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # whole epochs
    ax_acc.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    save_png(path, fig)


# -- data parallel (under mpirun) ---------------------------------------------------------------
def abort_job_on_exit(main: Any) -> Any:
    """Under mpirun, a rank that stops with an error (SystemExit, which skips sys.excepthook)
    ends the whole job through ndgrad.distributed's excepthook, instead of leaving the other
    ranks waiting for it."""
    @functools.wraps(main)
    def run(argv: Sequence[str] | None = None) -> None:
        try:
            main(argv)
        except SystemExit as e:
            from ndgrad import distributed as dist

            if e.code not in (None, 0) and dist.is_initialized() and dist.get_world_size() > 1:
                sys.excepthook(type(e), e, e.__traceback__)
            raise
    return run


def start_data_parallel() -> tuple[int, int]:
    """(rank, world size): join the MPI job when an MPI launcher started several of us."""
    size = int(os.environ.get("OMPI_COMM_WORLD_SIZE") or os.environ.get("PMI_SIZE") or 1)
    if size == 1:
        return 0, 1
    from ndgrad import distributed as dist

    dist.init_process_group("mpi")
    if dist.get_rank() > 0:
        os.environ["TQDM_DISABLE"] = "1"  # one progress bar: rank 0's
    return dist.get_rank(), dist.get_world_size()


def limit_blas_threads(world: int) -> int:
    """Give this rank its share of the machine's cores for BLAS (cores / ranks on this host,
    or the cores mpirun bound it to), so the ranks don't fight over them; returns the count."""
    import socket

    from ndgrad import distributed as dist

    hosts: list[Any] = [None] * world
    dist.all_gather_object(hosts, socket.gethostname())
    machine = os.cpu_count() or 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else machine
    if cores == machine:  # not bound to some cores by the launcher: share the machine
        cores //= hosts.count(socket.gethostname())
    threads = max(1, cores)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("threadpoolctl is not installed: BLAS threads not limited (pip install "
              "'ndgrad[dist]')", file=sys.stderr)
        return 0
    threadpool_limits(threads)
    return threads


def shard_loader(train_set: TensorDataset, batch_size: int, seed: int,
                 world: int) -> tuple[DataLoader, Any]:
    """This rank's DataLoader (batch_size / world images a step) and its DistributedSampler,
    whose order depends only on seed and epoch (set_epoch), so --resume needs no state."""
    from ndgrad.utils.data.distributed import DistributedSampler

    if batch_size % world:
        raise SystemExit(f"ndgrad-mnist: --batch-size {batch_size} (the global batch) must be "
                         f"divisible by the number of ranks, {world}")
    sampler = DistributedSampler(train_set, seed=seed)
    return DataLoader(train_set, batch_size=batch_size // world, sampler=sampler), sampler


def evaluate_shared(model: nn.Module, dataset: TensorDataset, rank: int,
                    world: int) -> tuple[float, float]:
    """evaluate() with the test set split over the ranks; every rank gets the totals."""
    from ndgrad import distributed as dist

    start, stop = (len(dataset) * r // world for r in (rank, rank + 1))
    n = stop - start
    part = TensorDataset(*(t[start:stop] for t in dataset.tensors))
    loss, accuracy = evaluate(model, part) if n else (0.0, 0.0)
    totals = ndgrad.tensor([loss * n, round(accuracy * n)], dtype=ndgrad.float64)
    dist.all_reduce(totals)
    return totals[0].item() / len(dataset), totals[1].item() / len(dataset)


def mean_over_ranks(losses: list[float]) -> list[float]:
    """Each step's loss averaged over the ranks: the global batch's loss."""
    from ndgrad import distributed as dist

    t = ndgrad.tensor(losses, dtype=ndgrad.float64)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    return t.tolist()


# -- command line -----------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="ndgrad-mnist", description="Train an MLP or a CNN on MNIST with ndgrad.",
        epilog="Defaults: mlp " + ", ".join(f"{k}={v}" for k, v in DEFAULTS["mlp"].items())
        + "; cnn " + ", ".join(f"{k}={v}" for k, v in DEFAULTS["cnn"].items()) + ".")
    p.add_argument("--model", choices=["mlp", "cnn"], default=None, help="default: mlp")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default=None,
                   help="SGD with Nesterov momentum 0.9, or Adam")
    p.add_argument("--lr", type=float, default=None, help="peak lr of the one-cycle schedule")
    p.add_argument("--data", default=None,
                   help="directory with the MNIST files (default: $NDGRAD_DATA, else the copy "
                        "shipped with ndgrad)")
    p.add_argument("--download", action="store_true",
                   help="download the MNIST files into --data DIR if they are not there")
    p.add_argument("--out", default=None, help="output directory (default: runs/mnist-<model>)")
    p.add_argument("--seed", type=int, default=None, help="default: 0")
    p.add_argument("--resume", action="store_true",
                   help="continue the run saved in --out from its last finished epoch")
    # For tests and quick trials: train/evaluate on the first N images; stop after an epoch.
    p.add_argument("--limit-train", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--limit-test", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def settle_config(args: argparse.Namespace, saved: dict[str, Any] | None) -> dict[str, Any]:
    """The run's settings: the checkpoint's when resuming (explicit flags must agree with it),
    else the flags over the model's defaults."""
    given = {k: getattr(args, k) for k in RUN_KEYS if getattr(args, k) is not None}
    if saved is not None:
        check_resume_flags("ndgrad-mnist", given, saved)
        return dict(saved)
    model = given.get("model", "mlp")
    config: dict[str, Any] = {"model": model, "seed": 0, "limit_train": None,
                              "limit_test": None, **DEFAULTS[model]}
    config.update(given)
    for key in ("epochs", "batch_size"):
        if config[key] <= 0:
            raise SystemExit(f"ndgrad-mnist: --{key.replace('_', '-')} must be positive, got "
                             f"{config[key]}")
    if config["lr"] <= 0:
        raise SystemExit(f"ndgrad-mnist: --lr must be positive, got {config['lr']}")
    return config


def check_out(out: Path) -> None:
    """Stop now, in one line, if ``out`` cannot become the output directory. It is created only
    when the first epoch ends, so that a run that fails before leaves nothing behind."""
    try:
        existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    except OSError as e:
        raise SystemExit(f"ndgrad-mnist: --out {out}: {e.strerror}: {e.filename}") from None
    if not existing.is_dir():
        where = "" if existing == out else f"{existing} "
        raise SystemExit(f"ndgrad-mnist: --out {out}: {where}is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SystemExit(f"ndgrad-mnist: --out {out}: cannot write in {existing}")


class RunState:
    """Where a run is, for the one-line message when it stops: the epoch being trained and the
    last one saved in the checkpoint (also a resumed run's)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.epoch: int | None = None
        self.saved: int | None = None

    def interrupted(self, out: Path, data: str | None) -> str:
        where = f" in epoch {self.epoch}/{self.total}" if self.epoch else " before training"
        if self.saved is None:
            return f"ndgrad-mnist: interrupted{where}; no epoch had finished, nothing was saved"
        resume = f"ndgrad-mnist --out {shlex.quote(str(out))} --resume"
        if data is not None:
            resume += f" --data {shlex.quote(data)}"
        return (f"ndgrad-mnist: interrupted{where}; the checkpoint of epoch {self.saved}/"
                f"{self.total} is in {out / 'checkpoint.safetensors'}; continue with: {resume}")


@abort_job_on_exit
def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world = start_data_parallel()
    if rank > 0:  # rank 0 alone prints
        sys.stdout = open(os.devnull, "w")  # for the rest of this process
    out = Path(args.out or f"runs/mnist-{args.model or 'mlp'}")
    try:  # the folders this run will create (when it saves), to remove if it fails before;
        # rank 0 alone writes --out, so it alone cleans up
        created = [d for d in (out, *out.parents) if not d.exists()] if rank == 0 else []
    except OSError:
        created = []  # check_out reports it
    state = RunState(args.epochs or 0)
    try:
        run(args, out, state, rank, world)
    except KeyboardInterrupt:
        print(state.interrupted(out, args.data), file=sys.stderr)
        raise SystemExit(130) from None  # the shell's code for "stopped by Ctrl-C"
    finally:
        for d in created:  # a run that fails while creating --out leaves no empty folders
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()


def run(args: argparse.Namespace, out: Path, state: RunState, rank: int, world: int) -> None:
    """The job: settings, data, model, then the epochs, each one saved to ``out`` (by rank 0
    of ``world`` data-parallel processes)."""
    ckpt_path = out / "checkpoint.safetensors"
    checkpoint = None
    if args.resume:
        if not ckpt_path.is_file():
            raise SystemExit(f"ndgrad-mnist: --resume: no checkpoint at {ckpt_path}")
        checkpoint = ndgrad.load(ckpt_path)
    config = settle_config(args, checkpoint["config"] if checkpoint else None)
    check_out(out)
    state.total = config["epochs"]

    ndgrad.manual_seed(config["seed"])
    try:
        train_set = load_split(args.data, True, config["limit_train"], args.download)
        test_set = load_split(args.data, False, config["limit_test"], args.download)
    except DatasetFileError as e:  # says where it looked and how to supply the files
        raise SystemExit(f"ndgrad-mnist: {e}\n(Here: --data DIR, and --download to fetch the "
                         f"files into it.)") from None
    generator = ndgrad.Generator().manual_seed(config["seed"])
    loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True,
                        generator=generator)
    net = model = build_model(config["model"])
    sampler = None
    if world > 1:
        from ndgrad.nn.parallel import DistributedDataParallel

        loader, sampler = shard_loader(train_set, config["batch_size"], config["seed"], world)
        model = DistributedDataParallel(net)  # checkpoints hold net's keys, as without it
        threads = limit_blas_threads(world)
        print(f"data-parallel: {world} ranks of {config['batch_size'] // world} images a step, "
              f"{threads or 'unlimited'} BLAS thread(s) each")
    optimizer = build_optimizer(config["optimizer"], model.parameters(), config["lr"])
    scheduler = ndgrad.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config["lr"], epochs=config["epochs"], steps_per_epoch=len(loader))

    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "test_loss": [],
                                       "test_accuracy": [], "lr": [], "seconds": []}
    step_losses: list[float] = []
    start = 0
    if checkpoint is not None:
        net.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        ndgrad.set_rng_state(checkpoint["rng"])
        generator.set_state(checkpoint["loader_rng"])
        history = {k: list(v) for k, v in checkpoint["history"].items()}
        step_losses = checkpoint["step_losses"].tolist()
        start = state.saved = int(checkpoint["epoch"])
        print(f"resuming {out} after epoch {start}/{config['epochs']}")
    n_params = sum(p.numel() for p in net.parameters())
    print(f"{config['model']}: {n_params:,} parameters; {len(train_set)} training and "
          f"{len(test_set)} test images; epochs={config['epochs']} "
          f"batch_size={config['batch_size']} optimizer={config['optimizer']} lr={config['lr']} "
          f"seed={config['seed']}", flush=True)

    title = f"ndgrad-mnist --model {config['model']}"
    for epoch in range(start, config["epochs"]):
        state.epoch = epoch + 1
        t0 = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        if sampler is not None:
            sampler.set_epoch(epoch)
        losses = train_epoch(model, loader, optimizer, scheduler,
                             f"epoch {epoch + 1}/{config['epochs']}")
        if world > 1:
            losses = mean_over_ranks(losses)
            test_loss, accuracy = evaluate_shared(net, test_set, rank, world)
        else:
            test_loss, accuracy = evaluate(model, test_set)
        seconds = time.perf_counter() - t0
        step_losses += losses
        for key, value in (("epoch", epoch + 1), ("train_loss", float(np.mean(losses))),
                           ("test_loss", test_loss), ("test_accuracy", accuracy), ("lr", lr),
                           ("seconds", seconds)):
            history[key].append(value)
        print(f"epoch {epoch + 1}/{config['epochs']}: train_loss={history['train_loss'][-1]:.4f} "
              f"test_loss={test_loss:.4f} test_accuracy={accuracy:.4f} ({seconds:.1f} s)",
              flush=True)
        if rank == 0:  # the ranks hold the same weights and states: one writes them
            try:
                out.mkdir(parents=True, exist_ok=True)
                ndgrad.save({"config": config, "epoch": epoch + 1, "model": net.state_dict(),
                             "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "rng": ndgrad.get_rng_state(),
                             "loader_rng": generator.get_state(), "history": history,
                             "step_losses": np.asarray(step_losses, dtype=np.float64)}, ckpt_path)
                state.saved = epoch + 1
                ndgrad.save(net.state_dict(), out / "model.safetensors")
                write_metrics(out / "metrics.csv", history, "epoch")
                write_plot(out / "training.png", step_losses, len(loader), history, title)
            except OSError as e:  # disk full, permissions changed: say so in one line
                raise SystemExit(f"ndgrad-mnist: cannot write the outputs to --out {out}: "
                                 f"{e.strerror or e}: {e.filename or ''}") from None
        else:
            state.saved = epoch + 1
        if args.stop_after is not None and epoch + 1 >= args.stop_after:
            break
    if not history["epoch"]:
        raise SystemExit("ndgrad-mnist: no epoch was trained")
    print(f"total training time {sum(history['seconds']):.1f} s; outputs in {out}")
    print(f"test_accuracy={history['test_accuracy'][-1]:.4f}")


if __name__ == "__main__":
    main()
