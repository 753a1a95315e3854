"""Run by tests/test_distributed_mpi.py under ``mpirun -n 2``: scenarios checking
ndgrad.distributed and DistributedDataParallel on every rank.

    mpirun -n 2 python tests/dist_worker.py SCENARIO [SCENARIO ...]

Each scenario prints ``RESULT <rank> <name> ok`` or ``RESULT <rank> <name> FAIL <traceback>``
(newlines escaped). References are computed with NumPy (or one process on the global batch)
from data every rank can rebuild for every other rank.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

import numpy as np

import ndgrad
import ndgrad.distributed as dist
from ndgrad import nn
from ndgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: N817 - as torch users write it
from ndgrad.utils.data import DataLoader, DistributedSampler, TensorDataset

SCENARIOS: dict[str, Callable[[], None]] = {}
ReduceOp = dist.ReduceOp


def scenario(fn: Callable[[], None]) -> Callable[[], None]:
    SCENARIOS[fn.__name__] = fn
    return fn


def rank() -> int:
    return dist.get_rank()


def world() -> int:
    return dist.get_world_size()


def data(r: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Rank r's input: small values, so sums and products are exact in every dtype."""
    rng = np.random.default_rng(100 + r)
    kind = np.dtype(dtype).kind
    if kind == "b":
        return np.asarray(rng.integers(0, 2, shape).astype(bool))
    if kind in "iu":  # unsigned: wraps around, as MPI's sums do
        return np.asarray(rng.integers(-5, 6, shape).astype(dtype))
    return np.asarray((rng.integers(-8, 9, shape) / 4).astype(dtype))


def everyone(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """(world, *shape): every rank's input."""
    return np.stack([data(r, shape, dtype) for r in range(world())])


def t(a: np.ndarray) -> ndgrad.Tensor:
    return ndgrad.from_numpy(a.copy())


def same(tensor: ndgrad.Tensor, expected: np.ndarray, what: str) -> None:
    got = tensor.numpy()
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype}, expected {expected.dtype}"
    np.testing.assert_array_equal(got, expected, err_msg=what)


def raises(exc: type[Exception], words: list[str], fn: Callable[[], object]) -> str:
    try:
        fn()
    except exc as e:
        msg = str(e)
        for w in words:
            assert w in msg, f"{w!r} not in the error: {msg}"
        return msg
    raise AssertionError(f"no {exc.__name__} raised")


# -- collectives against NumPy --------------------------------------------------------------------
NUMPY_OPS = {ReduceOp.SUM: np.sum, ReduceOp.PRODUCT: np.prod, ReduceOp.MIN: np.min,
             ReduceOp.MAX: np.max, ReduceOp.BAND: np.bitwise_and.reduce,
             ReduceOp.BOR: np.bitwise_or.reduce, ReduceOp.BXOR: np.bitwise_xor.reduce}
SHAPES = [(), (0,), (5,), (3, 4)]


def reference(op: ReduceOp, x: np.ndarray) -> np.ndarray:
    """x: (world, ...) -> the reduction over ranks, in x's dtype."""
    if x.dtype == bool:
        return (x.all(0) if op in (ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.BAND)
                else np.logical_xor.reduce(x, 0) if op is ReduceOp.BXOR else x.any(0))
    if op is ReduceOp.AVG:
        return (x.sum(0) / len(x)).astype(x.dtype)
    return NUMPY_OPS[op](x, axis=0).astype(x.dtype)


def ops_for(dtype: str) -> list[ReduceOp]:
    if np.dtype(dtype).kind in "biu":
        return [o for o in ReduceOp if o is not ReduceOp.AVG]
    return [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX]


DTYPES = ["float32", "float64", "float16", "int32", "int64", "uint8", "bool"]


@scenario
def all_reduce() -> None:
    for dtype in DTYPES:
        for shape in SHAPES:
            for op in ops_for(dtype):
                x = t(data(rank(), shape, dtype))
                version = x._version
                assert dist.all_reduce(x, op=op) is None
                same(x, reference(op, everyone(shape, dtype)), f"all_reduce {op} {dtype}{shape}")
                assert x._version > version, "all_reduce must bump the version counter"
    # a strided view is reduced through a copy and written back into its base
    base = t(data(rank(), (4, 6), "float64"))
    view = base.t()[::2]
    dist.all_reduce(view)
    expect = everyone((4, 6), "float64")
    same(base, np.where(np.arange(6)[::1, None].T % 2 == 0, expect.sum(0), expect[rank()]),
         "all_reduce through a strided view")


