"""ndgrad.multiprocessing and shared-memory tensors: share_memory_/is_shared against torch, views
and other users of the memory, Module.share_memory, tensors through a Queue and as a spawned
Process's arguments (the same memory on both sides), Hogwild training with fork and spawn,
spawn's error propagation, sharing strategies, and nothing left behind.

The functions the children run are at module level (spawn pickles them) and this module imports
no torch at module level: a spawned child imports it, and torch would cost it a second."""

import gc
import multiprocessing
import os
import warnings
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

import ndgrad
import ndgrad.multiprocessing as mp
from ndgrad.multiprocessing import _shm

FORK = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                          reason="needs the fork start method")


def _round_trip(obj):
    """What another process would receive: ForkingPickler's bytes, in memory, loaded here."""
    return ForkingPickler.loads(ForkingPickler.dumps(obj))


def _my_segment_files():
    return sorted(f for f in os.listdir(_shm.SHM_DIR) if f.startswith(f"ndgrad_{os.getpid()}_"))


def _open_fds():
    return len(os.listdir("/proc/self/fd"))


# -- share_memory_ and is_shared ---------------------------------------------------------------
MAKERS = {
    "float32": lambda t: t.arange(6, dtype=t.float32).reshape(2, 3).clone(),
    "float64": lambda t: t.arange(6, dtype=t.float64).clone(),
    "int64": lambda t: t.arange(5, dtype=t.int64).clone(),
    "bool": lambda t: (t.arange(4).clone() % 2 == 0),
    "empty": lambda t: t.zeros(0, 3),
    "0-d": lambda t: t.tensor(2.5),
    "non-contiguous": lambda t: t.arange(12.0).reshape(3, 4).t(),
    "strided slice": lambda t: t.arange(10.0)[1::3],
    "expanded": lambda t: t.arange(3.0).reshape(3, 1).clone().expand(3, 4),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_share_memory_matches_torch(name):
    import torch

    for lib in (torch, ndgrad):
        t = MAKERS[name](lib)
        stride = t.stride()
        before = (t.is_shared(), t.shape, t.dtype, t.tolist())
        assert t.share_memory_() is t
        after = (t.is_shared(), t.shape, t.dtype, t.tolist())
        assert t.share_memory_() is t  # a no-op now
        assert t.stride() == stride  # (ndgrad's empty tensors have NumPy's strides: not torch's)
        if lib is torch:
            expected = (before, after)
        else:
            assert (str(before), str(after)) == tuple(
                str(x).replace("torch.", "ndgrad.") for x in expected), name
    if t.numel():
        assert not t._data.flags.owndata and t._data.flags.writeable


def test_a_view_brings_its_base_and_they_stay_one_memory():
    base = ndgrad.arange(12.0).reshape(3, 4).clone()
    view = base[1:, ::2]
    assert view.share_memory_() is view
    assert base.is_shared() and view.is_shared() and view._base is base
    view[0, 1] = 100.0
    assert base[1, 2].item() == 100.0
    base.add_(1)
    assert view[0, 1].item() == 101.0
    later = base.t()  # views made afterwards are over the shared memory too
    assert later.is_shared()
    # autograd still sees one version counter and one history
    x = ndgrad.ones(4, requires_grad=True)
    y = (x * 2).share_memory_()
    y[1:].mul_(3)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 6.0, 6.0, 6.0]


