"""More scenarios for tests/dist_worker.py (which adds these to its SCENARIOS, so the one
``mpirun -n 2 python tests/dist_worker.py all`` job runs them): ZeroRedundancyOptimizer against
one process with the plain optimizer on the global batch, send/recv_object_list, the
coalesced collectives and subgroups, against NumPy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import ndgrad
import ndgrad.distributed as dist
from ndgrad import nn
from ndgrad.distributed.optim import ZeroRedundancyOptimizer
from ndgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: N817 - as torch users write it

EXTRA_SCENARIOS: dict[str, Callable[[], None]] = {}


def scenario(fn: Callable[[], None]) -> Callable[[], None]:
    EXTRA_SCENARIOS[fn.__name__] = fn
    return fn


def rank() -> int:
    return dist.get_rank()


def raises(exc: type[Exception], words: list[str], fn: Callable[[], object]) -> None:
    try:
        fn()
    except exc as e:
        for w in words:
            assert w in str(e), f"{w!r} not in the error: {e}"
        return
    raise AssertionError(f"no {exc.__name__} raised")


# -- ZeroRedundancyOptimizer --------------------------------------------------------------------
def mlp(seed: int = 0) -> nn.Module:
    """Parameters of 6 sizes: the two ranks' shards differ (3 parameters each)."""
    ndgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 9), nn.Tanh(), nn.Linear(9, 7), nn.Tanh(),
                         nn.Linear(7, 3)).double()


def batch(step: int, n: int = 8) -> tuple[ndgrad.Tensor, ndgrad.Tensor]:
    """The global batch of ``step``; rank r trains on rows r::2 of it."""
    rng = np.random.default_rng(50 + step)
    return (ndgrad.from_numpy(rng.standard_normal((n, 5))),
            ndgrad.from_numpy(rng.integers(0, 3, n)))


def train(model: nn.Module, opt: Any, steps: range, shard: bool) -> None:
    """Steps of cross entropy on the global batch (``shard``: this rank's half of it)."""
    for step in steps:
        x, y = batch(step)
        if shard:
            x, y = x[rank()::2], y[rank()::2]
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
               for p, q in zip(a.parameters(), b.parameters()))


