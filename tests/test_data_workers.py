"""DataLoader with worker processes (num_workers > 0): the same batches as in-process loading,
worker_init_fn and get_worker_info, per-worker seeds, IterableDataset sharding, persistent
workers, prefetching, timeouts, a worker's exception re-raised here, and clean shutdown.

The datasets are module-level classes so that the spawn start method can pickle them."""

import math
import multiprocessing
import os
import random
import time

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.utils.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    TensorDataset,
    WorkerInfo,
    get_worker_info,
)
from ndgrad.utils.data._worker import worker_seeds

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


class Items(Dataset):
    """Item i is a dict: its index, which worker loaded it, and that worker's random draws."""

    def __init__(self, n=12):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "worker": -1 if info is None else info.id, "pid": os.getpid(),
                "np": np.random.randint(2**31), "py": random.random(),
                "ndgrad": ndgrad.rand(()).item()}


class Failing(Dataset):
    def __init__(self, bad=5, error=ValueError):
        self.bad, self.error = bad, error

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == self.bad:
            raise self.error(f"item {i} is bad")
        return i


class TwoArgError(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(3 if i == 2 else 0)
        return i


class Dies(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            os._exit(3)
        return i


class Unpicklable(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return lambda: i


class Logged(Dataset):
    """Writes a file per item it loads, to see from here how far the workers got."""

    def __init__(self, folder, n=40):
        self.folder, self.n = folder, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        (self.folder / str(i)).write_text("")
        return i


class Range(IterableDataset):
    """torch's documentation example: each worker reads its share of [start, end)."""

    def __init__(self, start, end, shard=True):
        self.start, self.end, self.shard = start, end, shard

    def __iter__(self):
        info = get_worker_info()
        lo, hi = self.start, self.end
        if info is not None and self.shard:
            per_worker = math.ceil((hi - lo) / info.num_workers)
            lo = self.start + info.id * per_worker
            hi = min(lo + per_worker, self.end)
        return iter(range(lo, hi))


class TorchRange(torch.utils.data.IterableDataset):
    def __init__(self, start, end, shard=True):
        self.start, self.end, self.shard = start, end, shard

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        lo, hi = self.start, self.end
        if info is not None and self.shard:
            per_worker = math.ceil((hi - lo) / info.num_workers)
            lo = self.start + info.id * per_worker
            hi = min(lo + per_worker, self.end)
        return iter(range(lo, hi))


def record_worker(worker_id):
    info = get_worker_info()
    assert isinstance(info, WorkerInfo) and info.id == worker_id and info.num_workers == 2
    info.dataset.n = 12 + worker_id  # its own copy: the main process's dataset is unchanged
    os.environ["INIT_RAN"] = str(worker_id)


class InitSeen(Dataset):
    n = 12

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return {"init": int(os.environ.get("INIT_RAN", -1)), "worker": info.id,
                "n": info.dataset.n, "seed": info.seed}


def bad_init(worker_id):
    raise RuntimeError(f"init of worker {worker_id} failed")


def plain(batches):
    return [{k: v.tolist() for k, v in b.items()} if isinstance(b, dict) else b.tolist()
            for b in batches]


def no_children():
    deadline = time.monotonic() + 5
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


# -- the same batches, in the same order ------------------------------------------------------
def test_workers_give_the_same_batches_in_order():
    x, y = ndgrad.randn(23, 3), ndgrad.arange(23)
    for ds, kwargs in ((TensorDataset(x, y), {}), (TensorDataset(x, y), {"shuffle": True}),
                       (Items(23), {"drop_last": True})):
        batches = {}
        for workers in (0, 2):
            loader = DataLoader(ds, batch_size=4, num_workers=workers,
                                generator=ndgrad.Generator().manual_seed(3), **kwargs)
            it = iter(loader)
            assert len(it) == len(loader)
            batches[workers] = list(it)
        if isinstance(ds, Items):
            assert [b["i"].tolist() for b in batches[0]] == [b["i"].tolist() for b in batches[2]]
            assert [b["worker"].tolist() for b in batches[2]] == [[0] * 4, [1] * 4] * 2 + [[0] * 4]
        else:  # same shuffle whatever num_workers is, as in torch
            assert plain(b[1] for b in batches[0]) == plain(b[1] for b in batches[2])
            np.testing.assert_array_equal(batches[0][2][0].numpy(), batches[2][2][0].numpy())
    assert no_children()


def test_batch_size_none_and_in_order_false():
    assert list(DataLoader(Failing(bad=99), batch_size=None, num_workers=2)) == list(range(8))
    loader = DataLoader(Failing(bad=99), batch_size=3, num_workers=2, in_order=False)
    assert sorted(i for b in loader for i in b.tolist()) == list(range(8))


# -- worker_init_fn, get_worker_info, seeds ---------------------------------------------------
def test_worker_init_fn_and_get_worker_info():
    assert get_worker_info() is None
    ds = InitSeen()
    rows = [r for b in DataLoader(ds, batch_size=3, num_workers=2, worker_init_fn=record_worker)
            for r in zip(*(b[k].tolist() for k in ("init", "worker", "n", "seed")))]
    assert {(init, worker, n) for init, worker, n, _ in rows} == {(0, 0, 12), (1, 1, 13)}
    seeds = {worker: seed for _, worker, _, seed in rows}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id, as torch
    assert ds.n == 12 and "INIT_RAN" not in os.environ


def test_each_worker_and_epoch_has_its_own_random_streams():
    loader = DataLoader(Items(8), batch_size=2, num_workers=2,
                        generator=ndgrad.Generator().manual_seed(0))

    def draws():
        rows = [r for b in loader for r in zip(*(b[k].tolist() for k in
                                                  ("worker", "np", "py", "ndgrad")))]
        return {w: [r[1:] for r in rows if r[0] == w] for w in (0, 1)}

    first, second = draws(), draws()
    for key in range(3):  # NumPy's global, Python's random, ndgrad's global generator
        assert [r[key] for r in first[0]] != [r[key] for r in first[1]]
        assert [r[key] for r in first[0]] != [r[key] for r in second[0]]
    again = DataLoader(Items(8), batch_size=2, num_workers=2,
                       generator=ndgrad.Generator().manual_seed(0))
    rows = [r for b in again for r in zip(b["worker"].tolist(), b["np"].tolist())]
    assert [v for w, v in rows if w == 0] == [r[0] for r in first[0]]  # reproducible


def test_numpy_seed_is_derived_as_torch_derives_it():
    from torch.utils.data._utils.worker import _generate_state

    for base_seed, worker_id in ((0, 0), (123456789012345, 3), (2**63 - 1, 7)):
        seed, state = worker_seeds(base_seed, worker_id)
        assert seed == base_seed + worker_id
        assert state.tolist() == _generate_state(base_seed, worker_id)


# -- IterableDataset -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{"batch_size": None}, {"batch_size": 2},
                                    {"batch_size": 2, "drop_last": True}])
@pytest.mark.parametrize("shard", [True, False])
def test_iterable_dataset_workers_match_torch(kwargs, shard):
    # sharded with get_worker_info each item comes once; unsharded each worker repeats the
    # stream (as in torch); batches interleave worker by worker in the same order as torch's
    ours = DataLoader(Range(3, 10, shard), num_workers=2, **kwargs)
    theirs = torch.utils.data.DataLoader(TorchRange(3, 10, shard), num_workers=2, **kwargs)
    def items(loader):
        return [b if isinstance(b, int) else b.tolist() for b in loader]

    assert items(ours) == items(theirs)


# -- errors ----------------------------------------------------------------------------------
def test_worker_exception_is_raised_here_with_its_traceback():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0, 1] and next(it).tolist() == [2, 3]
    with pytest.raises(ValueError) as info:
        next(it)
    message = str(info.value)
    assert message.startswith("Caught ValueError in DataLoader worker process 0.\n"
                              "Original Traceback (most recent call last):\n")
    assert 'raise self.error(f"item {i} is bad")' in message
    assert message.rstrip().endswith("ValueError: item 5 is bad")
    assert next(it).tolist() == [6, 7]  # the other batches still come, as in torch
    del it, info
    assert no_children()
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 0"):
        list(DataLoader(Failing(bad=1, error=KeyError), batch_size=2, num_workers=1))
    with pytest.raises(RuntimeError, match="(?s)Caught TwoArgError.*'item 1 is bad'"):
        list(DataLoader(Failing(bad=1, error=lambda m: TwoArgError(m, 0)), batch_size=2,
                        num_workers=1))
    with pytest.raises(RuntimeError, match="(?s)Caught RuntimeError.*init of worker 0 failed"):
        list(DataLoader(Failing(), num_workers=1, worker_init_fn=bad_init))
    assert no_children()


