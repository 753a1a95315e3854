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
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ndgrad.autograd.inplace import overlaps
from ndgrad.distributed.process_group import ProcessGroup, _default_group, _mpi
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

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()


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
    pg = _default_group(group)
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
    """Copy ``src``'s tensor into every other rank's ``tensor``, in place."""
    pg = _default_group(group)
    a = _array(tensor, "broadcast", write=pg.rank() != src)
    _check_root(pg, "broadcast", "src", src)
    _check_same(pg, "broadcast", f"src={src}", a)
    buf = _contiguous(a)
    request = pg.comm.Ibcast(buf, root=src)

    def finish() -> None:
        if pg.rank() != src:  # src's tensor is only read
            _write_back(tensor, buf)
    return _run(Work([request], finish, [tensor]), async_op)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """``tensor_list[r]`` receives rank r's ``tensor``, on every rank."""
    pg = _default_group(group)
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
    pg = _default_group(group)
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
    pg = _default_group(group)
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
    pg = _default_group(group)
    root = pg.rank() == dst
    a = _array(tensor, "reduce", write=root)
    mpi_op = _mpi_op(op, a.dtype, "reduce")
    _check_root(pg, "reduce", "dst", dst)
    _check_same(pg, "reduce", f"dst={dst}, op={op.name}", a)
    buf = _contiguous(a)
    if root:
        request = pg.comm.Ireduce(_mpi().IN_PLACE, buf, mpi_op, root=dst)
    else:
        request = pg.comm.Ireduce(buf, None, mpi_op, root=dst)

    def finish() -> None:
        if root:
            _average(buf, op, pg.size())
            _write_back(tensor, buf)
    return _run(Work([request], finish, [tensor]), async_op)


