"""Run by tests/test_powersgd.py under ``mpirun -n 2``: ndgrad's PowerSGD hooks against
torch's own, both over 2 ranks (ndgrad over MPI, torch over gloo in the same processes).

    mpirun -n 2 python tests/powersgd_worker.py STORE_FILE SCENARIO [SCENARIO ...]

STORE_FILE is a fresh path for torch's FileStore. Each scenario prints ``RESULT <rank> <name>
ok`` or ``RESULT <rank> <name> FAIL <traceback>`` (newlines escaped).

The two libraries' generators differ, so during a hook both draw the initial Q from
``np.random.RandomState(seed)``, with the seed the hook passes to ``manual_seed``.
torch 2.13's batched_powerSGD_hook cannot orthogonalize its (unbatched) Q and P; for it, its
``_orthogonalize`` is given them as a batch of one, as ndgrad's hook does.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as tdist
from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as th_ps

import ndgrad
import ndgrad.distributed as dist
from ndgrad.distributed.algorithms.ddp_comm_hooks import DDPCommHookType
from ndgrad.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as nd_ps
from ndgrad.distributed.grad_bucket import GradBucket

SCENARIOS: dict[str, Callable[[], None]] = {}


def scenario(fn: Callable[[], None]) -> Callable[[], None]:
    SCENARIOS[fn.__name__] = fn
    return fn


# -- the same random Q in both -------------------------------------------------------------
class _Normals:
    """A NumPy stream both libraries draw from: reseeded by their manual_seed. ``by_shape``:
    each draw from a generator of its own, seeded by the seed and the shape, so that the
    order of the draws does not matter."""

    rs = np.random.RandomState(0)
    last_seed = 0
    by_shape = False

    @classmethod
    def seed(cls, s: int) -> None:
        cls.rs, cls.last_seed = np.random.RandomState(int(s)), int(s)

    @classmethod
    def draw(cls, size: tuple[int, ...]) -> np.ndarray:
        if cls.by_shape:
            return np.random.RandomState([cls.last_seed, *size]).standard_normal(size)
        return cls.rs.standard_normal(size)


def _size(size: tuple[Any, ...]) -> tuple[int, ...]:
    return tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size


@contextlib.contextmanager
def same_random(by_shape: bool = False) -> Iterator[None]:
    """Within it, torch.manual_seed/randn and ndgrad's hook's manual_seed/randn use _Normals."""
    saved = (torch.manual_seed, torch.randn, nd_ps.manual_seed, nd_ps.randn)
    _Normals.by_shape = by_shape

    def th_seed(s: int) -> Any:
        _Normals.seed(s)
        return saved[0](s)

    def th_randn(*size: Any, dtype: Any = None, device: Any = None) -> torch.Tensor:
        return torch.from_numpy(_Normals.draw(_size(size))).to(dtype)

    def nd_seed(s: int) -> Any:
        _Normals.seed(s)
        return saved[2](s)

    def nd_randn(*size: Any, dtype: Any = None) -> ndgrad.Tensor:
        return ndgrad.from_numpy(_Normals.draw(_size(size))).to(dtype)

    torch.manual_seed, torch.randn = th_seed, th_randn  # type: ignore[assignment]
    nd_ps.manual_seed, nd_ps.randn = nd_seed, nd_randn  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.manual_seed, torch.randn, nd_ps.manual_seed, nd_ps.randn = saved  # type: ignore


_th_orthogonalize = th_ps._orthogonalize


def _batch_of_one(matrices: torch.Tensor, epsilon: float = 0) -> None:
    _th_orthogonalize(matrices.unsqueeze(0) if matrices.dim() == 2 else matrices, epsilon)


th_ps._orthogonalize = _batch_of_one  # torch 2.13's batched hook hands it one matrix


# -- buckets -------------------------------------------------------------------------------
class TorchBucket:
    """What torch's hooks ask of dist.GradBucket."""

    def __init__(self, index: int, buffer: torch.Tensor, shapes: list[tuple[int, ...]],
                 last: bool) -> None:
        self._index, self._buffer, self._shapes, self._last = index, buffer, shapes, last

    def index(self) -> int:
        return self._index

    def buffer(self) -> torch.Tensor:
        return self._buffer

    def is_last(self) -> bool:
        return self._last

    def gradients(self) -> list[torch.Tensor]:
        out, offset = [], 0
        for shape in self._shapes:
            n = int(np.prod(shape))
            out.append(self._buffer[offset:offset + n].view(shape))
            offset += n
        return out