@scenario
def broadcast_reduce() -> None:
    for dtype in DTYPES:
        for shape in SHAPES[1:]:
            x = t(data(rank(), shape, dtype))
            dist.broadcast(x, src=1)
            same(x, data(1, shape, dtype), f"broadcast {dtype}{shape}")
            for op in ops_for(dtype):
                x = t(data(rank(), shape, dtype))
                dist.reduce(x, dst=1, op=op)
                want = reference(op, everyone(shape, dtype)) if rank() == 1 else \
                    data(rank(), shape, dtype)
                same(x, want, f"reduce {op} {dtype}{shape} on rank {rank()}")


@scenario
def gather_scatter() -> None:
    for dtype in DTYPES:
        for shape in [(), (3,), (2, 3)]:
            x = t(data(rank(), shape, dtype))
            every = everyone(shape, dtype)
            outs = [t(np.zeros(shape, dtype)) for _ in range(world())]
            dist.all_gather(outs, x)
            for r in range(world()):
                same(outs[r], every[r], f"all_gather {dtype}{shape} from rank {r}")
            flat = t(np.zeros((world() * max(1, int(np.prod(shape))),), dtype)) if shape \
                else t(np.zeros((world(),), dtype))
            dist.all_gather_into_tensor(flat, x)
            same(flat, every.reshape(flat.shape), f"all_gather_into_tensor {dtype}{shape}")
            stacked = t(np.zeros((world(), *shape), dtype))
            dist.all_gather_into_tensor(stacked, x)
            same(stacked, every, f"all_gather_into_tensor (world, ...) {dtype}{shape}")
            got = [t(np.zeros(shape, dtype)) for _ in range(world())] if rank() == 1 else None
            dist.gather(x, got, dst=1)
            if got is not None:
                for r in range(world()):
                    same(got[r], every[r], f"gather {dtype}{shape} from rank {r}")
            parts = [t(data(10 + r, shape, dtype)) for r in range(world())] if rank() == 0 \
                else None
            y = t(np.zeros(shape, dtype))
            dist.scatter(y, parts, src=0)
            same(y, data(10 + rank(), shape, dtype), f"scatter {dtype}{shape}")
        for op in ops_for(dtype):
            inp = data(rank(), (world() * 3, 2), dtype)
            out = t(np.zeros((3, 2), dtype))
            dist.reduce_scatter_tensor(out, t(inp), op=op)
            full = reference(op, everyone((world() * 3, 2), dtype))
            same(out, full[rank() * 3:(rank() + 1) * 3], f"reduce_scatter_tensor {op} {dtype}")


@scenario
def point_to_point() -> None:
    other = 1 - rank()
    mine = data(rank(), (4, 3), "float32")
    if rank() == 0:
        dist.send(t(mine), dst=1)
    else:
        x = t(np.zeros((4, 3), "float32"))
        assert dist.recv(x, src=0) == 0
        same(x, data(0, (4, 3), "float32"), "send/recv")
    # both ranks send first, then receive: must not deadlock, whatever the message size
    big = data(rank(), (300_000,), "float64")
    into = t(np.zeros_like(big))
    works = [dist.isend(t(big), dst=other, tag=3), dist.irecv(into, src=other, tag=3)]
    for w in works:
        w.wait()
    same(into, data(other, (300_000,), "float64"), "isend/irecv exchange")
    # recv from any rank returns the sender
    if rank() == 1:
        dist.send(t(mine), dst=0, tag=5)
    else:
        x = t(np.zeros((4, 3), "float32"))
        assert dist.recv(x, tag=5) == 1
        same(x, data(1, (4, 3), "float32"), "recv from any source")


@scenario
def async_work() -> None:
    x = t(data(rank(), (1000,), "float64"))
    work = dist.all_reduce(x, op=ReduceOp.AVG, async_op=True)
    assert isinstance(work, dist.Work)
    assert work.wait() is True and work.is_completed()
    same(x, everyone((1000,), "float64").mean(0), "async all_reduce AVG")
    assert work.result()[0] is x
    works = []
    ys = [t(data(rank() + i, (7,), "int64")) for i in range(3)]
    for y in ys:
        works.append(dist.broadcast(y, src=0, async_op=True))
    while not all(w.is_completed() for w in works):
        pass
    for i, y in enumerate(ys):
        same(y, data(i, (7,), "int64"), "async broadcast")
    outs = [t(np.zeros(2, "float32")) for _ in range(world())]
    dist.all_gather(outs, t(data(rank(), (2,), "float32")), async_op=True).wait()
    same(outs[1], data(1, (2,), "float32"), "async all_gather")
    assert dist.barrier(async_op=True).wait()


