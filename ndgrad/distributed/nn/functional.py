"""Collectives inside the graph, as torch.distributed.nn.functional: the gradient of a sum over
the ranks is the sum over the ranks of the gradients, so backward runs the same collective.
Every rank must run backward through it (it is a collective there too). SyncBatchNorm uses it.
"""

from __future__ import annotations

from typing import Any

from ndgrad.autograd import Function
from ndgrad.distributed import collectives
from ndgrad.distributed.collectives import ReduceOp
from ndgrad.distributed.process_group import ProcessGroup
from ndgrad.tensor import Tensor


class _AllReduce(Function):
    @staticmethod
    def forward(ctx: Any, tensor: Tensor, op: ReduceOp, group: ProcessGroup | None) -> Tensor:
        ctx.op, ctx.group = op, group
        out = tensor.clone()
        collectives.all_reduce(out, op=op, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        # d(sum_r x_r)/dx_q = 1 on every rank: the gradient is the sum of all ranks' gradients
        # (for the average, their average)
        out = grad.clone()
        collectives.all_reduce(out, op=ctx.op, group=ctx.group)
        return out, None, None


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM,
               group: ProcessGroup | None = None) -> Tensor:
    """A new tensor: ``tensor`` combined over the ranks with SUM or AVG, differentiable (its
    backward all-reduces the gradients the same way). The input is left as it is."""
    if op not in (ReduceOp.SUM, ReduceOp.AVG):
        raise ValueError(f"ndgrad.distributed.nn.functional.all_reduce differentiates SUM and "
                         f"AVG only, got {op}; use ndgrad.distributed.all_reduce without "
                         f"gradients for the others")
    return _AllReduce.apply(tensor, op, group)  # type: ignore[no-any-return]
