"""DistributedDataParallel: one model replica per process, gradients averaged across them.

Each process runs forward and backward on its own part of the global batch. Gradients are
grouped into buckets (flat arrays of about ``bucket_cap_mb``, in reverse parameter order, since
the last layers' gradients are computed first); as soon as every gradient of a bucket is ready,
the bucket is all-reduced over the processes (in bucket order, the same on every process, as MPI
requires), and each parameter's ``.grad`` then holds its average over the processes. The
optimizer step runs unchanged, identically on every process.

As in torch, each gradient is divided by the number of processes as it is copied into its
bucket, so the all-reduce's sum is the average (exact for a power-of-two number of processes,
within rounding otherwise).

How DDP learns that a gradient is ready: a hook on each parameter (``Tensor.register_hook``),
which sees the gradient just before the engine adds it to ``.grad``. As in PyTorch, the engine
runs a hooked leaf as soon as its last gradient has arrived, so a bucket's all-reduce starts
during backward, while earlier layers' gradients are still to be computed.

Two ways to sum a bucket, chosen when DDP is built:
* Every rank on one machine (the usual case for ``mpirun -n N`` on a workstation): the buckets
  live in memory all ranks map (an MPI shared-memory window), kept from step to step. Each rank
  sums its 1/N of every bucket over the ranks' buckets and writes the sum into all of them,
  between two barriers. A new ``.grad`` is a copy of its slot, since the next backward writes
  the bucket again; with ``gradient_as_bucket_view=True`` it is the slot's view (no copy, as in
  torch: the next backward then overwrites it). On a 2-core machine this took 0.06 ms
  for MNIST's 2.1 MB of gradients, against 0.2-1.1 ms for ``MPI_Allreduce``, whose copies go
  through the kernel, bimodally from run to run.
* Ranks on several machines (or ``NDGRAD_DDP_SHARED_MEMORY=0`` on any rank): each backward
  fills new bucket arrays and sums them with a blocking ``MPI_Allreduce``; a parameter without
  a ``.grad`` gets a view of its slot. Blocking, because a non-blocking one (MPI_Iallreduce,
  then a wait) took 0.51-1.05 ms against 0.25-0.43 ms, and a single-threaded process makes no
  progress on it while it computes.
Either way a ``.grad`` that already exists, when gradients accumulate, gets the average written
into it.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ndgrad.autograd import is_grad_enabled
from ndgrad.autograd.engine import _reachable
from ndgrad.distributed.process_group import ProcessGroup, SharedArrays, _default_group, _mpi
from ndgrad.nn.module import Module
from ndgrad.tensor import Tensor

_MB = 1024 * 1024
_DEFAULT_FIRST_BUCKET_BYTES = 1 * _MB  # as torch: the first-defined parameters get a small
_DEFAULT_BUCKET_CAP_MB = 25  # bucket of their own, so the last all-reduce starts early


def _compute_bucket_assignment_by_size(tensors: Sequence[Tensor],
                                       limits: list[int]) -> list[list[int]]:
    """Group tensor indices into buckets, torch's way: walk the tensors in order, one open
    bucket per dtype; a bucket closes once it holds ``limit`` bytes or more, and the next
    bucket of that dtype takes the next limit (the last one repeats). Buckets are ordered by
    their first index."""
    open_buckets: dict[np.dtype, tuple[list[int], int]] = {}  # dtype -> (indices, bytes)
    limit_index: dict[np.dtype, int] = {}
    done: list[list[int]] = []
    for i, t in enumerate(tensors):
        dt = t._data.dtype
        indices, size = open_buckets.get(dt, ([], 0))
        indices.append(i)
        size += t._data.nbytes
        k = limit_index.setdefault(dt, 0)
        if size >= limits[k]:
            done.append(indices)
            open_buckets.pop(dt, None)
            limit_index[dt] = min(k + 1, len(limits) - 1)
        else:
            open_buckets[dt] = (indices, size)
    done.extend(indices for indices, _ in open_buckets.values())
    return sorted(done, key=min)


class _Bucket:
    """Parameters whose gradients travel in one flat array, ``buffer``.

    On one machine ``shared[r]`` is rank r's buffer, in memory every rank maps, kept from one
    backward to the next; rank r sums the ``chunk`` it owns. Otherwise (``shared`` None) each
    backward gets a new buffer, and MPI sums it."""

    def __init__(self, params: list[Tensor], shared: list[np.ndarray] | None = None,
                 rank: int = 0) -> None:
        self.params = params
        sizes = [p._data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.shared = shared
        # a new one for each backward, or this rank's part of the shared memory
        self.buffer = np.empty(0, params[0]._data.dtype) if shared is None else shared[rank]
        n, ranks = self.offsets[-1], 1 if shared is None else len(shared)
        self.chunk = slice(n * rank // ranks, n * (rank + 1) // ranks)
        self.pending = len(params)

    def renew(self) -> None:
        """Ready for the next backward: a new buffer, since the last one's slots may live on
        as .grad (a shared buffer is copied out of instead)."""
        if self.shared is None:
            self.buffer = np.empty(self.offsets[-1], self.buffer.dtype)
        self.pending = len(self.params)

    def view(self, k: int) -> np.ndarray:
        """Parameter k's slot in the buffer, shaped like the parameter."""
        return self.buffer[self.offsets[k]:self.offsets[k + 1]].reshape(self.params[k].shape)