@scenario
def objects() -> None:
    objs = [{"rank": rank()}, [rank()] * 3, None]
    dist.broadcast_object_list(objs, src=1)
    assert objs == [{"rank": 1}, [1, 1, 1], None], objs
    gathered: list[object] = [None] * world()
    dist.all_gather_object(gathered, ("hello", rank(), ndgrad.tensor([rank()])))
    assert [g[1] for g in gathered] == list(range(world()))  # type: ignore[index]
    assert gathered[1][2].tolist() == [1]  # type: ignore[index]
    into: list[object] | None = [None] * world() if rank() == 0 else None
    dist.gather_object(f"r{rank()}", into, dst=0)
    assert rank() != 0 or into == [f"r{r}" for r in range(world())], into
    out: list[object] = [None]
    dist.scatter_object_list(out, [f"to {r}" for r in range(world())] if rank() == 1 else None,
                             src=1)
    assert out == [f"to {rank()}"], out


@scenario
def mismatches() -> None:
    shape = (3,) if rank() == 0 else (4,)
    raises(RuntimeError, ["all_reduce", "rank 0", "shape [3]", "rank 1", "shape [4]"],
           lambda: dist.all_reduce(ndgrad.zeros(shape)))
    dtype = ndgrad.float32 if rank() == 0 else ndgrad.float64
    raises(RuntimeError, ["float32", "float64", "same shape and dtype"],
           lambda: dist.all_reduce(ndgrad.zeros(3, dtype=dtype)))
    raises(RuntimeError, ["broadcast", "src=0", "src=1"],
           lambda: dist.broadcast(ndgrad.zeros(3), src=rank()))
    raises(RuntimeError, ["rank 0: all_reduce", "rank 1: broadcast"],
           lambda: dist.all_reduce(ndgrad.zeros(2)) if rank() == 0
           else dist.broadcast(ndgrad.zeros(2), src=0))
    kind = ndgrad.int64 if rank() == 0 else ndgrad.float32
    raises(RuntimeError, ["all_gather_into_tensor", "rank 0", "int64", "rank 1", "float32"],
           lambda: dist.all_gather_into_tensor(ndgrad.zeros(world(), dtype=kind),
                                               ndgrad.zeros(1, dtype=kind)))
    # local checks, before any message
    raises(ValueError, ["world_size (2) times"],
           lambda: dist.all_gather_into_tensor(ndgrad.zeros(5), ndgrad.zeros(2)))
    raises(ValueError, ["one tensor per rank"],
           lambda: dist.all_gather([ndgrad.zeros(2)], ndgrad.zeros(2)))
    raises(TypeError, ["AVG", "floating-point"],
           lambda: dist.all_reduce(ndgrad.zeros(2, dtype=ndgrad.int64), op=ReduceOp.AVG))
    raises(TypeError, ["ReduceOp"], lambda: dist.all_reduce(ndgrad.zeros(2), op="sum"))
    raises(ValueError, ["src=5"], lambda: dist.broadcast(ndgrad.zeros(2), src=5))
    raises(RuntimeError, ["read-only"],
           lambda: dist.all_reduce(ndgrad.zeros(1).expand(3)))
    # a receive of another shape is reported on the receiving rank
    if rank() == 0:
        dist.send(ndgrad.zeros(3), dst=1, tag=99)
    else:
        raises(RuntimeError, ["recv", "rank 0 sent", "shape [3]", "shape [4]"],
               lambda: dist.recv(ndgrad.zeros(4), src=0, tag=99))
    raises(RuntimeError, ["twice"], lambda: dist.init_process_group("mpi"))


