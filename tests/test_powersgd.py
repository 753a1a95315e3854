"""PowerSGD communication hooks (ndgrad.distributed.algorithms.ddp_comm_hooks.powerSGD_hook)
against torch's.

In this process, what needs no process group: orthogonalization (both of torch's paths), the
rule for what to compress, PowerSGDState's settings and errors. In one ``mpirun -n 2`` job
(tests/powersgd_worker.py), with torch over gloo in the same two processes: the hooks bucket
by bucket over warm-up and compressed iterations, ndgrad's DDP against torch's DDP, training
with each hook, and a pickled state that goes on as the original.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as th_ps

import ndgrad
from ndgrad.distributed.algorithms import ddp_comm_hooks
from ndgrad.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as nd_ps
from tests.test_distributed_mpi import HAVE_MPI, mpirun

WORKER = Path(__file__).with_name("powersgd_worker.py")


def both(a: np.ndarray) -> tuple[ndgrad.Tensor, torch.Tensor]:
    return ndgrad.from_numpy(a.copy()), torch.from_numpy(a.copy())


@pytest.mark.parametrize("rank", [1, 2, 3, 5])  # Gram-Schmidt up to 2, torch's QR above
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("epsilon", [0, 1e-3])
def test_orthogonalize_matches_torch(rank: int, dtype: str, epsilon: float) -> None:
    a = np.random.RandomState(rank).standard_normal((3, 9, rank)).astype(dtype)
    mine, theirs = both(a)
    nd_ps._orthogonalize(mine, epsilon)
    th_ps._orthogonalize(theirs, epsilon)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=tol, atol=tol)
    if epsilon == 0:  # orthonormal columns
        gram = np.swapaxes(mine.numpy(), 1, 2) @ mine.numpy()
        np.testing.assert_allclose(gram, np.broadcast_to(np.eye(rank), gram.shape), atol=tol)


def test_orthogonalize_half_uses_gram_schmidt() -> None:
    """QR does not take float16: rank 3 goes through Gram-Schmidt there, as in torch."""
    a = np.random.RandomState(0).standard_normal((2, 6, 3)).astype("float16")
    mine, theirs = both(a)
    nd_ps._orthogonalize(mine)
    th_ps._orthogonalize(theirs)
    assert mine.dtype == ndgrad.float16
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=5e-3)


@pytest.mark.parametrize("epsilon", [0, 1e-8])
def test_zero_column_gives_nan_unless_epsilon(epsilon: float) -> None:
    a = np.zeros((1, 4, 2))
    a[0, :, 1] = 1
    mine, theirs = both(a)
    nd_ps._orthogonalize(mine, epsilon)
    th_ps._orthogonalize(theirs, epsilon)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())  # NaN == NaN here
    assert np.isnan(mine.numpy()).all() == (epsilon == 0)


@pytest.mark.parametrize("shape", [(4, 2), (1, 2, 3)])
def test_orthogonalize_takes_a_batch_of_tall_matrices(shape: tuple[int, ...]) -> None:
    mine, theirs = both(np.ones(shape))
    with pytest.raises(AssertionError):
        th_ps._orthogonalize(theirs)
    with pytest.raises(AssertionError, match="batch of matrices"):
        nd_ps._orthogonalize(mine)


@pytest.mark.parametrize("args", [(8, 7, 1, 2), (6, 5, 2, 2), (6, 5, 2, 1), (1, 9, 1, 2),
                                  (3, 8, 1, 2), (10, 10, 5, 1), (4, 4, 2, 0.5)])
def test_should_compress_matches_torch(args: tuple[int, int, int, float]) -> None:
    assert nd_ps._should_compress(*args) == th_ps._should_compress(*args)


@pytest.mark.parametrize("kwargs", [
    {},
    {"matrix_approximation_rank": 4, "start_powerSGD_iter": 10, "min_compression_rate": 0.5,
     "use_error_feedback": False, "warm_start": False, "orthogonalization_epsilon": 1e-8,
     "random_seed": 42, "compression_stats_logging_frequency": 0,
     "batch_tensors_with_same_shape": True},
])
def test_state_settings_match_torch(kwargs: dict[str, Any]) -> None:
    mine, theirs = nd_ps.PowerSGDState(None, **kwargs), th_ps.PowerSGDState(None, **kwargs)
    assert nd_ps.PowerSGDState.__slots__ == th_ps.PowerSGDState.__slots__
    for slot in th_ps.PowerSGDState.__slots__:
        if slot == "rng":  # the seeds it gives for the initial Q
            assert mine.rng.randint(10**9, size=5).tolist() == \
                theirs.rng.randint(10**9, size=5).tolist()
        else:
            assert getattr(mine, slot) == getattr(theirs, slot), slot
    assert mine.compression_stats() == theirs.compression_stats() == (0, 0, 0)


@pytest.mark.parametrize("kwargs", [{"start_powerSGD_iter": 1},
                                    {"start_powerSGD_iter": 0, "use_error_feedback": False},
                                    {"start_powerSGD_iter": 1, "warm_start": False}])
def test_state_needs_two_plain_iterations(kwargs: dict[str, Any]) -> None:
    """Error feedback or warm start need start_powerSGD_iter > 1, with torch's message."""
    with pytest.raises(ValueError) as theirs:
        th_ps.PowerSGDState(None, **kwargs)
    with pytest.raises(ValueError, match="Expect `start_powerSGD_iter` > 1") as mine:
        nd_ps.PowerSGDState(None, **kwargs)
    assert str(mine.value) == str(theirs.value)
    nd_ps.PowerSGDState(None, start_powerSGD_iter=0, use_error_feedback=False, warm_start=False)


