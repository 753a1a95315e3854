"""Data-parallel speed: one MNIST MLP epoch on 1 rank against 2 ranks, one BLAS thread each.

    mpirun -n 1 python bench/ddp.py --data ../shared/datasets
    mpirun -n 2 python bench/ddp.py --data ../shared/datasets     (Open MPI as root:
                                                                  add --allow-run-as-root)

The model and optimizer are ndgrad-mnist's MLP (784-512-256-10, ReLU, dropout 0.2; SGD with
Nesterov momentum 0.9), global batch 128: each of N ranks trains on 128 / N images a step
(DistributedSampler), with DistributedDataParallel when N > 1. Rank 0 prints the epoch's wall
time and images per second (median of --epochs epochs after one warm-up epoch of --warmup
steps), the step time, and two communication times per step:
* "exposed": time the step spends in DDP's all-reduces of the buckets during backward
  (blocking calls; this includes waiting for the slower rank) and in handing out the averages;
* "alone": the same all-reduces of the buckets, timed by themselves after the epoch (in shared
  memory: the barrier and every parameter's sum over the ranks' buckets).
With every rank on one machine DDP sums the buckets in shared memory; NDGRAD_DDP_SHARED_MEMORY=0
(pass it with mpirun -x) makes it use MPI_Allreduce, as across machines. --bucket-view builds
DDP with gradient_as_bucket_view=True.
Compare the images/s of the two runs for the throughput ratio. Both ranks share this
machine's cores with whatever else runs on it: repeat the pair of runs to see the spread.

--torch runs the same epoch on PyTorch (torch.distributed over gloo, rank and size from MPI,
torch.set_num_threads(1)): torch's own DDP ratio on this machine, for reference.

--no-ddp trains each rank on its shard without DistributedDataParallel (no communication, the
ranks drift apart): the ceiling for N ranks on this machine, which leaves out only what DDP
adds (copies into buckets, the all-reduce, waiting for the slower rank). --no-ddp --barrier
adds a barrier after each step: what waiting for the slower rank alone costs, so that DDP's
own share (copies and all-reduce) is the difference between that run and the DDP run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

import ndgrad
import ndgrad.distributed as dist
from ndgrad import nn
from ndgrad.datasets import MNIST
from ndgrad.nn.parallel import DistributedDataParallel
from ndgrad.nn.parallel.distributed import _Reducer
from ndgrad.utils.data import DataLoader, DistributedSampler, TensorDataset


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=50, help="steps before the timed epochs")
    p.add_argument("--batch-size", type=int, default=128, help="global batch")
    p.add_argument("--bucket-view", action="store_true",
                   help="DDP(gradient_as_bucket_view=True): .grad are views of the buckets")
    p.add_argument("--no-ddp", action="store_true",
                   help="each rank trains alone on its shard (no communication): the ceiling")
    p.add_argument("--barrier", action="store_true",
                   help="with --no-ddp: a barrier after each step (the cost of synchronising)")
    p.add_argument("--torch", action="store_true",
                   help="the same epoch on PyTorch (DDP over gloo), for reference")
    args = p.parse_args()
    if args.barrier and not args.no_ddp:
        p.error("--barrier goes with --no-ddp (DDP synchronises the ranks itself)")

    from threadpoolctl import threadpool_limits
    threadpool_limits(1)  # one BLAS thread per rank
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()

    ds = MNIST(root=args.data, train=True)
    x = ((ds.data.numpy() / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081))
    if args.torch:
        _torch_epochs(args, x[:, None].astype(np.float32), ds.targets.numpy(), rank, world)
        dist.destroy_process_group()
        return
    train = TensorDataset(ndgrad.from_numpy(x[:, None].astype(np.float32)), ds.targets)
    ndgrad.manual_seed(0)
    model: nn.Module = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))
    ddp = world > 1 and not args.no_ddp
    if ddp:
        model = DistributedDataParallel(model, gradient_as_bucket_view=args.bucket_view)
    opt = ndgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    sampler = DistributedSampler(train, world, rank, seed=0)
    loader = DataLoader(train, batch_size=args.batch_size // world, sampler=sampler,
                        drop_last=True)

    exposed = [0.0]

    def timed(method: Any) -> Any:
        def run(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return method(*args)
            finally:
                exposed[0] += time.perf_counter() - t0
        return run
    _Reducer._reduce = timed(_Reducer._reduce)  # type: ignore[method-assign]
    _Reducer._finalize = timed(_Reducer._finalize)  # type: ignore[method-assign]

    seconds, steps, waits = _train(args, nn.functional, model, opt, loader, sampler,
                                   dist.barrier, exposed)
    alone = 0.0
    if ddp:
        reducer = model._reducer  # type: ignore[union-attr]
        times = []
        for _ in range(200):
            dist.barrier()
            t0 = time.perf_counter()
            if reducer.window is None:
                for bucket in reducer.buckets:
                    reducer._reduce(bucket)
            else:  # one barrier, then each parameter's average summed from every rank's bucket
                reducer.window.sync()
                for b, bucket in enumerate(reducer.buckets):
                    for k in range(len(bucket.params)):
                        reducer._shared_average(b, k, None)
            times.append(time.perf_counter() - t0)
        alone = statistics.median(times)
    if rank == 0:
        _report(args, world, "", seconds, steps, waits, alone)
    dist.destroy_process_group()


def _train(args: argparse.Namespace, functional: Any, model: Any, opt: Any, loader: Any,
           sampler: Any, barrier: Any, exposed: list[float],
           ) -> tuple[list[float], int, list[float]]:
    """The warm-up steps, then the timed epochs, on either library: each epoch's seconds, its
    steps, and each epoch's ``exposed`` time (what the timed reducer methods add up) per step."""
    def step(xb: Any, yb: Any) -> None:
        loss = functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if args.barrier:
            barrier()

    for i, (xb, yb) in enumerate(loader):  # warm-up: caches, allocator, MPI connections
        if i == args.warmup:
            break
        step(xb, yb)
    seconds, steps, waits = [], 0, []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch + 1)
        barrier()
        exposed[0] = 0.0
        t0 = time.perf_counter()
        steps = 0
        for xb, yb in loader:
            step(xb, yb)
            steps += 1
        seconds.append(time.perf_counter() - t0)
        waits.append(exposed[0] / steps)
    return seconds, steps, waits


