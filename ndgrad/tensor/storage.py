"""Storage: the memory under a tensor, and the ops that choose a tensor's place in it
(``as_strided``, ``as_strided_``, ``resize_``, ``set_``), as torch's.

What the storage of a tensor is. A tensor is a NumPy array; a view (``_base`` set, see
``ndgrad/autograd/inplace.py``) shares the memory of its base, a tensor that is its own base.
The storage of a tensor is the memory its base's array spans, from its first element to its
last, in the order of memory: the base's elements, plus, for a base that is itself a strided
window of a larger NumPy array (``a[:, :2].detach()``), the gaps between them. Positions in it
count elements; ``storage_offset()`` (``conversion.py``) is where a tensor starts in it. This is
torch's storage whenever the base owns its memory, and for ``from_numpy``. A tensor that
shares memory without being a view (``detach()`` or ``.data`` of a view) is its own base here,
where torch would share one storage: its ``storage_offset()`` is 0 and positions before it are
not in its storage.

``as_strided`` views are ordinary views: their chain of view ops (``_view_fn``) is one
``AsStrided`` step from the base, with positions in its storage, so that in-place ops through
them, and the rebuilding of their history, work as for every other view.

A view's layout is defined relative to its base, so a base's own layout cannot change under its
views: ``as_strided_``, ``resize_`` and ``set_`` on a tensor that other tensors view raise
rather than leave those views pointing at the wrong elements. An ``as_strided_`` or ``set_`` of
a base turns it into a view of a new base that holds the storage (its old array and history,
or the source's storage): torch would keep it a non-view (``_base`` None).
"""

from __future__ import annotations

import copy
import math
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.autograd.function import NO_GRAD_VIEW
from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.autograd.inplace import check_inplace
from ndgrad.ops.shape import AsStrided, strided_view
from ndgrad.tensor.base import TensorBase

Geometry = tuple[tuple[int, ...], tuple[int, ...], int]  # (size, stride, offset) in elements