@pytest.mark.parametrize("alias", ["view", "detach", "data", "parameter", "from_numpy"])
def test_memory_with_other_users_is_refused_and_left_alone(alias):
    """torch moves the storage and every tensor on it follows; ndgrad cannot find the other
    arrays over the memory, so it refuses rather than leave them behind silently."""
    if alias == "from_numpy":
        keep = np.arange(4.0, dtype=np.float32)
        t = ndgrad.from_numpy(keep)
    else:
        t = ndgrad.arange(4.0).clone()
        keep = {"view": lambda: t[1:], "detach": t.detach, "data": lambda: t.data,
                "parameter": lambda: ndgrad.nn.Parameter(t)}[alias]()
    arr = id(t._data)  # (holding the array itself would be one more user)
    with pytest.raises(RuntimeError, match="cannot move this tensor's memory into shared"):
        t.share_memory_()
    assert id(t._data) == arr and not t.is_shared()
    del keep
    assert t.share_memory_().is_shared() and t.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_module_share_memory_matches_torch():
    import torch

    def build(lib):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))
        m[2].bias.requires_grad_(False)
        # .grad on the linear layers' parameters but the frozen bias (batch norm, untouched,
        # would cost numba's kernels a second here)
        m[2](m[0](lib.randn(5, 3))).square().sum().backward()
        return m

    seen = {}
    for lib in (torch, ndgrad):
        m = build(lib)
        params = list(m.parameters())
        # (torch's optimizers take a second and a half to load: a hand-written step for it)
        opt = ndgrad.optim.SGD(params, lr=0.1, momentum=0.9) if lib is ndgrad else None
        before = [p.detach().clone() for p in params]
        assert m.share_memory() is m
        assert all(a is b for a, b in zip(params, m.parameters(), strict=True))
        seen[lib] = (
            [(n, p.is_shared(), p.grad is not None and p.grad.is_shared())
             for n, p in m.named_parameters()],
            [(n, b.is_shared()) for n, b in m.named_buffers()])
        for p, b in zip(params, before, strict=True):
            assert lib.equal(p.detach(), b)
        if opt is None:
            with torch.no_grad():
                params[0].sub_(0.1 * params[0].grad)
        else:  # the optimizer built before updates the (same, now shared) parameters
            opt.step()
        assert not lib.equal(params[0].detach(), before[0])
        assert params[0].is_shared()
        assert m.share_memory() is m  # again: nothing to do
    assert seen[ndgrad] == seen[torch]


def test_reached_lazily_and_re_exports_multiprocessing():
    import torch.multiprocessing as tmp

    assert ndgrad.multiprocessing is mp
    for name in multiprocessing.__all__:
        assert hasattr(mp, name), name
    for name in ("spawn", "start_processes", "ProcessContext", "ProcessRaisedException",
                 "ProcessExitedException", "get_sharing_strategy", "set_sharing_strategy",
                 "get_all_sharing_strategies", "SpawnContext"):
        assert hasattr(tmp, name) and hasattr(mp, name), name
    assert mp.get_sharing_strategy() == tmp.get_sharing_strategy()
    assert mp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    with pytest.raises(AssertionError, match="invalid sharing strategy"):
        mp.set_sharing_strategy("carrier pigeon")


# -- pickling between processes ----------------------------------------------------------------
@pytest.mark.parametrize("name", list(MAKERS))
def test_a_sent_tensor_arrives_on_the_same_memory(name):
    t = MAKERS[name](ndgrad)
    got = _round_trip(t)
    assert t.is_shared() and got.is_shared()  # the sender's tensor was moved, as in torch
    assert type(got) is ndgrad.Tensor and got is not t
    assert (got.shape, got.stride(), got.dtype, got.tolist()) == (
        t.shape, t.stride(), t.dtype, t.tolist())
    if t.numel():
        first = (0,) * t.dim()
        got[first] = 7 if t.dtype != ndgrad.bool else not t[first].item()
        assert t[first].item() == got[first].item() == (7 if t.dtype != ndgrad.bool else False)
        assert got.data_ptr() == t.data_ptr()  # one mapping per process, found again


def test_parameters_buffers_and_requires_grad_survive():
    p = ndgrad.nn.Parameter(ndgrad.ones(2, 3))
    q = ndgrad.nn.Parameter(ndgrad.ones(2), requires_grad=False)
    b = ndgrad.nn.Buffer(ndgrad.zeros(3), persistent=False)
    leaf = ndgrad.ones(2, requires_grad=True)
    base = ndgrad.zeros(4, 2).share_memory_()
    p2, q2, b2, leaf2, (base2, row2) = _round_trip((p, q, b, leaf, (base, base[1])))
    assert type(p2) is ndgrad.nn.Parameter and p2.requires_grad and p2.is_leaf
    assert type(q2) is ndgrad.nn.Parameter and not q2.requires_grad
    assert type(b2) is ndgrad.nn.Buffer and b2.persistent is False
    assert leaf2.requires_grad and leaf2.is_leaf and leaf2.grad is None
    row2[1] = 5.0  # a base and its view, sent together, are still one memory
    assert base2[1, 1].item() == 5.0 and base[1, 1].item() == 5.0
    assert _shm.segment_of(base2._data) is _shm.segment_of(row2._data)