def _report(args: argparse.Namespace, world: int, framework: str, seconds: list[float],
            steps: int, waits: list[float], alone: float) -> None:
    sec = statistics.median(seconds)
    images = steps * args.batch_size
    mode = (" (no DDP, a barrier each step)" if args.barrier else " (no DDP)") \
        if args.no_ddp else ""
    comm = "" if framework else (
        f"; all-reduce per step: exposed {1e3 * statistics.median(waits):.3f} ms, alone "
        f"{1e3 * alone:.3f} ms")
    print(f"{framework}ranks={world}{mode} epochs: {', '.join(f'{s:.2f}' for s in seconds)} s; "
          f"median {sec:.2f} s = {images / sec:.0f} images/s; step {1e3 * sec / steps:.2f} ms"
          f"{comm}")


def _torch_epochs(args: argparse.Namespace, x: np.ndarray, y: np.ndarray, rank: int,
                  world: int) -> None:
    """The same epochs on PyTorch: its DistributedDataParallel over gloo (a TCP rendezvous on
    localhost, rank and size from MPI), so that torch's own ratio on this machine is measured
    beside ndgrad's. Only the wall time is reported (no per-step all-reduce times)."""
    import torch
    import torch.distributed as tdist
    from torch.utils.data import DataLoader as TLoader
    from torch.utils.data import DistributedSampler as TSampler
    from torch.utils.data import TensorDataset as TData

    torch.set_num_threads(1)
    port = _free_port(rank)
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                             world_size=world)
    tnn = torch.nn
    torch.manual_seed(0)
    model: Any = tnn.Sequential(
        tnn.Flatten(), tnn.Linear(784, 512), tnn.ReLU(), tnn.Dropout(0.2),
        tnn.Linear(512, 256), tnn.ReLU(), tnn.Dropout(0.2), tnn.Linear(256, 10))
    if world > 1 and not args.no_ddp:
        model = tnn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    train = TData(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))
    sampler: Any = TSampler(train, world, rank, seed=0)
    loader = TLoader(train, batch_size=args.batch_size // world, sampler=sampler,
                     drop_last=True)

    seconds, steps, _ = _train(args, tnn.functional, model, opt, loader, sampler,
                               tdist.barrier, [0.0])
    if rank == 0:
        _report(args, world, "torch ", seconds, steps, [0.0], 0.0)
    tdist.destroy_process_group()


def _free_port(rank: int) -> int:
    """A free TCP port on localhost, chosen by rank 0 and sent to every rank."""
    port = 0
    if rank == 0:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    return int(dist.group.WORLD.comm.bcast(port, root=0))  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