# -- where a tensor is in its storage ------------------------------------------------------------
def _elem_strides(a: np.ndarray) -> tuple[int, ...]:
    """a's strides in elements; raises for the NumPy layouts a storage cannot hold (negative or
    misaligned strides, made outside ndgrad). Size-1 dims take stride 0's place freely."""
    out = []
    for n, s in zip(a.shape, a.strides, strict=True):
        if n > 1 and (s < 0 or s % a.itemsize):
            raise RuntimeError(f"ndgrad cannot place a tensor with NumPy strides {a.strides} "
                               f"(negative or not a multiple of the item size) in a storage; "
                               f"clone() it first")
        out.append(s // a.itemsize)
    return tuple(out)


def _span(a: np.ndarray) -> int:
    """Elements from a's first to its last in memory (0 for an empty array)."""
    if a.size == 0:
        return 0
    return 1 + sum((n - 1) * s for n, s in zip(a.shape, _elem_strides(a), strict=True))


def _ptr(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


def storage_of(t: Any) -> tuple[Any, np.ndarray, int]:
    """(base, storage, offset): the tensor that owns t's storage, that storage as a 1-D array
    over its memory (a view), and where t starts in it."""
    root = t if t._base is None else t._base
    arr = root._data
    flat = np.lib.stride_tricks.as_strided(arr, (_span(arr),), (arr.itemsize,))
    delta = _ptr(t._data) - _ptr(arr)
    off = delta // arr.itemsize
    if t._data.size and (delta % arr.itemsize or off < 0 or off + _span(t._data) > flat.size):
        raise RuntimeError("ndgrad cannot place this tensor in its base's storage (its memory "
                           "is not inside its base's, or starts between two elements); "
                           "clone() it first")
    return root, flat, off


def geometry(t: Any, offset: int) -> Geometry:
    """t's (size, stride, offset) in its storage."""
    return tuple(t._data.shape), _elem_strides(t._data), offset


def _contiguous(size: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(size):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _ints(name: str, arg: str, v: Any) -> tuple[int, ...]:
    if not isinstance(v, Sequence):
        raise TypeError(f"{name}(): argument '{arg}' must be tuple of ints, not "
                        f"{type(v).__name__}")
    return tuple(int(s) for s in v)


def check_geometry(name: str, size: tuple[int, ...], stride: tuple[int, ...], offset: int,
                   storage_size: int, itemsize: int) -> None:
    """torch's checks of a geometry in a storage of ``storage_size`` elements: none of its
    elements may lie outside (a view never reads out of bounds)."""
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{name}: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and "
                           f"strides={list(stride)}")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    need = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if need > storage_size:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {offset}, and itemsize {itemsize} requiring a storage size "
                           f"of {need * itemsize} are out of bounds for storage of size "
                           f"{storage_size * itemsize}")


def unview(t: Any) -> Any:
    """``t``, a composite op's result that is a view of a temporary only it holds, as a
    tensor of its own, as torch's result is (no ``_base``: it may be written in place where
    a view made under no_grad may not)."""
    if t._base is not None:
        for name in ("_base", "_vc", "_view_fn", "_view_version", "_view_meta"):
            t.__dict__.pop(name, None)
    return t


def _make_view(v: Any, base: Any, geom: Geometry, meta: Any) -> None:
    """Make ``v``, whose array lies in base's storage at ``geom``, a view of ``base`` whose
    chain of view ops is one AsStrided step."""
    if base._vc is None:
        base._vc = [0]
    v._base, v._vc, v._view_version, v._view_meta = base, base._vc, base._vc[0], meta
    v._view_fn = ((AsStrided, (*geom, geometry(base, 0)), {}),)


# -- who else uses a tensor's memory -------------------------------------------------------------
def _ref_counts(t: Any) -> list[int]:
    """The reference counts of t's array and of each object in its chain of NumPy bases."""
    counts, obj = [], t._data
    while obj is not None:
        counts.append(sys.getrefcount(obj))
        obj = getattr(obj, "base", None)
    return counts


class _Holder:
    _data: np.ndarray


def _calibrate() -> list[int]:
    """The counts of an array held by one tensor only, whose base is held by that array only
    (what "nobody else" reads as in this Python)."""
    h = _Holder()
    h._data = np.empty(2)[1:]
    return _ref_counts(h)


_SOLE = _calibrate()


def sole_user(t: Any) -> bool:
    """True if nothing but t refers to its memory: no other array (a view, another tensor's
    array, the user's NumPy array) and no saved value. NumPy's own test before it lets
    ``ndarray.resize`` reallocate an array (``refcheck``)."""
    counts = _ref_counts(t)
    return counts[0] <= _SOLE[0] and all(c <= _SOLE[1] for c in counts[1:])


def _refuse_if_viewed(t: Any, name: str, sole: bool | None = None) -> None:
    """``name`` changes t's layout: refused when t is a base that other tensors may view
    (``sole``: sole_user(t), if the caller has it). A tensor never viewed has no counter."""
    if t._base is None and t._vc is not None and not (sole_user(t) if sole is None else sole):
        raise RuntimeError(f"{name}: ndgrad cannot change the layout of a tensor whose memory "
                           f"other tensors view (a view is defined relative to its base); "
                           f"clone() it first, or make the views after")


# -- the ops -------------------------------------------------------------------------------------
def as_strided(input: Any, size: Sequence[int], stride: Sequence[int],
               storage_offset: int | None = None) -> Any:
    """A view of input's storage with the given size, strides and offset, in elements (offset
    default: where input starts in it)."""
    size, stride = _ints("as_strided", "size", size), _ints("as_strided", "stride", stride)
    root, flat, off = storage_of(input)
    offset = off if storage_offset is None else int(storage_offset)
    check_geometry("as_strided", size, stride, offset, flat.size, input._data.itemsize)
    out = AsStrided.apply(input, size, stride, offset, geometry(input, off))
    meta = input._view_meta if input._base is not None else None
    _make_view(out, root, (size, stride, offset), NO_GRAD_VIEW if meta is None and
               not grad_state.enabled else meta)
    return out


def as_strided_copy(input: Any, size: Sequence[int], stride: Sequence[int],
                    storage_offset: int | None = None) -> Any:
    """``as_strided(...)`` copied into a new tensor."""
    return as_strided(input, size, stride, storage_offset).clone()


def resize_as_(input: Any, the_template: Any, memory_format: Any = None) -> Any:
    """``input.resize_(the_template.shape)``."""
    return input.resize_as_(the_template, memory_format=memory_format)


def _own_storage(t: Any) -> None:
    """Make ``t``, a base, a view of a new base that takes over its array (the storage) and
    history: the storage then outlives t's change of layout, as torch's does."""
    b = t._make(t._data)
    if t._vc is None:
        t._vc = [0]
    b._vc, b._grad_fn, b._output_nr = t._vc, t._grad_fn, t._output_nr
    b._requires_grad = t._grad_fn is not None  # a leaf's requires_grad stays with the leaf
    _make_view(t, b, geometry(t, 0), None)


def as_strided_(input: Any, size: Sequence[int], stride: Sequence[int],
                storage_offset: int | None = None) -> Any:
    """input itself made ``as_strided(size, stride, storage_offset)``: recorded, as an in-place
    view op, with its old history as the input."""
    if grad_state.enabled and input.requires_grad:
        check_inplace(input)
    if input._base is None:
        _refuse_if_viewed(input, "as_strided_")
        _own_storage(input)
    view = as_strided(input, size, stride, storage_offset)
    input._data = view._data
    if view._grad_fn is not None:
        input._grad_fn, input._output_nr = view._grad_fn, view._output_nr
    input._base, input._view_fn, input._view_meta = view._base, view._view_fn, view._view_meta
    input._bump_version()
    input._view_version = input._vc[0]
    return input


def as_strided_scatter(input: Any, src: Any, size: Sequence[int], stride: Sequence[int],
                       storage_offset: int | None = None) -> Any:
    """A copy of input whose ``as_strided(size, stride, storage_offset)`` view holds ``src``.
    As in torch, positions are those of the copy's own storage, whose offset is 0: a clone laid
    out as input when input is dense, else row-major."""
    if not isinstance(src, TensorBase):
        raise TypeError(f"as_strided_scatter(): argument 'src' must be Tensor, not "
                        f"{type(src).__name__}")
    order = _dense_order(input._data)
    if order is None or order == tuple(range(input._data.ndim)):
        out = input.clone()
    else:  # torch's clone keeps a dense layout: the storage is in input's memory order
        inverse = tuple(int(i) for i in np.argsort(order))
        out = input.permute(order).clone().permute(inverse)
    view = as_strided(out, size, stride, storage_offset)
    if tuple(view.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size "
                           f"= {list(src.shape)}, slice size = {list(view.shape)}")
    view.copy_(src)
    return out


def _dense_order(a: np.ndarray) -> tuple[int, ...] | None:
    """The dims from outermost to innermost in memory when ``a`` covers its memory without
    gaps or repeats (torch's non-overlapping and dense); None otherwise."""
    if a.size == 0:
        return None
    strides = _elem_strides(a)
    order = tuple(sorted(range(a.ndim), key=lambda d: -strides[d]))
    need = 1
    for d in reversed(order):
        if a.shape[d] != 1 and strides[d] != need:
            return None
        need *= a.shape[d]
    return order


def resize_(t: Any, size: tuple[int, ...]) -> Any:
    """t made a row-major tensor of ``size`` at its place in its storage, as torch's: its
    first elements in storage order are kept; a storage too small grows (new elements 0)."""
    if t.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    for n in size:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: "
                               f"{list(size)}")
    if t._data.shape == size and t._data.flags.c_contiguous:
        return t
    sole = t._base is None and sole_user(t)  # before ``flat``, which refers to t's array
    root, flat, off = storage_of(t)
    numel = math.prod(size)
    if off + numel <= flat.size:
        _refuse_if_viewed(t, "resize_", sole)
        t._data = flat[off:off + numel].reshape(size)
    elif t._base is not None:
        raise RuntimeError("Trying to resize storage that is not resizable: ndgrad cannot grow "
                           "the storage of a view (its base and other views share it, and "
                           "NumPy memory cannot grow under them, where torch reallocates it for "
                           "all); resize a clone() or the base")
    elif t.is_shared():  # growing would move it to private memory, away from the others
        raise RuntimeError("Trying to resize storage that is not resizable: this tensor is in "
                           "shared memory (share_memory_), which other processes map at its "
                           "size")
    elif not sole:
        raise RuntimeError("Trying to resize storage that is not resizable: other arrays or "
                           "tensors share this tensor's memory (a view, from_numpy's array, "
                           "detach()), and NumPy memory cannot grow under them; resize a "
                           "clone()")
    else:
        grown = np.zeros(numel, t._data.dtype)
        grown[:flat.size] = flat
        t._data = grown.reshape(size)
    t._bump_version()
    if t._base is not None:
        _make_view(t, root, (size, _contiguous(size), off), t._view_meta)
    return t