def nd_bucket(index: int, flat: np.ndarray, shapes: list[tuple[int, ...]],
              last: bool) -> GradBucket:
    offsets = np.concatenate([[0], np.cumsum([int(np.prod(s)) for s in shapes])]).tolist()
    params = [ndgrad.zeros(s, dtype=ndgrad.from_numpy(flat[:0]).dtype) for s in shapes]
    return GradBucket(index, flat, offsets, params, last)


def gradients(seed: int, it: int, b: int, r: int, n: int, dtype: str) -> np.ndarray:
    """Rank r's flat gradient for bucket b at iteration it: low rank plus noise."""
    rs = np.random.RandomState([seed, it, b, r])
    return (rs.standard_normal(n) + 0.5 * np.sin(np.arange(n) * (1 + b))).astype(dtype)


BUCKETS = [  # bucket 0 first, as DDP hands them out; vectors, matrices, a 4-D weight
    [(8, 7), (8,), (5, 5), (5, 5), (3, 2, 2, 2), (1, 9)],
    [(6, 5), (4,), (8, 7), (8, 7), (5, 5)],
]


def run_hooks(hooks: tuple[Any, Any], states: tuple[Any, Any], seed: int, it: int,
              dtype: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """One iteration: every bucket through both hooks; [(ndgrad's result, torch's)] per
    bucket. ndgrad's are all handed out, then waited for, as its DDP does. torch's are waited
    for one by one: its callbacks, which start the next all-reduces, run on gloo's threads,
    so the next bucket's first all-reduce could come before or after them, in a different
    order on each rank (gloo then aborts: "Is there a distributed collective mismatch")."""
    r = dist.get_rank()
    nd_futs, th_results = [], []
    with same_random():
        for b, shapes in enumerate(BUCKETS):
            n = sum(int(np.prod(s)) for s in shapes)
            flat = gradients(seed, it, b, r, n, dtype)
            last = b == len(BUCKETS) - 1
            nd_futs.append(hooks[0](states[0], nd_bucket(b, flat.copy(), shapes, last)))
            th_bucket = TorchBucket(b, torch.tensor(flat), shapes, last)  # resizable
            th_results.append(hooks[1](states[1], th_bucket).wait().numpy().copy())
    return [(f.wait().numpy().copy(), g) for f, g in zip(nd_futs, th_results)]


CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("powerSGD_hook", {}, "float64"),  # rank 1, error feedback, warm start
    ("powerSGD_hook", {"matrix_approximation_rank": 2, "batch_tensors_with_same_shape": True,
                       "min_compression_rate": 1}, "float64"),
    ("powerSGD_hook", {"matrix_approximation_rank": 2, "warm_start": False}, "float64"),
    ("powerSGD_hook", {"matrix_approximation_rank": 4, "min_compression_rate": 0.5},
     "float64"),  # torch's QR path; some matrices narrower than the rank
    ("powerSGD_hook", {"use_error_feedback": False, "warm_start": False,
                       "start_powerSGD_iter": 0, "orthogonalization_epsilon": 1e-8,
                       "random_seed": 7}, "float64"),
    ("powerSGD_hook", {"matrix_approximation_rank": 2, "batch_tensors_with_same_shape": True},
     "float32"),
    ("batched_powerSGD_hook", {}, "float64"),
    ("batched_powerSGD_hook", {"matrix_approximation_rank": 2}, "float64"),
    ("batched_powerSGD_hook", {"use_error_feedback": False, "warm_start": False,
                               "start_powerSGD_iter": 1, "random_seed": 3}, "float64"),
]
ITERS = 6


def check_state(nd: nd_ps.PowerSGDState, th: Any, tol: tuple[float, float]) -> None:
    assert nd.iter == th.iter, (nd.iter, th.iter)
    assert nd.compression_stats() == th.compression_stats(), \
        (nd.compression_stats(), th.compression_stats())
    assert nd.next_stats_report == th.next_stats_report
    for mine, theirs in ((nd.error_dict, th.error_dict), (nd.q_memory_dict, th.q_memory_dict)):
        assert sorted(mine) == sorted(theirs)
        for k in mine:
            np.testing.assert_allclose(mine[k].numpy(), theirs[k].numpy(), *tol)