class _Reducer:
    """Collects gradients into buckets during backward and averages them over the group."""

    def __init__(self, params: Sequence[Tensor], names: list[str],
                 bucket_indices: list[list[int]], pg: ProcessGroup,
                 find_unused_parameters: bool, gradient_as_bucket_view: bool = False) -> None:
        self.params, self.names, self.pg = params, names, pg
        self.find_unused = find_unused_parameters
        self.as_view = gradient_as_bucket_view
        self.bucket_indices = bucket_indices
        groups = [[params[i] for i in idx] for idx in bucket_indices]
        self.window = _shared_window(pg, groups)
        if self.window is None:
            self.buckets = [_Bucket(g) for g in groups]
        else:
            self.buckets = [_Bucket(g, shared, self.window.rank)
                            for g, shared in zip(groups, _carve(self.window.arrays, groups))]
        # parameter index -> (bucket number, slot in the bucket)
        self.where = {i: (b, k) for b, idx in enumerate(bucket_indices) for k, i in enumerate(idx)}
        self.expect_hooks = False  # a backward that must reduce is under way
        self.ready = np.zeros(len(params), bool)
        self.fresh = np.zeros(len(params), bool)  # had no .grad when its gradient came
        self.used = np.ones(len(params), np.int32)
        self.next_bucket = 0
        ref = weakref.ref(self)  # the hooks must not keep the reducer alive
        self.handles = [p.register_hook(_make_hook(ref, i)) for i, p in enumerate(params)]

    # -- one iteration ---------------------------------------------------------------------
    def check_finished(self) -> None:
        """A new forward may start only once the last backward's reduction has finished."""
        if not self.expect_hooks:
            return
        missing = [self.names[i] for i in np.flatnonzero(~self.ready)]
        raise RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new "
            "one. This error indicates that your module has parameters that were not used in "
            "producing loss. You can enable unused parameter detection by passing the keyword "
            "argument `find_unused_parameters=True` to `ndgrad.nn.parallel."
            "DistributedDataParallel`, and by making sure all `forward` function outputs "
            "participate in calculating loss. Parameters that did not receive a gradient on "
            f"this rank ({self.pg.rank()}): {', '.join(missing)}")

    def prepare_for_backward(self, outputs: Any) -> None:
        """Called after each forward that will be followed by a synchronising backward."""
        self.expect_hooks = True
        self.ready[:] = False
        self.next_bucket = 0
        for bucket in self.buckets:
            bucket.renew()
        if not self.find_unused:
            return
        reached = _reachable_leaves(outputs)
        self.used[:] = [id(p) in reached for p in self.params]
        for i in np.flatnonzero(self.used == 0).tolist():  # no gradient will come: ready now
            self._fill(i, None)
            self._mark_ready(i)
        if self.ready.all():
            self._finalize(None)

    def hook(self, i: int, grad: Tensor) -> Tensor | None:
        """Parameter i's gradient for this backward is ``grad``: put (.grad + grad) / size in
        its slot."""
        if not self.expect_hooks:  # no_sync(), or a backward DDP's forward did not prepare
            return None
        if self.ready[i]:
            raise RuntimeError(f"Expected to mark a variable ready only once; parameter "
                               f"{self.names[i]} got a second gradient in one backward (a "
                               f"second backward through the same forward?)")
        self._fill(i, grad._data)
        if self.as_view:  # .grad may be this slot: the engine must not add into it now
            self.params[i]._grad = None  # (_finalize makes .grad the slot's view)
        self._mark_ready(i)
        if self.ready.all():
            return self._finalize(i)
        return None

    def _fill(self, i: int, grad: np.ndarray | None) -> None:
        """Parameter i's slot = (.grad + grad) / size, either of them None (no gradient this
        backward, or none before): the copy into the bucket and the averaging in one pass."""
        b, k = self.where[i]
        old = self.params[i]._grad
        slot = self.buckets[b].view(k)
        self.fresh[i] = old is None
        size = self.pg.size()
        if old is None:
            np.divide(0 if grad is None else grad, size, out=slot)
        elif grad is None:
            np.divide(old._data, size, out=slot)
        else:
            np.add(old._data, grad, out=slot)
            slot /= size

    def _mark_ready(self, i: int) -> None:
        """Parameter i's slot is filled; all-reduce every complete bucket, in order."""
        self.ready[i] = True
        b, _ = self.where[i]
        self.buckets[b].pending -= 1
        while self.next_bucket < len(self.buckets) and \
                not self.buckets[self.next_bucket].pending:
            self._reduce(self.buckets[self.next_bucket])
            self.next_bucket += 1

    def _reduce(self, bucket: _Bucket) -> None:
        """Sum the bucket over the processes, in place (its slots hold gradient / size)."""
        if bucket.shared is None:
            MPI = _mpi()
            self.pg.comm.Allreduce(MPI.IN_PLACE, bucket.buffer, MPI.SUM)
            return
        assert self.window is not None
        # in shared memory: each rank sums its chunk over the ranks' buffers (in rank order,
        # once, so every rank gets the same bits) and writes the sum into all of them
        self.window.sync()  # every rank's slots are filled
        parts = [buffer[bucket.chunk] for buffer in bucket.shared]
        total = parts[0]
        for part in parts[1:]:
            np.add(total, part, out=total)
        for part in parts[1:]:
            np.copyto(part, total)
        self.window.sync()  # every chunk is summed everywhere

    def _finalize(self, current: int | None) -> Tensor | None:
        """Once every bucket is reduced: give each parameter its average as ``.grad``.
        Parameter ``current``, whose hook is running, gets its average through the hook's
        return value."""
        MPI = _mpi()
        self.expect_hooks = False
        used = self.used
        if self.find_unused:  # a parameter unused on every rank keeps its .grad untouched
            used = self.used.copy()
            self.pg.comm.Allreduce(MPI.IN_PLACE, used, MPI.SUM)
        result = None
        for i, p in enumerate(self.params):
            if not used[i]:
                continue
            b, k = self.where[i]
            average = self.buckets[b].view(k)
            # a view of the bucket may become .grad, unless the next backward writes it again
            view_ok = self.as_view or self.buckets[b].shared is None
            if i == current and self.as_view:  # the engine adds the hook's result to .grad:
                p._grad = Tensor._make(average)  # zeros keep .grad the slot's view
                result = Tensor._make(np.zeros_like(average))
            elif i == current:
                p._grad = None  # the engine takes the returned average as .grad
                result = Tensor._make(average if view_ok else average.copy())
            elif p._grad is None or (view_ok and (self.fresh[i] or self.as_view)):
                p._grad = Tensor._make(average if view_ok else average.copy())
            else:  # the .grad the user had, or the engine's own array for a fresh one
                np.copyto(p._grad._data, average)
                p._grad._bump_version()
        return result