def test_a_tensor_that_cannot_be_moved_is_sent_as_a_copy_with_a_warning():
    t = ndgrad.arange(4.0).clone()
    view = t[1:]
    with pytest.warns(UserWarning, match="receiver gets a copy of it in shared memory"):
        got = _round_trip(t)
    assert got.is_shared() and not t.is_shared() and not view.is_shared()
    got[1] = 9.0
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0] and got.tolist() == [0.0, 9.0, 2.0, 3.0]
    base = ndgrad.arange(3.0).reshape(3, 1).clone()
    expanded, other = base.expand(3, 4), base[1:]  # a view whose base has another view
    with pytest.warns(UserWarning):
        got = _round_trip(expanded)
    assert got.is_shared() and got.tolist() == expanded.tolist() and got.stride() == (1, 0)
    assert not other.is_shared()


def test_a_non_leaf_that_requires_grad_is_refused_as_by_torch():
    x = ndgrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor"):
        ForkingPickler.dumps(x * 2)
    got = _round_trip((x * 2).detach())  # (not inside assert: pytest would keep x * 2 alive)
    assert got.tolist() == [2.0, 2.0] and not got.requires_grad


def test_plain_pickle_still_copies():
    import pickle

    t = ndgrad.arange(3.0).share_memory_()
    got = pickle.loads(pickle.dumps(t))
    assert not got.is_shared() and got.tolist() == [0.0, 1.0, 2.0]


def test_shared_memory_is_freed_when_no_one_uses_it():
    _round_trip(ndgrad.ones(1))  # starts multiprocessing's resource sharer (a socket) if need be
    gc.collect()
    fds = _open_fds()
    ts = [ndgrad.ones(100).share_memory_() for _ in range(5)]
    copies = [_round_trip(t) for t in ts]
    assert _open_fds() == fds + _shm.FDS_PER_SEGMENT * len(ts)
    del ts, copies
    gc.collect()
    assert _open_fds() == fds


def test_file_system_strategy_names_and_removes_segments():
    mp.set_sharing_strategy("file_system")
    try:
        t = ndgrad.arange(4.0).clone().share_memory_()
        names = _my_segment_files()
        assert len(names) == 1 and t.is_shared()
        got = _round_trip(t[1:])
        got[0] = 9.0
        assert t[1].item() == 9.0 and _my_segment_files() == names
    finally:
        mp.set_sharing_strategy("file_descriptor")
    u = ndgrad.zeros(2).share_memory_()  # back to memfds: no file
    assert _my_segment_files() == names
    del t, got, u
    gc.collect()
    assert _my_segment_files() == []


# -- processes ---------------------------------------------------------------------------------
def _receive_write_reply(inbox, outbox, done):
    """A child: write into the tensors it receives, say what it got, wait until told."""
    t, p = inbox.get()
    t += 1
    with ndgrad.no_grad():
        p.mul_(2)
    outbox.put((t.is_shared(), type(p).__name__, p.requires_grad, t.sum().item()))
    done.wait()  # the sender of a tensor must live until it is received (as in torch)


@pytest.mark.parametrize("method", [pytest.param("fork", marks=FORK), "spawn"])
def test_queue_round_trip_child_writes_are_seen(method):
    ctx = mp.get_context(method)
    inbox, outbox, done = ctx.Queue(), ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_receive_write_reply, args=(inbox, outbox, done))
    proc.start()
    t = ndgrad.zeros(2, 3)  # not shared: moved to shared memory when sent, as torch does
    p = ndgrad.nn.Parameter(ndgrad.ones(3))
    inbox.put((t, p))
    try:
        assert outbox.get(timeout=60) == (True, "Parameter", True, 6.0)
    finally:
        done.set()
        proc.join(60)
    assert proc.exitcode == 0
    assert t.is_shared() and t.tolist() == [[1.0] * 3] * 2
    assert p.tolist() == [2.0] * 3


class Net(ndgrad.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = ndgrad.nn.Linear(4, 3)
        self.fc2 = ndgrad.nn.Linear(3, 1)

    def forward(self, x):
        return self.fc2(ndgrad.relu(self.fc1(x)))


DELTA, DELTA_STEPS = 1 / 16, 3  # powers of two: every order of the adds gives the exact sum


def _data(rank):
    g = np.random.RandomState(rank)
    x = g.randn(32, 4).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5], [1.5]], np.float32)
    return ndgrad.from_numpy(x), ndgrad.from_numpy(y)


def _hogwild(rank, model, lock, barrier):
    """A Hogwild worker: known in-place deltas on fc1 (under a lock, so the sum is exact), then
    SGD steps on fc2 on data of its own, on the one shared model."""
    with ndgrad.no_grad():
        for _ in range(DELTA_STEPS):
            with lock:
                model.fc1.weight.add_(DELTA * (rank + 1))
                model.fc1.bias.sub_(DELTA / 2 * (rank + 1))
    barrier.wait()
    opt = ndgrad.optim.SGD(model.fc2.parameters(), lr=0.02)
    x, y = _data(rank)
    for _ in range(5):
        opt.zero_grad()
        ndgrad.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def _loss(model):
    with ndgrad.no_grad():
        return sum(ndgrad.nn.functional.mse_loss(model(x), y).item()
                   for x, y in map(_data, range(2)))


