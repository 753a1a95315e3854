"""Conversions: a tensor's attributes (shape, dtype, strides), its values as Python or NumPy
objects, dtype/device/memory-layout changes (``to``, ``float()``, ``type()``, ``contiguous``),
and new tensors like this one (``new_zeros``, ``new_tensor``, ...). ``as_array`` is PyTorch's
dtype inference for data given to ``tensor()``: Python floats become the default float dtype,
Python ints int64.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._device import _CPU, check_device, device
from ndgrad._helpers import inverse_permutation, shape_arg, wrap_dim
from ndgrad.autograd.forward_ad import is_dual
from ndgrad.ops.elementwise import Cast, Clone, preserved_copy
from ndgrad.tensor.base import Size, TensorBase, _bool, _int


class memory_format:  # noqa: N801 - PyTorch's name
    """How a tensor's elements are laid out in memory: ``contiguous_format`` (row-major),
    ``channels_last`` (NHWC strides for an NCHW tensor), ``channels_last_3d`` (NDHWC), or
    ``preserve_format`` (keep the input's layout). A tensor's shape never changes with it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ndgrad.{self.name}"


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")
# the dims in memory order (outermost first): NCHW tensors stored as NHWC, NCDHW as NDHWC
_CHANNELS_LAST = {channels_last: (0, 2, 3, 1), channels_last_3d: (0, 2, 3, 4, 1)}


def _memory_order(fmt: Any, ndim: int) -> tuple[int, ...] | None:
    """The dims in memory order for a memory format, None for ``preserve_format``."""
    if not isinstance(fmt, memory_format):
        raise TypeError(f"memory_format must be an ndgrad.memory_format, not "
                        f"{type(fmt).__name__}")
    if fmt is preserve_format:
        return None
    if fmt is contiguous_format:
        return tuple(range(ndim))
    order = _CHANNELS_LAST[fmt]
    if ndim != len(order):
        raise RuntimeError(f"required rank {len(order)} tensor to use {fmt.name} format")
    return order



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
    """t in NumPy dtype nd (t itself if it has it): a recorded Cast when t requires grad and
    nd is a floating or complex type. An integer or bool result takes no gradient, so nothing
    is recorded and t's history is not read, as in torch (a multi-output view whose base
    changed in place may be cast to int)."""
    if t._data.dtype == nd:
        return t
    # (also a view made under no_grad of one that does; a dual tensor's tangent is cast too)
    if (t.requires_grad or is_dual(t)) and nd.kind in "fc":
        return Cast.apply(t, nd)
    return t._make(preserved_copy(t._data, nd))


def promoted(t: Any, nd: np.dtype) -> Any:
    """t cast to nd for an op's type promotion: the copy stands for t in the op, so it shares
    t's version counter, and an op that saves it refuses backward once t has changed in place,
    as torch's, which saves t itself (fuzz seeds 7636432, 7841473)."""
    out = cast(t, nd)
    if out is not t:
        if t._vc is None:
            t._vc = [0]
        out._vc = t._vc
    return out


def to_args_dtype(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The dtype asked for by ``.to(...)``'s arguments (dtype, device, tensor), or None.

    A device other than the CPU raises: ndgrad runs on the CPU only."""
    target = kwargs.get("dtype")
    for a in (*args, kwargs.get("device")):
        if isinstance(a, TensorBase):
            target = a.dtype
        elif isinstance(a, str | device | int) and not isinstance(a, bool):
            check_device(a)
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
        """False: ndgrad tensors live on the CPU (see ``ndgrad.cuda.is_available``)."""
        return False

    is_xpu = is_mps = is_meta = is_ipu = is_xla = is_mtia = is_vulkan = is_mkldnn = is_cuda

    @property
    def is_cpu(self) -> _bool:
        return True

    @property
    def is_sparse(self) -> _bool:
        """Whether the layout is sparse COO (``to_sparse()``; see ndgrad/tensor/sparse.py)."""
        return self._sparse_dim is not None

    @property
    def is_sparse_csr(self) -> _bool:
        return False

    is_quantized = is_nested = is_sparse_csr

    @property
    def layout(self) -> Any:
        return _dtype.strided if self._sparse_dim is None else _dtype.sparse_coo

    def is_signed(self) -> _bool:
        return self._data.dtype.kind in "if"

    def get_device(self) -> _int:
        """-1, torch's answer for a CPU tensor (a CUDA tensor gives its GPU's index)."""
        return -1

    def is_pinned(self, device: Any = None) -> _bool:
        return False

    def pin_memory(self, device: Any = None) -> Any:
        """Pinned memory is for copies to a GPU; there is none, so this raises as torch does
        without an accelerator (DataLoader's ``pin_memory=True`` is accepted and ignored)."""
        check_device("cuda")

    def share_memory_(self) -> Any:
        """Move this tensor's memory (a view's: its base's too) into shared memory, in place, and
        return self; a no-op if it is there. Processes forked afterwards, and processes sent the
        tensor through ndgrad.multiprocessing, then read and write the same memory (Hogwild
        training). Raises if another array uses the memory, which could not follow the move
        (see ndgrad/multiprocessing/_shm.py)."""
        from ndgrad.multiprocessing._shm import share_tensors  # (the package sits above tensor)

        share_tensors((self,))
        return self

    def is_shared(self) -> _bool:
        """Whether this tensor's memory is shared memory (``share_memory_``, or received from
        another process)."""
        from ndgrad.multiprocessing._shm import segment_of

        return segment_of(self._data) is not None

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

    def ndimension(self) -> _int:
        """dim(), by its older name."""
        return self._data.ndim

    @property
    def itemsize(self) -> _int:
        return int(self._data.itemsize)

    @property
    def nbytes(self) -> _int:
        """Bytes of this tensor's elements (numel * itemsize: a view counts its own)."""
        return int(self._data.size * self._data.itemsize)

    def is_same_size(self, other: Any) -> _bool:
        return tuple(self._data.shape) == tuple(other.shape)

    def storage_offset(self) -> _int:
        """Where this tensor starts in its base's memory, in elements (0 for a tensor that is
        not a view)."""
        root = self if self._base is None else self._base
        return (self.data_ptr() - root.data_ptr()) // self._data.itemsize

    def is_floating_point(self) -> _bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self, memory_format: Any = contiguous_format) -> _bool:
        """Whether the elements are stored densely in the order of ``memory_format``."""
        if memory_format is contiguous_format:
            return bool(self._data.flags.c_contiguous)
        if memory_format in _CHANNELS_LAST and self._data.ndim != len(_CHANNELS_LAST[
                memory_format]):
            return False
        order = _memory_order(memory_format, self._data.ndim)
        return bool(self._data.transpose(order).flags.c_contiguous)

    def stride(self, dim: _int | None = None) -> Any:
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[wrap_dim(dim, self._data.ndim)]

    def data_ptr(self) -> _int:
        return int(self._data.__array_interface__["data"][0])

    const_data_ptr = data_ptr

    def dim_order(self) -> tuple[_int, ...]:
        """The dims from the outermost in memory to the innermost (largest stride first; ties
        in dim order): (0, 1, 2, 3) for contiguous, (0, 2, 3, 1) for channels_last."""
        strides = self.stride()
        return tuple(sorted(range(self._data.ndim), key=lambda d: -strides[d]))

    def new(self, *args: Any, device: Any = None) -> Any:
        """The legacy constructor, in this tensor's dtype: ``x.new(2, 3)`` a tensor of that
        shape, ``x.new([1, 2])`` one of that data, ``x.new()`` an empty one (torch leaves a new
        shape uninitialised; ndgrad fills it with zeros)."""
        check_device(device)
        dtype = _dtype.from_np(self._data.dtype)
        if len(args) == 1 and isinstance(args[0], TensorBase) and args[0].dtype != dtype:
            raise TypeError(f"expected {dtype} (got {args[0].dtype}): x.new(t) shares t's "
                            f"data, so t must have x's dtype")
        return type(self)(*args, dtype=dtype)  # type: ignore[call-arg]  # (the Tensor class)

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

    def __dlpack__(self, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
                   copy: Any = None) -> Any:
        """This tensor's memory as a DLPack capsule (no copy): ``torch.from_dlpack``,
        ``np.from_dlpack``, JAX and CuPy read it. Not for a tensor that requires grad, whose
        gradients the other library could not follow (as torch)."""
        if self._requires_grad:
            raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
        return self._data.__dlpack__(stream=stream, max_version=max_version,
                                     dl_device=dl_device, copy=copy)

    def __dlpack_device__(self) -> Any:
        return self._data.__dlpack_device__()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """``to(dtype)``, ``to('cpu')``, ``to(other)``, ``to(memory_format=...)``: returns self
        when nothing changes."""
        fmt = kwargs.pop("memory_format", preserve_format)
        if fmt is not preserve_format:
            return self.to(*args, **kwargs)._laid_out(fmt)
        target = to_args_dtype(args, kwargs)
        if target is None:
            return self
        out = cast(self, _dtype.to_np(target))
        if kwargs.get("copy") and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Any:
        return self

    def cuda(self, device: Any = None, non_blocking: _bool = False, **kwargs: Any) -> Any:
        """Raises: there is no CUDA device (ndgrad runs on the CPU only)."""
        check_device("cuda" if device is None or isinstance(device, int) else device)

    def xpu(self, device: Any = None, non_blocking: _bool = False, **kwargs: Any) -> Any:
        check_device("xpu")

    def mps(self, device: Any = None, non_blocking: _bool = False, **kwargs: Any) -> Any:
        check_device("mps")

    def type(self, dtype: Any = None, non_blocking: _bool = False, **kwargs: Any) -> Any:
        """``x.type()`` names the type as torch does (``'ndgrad.FloatTensor'``); ``x.type(d)``
        converts to a dtype, a legacy type (``ndgrad.DoubleTensor``) or a type name such as
        ``'torch.DoubleTensor'``."""
        if dtype is None:
            return f"ndgrad.{_dtype.LEGACY_NAMES[self.dtype]}"
        legacy = getattr(dtype, "dtype", None) if isinstance(dtype, type) else None
        if isinstance(legacy, _dtype.dtype):  # a legacy type: ndgrad.FloatTensor
            if getattr(dtype, "is_cuda", False):
                check_device("cuda")
            dtype = legacy
        elif isinstance(dtype, str):
            prefix, _, name = dtype.rpartition(".")
            if prefix.endswith("cuda"):
                check_device("cuda")
            found = [d for d, n in _dtype.LEGACY_NAMES.items() if n == name]
            if prefix not in ("torch", "ndgrad") or not found:
                raise ValueError(f"invalid type: '{dtype}'")
            dtype = found[0]
        return self.to(dtype)

    def float(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.float32, memory_format=memory_format)

    def double(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.float64, memory_format=memory_format)

    def half(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.float16, memory_format=memory_format)

    def bfloat16(self, memory_format: Any = preserve_format) -> Any:
        """Raises: ndgrad has no bfloat16 tensors (see ndgrad.bfloat16)."""
        return self.to(_dtype.bfloat16, memory_format=memory_format)

    def cfloat(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.complex64, memory_format=memory_format)

    def cdouble(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.complex128, memory_format=memory_format)

    def long(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.int64, memory_format=memory_format)

    def int(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.int32, memory_format=memory_format)

    def short(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.int16, memory_format=memory_format)

    def char(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.int8, memory_format=memory_format)

    def bool(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.bool_, memory_format=memory_format)

    def byte(self, memory_format: Any = preserve_format) -> Any:
        return self.to(_dtype.uint8, memory_format=memory_format)

    def type_as(self, other: Any) -> Any:
        return self.to(other.dtype)

    def as_subclass(self, cls: Any) -> Any:
        """This tensor's data as an instance of ``cls`` (a Tensor subclass, whose ``__init__``
        does not run), as torch's: an alias (a view sharing memory and version counter) that
        stays in the graph, so gradients flow back to this tensor, and requires grad when it
        does. (torch's node is AliasBackward0; this alias is a same-shape view.)"""
        from ndgrad.tensor.core import Tensor

        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise TypeError("Creating a Tensor subclass from a class that does not inherit from "
                            "Tensor is not possible. Make sure your class inherits from Tensor.")
        out = self.view(self._data.shape)
        out.__class__ = cls
        return out

    def clone(self, memory_format: Any = preserve_format) -> Any:
        """A copy (differentiable); ``memory_format`` picks its layout in memory."""
        if memory_format is preserve_format:
            return Clone.apply(self, True)  # laid out as torch's (a permuted x stays permuted)
        return self._laid_out(memory_format, copy=True)

    def contiguous(self, memory_format: Any = contiguous_format) -> Any:
        """self if already laid out as ``memory_format`` (row-major by default), else a copy
        that is."""
        if memory_format in (contiguous_format, preserve_format) and (
                self._data.flags.c_contiguous):
            return self
        if memory_format is preserve_format:
            raise RuntimeError("preserve memory format is unsupported by the contiguous "
                               "operator")
        return self._laid_out(memory_format)

    def _laid_out(self, fmt: Any, copy: _bool = False) -> Any:
        """self (or a copy, if ``copy`` or needed) stored in the order of memory format ``fmt``:
        permuted into memory order, copied row-major there, and permuted back (a view)."""
        order = _memory_order(fmt, self._data.ndim)
        if order is None:  # preserve_format
            return Clone.apply(self) if copy else self
        if not copy and self.is_contiguous(fmt):
            return self
        if order == tuple(range(self._data.ndim)):
            return Clone.apply(self)  # a row-major copy
        stored = Clone.apply(self.permute(order))  # row-major in memory order
        return stored.permute(inverse_permutation(order))

    # -- new tensors like this one (its dtype unless given) -----------------------------------
    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None,
                   requires_grad: _bool = False) -> Any:
        """A new tensor holding a copy of ``data``, in this tensor's dtype unless given."""
        check_device(device)
        out = self._make(np.array(as_array(data, dtype if dtype is not None else self.dtype)))
        return out.requires_grad_() if requires_grad else out

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: _bool = False, **kwargs: Any) -> Any:
        return self._new_filled(size, 0, dtype, device, requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: _bool = False, **kwargs: Any) -> Any:
        return self._new_filled(size, 1, dtype, device, requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: _bool = False, **kwargs: Any) -> Any:
        """A new tensor of ``size`` (its values unset in torch; zeros here)."""
        return self._new_filled(size, 0, dtype, device, requires_grad)

    def new_empty_strided(self, size: Any, stride: Any, *, dtype: Any = None, device: Any = None,
                          requires_grad: _bool = False, **kwargs: Any) -> Any:
        return self._new_filled((size,), 0, dtype, device, requires_grad)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
                 requires_grad: _bool = False, **kwargs: Any) -> Any:
        return self._new_filled((size,), fill_value, dtype, device, requires_grad)

    def _new_filled(self, size: Any, value: Any, dtype: Any, device: Any,
                    requires_grad: _bool) -> Any:
        check_device(device)
        nd = self._data.dtype if dtype is None else _dtype.to_np(dtype)
        out = self._make(np.full(shape_arg(size) if size else (), value, nd))
        return out.requires_grad_() if requires_grad else out

    def _operand(self, v: Any, dtype: Any = None) -> Any:
        """An operand for an op with self: Tensors and Python numbers pass through, NumPy
        scalars become Python numbers, lists and arrays become tensors (of ``dtype``)."""
        if isinstance(v, TensorBase | int | float | bool):
            return v
        if isinstance(v, np.number | np.bool_):
            return v.item()
        return self._make(np.array(as_array(v, dtype)))