def _make_hook(ref: Any, i: int) -> Any:
    def hook(grad: Tensor) -> Tensor | None:
        reducer = ref()
        return None if reducer is None else reducer.hook(i, grad)
    return hook


def _shared_window(pg: ProcessGroup, buckets: list[list[Tensor]]) -> SharedArrays | None:
    """Shared memory for the buckets when every rank runs on this machine (and
    ``NDGRAD_DDP_SHARED_MEMORY`` is not 0 on any rank); None to sum with MPI instead.

    Summing in shared memory is ndgrad's own all-reduce: on one 2-core machine, 0.06 ms for
    MNIST's 2.1 MB against 0.2-1.1 ms for MPI_Allreduce, whose copies go through the kernel."""
    MPI = _mpi()
    wanted = pg.one_machine() and os.environ.get("NDGRAD_DDP_SHARED_MEMORY", "1") != "0"
    agree = np.array([wanted], np.int32)
    pg.comm.Allreduce(MPI.IN_PLACE, agree, MPI.MIN)
    if not agree[0]:
        return None
    return pg.shared_arrays(sum(_aligned(b) for b in buckets))


def _aligned(params: list[Tensor]) -> int:
    """Bytes a bucket takes in shared memory: its gradients, rounded up to a cache line."""
    return -(-sum(p._data.nbytes for p in params) // 64) * 64


def _carve(arrays: list[np.ndarray], buckets: list[list[Tensor]]) -> list[list[np.ndarray]]:
    """Each bucket's buffers, one per rank: consecutive pieces of the ranks' byte arrays."""
    out, start = [], 0
    for params in buckets:
        size = sum(p._data.size for p in params)
        dtype = params[0]._data.dtype
        out.append([a[start:start + size * dtype.itemsize].view(dtype) for a in arrays])
        start += _aligned(params)
    return out


def _tensors_in(obj: Any) -> Iterator[Tensor]:
    """The tensors in a forward's output (nested in tuples, lists and dicts)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, list | tuple):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


def _reachable_leaves(outputs: Any) -> set[int]:
    """ids of the leaf tensors whose gradient a backward from ``outputs`` would reach."""
    tensors = list(_tensors_in(outputs))
    leaves = {id(t) for t in tensors if t.grad_fn is None and t.requires_grad}
    nodes = _reachable([t.grad_fn for t in tensors if t.grad_fn is not None])
    # a leaf's AccumulateGrad node holds it as .variable
    return leaves | {id(n.variable) for n in nodes if hasattr(n, "variable")}


class DistributedDataParallel(Module):
    """Data parallelism over the processes of ``process_group`` (default: the whole job).

    Building it broadcasts rank 0's parameters and buffers to every rank. Each forward (with
    ``broadcast_buffers``) first copies rank 0's buffers, e.g. BatchNorm's running statistics.
    Each backward averages the gradients over the ranks (see the module docstring).
    ``no_sync()`` skips the averaging, to accumulate gradients locally over several steps.
    ``find_unused_parameters=True`` lets a forward leave some parameters unused (found by
    walking the graph from its outputs); without it such a parameter stops the next forward
    with an error. ``state_dict()`` keys start with ``module.``, as in torch.

    ``gradient_as_bucket_view=True`` makes each ``.grad`` a view of its bucket (see the module
    docstring), which saves a copy per step; a ``.grad`` kept from one step is then overwritten
    by the next backward, as in torch. ``static_graph`` is accepted for compatibility (a speed
    hint in torch that changes no result).
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, init_sync: bool = True,
                 process_group: ProcessGroup | None = None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps an nn.Module, got "
                            f"{type(module).__name__}")
        if device_ids is not None or output_device is not None:
            raise ValueError(f"DistributedDataParallel device_ids and output_device arguments "
                             f"only work with GPU modules; ndgrad's modules are on the CPU, so "
                             f"leave them None (got device_ids {device_ids}, output_device "
                             f"{output_device})")
        pg = _default_group(process_group)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self.module = module
        self.process_group = pg
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        cap_mb = _DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        self.bucket_bytes_cap = int(cap_mb * _MB)
        _verify_shapes_across_processes(pg, module)
        if init_sync:
            _broadcast_all(pg, [t for _, t in module.state_dict(keep_vars=True).items()])
        params = [p for _, p in named]
        first = _DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        buckets = _compute_bucket_assignment_by_size(params, [first, self.bucket_bytes_cap])
        self._reducer = _Reducer(params, [n for n, _ in named], list(reversed(buckets)), pg,
                                 find_unused_parameters, gradient_as_bucket_view)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        sync_grads = is_grad_enabled() and self.require_backward_grad_sync
        if is_grad_enabled():
            self._reducer.check_finished()
        if self.require_forward_param_sync and self.broadcast_buffers:
            _broadcast_all(self.process_group, [b for _, b in self.module.named_buffers()])
        out = self.module(*inputs, **kwargs)
        # as torch: buffers are synced before a forward only if the previous one trained
        self.require_forward_param_sync = sync_grads
        if sync_grads:
            self._reducer.prepare_for_backward(out)
        return out

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, forward+backward only accumulate ``.grad`` locally; the first backward after
        it averages the accumulated gradients. Include the forward in the ``with`` block."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def extra_repr(self) -> str:
        return ""