OPTIMIZERS: list[tuple[type[ndgrad.optim.Optimizer], dict[str, Any]]] = [
    (ndgrad.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (ndgrad.optim.Adam, {"lr": 0.01, "weight_decay": 0.01})]


def same_state(got: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    assert got["param_groups"] == expected["param_groups"], what
    assert list(got["state"]) == list(expected["state"]), what
    for i, s in expected["state"].items():
        assert list(got["state"][i]) == list(s), f"{what}: {list(got['state'][i])} {list(s)}"
        for k, v in s.items():
            np.testing.assert_allclose(got["state"][i][k].numpy(), v.numpy(), rtol=1e-11,
                                       atol=1e-15, err_msg=f"{what}: state {i} {k}")


@scenario
def zero_matches_one_process() -> None:
    """2 ranks with DDP and ZeRO == 1 process with the plain optimizer on the global batch;
    each rank keeps state for its own shard only, torch's partition."""
    for cls, kw in OPTIMIZERS:
        for as_bucket_view in (False, True):
            what = f"{cls.__name__} parameters_as_bucket_view={as_bucket_view}"
            ref, model = mlp(), mlp(seed=rank())
            ddp = DDP(model)
            opt_ref = cls(ref.parameters(), **kw)
            zero = ZeroRedundancyOptimizer(ddp.parameters(), cls,
                                           parameters_as_bucket_view=as_bucket_view, **kw)
            train(ref, opt_ref, range(3), shard=False)
            train(ddp, zero, range(3), shard=True)
            diff = max_diff(ref, model)
            assert diff < 1e-12, f"{what}: weights differ by {diff}"
            params = list(model.parameters())
            index = {id(p): i for i, p in enumerate(params)}
            mine = [index[id(p)] for g in zero.optim.param_groups for p in g["params"]]
            assert sorted(id(p) for p in zero.optim.state) == sorted(id(params[i])
                                                                       for i in mine), what
            shards = zero.process_group.comm.allgather(sorted(mine))
            # torch's greedy, largest first to the smaller rank: sizes 63 45 21 9 7 3 (indices
            # 2 0 4 1 3 5) -> rank 0 gets 63, 9, 3; rank 1 gets 45, 21, 7
            assert shards == [[1, 2, 5], [0, 3, 4]], f"{what}: shards {shards}"
            if as_bucket_view:  # every trainable parameter is a view of its owner's bucket
                assert all(any(np.shares_memory(p._data, b) for b in zero._buckets[0])
                           for p in params), what


@scenario
def zero_state_dict() -> None:
    """consolidate_state_dict gathers every rank's shard: the plain optimizer's state_dict;
    load_state_dict round-trips (also the plain optimizer's); add_param_group (buckets
    rebuilt); closures; lr changes."""
    for (cls, kw), as_bucket_view in zip(OPTIMIZERS, (False, True)):
        ref, model = mlp(), mlp()
        opt_ref, zero = cls(ref.parameters(), **kw), ZeroRedundancyOptimizer(
            model.parameters(), cls, parameters_as_bucket_view=as_bucket_view, **kw)
        train(ref, opt_ref, range(2), shard=False)
        train(model, zero, range(2), shard=False)  # the same batch on both ranks
        raises(RuntimeError, [f"Optimizer state has not been consolidated on this rank. Please "
                              f"call `consolidate_state_dict(to={rank()})` on all ranks "
                              f"beforehand if you meant to save the global state."],
               zero.state_dict)
        zero.consolidate_state_dict(to=1)
        if rank() == 1:
            same_state(zero.state_dict(), opt_ref.state_dict(), f"{cls.__name__} to=1")
        else:
            raises(RuntimeError, ["has not been consolidated"], zero.state_dict)
        zero.consolidate_state_dict()  # to=0: rank 1 drops what it had
        if rank() == 1:
            raises(RuntimeError, ["to=1"], zero.state_dict)
        saved: list[Any] = [zero.state_dict() if rank() == 0 else None]
        dist.broadcast_object_list(saved, src=0)
        same_state(saved[0], opt_ref.state_dict(), f"{cls.__name__} to=0, as sent")
        # a new optimizer on a copy of the model, loaded, steps as the first one
        copy = mlp()
        copy.load_state_dict(model.state_dict())
        for source in (saved[0], opt_ref.state_dict()):
            loaded = ZeroRedundancyOptimizer(copy.parameters(), cls, **kw)
            loaded.load_state_dict(source)
            loaded.consolidate_state_dict(to=1)
            if rank() == 1:
                same_state(loaded.state_dict(), opt_ref.state_dict(), "loaded")
        train(copy, loaded, range(2, 4), shard=False)
        train(model, zero, range(2, 4), shard=False)
        train(ref, opt_ref, range(2, 4), shard=False)
        assert max_diff(copy, ref) < 1e-12 and max_diff(model, ref) < 1e-12
        # a new group of parameters, sharded too; settings of its own
        ndgrad.manual_seed(11)
        extra, extra_ref = nn.Linear(5, 4).double(), nn.Linear(5, 4).double()
        extra_ref.load_state_dict(extra.state_dict())
        zero.add_param_group({"params": extra.parameters(), "lr": 0.05})
        opt_ref.add_param_group({"params": extra_ref.parameters(), "lr": 0.05})
        assert len(zero.param_groups) == len(zero.optim.param_groups) == 2
        if as_bucket_view:
            assert np.shares_memory(extra.weight._data, zero._buckets[0][1])  # rank 1 owns it
        assert zero.param_groups[1]["lr"] == 0.05 == zero.optim.param_groups[1]["lr"]
        x, y = batch(9)
        losses = []
        for m, e, opt in ((model, extra, zero), (ref, extra_ref, opt_ref)):
            def closure(m: nn.Module = m, e: nn.Module = e, opt: Any = opt,
                        x: ndgrad.Tensor = x, y: ndgrad.Tensor = y) -> ndgrad.Tensor:
                opt.zero_grad()
                loss = nn.functional.cross_entropy(m(x), y) + e(x).square().mean()
                loss.backward()
                return loss
            losses.append(float(opt.step(closure)))
        assert abs(losses[0] - losses[1]) < 1e-12, losses
        assert max_diff(model, ref) < 1e-12 and max_diff(extra, extra_ref) < 1e-12
        # an lr scheduler changes param_groups: the local optimizer follows
        zero.param_groups[0]["lr"] = 0.0
        before = [p.detach().numpy().copy() for p in model.parameters()]
        train(model, zero, range(1), shard=False)
        assert all(np.array_equal(b, p.detach().numpy())
                   for b, p in zip(before, model.parameters()))
    raises(RuntimeError, ["disagree on `to` ([0, 1]"], lambda: zero.consolidate_state_dict(
        to=rank()))
    raises(RuntimeError, ["parameters differ"], lambda: ZeroRedundancyOptimizer(
        mlp().parameters() if rank() == 0 else nn.Linear(2, 2).double().parameters(),
        ndgrad.optim.SGD, lr=0.1))


# -- objects, coalesced collectives, subgroups ---------------------------------------------------
@scenario
def object_p2p() -> None:
    """send_object_list/recv_object_list both ways, from any rank, by group rank; errors."""
    objects = [{"rank": rank()}, "text", np.arange(3) * rank(), None]
    got: list[Any] = [0] * 4
    other = 1 - rank()
    if rank() == 0:
        dist.send_object_list(objects, dst=1)
        assert dist.recv_object_list(got) == 1  # from whichever rank sends
    else:
        assert dist.recv_object_list(got, src=0) == 0
        dist.send_object_list(objects, group_dst=0)
    assert got[:2] == [{"rank": other}, "text"] and got[3] is None
    np.testing.assert_array_equal(got[2], np.arange(3) * other)
    group = dist.new_group([0, 1])
    assert isinstance(group, dist.ProcessGroup)
    if rank() == 1:
        dist.send_object_list([rank()], dst=0, group=group)
        dist.send_object_list([1, 2], dst=0, group=group)
    else:
        mine = [None]
        assert dist.recv_object_list(mine, group_src=1, group=group) == 1 and mine == [1]
        raises(ValueError, ["sent 2 objects", "holds 1"],
               lambda: dist.recv_object_list([None], src=1, group=group))
    dist.destroy_process_group(group)
    raises(ValueError, ["Invalid destination rank"],
           lambda: dist.send_object_list([1], dst=rank()))
    raises(ValueError, ["Invalid source rank"],
           lambda: dist.recv_object_list([1], group_src=rank()))
    raises(ValueError, ["Must specify dst"], lambda: dist.send_object_list([1]))
    raises(ValueError, ["Can't specify both"],
           lambda: dist.send_object_list([1], dst=other, group_dst=other))
    raises(ValueError, ["group_src=5"], lambda: dist.recv_object_list([1], group_src=5))


@scenario
def coalesced() -> None:
    """all_reduce_coalesced and all_gather_coalesced against NumPy; FutureWarning; async."""
    shapes = [(2, 3), (), (4,)]

    def inputs(r: int, dtype: str = "float64") -> list[np.ndarray]:
        rng = np.random.default_rng(r)
        return [rng.integers(-4, 5, s).astype(dtype) for s in shapes]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX):
            ts = [ndgrad.from_numpy(a) for a in inputs(rank())]
            assert dist.all_reduce_coalesced(ts, op=op) is None
            for i, t in enumerate(ts):
                both = np.stack([inputs(0)[i], inputs(1)[i]])
                expect = both.max(0) if op is dist.ReduceOp.MAX else both.sum(0)
                expect = expect / 2 if op is dist.ReduceOp.AVG else expect
                np.testing.assert_array_equal(t.numpy(), expect, err_msg=f"{op} {i}")
        single = ndgrad.from_numpy(inputs(rank(), "int32")[0])
        dist.all_reduce_coalesced(single)
        np.testing.assert_array_equal(single.numpy(), inputs(0, "int32")[0] +
                                      inputs(1, "int32")[0])
        outs = [[ndgrad.zeros(s, dtype=ndgrad.float64) for s in shapes] for _ in range(2)]
        ins = [ndgrad.from_numpy(a) for a in inputs(rank())]
        future = dist.all_gather_coalesced(outs, ins, async_op=True)
        future.wait()
        for r in range(2):
            for o, a in zip(outs[r], inputs(r)):
                np.testing.assert_array_equal(o.numpy(), a)
    assert [w.category for w in caught] == [FutureWarning] * 5, caught
    assert "`ndgrad.distributed.all_gather_coalesced` will be deprecated" in str(
        caught[-1].message)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        raises(ValueError, ["different dtypes"], lambda: dist.all_reduce_coalesced(
            [ndgrad.zeros(2), ndgrad.zeros(2, dtype=ndgrad.float64)]))
        raises(RuntimeError, ["the ranks disagree"], lambda: dist.all_reduce_coalesced(
            [ndgrad.zeros(2 + rank())]))
        raises(ValueError, ["output_tensor_lists[0]"], lambda: dist.all_gather_coalesced(
            [[ndgrad.zeros(3)], [ndgrad.zeros(2)]], [ndgrad.zeros(2)]))


@scenario
def subgroups() -> None:
    """new_subgroups and new_subgroups_by_enumeration; get_pg_count; get_backend_config."""
    count = dist.get_pg_count()
    mine, every = dist.new_subgroups(group_size=1)
    assert isinstance(mine, dist.ProcessGroup)
    assert len(every) == 2 and mine is every[rank()], (mine, every)
    assert dist.get_process_group_ranks(mine) == [rank()]
    assert every[1 - rank()] == dist.GroupMember.NON_GROUP_MEMBER
    t = ndgrad.tensor([rank() + 1.0])
    dist.all_reduce(t, group=mine)  # alone in its group: unchanged
    assert t.item() == rank() + 1.0
    pair, [both] = dist.new_subgroups(2)
    assert isinstance(pair, dist.ProcessGroup) and pair is both
    assert dist.get_process_group_ranks(pair) == [0, 1]
    dist.all_reduce(t, group=pair)
    assert t.item() == 3.0
    only_1, groups = dist.new_subgroups_by_enumeration([[1]])
    assert (only_1 is None) == (rank() == 0) and len(groups) == 1
    assert dist.get_pg_count() == count + 4, dist.get_pg_count()
    assert dist.get_backend_config() == dist.get_backend_config(pair) == "cpu:mpi"
    for g in [mine, pair, groups[0]]:
        if isinstance(g, dist.ProcessGroup):
            dist.destroy_process_group(g)
    assert dist.get_pg_count() == count + 4  # as torch: destroying a subgroup keeps the count
    raises(ValueError, ["must not exceed the world size (2)"], lambda: dist.new_subgroups(3))
    raises(ValueError, ["must be positive"], lambda: dist.new_subgroups(0))
    raises(ValueError, ["pass in 'group_size'"], lambda: dist.new_subgroups())
    raises(ValueError, ["cannot be empty"], lambda: dist.new_subgroups_by_enumeration([]))
    raises(ValueError, ["Rank 1 has appeared in both subgroup [0, 1] and [1]"],
           lambda: dist.new_subgroups_by_enumeration([[0, 1], [1]]))
    assert dist.get_pg_count() == count + 4
