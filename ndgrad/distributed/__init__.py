"""ndgrad.distributed: torch.distributed's API on MPI, for data-parallel training.

Start the processes with an MPI launcher (``mpirun -n 2 python train.py``), then::

    import ndgrad.distributed as dist
    dist.init_process_group("mpi")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)   # in place, on every rank

Importing this package loads nothing from MPI: mpi4py is imported by ``init_process_group``.
See ``ndgrad.nn.parallel.DistributedDataParallel`` and
``ndgrad.utils.data.distributed.DistributedSampler`` for training.
"""

from ndgrad.distributed.collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    gather,
    gather_object,
    irecv,
    isend,
    recv,
    reduce,
    reduce_scatter_tensor,
    scatter,
    scatter_object_list,
    send,
)
from ndgrad.distributed.process_group import (
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_node_local_rank,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
)

__all__ = ["ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
           "all_gather_object", "all_reduce", "barrier", "broadcast", "broadcast_object_list",
           "destroy_process_group", "gather", "gather_object", "get_backend",
           "get_node_local_rank", "get_rank", "get_world_size", "group", "init_process_group",
           "irecv", "is_available", "is_initialized", "is_mpi_available", "isend", "recv",
           "reduce", "reduce_scatter_tensor", "scatter", "scatter_object_list", "send"]
