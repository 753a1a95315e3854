"""Random draws as graph nodes. torch.normal(mean, std), bernoulli(p) and poisson(rate) draw a
sample whose gradient with respect to the distribution's parameters is zero (the draw is not
reparameterized; ``rsample`` in distributions is), so their result joins the graph with zeros
flowing back, as torch's does, rather than cutting it."""

from __future__ import annotations

from typing import Any

from ndgrad.ops.base import Primitive


class Sample(Primitive):
    """``sample`` (drawn by the caller) as the output of parameters ``params``: zero gradient
    for each."""

    array_backward = False  # backward makes zero Tensors of the parameters' shapes

    @staticmethod
    def forward(ctx: Any, sample: Any, *params: Any) -> Any:
        ctx.shapes = [p.shape for p in params]
        return sample

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return (None, *(grad.new_zeros(s) for s in ctx.shapes))


__all__ = ["Sample"]
