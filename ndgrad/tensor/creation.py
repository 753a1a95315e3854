"""Creation functions: tensor, zeros, ones, arange, randn, ... with PyTorch's signatures and
dtypes."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad import random as _random
from ndgrad._device import check_device
from ndgrad._helpers import broadcast_error, inverse_permutation, shape_arg
from ndgrad.ops.random import Sample
from ndgrad.tensor.conversion import as_array
from ndgrad.tensor.core import Tensor
from ndgrad.tensor.out import factory_out, write_out


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


@factory_out
def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(shape_arg(size), _float_dtype(dtype)), requires_grad, device)


@factory_out
def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(shape_arg(size), _float_dtype(dtype)), requires_grad, device)


@factory_out
def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.empty(shape_arg(size), _float_dtype(dtype)), requires_grad, device)


def empty_strided(size: Any, stride: Any, *, dtype: Any = None, layout: Any = None,
                  device: Any = None, requires_grad: bool = False,
                  pin_memory: bool = False) -> Tensor:
    """An uninitialized tensor with the given element strides (a NumPy array can have them)."""
    shape, strides = shape_arg(size), shape_arg(stride)
    if len(shape) != len(strides):
        raise RuntimeError(f"mismatch in length of strides and shape: size has {len(shape)} "
                           f"dims, stride {len(strides)}")
    if any(st < 0 for st in strides):
        raise RuntimeError(f"empty_strided: negative strides are not supported, got {strides}")
    nd = _float_dtype(dtype)
    extent = 0 if 0 in shape else 1 + sum((n - 1) * st for n, st in zip(shape, strides))
    buffer = np.empty(extent, nd)
    arr = np.lib.stride_tricks.as_strided(buffer, shape, [st * nd.itemsize for st in strides])
    return _finish(arr, requires_grad, device)


def empty_permuted(size: Any, physical_layout: Any, *, dtype: Any = None, layout: Any = None,
                   device: Any = None, requires_grad: bool = False,
                   pin_memory: bool = False) -> Tensor:
    """An uninitialized dense tensor of ``size`` whose dims lie in memory in the order
    ``physical_layout`` (outermost first): ``(0, 2, 3, 1)`` is channels-last."""
    shape, order = shape_arg(size), shape_arg(physical_layout)
    if sorted(order) != list(range(len(shape))):
        raise RuntimeError(f"empty_permuted: physical_layout must be a permutation of the "
                           f"dims 0..{len(shape) - 1}, got {list(order)}")
    physical = np.empty([shape[d] for d in order], _float_dtype(dtype))
    return _finish(physical.transpose(inverse_permutation(order)), requires_grad, device)


def scalar_tensor(s: Any, *, dtype: Any = None, layout: Any = None, device: Any = None,
                  requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A 0-d tensor holding the number ``s``, of the default float dtype unless ``dtype``."""
    return _finish(np.array(s, _float_dtype(dtype)), requires_grad, device)


@factory_out
def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    nd = _dtype.to_np(dtype) if dtype is not None else _dtype.scalar_dtype(fill_value)
    return _finish(np.full(shape_arg((size,)), fill_value, nd), requires_grad, device)


def _like(t: Tensor, dtype: Any) -> np.dtype:
    return _dtype.to_np(dtype) if dtype is not None else t._data.dtype


def zeros_like(input: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, layout: Any = None, memory_format: Any = None
               ) -> Tensor:
    return _finish(np.zeros(input._data.shape, _like(input, dtype)), requires_grad, device)


def ones_like(input: Tensor, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, layout: Any = None, memory_format: Any = None
              ) -> Tensor:
    return _finish(np.ones(input._data.shape, _like(input, dtype)), requires_grad, device)


def empty_like(input: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, layout: Any = None, memory_format: Any = None
               ) -> Tensor:
    return _finish(np.empty(input._data.shape, _like(input, dtype)), requires_grad, device)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, layout: Any = None, memory_format: Any = None
              ) -> Tensor:
    return _finish(np.full(input._data.shape, fill_value, _like(input, dtype)), requires_grad,
                   device)


@factory_out
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


@factory_out
def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    return _finish(linspace_values(start, end, steps, _float_dtype(dtype)), requires_grad,
                   device)


