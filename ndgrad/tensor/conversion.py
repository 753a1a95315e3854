"""Conversions: a tensor's attributes (shape, dtype, strides), its values as Python or NumPy
objects, and dtype/device changes (``to``, ``float()``, ``type()``). ``as_array`` is PyTorch's
dtype inference for data given to ``tensor()``: Python floats become the default float dtype,
Python ints int64.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import wrap_dim
from ndgrad.ops.elementwise import Cast, Clone
from ndgrad.tensor.base import _CPU, Size, TensorBase, _bool, _int, device


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn lists, numbers, arrays and Tensors into an array with PyTorch's dtype inference."""
    nd = _dtype.to_np(dtype) if dtype is not None else None
    if isinstance(data, TensorBase):
        arr = data._data
    elif isinstance(data, np.ndarray | np.generic):
        arr = np.asarray(data)
    else:
        if isinstance(data, Sequence) and any(isinstance(d, TensorBase) for d in _flat(data)):
            data = _nested_tensors_to_lists(data)
        arr = np.asarray(data)
        if nd is None and arr.dtype.kind == "f":
            arr = arr.astype(_dtype.default_float())  # Python floats become float32
        if nd is None and arr.dtype.kind == "c":
            arr = arr.astype(_dtype.default_complex())  # Python complex: complex64
        if nd is None and arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
    if arr.dtype.kind not in "biufc":
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
    if isinstance(data, TensorBase):
        return data._data
    if isinstance(data, list | tuple):
        return [_nested_tensors_to_lists(d) for d in data]
    return data


def cast(t: Any, nd: np.dtype) -> Any:
    """t in NumPy dtype nd (t itself if it has it): a recorded Cast when t requires grad."""
    if t._data.dtype == nd:
        return t
    if t._requires_grad:
        return Cast.apply(t, nd)
    return t._make(t._data.astype(nd))


def to_args_dtype(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The dtype asked for by ``.to(...)``'s arguments (dtype, device, tensor), or None.

    A device other than the CPU raises: ndgrad runs on the CPU only."""
    target = kwargs.get("dtype")
    for a in (*args, kwargs.get("device")):
        if isinstance(a, TensorBase):
            target = a.dtype
        elif isinstance(a, str | device):
            device(str(a))
        elif a is not None and not isinstance(a, bool):
            target = a
    return target


class ConversionMixin(TensorBase):
    """Attributes and conversions of a tensor."""

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

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """``to(dtype)``, ``to('cpu')``, ``to(other)``: returns self when nothing changes."""
        target = to_args_dtype(args, kwargs)
        if target is None:
            return self
        out = cast(self, _dtype.to_np(target)) if self._requires_grad else None
        if out is None:
            nd = _dtype.to_np(target)
            out = self if self._data.dtype == nd else self._make(self._data.astype(nd))
        if kwargs.get("copy") and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Any:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Any:
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

    def float(self) -> Any:
        return self.to(_dtype.float32)

    def double(self) -> Any:
        return self.to(_dtype.float64)

    def half(self) -> Any:
        return self.to(_dtype.float16)

    def long(self) -> Any:
        return self.to(_dtype.int64)

    def int(self) -> Any:
        return self.to(_dtype.int32)

    def bool(self) -> Any:
        return self.to(_dtype.bool_)

    def byte(self) -> Any:
        return self.to(_dtype.uint8)

    def type_as(self, other: Any) -> Any:
        return self.to(other.dtype)

    def clone(self) -> Any:
        return Clone.apply(self)

    def contiguous(self) -> Any:
        return self if self._data.flags.c_contiguous else self.clone()

    def _operand(self, v: Any, dtype: Any = None) -> Any:
        """An operand for an op with self: Tensors and Python numbers pass through, NumPy
        scalars become Python numbers, lists and arrays become tensors (of ``dtype``)."""
        if isinstance(v, TensorBase | int | float | bool):
            return v
        if isinstance(v, np.number | np.bool_):
            return v.item()
        return self._make(np.array(as_array(v, dtype)))
