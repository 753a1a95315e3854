"""Tensor: a NumPy array plus what autograd needs (requires_grad, grad, grad_fn).

Methods are one line when they call a primitive (``ndgrad/ops``) and a few lines when they are
composites built from other methods: a composite needs no backward code, autograd derives it.
"""

from __future__ import annotations

import builtins
import math
import warnings
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeAlias

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import shape_arg, sum_to, wrap_dim, wrap_dims
from ndgrad.autograd.grad_mode import state as _grad_state
from ndgrad.ops import elementwise as E
from ndgrad.ops import linalg as L
from ndgrad.ops import reduce as R
from ndgrad.ops import shape as S
from ndgrad.ops.base import Primitive, broadcast_error

values_indices = namedtuple("values_indices", ["values", "indices"])
_new = object.__new__
# Tensor has methods named int, bool and float (as torch.Tensor does): annotations inside the
# class use these aliases, as PyTorch's own stubs do.
_int: TypeAlias = int
_bool: TypeAlias = bool
_float: TypeAlias = float


class Size(tuple):
    """A tensor's shape: a tuple that prints like ``ndgrad.Size([2, 3])``."""

    def numel(self) -> int:
        return math.prod(self)

    def __repr__(self) -> str:
        return f"ndgrad.Size({list(self)})"


class device:  # noqa: N801 - PyTorch's name
    """Where a tensor lives: always the CPU (``'cpu'``), so device-agnostic code runs."""

    def __init__(self, type: str = "cpu", index: int | None = None) -> None:
        type = str(type)
        if type.split(":")[0] != "cpu":
            raise RuntimeError(f"ndgrad runs on the CPU only; device '{type}' is not available")
        self.type, self.index = "cpu", index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device | str) and str(other).split(":")[0] == "cpu"

    def __hash__(self) -> int:
        return hash("cpu")

    def __str__(self) -> str:
        return "cpu"

    def __repr__(self) -> str:
        return "device(type='cpu')"


_CPU = device("cpu")


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: dict[int, Any], key: int) -> None:
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn lists, numbers, arrays and Tensors into an array with PyTorch's dtype inference."""
    nd = _dtype.to_np(dtype) if dtype is not None else None
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray | np.generic):
        arr = np.asarray(data)
    else:
        if isinstance(data, Sequence) and any(isinstance(d, Tensor) for d in _flat(data)):
            data = _nested_tensors_to_lists(data)
        arr = np.asarray(data)
        if nd is None and arr.dtype.kind == "f":
            arr = arr.astype(_dtype.default_float())  # Python floats become float32
        if nd is None and arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"can't convert data of type {arr.dtype} to a tensor; only numbers, "
                        f"booleans, lists of them and numeric arrays are supported")
    if nd is not None and arr.dtype != nd:
        arr = arr.astype(nd)
    elif nd is None and arr.dtype not in _dtype._FROM_NP:
        _dtype.from_np(arr.dtype)  # raises a clear error for unsupported dtypes
    return arr


def _flat(data: Any) -> Iterator[Any]:
    stack = [data]
    while stack:
        d = stack.pop()
        if isinstance(d, list | tuple):
            stack.extend(d)
        else:
            yield d


def _nested_tensors_to_lists(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, list | tuple):
        return [_nested_tensors_to_lists(d) for d in data]
    return data


def _cast(t: Tensor, nd: np.dtype) -> Tensor:
    if t._data.dtype == nd:
        return t
    if t._requires_grad:
        return E.Cast.apply(t, nd)
    return Tensor._make(t._data.astype(nd))


def _binary(fn: type[Primitive], x: Tensor, y: Any, reverse: bool = False) -> Tensor:
    """Apply a binary primitive after PyTorch's type promotion (x is a Tensor, y anything).

    The common cases (same dtypes; a float tensor and a Python number) cost two checks."""
    xd = x._data.dtype
    if isinstance(y, Tensor):
        yd = y._data.dtype
        if xd != yd and not (yd.kind == "b" and xd.kind == "f"):
            nd = _result_dtype(fn, x, y)
            # a bool operand needs no cast: NumPy promotes bool exactly as torch does
            if xd != nd and not (xd.kind == "b" and yd == nd):
                x = _cast(x, nd)
            if yd != nd and not (yd.kind == "b" and xd == nd):
                y = _cast(y, nd)
        elif fn is E.Div and xd.kind != "f":
            nd = _dtype.default_float()
            x, y = _cast(x, nd), _cast(y, nd)
    elif type(y) is float or type(y) is int:
        if xd.kind != "f" and not (type(y) is int and xd.kind in "iu" and fn is not E.Div):
            x = _cast(x, _result_dtype(fn, x, y))
    elif isinstance(y, bool | np.number | np.bool_):
        y = y.item() if not isinstance(y, bool) else y
        x = _cast(x, _result_dtype(fn, x, y))
    else:
        return _binary(fn, x, tensor(y), reverse)
    try:
        return fn.apply(y, x) if reverse else fn.apply(x, y)
    except ValueError:  # NumPy's "operands could not be broadcast together"
        raise broadcast_error(np.shape(_raw(x)), np.shape(_raw(y))) from None
    except OverflowError:  # uint8 + -1: NumPy refuses, torch casts the int (wrapping around)
        y = np.array(y).astype(x._data.dtype)[()]
        return fn.apply(y, x) if reverse else fn.apply(x, y)


def _result_dtype(fn: type[Primitive], x: Any, y: Any) -> np.dtype:
    nd = _dtype.result_type(x, y)
    if fn is E.Div and nd.kind != "f":  # int / int is a float division
        return _dtype.default_float()
    return nd


def _raw(v: Any) -> Any:
    return v._data if isinstance(v, Tensor) else v