def test_state_pickles_without_its_process_group() -> None:
    """getstate leaves the process group out; loading one needs the default group, as torch:
    without init_process_group, the same ValueError."""
    mine, theirs = nd_ps.PowerSGDState(None), th_ps.PowerSGDState(None)
    assert mine.__getstate__().keys() == theirs.__getstate__().keys()
    assert "process_group" not in mine.__getstate__()
    with pytest.raises(ValueError) as th_err:
        pickle.loads(pickle.dumps(theirs))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        pickle.loads(pickle.dumps(mine))
    assert "Default process group has not been initialized" in str(th_err.value)


def test_hook_types_name_the_powersgd_hooks() -> None:
    assert ddp_comm_hooks.powerSGD is nd_ps
    theirs = torch.distributed.algorithms.ddp_comm_hooks.DDPCommHookType
    mine = ddp_comm_hooks.DDPCommHookType
    for name in ("POWER_SGD", "POWER_SGD_RANK2", "BATCHED_POWER_SGD",
                 "BATCHED_POWER_SGD_RANK2"):
        m, t = mine[name].value, theirs[name].value
        assert m.func.__name__ == t.func.__name__ == "_powerSGD_comm_hook_wrapper"
        assert m.keywords["comm_hook"].__name__ == t.keywords["comm_hook"].__name__
        assert m.keywords["matrix_approximation_rank"] == t.keywords["matrix_approximation_rank"]
    assert set(theirs.__members__) - set(mine.__members__) == {"QUANTIZE_PER_TENSOR",
                                                               "QUANTIZE_PER_CHANNEL"}


# -- against torch's hooks, in an MPI job of 2 -----------------------------------------------
# as tests/test_distributed_mpi.py: skipped without MPI, except in CI, which must not skip
needs_mpi = pytest.mark.skipif(not HAVE_MPI and os.environ.get("CI") != "true",
                               reason="needs mpi4py and mpirun (pip install 'ndgrad[dist]')")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, str]]:
    """{scenario: {rank: "ok" or the failure}} from one job running every scenario."""
    store = tmp_path_factory.mktemp("powersgd") / "store"  # torch's FileStore
    proc, _ = mpirun(str(store), "all", script=WORKER)
    found: dict[str, dict[int, str]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            _, rank, name, result = line.split(" ", 3)
            found.setdefault(name, {})[int(rank)] = result.replace("\\n", "\n")
    if proc.returncode != 0 or not found:
        pytest.fail(f"the MPI job failed (exit {proc.returncode}):\n{proc.stdout}\n"
                    f"{proc.stderr[-5000:]}")
    return found


@needs_mpi
@pytest.mark.parametrize("name", [
    "hooks_match_torch",  # 9 configs x 6 iterations x 2 buckets, against torch's hooks
    "state_pickles",  # a pickled state goes on exactly as the original
    "ddp_matches_torch_ddp",  # ndgrad's DDP + powerSGD_hook == torch's DDP + its hook
    "ddp_training_lowers_the_loss",  # both hooks train an MLP; ranks end bit-identical
    "hook_types_register_powersgd",  # DDPCommHookType.POWER_SGD etc. on a DDP model
])
def test_scenario(results: dict[str, dict[int, str]], name: str) -> None:
    got = results.get(name, {})
    failures = {r: v for r, v in got.items() if v != "ok"}
    assert not failures, "\n".join(f"rank {r}: {v}" for r, v in failures.items())
    assert sorted(got) == [0, 1], f"{name} did not report from every rank: {got}"
