"""torch.distributed's collectives over MPI, working in place on each tensor's NumPy array.

Every collective has one shape: check the arguments, start MPI's non-blocking version on the
arrays themselves (a contiguous array is handed to MPI as it is; only a strided view goes
through a contiguous copy), and return a ``Work`` whose ``wait()`` finishes it. With
``async_op=False`` (the default) the call waits before returning.

MPI trusts every process to pass matching buffers: a rank with a different shape or dtype gets
truncated data, garbage or a hang. So each collective first gathers a short signature (the
call, its root or op, shape and dtype) from every rank and raises the same clear error on all
of them if they differ. That costs one small message exchange per call; DDP's gradient buckets,
checked once when DDP is built, skip it.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ndgrad.autograd.inplace import overlaps
from ndgrad.distributed.process_group import ProcessGroup, _default_group, _mpi, _not_member
from ndgrad.tensor import Tensor


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce``/``reduce_scatter_tensor`` combine the ranks' values."""

    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PROD"
    MIN = "MIN"
    MAX = "MAX"
    BAND = "BAND"
    BOR = "BOR"
    BXOR = "BXOR"


# bool tensors combine logically, as torch's NCCL backend does (SUM and MAX are "any")
_BOOL_OPS = {ReduceOp.SUM: "LOR", ReduceOp.MAX: "LOR", ReduceOp.BOR: "LOR",
             ReduceOp.PRODUCT: "LAND", ReduceOp.MIN: "LAND", ReduceOp.BAND: "LAND",
             ReduceOp.BXOR: "LXOR"}


