"""Elementwise methods: operators with PyTorch's type promotion, comparisons and logic, math
functions, and the in-place forms (``add_``, ``clamp_``, ``fill_``, ...).

Binary ops go through ``_binary``, the one place dtypes are promoted: float32 stays float32
with a Python float, int / int is a float division, bool operands promote as in torch. Each
method is one line over a primitive of ``ndgrad/ops/elementwise.py`` or a composite of others.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import as_ndarray, broadcast_error
from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.ops.base import Primitive
from ndgrad.ops.complex import Sgn
from ndgrad.ops.elementwise import (
    Abs,
    Add,
    Ceil,
    Clamp,
    Cos,
    Div,
    Erf,
    Exp,
    Expm1,
    Floor,
    Fmod,
    Log,
    Log1p,
    Log2,
    Log10,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Remainder,
    Round,
    Sigmoid,
    Sign,
    Sin,
    Sqrt,
    Sub,
    Tan,
    Tanh,
    Trunc,
    Where,
)
from ndgrad.tensor.base import TensorBase, _bool, _float, _int, raw
from ndgrad.tensor.conversion import cast


def _binary(fn: type[Primitive], x: Any, y: Any, reverse: bool = False) -> Any:
    """Apply a binary primitive after PyTorch's type promotion (x is a Tensor, y anything).

    The common cases (same dtypes; a float tensor and a Python number) cost two checks."""
    xd = x._data.dtype
    if isinstance(y, TensorBase):
        yd = y._data.dtype
        if xd != yd and not (yd.kind == "b" and xd.kind == "f"):
            nd = _result_dtype(fn, x, y)
            # a bool operand needs no cast: NumPy promotes bool exactly as torch does
            if xd != nd and not (xd.kind == "b" and yd == nd):
                x = cast(x, nd)
            if yd != nd and not (yd.kind == "b" and xd == nd):
                y = cast(y, nd)
        elif fn is Div and xd.kind not in "fc":
            nd = _dtype.default_float()
            x, y = cast(x, nd), cast(y, nd)
    elif type(y) is float or type(y) is int:
        if xd.kind != "f" and not (type(y) is int and xd.kind in "iu" and fn is not Div):
            x = cast(x, _result_dtype(fn, x, y))
    elif isinstance(y, bool | np.number | np.bool_):
        y = y.item() if not isinstance(y, bool) else y
        x = cast(x, _result_dtype(fn, x, y))
    else:
        return _binary(fn, x, x._operand(y), reverse)
    try:
        return fn.apply(y, x) if reverse else fn.apply(x, y)
    except ValueError:  # NumPy's "operands could not be broadcast together"
        raise broadcast_error(np.shape(raw(x)), np.shape(raw(y))) from None
    except OverflowError:  # uint8 + -1: NumPy refuses, torch casts the int (wrapping around)
        y = np.array(y).astype(x._data.dtype)[()]
        return fn.apply(y, x) if reverse else fn.apply(x, y)


def _result_dtype(fn: type[Primitive], x: Any, y: Any) -> np.dtype:
    nd = _dtype.result_type(x, y)
    if fn is Div and nd.kind not in "fc":  # int / int is a float division
        return _dtype.default_float()
    return nd


def _full_like(t: Any, value: Any) -> Any:
    """``value`` (a number or a broadcastable Tensor) in t's shape and dtype, for fill_/copy_.

    While recording, a Where node gives t's history a zero gradient (its values are all
    overwritten) and value its gradient; ``t * 0`` would turn inf or nan in t into nan."""
    v = value.to(t.dtype) if isinstance(value, TensorBase) else t._make(
        np.asarray(value, dtype=t._data.dtype))
    v = v.expand(t.shape)
    if grad_state.enabled and (t._requires_grad or v._requires_grad):
        return t.where(t._make(np.zeros(t._data.shape, np.bool_)), v)
    return v


class ElementwiseMixin(TensorBase):
    """Operators, comparisons, math functions and their in-place forms."""

    # -- operators --------------------------------------------------------------------------
    def __add__(self, other: Any) -> Any:
        return _binary(Add, self, other)

    def __radd__(self, other: Any) -> Any:
        return _binary(Add, self, other, reverse=True)

    def __sub__(self, other: Any) -> Any:
        return _binary(Sub, self, other)

    def __rsub__(self, other: Any) -> Any:
        return _binary(Sub, self, other, reverse=True)

    def __mul__(self, other: Any) -> Any:
        return _binary(Mul, self, other)

    def __rmul__(self, other: Any) -> Any:
        return _binary(Mul, self, other, reverse=True)

    def __truediv__(self, other: Any) -> Any:
        return _binary(Div, self, other)

    def __rtruediv__(self, other: Any) -> Any:
        if not isinstance(other, TensorBase) and self._data.dtype.kind in "biu":
            return _binary(Div, self.to(_dtype.default_float()), other, reverse=True)
        return _binary(Div, self, other, reverse=True)

    def __floordiv__(self, other: Any) -> Any:
        return self.floor_divide(other)

    def __rfloordiv__(self, other: Any) -> Any:
        nd = _dtype.result_type(self, other)  # a Python int wraps around as torch's cast does
        return self._make(np.asarray(other).astype(nd)).floor_divide(self)

    def __mod__(self, other: Any) -> Any:
        return _binary(Remainder, self, other)

    def __rmod__(self, other: Any) -> Any:
        return _binary(Remainder, self, other, reverse=True)

    def __pow__(self, other: Any) -> Any:
        return _binary(Pow, self, other)

    def __rpow__(self, other: Any) -> Any:
        return _binary(Pow, self, other, reverse=True)

    def __matmul__(self, other: Any) -> Any:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Any:
        return self._operand(other).matmul(self)

    def __neg__(self) -> Any:
        return Neg.apply(self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return self.abs()

    def __iadd__(self, other: Any) -> Any:
        return self.add_(other)

    def __isub__(self, other: Any) -> Any:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Any:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Any:
        return self.div_(other)

    # comparisons and logic: not differentiable, results are bool tensors
    def _compare(self, ufunc: Any, other: Any) -> Any:
        """Compare in the promoted dtype, as torch does (uint8 == -1 compares with 255)."""
        x = self._data
        if (type(other) is float or type(other) is int) and x.dtype.kind == "f" or (
                isinstance(other, TensorBase) and other._data.dtype == x.dtype):
            try:
                out = ufunc(x, raw(other))
            except ValueError:  # NumPy's "operands could not be broadcast together"
                raise broadcast_error(x.shape, np.shape(raw(other))) from None
            return self._make(as_ndarray(out))
        other = self._operand(other)
        nd = _dtype.result_type(self, other)
        if isinstance(other, TensorBase):
            y = other._data.astype(nd, copy=False)
        else:
            y = np.array(other).astype(nd)  # a Python int wraps around like torch's cast
        try:
            return self._make(np.asarray(ufunc(x.astype(nd, copy=False), y)))
        except ValueError:  # NumPy's "operands could not be broadcast together"
            raise broadcast_error(x.shape, y.shape) from None

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:  # torch: `t == None` is False, not an error
            return False
        return self._compare(np.equal, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:
            return True
        return self._compare(np.not_equal, other)

    __hash__ = object.__hash__  # == is elementwise, so hash by identity as torch does

    def __lt__(self, other: Any) -> Any:
        return self._compare(np.less, other)

    def __le__(self, other: Any) -> Any:
        return self._compare(np.less_equal, other)

    def __gt__(self, other: Any) -> Any:
        return self._compare(np.greater, other)

    def __ge__(self, other: Any) -> Any:
        return self._compare(np.greater_equal, other)

    def _bitwise(self, ufunc: Any, other: Any) -> Any:
        if self._data.dtype.kind == "f" or getattr(raw(other), "dtype", np.dtype("b")).kind == "f":
            raise RuntimeError(f"{ufunc.__name__} is only supported for integer and bool "
                               f"tensors, got {self.dtype}")
        return self._make(np.asarray(ufunc(self._data, raw(self._operand(other)))))

    def __and__(self, other: Any) -> Any:
        return self._bitwise(np.bitwise_and, other)

    __rand__ = __and__

    def __or__(self, other: Any) -> Any:
        return self._bitwise(np.bitwise_or, other)

    __ror__ = __or__

    def __xor__(self, other: Any) -> Any:
        return self._bitwise(np.bitwise_xor, other)

    __rxor__ = __xor__

    def __invert__(self) -> Any:
        if self._data.dtype.kind == "f":
            raise RuntimeError("~ (bitwise_not) is only supported for integer and bool tensors")
        return self._make(np.invert(self._data))

    def eq(self, other: Any) -> Any:
        return self == other

    def ne(self, other: Any) -> Any:
        return self != other

    def lt(self, other: Any) -> Any:
        return self < other

    def le(self, other: Any) -> Any:
        return self <= other

    def gt(self, other: Any) -> Any:
        return self > other

    def ge(self, other: Any) -> Any:
        return self >= other

    def equal(self, other: Any) -> _bool:
        return self.shape == other.shape and builtins.bool(np.array_equal(self._data, other._data))

    def allclose(self, other: Any, rtol: _float = 1e-5, atol: _float = 1e-8,
                 equal_nan: _bool = False) -> _bool:
        return builtins.bool(np.allclose(self._data, raw(other), rtol, atol, equal_nan))

    def isclose(self, other: Any, rtol: _float = 1e-5, atol: _float = 1e-8,
                equal_nan: _bool = False) -> Any:
        return self._make(np.isclose(self._data, raw(other), rtol, atol, equal_nan))

    def logical_and(self, other: Any) -> Any:
        return self._make(np.logical_and(self._data, raw(other)))

    def logical_or(self, other: Any) -> Any:
        return self._make(np.logical_or(self._data, raw(other)))

    def logical_xor(self, other: Any) -> Any:
        return self._make(np.logical_xor(self._data, raw(other)))

    def logical_not(self) -> Any:
        return self._make(np.logical_not(self._data))

    def isnan(self) -> Any:
        return self._make(np.isnan(self._data))

    def isinf(self) -> Any:
        return self._make(np.isinf(self._data))

    def isfinite(self) -> Any:
        return self._make(np.isfinite(self._data))

    # -- elementwise math -------------------------------------------------------------------
    def add(self, other: Any, alpha: Any = 1) -> Any:
        return self + (self._scaled(other, alpha) if alpha != 1 else other)

    def sub(self, other: Any, alpha: Any = 1) -> Any:
        return self - (self._scaled(other, alpha) if alpha != 1 else other)

    def _scaled(self, other: Any, alpha: Any) -> Any:
        """``alpha * other`` in the dtype of ``self + other`` (bool * 2 must not become int64)."""
        other = self._operand(other)
        nd = _dtype.result_type(self, other)
        if nd.kind != "f" and isinstance(alpha, float):
            raise RuntimeError(f"For integral input tensors, argument alpha must not be a "
                               f"floating point number (got alpha={alpha}, dtype "
                               f"{_dtype.from_np(nd)})")
        return cast(other * alpha, nd) if isinstance(other, TensorBase) else other * alpha

    subtract = sub

    def mul(self, other: Any) -> Any:
        return self * other

    multiply = mul

    def div(self, other: Any, rounding_mode: str | None = None) -> Any:
        if rounding_mode is None:
            return self / other
        if rounding_mode == "floor":
            return self.floor_divide(other)
        if rounding_mode == "trunc":
            return (self / other).trunc().to(_dtype.result_type(self, self._operand(other)))
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")

    divide = div
    true_divide = div

    def floor_divide(self, other: Any) -> Any:
        """Division rounded down; not differentiable (as in PyTorch)."""
        other = self._operand(other)
        nd = _dtype.result_type(self, other)
        a, b = self._data.astype(nd, copy=False), np.asarray(raw(other)).astype(nd, copy=False)
        if nd.kind in "iu" and np.any(b == 0):
            raise RuntimeError("ZeroDivisionError: integer division by zero")
        return self._make(np.asarray(np.floor_divide(a, b)))

    def remainder(self, other: Any) -> Any:
        return self % other

    def fmod(self, other: Any) -> Any:
        return _binary(Fmod, self, other)

    def pow(self, exponent: Any) -> Any:
        return self ** exponent

    def neg(self) -> Any:
        return -self

    negative = neg

    def abs(self) -> Any:
        return Abs.apply(self)

    absolute = abs

    def exp(self) -> Any:
        return Exp.apply(self._floating())

    def exp2(self) -> Any:
        return 2.0 ** self._floating()  # np.power: exact at integers, unlike exp(x log 2)

    def expm1(self) -> Any:
        return Expm1.apply(self._floating())

    def log(self) -> Any:
        return Log.apply(self._floating())

    def log2(self) -> Any:
        return Log2.apply(self._floating())

    def log10(self) -> Any:
        return Log10.apply(self._floating())

    def log1p(self) -> Any:
        return Log1p.apply(self._floating())

    def sqrt(self) -> Any:
        return Sqrt.apply(self._floating())

    def rsqrt(self) -> Any:
        return 1 / self.sqrt()

    def square(self) -> Any:
        x = self if self._data.dtype.kind != "b" else self.long()  # torch: bool ** 2 is int64
        return x * x

    def sin(self) -> Any:
        return Sin.apply(self._floating())

    def cos(self) -> Any:
        return Cos.apply(self._floating())

    def tan(self) -> Any:
        return Tan.apply(self._floating())

    def tanh(self) -> Any:
        return Tanh.apply(self._floating())

    def sigmoid(self) -> Any:
        return Sigmoid.apply(self._floating())

    def relu(self) -> Any:
        return Relu.apply(self)

    def erf(self) -> Any:
        return Erf.apply(self._floating())

    def sign(self) -> Any:
        return Sign.apply(self) if self._data.dtype.kind != "b" else self.clone()

    def sgn(self) -> Any:
        """sign for real tensors; z / |z| (0 at 0) for complex ones."""
        return Sgn.apply(self) if self._data.dtype.kind == "c" else self.sign()

    def reciprocal(self) -> Any:
        return 1 / self._floating()

    def floor(self) -> Any:
        return Floor.apply(self) if self._data.dtype.kind == "f" else self.clone()

    def ceil(self) -> Any:
        return Ceil.apply(self) if self._data.dtype.kind == "f" else self.clone()

    def trunc(self) -> Any:
        return Trunc.apply(self) if self._data.dtype.kind == "f" else self.clone()

    fix = trunc

    def round(self, decimals: _int = 0) -> Any:
        if decimals:
            return (self * 10.0**decimals).round() / 10.0**decimals
        return Round.apply(self) if self._data.dtype.kind == "f" else self.clone()

    def frac(self) -> Any:
        return self - self.trunc()

    def clamp(self, min: Any = None, max: Any = None) -> Any:
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        x = self
        if isinstance(min, TensorBase) or isinstance(max, TensorBase):
            nd = _dtype.result_type(*(v for v in (self, min, max) if v is not None))
            x = cast(x, nd)
            min = cast(min, nd) if isinstance(min, TensorBase) else min
            max = cast(max, nd) if isinstance(max, TensorBase) else max
        elif self._data.dtype.kind in "biu" and any(isinstance(v, float) for v in (min, max)):
            x = cast(x, _dtype.default_float())
        return Clamp.apply(x, min, max)

    clip = clamp

    def clamp_min(self, min: Any) -> Any:
        return self.clamp(min=min)

    def clamp_max(self, max: Any) -> Any:
        return self.clamp(max=max)

    def maximum(self, other: Any) -> Any:
        return _binary(Maximum, self, other)

    def minimum(self, other: Any) -> Any:
        return _binary(Minimum, self, other)

    def where(self, condition: Any, other: Any) -> Any:
        """``x.where(cond, y)`` is ``where(cond, x, y)``: x where cond holds, else y, all
        three broadcast, in the dtype x and y promote to."""
        cond = self._operand(condition)
        if cond._data.dtype != np.bool_:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {cond.dtype}")
        other = self._operand(other)
        nd = _dtype.result_type(self, other)
        if not isinstance(other, TensorBase):
            other = self._make(np.asarray(other, dtype=nd))
        return Where.apply(cond, cast(self, nd), cast(other, nd))

    def lerp(self, end: Any, weight: Any) -> Any:
        return self + weight * (end - self)

    def masked_fill(self, mask: Any, value: Any) -> Any:
        if isinstance(value, TensorBase) and value.ndim:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        mask = self._operand(mask)
        if mask._data.dtype != np.bool_:
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {mask.dtype}")
        v = value if isinstance(value, TensorBase) else self._make(
            np.asarray(value, dtype=self._data.dtype))
        return v.to(self.dtype).where(mask, self)

    def _floating(self) -> Any:
        """Integer inputs of float functions (exp, log, ...) become the default float."""
        return self if self._data.dtype.kind in "fc" else cast(self, _dtype.default_float())

    # -- in-place forms ----------------------------------------------------------------------
    def add_(self, other: Any, alpha: Any = 1) -> Any:
        if alpha != 1:
            return self._inplace(lambda: self.add(other, alpha=alpha))
        return self._inplace(lambda: self + other, np.add, other)

    def sub_(self, other: Any, alpha: Any = 1) -> Any:
        if alpha != 1:
            return self._inplace(lambda: self.sub(other, alpha=alpha))
        return self._inplace(lambda: self - other, np.subtract, other)

    def mul_(self, other: Any) -> Any:
        return self._inplace(lambda: self * other, np.multiply, other)

    def div_(self, other: Any) -> Any:
        return self._inplace(lambda: self / other, np.true_divide, other)

    def pow_(self, exponent: Any) -> Any:
        return self._inplace(lambda: self ** exponent, np.power, exponent)

    def neg_(self) -> Any:
        return self._inplace(lambda: -self)

    def exp_(self) -> Any:
        return self._inplace(self.exp)

    def sqrt_(self) -> Any:
        return self._inplace(self.sqrt)

    def abs_(self) -> Any:
        return self._inplace(self.abs)

    def relu_(self) -> Any:
        return self._inplace(self.relu)

    def sigmoid_(self) -> Any:
        return self._inplace(self.sigmoid)

    def tanh_(self) -> Any:
        return self._inplace(self.tanh)

    def clamp_(self, min: Any = None, max: Any = None) -> Any:
        return self._inplace(lambda: self.clamp(min, max))

    clip_ = clamp_

    def masked_fill_(self, mask: Any, value: Any) -> Any:
        return self._inplace(lambda: self.masked_fill(mask, value), arg=value)

    def zero_(self) -> Any:
        return self.fill_(0)

    def fill_(self, value: Any) -> Any:
        return self._inplace(lambda: _full_like(self, value), arg=value)

    def copy_(self, src: Any) -> Any:
        src = self._operand(src)
        return self._inplace(lambda: _full_like(self, src), arg=src)

    def addcmul_(self, t1: Any, t2: Any, value: Any = 1) -> Any:
        return self._inplace(lambda: self + value * t1 * t2)

    def addcdiv_(self, t1: Any, t2: Any, value: Any = 1) -> Any:
        return self._inplace(lambda: self + value * t1 / t2)

    def lerp_(self, end: Any, weight: Any) -> Any:
        return self._inplace(lambda: self.lerp(end, weight))
