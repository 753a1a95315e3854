"""Bit operations and predicates: bitwise and/or/xor/not and shifts (the ``& | ^ ~ << >>``
operators), gcd and lcm, and the tests signbit, isposinf, isneginf, isreal. None of them is
differentiable; all follow torch's dtype promotion, and NumPy's integer shifts agree with
torch's (a shift by the type's width or more, or by a negative amount, gives 0, or -1 for a
right shift of a negative number).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import broadcast_error
from ndgrad.tensor.base import TensorBase, raw


class LogicMixin(TensorBase):
    """Bitwise, shift, gcd/lcm and predicate methods."""

    def _integral(self, ufunc: Any, other: Any, name: str, bools: bool = True) -> Any:
        """``ufunc(self, other)`` on integer (and, if ``bools``, bool) operands, promoted as
        torch promotes them."""
        other = self._operand(other)
        nd = _dtype.result_type(self, other)
        if nd.kind == "f" or (nd.kind == "b" and not bools):
            raise RuntimeError(f"{name} is only supported for integer{' and bool' * bools} "
                               f"tensors, got {_dtype.from_np(nd)}")
        y = np.array(raw(other)).astype(nd)  # a Python int wraps around like torch's cast
        try:
            return self._make(np.asarray(ufunc(self._data.astype(nd, copy=False), y)))
        except ValueError:  # NumPy's "operands could not be broadcast together"
            raise broadcast_error(self._data.shape, y.shape) from None

    def bitwise_and(self, other: Any) -> Any:
        return self._integral(np.bitwise_and, other, "bitwise_and")

    def bitwise_or(self, other: Any) -> Any:
        return self._integral(np.bitwise_or, other, "bitwise_or")

    def bitwise_xor(self, other: Any) -> Any:
        return self._integral(np.bitwise_xor, other, "bitwise_xor")

    def bitwise_not(self) -> Any:
        if self._data.dtype.kind == "f":
            raise RuntimeError(f"bitwise_not is only supported for integer and bool tensors, "
                               f"got {self.dtype}")
        return self._make(np.invert(self._data))

    def bitwise_left_shift(self, other: Any) -> Any:
        return self._integral(np.left_shift, other, "bitwise_left_shift", bools=False)

    def bitwise_right_shift(self, other: Any) -> Any:
        return self._integral(np.right_shift, other, "bitwise_right_shift", bools=False)

    def __and__(self, other: Any) -> Any:
        return self.bitwise_and(other)

    def __or__(self, other: Any) -> Any:
        return self.bitwise_or(other)

    def __xor__(self, other: Any) -> Any:
        return self.bitwise_xor(other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self) -> Any:
        return self.bitwise_not()

    def __lshift__(self, other: Any) -> Any:
        return self.bitwise_left_shift(other)

    def __rshift__(self, other: Any) -> Any:
        return self.bitwise_right_shift(other)

    def __rlshift__(self, other: Any) -> Any:
        return self._make(np.asarray(other, self._data.dtype)).bitwise_left_shift(self)

    def __rrshift__(self, other: Any) -> Any:
        return self._make(np.asarray(other, self._data.dtype)).bitwise_right_shift(self)

    def gcd(self, other: Any) -> Any:
        """The greatest common divisor (non-negative; gcd(0, 0) = 0)."""
        return self._integral(np.gcd, other, "gcd", bools=False)

    def lcm(self, other: Any) -> Any:
        """The least common multiple (non-negative)."""
        return self._integral(np.lcm, other, "lcm", bools=False)

    # -- predicates: bool tensors --------------------------------------------------------------
    def signbit(self) -> Any:
        """Whether the sign bit is set: True for negatives, -0.0 and nan with the bit."""
        x = self._data
        return self._make(np.signbit(x) if x.dtype.kind == "f" else np.less(x, 0))

    def isposinf(self) -> Any:
        return self._make(np.asarray(self._data == np.inf))

    def isneginf(self) -> Any:
        return self._make(np.asarray(self._data == -np.inf))

    def isreal(self) -> Any:
        """True everywhere: ndgrad's tensors are real."""
        return self._make(np.ones(self._data.shape, np.bool_))