def _np_index(index: Any) -> tuple:
    """Turn an index (ints, slices, None, Ellipsis, lists, int/bool tensors) into NumPy's."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if isinstance(i, Tensor):
            i = i._data
            if i.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if i.dtype == np.uint8:  # torch reads a byte tensor as a mask
                i = i.astype(np.bool_)
        elif isinstance(i, list):
            i = np.asarray(i)
            if i.dtype.kind == "f":
                raise IndexError("lists used as indices must contain only integers or booleans")
        out.append(i)
    return tuple(out)


def _index_error(e: IndexError) -> IndexError:
    return IndexError(str(e).replace("axis", "dimension"))


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autograd."""

    __array_ufunc__ = None  # ndarray * Tensor gives a Tensor (NumPy defers to our __rmul__)
    __array_priority__ = 1000
    __hash__ = object.__hash__  # == is elementwise, so hash by identity as torch does

    _data: np.ndarray  # the values; every tensor has one
    # Defaults for attributes an op's result does not set: making a tensor sets only _data.
    _requires_grad = False
    _grad: Tensor | None = None
    grad_fn: Any = None
    _output_nr = 0
    _vc: list[_int] | None = None  # version counter, shared with views; None means version 0
    _base: Tensor | None = None  # the tensor this one is a view of
    _accum: Any = None  # weakref to this leaf's AccumulateGrad node
    _hooks: dict[_int, Callable[[Tensor], Any]] | None = None  # leaf hooks
    _retains_grad = False
    _view_of: tuple[Tensor, Any] | None = None  # (parent, index) of a view made by parent[index]

    def __init__(self, *args: Any, dtype: Any = None, device: Any = None,
                 requires_grad: _bool = False) -> None:
        """torch.Tensor's constructor: ``Tensor(data)`` copies lists and arrays as the default
        float dtype (``Tensor([1, 2])`` is float32, unlike ``tensor``), ``Tensor(t)`` shares
        ``t``'s data, ``Tensor(2, 3)`` and ``Tensor(Size)`` make a (zero-filled) tensor of that
        size, ``Tensor()`` an empty one. ``dtype``/``requires_grad`` are ndgrad extensions."""
        nd = _dtype.to_np(dtype) if dtype is not None else _dtype.default_float()
        if device is not None:
            _CPU.__class__(device)  # raises for anything but the CPU
        if len(args) == 1 and isinstance(args[0], Tensor):
            src = args[0]
            self._data = src._data if dtype is None else src._data.astype(nd)
            if self._data is src._data:  # an alias: in-place changes bump one version
                if src._vc is None:
                    src._vc = [0]
                self._vc = src._vc
        elif not args or isinstance(args[0], Size) and len(args) == 1 or all(
                isinstance(a, builtins.int | np.integer) and not isinstance(a, builtins.bool)
                for a in args):
            shape = tuple(args[0]) if args and isinstance(args[0], Size) else (
                tuple(builtins.int(a) for a in args) if args else (0,))
            self._data = np.zeros(shape, nd)
        elif len(args) == 1 and isinstance(args[0], Sequence | np.ndarray):
            self._data = np.array(_as_array(args[0], nd), copy=True)
        else:
            raise TypeError(f"Tensor() takes data (a list or an ndarray), another Tensor or "
                            f"sizes (ints), got ({', '.join(type(a).__name__ for a in args)}); "
                            f"for a scalar use ndgrad.tensor(value)")
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _make(arr: np.ndarray) -> Tensor:
        """Wrap an array without copying or checking: the fast path for results."""
        t = _new(Tensor)
        t._data = arr
        return t

    # -- autograd attributes ----------------------------------------------------------------
    @property
    def requires_grad(self) -> _bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: _bool) -> None:
        if self.grad_fn is not None:
            if value:
                return
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if value and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(got {self.dtype})")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: _bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got "
                                f"{type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has data of a different size: expected "
                                   f"{list(self.shape)}, got {list(value.shape)}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype {value.dtype} to "
                                   f"a tensor of dtype {self.dtype}: they must match")
        self._grad = value

    @property
    def is_leaf(self) -> _bool:
        return self.grad_fn is None

    @property
    def _version(self) -> _int:
        return self._vc[0] if self._vc is not None else 0

    def _bump_version(self) -> None:
        if self._vc is None:
            self._vc = [0]
        self._vc[0] += 1

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        node = self.grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    @property
    def retains_grad(self) -> _bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        else:
            node = self.grad_fn
            if node._pre_hooks is None:
                node._pre_hooks = {}
            hooks = node._pre_hooks.setdefault(self._output_nr, {})
        key = id(hook) ^ len(hooks) << 1
        while key in hooks:
            key += 1
        hooks[key] = hook
        return RemovableHandle(hooks, key)

    def backward(self, gradient: Tensor | None = None, retain_graph: _bool | None = None,
                 create_graph: _bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ndgrad.autograd)."""
        if inputs is None:  # the usual call goes straight to the engine
            if retain_graph is None:
                retain_graph = create_graph
            _engine().run_backward((self,), (gradient,), retain_graph, create_graph)
        else:
            _autograd().backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """The same data (shared memory and version), cut off from the graph."""
        t = Tensor._make(self._data)
        if self._vc is None:
            self._vc = [0]
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        self.grad_fn, self._requires_grad = None, False
        return self

    @property
    def data(self) -> Tensor:
        """The same storage as a tensor that does not require grad (PyTorch's ``.data``)."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else _as_array(value)

    # -- attributes and conversions ---------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype.from_np(self._data.dtype)

    @property
    def ndim(self) -> _int:
        return self._data.ndim

    @property
    def device(self) -> device:
        return _CPU

    @property
    def is_cuda(self) -> _bool:
        return False

    def size(self, dim: _int | None = None) -> Any:
        if dim is None:
            return self.shape
        return self._data.shape[wrap_dim(dim, self._data.ndim)] if self._data.ndim else 1

    def dim(self) -> _int:
        return self._data.ndim

    def numel(self) -> _int:
        return int(self._data.size)

    def nelement(self) -> _int:
        return int(self._data.size)

    def element_size(self) -> _int:
        return int(self._data.itemsize)

    def is_floating_point(self) -> _bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> _bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: _int | None = None) -> Any:
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[wrap_dim(dim, self._data.ndim)]

    def data_ptr(self) -> _int:
        return int(self._data.__array_interface__["data"][0])

    def item(self) -> Any:
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               f"to Scalar")
        return self._data.item()

    def numpy(self, force: _bool = False) -> np.ndarray:
        """The underlying array (shared memory, as in PyTorch)."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def tolist(self) -> Any:
        return self._data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to('cpu')``, ``to(other)``: returns self when nothing changes."""
        target = to_args_dtype(args, kwargs)
        if target is None:
            return self
        out = _cast(self, _dtype.to_np(target)) if self._requires_grad else None
        if out is None:
            nd = _dtype.to_np(target)
            out = self if self._data.dtype == nd else Tensor._make(self._data.astype(nd))
        if kwargs.get("copy") and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        device("cuda")
        return self

    def type(self, dtype: Any = None) -> Any:
        """``x.type()`` names the type as torch does (``'ndgrad.FloatTensor'``); ``x.type(d)``
        converts to a dtype or a type name such as ``'torch.DoubleTensor'``."""
        names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                 "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
        if dtype is None:
            return f"ndgrad.{names[self._data.dtype.name]}Tensor"
        if isinstance(dtype, str):
            short = dtype.rsplit(".", 1)[-1].removesuffix("Tensor")
            found = [k for k, v in names.items() if v == short]
            if not found:
                raise ValueError(f"invalid type: '{dtype}'")
            dtype = getattr(_dtype, found[0] if found[0] != "bool" else "bool_")
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(_dtype.float32)

    def double(self) -> Tensor:
        return self.to(_dtype.float64)

    def half(self) -> Tensor:
        return self.to(_dtype.float16)

    def long(self) -> Tensor:
        return self.to(_dtype.int64)

    def int(self) -> Tensor:
        return self.to(_dtype.int32)

    def bool(self) -> Tensor:
        return self.to(_dtype.bool_)

    def byte(self) -> Tensor:
        return self.to(_dtype.uint8)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def clone(self) -> Tensor:
        return E.Clone.apply(self)

    def contiguous(self) -> Tensor:
        return self if self._data.flags.c_contiguous else self.clone()

    def __len__(self) -> _int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> _bool:
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is "
                               f"ambiguous")
        return builtins.bool(self._data.item())

    def __float__(self) -> _float:
        return builtins.float(self.item())

    def __int__(self) -> _int:
        return builtins.int(self.item())

    def __index__(self) -> _int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return builtins.int(self.item())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __repr__(self) -> str:
        from ndgrad._tensor_str import tensor_repr

        return tensor_repr(self._data, str(self.dtype), _dtype.default_float(), self.grad_fn,
                           self._requires_grad)

    # -- operators --------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _binary(E.Add, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _binary(E.Add, self, other, reverse=True)

    def __sub__(self, other: Any) -> Tensor:
        return _binary(E.Sub, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _binary(E.Sub, self, other, reverse=True)

    def __mul__(self, other: Any) -> Tensor:
        return _binary(E.Mul, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _binary(E.Mul, self, other, reverse=True)

    def __truediv__(self, other: Any) -> Tensor:
        return _binary(E.Div, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        if not isinstance(other, Tensor) and self._data.dtype.kind in "biu":
            return _binary(E.Div, self.to(_dtype.default_float()), other, reverse=True)
        return _binary(E.Div, self, other, reverse=True)

    def __floordiv__(self, other: Any) -> Tensor:
        return self.floor_divide(other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return tensor(other, dtype=_dtype.from_np(_dtype.result_type(self, other))) \
            .floor_divide(self)

    def __mod__(self, other: Any) -> Tensor:
        return _binary(E.Remainder, self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _binary(E.Remainder, self, other, reverse=True)

    def __pow__(self, other: Any) -> Tensor:
        return _binary(E.Pow, self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _binary(E.Pow, self, other, reverse=True)

    def __matmul__(self, other: Tensor) -> Tensor:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return tensor(other).matmul(self)

    def __neg__(self) -> Tensor:
        return E.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    # comparisons and logic: not differentiable, results are bool tensors
    def _compare(self, ufunc: Any, other: Any) -> Tensor:
        """Compare in the promoted dtype, as torch does (uint8 == -1 compares with 255)."""
        x = self._data
        if (type(other) is float or type(other) is int) and x.dtype.kind == "f" or (
                isinstance(other, Tensor) and other._data.dtype == x.dtype):
            try:
                out = ufunc(x, _raw(other))
            except ValueError:  # NumPy's "operands could not be broadcast together"
                raise broadcast_error(x.shape, np.shape(_raw(other))) from None
            return Tensor._make(out if type(out) is np.ndarray else np.asarray(out))
        other = _operand(other)
        nd = _dtype.result_type(self, other)
        if isinstance(other, Tensor):
            y = other._data.astype(nd, copy=False)
        else:
            y = np.array(other).astype(nd)  # a Python int wraps around like torch's cast
        try:
            return Tensor._make(np.asarray(ufunc(x.astype(nd, copy=False), y)))
        except ValueError:  # NumPy's "operands could not be broadcast together"
            raise broadcast_error(x.shape, y.shape) from None

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.equal, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.not_equal, other)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(np.less, other)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(np.less_equal, other)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(np.greater, other)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(np.greater_equal, other)

    def _bitwise(self, ufunc: Any, other: Any) -> Tensor:
        if self._data.dtype.kind == "f" or getattr(_raw(other), "dtype", np.dtype("b")).kind == "f":
            raise RuntimeError(f"{ufunc.__name__} is only supported for integer and bool "
                               f"tensors, got {self.dtype}")
        return Tensor._make(np.asarray(ufunc(self._data, _raw(_operand(other)))))

    def __and__(self, other: Any) -> Tensor:
        return self._bitwise(np.bitwise_and, other)

    __rand__ = __and__

    def __or__(self, other: Any) -> Tensor:
        return self._bitwise(np.bitwise_or, other)

    __ror__ = __or__

    def __xor__(self, other: Any) -> Tensor:
        return self._bitwise(np.bitwise_xor, other)

    __rxor__ = __xor__

    def __invert__(self) -> Tensor:
        if self._data.dtype.kind == "f":
            raise RuntimeError("~ (bitwise_not) is only supported for integer and bool tensors")
        return Tensor._make(np.invert(self._data))

    def eq(self, other: Any) -> Tensor:
        return self == other

    def ne(self, other: Any) -> Tensor:
        return self != other

    def lt(self, other: Any) -> Tensor:
        return self < other

    def le(self, other: Any) -> Tensor:
        return self <= other

    def gt(self, other: Any) -> Tensor:
        return self > other

    def ge(self, other: Any) -> Tensor:
        return self >= other

    def equal(self, other: Tensor) -> _bool:
        return self.shape == other.shape and builtins.bool(np.array_equal(self._data, other._data))

    def allclose(self, other: Tensor, rtol: _float = 1e-5, atol: _float = 1e-8,
                 equal_nan: _bool = False) -> _bool:
        return builtins.bool(np.allclose(self._data, _raw(other), rtol, atol, equal_nan))

    def isclose(self, other: Any, rtol: _float = 1e-5, atol: _float = 1e-8,
                equal_nan: _bool = False) -> Tensor:
        return Tensor._make(np.isclose(self._data, _raw(other), rtol, atol, equal_nan))

    def logical_and(self, other: Any) -> Tensor:
        return Tensor._make(np.logical_and(self._data, _raw(other)))

    def logical_or(self, other: Any) -> Tensor:
        return Tensor._make(np.logical_or(self._data, _raw(other)))

    def logical_xor(self, other: Any) -> Tensor:
        return Tensor._make(np.logical_xor(self._data, _raw(other)))

    def logical_not(self) -> Tensor:
        return Tensor._make(np.logical_not(self._data))

    def isnan(self) -> Tensor:
        return Tensor._make(np.isnan(self._data))

    def isinf(self) -> Tensor:
        return Tensor._make(np.isinf(self._data))

    def isfinite(self) -> Tensor:
        return Tensor._make(np.isfinite(self._data))

    # -- elementwise math -------------------------------------------------------------------
    def add(self, other: Any, alpha: Any = 1) -> Tensor:
        return self + (self._scaled(other, alpha) if alpha != 1 else other)

    def sub(self, other: Any, alpha: Any = 1) -> Tensor:
        return self - (self._scaled(other, alpha) if alpha != 1 else other)

    def _scaled(self, other: Any, alpha: Any) -> Any:
        """``alpha * other`` in the dtype of ``self + other`` (bool * 2 must not become int64)."""
        other = _operand(other)
        nd = _dtype.result_type(self, other)
        if nd.kind != "f" and isinstance(alpha, float):
            raise RuntimeError(f"For integral input tensors, argument alpha must not be a "
                               f"floating point number (got alpha={alpha}, dtype "
                               f"{_dtype.from_np(nd)})")
        return _cast(other * alpha, nd) if isinstance(other, Tensor) else other * alpha

    subtract = sub

    def mul(self, other: Any) -> Tensor:
        return self * other

    multiply = mul

    def div(self, other: Any, rounding_mode: str | None = None) -> Tensor:
        if rounding_mode is None:
            return self / other
        if rounding_mode == "floor":
            return self.floor_divide(other)
        if rounding_mode == "trunc":
            return (self / other).trunc().to(_dtype.result_type(self, _operand(other)))
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")

    divide = div
    true_divide = div

    def floor_divide(self, other: Any) -> Tensor:
        """Division rounded down; not differentiable (as in PyTorch)."""
        other = _operand(other)
        nd = _dtype.result_type(self, other)
        a, b = self._data.astype(nd, copy=False), np.asarray(_raw(other)).astype(nd, copy=False)
        if nd.kind in "iu" and np.any(b == 0):
            raise RuntimeError("ZeroDivisionError: integer division by zero")
        return Tensor._make(np.asarray(np.floor_divide(a, b)))

    def remainder(self, other: Any) -> Tensor:
        return self % other

    def fmod(self, other: Any) -> Tensor:
        return _binary(E.Fmod, self, other)

    def pow(self, exponent: Any) -> Tensor:
        return self ** exponent

    def neg(self) -> Tensor:
        return -self

    negative = neg

    def abs(self) -> Tensor:
        return E.Abs.apply(self)

    absolute = abs

    def exp(self) -> Tensor:
        return E.Exp.apply(self._floating())

    def exp2(self) -> Tensor:
        return 2.0 ** self._floating()  # np.power: exact at integers, unlike exp(x log 2)

    def expm1(self) -> Tensor:
        return E.Expm1.apply(self._floating())

    def log(self) -> Tensor:
        return E.Log.apply(self._floating())

    def log2(self) -> Tensor:
        return E.Log2.apply(self._floating())

    def log10(self) -> Tensor:
        return E.Log10.apply(self._floating())

    def log1p(self) -> Tensor:
        return E.Log1p.apply(self._floating())

    def sqrt(self) -> Tensor:
        return E.Sqrt.apply(self._floating())

    def rsqrt(self) -> Tensor:
        return 1 / self.sqrt()

    def square(self) -> Tensor:
        x = self if self._data.dtype.kind != "b" else self.long()  # torch: bool ** 2 is int64
        return x * x

    def sin(self) -> Tensor:
        return E.Sin.apply(self._floating())

    def cos(self) -> Tensor:
        return E.Cos.apply(self._floating())

    def tan(self) -> Tensor:
        return E.Tan.apply(self._floating())

    def tanh(self) -> Tensor:
        return E.Tanh.apply(self._floating())

    def sigmoid(self) -> Tensor:
        return E.Sigmoid.apply(self._floating())

    def relu(self) -> Tensor:
        return E.Relu.apply(self)

    def erf(self) -> Tensor:
        return E.Erf.apply(self._floating())

    def sign(self) -> Tensor:
        return E.Sign.apply(self) if self._data.dtype.kind != "b" else self.clone()

    sgn = sign

    def reciprocal(self) -> Tensor:
        return 1 / self._floating()

    def floor(self) -> Tensor:
        return E.Floor.apply(self) if self._data.dtype.kind == "f" else self.clone()

    def ceil(self) -> Tensor:
        return E.Ceil.apply(self) if self._data.dtype.kind == "f" else self.clone()

    def trunc(self) -> Tensor:
        return E.Trunc.apply(self) if self._data.dtype.kind == "f" else self.clone()

    fix = trunc

    def round(self, decimals: _int = 0) -> Tensor:
        if decimals:
            return (self * 10.0**decimals).round() / 10.0**decimals
        return E.Round.apply(self) if self._data.dtype.kind == "f" else self.clone()

    def frac(self) -> Tensor:
        return self - self.trunc()

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        x = self
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            nd = _dtype.result_type(*(v for v in (self, min, max) if v is not None))
            x = _cast(x, nd)
            min = _cast(min, nd) if isinstance(min, Tensor) else min
            max = _cast(max, nd) if isinstance(max, Tensor) else max
        elif self._data.dtype.kind in "biu" and any(isinstance(v, float) for v in (min, max)):
            x = _cast(x, _dtype.default_float())
        return E.Clamp.apply(x, min, max)

    clip = clamp

    def clamp_min(self, min: Any) -> Tensor:
        return self.clamp(min=min)

    def clamp_max(self, max: Any) -> Tensor:
        return self.clamp(max=max)

    def maximum(self, other: Tensor) -> Tensor:
        return _binary(E.Maximum, self, other)

    def minimum(self, other: Tensor) -> Tensor:
        return _binary(E.Minimum, self, other)

    def where(self, condition: Any, other: Any) -> Tensor:
        """``x.where(cond, y)`` is ``where(cond, x, y)``."""
        return where(condition, self, other)

    def lerp(self, end: Tensor, weight: Any) -> Tensor:
        return self + weight * (end - self)

    def masked_fill(self, mask: Tensor, value: Any) -> Tensor:
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        mask = _operand(mask)
        if mask._data.dtype != np.bool_:
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {mask.dtype}")
        v = value if isinstance(value, Tensor) else tensor(value, dtype=self.dtype)
        return where(mask, v.to(self.dtype), self)

    def _floating(self) -> Tensor:
        """Integer inputs of float functions (exp, log, ...) become the default float."""
        return self if self._data.dtype.kind == "f" else _cast(self, _dtype.default_float())

    # -- in-place ops -----------------------------------------------------------------------
    def _inplace(self, compute: Callable[[], Tensor], ufunc: Any = None, arg: Any = None) -> Tensor:
        """Overwrite self with ``compute()``, as PyTorch's in-place ops do.

        When the graph is recorded, ``compute()`` runs out of place (its node's edge points at
        self's old history) and self takes over the new node: its history is "rebased". When
        it is not, the NumPy ufunc writes straight into the array (the optimizer's fast path).
        """
        recording = _grad_state.enabled and (
            self._requires_grad or (isinstance(arg, Tensor) and arg._requires_grad))
        if recording:
            if self.grad_fn is None and self._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            if self._base is not None and self._view_of is None:
                raise RuntimeError("ndgrad supports in-place operations on views made by "
                                   "indexing (x[i].add_(y), x[:, 0] += y) but not on other views "
                                   "(view, reshape, transpose, expand...) while recording the "
                                   "graph; use an out-of-place op or clone() the view first")
            out = compute()
            _keep_old_value(self, out)
            if self._view_of is not None:  # write through to the parent, then view it again
                parent, step = self._view_of
                parent._inplace(lambda: S.IndexPut.apply(parent, step, out), arg=out)
                out = S.GetItem.apply(parent, step)
            else:
                self._write(out)
            if out._requires_grad:
                self.grad_fn, self._output_nr = out.grad_fn, out._output_nr
                self._requires_grad = True
        elif ufunc is not None and not (isinstance(arg, Tensor)
                                        and arg._data.dtype != self._data.dtype):
            try:
                ufunc(self._data, _raw(arg), out=self._data, casting="same_kind")
            except TypeError:
                nd = _dtype.from_np(_result_dtype(E.Div if ufunc is np.true_divide else E.Add,
                                                  self, _operand(arg)))
                raise RuntimeError(f"result type {nd} can't be cast to the desired output type "
                                   f"{self.dtype}") from None
            except ValueError:  # NumPy's broadcasting errors
                shape = np.shape(_raw(arg))
                if not _broadcasts(self._data.shape, shape):
                    raise broadcast_error(self._data.shape, shape) from None
                full = list(np.broadcast_shapes(self._data.shape, shape))
                raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match "
                                   f"the broadcast shape {full}") from None
        else:
            with _no_grad():
                out = compute()
            self._write(out)
        self._bump_version()
        return self

    def _write(self, out: Tensor) -> None:
        src, dst = out._data, self._data
        if _dtype._category(src.dtype) > _dtype._category(dst.dtype):
            raise RuntimeError(f"result type {_dtype.from_np(src.dtype)} can't be cast to the "
                               f"desired output type {self.dtype}")
        try:
            np.copyto(dst, np.broadcast_to(src, dst.shape), casting="unsafe")
        except ValueError:
            raise RuntimeError(f"output with shape {list(dst.shape)} doesn't match the broadcast "
                               f"shape {list(src.shape)}") from None

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        if alpha != 1:
            return self._inplace(lambda: self.add(other, alpha=alpha))
        return self._inplace(lambda: self + other, np.add, other)

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        if alpha != 1:
            return self._inplace(lambda: self.sub(other, alpha=alpha))
        return self._inplace(lambda: self - other, np.subtract, other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace(lambda: self * other, np.multiply, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace(lambda: self / other, np.true_divide, other)

    def pow_(self, exponent: Any) -> Tensor:
        return self._inplace(lambda: self ** exponent, np.power, exponent)

    def neg_(self) -> Tensor:
        return self._inplace(lambda: -self)

    def exp_(self) -> Tensor:
        return self._inplace(self.exp)

    def sqrt_(self) -> Tensor:
        return self._inplace(self.sqrt)

    def abs_(self) -> Tensor:
        return self._inplace(self.abs)

    def relu_(self) -> Tensor:
        return self._inplace(self.relu)

    def sigmoid_(self) -> Tensor:
        return self._inplace(self.sigmoid)

    def tanh_(self) -> Tensor:
        return self._inplace(self.tanh)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace(lambda: self.clamp(min, max))

    clip_ = clamp_

    def masked_fill_(self, mask: Tensor, value: Any) -> Tensor:
        return self._inplace(lambda: self.masked_fill(mask, value), arg=value)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        return self._inplace(lambda: _full_like(self, value), arg=value)

    def copy_(self, src: Any) -> Tensor:
        src = _operand(src)
        return self._inplace(lambda: _full_like(self, src), arg=src)

    def addcmul_(self, t1: Tensor, t2: Tensor, value: Any = 1) -> Tensor:
        return self._inplace(lambda: self + value * t1 * t2)

    def addcdiv_(self, t1: Tensor, t2: Tensor, value: Any = 1) -> Tensor:
        return self._inplace(lambda: self + value * t1 / t2)

    def lerp_(self, end: Tensor, weight: Any) -> Tensor:
        return self._inplace(lambda: self.lerp(end, weight))

    def uniform_(self, a: _float = 0.0, b: _float = 1.0) -> Tensor:
        from ndgrad import random

        with _no_grad():
            self._data[...] = random.default_generator().uniform(a, b, self._data.shape)
        self._bump_version()
        return self

    def normal_(self, mean: _float = 0.0, std: _float = 1.0) -> Tensor:
        from ndgrad import random

        with _no_grad():
            self._data[...] = random.default_generator().normal(mean, std, self._data.shape)
        self._bump_version()
        return self

    def bernoulli_(self, p: _float = 0.5) -> Tensor:
        from ndgrad import random

        self._data[...] = random.default_generator().random(self._data.shape) < p
        self._bump_version()
        return self

    def multinomial(self, num_samples: _int, replacement: _bool = False, *,
                    generator: Any = None) -> Tensor:
        """Indices sampled from this tensor's rows of weights; see ndgrad.multinomial."""
        from ndgrad import random

        return random.multinomial(self, num_samples, replacement, generator=generator)

    def __setitem__(self, index: Any, value: Any) -> None:
        steps = S.plan_index(_np_index(index), self._data.shape)
        v = _operand(value, self)
        try:
            if _grad_state.enabled and (self._requires_grad or isinstance(v, Tensor)
                                        and v._requires_grad):
                self._inplace(lambda: S.IndexPut.apply(self, steps, v), arg=v)
            else:  # nothing to record: write straight into the array
                S.put(self._data, steps, _raw(v))
                self._bump_version()
        except IndexError as e:
            raise _index_error(e) from None
        except ValueError as e:  # NumPy's broadcasting error for a value of the wrong shape
            if not self._data.flags.writeable:  # an expand()ed view: elements share memory
                raise RuntimeError("unsupported operation: more than one element of the written-"
                                   "to tensor refers to a single memory location. Please clone() "
                                   "the tensor before performing the operation.") from None
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(np.shape(value))} "
                               f"cannot be broadcast to indexing result: {e}") from None

    # -- reductions -------------------------------------------------------------------------
    def sum(self, dim: Any = None, keepdim: _bool = False, dtype: Any = None) -> Tensor:
        """Sum over ``dim`` (all dims if None or empty); integers and bools sum to int64."""
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        return R.Sum.apply(x, R.reduce_dims(dim, x._data.ndim), keepdim)

    def sum_to_size(self, *size: Any) -> Tensor:
        """Sum over the dims along which ``size`` was broadcast to this tensor's shape."""
        shape = shape_arg(size)
        try:
            return sum_to(self, shape)
        except ValueError:
            raise RuntimeError(f"size {list(shape)} is not expandable to size "
                               f"{list(self.shape)}") from None

    def mean(self, dim: Any = None, keepdim: _bool = False, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind != "f":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                               f"a floating point or complex dtype. Got: {x.dtype}")
        dims = R.reduce_dims(dim, x._data.ndim)
        n = math.prod(x._data.shape[d] for d in dims)
        return x.sum(dims, keepdim) / n if n else x.sum(dims, keepdim) * float("nan")

    def prod(self, dim: _int | None = None, keepdim: _bool = False, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        if dim is None or x._data.ndim == 0:
            d = 0 if dim is None else wrap_dim(dim, 0)
            return R.Prod.apply(x.reshape(-1), d, False)
        return R.Prod.apply(x, wrap_dim(dim, x._data.ndim), keepdim)

    def amax(self, dim: Any = (), keepdim: _bool = False) -> Tensor:
        """Max over ``dim`` (all dims if empty); tied maxima share the gradient evenly."""
        return R.Amax.apply(self, R.reduce_dims(dim, self._data.ndim), keepdim)

    def amin(self, dim: Any = (), keepdim: _bool = False) -> Tensor:
        return R.Amin.apply(self, R.reduce_dims(dim, self._data.ndim), keepdim)

    def _max_min(self, name: str, dim: Any, keepdim: _bool) -> Any:
        if isinstance(dim, Tensor):
            return self.maximum(dim) if name == "max" else self.minimum(dim)
        if dim is None:
            if self._data.size == 0:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                                   f"input.numel() == 0. Specify the reduction dim with the "
                                   f"'dim' argument.")
            op = R.Amax if name == "max" else R.Amin
            return op.apply(self, tuple(range(self._data.ndim)), False, True)
        d = wrap_dim(dim, self._data.ndim)
        idx = self.argmax(d, keepdim=True) if name == "max" else self.argmin(d, keepdim=True)
        values = self.gather(d, idx) if self._data.ndim else self.clone()
        if not keepdim:
            values, idx = values.squeeze(d), idx.squeeze(d)
        return values_indices(values, idx)

    def max(self, dim: Any = None, keepdim: _bool = False) -> Any:
        """Full max (ties share the gradient), ``max(dim)`` -> (values, indices), or maximum."""
        return self._max_min("max", dim, keepdim)

    def min(self, dim: Any = None, keepdim: _bool = False) -> Any:
        return self._max_min("min", dim, keepdim)

    def argmax(self, dim: _int | None = None, keepdim: _bool = False) -> Tensor:
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim: _int | None = None, keepdim: _bool = False) -> Tensor:
        return self._arg(np.argmin, dim, keepdim)

    def _arg(self, fn: Any, dim: _int | None, keepdim: _bool) -> Tensor:
        if self._data.size == 0 and (dim is None or self._data.ndim == 0
                                     or self._data.shape[wrap_dim(dim, self._data.ndim)] == 0):
            raise IndexError(f"{fn.__name__}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0, or the reduction dim to have non-zero size.")
        if dim is None:
            out = np.asarray(fn(self._data), dtype=np.int64)
            return Tensor._make(out.reshape((1,) * self._data.ndim) if keepdim else out)
        d = wrap_dim(dim, self._data.ndim)
        if self._data.ndim == 0:
            return Tensor._make(np.zeros((), np.int64))
        return Tensor._make(np.asarray(fn(self._data, axis=d, keepdims=keepdim), np.int64))

    def var(self, dim: Any = None, unbiased: _bool | None = None, keepdim: _bool = False, *,
            correction: Any = None) -> Tensor:
        return self._var("var", dim, unbiased, keepdim, correction)

    def std(self, dim: Any = None, unbiased: _bool | None = None, keepdim: _bool = False, *,
            correction: Any = None) -> Tensor:
        return self._var("std", dim, unbiased, keepdim, correction).sqrt()

    def _var(self, name: str, dim: Any, unbiased: _bool | None, keepdim: _bool,
             correction: Any) -> Tensor:
        """Squared deviations from the mean, summed over (n - correction). With no degrees of
        freedom left the result is inf or nan, and torch warns (it does not raise)."""
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        dims = R.reduce_dims(dim, self._data.ndim)
        n = math.prod(self._data.shape[d] for d in dims)
        if n - correction <= 0:
            warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                          f"less than the reduction factor (input numel divided by output "
                          f"numel).", UserWarning, stacklevel=3)
        centered = self - self.mean(dims, keepdim=True)
        return (centered * centered).sum(dims, keepdim) / builtins.max(n - correction, 0)

    def logsumexp(self, dim: Any, keepdim: _bool = False) -> Tensor:
        """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) so exp never overflows."""
        x = self._floating()
        dims = wrap_dims(dim, x._data.ndim)
        m = x.detach().amax(dims, keepdim=True) if x._data.size else x.detach().sum(dims, True)
        m = m.masked_fill(m.isinf(), 0.0)
        out = (x - m).exp().sum(dims, keepdim=True).log() + m
        return out if keepdim else out.squeeze(dims)

    def cumsum(self, dim: _int, dtype: Any = None) -> Tensor:
        """Running sum along ``dim``; integers and bools accumulate in int64."""
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        return R.Cumsum.apply(x, wrap_dim(dim, x._data.ndim))

    def cumprod(self, dim: _int, dtype: Any = None) -> Tensor:
        """Running product along ``dim``; its gradient is exact where the input has zeros."""
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu" and dtype is None:
            x = x.to(_dtype.int64)
        return R.Cumprod.apply(x, wrap_dim(dim, x._data.ndim))

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: _bool = False,
             dtype: Any = None) -> Tensor:
        """Vector p-norm over ``dim`` (all dims if None): p = 2 ('fro'), 1, inf, -inf, 0, any."""
        if isinstance(p, str):
            if p != "fro":
                raise NotImplementedError(f"norm(p='{p}') is not supported by ndgrad; only "
                                          f"vector norms (p a number, or 'fro') are")
            p = 2
        elif not isinstance(p, int | float):
            raise TypeError(f"norm(): p must be a number or 'fro', got {type(p).__name__}")
        x = self._floating() if dtype is None else self.to(dtype)
        return R.Norm.apply(x, builtins.float(p), R.reduce_dims(dim, x._data.ndim), keepdim)

    def all(self, dim: Any = None, keepdim: _bool = False) -> Tensor:
        """True where every element is nonzero (uint8 in, uint8 out, as in torch)."""
        return self._all_any(np.all, dim, keepdim)

    def any(self, dim: Any = None, keepdim: _bool = False) -> Tensor:
        return self._all_any(np.any, dim, keepdim)

    def _all_any(self, fn: Any, dim: Any, keepdim: _bool) -> Tensor:
        out = np.asarray(fn(self._data, axis=wrap_dims(dim, self._data.ndim), keepdims=keepdim))
        return Tensor._make(out.astype(np.uint8) if self._data.dtype == np.uint8 else out)

    def count_nonzero(self, dim: Any = None) -> Tensor:
        return (self != 0).sum(dim)

    # -- shape ------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return S.Reshape.apply(self, _infer_shape(shape_arg(shape), self._data.size))

    def view(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], _dtype.dtype | str | type | np.dtype):
            raise NotImplementedError("view(dtype) is not supported by ndgrad; use to(dtype)")
        target = _infer_shape(shape_arg(shape), self._data.size)
        try:
            np.reshape(self._data, target, copy=False)
        except ValueError:
            raise RuntimeError("view size is not compatible with input tensor's size and stride "
                               "(at least one dimension spans across two contiguous subspaces). "
                               "Use .reshape(...) instead.") from None
        return S.Reshape.apply(self, target)

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self, start_dim: _int = 0, end_dim: _int = -1) -> Tensor:
        if self._data.ndim == 0:
            return self.reshape(1)
        s, e = wrap_dim(start_dim, self._data.ndim), wrap_dim(end_dim, self._data.ndim)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shp = self._data.shape
        return self.reshape(shp[:s] + (math.prod(shp[s:e + 1]),) + shp[e + 1:])

    def unflatten(self, dim: _int, sizes: Sequence[_int]) -> Tensor:
        d = wrap_dim(dim, self._data.ndim)
        shp = self._data.shape
        sizes = tuple(sizes)
        if -1 not in sizes and math.prod(sizes) != shp[d]:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                               f"size of dim {dim} ({shp[d]}) in the input tensor")
        sizes = _infer_shape(sizes, shp[d])
        return self.reshape(shp[:d] + tuple(sizes) + shp[d + 1:])

    def squeeze(self, dim: Any = None) -> Tensor:
        shp = self._data.shape
        dims = wrap_dims(dim, self._data.ndim)
        return self.reshape(tuple(s for i, s in enumerate(shp) if not (i in dims and s == 1)))

    def unsqueeze(self, dim: _int) -> Tensor:
        d = wrap_dim(dim, self._data.ndim + 1)
        shp = self._data.shape
        return self.reshape(shp[:d] + (1,) + shp[d:])

    def permute(self, *dims: Any) -> Tensor:
        dims_t = tuple(wrap_dim(d, self._data.ndim) for d in shape_arg(dims))
        if len(set(dims_t)) != len(dims_t):
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        if len(dims_t) != self._data.ndim:
            raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input "
                               f"does not match the length of the desired ordering of dimensions "
                               f"i.e. input.dim() = {self._data.ndim} is not equal to "
                               f"len(dims) = {len(dims_t)}")
        return S.Permute.apply(self, dims_t)

    def transpose(self, dim0: _int, dim1: _int) -> Tensor:
        n = self._data.ndim
        if n == 0:
            wrap_dim(dim0, n), wrap_dim(dim1, n)
            return self
        order = list(range(n))
        a, b = wrap_dim(dim0, n), wrap_dim(dim1, n)
        order[a], order[b] = order[b], order[a]
        return S.Permute.apply(self, tuple(order))

    swapaxes = transpose
    swapdims = transpose

    def t(self) -> Tensor:
        if self._data.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self._data.ndim}D")
        return self.transpose(0, 1) if self._data.ndim == 2 else self

    @property
    def T(self) -> Tensor:  # noqa: N802
        """All dims reversed; deprecated (torch warns, and so do we) unless ndim is 2."""
        n = self._data.ndim
        if n == 0:
            warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity "
                          "in these cases.", UserWarning, stacklevel=2)
        elif n != 2:
            warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their "
                          "shape is deprecated and it will throw an error in a future release. "
                          "Consider `x.mT` to transpose batches of matrices or `x.permute(*torch."
                          "arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
                          UserWarning, stacklevel=2)
        return S.Permute.apply(self, tuple(reversed(range(n))))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        if self._data.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self._data.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def movedim(self, source: Any, destination: Any) -> Tensor:
        n = self._data.ndim
        src, dst = (tuple(wrap_dim(d, n) for d in ((v,) if isinstance(v, int) else v))
                    for v in (source, destination))
        for name, v in (("source", src), ("destination", dst)):
            if len(set(v)) != len(v):
                raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(v)})")
        if n == 0:
            return self.view(())
        if len(src) != len(dst):
            raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)}"
                               f" dims) should contain the same number of dims as destination "
                               f"({list(dst)} dims)")
        order = [i for i in range(n) if i not in src]
        for d, s in sorted(zip(dst, src, strict=True)):
            order.insert(d, s)
        return S.Permute.apply(self, tuple(order))

    moveaxis = movedim

    def expand(self, *sizes: Any) -> Tensor:
        size = shape_arg(sizes)
        shp = self._data.shape
        if len(size) < len(shp):
            raise RuntimeError(f"expand(ndgrad.{self._data.dtype}{{{list(shp)}}}, size="
                               f"{list(size)}): the number of sizes provided ({len(size)}) must "
                               f"be greater or equal to the number of dimensions in the tensor "
                               f"({len(shp)})")
        lead = len(size) - len(shp)
        target = list(size)
        for i, s in enumerate(shp):
            want = size[lead + i]
            if want == -1:
                target[lead + i] = s
            elif s != want and s != 1:
                raise RuntimeError(f"The expanded size of the tensor ({want}) must match the "
                                   f"existing size ({s}) at non-singleton dimension {lead + i}.  "
                                   f"Target sizes: {list(size)}.  Tensor sizes: {list(shp)}")
        if any(s < 0 for s in target):
            d = next(i for i, s in enumerate(target) if s < 0)
            raise RuntimeError(f"The expanded size of the tensor ({size[d]}) isn't allowed in a "
                               f"leading, non-existing dimension {d}")
        if tuple(target) == shp:
            return self
        return S.Expand.apply(self, tuple(target))

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def broadcast_to(self, *shape: Any) -> Tensor:
        return self.expand(shape_arg(shape))

    def repeat(self, *sizes: Any) -> Tensor:
        reps = shape_arg(sizes)
        if len(reps) < self._data.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                               "number of dimensions of tensor")
        shp = (1,) * (len(reps) - self._data.ndim) + self._data.shape
        # (a, b) -> (1, a, 1, b) -> (ra, a, rb, b) -> (ra*a, rb*b)
        x = self.reshape(tuple(v for s in shp for v in (1, s)))
        x = x.expand(tuple(v for r, s in zip(reps, shp, strict=True) for v in (r, s)))
        return x.reshape(tuple(r * s for r, s in zip(reps, shp, strict=True)))

    def tile(self, *dims: Any) -> Tensor:
        reps = shape_arg(dims)
        reps = (1,) * (self._data.ndim - len(reps)) + reps
        return self.repeat(reps)

    def flip(self, *dims: Any) -> Tensor:
        return S.Flip.apply(self, wrap_dims(shape_arg(dims), self._data.ndim))

    def fliplr(self) -> Tensor:
        return self.flip(1)

    def flipud(self) -> Tensor:
        return self.flip(0)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        if dims is None:
            return S.Roll.apply(self.flatten(), shifts, 0).reshape(self.shape)
        dims_t = tuple(wrap_dim(d, self._data.ndim) for d in
                       ((dims,) if isinstance(dims, int) else dims))
        shifts_t = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        if len(shifts_t) != len(dims_t):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts_t)}, "
                               f"dims:{len(dims_t)}")
        return S.Roll.apply(self, shifts_t, dims_t)

    def split(self, split_size_or_sections: Any, dim: _int = 0) -> tuple[Tensor, ...]:
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d]
        if isinstance(split_size_or_sections, int):
            step = split_size_or_sections
            if step < 0:
                raise RuntimeError(f"split expects split_size be non-negative, but got "
                                   f"split_size={step}")
            if step == 0 and n:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                                   f"dimension size of {n}")
            sizes = [builtins.min(step, n - i) for i in range(0, n, step)] if n else [0]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                                   f"(input tensor's size at dimension {d}), but got "
                                   f"split_sizes={sizes}")
        out, start = [], 0
        for s in sizes:
            out.append(self.narrow(d, start, s))
            start += s
        return tuple(out)

    def chunk(self, chunks: _int, dim: _int = 0) -> tuple[Tensor, ...]:
        if chunks <= 0:
            raise RuntimeError("chunk expects `chunks` to be greater than 0")
        n = self._data.shape[wrap_dim(dim, self._data.ndim)]
        if n == 0:
            return self.split([0] * chunks, dim)
        return self.split(-(-n // chunks), dim)

    def tensor_split(self, sections: _int, dim: _int = 0) -> tuple[Tensor, ...]:
        n = self._data.shape[wrap_dim(dim, self._data.ndim)]
        q, r = divmod(n, sections)
        return self.split([q + 1] * r + [q] * (sections - r), dim)

    def unbind(self, dim: _int = 0) -> tuple[Tensor, ...]:
        d = wrap_dim(dim, self._data.ndim)
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self._data.shape[d]))

    def narrow(self, dim: _int, start: _int, length: _int) -> Tensor:
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d]
        if not -n <= start <= n:
            raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but "
                             f"got {start})")
        start = start + n if start < 0 else start
        if length < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        if start + length > n:
            raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                               f"({n}).")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def tril(self, diagonal: _int = 0) -> Tensor:
        return self._tri(np.tril, diagonal)

    def triu(self, diagonal: _int = 0) -> Tensor:
        return self._tri(np.triu, diagonal)

    def _tri(self, fn: Any, k: _int) -> Tensor:
        if self._data.ndim < 2:
            raise RuntimeError(f"{fn.__name__}: input tensor must have at least 2 dimensions")
        keep = fn(np.ones(self._data.shape[-2:], dtype=bool), k)
        return where(Tensor._make(keep), self, Tensor._make(np.zeros((), self._data.dtype)))

    def diagonal(self, offset: _int = 0, dim1: _int = 0, dim2: _int = 1) -> Tensor:
        """The diagonal of (dim1, dim2) as a view, moved to the last dim."""
        d1, d2 = wrap_dim(dim1, self._data.ndim), wrap_dim(dim2, self._data.ndim)
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        return S.Diagonal.apply(self, offset, d1, d2)

    # -- indexing ---------------------------------------------------------------------------
    def __getitem__(self, index: Any) -> Tensor:
        steps = S.plan_index(_np_index(index), self._data.shape)
        out = self
        try:
            for step in steps:
                parent, out = out, S.GetItem.apply(out, step)
                if out._base is not None:  # a view: in-place ops on it write through to parent
                    out._view_of = (parent, step)
        except IndexError as e:
            raise _index_error(e) from None
        return out

    def gather(self, dim: _int, index: Tensor) -> Tensor:
        """out[i][j] = self[index[i][j]][j] for dim 0 (and so on for other dims)."""
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "gather")
        if idx.ndim != self._data.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as input "
                               "tensor")
        if self._data.ndim == 0:
            return self.reshape(1).gather(0, Tensor._make(idx.reshape(1))).reshape(())
        _check_index(idx, self._data.shape, d, "self")
        return S.Gather.apply(self, d, idx)

    def scatter(self, dim: _int, index: Tensor, src: Any = None, value: Any = None,
                reduce: str | None = None) -> Tensor:
        """A copy of self with self[index[i][j]][j] = src[i][j] for dim 0 (and so on)."""
        if reduce is not None:
            if reduce != "add":
                raise NotImplementedError(f"scatter reduce='{reduce}' is not supported")
            return self.scatter_add(dim, index, src if src is not None else value)
        src = src if src is not None else value
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "scatter")
        if isinstance(src, Tensor):
            _check_scatter(idx, self, d, src)
            return S.Scatter.apply(self, d, idx, src.to(self.dtype))
        _check_scatter(idx, self, d, None)
        return S.Scatter.apply(self, d, idx, _raw(_operand(src)))

    def scatter_add(self, dim: _int, index: Tensor, src: Tensor) -> Tensor:
        """A copy of self with src[i][j] added at self[index[i][j]][j] (repeats accumulate)."""
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "scatter_add")
        _check_scatter(idx, self, d, src)
        return S.ScatterAdd.apply(self, d, idx, src.to(self.dtype))

    def scatter_(self, dim: _int, index: Tensor, src: Any = None, value: Any = None,
                 reduce: str | None = None) -> Tensor:
        return self._inplace(lambda: self.scatter(dim, index, src, value, reduce), arg=src)

    def scatter_add_(self, dim: _int, index: Tensor, src: Tensor) -> Tensor:
        return self._inplace(lambda: self.scatter_add(dim, index, src), arg=src)

    def index_select(self, dim: _int, index: Tensor) -> Tensor:
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "index_select")
        if idx.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        n = self._data.shape[d] if self._data.ndim else 1
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError("index out of range in self")
        if self._data.ndim == 0:
            return self.clone()
        return self[(slice(None),) * d + (idx.reshape(-1),)]

    def index_add(self, dim: _int, index: Tensor, source: Tensor, alpha: Any = 1) -> Tensor:
        """A copy of self with source's slices along dim added at ``index`` (repeats add up)."""
        d = wrap_dim(dim, self._data.ndim)
        idx = _index_array(index, "index_add").reshape(-1)
        shp, sshp = self._data.shape, tuple(source.shape)
        if len(sshp) != len(shp) or any(a != b for k, (a, b) in enumerate(zip(shp, sshp))
                                        if k != d):
            raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                               f"specified dimension. Got self.shape = {list(shp)} source.shape "
                               f"= {list(sshp)}")
        if idx.size != sshp[d]:
            raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                               f"source.size(dim): ({sshp[d]}), for dim: {d}")
        S.check_bounds(idx, shp[d], d)
        src = source * alpha if alpha != 1 else source
        steps = (slice(None),) * d + (idx,)
        return self + S.IndexAddZeros.apply(src.to(self.dtype), shp, steps)

    def index_add_(self, dim: _int, index: Tensor, source: Tensor, alpha: Any = 1) -> Tensor:
        return self._inplace(lambda: self.index_add(dim, index, source, alpha), arg=source)

    def index_fill(self, dim: _int, index: Tensor, value: Any) -> Tensor:
        d = wrap_dim(dim, self._data.ndim)
        idx = (slice(None),) * d + (_index_array(index, "index_fill").reshape(-1),)
        return S.IndexPut.apply(self, idx, _operand(value, self))

    def masked_select(self, mask: Tensor) -> Tensor:
        """The elements where ``mask`` (broadcast with self) is True, as a 1-D tensor."""
        try:
            shape = np.broadcast_shapes(self._data.shape, mask._data.shape)
        except ValueError:
            raise broadcast_error(mask._data.shape, self._data.shape) from None
        if mask._data.dtype != np.bool_:
            raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask.dtype}")
        return self.expand(shape)[mask.expand(shape)]

    def masked_scatter(self, mask: Tensor, source: Tensor) -> Tensor:
        m = mask.expand(self.shape)._data
        n = int(m.sum())
        return S.IndexPut.apply(self, (m,), source.reshape(-1)[:n])

    def sort(self, dim: _int = -1, descending: _bool = False, stable: _bool = False) -> Any:
        """(values, indices) sorted along dim; always stable; NaN sorts as the largest value."""
        d = wrap_dim(dim, self._data.ndim)
        if self._data.ndim == 0:
            return values_indices(self.clone(), Tensor._make(np.zeros((), np.int64)))
        key = self._data
        if descending:
            # stable descending: sort the reversed array ascending, reverse back, map indices
            n = key.shape[d]
            rev = np.flip(np.argsort(np.flip(key, d), axis=d, kind="stable"), d)
            order = (n - 1) - rev
        else:
            order = np.argsort(key, axis=d, kind="stable")
        idx = Tensor._make(order.astype(np.int64))
        return values_indices(self.gather(d, idx), idx)

    def argsort(self, dim: _int = -1, descending: _bool = False, stable: _bool = False) -> Tensor:
        return self.sort(dim, descending, stable).indices

    def topk(self, k: _int, dim: _int = -1, largest: _bool = True, sorted: _bool = True) -> Any:
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d] if self._data.ndim else 1
        if not 0 <= k <= n:
            raise RuntimeError(f"selected index k out of range (k={k}, size along dim {d} is {n})")
        if self._data.ndim == 0:
            return values_indices(self.clone(), Tensor._make(np.zeros((), np.int64)))
        idx = self.sort(d, descending=largest).indices.narrow(d, 0, k)
        return values_indices(self.gather(d, idx), idx)

    def kthvalue(self, k: _int, dim: _int = -1, keepdim: _bool = False) -> Any:
        """The k-th smallest element along dim (1-based), with its index."""
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d] if self._data.ndim else 1
        if not 1 <= k <= n:
            raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
        if self._data.ndim == 0:
            return values_indices(self.clone(), Tensor._make(np.zeros((), np.int64)))
        idx = self.sort(d).indices.narrow(d, k - 1, 1)
        v = self.gather(d, idx)
        return values_indices(v, idx) if keepdim else values_indices(v.squeeze(d), idx.squeeze(d))

    def nonzero(self, as_tuple: _bool = False) -> Any:
        nz = np.nonzero(self._data)
        if as_tuple:
            return tuple(Tensor._make(i.astype(np.int64)) for i in nz)
        return Tensor._make(np.stack(nz, axis=1).astype(np.int64))

    def unique(self, sorted: _bool = True, return_inverse: _bool = False,
               return_counts: _bool = False, dim: _int | None = None) -> Any:
        res: Any = np.unique(self._data, return_inverse=return_inverse,  # type: ignore[call-overload]
                             return_counts=return_counts)
        if not isinstance(res, tuple):
            return Tensor._make(res)
        out = [Tensor._make(res[0])]
        if return_inverse:
            out.append(Tensor._make(res[1].reshape(self._data.shape).astype(np.int64)))
        if return_counts:
            out.append(Tensor._make(res[-1].astype(np.int64)))
        return tuple(out)

    # -- linear algebra ---------------------------------------------------------------------
    def matmul(self, other: Tensor) -> Tensor:
        """torch.matmul: 1-D operands are promoted to matrices and the added dim removed;
        batch dims broadcast."""
        x, y = self, _operand(other)
        xs, ys = x._data.shape, y._data.shape
        if not xs or not ys:
            raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                               f"{len(xs)}D and {len(ys)}D")
        if x._data.dtype != y._data.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{x.dtype} != {y.dtype}")
        L.check_matmul(xs, ys)
        if len(xs) == 1 and len(ys) == 1:
            return (x * y).sum()
        if len(xs) == 1:
            return L.MatMul.apply(x.unsqueeze(0), y).squeeze(-2)
        if len(ys) == 1:
            return L.MatMul.apply(x, y.unsqueeze(-1)).squeeze(-1)
        return L.MatMul.apply(x, y)

    def mm(self, mat2: Tensor) -> Tensor:
        """Matrix product of two 2-D tensors (no broadcasting)."""
        if self._data.ndim != 2:
            raise RuntimeError(f"self must be a matrix (got a {self._data.ndim}-D tensor)")
        if mat2.ndim != 2:
            raise RuntimeError(f"mat2 must be a matrix (got a {mat2.ndim}-D tensor)")
        return self.matmul(mat2)

    def bmm(self, mat2: Tensor) -> Tensor:
        """Batched matrix product of (b, n, k) and (b, k, m) tensors (no broadcasting)."""
        if self._data.ndim != 3:
            raise RuntimeError(f"batch1 must be a 3D tensor (got a {self._data.ndim}-D tensor)")
        if mat2.ndim != 3:
            raise RuntimeError(f"batch2 must be a 3D tensor (got a {mat2.ndim}-D tensor)")
        (b, _, k), (b2, k2, _) = self._data.shape, mat2.shape
        if (b, k) != (b2, k2):
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{b}, {k}] but got: [{b2}, {k2}].")
        return self.matmul(mat2)

    def dot(self, other: Tensor) -> Tensor:
        """Inner product of two 1-D tensors of the same size and dtype."""
        if self._data.ndim != 1 or other.ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {self._data.ndim}D and "
                               f"{other.ndim}D tensors")
        if self._data.dtype != other._data.dtype:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{self.dtype} and {other.dtype}")
        return self.matmul(other)

    def outer(self, vec2: Tensor) -> Tensor:
        """(n,) and (m,) -> (n, m): out[i, j] = self[i] * vec2[j]."""
        for name, v in (("self", self), ("vec2", vec2)):
            if v.ndim != 1:
                raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    ger = outer

    def mv(self, vec: Tensor) -> Tensor:
        """(n, m) matrix times (m,) vector."""
        if self._data.ndim != 2 or vec.ndim != 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got {self._data.ndim}-D "
                               f"matrix and {vec.ndim}-D vector")
        return self.matmul(vec)

    # -- activations and nn helpers (bodies in nn.functional) -------------------------------
    def softmax(self, dim: _int, dtype: Any = None) -> Tensor:
        from ndgrad.nn import functional as F

        return F.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim: _int, dtype: Any = None) -> Tensor:
        from ndgrad.nn import functional as F

        return F.log_softmax(self, dim, dtype=dtype)