@scenario
def new_group() -> None:
    import warnings
    both = dist.new_group([1, 0])
    assert dist.get_process_group_ranks(both) == [0, 1]
    assert dist.get_rank(both) == rank() and dist.get_world_size(both) == 2
    assert dist.GroupMember.WORLD is dist.group.WORLD
    solo = dist.new_group([1])
    if rank() == 0:
        assert solo == dist.GroupMember.NON_GROUP_MEMBER == -100
        assert dist.get_rank(solo) == -1 and dist.get_world_size(solo) == -1
        x = t(data(0, (3,), "float32"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert dist.all_reduce(x, group=solo) is None
            assert dist.broadcast(x, src=1, group=solo, async_op=True) is None
            assert dist.barrier(group=solo) is None
        assert len(caught) == 3 and "does not belong to the given group" in \
            str(caught[0].message), [str(w.message) for w in caught]
        same(x, data(0, (3,), "float32"), "a non-member's tensor is left alone")
    else:
        assert isinstance(solo, dist.ProcessGroup)
        assert dist.get_process_group_ranks(solo) == [1]
        assert dist.get_rank(solo) == 0 and dist.get_world_size(solo) == 1
        assert dist.get_global_rank(solo, 0) == 1 and dist.get_group_rank(solo, 1) == 0
        raises(ValueError, ["Global rank 0 is not part of group"],
               lambda: dist.get_group_rank(solo, 0))
        raises(ValueError, ["Group rank 1"], lambda: dist.get_global_rank(solo, 1))
        # src/dst are global ranks: rank 1 is rank 0 of the group
        x = t(data(1, (4,), "int64"))
        dist.broadcast(x, src=1, group=solo)
        dist.all_reduce(x, group=solo)
        dist.reduce(x, dst=1, group=solo)
        same(x, data(1, (4,), "int64"), "collectives of a group of one")
        got = [t(np.zeros(2, "float64"))]
        dist.gather(t(data(1, (2,), "float64")), got, dst=1, group=solo)
        same(got[0], data(1, (2,), "float64"), "gather in a group of one")
        raises(ValueError, ["src=0", "global ranks [1]"],
               lambda: dist.broadcast(t(np.zeros(2)), src=0, group=solo))
        objs: list[object] = [None]
        dist.broadcast_object_list(objs, src=1, group=solo)
        assert objs == [None]
        dist.destroy_process_group(solo)
    # the group of both ranks: src/dst translated, the same results as on the world
    x = t(data(rank(), (3, 2), "float64"))
    dist.broadcast(x, src=1, group=both)
    same(x, data(1, (3, 2), "float64"), "broadcast on a group")
    x = t(data(rank(), (5,), "int64"))
    dist.reduce(x, dst=0, op=ReduceOp.MAX, group=both)
    want = everyone((5,), "int64").max(0) if rank() == 0 else data(rank(), (5,), "int64")
    same(x, want, "reduce on a group")
    if rank() == 0:
        dist.send(t(data(0, (2,), "float32")), dst=1, group=both)
    else:
        y = t(np.zeros(2, "float32"))
        assert dist.recv(y, group=both) == 0
        same(y, data(0, (2,), "float32"), "send/recv on a group")
    raises(ValueError, ["not ranks of the job"], lambda: dist.new_group([0, 5]))
    raises(RuntimeError, ["the ranks disagree"], lambda: dist.new_group([rank()]))
    dist.destroy_process_group(both)


@scenario
def all_to_all() -> None:
    me = rank()
    for dtype in ["float32", "float64", "int64"]:
        # rank r sends rank s a (r + s + 1, 2) block: uneven
        ins = [t(data(10 * me + s, (me + s + 1, 2), dtype)) for s in range(world())]
        outs = [t(np.zeros((s + me + 1, 2), dtype)) for s in range(world())]
        assert dist.all_to_all(outs, ins) is None
        for s in range(world()):
            same(outs[s], data(10 * s + me, (s + me + 1, 2), dtype), f"all_to_all {dtype}")
        # all_to_all_single: rank r sends split[r][s] rows to rank s
        split = [[1, 3], [2, 0]]
        rows = [np.concatenate([data(20 * r + s, (split[r][s], 3), dtype)
                                for s in range(world())]) for r in range(world())]
        out = t(np.zeros((sum(split[r][me] for r in range(world())), 3), dtype))
        dist.all_to_all_single(out, t(rows[me]), [split[r][me] for r in range(world())],
                               split[me])
        want = np.concatenate([data(20 * r + me, (split[r][me], 3), dtype)
                               for r in range(world())])
        same(out, want, f"all_to_all_single uneven {dtype}")
        even = t(np.zeros((4,), dtype))
        dist.all_to_all_single(even, t(data(me, (4,), dtype)), async_op=True).wait()
        every = everyone((4,), dtype)
        same(even, np.concatenate([every[r][2 * me:2 * me + 2] for r in range(world())]),
             f"all_to_all_single even {dtype}")
    # errors: local ones, then disagreements raised on every rank
    raises(ValueError, ["one tensor per rank"],
           lambda: dist.all_to_all([t(np.zeros(1))], [t(np.zeros(1))] * 2))
    raises(TypeError, ["one dtype"], lambda: dist.all_to_all(
        [t(np.zeros(1, "float32"))] * 2, [t(np.zeros(1, "float64"))] * 2))
    raises(ValueError, ["input_split_sizes=[1, 1]", "summing to input's first dimension (3)"],
           lambda: dist.all_to_all_single(t(np.zeros(3)), t(np.zeros(3)), [1, 2], [1, 1]))
    raises(ValueError, ["must divide by world_size"],
           lambda: dist.all_to_all_single(t(np.zeros(3)), t(np.zeros(3))))
    raises(TypeError, ["output is float32 but input is float64"],
           lambda: dist.all_to_all_single(t(np.zeros(2, "float32")), t(np.zeros(2))))
    raises(RuntimeError, ["sends rank", "expects shape"],
           lambda: dist.all_to_all([t(np.zeros(1)) for _ in range(2)],
                                   [t(np.zeros(1 + rank())) for _ in range(2)]))
    kind = "float32" if rank() == 0 else "int64"
    raises(RuntimeError, ["rank 0: all_to_all_single float32", "rank 1: all_to_all_single int64"],
           lambda: dist.all_to_all_single(t(np.zeros(2, kind)), t(np.zeros(2, kind))))
    raises(RuntimeError, ["all_to_all_single", "sends rank"], lambda: dist.all_to_all_single(
        t(np.zeros(2)), t(np.zeros(2)), [1, 1], [2, 0] if rank() == 0 else [1, 1]))


@scenario
def reduce_scatter_p2p_barrier() -> None:
    me, other = rank(), 1 - rank()
    for dtype in ["float32", "int64"]:
        for op in [ReduceOp.SUM, ReduceOp.MAX]:
            ins = [t(data(10 * me + s, (2, 3), dtype)) for s in range(world())]
            out = t(np.zeros((2, 3), dtype))
            dist.reduce_scatter(out, ins, op=op)
            every = np.stack([data(10 * r + me, (2, 3), dtype) for r in range(world())])
            same(out, reference(op, every), f"reduce_scatter {op} {dtype}")
    raises(ValueError, ["reduce_scatter", "input_list[1]", "shape [3]"],
           lambda: dist.reduce_scatter(t(np.zeros(2)), [t(np.zeros(2)), t(np.zeros(3))]))
    # batch_isend_irecv: both ranks exchange two tensors in one batch
    into = [t(np.zeros(5, "float64")), t(np.zeros((2, 2), "int64"))]
    ops = [dist.P2POp(dist.isend, t(data(me, (5,), "float64")), other),
           dist.P2POp(dist.irecv, into[0], other),
           dist.P2POp(dist.isend, t(data(me, (2, 2), "int64")), other, tag=1),
           dist.P2POp(dist.irecv, into[1], group_peer=other, tag=1)]
    works = dist.batch_isend_irecv(ops)
    assert len(works) == 4 and all(isinstance(w, dist.Work) for w in works)
    for w in works:
        w.wait()
    same(into[0], data(other, (5,), "float64"), "batch_isend_irecv float64")
    same(into[1], data(other, (2, 2), "int64"), "batch_isend_irecv int64")
    raises(ValueError, ["Invalid ``op``"], lambda: dist.P2POp(dist.send, t(np.zeros(1)), 0))
    raises(ValueError, ["p2p_op_list"], lambda: dist.batch_isend_irecv([]))
    assert dist.monitored_barrier(timeout=None, wait_all_ranks=True) is None


# -- DistributedDataParallel ----------------------------------------------------------------------
def mlp(seed: int = 0) -> nn.Module:
    ndgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 12), nn.Tanh(),
                         nn.Linear(12, 3)).double()