def linspace_values(start: Any, end: Any, steps: int, nd: np.dtype) -> np.ndarray:
    """torch's CPU linspace: start + step * i on the first half, end - step * (steps-1-i) on
    the second, each a fused multiply-add rounded once in the dtype, so that float32 and
    float64 values are torch's to the bit (np.linspace's are off by an ulp at a third of the
    points: a grid_sample at the identity samples pixel centres, where such an ulp moves the
    bilinear gradient from one side to the other)."""
    if nd not in (np.float32, np.float64) or steps < 2 or isinstance(start, complex) or \
            isinstance(end, complex):
        return np.linspace(start, end, steps).astype(nd)
    s, e = nd.type(float(start)), nd.type(float(end))
    step = nd.type((e - s) / nd.type(steps - 1))
    i = np.arange(steps)
    k = np.where(i < steps // 2, i, i - (steps - 1))  # step * k from the nearer end
    return fused_multiply_add(np.full(steps, step, nd), k, np.where(i < steps // 2, s, e), nd)


def fused_multiply_add(a: Any, b: Any, c: Any, nd: np.dtype) -> np.ndarray:
    """a * b + c rounded once to float32 or float64 ``nd``, as a CPU's fma instruction (which
    torch's kernels use) rounds it; a, b, c are exact in float64."""
    a, b, c = (np.asarray(v, np.float64) for v in (a, b, c))
    prod, err = _two_product(a, b)  # prod + err is a * b exactly
    total, lost = _two_sum(c, prod)
    if nd == np.float32:  # round the float64 sum to odd, then once to float32
        lost = lost + err
        even = (total.view(np.int64) & 1) == 0
        toward = np.where(lost > 0, np.inf, -np.inf)
        return np.where(even & (lost != 0), np.nextafter(total, toward), total).astype(nd)
    return total + (lost + err)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a + b as total + lost exactly (Knuth's two-sum)."""
    total = a + b
    b_virtual = total - a
    return total, (a - (total - b_virtual)) + (b - b_virtual)


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a * b as an unevaluated sum prod + err of float64s (Dekker's product, Veltkamp's
    split): how fma's single rounding is had without fma."""
    def split(x: Any) -> tuple[Any, Any]:
        c = 134217729.0 * x  # 2**27 + 1
        hi = c - (c - x)
        return hi, x - hi
    prod = a * b
    (a_hi, a_lo), (b_hi, b_lo) = split(a), split(b)
    return prod, ((a_hi * b_hi - prod) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


@factory_out
def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.logspace(start, end, steps, base=base).astype(_float_dtype(dtype)),
                   requires_grad, device)


@factory_out
def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


# -- random sampling (see ndgrad/random.py for the generators) --------------------------------
def rng_of(generator: Any) -> np.random.Generator:
    """``generator`` (an ndgrad.Generator or any NumPy Generator), or the global one."""
    if generator is None:
        return _random.default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be an ndgrad.Generator, got {type(generator).__name__}")
    return generator


def _random_float_dtype(fn: str, dtype: Any) -> np.dtype:
    nd = _float_dtype(dtype)
    if nd.kind != "f":
        raise RuntimeError(f"{fn}() samples floating point numbers; it does not support dtype "
                           f"{_dtype.from_np(nd)} (use randint for integers)")
    return nd


def _sampled(arr: np.ndarray, out: Tensor | None, requires_grad: bool, dev: Any,
             fn: str) -> Tensor:
    """A factory's result: a new tensor, or written into ``out``."""
    if out is not None:
        check_device(dev)
        return write_out(out, Tensor._make(arr), fn, warn=False)
    return _finish(arr, requires_grad, dev)


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], nd: np.dtype) -> np.ndarray:
    """Uniform [0, 1) in nd. NumPy has no float16 sampler, and a float32 draw rounded to
    float16 could give 1.0: float16 takes one of its 2**11 evenly spaced values, as torch's."""
    if nd.itemsize < 4:
        return (rng.integers(0, 2**11, shape) * 2.0**-11).astype(nd)
    return rng.random(shape, dtype=nd)


def _normal(rng: np.random.Generator, shape: tuple[int, ...], nd: np.dtype) -> np.ndarray:
    wide = nd if nd.itemsize >= 4 else np.dtype(np.float32)
    return rng.standard_normal(shape, dtype=wide).astype(nd, copy=False)


def rand(*size: Any, generator: Any = None, out: Tensor | None = None, dtype: Any = None,
         layout: Any = None, device: Any = None, requires_grad: bool = False,
         pin_memory: bool = False) -> Tensor:
    """Uniform on [0, 1), from ``generator`` or the global generator (see manual_seed)."""
    nd = out._data.dtype if out is not None and dtype is None else dtype
    nd = _random_float_dtype("rand", nd)
    return _sampled(_uniform(rng_of(generator), shape_arg(size), nd), out, requires_grad, device,
                    "rand")


def randn(*size: Any, generator: Any = None, out: Tensor | None = None, dtype: Any = None,
          layout: Any = None, device: Any = None, requires_grad: bool = False,
          pin_memory: bool = False) -> Tensor:
    """Standard normal samples, from ``generator`` or the global generator."""
    nd = out._data.dtype if out is not None and dtype is None else dtype
    nd = _random_float_dtype("randn", nd)
    return _sampled(_normal(rng_of(generator), shape_arg(size), nd), out, requires_grad, device,
                    "randn")


def _randint_args(low: Any, high: Any, size: Any) -> tuple[int, int, Any]:
    """torch's two forms: randint(high, size) and randint(low, high, size)."""
    if size is None:
        if high is None or isinstance(high, int | np.integer):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    return int(low), int(high), size


def randint(low: int = 0, high: Any = None, size: Any = None, *, generator: Any = None,
            out: Tensor | None = None, dtype: Any = None, layout: Any = None, device: Any = None,
            requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` starts at 0, as in torch. int64 unless
    ``dtype`` says otherwise (a float dtype holds the integers as floats)."""
    low, high, size = _randint_args(low, high, size)
    default = out._data.dtype if out is not None else np.dtype(np.int64)
    nd = _dtype.to_np(dtype) if dtype is not None else default
    arr = rng_of(generator).integers(low, high, shape_arg((size,))).astype(nd)
    return _sampled(arr, out, requires_grad, device, "randint")


def randperm(n: int, *, generator: Any = None, out: Tensor | None = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False,
             pin_memory: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 (int64 unless ``dtype`` says otherwise)."""
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    default = out._data.dtype if out is not None else np.dtype(np.int64)
    nd = _dtype.to_np(dtype) if dtype is not None else default
    return _sampled(rng_of(generator).permutation(int(n)).astype(nd), out, requires_grad,
                    device, "randperm")


def rand_like(input: Tensor, *, generator: Any = None, dtype: Any = None, layout: Any = None,
              device: Any = None, requires_grad: bool = False, memory_format: Any = None
              ) -> Tensor:
    return rand(input.shape, generator=generator, dtype=dtype or input.dtype, device=device,
                requires_grad=requires_grad)


def randn_like(input: Tensor, *, generator: Any = None, dtype: Any = None, layout: Any = None,
               device: Any = None, requires_grad: bool = False, memory_format: Any = None
               ) -> Tensor:
    return randn(input.shape, generator=generator, dtype=dtype or input.dtype, device=device,
                 requires_grad=requires_grad)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, generator: Any = None,
                 dtype: Any = None, layout: Any = None, device: Any = None,
                 requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """Integers in [low, high) of ``input``'s shape and dtype; ``randint_like(x, high)``."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, generator=generator, dtype=dtype or input.dtype,
                   device=device, requires_grad=requires_grad)


def _param(v: Any, name: str) -> Tensor | float:
    """A distribution parameter: a float tensor, or a Python number."""
    if isinstance(v, Tensor):
        if v._data.dtype.kind != "f":
            raise RuntimeError(f"normal expects floating-point {name}, got {v.dtype}")
        return v
    return float(v)


def _check_std(std: Tensor | float) -> None:
    bad = (std._data < 0).any() if isinstance(std, Tensor) else std < 0
    if bad:
        raise RuntimeError("normal expects all elements of std >= 0.0"
                           + ("" if isinstance(std, Tensor) else f", but found std {std}"))


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None,
           out: Tensor | None = None, dtype: Any = None, layout: Any = None, device: Any = None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Normal samples, in torch's four forms: tensor ``mean`` and/or tensor ``std`` (broadcast
    together; the result has the tensor's dtype), or float ``mean`` and ``std`` with ``size``.
    The gradient with respect to a tensor mean or std is zero, as in torch."""
    m, sd = _param(mean, "mean"), _param(std, "std")
    _check_std(sd)
    rng = rng_of(generator)
    tensors = [v for v in (m, sd) if isinstance(v, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal() with a float mean and std needs a size: normal(mean, std, "
                            "size), or pass mean or std as a tensor")
        nd = out._data.dtype if out is not None and dtype is None else dtype
        nd = _random_float_dtype("normal", nd)
        arr = _normal(rng, shape_arg((size,)), nd) * nd.type(sd) + nd.type(m)
        return _sampled(arr, out, requires_grad, device, "normal")
    if size is not None:
        raise TypeError("normal() takes a size only with a float mean and std")
    try:
        shape = np.broadcast_shapes(*(t._data.shape for t in tensors))
    except ValueError:
        raise broadcast_error(*(t._data.shape for t in tensors)) from None
    nd = tensors[0]._data.dtype
    arr = (_normal(rng, shape, nd) * _raw(sd) + _raw(m)).astype(nd, copy=False)
    result = _from_params(arr, tensors)
    return result if out is None else write_out(out, result, "normal")


def _raw(v: Tensor | float) -> Any:
    return v._data if isinstance(v, Tensor) else v


def _from_params(sample: np.ndarray, params: list[Tensor]) -> Tensor:
    """The sample as a tensor in the graph of ``params`` (zero gradient; ops/random.py)."""
    if any(p._requires_grad for p in params):
        return Sample.apply(sample, *params)
    return Tensor._make(sample)


def bernoulli(input: Tensor, p: float | None = None, *, generator: Any = None,
              out: Tensor | None = None) -> Tensor:
    """1 with probability ``input`` (or the float ``p``) at each position, else 0, in
    ``input``'s dtype."""
    x = input._data
    if p is None:
        if x.dtype.kind != "f":
            raise NotImplementedError(f"bernoulli draws with floating-point probabilities, got "
                                      f"{input.dtype}")
        if not ((x >= 0) & (x <= 1)).all():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
        probs: Any = x
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        probs = p
    arr = (rng_of(generator).random(x.shape) < probs).astype(x.dtype)
    result = _from_params(arr, [input] if p is None else [])
    return result if out is None else write_out(out, result, "bernoulli")


def poisson(input: Tensor, generator: Any = None) -> Tensor:
    """Poisson counts with rates ``input`` (float), in ``input``'s dtype."""
    x = input._data
    if x.dtype.kind != "f":
        raise NotImplementedError(f"poisson draws with floating-point rates, got {input.dtype}")
    if not (x >= 0).all():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    arr = rng_of(generator).poisson(x).astype(x.dtype)
    return _from_params(arr, [input])


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``arr`` (its dtype kept), through a new array object: two
    tensors made from one array stay apart where backward identifies saved inputs by array."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    _dtype.from_np(arr.dtype)
    return Tensor._make(arr.view())


def frombuffer(buffer: Any, *, dtype: Any, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """A 1-D tensor over the memory of ``buffer`` (any object with the buffer protocol:
    bytearray, memoryview, mmap, array.array), skipping ``offset`` bytes and reading ``count``
    elements (all that fit when -1). It shares that memory: writes go both ways."""
    nd = _dtype.to_np(dtype)
    size = memoryview(buffer).nbytes
    if size == 0 or count == 0:
        raise ValueError(f"both buffer length ({size}) and count ({count}) must not be 0")
    if not 0 <= offset < size:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({size} bytes) minus 1")
    if count < 0 and (size - offset) % nd.itemsize:
        raise ValueError(f"buffer length ({size - offset} bytes) after offset ({offset} bytes) "
                         f"must be a multiple of element size ({nd.itemsize})")
    if count > 0 and offset + count * nd.itemsize > size:
        raise ValueError(f"requested buffer length ({count} * {nd.itemsize} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({size} bytes)")
    arr = np.frombuffer(buffer, nd, count, offset)
    if not arr.flags.writeable:
        warnings.warn("The given buffer is not writable: writing to this tensor changes memory "
                      "that the buffer promised not to change, or fails", UserWarning,
                      stacklevel=2)
    t = from_numpy(arr)
    return t.requires_grad_() if requires_grad else t


def from_file(filename: str, shared: bool | None = None, size: int = 0, *, dtype: Any = None,
              layout: Any = None, device: Any = None, pin_memory: bool = False) -> Tensor:
    """A 1-D tensor of ``size`` elements mapped from a file, as torch.from_file: with
    ``shared=True`` writes go to the file (created, or grown, to fit), otherwise to a private
    copy of the pages (the file must hold ``size`` elements already)."""
    check_device(device)
    nd = np.dtype(_dtype.default_float()) if dtype is None else _dtype.to_np(dtype)
    need = size * nd.itemsize
    if size == 0:
        return Tensor._make(np.empty(0, nd))
    if shared:
        if not os.path.exists(filename) or os.path.getsize(filename) < need:
            with open(filename, "ab") as f:
                f.truncate(need)
        return from_numpy(np.memmap(filename, nd, "r+", shape=(size,)))
    try:
        have = os.path.getsize(filename)
    except OSError as e:
        raise RuntimeError(f"unable to open file <{filename}> in read-only mode: "
                           f"{e.strerror} ({e.errno})") from None
    if have < need:
        raise RuntimeError(f"file <{filename}> size <{have}> is smaller than the required "
                           f"mapping size <{need}>")
    return from_numpy(np.memmap(filename, nd, "c", shape=(size,)))


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A tensor sharing the memory of another library's CPU tensor or array (torch, NumPy,
    JAX: anything with ``__dlpack__``), through the DLPack protocol, as torch.from_dlpack."""
    try:
        arr = np.from_dlpack(ext_tensor)
    except (BufferError, TypeError, RuntimeError) as e:
        raise RuntimeError(f"from_dlpack: cannot share the memory of this "
                           f"{type(ext_tensor).__name__} ({e}); ndgrad takes CPU tensors "
                           f"(call .detach() on one that requires grad, .cpu() on a GPU "
                           f"one)") from e
    return from_numpy(arr)


def asarray(obj: Any, *, dtype: Any = None, device: Any = None, copy: bool | None = None,
            requires_grad: bool | None = None) -> Tensor:
    """``obj`` as a tensor, sharing its memory when it can, as torch.asarray: a tensor comes
    back as itself (``copy=True`` or another ``dtype``: a copy, in the graph unless
    ``requires_grad=False``), a NumPy array or a buffer (bytearray, memoryview; read as
    ``dtype``, default the default dtype) is wrapped without a copy, anything else (numbers,
    lists) is copied. ``copy=False`` raises where sharing is impossible. ``requires_grad``
    given sets it on the result (on ``obj`` itself when that is returned)."""
    check_device(device)
    nd = None if dtype is None else _dtype.to_np(dtype)
    if isinstance(obj, (bytes, bytearray, memoryview)):  # frombuffer's checks and warning
        obj = frombuffer(obj, dtype=_dtype.default_float() if nd is None else nd)._data
    if isinstance(obj, Tensor | np.ndarray):
        have = obj._data.dtype if isinstance(obj, Tensor) else obj.dtype
        if nd is not None and nd != have and copy is False:
            raise ValueError(f"can't alias tensor with dtype {_dtype.from_np(have)} into dtype "
                             f"{_dtype.from_np(nd)}: copy=False asks for shared memory")
        if isinstance(obj, Tensor) and not copy and (nd is None or nd == have):
            if requires_grad is not None and obj.is_leaf:
                obj.requires_grad_(requires_grad)
            return obj.detach() if requires_grad is False and obj.requires_grad else obj
        if isinstance(obj, Tensor) and obj.requires_grad and requires_grad is not False:
            return obj.clone() if nd is None or nd == have else obj.to(nd)  # in the graph
        arr = obj._data if isinstance(obj, Tensor) else obj
        if copy or (nd is not None and nd != have):
            arr = arr.astype(have if nd is None else nd, copy=True)
        out = from_numpy(arr)
    elif copy is False:
        raise ValueError(f"can't alias arbitrary sequence into a tensor ({type(obj).__name__} "
                         f"has no memory to share); leave copy unset")
    else:
        out = tensor(obj, dtype=dtype)
    return out.requires_grad_() if requires_grad else out


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with an ndarray or Tensor when the dtype allows."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == _dtype.to_np(dtype)):
        return from_numpy(data)
    return tensor(data, dtype=dtype)