def _hogwild_fork(model, lock, barrier):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_hogwild, args=(rank, model, lock, barrier)) for rank in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0


@pytest.mark.parametrize("method", [pytest.param("fork", marks=FORK), "spawn"])
def test_hogwild_children_train_the_one_shared_model(method):
    ndgrad.manual_seed(0)
    model = Net()
    with ndgrad.no_grad():  # exact in binary, as the deltas
        model.fc1.weight.copy_((ndgrad.arange(12.0).reshape(3, 4) - 6) / 16)
        model.fc1.bias.fill_(0.5)
    model.share_memory()
    w1, b1 = model.fc1.weight, model.fc1.bias
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    ctx = mp.get_context(method)
    lock, barrier = ctx.Lock(), ctx.Barrier(2)
    if method == "fork":  # as pytorch/examples' mnist_hogwild: mp.Process(target=train, ...)
        _hogwild_fork(model, lock, barrier)
    else:
        assert mp.spawn(_hogwild, args=(model, lock, barrier), nprocs=2) is None
    assert model.fc1.weight is w1 and model.fc1.bias is b1
    total = DELTA * DELTA_STEPS * (1 + 2)  # both children's deltas are here
    assert model.fc1.weight.tolist() == (start["fc1.weight"] + total).tolist()
    assert model.fc1.bias.tolist() == (start["fc1.bias"] - total / 2).tolist()
    for name in ("fc2.weight", "fc2.bias"):  # trained, by the children
        assert not ndgrad.equal(model.get_parameter(name).detach(), start[name]), name
    trained = _loss(model)
    with ndgrad.no_grad():
        model.fc2.weight.copy_(start["fc2.weight"])
        model.fc2.bias.copy_(start["fc2.bias"])
    assert trained < _loss(model)


def _fail_on(i, bad, how):
    if i != bad:
        return
    if how == "raise":
        raise ValueError(f"process {i} found a bad batch")
    os._exit(3)


def test_spawn_raises_the_childs_exception_with_its_traceback():
    with pytest.raises(mp.ProcessRaisedException) as info:
        mp.spawn(_fail_on, args=(1, "raise"), nprocs=2)
    err = info.value
    assert err.error_index == 1 and err.error_pid > 0
    assert "-- Process 1 terminated with the following error:" in str(err)
    assert "Traceback (most recent call last):" in str(err)
    assert "ValueError: process 1 found a bad batch" in str(err)
    assert "_fail_on" in str(err)


@FORK
def test_start_processes_exit_codes_and_join_false():
    ctx = mp.start_processes(_fail_on, args=(0, "exit"), nprocs=2, join=False,
                             start_method="fork")
    assert isinstance(ctx, mp.ProcessContext) and len(ctx.pids()) == 2
    with pytest.raises(mp.ProcessExitedException,
                       match="process 0 terminated with exit code 3") as info:
        while not ctx.join(timeout=60):
            pass
    assert info.value.exit_code == 3 and info.value.error_index == 0
    ctx = mp.start_processes(_fail_on, args=(-1, "raise"), nprocs=2, join=False,
                             start_method="fork")
    assert ctx is not None
    while not ctx.join(timeout=60):
        pass
    assert ctx.join() is True and all(p.exitcode == 0 for p in ctx.processes)


def test_spawn_with_another_start_method_warns_as_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert mp.spawn(_fail_on, args=(0, "raise"), nprocs=0, start_method="fork") is None
    assert any(issubclass(w.category, FutureWarning)
               and "only supports start_method=spawn" in str(w.message) for w in caught)


def test_nothing_left_in_dev_shm():
    gc.collect()
    assert _my_segment_files() == []


def test_resize_cannot_grow_shared_memory() -> None:
    """Growing would move the tensor to private memory, silently away from the processes that
    map it (torch 2.13 crashes here): a clear error; shrinking stays in the shared memory."""
    t = ndgrad.zeros(4).share_memory_()
    with pytest.raises(RuntimeError, match="not resizable: this tensor is in shared memory"):
        t.resize_(10)
    assert t.resize_(2).shape == (2,) and t.is_shared()