@scenario
def hooks_match_torch() -> None:
    """Every config, bucket by bucket, over warm-up and compressed iterations."""
    for c, (hook, kwargs, dtype) in enumerate(CONFIGS):
        tol = (1e-9, 1e-11) if dtype == "float64" else (2e-3, 2e-4)  # (rtol, atol)
        nd_state = nd_ps.PowerSGDState(None, **{"start_powerSGD_iter": 2, **kwargs})
        th_state = th_ps.PowerSGDState(None, **{"start_powerSGD_iter": 2, **kwargs})
        hooks = (getattr(nd_ps, hook), getattr(th_ps, hook))
        for it in range(ITERS):
            where = f"config {c} {hook} {kwargs} {dtype}, iteration {it}"
            for b, (mine, theirs) in enumerate(run_hooks(hooks, (nd_state, th_state), c, it,
                                                         dtype)):
                assert mine.dtype == theirs.dtype == np.dtype(dtype), where
                np.testing.assert_allclose(mine, theirs, *tol, err_msg=f"{where}, bucket {b}")
            check_state(nd_state, th_state, tol)
        assert nd_state.iter == ITERS and nd_state.total_numel_after_compression > 0


@scenario
def state_pickles() -> None:
    """getstate/setstate: the process group left out (the default group on load), the rest
    restored, and the loaded state goes on exactly as the original."""
    state = nd_ps.PowerSGDState(None, matrix_approximation_rank=2, start_powerSGD_iter=2)
    th_state = th_ps.PowerSGDState(None, matrix_approximation_rank=2, start_powerSGD_iter=2)
    hooks = (nd_ps.powerSGD_hook, th_ps.powerSGD_hook)
    for it in range(4):
        run_hooks(hooks, (state, th_state), 50, it, "float64")
    assert "process_group" not in state.__getstate__()
    assert sorted(state.__getstate__()) == sorted(th_state.__getstate__())
    loaded = pickle.loads(pickle.dumps(state))
    assert loaded.process_group is dist.group.WORLD
    assert loaded.iter == state.iter == 4 and loaded.error_dict.keys() == {0, 1}
    assert loaded.rng.randint(10**9) == pickle.loads(pickle.dumps(state)).rng.randint(10**9)
    loaded = pickle.loads(pickle.dumps(state))
    for it in range(4, 7):
        for (a, _), (b, _) in zip(run_hooks(hooks, (state, th_state), 50, it, "float64"),
                                  run_hooks(hooks, (loaded, th_state), 50, it, "float64")):
            np.testing.assert_array_equal(a, b)


# -- DDP -----------------------------------------------------------------------------------
def mlp(lib: Any) -> Any:
    nn = lib.nn
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(),
                         nn.Linear(8, 3)).double()


