"""The base of every primitive, and what all op files share.

A primitive is a ``Function`` whose ``forward`` takes and returns NumPy arrays and whose
``backward`` is one formula that runs on arrays or, under ``create_graph=True``, on Tensors
(see ``ndgrad.autograd.function``).
"""

from __future__ import annotations

from typing import Any

from ndgrad.autograd import function
from ndgrad.autograd.function import Function


class Primitive(Function):
    """A built-in op: ``forward`` works on NumPy arrays, and ``backward`` on arrays or Tensors
    (see Function). Its backward uses operators, ``.reshape``, ``.sum(dims)``, ``.mT``, indexing
    and other primitives' ``apply``: what arrays and Tensors share."""

    array_io = True
    array_backward = True


class Anchor(Primitive):
    """y = g, whose derivative in ``inputs`` is zero (None, as torch's) but which is tied to
    them in the graph: a gradient constant in a fused op's inputs (a bias gradient, grad_out
    summed) stays part of the graph under create_graph, so a second backward gives zeros, as
    torch's, rather than "does not require grad". Backward formulas apply it through
    ``anchor``, only when they build a graph: a forward that applied it would add a node and a
    copy to every first-order step."""

    @staticmethod
    def forward(ctx: Any, g: Any, *inputs: Any) -> Any:
        ctx.save_for_backward(*inputs)
        return g.copy()

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        inputs = ctx.saved_like(grad)
        return (anchor(grad, *inputs), *[None] * len(inputs))


def anchor(g: Any, *inputs: Any) -> Any:
    """``g`` (a backward's result) tied to ``inputs`` when backward runs on Tensors
    (create_graph: ``g`` or an input is a Tensor); on the array path, the usual one, ``g`` as
    it is, at no cost."""
    tensor = function.Tensor
    if isinstance(g, tensor) or any(isinstance(x, tensor) for x in inputs):
        return Anchor.apply(g, *[x for x in inputs if x is not None])
    return g