def to_args_dtype(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The dtype asked for by ``.to(...)``'s arguments (dtype, device, tensor), or None.

    A device other than the CPU raises: ndgrad runs on the CPU only."""
    target = kwargs.get("dtype")
    for a in (*args, kwargs.get("device")):
        if isinstance(a, Tensor):
            target = a.dtype
        elif isinstance(a, str | device):
            device(str(a))
        elif a is not None and not isinstance(a, bool):
            target = a
    return target


def _full_like(t: Tensor, value: Any) -> Tensor:
    """``value`` (a number or a broadcastable Tensor) in t's shape and dtype, for fill_/copy_.

    While recording, a Where node gives t's history a zero gradient (its values are all
    overwritten) and value its gradient; ``t * 0`` would turn inf or nan in t into nan."""
    v = value.to(t.dtype) if isinstance(value, Tensor) else Tensor._make(
        np.asarray(value, dtype=t._data.dtype))
    v = v.expand(t.shape)
    if _grad_state.enabled and (t._requires_grad or v._requires_grad):
        return where(Tensor._make(np.zeros(t._data.shape, np.bool_)), t, v)
    return v


def _broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> _bool:
    return all(m == n or m == 1 or n == 1 for m, n in zip(a[::-1], b[::-1], strict=False))


def _keep_old_value(t: Tensor, out: Tensor) -> None:
    """Nodes that an in-place op's out-of-place ``compute()`` just made, and that saved ``t``
    itself, get a copy of t's value from before the write (PyTorch saves ``original_self``).

    Only the few nodes next to ``out`` are looked at: compute() makes no more than that."""
    version, proxy = t._version, None
    level, seen = [out.grad_fn], set()
    for _ in range(4):
        below: list[Any] = []
        for node in level:
            if node is None or node is t.grad_fn or node in seen:
                continue
            seen.add(node)
            saved = node.__dict__.get("_saved")
            for k, s in enumerate(saved or ()):
                if s[0] == "in" and s[1] is t and s[2] == version:  # see function._pack
                    if proxy is None:
                        proxy = Tensor._make(t._data.copy())
                        proxy._requires_grad, proxy.grad_fn = t._requires_grad, t.grad_fn
                        proxy._output_nr = t._output_nr
                    saved[k] = ("in", proxy, 0)
            below.extend(n for n, _ in node.next_functions)
        level = below


def _operand(v: Any, like: Tensor | None = None) -> Any:
    """Tensors and Python numbers pass through; lists and arrays become tensors."""
    if isinstance(v, Tensor | int | float | bool):
        return v
    if isinstance(v, np.number | np.bool_):
        return v.item()
    return tensor(v, dtype=like.dtype if like is not None else None)


def _index_array(index: Any, op: str) -> np.ndarray:
    arr = index._data if isinstance(index, Tensor) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index (got {arr.dtype})")
    return arr


def _check_index(idx: np.ndarray, shape: tuple[int, ...], d: int, what: str) -> None:
    """gather/scatter: index no larger than ``shape`` apart from dim d, entries in range."""
    for k, (a, b) in enumerate(zip(idx.shape, shape)):
        if k != d and a > b:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(idx.shape)} to be no larger than {what} {list(shape)} "
                               f"apart from dimension {d}")
    S.check_bounds(idx, shape[d], d)


def _check_scatter(idx: np.ndarray, x: Tensor, d: int, src: Tensor | None) -> None:
    shp = x._data.shape
    if idx.ndim != len(shp):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if src is not None:
        if src.ndim != len(shp):
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               "tensor")
        if any(a > b for a, b in zip(idx.shape, src.shape)) or any(
                a > b for k, (a, b) in enumerate(zip(idx.shape, shp)) if k != d):
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                               f"{list(shp)} apart from dimension {d} and to be no larger size "
                               f"than src {list(src.shape)}")
    if len(shp):
        _check_index(idx, shp, d, "self")


def _infer_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    """Resolve one -1 in ``shape`` and check the element count, with torch's message."""
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel or any(s < 0 for s in shape):
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _autograd() -> Any:
    import ndgrad.autograd

    return ndgrad.autograd