def gather(tensor: Tensor, gather_list: list[Tensor] | None = None, dst: int = 0,
           group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """``gather_list[r]`` on ``dst`` receives rank r's ``tensor``."""
    pg = _default_group(group)
    a = _array(tensor, "gather")
    _check_root(pg, "gather", "dst", dst)
    recv = None
    if pg.rank() == dst:
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
    request = pg.comm.Igather(_contiguous(a), recv, root=dst)

    def finish() -> None:
        if recv is not None:
            for t, part in zip(gather_list or [], recv):
                _write_back(t, part)
    return _run(Work([request], finish, list(gather_list or [])), async_op)


def scatter(tensor: Tensor, scatter_list: list[Tensor] | None = None, src: int = 0,
            group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Rank r's ``tensor`` receives ``scatter_list[r]`` from ``src``."""
    pg = _default_group(group)
    a = _array(tensor, "scatter", write=True)
    _check_root(pg, "scatter", "src", src)
    send = None
    if pg.rank() == src:
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
    request = pg.comm.Iscatter(send, buf, root=src)
    return _run(Work([request], lambda: _write_back(tensor, buf), [tensor]), async_op)


def barrier(group: ProcessGroup | None = None, async_op: bool = False,
            device_ids: Any = None) -> Work | None:
    """Wait until every rank has reached the barrier."""
    pg = _default_group(group)
    return _run(Work([pg.comm.Ibarrier()]), async_op)


def _check_root(pg: ProcessGroup, fn: str, arg: str, root: Any) -> None:
    if not isinstance(root, int | np.integer) or not 0 <= root < pg.size():
        raise ValueError(f"{fn}: {arg}={root!r} is not a rank of the group (0..{pg.size() - 1})")


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

    def __init__(self, header: Any, request: Any, tensor: Tensor, buf: np.ndarray) -> None:
        super().__init__([request], None, [tensor])
        self._header, self._tensor, self._buf = header, tensor, buf
        self.source = -1

    def wait(self, timeout: Any = None) -> bool:
        if self._done:
            return True
        MPI = _mpi()
        status = MPI.Status()
        shape, dtype = self._header.wait(status)
        self.source = status.Get_source()
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


def isend(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> Work:
    """Start sending ``tensor`` to ``dst``; don't change it before the Work is done."""
    pg = _default_group(group)
    a = _array(tensor, "isend")
    _check_root(pg, "isend", "dst", dst)
    header = pg.header_comm.isend((a.shape, a.dtype.str), dest=dst, tag=tag)
    return Work([header, pg.comm.Isend(_contiguous(a), dest=dst, tag=tag)])


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0) -> Work:
    """Start receiving into ``tensor`` from ``src`` (None: from whichever rank sends)."""
    pg = _default_group(group)
    a = _array(tensor, "irecv", write=True)
    MPI = _mpi()
    if src is None:
        src = MPI.ANY_SOURCE
    else:
        _check_root(pg, "irecv", "src", src)
    buf = _contiguous(a)
    header = pg.header_comm.irecv(source=src, tag=tag)
    return _RecvWork(header, pg.comm.Irecv(buf, source=src, tag=tag), tensor, buf)


def send(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> None:
    """Send ``tensor`` to ``dst`` (which must ``recv`` it with the same shape and dtype)."""
    isend(tensor, dst, group, tag).wait()


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0) -> int:
    """Receive into ``tensor`` from ``src`` (None: any rank); returns the sender's rank."""
    work = irecv(tensor, src, group, tag)
    work.wait()
    return work.source  # type: ignore[attr-defined]


# -- Python objects (pickled, as torch does: only exchange objects within a job you trust) --------
def broadcast_object_list(object_list: list[Any], src: int = 0,
                          group: ProcessGroup | None = None, device: Any = None) -> None:
    """Replace the objects in ``object_list`` by ``src``'s, on every rank (lists of equal
    length everywhere)."""
    pg = _default_group(group)
    _check_root(pg, "broadcast_object_list", "src", src)
    got = pg.comm.bcast(list(object_list) if pg.rank() == src else None, root=src)
    if len(got) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {src} sent {len(got)} objects but this "
                         f"rank's object_list holds {len(object_list)}; the lengths must match")
    object_list[:] = got


def all_gather_object(object_list: list[Any], obj: Any,
                      group: ProcessGroup | None = None) -> None:
    """``object_list[r]`` receives rank r's ``obj``, on every rank."""
    pg = _default_group(group)
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list must hold one entry per rank "
                         f"({pg.size()}), got {len(object_list)}")
    object_list[:] = pg.comm.allgather(obj)


def gather_object(obj: Any, object_gather_list: list[Any] | None = None, dst: int = 0,
                  group: ProcessGroup | None = None) -> None:
    """``object_gather_list[r]`` on ``dst`` receives rank r's ``obj``."""
    pg = _default_group(group)
    _check_root(pg, "gather_object", "dst", dst)
    if pg.rank() == dst and (object_gather_list is None
                             or len(object_gather_list) != pg.size()):
        raise ValueError(f"gather_object: object_gather_list on the destination rank must hold "
                         f"one entry per rank ({pg.size()})")
    got = pg.comm.gather(obj, root=dst)
    if pg.rank() == dst:
        object_gather_list[:] = got  # type: ignore[index]


def scatter_object_list(scatter_object_output_list: list[Any],
                        scatter_object_input_list: list[Any] | None = None, src: int = 0,
                        group: ProcessGroup | None = None) -> None:
    """Rank r's ``scatter_object_output_list[0]`` receives ``src``'s input list's r-th entry."""
    pg = _default_group(group)
    _check_root(pg, "scatter_object_list", "src", src)
    if not isinstance(scatter_object_output_list, list) or not scatter_object_output_list:
        raise ValueError("scatter_object_list: Expected argument scatter_object_output_list "
                         "to be a list of size at least 1.")
    if pg.rank() == src and (scatter_object_input_list is None
                             or len(scatter_object_input_list) != pg.size()):
        raise ValueError(f"scatter_object_list: scatter_object_input_list on the source rank "
                         f"must hold one entry per rank ({pg.size()})")
    send = list(scatter_object_input_list or []) if pg.rank() == src else None
    scatter_object_output_list[0] = pg.comm.scatter(send, root=src)
