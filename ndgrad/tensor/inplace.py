"""The in-place forms of elementwise ops: ``x.op_(...)`` overwrites x with ``x.op(...)`` and
returns x, as torch's do (see ndgrad/autograd/inplace.py for how the graph is rebased and how
version counters catch a saved tensor that changed). The result must fit x's dtype: an integer
tensor cannot take sqrt_, as in torch.

Ops without a gradient (comparisons, logical and bit ops, floor division) overwrite x through
``_filled``, which keeps x in the graph with a zero gradient, as torch's ``x.eq_(y)`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.autograd.inplace import same_data, will_write
from ndgrad.ops.elementwise import Overwrite
from ndgrad.tensor.base import TensorBase, _int
from ndgrad.tensor.elementwise import check_bool_sub, number_first


def _filled(t: Any, value: Any) -> Any:
    """``value`` (a number or a broadcastable Tensor) in t's shape and dtype, for fill_, copy_
    and the in-place forms of ops without a gradient.

    While recording, an Overwrite node gives t's history a zero gradient (its values are all
    overwritten) and value its gradient; ``t * 0`` would turn inf or nan in t into nan."""
    v = value.to(t.dtype) if isinstance(value, TensorBase) else t._make(
        np.asarray(value, dtype=t._data.dtype))
    v = v.expand(t.shape)
    if grad_state.enabled and (t.requires_grad or v.requires_grad):
        return Overwrite.apply(t, v)
    return v


def _grad_arg(*args: Any) -> Any:
    """The first argument that requires grad (it makes an in-place op record the graph)."""
    return next((a for a in args if getattr(a, "requires_grad", False)), None)


class InplaceMixin(TensorBase):
    """``add_``, ``sin_``, ``eq_``, ``clamp_``, ``fill_``, ... and the ``+=`` family."""

    def _overwrite(self, compute: Callable[[], Any], *args: Any) -> Any:
        """self becomes ``compute()``, a result without a gradient (see ``_filled``)."""
        return self._inplace(lambda: _filled(self, compute()), arg=_grad_arg(*args), reads=args)

    # -- arithmetic ------------------------------------------------------------------------
    def add_(self, other: Any, alpha: Any = 1) -> Any:
        if number_first("add_", other, alpha):
            other, alpha = alpha, other
        if alpha != 1:
            if isinstance(other, TensorBase) and other._data.dtype == self._data.dtype \
                    and self._data.dtype.kind == "f":
                # plain SGD's p.data.add_(p.grad, alpha=-lr): alpha * other made once and added
                # straight into self's memory when nothing is recorded, instead of self + that
                # made whole and copied in (the same bits; 4.5 -> 2.4 ms a step for the 3M
                # parameters of word_language_model's transformer, bench/transformer.py)
                scaled = self._scaled(other, alpha)
                return self._inplace(lambda: self + scaled, np.add, scaled, reads=(other,))
            return self._inplace(lambda: self.add(other, alpha=alpha), arg=other)
        return self._inplace(lambda: self + other, np.add, other)

    def sub_(self, other: Any, alpha: Any = 1) -> Any:
        if number_first("sub_", other, alpha):
            other, alpha = alpha, other
        check_bool_sub(self, other)  # torch's message, before the in-place dtype check
        if alpha != 1:
            return self._inplace(lambda: self.sub(other, alpha=alpha), arg=other)
        return self._inplace(lambda: self - other, np.subtract, other)

    def mul_(self, other: Any) -> Any:
        return self._inplace(lambda: self * other, np.multiply, other)

    def div_(self, other: Any, rounding_mode: str | None = None) -> Any:
        if rounding_mode is not None:
            return self._inplace(lambda: self.div(other, rounding_mode=rounding_mode),
                                 arg=other)
        return self._inplace(lambda: self / other, np.true_divide, other)

    subtract_, multiply_, divide_, true_divide_ = sub_, mul_, div_, div_

    def __idiv__(self, other: Any) -> Any:
        return self.div_(other)

    def floor_divide_(self, other: Any) -> Any:
        return self._inplace(lambda: self.floor_divide(other), arg=other)

    def __ifloordiv__(self, other: Any) -> Any:
        return self.floor_divide_(other)

    def remainder_(self, other: Any) -> Any:
        return self._inplace(lambda: self.remainder(other), arg=other)

    def __imod__(self, other: Any) -> Any:
        return self.remainder_(other)

    def fmod_(self, other: Any) -> Any:
        return self._inplace(lambda: self.fmod(other), arg=other)

    def pow_(self, exponent: Any) -> Any:
        return self._inplace(lambda: self ** exponent, np.power, exponent)

    def __ipow__(self, exponent: Any) -> Any:
        return self.pow_(exponent)

    def float_power_(self, exponent: Any) -> Any:
        if self._data.dtype != np.float64:
            raise RuntimeError(f"the base given to float_power_ has dtype {self.dtype} but the "
                               f"operation's result requires dtype ndgrad.float64")
        return self._inplace(lambda: self.float_power(exponent), arg=exponent)

    def neg_(self) -> Any:
        return self._inplace(self.neg)

    negative_ = neg_

    def addcmul_(self, tensor1: Any, tensor2: Any, value: Any = 1) -> Any:
        if number_first("addcmul_", tensor1, value):
            value, tensor1, tensor2 = tensor1, tensor2, value
        return self._inplace(lambda: self.addcmul(tensor1, tensor2, value),
                             arg=_grad_arg(tensor1, tensor2), reads=(tensor1, tensor2))

    def addcdiv_(self, tensor1: Any, tensor2: Any, value: Any = 1) -> Any:
        if number_first("addcdiv_", tensor1, value):
            value, tensor1, tensor2 = tensor1, tensor2, value
        return self._inplace(lambda: self.addcdiv(tensor1, tensor2, value),
                             arg=_grad_arg(tensor1, tensor2), reads=(tensor1, tensor2))

    def lerp_(self, end: Any, weight: Any) -> Any:
        return self._inplace(lambda: self.lerp(end, weight), arg=_grad_arg(end, weight),
                             reads=(end, weight))

    def ldexp_(self, other: Any) -> Any:
        return self._inplace(lambda: self.ldexp(other), arg=other)

    def xlogy_(self, other: Any) -> Any:
        return self._inplace(lambda: self.xlogy(other), arg=other)

    def copysign_(self, other: Any) -> Any:
        return self._inplace(lambda: self.copysign(other), arg=other)

    def atan2_(self, other: Any) -> Any:
        return self._inplace(lambda: self.atan2(other), arg=other)

    arctan2_ = atan2_

    def hypot_(self, other: Any) -> Any:
        return self._inplace(lambda: self.hypot(other), arg=other)

    def nextafter_(self, other: Any) -> Any:
        return self._inplace(lambda: self.nextafter(other), arg=other)

    def heaviside_(self, values: Any) -> Any:
        return self._overwrite(lambda: self.heaviside(values), values)

    def clamp_(self, min: Any = None, max: Any = None) -> Any:
        return self._inplace(lambda: self.clamp(min, max), arg=_grad_arg(min, max),
                             reads=(min, max))

    clip_ = clamp_

    def clamp_min_(self, min: Any) -> Any:
        return self.clamp_(min=min)

    def clamp_max_(self, max: Any) -> Any:
        return self.clamp_(max=max)

    def conj_physical_(self) -> Any:
        return self  # a real tensor is its own conjugate

    def nan_to_num_(self, nan: float = 0.0, posinf: float | None = None,
                    neginf: float | None = None) -> Any:
        return self._inplace(lambda: self.nan_to_num(nan, posinf, neginf))

    # -- unary math --------------------------------------------------------------------------
    def abs_(self) -> Any:
        return self._inplace(self.abs)

    absolute_ = abs_

    def sign_(self) -> Any:
        return self._inplace(self.sign)

    sgn_ = sign_

    def square_(self) -> Any:
        return self._inplace(self.square)

    def sqrt_(self) -> Any:
        return self._inplace(self.sqrt)

    def rsqrt_(self) -> Any:
        return self._inplace(self.rsqrt)

    def reciprocal_(self) -> Any:
        return self._inplace(self.reciprocal)

    def exp_(self) -> Any:
        return self._inplace(self.exp)

    def exp2_(self) -> Any:
        return self._inplace(self.exp2)

    def expm1_(self) -> Any:
        return self._inplace(self.expm1)

    def log_(self) -> Any:
        return self._inplace(self.log)

    def log2_(self) -> Any:
        return self._inplace(self.log2)

    def log10_(self) -> Any:
        return self._inplace(self.log10)

    def log1p_(self) -> Any:
        return self._inplace(self.log1p)

    def sin_(self) -> Any:
        return self._inplace(self.sin)

    def cos_(self) -> Any:
        return self._inplace(self.cos)

    def tan_(self) -> Any:
        return self._inplace(self.tan)

    def asin_(self) -> Any:
        return self._inplace(self.asin)

    def acos_(self) -> Any:
        return self._inplace(self.acos)

    def atan_(self) -> Any:
        return self._inplace(self.atan)

    def sinh_(self) -> Any:
        return self._inplace(self.sinh)

    def cosh_(self) -> Any:
        return self._inplace(self.cosh)

    def tanh_(self) -> Any:
        return self._inplace(self.tanh)

    def asinh_(self) -> Any:
        return self._inplace(self.asinh)

    def acosh_(self) -> Any:
        return self._inplace(self.acosh)

    def atanh_(self) -> Any:
        return self._inplace(self.atanh)

    arcsin_, arccos_, arctan_ = asin_, acos_, atan_
    arcsinh_, arccosh_, arctanh_ = asinh_, acosh_, atanh_

    def sinc_(self) -> Any:
        return self._inplace(self.sinc)

    def deg2rad_(self) -> Any:
        return self._inplace(self.deg2rad)

    def rad2deg_(self) -> Any:
        return self._inplace(self.rad2deg)

    def sigmoid_(self) -> Any:
        return self._inplace(self.sigmoid)

    def relu_(self) -> Any:
        return self._inplace(self.relu)

    def floor_(self) -> Any:
        return self._inplace(self.floor)

    def ceil_(self) -> Any:
        return self._inplace(self.ceil)

    def trunc_(self) -> Any:
        return self._inplace(self.trunc)

    fix_ = trunc_

    def frac_(self) -> Any:
        return self._inplace(self.frac)

    def round_(self, decimals: _int = 0) -> Any:
        return self._inplace(lambda: self.round(decimals))

    # -- comparisons, logic and bits: no gradient ------------------------------------------
    def eq_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.eq(other), other)

    def ne_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.ne(other), other)

    def lt_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.lt(other), other)

    def le_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.le(other), other)

    def gt_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.gt(other), other)

    def ge_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.ge(other), other)

    greater_, greater_equal_, less_, less_equal_, not_equal_ = gt_, ge_, lt_, le_, ne_

    def logical_and_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.logical_and(other), other)

    def logical_or_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.logical_or(other), other)

    def logical_xor_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.logical_xor(other), other)

    def logical_not_(self) -> Any:
        return self._overwrite(self.logical_not)

    def bitwise_and_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.bitwise_and(other), other)

    def bitwise_or_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.bitwise_or(other), other)

    def bitwise_xor_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.bitwise_xor(other), other)

    def bitwise_not_(self) -> Any:
        return self._overwrite(self.bitwise_not)

    def bitwise_left_shift_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.bitwise_left_shift(other), other)

    def bitwise_right_shift_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.bitwise_right_shift(other), other)

    __iand__, __ior__, __ixor__ = bitwise_and_, bitwise_or_, bitwise_xor_
    __ilshift__, __irshift__ = bitwise_left_shift_, bitwise_right_shift_

    def gcd_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.gcd(other), other)

    def lcm_(self, other: Any) -> Any:
        return self._overwrite(lambda: self.lcm(other), other)

    # -- filling -----------------------------------------------------------------------------
    def masked_fill_(self, mask: Any, value: Any) -> Any:
        # value is read as one number, as torch's masked_fill_ and fill_ do: no overlap check
        return self._inplace(lambda: self.masked_fill(mask, value), arg=value, reads=())

    def apply_(self, callable: Any) -> Any:
        """Replace each element x by ``callable(x)``, a Python function called once per element
        (slow: for small tensors and tests), in place; not on a tensor that requires grad."""
        return self._map_elements("apply_", callable, [self._data])

    def map_(self, tensor: Any, callable: Any) -> Any:
        """Replace each element x by ``callable(x, y)``, y the matching element of ``tensor``
        (broadcast to this shape), in place, as ``apply_``."""
        other = np.broadcast_to(tensor._data, self._data.shape)
        return self._map_elements("map_", callable, [self._data, other])

    def _map_elements(self, name: str, fn: Any, arrays: list[Any]) -> Any:
        if self._requires_grad:
            raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use "
                               f"var.detach().{name}() instead.")
        values = [fn(*vs) for vs in zip(*(a.ravel().tolist() for a in arrays))]
        will_write(self)
        np.copyto(self._data, np.array(values, self._data.dtype).reshape(self._data.shape),
                  casting="unsafe")
        self._bump_version()
        return self

    def fill_diagonal_(self, fill_value: Any, wrap: bool = False) -> Any:
        """Set the main diagonal (the elements whose indices are all equal) to ``fill_value``;
        with ``wrap``, a tall matrix's diagonal starts again after every ``cols + 1`` rows."""
        shape = self._data.shape
        if len(shape) < 2:
            raise RuntimeError(f"dimensions must larger than 1, got a {len(shape)}-d tensor")
        if len(shape) > 2 and len(set(shape)) > 1:
            raise RuntimeError(f"all dimensions of input must be of equal length, got shape "
                               f"{list(shape)}")
        diagonal = np.zeros(shape, bool)
        np.fill_diagonal(diagonal, True, wrap=wrap)  # NumPy's wrap is torch's
        return self.masked_fill_(self._make(diagonal), fill_value)

    def zero_(self) -> Any:
        return self.fill_(0)

    def fill_(self, value: Any) -> Any:
        # torch fills an expand()ed tensor with a number (its shared elements all get it), not
        # with a tensor
        return self._inplace(lambda: _filled(self, value), arg=value, reads=(),
                             overlap_ok=not isinstance(value, TensorBase))

    def copy_(self, src: Any) -> Any:
        src = self._operand(src)
        # a copy from the very same data, of the same shape, changes nothing, even into an
        # expand()ed tensor: torch's copy_ returns before its overlap checks (a src that would
        # need broadcasting is refused there: x.expand(2, *x.shape).copy_(x))
        same = isinstance(src, TensorBase) and same_data(self._data, src._data)
        return self._inplace(lambda: _filled(self, src), arg=src, reads=() if same else None,
                             overlap_ok=same)