def dataset(n: int = 24) -> TensorDataset:
    rng = np.random.default_rng(7)
    return TensorDataset(ndgrad.from_numpy(rng.standard_normal((n, 6))),
                         ndgrad.from_numpy(rng.integers(0, 3, n)))


def max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
               for p, q in zip(a.parameters(), b.parameters()))


@scenario
def ddp_matches_one_process() -> None:
    ds = dataset()
    for cap in (None, 0.0005):  # one bucket per dtype-limit; several small buckets
        ref, model = mlp(), mlp(seed=rank())  # rank 1 starts from other weights
        ddp = DDP(model, bucket_cap_mb=cap)
        assert max_diff(ref, model) == 0, "DDP must start from rank 0's weights"
        if cap is not None:
            assert len(ddp._reducer.buckets) > 1
        opt_ref = ndgrad.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
        opt = ndgrad.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        sampler = DistributedSampler(ds, shuffle=True, seed=3)
        for epoch in range(2):
            sampler.set_epoch(epoch)
            shard = DataLoader(ds, batch_size=4, sampler=sampler)
            order = np.random.default_rng(3 + epoch).permutation(len(ds))
            for step, (x, y) in enumerate(shard):
                idx = order[step * 4 * world():(step + 1) * 4 * world()]  # the global batch
                loss = nn.functional.cross_entropy(ref(ds.tensors[0][idx]), ds.tensors[1][idx])
                opt_ref.zero_grad()
                loss.backward()
                opt_ref.step()
                loss = nn.functional.cross_entropy(ddp(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        diff = max_diff(ref, model)
        assert diff < 1e-13, f"bucket_cap_mb={cap}: weights differ by {diff}"


@scenario
def ddp_no_sync() -> None:
    ds = dataset(12)
    ref, model = mlp(), mlp()
    ddp = DDP(model)
    x, y = ds.tensors
    for j in range(3):  # three micro-batches of 4, each split over the ranks
        part = slice(4 * j, 4 * j + 4)
        nn.functional.cross_entropy(ref(x[part]), y[part]).backward()
        mine = slice(4 * j + 2 * rank(), 4 * j + 2 * rank() + 2)
        if j < 2:
            with ddp.no_sync():
                nn.functional.cross_entropy(ddp(x[mine]), y[mine]).backward()
            local = model[0].weight.grad.numpy().copy()
            others: list[object] = [None] * world()
            dist.all_gather_object(others, local)
            assert not np.allclose(others[0], others[1]), "no_sync must not average"
        else:
            nn.functional.cross_entropy(ddp(x[mine]), y[mine]).backward()
    for p, q in zip(ref.parameters(), model.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-12, atol=1e-15)


@scenario
def ddp_grads_are_independent() -> None:
    """A .grad DDP made is not written by a later backward (it is a copy of the shared bucket,
    or a view of that backward's own bucket); a .grad that existed gets the average written
    into it, the same tensor."""
    ds = dataset(8)
    ref, model = mlp(), mlp()
    ddp = DDP(model)
    x, y = ds.tensors
    mine = slice(2 * rank(), 2 * rank() + 2)
    nn.functional.cross_entropy(ddp(x[mine]), y[mine]).backward()
    first = [p.grad for p in model.parameters()]
    kept = [g.numpy().copy() for g in first]
    nn.functional.cross_entropy(ref(x[:4]), y[:4]).backward()
    for g, r in zip(first, ref.parameters()):
        np.testing.assert_allclose(g.numpy(), r.grad.numpy(), rtol=1e-12, atol=1e-15)
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(ddp(x[4:][mine]), y[4:][mine]).backward()
    for g, k in zip(first, kept):
        assert np.array_equal(g.numpy(), k), "a later backward changed an earlier .grad"
    head = model[-1].weight.grad
    second = [p.grad.numpy().copy() for p in model.parameters()]
    nn.functional.cross_entropy(ddp(x[4:][mine]), y[4:][mine]).backward()  # accumulates
    assert model[-1].weight.grad is head, "an accumulated .grad must stay the same tensor"
    for p, g in zip(model.parameters(), second):  # the same batch again: twice the average
        np.testing.assert_allclose(p.grad.numpy(), 2 * g, rtol=1e-12, atol=1e-15)


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        ndgrad.manual_seed(0)
        self.body = nn.Linear(4, 5).double()
        self.a = nn.Linear(5, 2).double()
        self.b = nn.Linear(5, 2).double()
        self.never = nn.Linear(5, 2).double()

    def forward(self, x: ndgrad.Tensor, use_b: bool) -> ndgrad.Tensor:
        h = self.body(x).tanh()
        return self.a(h).sum() + (self.b(h).square().sum() if use_b else 0)


@scenario
def ddp_find_unused() -> None:
    xs = [ndgrad.from_numpy(np.random.default_rng(r).standard_normal((3, 4)))
          for r in range(world())]
    ref, model = TwoHeads(), TwoHeads()
    ddp = DDP(model, find_unused_parameters=True, bucket_cap_mb=0.0001)
    # one process on both ranks' data: rank 0 uses head b, rank 1 does not
    ((ref(xs[0], True) + ref(xs[1], False)) / world()).backward()
    for _ in range(2):  # the second step also starts from zeroed .grad
        model.zero_grad()
        ddp(xs[rank()], use_b=rank() == 0).backward()
        for (name, p), q in zip(model.named_parameters(), ref.parameters()):
            if name.startswith("never"):
                assert p.grad is None, f"{name}: unused on every rank, so no gradient"
            else:
                np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12,
                                           err_msg=name)
    # without find_unused_parameters the next forward names what got no gradient
    ddp = DDP(TwoHeads())
    ddp(xs[rank()], use_b=True).backward()
    raises(RuntimeError, ["find_unused_parameters=True", "never.weight"],
           lambda: ddp(xs[rank()], use_b=True))


@scenario
def ddp_buffers_and_state() -> None:
    ndgrad.manual_seed(rank())  # different weights and buffers on each rank
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[1].running_mean.add_(rank())
    ddp = DDP(model)
    stats: list[object] = [None] * world()
    dist.all_gather_object(stats, model[1].running_mean.numpy().copy())
    assert np.array_equal(stats[0], stats[1]), "buffers must be rank 0's after DDP is built"
    x = ndgrad.from_numpy(np.random.default_rng(rank()).standard_normal((8, 3)).astype("f4"))
    ddp(x).sum().backward()  # each rank's batch statistics update its own running stats
    rank0 = model[1].running_mean.numpy().copy()
    box = [rank0]
    dist.broadcast_object_list(box, src=0)
    ddp.eval()
    with ndgrad.no_grad():
        ddp(x)  # the forward after a training step copies rank 0's buffers first
    same(model[1].running_mean, box[0], "running_mean after the buffer broadcast")
    keys = list(ddp.state_dict())
    assert keys == ["module." + k for k in model.state_dict()], keys
    ddp.load_state_dict(ddp.state_dict())
    raises(RuntimeError, ["the ranks wrap different modules"],
           lambda: DDP(nn.Linear(3, 4 + rank())))
    raises(ValueError, ["device_ids"], lambda: DDP(nn.Linear(2, 2), device_ids=[0]))


@scenario
def ddp_gradient_as_bucket_view() -> None:
    """gradient_as_bucket_view=True: each .grad is a view of its bucket (shared memory on one
    machine), with the right average whether .grad was None, zeroed in place or kept."""
    ds = dataset(8)
    ref, model = mlp(), mlp()
    ddp = DDP(model, gradient_as_bucket_view=True, bucket_cap_mb=0.0005)
    assert len(ddp._reducer.buckets) > 1
    x, y = ds.tensors
    mine = slice(2 * rank(), 2 * rank() + 2)
    nn.functional.cross_entropy(ref(x[:4]), y[:4]).backward()
    expected = [p.grad.numpy().copy() for p in ref.parameters()]
    for set_to_none in (True, False, True):
        model.zero_grad(set_to_none=set_to_none)
        nn.functional.cross_entropy(ddp(x[mine]), y[mine]).backward()
        for p, e in zip(model.parameters(), expected):
            np.testing.assert_allclose(p.grad.numpy(), e, rtol=1e-12, atol=1e-15)
            # on one machine, a view of this rank's private bucket of sums
            assert any(np.shares_memory(p.grad.numpy(), b.buffer if b.result is None else
                                        b.result)
                       for b in ddp._reducer.buckets), ".grad must be a view of its bucket"
    nn.functional.cross_entropy(ddp(x[mine]), y[mine]).backward()  # kept: accumulates
    for p, e in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.grad.numpy(), 2 * e, rtol=1e-12, atol=1e-15)