def set_(t: Any, source: Any = None, storage_offset: int = 0, size: Sequence[int] | None = None,
         stride: Sequence[int] | None = None) -> Any:
    """t made to share the storage of ``source`` (a tensor, in its geometry unless one is
    given, or a storage), or an empty storage (no source). Not recorded by autograd: refused
    with grad mode on and a tensor that requires grad (torch records a node whose backward is
    not implemented)."""
    if grad_state.enabled and (t.requires_grad or getattr(source, "requires_grad", False)):
        check_inplace(t)
        raise RuntimeError("set_: ndgrad does not record set_ for autograd (torch's derivative "
                           "of it is not implemented); call it under no_grad() or on detached "
                           "tensors")
    if t._grad_fn is not None:
        raise RuntimeError("set_: ndgrad cannot set the storage of a tensor that has a "
                           "history (a non-leaf); detach() it first")
    _refuse_if_viewed(t, "set_")
    nd = t._data.dtype
    t._bump_version()
    if source is None:
        t._data = np.empty(0, nd)
        t._base, t._view_fn, t._view_meta, t._view_version, t._vc = None, (), None, 0, None
        return t
    if isinstance(source, TensorBase):
        if source._data.dtype != nd:
            raise RuntimeError(f"Could not set tensor of type {_ctype(source._data.dtype)} to a "
                               f"tensor of type {_ctype(nd)}")
        root, flat, off = storage_of(source)
        vc = root._vc = root._vc if root._vc is not None else [0]
        if size is None:
            size, stride, storage_offset = tuple(source.shape), source.stride(), off
    elif isinstance(source, TypedStorage | UntypedStorage):
        if isinstance(source, TypedStorage) and source.dtype != _dtype.from_np(nd):
            raise RuntimeError(f"Expected a Storage of type {_ctype(nd)} or an UntypedStorage, "
                               f"but got type {_ctype(source.dtype.np)}")
        raw = source.untyped()._bytes
        flat, vc = raw[:raw.size - raw.size % nd.itemsize].view(nd), source.untyped()._vc
        if size is None:
            size = (flat.size,)
    else:
        raise TypeError(f"set_(): argument 'source' must be Tensor or Storage, not "
                        f"{type(source).__name__}")
    size = _ints("set_", "size", size)
    stride = _contiguous(size) if stride is None else _ints("set_", "stride", stride)
    offset = int(storage_offset)
    check_geometry("set_", size, stride, offset, flat.size, nd.itemsize)
    # a new base over the storage, not requiring grad: t's requires_grad stays its own
    b = t._make(flat)
    b._vc = vc if vc is not None else [0]
    geom_b = geometry(b, 0)
    t._data = strided_view(flat, size, stride, offset, geom_b)
    t._grad_fn, t._output_nr = None, 0
    # (a leaf that requires grad, set under no_grad: an in-place op on it with grad mode on
    # stays refused, as torch refuses one on a leaf)
    _make_view(t, b, (size, stride, offset), NO_GRAD_VIEW if t._requires_grad else None)
    return t