def batch(it: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    rs = np.random.RandomState([it, r])
    x = rs.standard_normal((12, 6))
    return x, np.stack([np.sin(x[:, 0]), x[:, 1] * x[:, 2], np.cos(x[:, 3] - x[:, 4])], 1)


@scenario
def ddp_matches_torch_ddp() -> None:
    """The same MLP in ndgrad's DDP and torch's, each with its powerSGD_hook: the same .grad
    at every step (warm-up, then compressed).

    torch's DDP reorders its bucket after the first backward, by when each gradient was ready
    (here: last layer first); ndgrad's keeps the parameters' order. The order decides which
    random Q each matrix gets, so here the Qs are drawn by shape (the MLP's differ), not in
    turn. (batched_powerSGD_hook's square matrix itself depends on the order.)"""
    torch.manual_seed(0)
    th_model = mlp(torch)
    nd_model = mlp(ndgrad)
    nd_model.load_state_dict({k: ndgrad.from_numpy(v.numpy().copy())
                              for k, v in th_model.state_dict().items()})
    th_ddp = torch.nn.parallel.DistributedDataParallel(th_model)
    nd_ddp = ndgrad.nn.parallel.DistributedDataParallel(nd_model)
    th_state = th_ps.PowerSGDState(None, matrix_approximation_rank=1, start_powerSGD_iter=2)
    nd_state = nd_ps.PowerSGDState(None, matrix_approximation_rank=1, start_powerSGD_iter=2)
    th_ddp.register_comm_hook(th_state, th_ps.powerSGD_hook)
    nd_ddp.register_comm_hook(nd_state, nd_ps.powerSGD_hook)
    for it in range(5):
        x, y = batch(it, dist.get_rank())
        with same_random(by_shape=True):
            th_loss = ((th_ddp(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
            th_loss.backward()
            nd_loss = ((nd_ddp(ndgrad.from_numpy(x)) - ndgrad.from_numpy(y)) ** 2).mean()
            nd_loss.backward()
        for (name, p), q in zip(th_model.named_parameters(), nd_model.parameters()):
            np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"step {it} {name}")
            with torch.no_grad():
                p -= 0.1 * p.grad
            p.grad = None
        with ndgrad.no_grad():
            for q in nd_model.parameters():
                q -= 0.1 * q.grad
                q.grad = None
    assert nd_state.iter == th_state.iter == 5
    assert nd_state.compression_stats() == th_state.compression_stats()


def global_mean(value: float) -> float:
    t = ndgrad.tensor([value], dtype=ndgrad.float64)
    dist.all_reduce(t)
    return t.item() / dist.get_world_size()


@scenario
def ddp_training_lowers_the_loss() -> None:
    """Each hook trains a small MLP with SGD: the loss falls, and every rank ends with the
    same weights, bit for bit."""
    for hook in (nd_ps.powerSGD_hook, nd_ps.batched_powerSGD_hook):
        ndgrad.manual_seed(1)
        model = mlp(ndgrad)
        ddp = ndgrad.nn.parallel.DistributedDataParallel(model)
        state = nd_ps.PowerSGDState(None, matrix_approximation_rank=1, start_powerSGD_iter=3)
        ddp.register_comm_hook(state, hook)
        opt = ndgrad.optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
        losses = []
        x, y = batch(100, dist.get_rank())  # full-batch: the loss falls steadily
        for _ in range(30):
            loss = ((ddp(ndgrad.from_numpy(x)) - ndgrad.from_numpy(y)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(global_mean(loss.item()))
        assert losses[-1] < 0.5 * losses[0], (hook.__name__, losses)
        assert state.iter == 30 and state.compression_stats()[0] > 1
        mine = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
        every: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(every, mine)
        for other in every[1:]:
            np.testing.assert_array_equal(every[0], other)


@scenario
def hook_types_register_powersgd() -> None:
    """DDPCommHookType's PowerSGD members wrap the group in a PowerSGDState, as torch's."""
    for name, hook, rank in (("POWER_SGD", "powerSGD_hook", 1),
                             ("POWER_SGD_RANK2", "powerSGD_hook", 2),
                             ("BATCHED_POWER_SGD", "batched_powerSGD_hook", 1),
                             ("BATCHED_POWER_SGD_RANK2", "batched_powerSGD_hook", 2)):
        ddp = ndgrad.nn.parallel.DistributedDataParallel(mlp(ndgrad))
        DDPCommHookType[name].value(model=ddp, state=None)
        assert ddp._reducer.comm_hook is not None
        got_hook, state = ddp._reducer.comm_hook
        assert got_hook is getattr(nd_ps, hook), (name, got_hook)
        assert isinstance(state, nd_ps.PowerSGDState)
        assert (state.process_group, state.matrix_approximation_rank,
                state.start_powerSGD_iter) == (None, rank, 1000)
        x, y = batch(0, dist.get_rank())
        ((ddp(ndgrad.from_numpy(x)) - ndgrad.from_numpy(y)) ** 2).mean().backward()
        assert state.iter == 1


def main(store: str, names: list[str]) -> None:
    dist.init_process_group("mpi")
    tdist.init_process_group("gloo", rank=dist.get_rank(), world_size=dist.get_world_size(),
                             store=tdist.FileStore(store, dist.get_world_size()))
    if names == ["all"]:
        names = list(SCENARIOS)
    for name in names:
        try:
            SCENARIOS[name]()
            result = "ok"
        except Exception:
            result = "FAIL " + traceback.format_exc().replace("\n", "\\n")
        print(f"RESULT {dist.get_rank()} {name} {result}", flush=True)
        dist.barrier()
    tdist.destroy_process_group()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
