"""Elementwise methods: operators with PyTorch's type promotion, comparisons and logic, math
functions, and the in-place forms (``add_``, ``clamp_``, ``fill_``, ...).

Binary ops go through ``_binary``, the one place dtypes are promoted: float32 stays float32
with a Python float, int / int is a float division, bool operands promote as in torch. Each
method is one line over a primitive of ``ndgrad/ops/elementwise.py`` or a composite of others.
"""

from __future__ import annotations

import builtins
import math
import numbers
import warnings
from collections import namedtuple
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import as_ndarray, broadcast_error, not_implemented_for
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
    FloorDivide,
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
    Reciprocal,
    Relu,
    Remainder,
    Round,
    RoundDecimals,
    Rsqrt,
    Sigmoid,
    Sign,
    Sin,
    Sqrt,
    Sub,
    Tan,
    Tanh,
    Trunc,
    TruncDivide,
    Where,
)
from ndgrad.ops.floating import (
    Copysign,
    FMax,
    FMin,
    Frexp,
    Ldexp,
    LogAddExp,
    LogAddExp2,
    NanToNum,
    NextAfter,
)
from ndgrad.ops.special import Xlogy
from ndgrad.ops.trig import Acos, Acosh, Asin, Asinh, Atan, Atan2, Atanh, Cosh, Hypot, Sinc, Sinh
from ndgrad.tensor.base import TensorBase, _bool, _float, _int, raw
from ndgrad.tensor.conversion import cast, promoted


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
                x = promoted(x, nd)
            if yd != nd and not (yd.kind == "b" and xd == nd):
                y = promoted(y, nd)
        elif fn is Div and xd.kind not in "fc":
            nd = _dtype.default_float()
            x, y = promoted(x, nd), promoted(y, nd)
    elif type(y) is float or type(y) is int:
        if xd.kind != "f" and not (type(y) is int and xd.kind in "iu" and fn is not Div):
            x = promoted(x, _result_dtype(fn, x, y))
    elif isinstance(y, bool | np.number | np.bool_):
        y = y.item() if not isinstance(y, bool) else y
        x = promoted(x, _result_dtype(fn, x, y))
    else:
        return _binary(fn, x, x._operand(y), reverse)
    try:
        return fn.apply(y, x) if reverse else fn.apply(x, y)
    except ValueError:  # NumPy's "operands could not be broadcast together"
        raise broadcast_error(np.shape(raw(x)), np.shape(raw(y))) from None
    except OverflowError:  # uint8 + -1: NumPy refuses, torch casts the int (wrapping around)
        y = np.array(y).astype(x._data.dtype)[()]
        return fn.apply(y, x) if reverse else fn.apply(x, y)


def _is_bool(v: Any) -> bool:
    """A bool tensor or a Python/NumPy bool: what torch's bool-only refusals look at."""
    return isinstance(v, bool | np.bool_) or isinstance(v, TensorBase) and v._data.dtype.kind == "b"


def check_bool_sub(x: Any, y: Any) -> None:
    """torch refuses ``-`` with a bool operand (it is not what a mask means)."""
    if _is_bool(x) and _is_bool(y):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if _is_bool(x) or _is_bool(y):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


_ALPHA = ("alpha, Tensor other", "Tensor other, *, Number alpha = 1")
_VALUE = ("value, Tensor tensor1, Tensor tensor2",
          "Tensor tensor1, Tensor tensor2, *, Number value = 1")
_OLD_ORDER = {"add": _ALPHA, "sub": _ALPHA, "addcmul": _VALUE, "addcdiv": _VALUE}


def number_first(name: str, number: Any, tensor: Any) -> bool:
    """Whether a call uses torch's deprecated order, the number first (``add_(alpha, other)``,
    ``addcmul(value, tensor1, tensor2)``): torch still takes it, with this warning."""
    if not isinstance(number, numbers.Number) or not isinstance(tensor, TensorBase):
        return False
    old, new = _OLD_ORDER[name.rstrip("_")]
    warnings.warn(f"This overload of {name} is deprecated:\n\t{name}(Number {old})\nConsider "
                  f"using one of the following signatures instead:\n\t{name}({new})",
                  UserWarning, stacklevel=3)
    return True


