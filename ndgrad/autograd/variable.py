"""Variable: the pre-0.4 PyTorch wrapper around a tensor, kept (as torch keeps it) so old code
runs. Tensors have done a Variable's job since torch 0.4: ``Variable(t, requires_grad=True)``
returns a new leaf tensor sharing ``t``'s data, and every tensor is an instance of Variable."""

from __future__ import annotations

import warnings
from typing import Any

from ndgrad.autograd import function


class _VariableMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, function.Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(data, requires_grad=False)``: ``data`` (a tensor) as a new leaf tensor that
    shares its memory. ``volatile`` was torch's old no_grad; it warns and does nothing."""

    def __new__(cls, data: Any = None, requires_grad: bool = False,
                volatile: bool = False) -> Any:
        tensor = function.Tensor
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with "
                          "ndgrad.no_grad():` instead.", stacklevel=2)
        if data is None:
            data = tensor([])
        if not isinstance(data, tensor):
            raise TypeError(f"Variable data has to be a tensor, but got "
                            f"{type(data).__name__}")
        out = data.detach()
        out.requires_grad = requires_grad
        return out
