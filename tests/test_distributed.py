"""ndgrad.distributed without an MPI job: imports, errors before init_process_group,
DistributedSampler's index assignment and DDP's bucket assignment against torch's.

The collectives and DistributedDataParallel themselves run in MPI jobs: test_distributed_mpi.py.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed
import torch.utils.data.distributed as torch_dist_data

import ndgrad
import ndgrad.distributed as dist
from ndgrad import nn
from ndgrad.nn.parallel.distributed import _compute_bucket_assignment_by_size
from ndgrad.utils.data import DataLoader, DistributedSampler, TensorDataset


def test_import_ndgrad_does_not_load_mpi() -> None:
    code = ("import sys, ndgrad; ndgrad.distributed.is_available(); "
            "ndgrad.nn.parallel.DistributedDataParallel; "
            "assert 'mpi4py' not in sys.modules, 'mpi4py imported'; "
            "assert not ndgrad.distributed.is_initialized()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_errors_before_init_process_group() -> None:
    assert not dist.is_initialized()
    assert dist.group.WORLD is None
    for fn in (dist.get_rank, dist.get_world_size, lambda: dist.all_reduce(ndgrad.zeros(2)),
               lambda: DistributedSampler(range(4)),
               lambda: ndgrad.nn.parallel.DistributedDataParallel(ndgrad.nn.Linear(2, 2))):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")  # gloo, torch's CPU backend, runs on MPI


def test_default_backend_for_device() -> None:
    """torch's lookup (torch answers gloo for the CPU; ndgrad's one backend is MPI), with its
    error for a device that has none."""
    for dev in ("cpu", "cpu:1", ndgrad.device("cpu")):
        assert dist.get_default_backend_for_device(dev) == dist.Backend.MPI
    for dev in ("meta", "cuda:0"):
        with pytest.raises(ValueError, match=f"Default backend not registered for device : "
                                             f"{dev}$"):
            dist.get_default_backend_for_device(dev)
    with pytest.raises(ValueError) as theirs:
        torch.distributed.get_default_backend_for_device("meta")
    with pytest.raises(ValueError) as ours:
        dist.get_default_backend_for_device("meta")
    assert str(ours.value) == str(theirs.value)


def test_ddp_device_arguments_as_torch_on_the_cpu() -> None:
    """An empty device_ids (what cuda.device_count() gives on a CPU machine, as in the DDP
    example) and output_device=0 are accepted as torch accepts them; a device index is not."""
    model = ndgrad.nn.Linear(2, 2)
    for kwargs in ({"device_ids": []}, {"output_device": 0}, {}):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            ndgrad.nn.parallel.DistributedDataParallel(model, **kwargs)
    for kwargs in ({"device_ids": [0]}, {"output_device": "cpu"}):
        with pytest.raises(ValueError, match="device_ids and output_device arguments"):
            ndgrad.nn.parallel.DistributedDataParallel(model, **kwargs)


@pytest.mark.skipif(not dist.is_available(), reason="needs mpi4py")
def test_init_process_group_outside_an_mpi_job_says_how_to_launch() -> None:
    """The torch tutorials start ranks with mp.spawn and pass rank/world_size; ndgrad's ranks
    come from an MPI launcher, and the error says which command to use instead."""
    code = ("import ndgrad.distributed as d\n"
            "d.init_process_group('gloo', rank=0, world_size=2)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0
    assert "RuntimeError: init_process_group: world_size=2 was given, but this process was " \
           "not started by an MPI launcher" in out.stderr, out.stderr
    assert "ndgrad-run --nproc-per-node=2 script.py" in out.stderr


def test_node_local_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"):
        monkeypatch.delenv(var, raising=False)
    assert dist.get_node_local_rank(fallback_rank=3) == 3
    with pytest.raises(RuntimeError, match="LOCAL_RANK is not in the environment"):
        dist.get_node_local_rank()
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1")  # what Open MPI's mpirun sets
    assert dist.get_node_local_rank() == 1
    monkeypatch.setenv("LOCAL_RANK", "2")  # torchrun's name wins
    assert dist.get_node_local_rank() == 2


@pytest.mark.parametrize("n", [0, 1, 7, 10, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 5])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_assignment_matches_torch(n: int, replicas: int, drop_last: bool) -> None:
    """Unshuffled: torch's exact indices. Shuffled: torch's assignment of our permutation
    (torch deals out whatever order it has the same way, so map its unshuffled result)."""
    data = list(range(n))
    for rank in range(replicas):
        theirs = torch_dist_data.DistributedSampler(data, replicas, rank, shuffle=False,
                                                    drop_last=drop_last)
        ours = DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size
        for epoch in (0, 3):
            shuffled = DistributedSampler(data, replicas, rank, seed=5, drop_last=drop_last)
            shuffled.set_epoch(epoch)
            perm = np.random.default_rng(5 + epoch).permutation(n)
            assert list(shuffled) == perm[list(theirs)].tolist()


def test_sampler_epochs_cover_the_dataset() -> None:
    shares = [DistributedSampler(range(10), 2, r, seed=1) for r in range(2)]
    firsts = [list(s) for s in shares]
    assert sorted(firsts[0] + firsts[1]) == list(range(10))
    for s in shares:
        s.set_epoch(1)
    seconds = [list(s) for s in shares]
    assert sorted(seconds[0] + seconds[1]) == list(range(10))
    assert firsts != seconds
    loader = DataLoader(TensorDataset(ndgrad.arange(10)), batch_size=3, sampler=shares[1])
    assert [b[0].tolist() for b in loader] == [seconds[1][:3], seconds[1][3:]]


@pytest.mark.parametrize("rank", [-1, 2])
def test_sampler_bad_rank(rank: int) -> None:
    with pytest.raises(ValueError) as theirs:
        torch_dist_data.DistributedSampler(range(4), 2, rank)
    with pytest.raises(ValueError) as ours:
        DistributedSampler(range(4), 2, rank)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("limits", [[1024 * 1024, 25 * 1024 * 1024], [2000, 5000], [1]])
def test_bucket_assignment_matches_torch(limits: list[int]) -> None:
    """DDP groups gradients into buckets exactly as torch's _compute_bucket_assignment_by_size
    (dtypes apart, each bucket closed once it reaches its limit, ordered by first index)."""
    shapes = [(512, 784), (512,), (256, 512), (256,), (3, 3), (10, 256), (10,), (4000,)]
    dtypes = ["float32"] * 6 + ["float64", "float32"]
    ours = [ndgrad.zeros(s, dtype=getattr(ndgrad, d)) for s, d in zip(shapes, dtypes)]
    theirs = [torch.zeros(s, dtype=getattr(torch, d)) for s, d in zip(shapes, dtypes)]
    expected, _ = torch.distributed._compute_bucket_assignment_by_size(theirs, limits)
    assert _compute_bucket_assignment_by_size(ours, limits) == expected


def test_convert_sync_batchnorm_as_torch() -> None:
    """Every BatchNorm*d (nested, or the module itself) becomes a SyncBatchNorm that keeps its
    parameters (the same objects), buffers, settings and mode, as torch's does."""
    def build(lib: Any) -> Any:
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Conv2d(2, 3, 3), lib.nn.BatchNorm2d(3),
                              lib.nn.Sequential(lib.nn.BatchNorm1d(4, momentum=None,
                                                                   affine=False)))
        m[1].eval()
        return m
    for lib in (torch, ndgrad):
        m = build(lib)
        weight, mean = m[1].weight, m[1].running_mean
        s = lib.nn.SyncBatchNorm.convert_sync_batchnorm(m)
        kinds = [type(c).__name__ for c in s.modules()]
        assert kinds == ["Sequential", "Conv2d", "SyncBatchNorm", "Sequential", "SyncBatchNorm"]
        assert s[1].weight is weight and s[1].running_mean is mean and not s[1].training
        assert s[2][0].momentum is None and s[2][0].weight is None and s[2][0].training
        alone = lib.nn.SyncBatchNorm.convert_sync_batchnorm(lib.nn.BatchNorm1d(2))
        assert type(alone).__name__ == "SyncBatchNorm"