def test_unpicklable_batch_is_an_error_not_a_hang():
    with pytest.raises(Exception, match="(?s)while sending the batch to the main process.*"
                                        "pickle"):
        list(DataLoader(Unpicklable(), batch_size=None, num_workers=1, timeout=20))


def test_timeout():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5))
    assert time.monotonic() - start < 3
    assert no_children()


def test_a_dead_worker_is_an_error():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly \(exit code 3\)"):
        list(DataLoader(Dies(), batch_size=1, num_workers=1))
    assert no_children()


# -- worker lifetime -------------------------------------------------------------------------
def test_persistent_workers_are_reused():
    loader = DataLoader(Items(10), batch_size=2, num_workers=2, persistent_workers=True,
                        shuffle=True, generator=ndgrad.Generator().manual_seed(0))
    epochs = [list(loader) for _ in range(3)]
    pids = [{p for b in e for p in b["pid"].tolist()} for e in epochs]
    assert pids[0] == pids[1] == pids[2] and len(pids[0]) == 2
    orders = [[i for b in e for i in b["i"].tolist()] for e in epochs]
    assert all(sorted(o) == list(range(10)) for o in orders) and orders[0] != orders[1]
    it = iter(loader)
    next(it)  # stop early: the next epoch still starts clean, with all of its batches
    assert sorted(i for b in loader for i in b["i"].tolist()) == list(range(10))
    assert sorted(i for b in DataLoader(Range(0, 6), batch_size=2, num_workers=2,
                                        persistent_workers=True) for i in b.tolist()) == \
           list(range(6))
    del loader, it
    assert no_children()


def test_prefetch_factor_bounds_the_work_in_flight(tmp_path):
    loader = DataLoader(Logged(tmp_path), batch_size=2, num_workers=2, prefetch_factor=1)
    it = iter(loader)
    next(it)
    time.sleep(0.5)
    # 2 workers x 1 batch handed out at the start, plus one more when a batch came back
    assert len(list(tmp_path.iterdir())) <= 2 * 3
    del it
    assert no_children()


def test_workers_stop_when_the_loop_stops():
    it = iter(DataLoader(Items(40), batch_size=2, num_workers=2))
    next(it)
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    del it
    assert all(w.exitcode == 0 for w in workers) and no_children()


def test_spawn_start_method():
    # what Python 3.14 does by default (forkserver) needs everything sent to be picklable
    loader = DataLoader(Items(4), batch_size=2, num_workers=1, multiprocessing_context="spawn")
    assert [b["i"].tolist() for b in loader] == [[0, 1], [2, 3]]