@scenario
def ddp_over_mpi() -> None:
    """On one machine the buckets are summed in shared memory; NDGRAD_DDP_SHARED_MEMORY=0 (on
    any rank: the ranks agree) sums them with MPI_Allreduce, the path for several machines.
    The DDP scenarios pass on that path too."""
    assert DDP(mlp())._reducer.window is not None, "one machine: shared memory"
    try:
        os.environ["NDGRAD_DDP_SHARED_MEMORY"] = "0" if rank() == 1 else "1"
        assert DDP(mlp())._reducer.window is None, "a rank said no: every rank uses MPI"
        os.environ["NDGRAD_DDP_SHARED_MEMORY"] = "0"
        for check in (ddp_matches_one_process, ddp_no_sync, ddp_grads_are_independent,
                      ddp_find_unused, ddp_gradient_as_bucket_view):
            check()
    finally:
        del os.environ["NDGRAD_DDP_SHARED_MEMORY"]


@scenario
def sync_batch_norm() -> None:
    """DDP over SyncBatchNorm (made by convert_sync_batchnorm) trains as one process with
    BatchNorm on the global batch: weights and running stats, in 1-D and 2-D forms."""
    import ndgrad.distributed.nn.functional as dnn
    rng = np.random.default_rng(11)
    for shape in ((8, 6), (8, 3, 4, 4)):
        x_all = ndgrad.from_numpy(rng.standard_normal(shape))
        y_all = ndgrad.from_numpy(rng.integers(0, 3, shape[0]))

        def net(shape: tuple[int, ...] = shape) -> nn.Module:
            ndgrad.manual_seed(5)
            if len(shape) == 2:
                body = [nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 3)]
            else:
                body = [nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=None), nn.Tanh(),
                        nn.Flatten(), nn.Linear(16, 3)]
            return nn.Sequential(*body).double()
        ref, model = net(), nn.SyncBatchNorm.convert_sync_batchnorm(net())
        assert isinstance(model[1], nn.SyncBatchNorm)
        ddp = DDP(model)
        opt_ref = ndgrad.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
        opt = ndgrad.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        mine = slice(4 * rank(), 4 * rank() + 4)
        for _ in range(3):
            for m, o, x, y in ((ref, opt_ref, x_all, y_all), (ddp, opt, x_all[mine],
                                                              y_all[mine])):
                loss = nn.functional.cross_entropy(m(x), y)
                o.zero_grad()
                loss.backward()
                o.step()
        diff = max_diff(ref, model)
        assert diff < 1e-12, f"{shape}: weights differ by {diff}"
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(getattr(model[1], name).numpy(),
                                       getattr(ref[1], name).numpy(), rtol=1e-12, err_msg=name)
        ddp.eval()
        with ndgrad.no_grad():  # eval: the running stats, no communication
            np.testing.assert_allclose(ddp(x_all[mine]).numpy(), ref.eval()(x_all[mine]).numpy(),
                                       rtol=1e-10)
    # the differentiable all-reduce: the gradient is the sum of every rank's
    x = ndgrad.tensor([1.0, 2.0], dtype=ndgrad.float64, requires_grad=True)
    out = dnn.all_reduce(x * (rank() + 1))
    same(out.detach(), np.array([3.0, 6.0]), "all_reduce forward")
    (out * ndgrad.tensor([1.0, 10.0], dtype=ndgrad.float64)).sum().backward()
    same(x.grad, (rank() + 1) * np.array([2.0, 20.0]), "all_reduce gradient")
    raises(ValueError, ["SUM and AVG"], lambda: dnn.all_reduce(x, op=ReduceOp.MAX))


@scenario
def raise_on_rank_1() -> None:
    """Not a check of its own: rank 1 fails while rank 0 waits for it in a collective."""
    if rank() == 1:
        raise ValueError("boom on rank 1")
    dist.all_reduce(ndgrad.zeros(3))


# ZeroRedundancyOptimizer, object send/recv, coalesced collectives, subgroups: a file of their own
from dist_worker_extras import EXTRA_SCENARIOS  # noqa: E402 - after this file's scenarios

SCENARIOS.update(EXTRA_SCENARIOS)


def main(names: list[str]) -> None:
    dist.init_process_group("mpi")
    if names == ["all"]:
        names = [n for n in SCENARIOS if n != "raise_on_rank_1"]
    for name in names:
        if name == "raise_on_rank_1":
            SCENARIOS[name]()  # uncaught, on purpose
            continue
        try:
            SCENARIOS[name]()
            result = "ok"
        except Exception:
            result = "FAIL " + traceback.format_exc().replace("\n", "\\n")
        print(f"RESULT {rank()} {name} {result}", flush=True)
        dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
