"""ndgrad.distributed: torch.distributed's API on MPI, for data-parallel training.

Start the processes with an MPI launcher (``mpirun -n 2 python train.py``), then::

    import ndgrad.distributed as dist
    dist.init_process_group("mpi")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)   # in place, on every rank

Importing this package loads nothing from MPI: mpi4py is imported by ``init_process_group``.
See ``ndgrad.nn.parallel.DistributedDataParallel`` and
``ndgrad.utils.data.distributed.DistributedSampler`` for training.
"""

import importlib
from typing import Any

from ndgrad.distributed.coalesced import all_gather_coalesced, all_reduce_coalesced
from ndgrad.distributed.collectives import (
    P2POp,
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    batch_isend_irecv,
    broadcast,
    gather,
    irecv,
    isend,
    monitored_barrier,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    send,
)
from ndgrad.distributed.grad_bucket import BuiltinCommHookType, GradBucket
from ndgrad.distributed.objects import (
    all_gather_object,
    broadcast_object_list,
    gather_object,
    recv_object_list,
    scatter_object_list,
    send_object_list,
)
from ndgrad.distributed.process_group import (
    Backend,
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_backend_config,
    get_default_backend_for_device,
    get_global_rank,
    get_group_rank,
    get_node_local_rank,
    get_pg_count,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_backend_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    is_torchelastic_launched,
    is_ucc_available,
    is_xccl_available,
    new_group,
    new_subgroups,
    new_subgroups_by_enumeration,
)

__all__ = ["Backend", "BuiltinCommHookType", "GradBucket", "GroupMember", "P2POp", "ProcessGroup",
           "ReduceOp", "Work", "all_gather", "all_gather_coalesced", "all_gather_into_tensor",
           "all_gather_object", "all_reduce", "all_reduce_coalesced", "all_to_all",
           "all_to_all_single", "barrier", "batch_isend_irecv", "broadcast",
           "broadcast_object_list", "destroy_process_group", "gather", "gather_object",
           "get_backend", "get_backend_config", "get_default_backend_for_device",
           "get_global_rank", "get_group_rank",
           "get_node_local_rank", "get_pg_count", "get_process_group_ranks", "get_rank",
           "get_world_size", "group", "init_process_group", "irecv", "is_available",
           "is_backend_available", "is_gloo_available", "is_initialized", "is_mpi_available",
           "is_nccl_available", "is_torchelastic_launched", "is_ucc_available", "is_xccl_available",
           "isend", "monitored_barrier", "new_group", "new_subgroups",
           "new_subgroups_by_enumeration", "recv", "recv_object_list", "reduce", "reduce_scatter",
           "reduce_scatter_tensor", "scatter", "scatter_object_list", "send", "send_object_list"]


# Subpackages that load when first used, as ``ndgrad.distributed.optim`` after a bare
# ``import ndgrad``: it needs ndgrad.optim, which importing this package need not load.
_LAZY_SUBMODULES = ("algorithms", "nn", "optim")


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"ndgrad.distributed.{name}")
    raise AttributeError(f"module 'ndgrad.distributed' has no attribute '{name}'")
