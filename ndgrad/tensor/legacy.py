"""torch's legacy typed constructors: ``FloatTensor``, ``LongTensor``, ... one per dtype.

``FloatTensor([1, 2])`` makes a float32 tensor from data, ``FloatTensor(2, 3)`` one of that
shape (zero-filled; torch leaves it uninitialised), ``FloatTensor(t)`` shares a float32 ``t``'s
data. ``isinstance(x, FloatTensor)`` is true for float32 tensors, and ``x.type(LongTensor)``
converts. These are not subclasses of Tensor (neither are torch's): a metaclass gives them their
call and isinstance. The ``cuda`` ones (``ndgrad.cuda.FloatTensor``) exist for code that names
them behind an ``if``, and raise if called."""

from __future__ import annotations

from typing import Any

from ndgrad import _dtype
from ndgrad._device import check_device
from ndgrad.tensor.core import Tensor


class LegacyTensorType(type):
    """The metaclass: a legacy type is a dtype (and a device kind) that can make tensors."""

    dtype: _dtype.dtype
    is_cuda: bool

    def __instancecheck__(cls, obj: Any) -> bool:
        return not cls.is_cuda and isinstance(obj, Tensor) and obj._data.dtype == cls.dtype.np

    def __call__(cls, *args: Any, device: Any = None) -> Tensor:
        if cls.is_cuda:
            raise TypeError(f"type {cls.__module__}.{cls.__name__} not available: ndgrad runs on "
                            f"the CPU only (no CUDA here)")
        check_device(device)
        if len(args) == 1 and isinstance(args[0], Tensor) and args[0].dtype != cls.dtype:
            raise TypeError(f"expected {cls.dtype} (got {args[0].dtype}): {cls.__name__}(t) "
                            f"shares t's data, so t must have that dtype; use t.type("
                            f"ndgrad.{cls.__name__}) to convert")
        return Tensor(*args, dtype=cls.dtype)

    def __repr__(cls) -> str:
        return f"<class '{cls.__module__}.{cls.__name__}'>"


def _legacy(dt: _dtype.dtype, cuda: bool = False) -> LegacyTensorType:
    name = _dtype.LEGACY_NAMES[dt]
    return LegacyTensorType(name, (), {
        "dtype": dt, "is_cuda": cuda, "__module__": "ndgrad.cuda" if cuda else "ndgrad",
        "__doc__": f"The legacy constructor of {dt} tensors (see ndgrad/tensor/legacy.py)."})


FloatTensor = _legacy(_dtype.float32)
DoubleTensor = _legacy(_dtype.float64)
HalfTensor = _legacy(_dtype.float16)
LongTensor = _legacy(_dtype.int64)
IntTensor = _legacy(_dtype.int32)
ShortTensor = _legacy(_dtype.int16)
CharTensor = _legacy(_dtype.int8)
ByteTensor = _legacy(_dtype.uint8)
BoolTensor = _legacy(_dtype.bool_)

# ndgrad.cuda.FloatTensor, ...: names for `Tensor = torch.cuda.FloatTensor if cuda else ...`
cuda_types = {name: _legacy(dt, cuda=True) for dt, name in _dtype.LEGACY_NAMES.items()}

__all__ = ["BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor",
           "IntTensor", "LegacyTensorType", "LongTensor", "ShortTensor", "cuda_types"]