def _mpi_op(op: Any, dtype: np.dtype, fn: str) -> Any:
    """The MPI reduction for ``op`` on ``dtype`` (AVG is a SUM, divided afterwards)."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{fn}: op must be a ReduceOp (e.g. ReduceOp.SUM), got {op!r}")
    MPI = _mpi()
    if dtype.kind == "b":
        if op is ReduceOp.AVG:
            raise TypeError(f"{fn}: Cannot use ReduceOp.AVG with boolean inputs")
        return getattr(MPI, _BOOL_OPS[op])
    if op is ReduceOp.AVG and dtype.kind not in "fc":
        raise TypeError(f"{fn}: ReduceOp.AVG needs a floating-point tensor, got {dtype} (sum "
                        f"with ReduceOp.SUM and divide yourself)")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.kind not in "iu":
        raise TypeError(f"{fn}: ReduceOp.{op.name} needs an integer or bool tensor, got {dtype}")
    return MPI.SUM if op is ReduceOp.AVG else getattr(MPI, op.value)


class Work:
    """What a collective with ``async_op=True`` returns: ``wait()`` blocks until it is done
    (and its result is in the tensors); ``is_completed()`` asks without blocking."""

    def __init__(self, requests: list[Any], finish: Callable[[], None] | None = None,
                 result: list[Tensor] | None = None) -> None:
        self._requests = requests
        self._finish = finish
        self._result = result or []
        self._done = False

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            _mpi().Request.Waitall(self._requests)
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and _mpi().Request.Testall(self._requests):
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def result(self) -> list[Tensor]:
        """The tensors the collective wrote, once it is done."""
        self.wait()
        return self._result

    def get_future(self) -> Any:
        """An ``ndgrad.futures.Future`` of ``result()``, complete once the collective is (the
        first ``wait()`` or ``done()`` on it waits for or polls the MPI requests)."""
        from ndgrad.futures import _driven

        def drive(block: bool) -> None:
            try:
                finished = self.wait() if block else self.is_completed()
            except Exception as e:  # noqa: BLE001 - whoever waits on the Future gets it
                fut.set_exception(e)
                return
            if finished:
                fut.set_result(self._result)
        fut = _driven(drive)
        return fut

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()


def _group(group: ProcessGroup | None, fn: str) -> ProcessGroup | None:
    """The group ``fn`` runs over; None on a rank outside it (``GroupMember.NON_GROUP_MEMBER``),
    where torch warns and does nothing."""
    if _not_member(group):
        warnings.warn(f"Running {fn} on global rank {_default_group(None).rank()} which does "
                      f"not belong to the given group.", stacklevel=3)
        return None
    return _default_group(group)


def _run(work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


# -- argument checks ---------------------------------------------------------------------------
def _array(t: Any, fn: str, arg: str = "tensor", write: bool = False) -> np.ndarray:
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {arg} must be an ndgrad.Tensor, got {type(t).__name__}")
    a = t._data
    if write and (not a.flags.writeable or overlaps(a)):
        raise RuntimeError(f"{fn} writes into {arg}, whose elements share memory (an expand()ed "
                           f"view) or whose array is read-only; pass a tensor of its own, e.g. "
                           f"{arg}.clone()")
    return a


def _describe(a: np.ndarray) -> str:
    return f"shape {list(a.shape)} {a.dtype}"


def _check_like(fn: str, arg: str, arrays: Sequence[np.ndarray], like: np.ndarray,
                count: int | None = None) -> None:
    """Local check: a list of tensors must hold ``count`` tensors shaped like ``like``."""
    if count is not None and len(arrays) != count:
        raise ValueError(f"{fn}: {arg} must hold one tensor per rank ({count}), got "
                         f"{len(arrays)}")
    for i, a in enumerate(arrays):
        if a.shape != like.shape or a.dtype != like.dtype:
            raise ValueError(f"{fn}: {arg}[{i}] has {_describe(a)}, but the tensor it goes with "
                             f"has {_describe(like)}; they must match")


def _check_same(pg: ProcessGroup, fn: str, detail: str, a: np.ndarray | None) -> None:
    """All ranks must be in the same call with the same shape and dtype: compare before MPI
    reads or writes any buffer, and raise the same error on every rank if they differ."""
    mine = (fn, detail, None if a is None else (a.shape, a.dtype.str))
    every = pg.comm.allgather(mine)
    if any(s != every[0] for s in every):
        def show(s: tuple[Any, ...]) -> str:
            shape = "" if s[2] is None else f" shape {list(s[2][0])} {np.dtype(s[2][1])}"
            return f"{s[0]}({s[1]}){shape}"
        ranks = "; ".join(f"rank {r}: {show(s)}" for r, s in enumerate(every))
        raise RuntimeError(f"{fn}: the ranks disagree ({ranks}); every rank must make the same "
                           f"call with the same shape and dtype")


def _contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself when MPI can use its memory, else a C-contiguous copy."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _write_back(t: Tensor, buf: np.ndarray) -> None:
    """The collective wrote ``buf``: copy it into ``t`` if it was a copy; bump the version."""
    if buf is not t._data:
        np.copyto(t._data, buf.reshape(t._data.shape))
    t._bump_version()


def _average(buf: np.ndarray, op: ReduceOp, size: int) -> None:
    if op is ReduceOp.AVG:
        np.divide(buf, size, out=buf)


# -- collectives -------------------------------------------------------------------------------
def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Combine ``tensor`` over all ranks with ``op``; every rank gets the result, in place."""
    pg = _group(group, "all_reduce")
    if pg is None:
        return None
    a = _array(tensor, "all_reduce", write=True)
    mpi_op = _mpi_op(op, a.dtype, "all_reduce")
    _check_same(pg, "all_reduce", f"op={op.name}", a)
    buf = _contiguous(a)
    request = pg.comm.Iallreduce(_mpi().IN_PLACE, buf, mpi_op)

    def finish() -> None:
        _average(buf, op, pg.size())
        _write_back(tensor, buf)
    return _run(Work([request], finish, [tensor]), async_op)