_NOT_COPIED = frozenset(("_fw_grads",))  # forward-AD tangents: torch's deepcopy drops them too
_LEAF_ONLY = ("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
              "protocol at the moment.  If you were attempting to deepcopy a module, this may be "
              "because of a torch.nn.utils.weight_norm usage, see "
              "https://github.com/pytorch/pytorch/pull/103001")


def deepcopy(t: Any, memo: dict[Any, Any]) -> Any:
    """``copy.deepcopy(t)``, as torch's: leaves only; the storage is copied once per deepcopy
    (``memo``), so tensors that shared it share the copy, each at its own offset and strides
    (a view's copy is a view of the copied storage); requires_grad, ``.grad`` and the Python
    attributes set on t are copied, hooks and history are not."""
    if t.grad_fn is not None:
        raise RuntimeError(_LEAF_ONLY)
    root, flat, off = storage_of(t)
    key = ("ndgrad.deepcopy storage", id(root))  # memo's own keys are ids: this one cannot clash
    holder = memo.get(key)  # the tensor that owns the copied storage
    new = object.__new__(type(t))
    if holder is None:
        memo.setdefault(id(memo), []).append(root)  # root's id stays its own while memo lives
        copied = np.lib.stride_tricks.as_strided(flat.copy(), root._data.shape,
                                                 root._data.strides)  # root's own layout
        holder = memo[key] = new if t is root else t._make(copied)
        holder._data, holder._vc = copied, [0]
    if t is root:
        if new is not holder:  # a view of root was copied first: another name for its memory
            new._data, new._vc = holder._data.view(), holder._vc
    else:
        geom = geometry(t, off)
        new._data = strided_view(holder._data, *geom, geometry(holder, 0))
        _make_view(new, holder, geom, t._view_meta)
    for name, value in t.__dict__.items():  # torch copies the Python attributes
        if name not in new.__dict__ and not hasattr(TensorBase, name) and \
                name not in _NOT_COPIED:
            setattr(new, name, copy.deepcopy(value, memo))
    new._inference, new._sparse_dim = t._inference, t._sparse_dim
    if t._requires_grad:
        new._requires_grad = True
    if t._grad is not None:
        new._grad = copy.deepcopy(t._grad, memo)
    memo[id(t)] = new
    return new


