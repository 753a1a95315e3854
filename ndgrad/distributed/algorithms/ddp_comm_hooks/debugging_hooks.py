"""torch's debugging DDP communication hook."""

from __future__ import annotations

from typing import Any

from ndgrad.distributed.grad_bucket import GradBucket
from ndgrad.futures import Future
from ndgrad.tensor import Tensor

__all__ = ["noop_hook"]


def noop_hook(_: Any, bucket: GradBucket) -> Future[Tensor]:
    """No communication: each rank keeps its own gradients. For headroom analysis only: how
    much faster a step would be if averaging cost nothing."""
    fut: Future[Tensor] = Future()
    fut.set_result(bucket.buffer())
    return fut