def _no_bool_kernel(x: Any, kernel: str) -> None:
    """torch has no ``kernel`` for bool tensors: refuse as it does."""
    if x._data.dtype.kind == "b":
        raise not_implemented_for(kernel, x._data.dtype)


def _result_dtype(fn: type[Primitive], x: Any, y: Any) -> np.dtype:
    nd = _dtype.result_type(x, y)
    if fn is Div and nd.kind not in "fc":  # int / int is a float division
        return _dtype.default_float()
    return nd


# torch's names of dtypes, in its error messages
_TORCH_NAMES = {np.dtype(k): v for k, v in (
    ("bool", "Bool"), ("uint8", "Byte"), ("int8", "Char"), ("int16", "Short"), ("int32", "Int"),
    ("int64", "Long"), ("float16", "Half"), ("float32", "Float"), ("float64", "Double"))}

frexp_result = namedtuple("frexp_result", ["mantissa", "exponent"])  # torch.return_types.frexp


class ElementwiseMixin(TensorBase):
    """Operators, comparisons, math functions and their in-place forms."""

    # -- operators --------------------------------------------------------------------------
    def __add__(self, other: Any) -> Any:
        return _binary(Add, self, other)

    def __radd__(self, other: Any) -> Any:
        return _binary(Add, self, other, reverse=True)

    def __sub__(self, other: Any) -> Any:
        check_bool_sub(self, other)
        return _binary(Sub, self, other)

    def __rsub__(self, other: Any) -> Any:
        check_bool_sub(other, self)
        return _binary(Sub, self, other, reverse=True)

    def __mul__(self, other: Any) -> Any:
        return _binary(Mul, self, other)

    def __rmul__(self, other: Any) -> Any:
        return _binary(Mul, self, other, reverse=True)

    def __truediv__(self, other: Any) -> Any:
        return _binary(Div, self, other)

    def __rtruediv__(self, other: Any) -> Any:
        # torch's Tensor.__rtruediv__: 3.0 / x is x.reciprocal() * 3.0, two roundings, not a
        # division (its float32 results differ in the last bit; an int or bool x gives floats)
        if not isinstance(other, TensorBase):
            return self.reciprocal() * other
        return _binary(Div, self, other, reverse=True)

    __rdiv__ = __rtruediv__

    def __floordiv__(self, other: Any) -> Any:
        return self.floor_divide(other)

    def __rfloordiv__(self, other: Any) -> Any:
        nd = _dtype.result_type(self, other)  # a Python int wraps around as torch's cast does
        return self._make(np.asarray(other).astype(nd)).floor_divide(self)

    def __mod__(self, other: Any) -> Any:
        if _is_bool(self) and _is_bool(other):
            raise not_implemented_for("remainder_cpu", self._data.dtype)
        return _binary(Remainder, self, other)

    def __rmod__(self, other: Any) -> Any:
        if _is_bool(self) and _is_bool(other):
            raise not_implemented_for("remainder_cpu", self._data.dtype)
        return _binary(Remainder, self, other, reverse=True)

    def __pow__(self, other: Any) -> Any:
        # bool ** bool has no kernel (``b ** True``, a Python exponent, takes another path)
        if _is_bool(self) and isinstance(other, TensorBase) and _is_bool(other):
            raise not_implemented_for("pow", self._data.dtype)
        return _binary(Pow, self, other)

    def __rpow__(self, other: Any) -> Any:
        if _is_bool(self) and _is_bool(other):
            raise not_implemented_for("pow", self._data.dtype)
        return _binary(Pow, self, other, reverse=True)

    def __matmul__(self, other: Any) -> Any:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Any:
        return self._operand(other).matmul(self)

    def __neg__(self) -> Any:
        if self._data.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
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

    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

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
        if number_first("add", other, alpha):
            other, alpha = alpha, other
        return self + (self._scaled(other, alpha) if alpha != 1 else other)

    def sub(self, other: Any, alpha: Any = 1) -> Any:
        if number_first("sub", other, alpha):
            other, alpha = alpha, other
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
            return self._divide_rounded(TruncDivide, other)
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")

    divide = div
    true_divide = div

    def floor_divide(self, other: Any) -> Any:
        """Division rounded down; its gradient is zero (as in PyTorch)."""
        return self._divide_rounded(FloorDivide, other)

    def _divide_rounded(self, fn: type[Primitive], other: Any) -> Any:
        """self / other rounded by ``fn`` (FloorDivide, TruncDivide) in the promoted dtype:
        integers stay integers."""
        other = self._operand(other)
        nd = _dtype.result_type(self, other)
        if nd.kind == "b":
            raise not_implemented_for("div_floor_cpu" if fn is FloorDivide else "div_trunc_cpu",
                                      nd)
        y = cast(other, nd) if isinstance(other, TensorBase) else self._make(
            np.asarray(other).astype(nd))  # a Python int wraps around as torch's cast does
        return _binary(fn, cast(self, nd), y)

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
        _no_bool_kernel(self, "abs_cpu")
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
        return Rsqrt.apply(self._floating())

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
        if self._data.dtype.kind == "b":
            raise RuntimeError("Boolean inputs not supported for relu")
        return Relu.apply(self)

    def prelu(self, weight: Any) -> Any:
        """F.prelu(self, weight): x where positive, weight * x elsewhere."""
        from ndgrad.nn.functional import prelu
        return prelu(self, weight)  # type: ignore[arg-type]  # self is the Tensor

    def hardshrink(self, lambd: float = 0.5) -> Any:
        """F.hardshrink(self, lambd): x where |x| > lambd, else 0."""
        from ndgrad.nn.functional import hardshrink
        return hardshrink(self, lambd)  # type: ignore[arg-type]

    def erf(self) -> Any:
        return Erf.apply(self._floating())

    def sign(self) -> Any:
        return Sign.apply(self) if self._data.dtype.kind != "b" else self.clone()

    def sgn(self) -> Any:
        """sign for real tensors; z / |z| (0 at 0) for complex ones."""
        return Sgn.apply(self) if self._data.dtype.kind == "c" else self.sign()

    def reciprocal(self) -> Any:
        return Reciprocal.apply(self._floating())

    def floor(self) -> Any:
        _no_bool_kernel(self, "floor_vml_cpu")
        return Floor.apply(self) if self._data.dtype.kind == "f" else self.clone()

    def ceil(self) -> Any:
        _no_bool_kernel(self, "ceil_vml_cpu")
        return Ceil.apply(self) if self._data.dtype.kind == "f" else self.clone()

    def trunc(self) -> Any:
        _no_bool_kernel(self, "trunc_vml_cpu")
        return Trunc.apply(self) if self._data.dtype.kind == "f" else self.clone()

    fix = trunc

    def round(self, decimals: _int = 0) -> Any:
        """Round half to even, to ``decimals`` decimal places (negative: tens, hundreds...)."""
        if self._data.dtype.kind != "f":
            if decimals:
                raise not_implemented_for("round_cpu", self._data.dtype)
            _no_bool_kernel(self, "round_vml_cpu")
            return self.clone()
        return RoundDecimals.apply(self, decimals) if decimals else Round.apply(self)

    def frac(self) -> Any:
        if self._data.dtype.kind not in "fc":
            raise not_implemented_for("frac_cpu", self._data.dtype)
        return self - self.trunc()

    def clamp(self, min: Any = None, max: Any = None) -> Any:
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        x = self
        if isinstance(min, TensorBase) or isinstance(max, TensorBase):
            nd = _dtype.result_type(*(v for v in (self, min, max) if v is not None))
            x = promoted(x, nd)
            min = promoted(min, nd) if isinstance(min, TensorBase) else min
            max = promoted(max, nd) if isinstance(max, TensorBase) else max
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
        """self + weight * (end - self); weight a number or a tensor (broadcast)."""
        if self._data.dtype.kind not in "fc":  # torch's lerp kernels are for floats only
            kind = "tensor" if isinstance(weight, TensorBase) else "scalar"
            raise not_implemented_for(f"lerp_kernel_{kind}", self._data.dtype)
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

    # -- more pointwise math ----------------------------------------------------------------
    def _float_binary(self, fn: type[Primitive], other: Any, name: str, ints: _bool = True,
                      reverse: _bool = False) -> Any:
        """A binary op that computes in floating point: integer operands become the default
        float (atan2, xlogy, copysign) or, with ``ints=False``, are refused as torch refuses
        them (hypot, logaddexp)."""
        other = self._operand(other)
        nd = _dtype.result_type(self, other)
        x = self
        if nd.kind != "f":
            if not ints:
                raise RuntimeError(f'"{name}_cpu" not implemented for \'{_TORCH_NAMES[nd]}\'')
            x = cast(self, _dtype.default_float())
            other = cast(other, x._data.dtype) if isinstance(other, TensorBase) else other
        return _binary(fn, x, other, reverse)

    def asin(self) -> Any:
        return Asin.apply(self._floating())

    def acos(self) -> Any:
        return Acos.apply(self._floating())

    def atan(self) -> Any:
        return Atan.apply(self._floating())

    def atan2(self, other: Any) -> Any:
        """The angle of the point (other, self), in [-pi, pi]."""
        return self._float_binary(Atan2, other, "atan2")

    def sinh(self) -> Any:
        return Sinh.apply(self._floating())

    def cosh(self) -> Any:
        return Cosh.apply(self._floating())

    def asinh(self) -> Any:
        return Asinh.apply(self._floating())

    def acosh(self) -> Any:
        return Acosh.apply(self._floating())

    def atanh(self) -> Any:
        return Atanh.apply(self._floating())

    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def hypot(self, other: Any) -> Any:
        """sqrt(self^2 + other^2), without overflow."""
        return self._float_binary(Hypot, other, "hypot", ints=False)

    def sinc(self) -> Any:
        """The normalized sinc, sin(pi x) / (pi x), and 1 at 0."""
        return Sinc.apply(self._floating())

    def deg2rad(self) -> Any:
        return self._floating() * (math.pi / 180)

    def rad2deg(self) -> Any:
        return self._floating() * (180 / math.pi)

    def logaddexp(self, other: Any) -> Any:
        """log(exp(self) + exp(other)), without overflow."""
        return self._float_binary(LogAddExp, other, "logaddexp", ints=False)

    def logaddexp2(self, other: Any) -> Any:
        return self._float_binary(LogAddExp2, other, "logaddexp2", ints=False)

    def xlogy(self, other: Any) -> Any:
        """self * log(other), and 0 where self is 0 (unless other is nan)."""
        return self._float_binary(Xlogy, other, "xlogy")

    def copysign(self, other: Any) -> Any:
        """|self| with the sign of other (of -0.0 too)."""
        return self._float_binary(Copysign, other, "copysign")

    def fmax(self, other: Any) -> Any:
        """maximum, where a nan loses to a number."""
        return _binary(FMax, self, other)

    def fmin(self, other: Any) -> Any:
        return _binary(FMin, self, other)

    def float_power(self, exponent: Any) -> Any:
        """pow in float64, whatever the operands' dtypes."""
        exponent = self._operand(exponent)
        if isinstance(exponent, TensorBase):
            exponent = cast(exponent, np.dtype(np.float64))
        return cast(self, np.dtype(np.float64)) ** exponent

    def ldexp(self, other: Any) -> Any:
        """self * 2**other, in floating point."""
        other = self._operand(other)
        if not isinstance(other, TensorBase):
            other = self._make(np.asarray(other, _dtype.default_float()))
        other = other._floating()
        nd = _dtype.result_type(self, other)
        nd = nd if nd.kind == "f" else _dtype.default_float()
        return _binary(Ldexp, cast(self, nd), cast(other, nd))

    def frexp(self) -> Any:
        """(mantissa, exponent) with self = mantissa * 2**exponent, 0.5 <= |mantissa| < 1."""
        if self._data.dtype.kind != "f":
            raise RuntimeError("torch.frexp() only supports floating-point dtypes")
        exponent = self._make(np.frexp(self._data)[1].astype(np.int32))
        return frexp_result(Frexp.apply(self), exponent)

    def nan_to_num(self, nan: _float = 0.0, posinf: _float | None = None,
                   neginf: _float | None = None) -> Any:
        """nan, inf and -inf replaced: by ``nan``, and by ``posinf`` and ``neginf`` or else
        the dtype's largest and lowest numbers."""
        if self._data.dtype.kind != "f":
            return self.clone()
        info = np.finfo(self._data.dtype)
        return NanToNum.apply(self, nan, info.max if posinf is None else posinf,
                              info.min if neginf is None else neginf)

    def nextafter(self, other: Any) -> Any:
        """The next floating-point number after self in the direction of other."""
        return self._float_binary(NextAfter, other, "nextafter", ints=False)

    def heaviside(self, values: Any) -> Any:
        """0 where self < 0, ``values`` where self == 0, 1 where self > 0 (nan gives 0)."""
        values = self._operand(values)
        if not isinstance(values, TensorBase) or values._data.dtype != self._data.dtype:
            raise RuntimeError("heaviside is not yet implemented for tensors with different "
                               "dtypes.")
        x = self._data
        return self._make(np.asarray(np.where(x == 0, values._data, x > 0), x.dtype))

    def addcmul(self, tensor1: Any, tensor2: Any, value: Any = 1) -> Any:
        """self + value * tensor1 * tensor2."""
        if number_first("addcmul", tensor1, value):
            value, tensor1, tensor2 = tensor1, tensor2, value
        self._check_value(value, tensor1, tensor2)
        if _is_bool(self) and _is_bool(tensor1) and _is_bool(tensor2):
            raise not_implemented_for("addcmul_cpu_out", self._data.dtype)
        return self + value * tensor1 * tensor2

    def addcdiv(self, tensor1: Any, tensor2: Any, value: Any = 1) -> Any:
        """self + value * tensor1 / tensor2."""
        if number_first("addcdiv", tensor1, value):
            value, tensor1, tensor2 = tensor1, tensor2, value
        if all(raw(t).dtype.kind in "biu" for t in (tensor1, tensor2)):
            raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                               "future release addcdiv will perform a true division of tensor1 "
                               "and tensor2. The historic addcdiv behavior can be implemented "
                               "as (input + value * torch.trunc(tensor1 / tensor2)).to("
                               "input.dtype) for integer inputs and as (input + value * tensor1 "
                               "/ tensor2) for float inputs. The future addcdiv behavior is "
                               "just the latter implementation: (input + value * tensor1 / "
                               "tensor2), for all dtypes.")
        self._check_value(value, tensor1, tensor2)
        return self + value * tensor1 / tensor2

    def _check_value(self, value: Any, *tensors: Any) -> None:
        if isinstance(value, float) and _dtype.result_type(self, *tensors).kind in "biu":
            raise RuntimeError("For integral input tensors, argument value must not be a "
                               "floating point number.")

    def positive(self) -> Any:
        if self._data.dtype.kind == "b":
            raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
        return self

    def _floating(self) -> Any:
        """Integer inputs of float functions (exp, log, ...) become the default float."""
        return self if self._data.dtype.kind in "fc" else cast(self, _dtype.default_float())