def test_sync_batchnorm_without_a_process_group_is_batchnorm() -> None:
    x = ndgrad.randn(6, 3, 4, dtype=ndgrad.float64)
    ndgrad.manual_seed(1)
    bn = nn.BatchNorm1d(3).double()
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(3).double())
    np.testing.assert_array_equal(sync(x).detach().numpy(), bn(x).detach().numpy())
    np.testing.assert_array_equal(sync.running_var.numpy(), bn.running_var.numpy())
    assert int(sync.num_batches_tracked) == 1
    with pytest.raises(ValueError, match="at least 2D"):
        nn.SyncBatchNorm(3)(ndgrad.randn(3))


# -- torch.distributed's wider API: Backend, availability, subgroups, ZeroRedundancyOptimizer ---
@pytest.mark.parametrize("name", ["MPI", "mpi", "Gloo", "NCCL", "ucc", "XCCL", "fake",
                                  "undefined", "Foo"])
def test_backend_names_as_torch(name: str) -> None:
    ours = dist.Backend(name)
    assert ours == torch.distributed.Backend(name) and type(ours) is str


def test_backend_class_as_torch() -> None:
    for attr in ("UNDEFINED", "GLOO", "NCCL", "UCC", "MPI", "XCCL", "FAKE"):
        assert getattr(dist.Backend, attr) == getattr(torch.distributed.Backend, attr)
    assert dist.Backend.backend_list == torch.distributed.Backend.backend_list
    for bad in (5, None):
        with pytest.raises(ValueError) as theirs:
            torch.distributed.Backend(bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError) as ours:
            dist.Backend(bad)  # type: ignore[arg-type]
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(NotImplementedError, match="MPI only"):
        dist.Backend.register_backend("mine", None)


