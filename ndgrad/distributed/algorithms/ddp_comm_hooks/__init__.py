"""torch.distributed.algorithms.ddp_comm_hooks: hooks that replace how DDP averages a bucket,
registered with ``DistributedDataParallel.register_comm_hook(state, hook)`` or by name with
``register_ddp_comm_hook(DDPCommHookType.X, model, state)``."""

from __future__ import annotations

import enum
from enum import Enum
from functools import partial
from typing import Any

from ndgrad.distributed.algorithms.ddp_comm_hooks import debugging_hooks as debugging
from ndgrad.distributed.algorithms.ddp_comm_hooks import default_hooks as default
from ndgrad.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as powerSGD

__all__ = ["DDPCommHookType", "register_ddp_comm_hook"]


# a partial is an Enum member as it is up to Python 3.12; enum.member (3.11+) says so explicitly
member = getattr(enum, "member", lambda value: value)


def _ddp_comm_hook_wrapper(comm_hook: Any, model: Any, state: Any) -> None:
    model.register_comm_hook(state, comm_hook)


def _powerSGD_comm_hook_wrapper(comm_hook: Any, model: Any, state: Any,
                                matrix_approximation_rank: int,
                                start_powerSGD_iter: int = 1_000) -> None:
    """Register a PowerSGD hook with ``state``, a process group as for the other hooks,
    wrapped in a ``PowerSGDState``."""
    powerSGD_state = powerSGD.PowerSGDState(
        process_group=state, matrix_approximation_rank=matrix_approximation_rank,
        start_powerSGD_iter=start_powerSGD_iter)
    model.register_comm_hook(powerSGD_state, comm_hook)


class DDPCommHookType(Enum):
    """The hooks by name; ``DDPCommHookType.X.value(model=ddp_model, state=group)`` registers
    one (the PowerSGD ones wrap ``group`` in a ``PowerSGDState`` with torch's defaults).
    torch's quantization hooks are not offered by ndgrad."""

    ALLREDUCE = member(partial(_ddp_comm_hook_wrapper, comm_hook=default.allreduce_hook))
    FP16_COMPRESS = member(partial(_ddp_comm_hook_wrapper,
                                   comm_hook=default.fp16_compress_hook))
    BF16_COMPRESS = member(partial(_ddp_comm_hook_wrapper,
                                   comm_hook=default.bf16_compress_hook))
    POWER_SGD = member(partial(_powerSGD_comm_hook_wrapper, comm_hook=powerSGD.powerSGD_hook,
                               matrix_approximation_rank=1))
    # rank 2: more accurate than rank 1, but slower and larger
    POWER_SGD_RANK2 = member(partial(_powerSGD_comm_hook_wrapper,
                                     comm_hook=powerSGD.powerSGD_hook,
                                     matrix_approximation_rank=2))
    # batching the whole bucket: faster, less accurate
    BATCHED_POWER_SGD = member(partial(_powerSGD_comm_hook_wrapper,
                                       comm_hook=powerSGD.batched_powerSGD_hook,
                                       matrix_approximation_rank=1))
    BATCHED_POWER_SGD_RANK2 = member(partial(_powerSGD_comm_hook_wrapper,
                                             comm_hook=powerSGD.batched_powerSGD_hook,
                                             matrix_approximation_rank=2))
    NOOP = member(partial(_ddp_comm_hook_wrapper, comm_hook=debugging.noop_hook))


def register_ddp_comm_hook(comm_hook_type: DDPCommHookType, model: Any,
                           state: Any = None) -> None:
    """Register the hook ``comm_hook_type`` names on the DDP ``model``."""
    comm_hook_type.value(model=model, state=state)