def broadcast(tensor: Tensor, src: int = 0, group: ProcessGroup | None = None,
              async_op: bool = False) -> Work | None:
    """Copy ``src``'s tensor into every other rank's ``tensor``, in place. Here and in every
    call below, ``src``/``dst`` are ranks of the whole job, also with a ``group``, as in torch."""
    pg = _group(group, "broadcast")
    if pg is None:
        return None
    root = _check_root(pg, "broadcast", "src", src)
    a = _array(tensor, "broadcast", write=pg.rank() != root)
    _check_same(pg, "broadcast", f"src={src}", a)
    buf = _contiguous(a)
    request = pg.comm.Ibcast(buf, root=root)

    def finish() -> None:
        if pg.rank() != root:  # src's tensor is only read
            _write_back(tensor, buf)
    return _run(Work([request], finish, [tensor]), async_op)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """``tensor_list[r]`` receives rank r's ``tensor``, on every rank."""
    pg = _group(group, "all_gather")
    if pg is None:
        return None
    a = _array(tensor, "all_gather")
    outs = [_array(t, "all_gather", "tensor_list", write=True) for t in tensor_list]
    _check_like("all_gather", "tensor_list", outs, a, pg.size())
    _check_same(pg, "all_gather", "", a)
    recv = np.empty((pg.size(), *a.shape), a.dtype)  # (world, *shape): one MPI receive
    request = pg.comm.Iallgather(_contiguous(a), recv)

    def finish() -> None:
        for t, part in zip(tensor_list, recv):
            _write_back(t, part)
    return _run(Work([request], finish, list(tensor_list)), async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor,
                           group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """Every rank's ``input_tensor``, concatenated in rank order, into ``output_tensor`` (of
    shape (world * n, ...) or (world, n, ...)), which MPI fills in place."""
    pg = _group(group, "all_gather_into_tensor")
    if pg is None:
        return None
    a = _array(input_tensor, "all_gather_into_tensor", "input_tensor")
    out = _array(output_tensor, "all_gather_into_tensor", "output_tensor", write=True)
    _check_sizes("all_gather_into_tensor", out, "output_tensor", a, "input_tensor", pg.size())
    _check_same(pg, "all_gather_into_tensor", "", a)
    buf = _contiguous(out)
    request = pg.comm.Iallgather(_contiguous(a), buf)
    return _run(Work([request], lambda: _write_back(output_tensor, buf), [output_tensor]),
                async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM,
                          group: ProcessGroup | None = None,
                          async_op: bool = False) -> Work | None:
    """Reduce ``input`` over the ranks with ``op`` and give rank r the r-th of ``world`` equal
    parts (along the first dimension) in ``output``."""
    pg = _group(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    a = _array(input, "reduce_scatter_tensor", "input")
    out = _array(output, "reduce_scatter_tensor", "output", write=True)
    mpi_op = _mpi_op(op, a.dtype, "reduce_scatter_tensor")
    _check_sizes("reduce_scatter_tensor", a, "input", out, "output", pg.size())
    _check_same(pg, "reduce_scatter_tensor", f"op={op.name}", a)
    buf = _contiguous(out)
    request = pg.comm.Ireduce_scatter_block(_contiguous(a), buf, mpi_op)

    def finish() -> None:
        _average(buf, op, pg.size())
        _write_back(output, buf)
    return _run(Work([request], finish, [output]), async_op)


def reduce(tensor: Tensor, dst: int = 0, op: ReduceOp = ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Combine ``tensor`` over all ranks with ``op`` into ``dst``'s tensor (the others keep
    theirs)."""
    pg = _group(group, "reduce")
    if pg is None:
        return None
    dst_rank = _check_root(pg, "reduce", "dst", dst)
    root = pg.rank() == dst_rank
    a = _array(tensor, "reduce", write=root)
    mpi_op = _mpi_op(op, a.dtype, "reduce")
    _check_same(pg, "reduce", f"dst={dst}, op={op.name}", a)
    buf = _contiguous(a)
    if root:
        request = pg.comm.Ireduce(_mpi().IN_PLACE, buf, mpi_op, root=dst_rank)
    else:
        request = pg.comm.Ireduce(buf, None, mpi_op, root=dst_rank)

    def finish() -> None:
        if root:
            _average(buf, op, pg.size())
            _write_back(tensor, buf)
    return _run(Work([request], finish, [tensor]), async_op)


def gather(tensor: Tensor, gather_list: list[Tensor] | None = None, dst: int = 0,
           group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """``gather_list[r]`` on ``dst`` receives rank r's ``tensor``."""
    pg = _group(group, "gather")
    if pg is None:
        return None
    a = _array(tensor, "gather")
    root = _check_root(pg, "gather", "dst", dst)
    recv = None
    if pg.rank() == root:
        if gather_list is None:
            raise ValueError("gather: Argument ``gather_list`` must be specified on destination "
                             "rank.")
        outs = [_array(t, "gather", "gather_list", write=True) for t in gather_list]
        _check_like("gather", "gather_list", outs, a, pg.size())
        recv = np.empty((pg.size(), *a.shape), a.dtype)
    elif gather_list:
        raise ValueError("gather: Argument ``gather_list`` must NOT be specified on "
                         "non-destination ranks.")
    _check_same(pg, "gather", f"dst={dst}", a)
    request = pg.comm.Igather(_contiguous(a), recv, root=root)

    def finish() -> None:
        if recv is not None:
            for t, part in zip(gather_list or [], recv):
                _write_back(t, part)
    return _run(Work([request], finish, list(gather_list or [])), async_op)


def scatter(tensor: Tensor, scatter_list: list[Tensor] | None = None, src: int = 0,
            group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Rank r's ``tensor`` receives ``scatter_list[r]`` from ``src``."""
    pg = _group(group, "scatter")
    if pg is None:
        return None
    a = _array(tensor, "scatter", write=True)
    root = _check_root(pg, "scatter", "src", src)
    send = None
    if pg.rank() == root:
        if scatter_list is None:
            raise ValueError("scatter: Argument ``scatter_list`` must be specified on source "
                             "rank.")
        ins = [_array(t, "scatter", "scatter_list") for t in scatter_list]
        _check_like("scatter", "scatter_list", ins, a, pg.size())
        send = np.stack(ins)  # (world, *shape): one MPI send
    elif scatter_list:
        raise ValueError("scatter: Argument ``scatter_list`` must NOT be specified on "
                         "non-source ranks.")
    _check_same(pg, "scatter", f"src={src}", a)
    buf = _contiguous(a)
    request = pg.comm.Iscatter(send, buf, root=root)
    return _run(Work([request], lambda: _write_back(tensor, buf), [tensor]), async_op)


def reduce_scatter(output: Tensor, input_list: list[Tensor], op: ReduceOp = ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Reduce ``input_list[r]`` over the ranks with ``op`` into rank r's ``output``."""
    pg = _group(group, "reduce_scatter")
    if pg is None:
        return None
    out = _array(output, "reduce_scatter", "output", write=True)
    ins = [_array(t, "reduce_scatter", "input_list") for t in input_list]
    mpi_op = _mpi_op(op, out.dtype, "reduce_scatter")
    _check_like("reduce_scatter", "input_list", ins, out, pg.size())
    _check_same(pg, "reduce_scatter", f"op={op.name}", out)
    buf = _contiguous(out)
    request = pg.comm.Ireduce_scatter_block(np.stack(ins), buf, mpi_op)  # (world, *shape)

    def finish() -> None:
        _average(buf, op, pg.size())
        _write_back(output, buf)
    return _run(Work([request], finish, [output]), async_op)


def all_to_all(output_tensor_list: list[Tensor], input_tensor_list: list[Tensor],
               group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Rank r's ``output_tensor_list[s]`` receives rank s's ``input_tensor_list[r]`` (the
    tensors may differ in shape, but all have one dtype, and each pair must match)."""
    pg = _group(group, "all_to_all")
    if pg is None:
        return None
    outs = [_array(t, "all_to_all", "output_tensor_list", write=True)
            for t in output_tensor_list]
    ins = [_array(t, "all_to_all", "input_tensor_list") for t in input_tensor_list]
    for arg, arrays in (("output_tensor_list", outs), ("input_tensor_list", ins)):
        if len(arrays) != pg.size():
            raise ValueError(f"all_to_all: {arg} must hold one tensor per rank ({pg.size()}), "
                             f"got {len(arrays)}")
    for arg, arrays in (("output_tensor_list", outs), ("input_tensor_list", ins)):
        for i, a in enumerate(arrays):
            if a.dtype != outs[0].dtype:
                raise TypeError(f"all_to_all: {arg}[{i}] is {a.dtype} but "
                                f"output_tensor_list[0] is {outs[0].dtype}; all tensors must "
                                f"have one dtype")
    _check_exchange(pg, "all_to_all", [a.shape for a in ins], [a.shape for a in outs],
                    outs[0].dtype)
    send = np.concatenate([a.ravel() for a in ins]) if ins else np.empty(0, outs[0].dtype)
    recv = np.empty(sum(a.size for a in outs), outs[0].dtype)
    request = pg.comm.Ialltoallv(_counts(send, [a.size for a in ins]),
                                 _counts(recv, [a.size for a in outs]))

    def finish() -> None:
        start = 0
        for t, a in zip(output_tensor_list, outs):
            _write_back(t, recv[start:start + a.size])
            start += a.size
    return _run(Work([request], finish, list(output_tensor_list)), async_op)


def all_to_all_single(output: Tensor, input: Tensor,
                      output_split_sizes: list[int] | None = None,
                      input_split_sizes: list[int] | None = None,
                      group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Split ``input`` along its first dimension into ``input_split_sizes`` (default: equal
    parts), send part s to rank s, and put what each rank sends, in rank order, into
    ``output``, split by ``output_split_sizes``."""
    fn = "all_to_all_single"
    pg = _group(group, fn)
    if pg is None:
        return None
    a = _array(input, fn, "input")
    out = _array(output, fn, "output", write=True)
    if a.dtype != out.dtype:
        raise TypeError(f"{fn}: output is {out.dtype} but input is {a.dtype}; they must match")
    if a.ndim == 0 or out.ndim == 0 or a.shape[1:] != out.shape[1:]:
        raise ValueError(f"{fn}: input ({list(a.shape)}) and output ({list(out.shape)}) must "
                         f"have at least one dimension, and the same shape after the first")
    splits = [_splits(fn, "input", a, input_split_sizes, pg.size()),
              _splits(fn, "output", out, output_split_sizes, pg.size())]
    _check_exchange(pg, fn, [(n, *a.shape[1:]) for n in splits[0]],
                    [(n, *a.shape[1:]) for n in splits[1]], a.dtype)
    row = int(np.prod(a.shape[1:], dtype=np.int64))
    buf = _contiguous(out)
    request = pg.comm.Ialltoallv(_counts(_contiguous(a), [n * row for n in splits[0]]),
                                 _counts(buf, [n * row for n in splits[1]]))
    return _run(Work([request], lambda: _write_back(output, buf), [output]), async_op)


def _splits(fn: str, arg: str, a: np.ndarray, sizes: list[int] | None, size: int) -> list[int]:
    """The first-dimension split of ``a`` into ``size`` parts: ``sizes``, or equal parts."""
    if sizes is None or len(sizes) == 0:  # torch: None or [] splits evenly
        if a.shape[0] % size:
            raise ValueError(f"{fn}: {arg}'s first dimension ({a.shape[0]}) must divide by "
                             f"world_size ({size}) when {arg}_split_sizes is not given")
        return [a.shape[0] // size] * size
    sizes = [int(n) for n in sizes]
    if len(sizes) != size or any(n < 0 for n in sizes) or sum(sizes) != a.shape[0]:
        raise ValueError(f"{fn}: {arg}_split_sizes={sizes} must hold world_size ({size}) sizes "
                         f">= 0 summing to {arg}'s first dimension ({a.shape[0]})")
    return sizes


def _counts(buf: np.ndarray, counts: list[int]) -> list[Any]:
    """MPI's (buffer, (counts, displacements)) for Alltoallv, in elements."""
    displacements = np.concatenate([[0], np.cumsum(counts[:-1], dtype=np.int64)]).tolist()
    return [buf, (counts, displacements)]


def _check_exchange(pg: ProcessGroup, fn: str, sends: list[tuple[int, ...]],
                    recvs: list[tuple[int, ...]], dtype: np.dtype) -> None:
    """What each rank sends rank s must be what s expects from it (same shape and dtype):
    compare before MPI touches a buffer, and raise the same error on every rank."""
    every = pg.comm.allgather((fn, [tuple(x) for x in sends], [tuple(x) for x in recvs],
                               dtype.str))
    if any((e[0], e[3]) != (every[0][0], every[0][3]) for e in every):
        ranks = "; ".join(f"rank {r}: {e[0]} {np.dtype(e[3])}" for r, e in enumerate(every))
        raise RuntimeError(f"{fn}: the ranks disagree ({ranks}); every rank must make the same "
                           f"call with the same dtype")
    for r, (_, sends_r, _, _) in enumerate(every):
        for s, shape in enumerate(sends_r):
            expected = every[s][2][r]
            if shape != expected:
                raise RuntimeError(f"{fn}: rank {pg.ranks[r]} sends rank {pg.ranks[s]} shape "
                                   f"{list(shape)}, but rank {pg.ranks[s]} expects shape "
                                   f"{list(expected)} from it; they must match")


def barrier(group: ProcessGroup | None = None, async_op: bool = False,
            device_ids: Any = None) -> Work | None:
    """Wait until every rank has reached the barrier."""
    pg = _group(group, "barrier")
    if pg is None:
        return None
    return _run(Work([pg.comm.Ibarrier()]), async_op)


def monitored_barrier(group: ProcessGroup | None = None, timeout: Any = None,
                      wait_all_ranks: bool = False) -> None:
    """A barrier, as ``barrier``: ``timeout`` is accepted for compatibility but not enforced
    (MPI has none; see ``init_process_group``), so a missing rank is not reported, it hangs."""
    pg = _group(group, "monitored_barrier")
    if pg is None:
        return None
    pg.comm.Barrier()
    return None


def _check_root(pg: ProcessGroup, fn: str, arg: str, root: Any) -> int:
    """``root``, a rank of the whole job, as a rank of ``pg`` (what MPI's calls take)."""
    if not isinstance(root, int | np.integer) or root not in pg.ranks:
        ranks = f"0..{pg.size() - 1}" if pg.ranks == list(range(pg.size())) else \
            f"global ranks {pg.ranks}"
        raise ValueError(f"{fn}: {arg}={root!r} is not a rank of the group ({ranks})")
    return pg.ranks.index(int(root))


def _check_sizes(fn: str, big: np.ndarray, big_name: str, small: np.ndarray, small_name: str,
                 size: int) -> None:
    """``big`` must hold ``size`` copies of ``small``'s elements, of the same dtype."""
    if big.dtype != small.dtype:
        raise TypeError(f"{fn}: {big_name} is {big.dtype} but {small_name} is {small.dtype}; "
                        f"they must match")
    if big.size != size * small.size:
        raise ValueError(f"{fn}: {big_name} ({list(big.shape)}, {big.size} elements) must hold "
                         f"world_size ({size}) times the elements of {small_name} "
                         f"({list(small.shape)}, {small.size} elements)")


# -- point to point ------------------------------------------------------------------------------
class _RecvWork(Work):
    """A receive: the sender's header (shape, dtype) is checked before the data is used."""

    def __init__(self, header: Any, request: Any, tensor: Tensor, buf: np.ndarray,
                 ranks: list[int]) -> None:
        super().__init__([request], None, [tensor])
        self._header, self._tensor, self._buf, self._ranks = header, tensor, buf, ranks
        self.source = -1

    def wait(self, timeout: Any = None) -> bool:
        if self._done:
            return True
        MPI = _mpi()
        status = MPI.Status()
        shape, dtype = self._header.wait(status)
        self.source = self._ranks[status.Get_source()]  # the sender's rank in the job
        a = self._tensor._data
        if tuple(shape) != a.shape or np.dtype(dtype) != a.dtype:
            self._requests[0].Cancel()
            raise RuntimeError(f"recv: rank {self.source} sent a tensor of shape {list(shape)} "
                               f"{np.dtype(dtype)}, but the receiving tensor has {_describe(a)}; "
                               f"they must match")
        MPI.Request.Waitall(self._requests)
        self._done = True
        _write_back(self._tensor, self._buf)
        return True

    def is_completed(self) -> bool:
        if not self._done and self._header.Test() and _mpi().Request.Testall(self._requests):
            self.wait()
        return self._done


def isend(tensor: Tensor, dst: int, group: ProcessGroup | None = None,
          tag: int = 0) -> Work | None:
    """Start sending ``tensor`` to ``dst``; don't change it before the Work is done."""
    pg = _group(group, "isend")
    if pg is None:
        return None
    a = _array(tensor, "isend")
    to = _check_root(pg, "isend", "dst", dst)
    header = pg.header_comm.isend((a.shape, a.dtype.str), dest=to, tag=tag)
    return Work([header, pg.comm.Isend(_contiguous(a), dest=to, tag=tag)])


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0) -> Work | None:
    """Start receiving into ``tensor`` from ``src`` (None: from whichever rank sends)."""
    pg = _group(group, "irecv")
    if pg is None:
        return None
    a = _array(tensor, "irecv", write=True)
    MPI = _mpi()
    source = MPI.ANY_SOURCE if src is None else _check_root(pg, "irecv", "src", src)
    buf = _contiguous(a)
    header = pg.header_comm.irecv(source=source, tag=tag)
    return _RecvWork(header, pg.comm.Irecv(buf, source=source, tag=tag), tensor, buf, pg.ranks)


def send(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> None:
    """Send ``tensor`` to ``dst`` (which must ``recv`` it with the same shape and dtype)."""
    work = isend(tensor, dst, group, tag)
    if work is not None:
        work.wait()


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0) -> int:
    """Receive into ``tensor`` from ``src`` (None: any rank); returns the sender's rank (-1 on
    a rank outside ``group``)."""
    work = irecv(tensor, src, group, tag)
    if work is None:
        return -1
    work.wait()
    return work.source  # type: ignore[attr-defined]


class P2POp:
    """One send or receive for ``batch_isend_irecv``: ``op`` is ``isend`` or ``irecv``, ``peer``
    a rank of the whole job (or ``group_peer`` one of ``group``)."""

    def __init__(self, op: Callable[..., Any], tensor: Tensor, peer: int | None = None,
                 group: ProcessGroup | None = None, tag: int = 0,
                 group_peer: int | None = None) -> None:
        if op is not isend and op is not irecv:
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type "
                             "``ndgrad.distributed.isend`` or ``ndgrad.distributed.irecv``.")
        _array(tensor, "P2POp")
        if (peer is None) == (group_peer is None):
            raise ValueError("P2POp: give exactly one of peer (a rank of the job) and "
                             "group_peer (a rank of the group)")
        pg = _default_group(group)
        if peer is None:
            if not isinstance(group_peer, int | np.integer) or not 0 <= group_peer < pg.size():
                raise ValueError(f"P2POp: group_peer={group_peer!r} is not a rank of the group "
                                 f"(0..{pg.size() - 1})")
            peer = pg.ranks[group_peer]
        self.op, self.tensor, self.group, self.tag = op, tensor, pg, tag
        self.peer = peer
        self.group_peer = _check_root(pg, "P2POp", "peer", peer)

    def __repr__(self) -> str:
        return (f"P2POp({self.op.__name__} peer={self.peer}, {list(self.tensor.shape)}, "
                f"{self.tensor.dtype})")


def batch_isend_irecv(p2p_op_list: list[P2POp]) -> list[Work]:
    """Start every send and receive of ``p2p_op_list`` (all over one group); returns their
    Work, in order. MPI's sends and receives don't block, so any order of them is safe."""
    if not isinstance(p2p_op_list, list) or not p2p_op_list \
            or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type "
                         "``ndgrad.distributed.P2POp`` (and the list not empty).")
    if any(p.group is not p2p_op_list[0].group for p in p2p_op_list):
        raise ValueError("All ops need to use the same group.")
    works = [p.op(p.tensor, p.peer, p.group, p.tag) for p in p2p_op_list]
    return [w for w in works if w is not None]

