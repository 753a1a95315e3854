"""DistributedDataParallel: one model replica per process, gradients averaged across them.

Each process runs forward and backward on its own part of the global batch. Gradients are
grouped into buckets (flat arrays of about ``bucket_cap_mb``, in reverse parameter order, since
the last layers' gradients are computed first); as soon as every gradient of a bucket is ready,
a non-blocking MPI all-reduce of the bucket starts, while backward goes on with the rest. When
the last gradient is in, DDP waits for the buckets and writes each parameter's average over the
processes into ``.grad``. The optimizer step then runs unchanged, identically on every process.

How DDP learns that a gradient is ready: a hook on each parameter (``Tensor.register_hook``),
which sees the gradient just before the engine adds it to ``.grad``. ndgrad's engine runs every
leaf's hooks at the end of the backward walk, after all other gradients are computed, so here a
bucket's all-reduce overlaps the remaining leaf work and the other buckets' all-reduces, not
the backward computation itself (in PyTorch, leaves are accumulated as soon as they are
complete). Buckets start strictly in order on every process, as MPI requires; the last one,
complete only when backward is, is reduced with a blocking call, which MPI does faster.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ndgrad.autograd import is_grad_enabled
from ndgrad.distributed.process_group import ProcessGroup, _default_group, _mpi
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
    """Parameters whose gradients travel in one flat array, ``buffer``."""

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        sizes = [p._data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.buffer = np.empty(self.offsets[-1], params[0]._data.dtype)
        self.pending = len(params)
        self.request: Any = None

    def view(self, k: int) -> np.ndarray:
        """Parameter k's slot in the buffer, shaped like the parameter."""
        return self.buffer[self.offsets[k]:self.offsets[k + 1]].reshape(self.params[k].shape)


class _Reducer:
    """Collects gradients into buckets during backward and averages them over the group."""

    def __init__(self, params: Sequence[Tensor], names: list[str],
                 bucket_indices: list[list[int]], pg: ProcessGroup,
                 find_unused_parameters: bool) -> None:
        self.params, self.names, self.pg = params, names, pg
        self.find_unused = find_unused_parameters
        self.bucket_indices = bucket_indices
        self.buckets = [_Bucket([params[i] for i in idx]) for idx in bucket_indices]
        # parameter index -> (bucket number, slot in the bucket)
        self.where = {i: (b, k) for b, idx in enumerate(bucket_indices) for k, i in enumerate(idx)}
        self.expect_hooks = False  # a backward that must reduce is under way
        self.ready = np.zeros(len(params), bool)
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
            bucket.pending, bucket.request = len(bucket.params), None
        if not self.find_unused:
            return
        reached = _reachable_leaves(outputs)
        self.used[:] = [id(p) in reached for p in self.params]
        for i in np.flatnonzero(self.used == 0).tolist():  # no gradient will come: ready now
            b, k = self.where[i]
            grad = self.params[i]._grad
            np.copyto(self.buckets[b].view(k), 0 if grad is None else grad._data)
            self._mark_ready(i)
        if self.ready.all():
            self._finalize(None)

    def hook(self, i: int, grad: Tensor) -> Tensor | None:
        """Parameter i's gradient for this backward is ``grad``: put .grad + grad in its slot."""
        if not self.expect_hooks:  # no_sync(), or a backward DDP's forward did not prepare
            return None
        if self.ready[i]:
            raise RuntimeError(f"Expected to mark a variable ready only once; parameter "
                               f"{self.names[i]} got a second gradient in one backward (a "
                               f"second backward through the same forward?)")
        b, k = self.where[i]
        old = self.params[i]._grad
        if old is None:
            np.copyto(self.buckets[b].view(k), grad._data)
        else:
            np.add(old._data, grad._data, out=self.buckets[b].view(k))
        self._mark_ready(i)
        if self.ready.all():
            return self._finalize(i)
        started = [bk.request for bk in self.buckets[:self.next_bucket]]
        if started:
            _mpi().Request.Testall(started)  # lets MPI move the started buckets along
        return None

    def _mark_ready(self, i: int) -> None:
        self.ready[i] = True
        b, _ = self.where[i]
        self.buckets[b].pending -= 1
        MPI = _mpi()
        # start every complete bucket, in order (MPI needs the same order on every rank), but
        # the last: it is only complete when backward is, so _finalize reduces it blocking
        last = len(self.buckets) - 1
        while self.next_bucket < last and not self.buckets[self.next_bucket].pending:
            bucket = self.buckets[self.next_bucket]
            bucket.request = self.pg.comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, MPI.SUM)
            self.next_bucket += 1

    def _finalize(self, current: int | None) -> Tensor | None:
        """Reduce the last bucket, wait for the others and write the averages into ``.grad``.
        Parameter ``current``, whose hook is running, gets its average through the hook's
        return value."""
        MPI = _mpi()
        # blocking: Open MPI's blocking all-reduce of the 1.6 MB MNIST bucket took half the
        # time of its non-blocking one, and nothing is left to overlap it with
        self.pg.comm.Allreduce(MPI.IN_PLACE, self.buckets[-1].buffer, MPI.SUM)
        MPI.Request.Waitall([b.request for b in self.buckets[:-1]])
        self.expect_hooks = False
        size = self.pg.size()
        used = self.used
        if self.find_unused:  # a parameter unused on every rank keeps its .grad untouched
            used = self.used.copy()
            self.pg.comm.Allreduce(MPI.IN_PLACE, used, MPI.SUM)
        result = None
        for i, p in enumerate(self.params):
            if not used[i]:
                continue
            b, k = self.where[i]
            total = self.buckets[b].view(k)
            if i == current:
                p._grad = None  # the engine takes the returned average as .grad
                result = Tensor._make(total / size)
            elif p._grad is None:
                p._grad = Tensor._make(total / size)
            else:
                np.divide(total, size, out=p._grad._data)  # average and copy in one pass
        return result


def _make_hook(ref: Any, i: int) -> Any:
    def hook(grad: Tensor) -> Tensor | None:
        reducer = ref()
        return None if reducer is None else reducer.hook(i, grad)
    return hook


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
    leaves: set[int] = set()
    seen: set[int] = set()
    stack = []
    for t in _tensors_in(outputs):
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t.requires_grad:
            leaves.add(id(t))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if hasattr(node, "variable"):  # a leaf's AccumulateGrad node
            leaves.add(id(node.variable))
            continue
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return leaves


class DistributedDataParallel(Module):
    """Data parallelism over the processes of ``process_group`` (default: the whole job).

    Building it broadcasts rank 0's parameters and buffers to every rank. Each forward (with
    ``broadcast_buffers``) first copies rank 0's buffers, e.g. BatchNorm's running statistics.
    Each backward averages the gradients over the ranks (see the module docstring).
    ``no_sync()`` skips the averaging, to accumulate gradients locally over several steps.
    ``find_unused_parameters=True`` lets a forward leave some parameters unused (found by
    walking the graph from its outputs); without it such a parameter stops the next forward
    with an error. ``state_dict()`` keys start with ``module.``, as in torch.

    ``gradient_as_bucket_view`` and ``static_graph`` are accepted for compatibility: they are
    speed and memory hints in torch and change no result; here ``.grad`` is always a copy.
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
                                 find_unused_parameters)

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
