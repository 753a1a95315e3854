"""Top-level pointwise functions that are not simply a method: those torch has only as
functions (fill, rsub, real, imag), and those whose first argument may be a number
(``pow(2, x)``, ``xlogy(0.5, x)``, ``remainder(7, x)``, ``bitwise_and(3, x)``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.tensor.core import Tensor


def _number_first(name: str) -> Callable[..., Any]:
    """``ndgrad.<name>(input, other)``: ``input.<name>(other)``, where input may also be a
    number; it then takes the dtype input and other promote to, as torch's wrapped numbers."""

    def function(input: Any, other: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(input, Tensor):
            if isinstance(input, np.number | np.bool_):
                input = input.item()
            input = Tensor._make(np.asarray(input, _dtype.result_type(input, other)))
        return getattr(input, name)(other, *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``input.{name}(other)``; ``input`` may be a number."
    return function


add = _number_first("add")
sub = _number_first("sub")
subtract = _number_first("subtract")
mul = _number_first("mul")
multiply = _number_first("multiply")
div = _number_first("div")
divide = _number_first("divide")
true_divide = _number_first("true_divide")
floor_divide = _number_first("floor_divide")
pow = _number_first("pow")
remainder = _number_first("remainder")
xlogy = _number_first("xlogy")
float_power = _number_first("float_power")
bitwise_and = _number_first("bitwise_and")
bitwise_or = _number_first("bitwise_or")
bitwise_xor = _number_first("bitwise_xor")
bitwise_left_shift = _number_first("bitwise_left_shift")
bitwise_right_shift = _number_first("bitwise_right_shift")


def fill(input: Tensor, value: Any) -> Tensor:
    """A tensor like input, filled with value (a number or a 0-d tensor, which gets the
    gradient)."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    return input.clone().fill_(value)


def rsub(input: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """other - alpha * input."""
    return input._scaled(input, alpha).__rsub__(other) if alpha != 1 else input.__rsub__(other)


def real(input: Tensor) -> Tensor:
    """The real part: a real tensor itself."""
    return input.real


def imag(input: Tensor) -> Tensor:
    return input.imag
