"""The base of every primitive, and what all op files share.

A primitive is a ``Function`` whose ``forward`` takes and returns NumPy arrays and whose
``backward`` is one formula that runs on arrays or, under ``create_graph=True``, on Tensors
(see ``ndgrad.autograd.function``).
"""

from __future__ import annotations

from ndgrad.autograd.function import Function


class Primitive(Function):
    """A built-in op: ``forward`` works on NumPy arrays, and ``backward`` on arrays or Tensors
    (see Function). Its backward uses operators, ``.reshape``, ``.sum(dims)``, ``.mT``, indexing
    and other primitives' ``apply``: what arrays and Tensors share."""

    array_io = True
    array_backward = True
