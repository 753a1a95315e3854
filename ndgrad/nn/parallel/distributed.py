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
  live in memory all ranks map (an MPI shared-memory window), kept from step to step, two sets
  used in turn. Once every bucket is filled, one barrier; then each rank sums every
  parameter's slots over all ranks' buckets (in rank order, so every rank gets the same bits)
  straight into that parameter's ``.grad``. No rank writes another's memory, and the next
  backward fills the other set, which every rank finished reading before it reached that
  barrier: one barrier a step, and the sum and the copy into ``.grad`` are one pass. Each rank
  reads all N buckets, which suits the few ranks one machine runs. With
  ``gradient_as_bucket_view=True`` each ``.grad`` is a view of a bucket of sums private to the
  rank (as in torch, the next backward overwrites it). On a 2-core machine the buckets' sum
  took 0.06 ms for MNIST's 2.1 MB of gradients, against 0.2-1.1 ms for ``MPI_Allreduce``,
  whose copies go through the kernel, bimodally from run to run.
* Ranks on several machines (or ``NDGRAD_DDP_SHARED_MEMORY=0`` on any rank): each backward
  fills new bucket arrays and sums them with a blocking ``MPI_Allreduce``; a parameter without
  a ``.grad`` gets a view of its slot. Blocking, because a non-blocking one (MPI_Iallreduce,
  then a wait) took 0.51-1.05 ms against 0.25-0.43 ms, and a single-threaded process makes no
  progress on it while it computes.
Either way a ``.grad`` that already exists, when gradients accumulate, gets the average written
into it.