def is_set_to(t: Any, other: Any) -> bool:
    """True if t and other are the same elements of the same storage (same size, strides
    and offset)."""
    (_, fa, oa), (_, fb, ob) = storage_of(t), storage_of(other)
    return (_ptr(fa) == _ptr(fb) and fa.nbytes == fb.nbytes and oa == ob
            and t._data.dtype == other._data.dtype and t.shape == other.shape
            and t.stride() == other.stride())


_CTYPES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
           "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
           "bool": "bool"}


def _ctype(nd: np.dtype) -> str:
    return _CTYPES.get(nd.name, nd.name)


# -- storage objects -----------------------------------------------------------------------------
class UntypedStorage:
    """The bytes of a tensor's storage (torch.UntypedStorage), sharing its memory: what
    programs ask of it is ``data_ptr()``, to tell whether two tensors share memory, and its
    size in bytes. Storages of the same memory compare equal (torch returns the same object)."""

    def __init__(self, size: int = 0) -> None:
        """A new storage of ``size`` zero bytes."""
        self._bytes = np.zeros(int(size), np.uint8)
        self._vc: list[int] | None = None  # the version counter of the tensors over it

    @classmethod
    def _wrap(cls, data: np.ndarray, vc: list[int] | None) -> UntypedStorage:
        s = cls.__new__(cls)
        s._bytes, s._vc = data, vc
        return s

    @property
    def device(self) -> Any:
        from ndgrad._device import device
        return device("cpu")

    @property
    def is_cuda(self) -> bool:
        return False

    def data_ptr(self) -> int:
        return _ptr(self._bytes)

    def nbytes(self) -> int:
        return int(self._bytes.size)

    def size(self) -> int:
        """The number of bytes (an UntypedStorage's elements are bytes)."""
        return int(self._bytes.size)

    def element_size(self) -> int:
        return 1

    def __len__(self) -> int:
        return int(self._bytes.size)

    def untyped(self) -> UntypedStorage:
        return self

    def tolist(self) -> list[int]:
        return self._bytes.tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.tolist())

    def __getitem__(self, i: Any) -> Any:
        """A byte as an int, or a slice (step 1) as a storage sharing its memory."""
        if isinstance(i, slice):
            if i.step not in (None, 1):
                raise RuntimeError("slices with steps are not supported in UntypedStorage")
            return UntypedStorage._wrap(self._bytes[i], self._vc)
        return int(self._bytes[_index(i, self._bytes.size)])

    def __setitem__(self, i: Any, value: int) -> None:
        self._bytes[i if isinstance(i, slice) else _index(i, self._bytes.size)] = value

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, UntypedStorage) and self.data_ptr() == other.data_ptr()
                and self.nbytes() == other.nbytes())

    def __hash__(self) -> int:
        return hash((self.data_ptr(), self.nbytes()))

    def __repr__(self) -> str:
        body = "".join(f" {b}\n" for b in self._bytes.tolist())
        return f"{body}[ndgrad.storage.UntypedStorage(device=cpu) of size {self.size()}]"