def test_backend_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    for fn in ("is_gloo_available", "is_nccl_available", "is_ucc_available",
               "is_xccl_available"):
        assert getattr(dist, fn)() is False
    mpi = dist.is_mpi_available()
    for name in ("mpi", "MPI", dist.Backend.MPI, "cpu:mpi"):
        assert dist.is_backend_available(name) is mpi
    for name in ("gloo", "nccl", "cpu:gloo", "cpu:mpi,cuda:nccl", "undefined", "foo"):
        assert dist.is_backend_available(name) is False
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    assert dist.is_torchelastic_launched() is torch.distributed.is_torchelastic_launched() \
        is False
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "run-7")
    assert dist.is_torchelastic_launched() is torch.distributed.is_torchelastic_launched() \
        is True


def test_wider_api_before_init_process_group() -> None:
    from ndgrad.distributed.optim import ZeroRedundancyOptimizer

    assert ndgrad.distributed.optim.ZeroRedundancyOptimizer is ZeroRedundancyOptimizer
    assert dist.get_pg_count() == 0
    for fn in (dist.get_backend_config, lambda: dist.new_subgroups(1),
               lambda: dist.new_subgroups_by_enumeration([[0]]),
               lambda: dist.send_object_list([1], dst=0), lambda: dist.recv_object_list([1]),
               lambda: ZeroRedundancyOptimizer(nn.Linear(2, 2).parameters(),
                                               ndgrad.optim.SGD, lr=0.1)):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()
    for name, call in (("all_reduce_coalesced", lambda: dist.all_reduce_coalesced(
            [ndgrad.zeros(2)])), ("all_gather_coalesced", lambda: dist.all_gather_coalesced(
            [[ndgrad.zeros(2)]], [ndgrad.zeros(2)]))):
        with pytest.warns(FutureWarning, match=f"`ndgrad.distributed.{name}` will be deprec"):
            with pytest.raises(ValueError, match="Default process group"):
                call()


@pytest.mark.parametrize("world_size", [1, 2, 3, 5])
def test_zero_partition_matches_torch(world_size: int) -> None:
    """torch's sorted-greedy assignment (ties in order, sizes carried across groups), with
    torch's own _partition_parameters run on a bare instance."""
    from ndgrad.distributed.optim.zero_redundancy_optimizer import _partition

    TorchZeRO = _torch_zero()  # noqa: N806 - a class

    shapes = [[(8, 3), (5,), (8, 3), (2, 2, 2), (1,), (30,), (4, 6)], [(4,), (16,), (3, 3)]]
    groups: dict[Any, list[dict[str, Any]]] = {
        lib: [{"params": [lib.zeros(s) for s in g], "lr": i} for i, g in enumerate(shapes)]
        for lib in (torch, ndgrad)}
    bare = object.__new__(TorchZeRO)
    bare.world_size, bare.param_groups = world_size, groups[torch]
    bare._partition_parameters_cache = []
    expected = TorchZeRO._partition_parameters(bare)
    got = _partition(groups[ndgrad], world_size)
    assert len(got) == len(expected) == world_size
    for lib, parts in ((torch, expected), (ndgrad, got)):
        index = {id(p): i for g in groups[lib] for i, p in enumerate(g["params"])}
        parts[:] = [[(g["lr"], [index[id(p)] for p in g["params"]]) for g in rank_groups]
                    for rank_groups in parts]
    assert got == expected


def _torch_zero() -> Any:
    with warnings.catch_warnings():  # its functional optimizers call the deprecated jit.script
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.distributed.optim import ZeroRedundancyOptimizer
    return ZeroRedundancyOptimizer


def test_zero_argument_errors_as_torch() -> None:
    """torch checks the parameters before it looks for a process group: so can we, here."""
    from ndgrad.distributed.optim import ZeroRedundancyOptimizer

    errors = {}
    for lib, cls in ((torch, _torch_zero()), (ndgrad, ZeroRedundancyOptimizer)):
        lin = lib.nn.Linear(2, 2)
        bad_params = [lin.weight, iter([]), [lin.weight, {"params": [lin.bias]}], [{"lr": 0.1}],
                      [lin.weight, lin.bias.double()]]
        errors[lib] = []
        for params in bad_params:
            with pytest.raises((TypeError, ValueError)) as e:
                cls(params, lib.optim.SGD, lr=0.1)
            errors[lib].append((e.type, str(e.value).replace(lib.__name__ + ".", "")))
    assert errors[ndgrad] == errors[torch]
    with pytest.raises(NotImplementedError, match="overlap_with_ddp=True"):
        ZeroRedundancyOptimizer(nn.Linear(2, 2).parameters(), ndgrad.optim.SGD,
                                overlap_with_ddp=True, lr=0.1)