def _broadcast_all(pg: ProcessGroup, tensors: list[Tensor]) -> None:
    """Copy rank 0's values into every rank's tensors, in place (shapes were checked)."""
    for t in tensors:
        a = t._data
        buf = a if a.flags.c_contiguous else np.ascontiguousarray(a)
        pg.comm.Bcast(buf, root=0)
        if pg.rank() != 0:
            if buf is not a:
                np.copyto(a, buf)
            t._bump_version()


def _verify_shapes_across_processes(pg: ProcessGroup, module: Module) -> None:
    """Every rank must wrap the same architecture: compare names, shapes and dtypes."""
    mine = [(n, t._data.shape, t._data.dtype.str)
            for n, t in module.state_dict(keep_vars=True).items()]
    first = pg.comm.bcast(mine, root=0)
    if mine != first:
        diff = [f"{a} here vs {b} on rank 0" for a, b in zip(mine, first) if a != b]
        if len(mine) != len(first):
            diff.append(f"{len(mine)} entries here vs {len(first)} on rank 0")
        ok = np.array([0], np.int32)
    else:
        diff, ok = [], np.array([1], np.int32)
    pg.comm.Allreduce(_mpi().IN_PLACE, ok, _mpi().MIN)  # every rank fails if one does
    if not ok[0]:
        detail = "; ".join(diff[:5]) or "another rank's module differs from rank 0's"
        raise RuntimeError(f"DistributedDataParallel: the ranks wrap different modules (names, "
                           f"shapes or dtypes of parameters and buffers differ): {detail}")