A communication hook (``register_comm_hook``) replaces both: its bucket holds the gradients
undivided, the hook returns a Future of the averaged bucket, and DDP waits for every bucket's
Future once the last bucket is handed out, then gives out the ``.grad`` as above.
"""

from __future__ import annotations

import inspect
import os
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ndgrad.autograd import is_grad_enabled
from ndgrad.autograd.engine import _reachable
from ndgrad.distributed.grad_bucket import BuiltinCommHookType, GradBucket
from ndgrad.distributed.process_group import ProcessGroup, SharedArrays, _default_group, _mpi
from ndgrad.futures import Future
from ndgrad.nn.hooks import _tensors
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

    On one machine ``phases[f][r]`` is rank r's buffer in memory every rank maps, two of them
    (f = 0, 1) used in turn, one backward each: ``shared`` is this backward's, one per rank.
    Otherwise (``shared`` None) each backward gets a new buffer, and MPI sums it."""

    def __init__(self, params: list[Tensor], phases: list[list[np.ndarray]] | None = None,
                 rank: int = 0) -> None:
        self.params = params
        sizes = [p._data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.phases, self.rank, self.phase = phases, rank, 1
        self.shared: list[np.ndarray] | None = None
        self.buffer = np.empty(0, params[0]._data.dtype)
        self.result: np.ndarray | None = None  # gradient_as_bucket_view's sums, on one machine
        self.pending = len(params)

    def renew(self) -> None:
        """Ready for the next backward: a new buffer, since the last one's slots may live on
        as .grad; on one machine the other phase's buffers, which the other ranks stopped
        reading before they filled this backward's buckets (see ``_Reducer._finalize``)."""
        if self.phases is None:
            self.buffer = np.empty(self.offsets[-1], self.buffer.dtype)
        else:
            self.phase ^= 1
            self.shared = self.phases[self.phase]
            self.buffer = self.shared[self.rank]
        self.pending = len(self.params)

    def view(self, k: int, buffer: np.ndarray | None = None) -> np.ndarray:
        """Parameter k's slot in ``buffer`` (default this rank's), shaped like the parameter."""
        flat = self.buffer if buffer is None else buffer
        return flat[self.offsets[k]:self.offsets[k + 1]].reshape(self.params[k].shape)


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
            self.buckets = [_Bucket(g, phases, self.window.rank)
                            for g, phases in zip(groups, _carve(self.window.arrays, groups))]
        # parameter index -> (bucket number, slot in the bucket)
        self.where = {i: (b, k) for b, idx in enumerate(bucket_indices) for k, i in enumerate(idx)}
        # register_comm_hook's (hook, state), and the Futures of this backward's buckets
        self.comm_hook: tuple[Callable[..., Any], Any] | None = None
        self.futures: list[Any] = []
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
        self.futures = []
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
        size = 1 if self.comm_hook else self.pg.size()  # a hook averages by itself
        if old is None:
            np.divide(0 if grad is None else grad, size, out=slot)
        elif grad is None:
            np.divide(old._data, size, out=slot)
        else:
            np.add(old._data, grad, out=slot)
            if size != 1:
                slot /= size

    def _mark_ready(self, i: int) -> None:
        """Parameter i's slot is filled; all-reduce every complete bucket, in order."""
        self.ready[i] = True
        b, _ = self.where[i]
        self.buckets[b].pending -= 1
        while self.next_bucket < len(self.buckets) and \
                not self.buckets[self.next_bucket].pending:
            if self.comm_hook is not None:
                self._run_comm_hook(self.next_bucket)
            elif self.window is None:
                self._reduce(self.buckets[self.next_bucket])
            # (in shared memory, every bucket is summed at once by _finalize)
            self.next_bucket += 1

    def _run_comm_hook(self, b: int) -> None:
        """Hand bucket b to the registered hook; its Future is waited for in _finalize."""
        hook, state = self.comm_hook  # type: ignore[misc]
        bucket = self.buckets[b]
        grad_bucket = GradBucket(b, bucket.buffer, bucket.offsets, bucket.params,
                                 b == len(self.buckets) - 1)
        fut = hook(state, grad_bucket)
        if not isinstance(fut, Future):
            raise TypeError(f"DDP communication hook {_hook_name(hook)} must return an "
                            f"ndgrad.futures.Future holding the bucket's new tensor, got "
                            f"{type(fut).__name__}")
        self.futures.append(fut)

    def _hook_results(self) -> None:
        """Wait for each bucket's Future and write its tensor into the bucket."""
        hook = _hook_name(self.comm_hook[0])  # type: ignore[index]
        for b, fut in enumerate(self.futures):
            result, buffer = fut.wait(), self.buckets[b].buffer
            if isinstance(result, list) and len(result) == 1:
                result = result[0]  # a collective's own Future holds [tensor]
            if not isinstance(result, Tensor) or result._data.size != buffer.size:
                got = (f"a tensor of {result._data.size} elements"
                       if isinstance(result, Tensor) else type(result).__name__)
                raise RuntimeError(f"DDP communication hook {hook}: bucket {b}'s Future must "
                                   f"hold one tensor of the bucket's {buffer.size} elements, "
                                   f"got {got}")
            if result._data is not buffer:
                np.copyto(buffer, result._data.reshape(-1), casting="same_kind")
        self.futures = []

    def _reduce(self, bucket: _Bucket) -> None:
        """Sum the bucket over the processes with MPI, in place (its slots hold gradient /
        size)."""
        MPI = _mpi()
        self.pg.comm.Allreduce(MPI.IN_PLACE, bucket.buffer, MPI.SUM)

    def _shared_average(self, b: int, k: int, out: np.ndarray | None) -> np.ndarray:
        """In shared memory: parameter k of bucket b summed over the ranks' buffers (its
        average: each holds gradient / size), in rank order so every rank gets the same bits,
        into ``out`` (a new array if None)."""
        bucket = self.buckets[b]
        assert bucket.shared is not None
        slots = [bucket.view(k, buffer) for buffer in bucket.shared]
        if len(slots) == 1:  # a group of one
            if out is None:
                return slots[0].copy()
            np.copyto(out, slots[0])
            return out
        total = np.add(slots[0], slots[1], out=out)
        for slot in slots[2:]:
            total += slot
        return total  # type: ignore[no-any-return]

    def _finalize(self, current: int | None) -> Tensor | None:
        """Once every bucket is reduced: give each parameter its average as ``.grad``.
        Parameter ``current``, whose hook is running, gets its average through the hook's
        return value."""
        MPI = _mpi()
        self.expect_hooks = False
        if self.comm_hook is not None:
            self._hook_results()
        elif self.window is not None:
            # every rank's buckets are filled: from here each rank reads all of them. A rank
            # fills the other phase's buffers in its next backward and then waits here again
            # for the others, who are done reading this phase by then: one barrier a step
            self.window.sync()
        used = self.used
        if self.find_unused:  # a parameter unused on every rank keeps its .grad untouched
            used = self.used.copy()
            self.pg.comm.Allreduce(MPI.IN_PLACE, used, MPI.SUM)
        result = None
        for i, p in enumerate(self.params):
            if not used[i]:
                continue
            b, k = self.where[i]
            if self.buckets[b].shared is not None and self.comm_hook is None:
                given = self._give_shared(i, p, b, k, current)
                result = result if given is None else given
                continue
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

    def _give_shared(self, i: int, p: Tensor, b: int, k: int,
                     current: int | None) -> Tensor | None:
        """``.grad`` of parameter i, summed from the shared buckets: into the .grad it has
        (the user's, or the engine's own new array), else a new array; with
        gradient_as_bucket_view, into this rank's private result bucket, whose view .grad is.
        Returns the hook's result for ``current`` (see _finalize)."""
        bucket = self.buckets[b]
        if self.as_view:
            if bucket.result is None:
                bucket.result = np.empty(bucket.offsets[-1], bucket.buffer.dtype)
            view = bucket.view(k, bucket.result)
            self._shared_average(b, k, view)
            p._grad = Tensor._make(view)
            # the engine adds the hook's result to .grad: zeros keep .grad the view
            return Tensor._make(np.zeros_like(view)) if i == current else None
        if i == current:
            p._grad = None  # the engine takes the returned average as .grad
            return Tensor._make(self._shared_average(b, k, None))
        if p._grad is None:
            p._grad = Tensor._make(self._shared_average(b, k, None))
        else:
            self._shared_average(b, k, p._grad._data)
            p._grad._bump_version()
        return None


def _hook_name(hook: Any) -> str:
    return getattr(hook, "__qualname__", None) or repr(hook)


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
    return pg.shared_arrays(2 * sum(_aligned(b) for b in buckets))  # two phases


def _aligned(params: list[Tensor]) -> int:
    """Bytes a bucket takes in shared memory: its gradients, rounded up to a cache line."""
    return -(-sum(p._data.nbytes for p in params) // 64) * 64


def _carve(arrays: list[np.ndarray],
          buckets: list[list[Tensor]]) -> list[list[list[np.ndarray]]]:
    """Each bucket's buffers, two phases of one per rank: consecutive pieces of the ranks'
    byte arrays (the second phase after the first)."""
    out: list[list[list[np.ndarray]]] = [[] for _ in buckets]
    start = 0
    for _ in range(2):
        for phases, params in zip(out, buckets):
            size = sum(p._data.size for p in params)
            dtype = params[0]._data.dtype
            phases.append([a[start:start + size * dtype.itemsize].view(dtype) for a in arrays])
            start += _aligned(params)
    return out


def _reachable_leaves(outputs: Any) -> set[int]:
    """ids of the leaf tensors whose gradient a backward from ``outputs`` would reach."""
    tensors = list(_tensors(outputs))
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
        # torch's test: an empty device_ids (what torch.cuda.device_count() gives on a CPU
        # machine) and output_device=0 are accepted for CPU modules
        if device_ids or output_device:
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
        self.device_ids: list[int] | None = None  # as torch's for CPU modules
        self.output_device: int | None = None
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

    def register_comm_hook(self, state: object, hook: Callable[..., Any]) -> None:
        """Replace how each bucket is averaged: ``hook(state, bucket)`` gets a ``GradBucket``
        once the bucket's gradients are in it (not divided by the world size) and returns an
        ``ndgrad.futures.Future`` of the bucket's new flat tensor, which DDP copies into the
        parameters' ``.grad`` at the end of backward. Once only, before the first backward
        (see ``ndgrad.distributed.algorithms.ddp_comm_hooks`` for torch's hooks)."""
        if not callable(hook):
            raise TypeError("Communication hook must be callable.")
        sig = inspect.signature(hook)
        bucket = sig.parameters.get("bucket")
        # (a string annotation, under ``from __future__ import annotations``, is not judged)
        if bucket is not None and bucket.annotation not in (inspect.Parameter.empty,
                                                            GradBucket) \
                and not isinstance(bucket.annotation, str):
            raise ValueError("Communication hook: bucket annotation should be dist.GradBucket.")
        if sig.return_annotation not in (inspect.Signature.empty, Future[Tensor]) \
                and not isinstance(sig.return_annotation, str):
            raise ValueError("Communication hook: return annotation should be "
                             "ndgrad.futures.Future[ndgrad.Tensor].")
        if getattr(hook, "__name__", "") in ("bf16_compress_hook", "bf16_compress_wrapper_hook"):
            from ndgrad.distributed.algorithms.ddp_comm_hooks.default_hooks import _NO_BF16
            raise TypeError(_NO_BF16)
        self._register_hook(hook, state)

    def register_builtin_comm_hook(self, comm_hook_type: BuiltinCommHookType) -> None:
        """torch's C++ hooks by name: ALLREDUCE (what DDP does without a hook) and
        FP16_COMPRESS, over this DDP's process group."""
        from ndgrad.distributed.algorithms.ddp_comm_hooks import default_hooks
        if not isinstance(comm_hook_type, BuiltinCommHookType):
            raise TypeError(f"register_builtin_comm_hook takes a dist.BuiltinCommHookType, got "
                            f"{comm_hook_type!r}")
        hook = default_hooks.allreduce_hook if comm_hook_type is BuiltinCommHookType.ALLREDUCE \
            else default_hooks.fp16_compress_hook
        self._register_hook(hook, self.process_group)

    def _register_hook(self, hook: Callable[..., Any], state: object) -> None:
        if self._reducer.comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be "
                               "called once.")
        if self._reducer.expect_hooks:
            raise RuntimeError("register_comm_hook must be called before the backward it "
                               "should apply to starts: this forward's backward is pending")
        self._reducer.comm_hook = (hook, state)

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