def _engine() -> Any:
    """ndgrad.autograd.engine, imported on first use (it imports this module)."""
    global _ENGINE
    if _ENGINE is None:
        import ndgrad.autograd.engine

        _ENGINE = ndgrad.autograd.engine
    return _ENGINE


_ENGINE: Any = None


def _no_grad() -> Any:
    from ndgrad.autograd.grad_mode import no_grad

    return no_grad()


# -- functions of several tensors ------------------------------------------------------------
def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor from data (a copy). ``tensor([1, 2])`` is int64, ``tensor([1.])`` float32,
    and an ndarray keeps its dtype."""
    if isinstance(data, Tensor):
        data = data._data
    arr = _as_array(data, dtype)
    if isinstance(data, np.ndarray) and (arr is data or np.shares_memory(arr, data)):
        arr = arr.copy()
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """Elementwise ``input if condition else other``, broadcasting all three."""
    cond = _operand(condition)
    if input is None and other is None:
        return cond.nonzero(as_tuple=True)
    if cond._data.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {cond.dtype}")
    x, y = _operand(input), _operand(other)
    nd = _dtype.result_type(*(v for v in (x, y)))
    if not isinstance(x, Tensor):
        x = Tensor._make(np.asarray(x, dtype=nd))
    if not isinstance(y, Tensor):
        y = Tensor._make(np.asarray(y, dtype=nd))
    return E.Where.apply(cond, _cast(x, nd), _cast(y, nd))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (1-D empty tensors are skipped, as in torch)."""
    tensors = [_operand(t) for t in tensors]
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               f"concatenated")
    ts = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    d = wrap_dim(dim, ts[0].ndim)
    for i, t in enumerate(tensors):
        if t is not ts[0] and t.ndim == 1 and t.shape[0] == 0:
            continue
        if t.ndim != ts[0].ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got "
                               f"{ts[0].ndim} and {t.ndim}")
        if any(a != b for j, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if j != d):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected "
                               f"size {list(ts[0].shape)} but got size {list(t.shape)} for "
                               f"tensor number {i} in the list.")
    nd = (_dtype.result_type(*tensors) if len({t._data.dtype for t in tensors}) > 1
          else tensors[0]._data.dtype)
    return S.Cat.apply(*(_cast(t, nd) for t in tensors), dim=d)


concat = cat
concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    d = wrap_dim(dim, len(shape) + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation (differentiable): ``einsum('ij,jk->ik', a, b)``."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    ts = [_operand(o) for o in operands]
    nd = _dtype.result_type(*ts)
    return L.Einsum.apply(equation.replace(" ", ""), *(_cast(t, nd) for t in ts))


def einsum_backward(equation: str, grad: Tensor, xs: Sequence[Tensor],
                    needs: Sequence[bool]) -> list[Tensor | None]:
    """Each operand's gradient is an einsum of the gradient with the other operands."""
    return L.einsum_grads(equation, grad, xs, needs)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(t: Tensor) -> bool:
    return t.is_floating_point()


def broadcast_shapes(*shapes: Any) -> Size:
    """The shape that tensors of ``shapes`` broadcast to (torch's message if they don't)."""
    try:
        return Size(np.broadcast_shapes(*shapes))
    except ValueError:
        raise broadcast_error(*shapes) from None


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.expand(shape) for t in tensors)


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return input.log_softmax(dim, dtype=dtype)
