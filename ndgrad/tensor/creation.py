"""Creation functions: tensor, zeros, ones, arange, randn, ... with PyTorch's signatures and
dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad import random as _random
from ndgrad._helpers import shape_arg
from ndgrad.tensor.base import check_device
from ndgrad.tensor.conversion import as_array
from ndgrad.tensor.core import Tensor


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor from data (a copy). ``tensor([1, 2])`` is int64, ``tensor([1.])`` float32,
    and an ndarray keeps its dtype."""
    check_device(device)
    if isinstance(data, Tensor):
        data = data._data
    arr = as_array(data, dtype)
    if isinstance(data, np.ndarray) and (arr is data or np.shares_memory(arr, data)):
        arr = arr.copy()
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def _finish(arr: np.ndarray, requires_grad: bool, dev: Any) -> Tensor:
    check_device(dev)  # only the CPU exists
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def _float_dtype(dtype: Any) -> np.dtype:
    return _dtype.to_np(dtype) if dtype is not None else _dtype.default_float()


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(shape_arg(size), _float_dtype(dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(shape_arg(size), _float_dtype(dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.empty(shape_arg(size), _float_dtype(dtype)), requires_grad, device)


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    nd = _dtype.to_np(dtype) if dtype is not None else _dtype.scalar_dtype(fill_value)
    return _finish(np.full(shape_arg((size,)), fill_value, nd), requires_grad, device)


def _like(t: Tensor, dtype: Any) -> np.dtype:
    return _dtype.to_np(dtype) if dtype is not None else t._data.dtype


def zeros_like(input: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(input._data.shape, _like(input, dtype)), requires_grad, device)


def ones_like(input: Tensor, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(input._data.shape, _like(input, dtype)), requires_grad, device)


def empty_like(input: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return _finish(np.empty(input._data.shape, _like(input, dtype)), requires_grad, device)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _finish(np.full(input._data.shape, fill_value, _like(input, dtype)), requires_grad,
                   device)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from start (default 0) up to end, exclusive; int64 unless a bound is a float."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, end, step))
        nd = _dtype.default_float() if floats else np.dtype(np.int64)
    else:
        nd = _dtype.to_np(dtype)
    n = max(int(np.ceil((end - start) / step)), 0)
    arr = (start + step * np.arange(n, dtype=np.float64)).astype(nd) if nd.kind == "f" \
        else np.arange(start, end, step).astype(nd)
    return _finish(arr, requires_grad, device)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    return _finish(np.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad,
                   device)


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.logspace(start, end, steps, base=base).astype(_float_dtype(dtype)),
                   requires_grad, device)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def _random_float_dtype(fn: str, dtype: Any) -> np.dtype:
    nd = _float_dtype(dtype)
    if nd.kind != "f":
        raise RuntimeError(f"{fn}() samples floating point numbers; it does not support dtype "
                           f"{_dtype.from_np(nd)} (use randint for integers)")
    return nd


def rand(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), from the global generator (see manual_seed)."""
    rng = generator or _random.default_generator()
    nd = _random_float_dtype("rand", dtype)
    arr = rng.random(shape_arg(size), dtype=nd if nd.itemsize >= 4 else np.float32).astype(nd)
    return _finish(arr, requires_grad, device)


def randn(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples, from the global generator (see manual_seed)."""
    rng = generator or _random.default_generator()
    nd = _random_float_dtype("randn", dtype)
    arr = rng.standard_normal(shape_arg(size), dtype=nd if nd.itemsize >= 4 else np.float32)
    return _finish(arr.astype(nd, copy=False), requires_grad, device)


def randint(low: int, high: int | None = None, size: Any = None, generator: Any = None,
            dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` starts at 0, as in torch."""
    if size is None:
        if high is None or isinstance(high, int):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    rng = generator or _random.default_generator()
    nd = _dtype.to_np(dtype) if dtype is not None else np.dtype(np.int64)
    return _finish(rng.integers(low, high, shape_arg((size,))).astype(nd), requires_grad, device)


def randperm(n: int, generator: Any = None, dtype: Any = None, device: Any = None) -> Tensor:
    rng = generator or _random.default_generator()
    nd = _dtype.to_np(dtype) if dtype is not None else np.dtype(np.int64)
    return _finish(rng.permutation(n).astype(nd), False, device)


def rand_like(input: Tensor, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return rand(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randn_like(input: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return randn(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randint_like(input: Tensor, low: int, high: int | None = None, dtype: Any = None) -> Tensor:
    return randint(low, high, input.shape, dtype=dtype or input.dtype)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``arr`` (its dtype kept)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    _dtype.from_np(arr.dtype)
    return Tensor._make(arr)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with an ndarray or Tensor when the dtype allows."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == _dtype.to_np(dtype)):
        return from_numpy(data)
    return tensor(data, dtype=dtype)