class TypedStorage:
    """A tensor's storage seen as elements of its dtype (torch.TypedStorage, which
    ``Tensor.storage()`` returns, with torch's deprecation warning)."""

    def __init__(self, untyped: UntypedStorage, dtype: Any) -> None:
        self._untyped_storage, self.dtype = untyped, dtype

    def _elements(self) -> np.ndarray:
        raw, nd = self._untyped_storage._bytes, _dtype.to_np(self.dtype)
        return raw[:raw.size - raw.size % nd.itemsize].view(nd)

    @property
    def device(self) -> Any:
        return self._untyped_storage.device

    @property
    def is_cuda(self) -> bool:
        return False

    def untyped(self) -> UntypedStorage:
        return self._untyped_storage

    def data_ptr(self) -> int:
        return self._untyped_storage.data_ptr()

    def nbytes(self) -> int:
        return self._untyped_storage.nbytes()

    def element_size(self) -> int:
        return int(_dtype.to_np(self.dtype).itemsize)

    def size(self) -> int:
        """The number of elements."""
        return self.nbytes() // self.element_size()

    def __len__(self) -> int:
        return self.size()

    def tolist(self) -> list[Any]:
        return self._elements().tolist()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.tolist())

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        return self._elements()[_index(i, self.size())].item()

    def __setitem__(self, i: int, value: Any) -> None:
        self._elements()[_index(i, self.size())] = value

    def __repr__(self) -> str:
        body = "".join(f" {v}\n" for v in self.tolist())
        return (f"{body}[ndgrad.storage.TypedStorage(dtype={self.dtype}, device=cpu) of size "
                f"{self.size()}]")


def _index(i: int, n: int) -> int:
    if not -n <= i < n:
        raise IndexError(f"index {i} out of range for storage of size {n}")
    return i + n if i < 0 else i


def untyped_storage(t: Any) -> UntypedStorage:
    """The bytes of t's storage (shared memory; the same storage for t and its views)."""
    root, flat, _ = storage_of(t)
    if root._vc is None:
        root._vc = [0]
    return UntypedStorage._wrap(flat.view(np.uint8), root._vc)


_warned = False


def typed_storage(t: Any) -> TypedStorage:
    """t's storage as elements of t's dtype; warns once, as torch's ``Tensor.storage()``."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn("TypedStorage is deprecated. It will be removed in the future and "
                      "UntypedStorage will be the only storage class. This should only matter "
                      "to you if you are using storages directly.  To access UntypedStorage "
                      "directly, use tensor.untyped_storage() instead of tensor.storage()",
                      UserWarning, stacklevel=3)
    return TypedStorage(untyped_storage(t), t.dtype)


def is_storage(obj: Any) -> bool:
    """True if ``obj`` is a storage (UntypedStorage or TypedStorage)."""
    return isinstance(obj, UntypedStorage | TypedStorage)
