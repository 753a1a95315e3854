"""PyTorch's checkpoint formats, read and written without torch and without running code.

The zip format (``torch.save`` since 1.6) is a zip archive whose records sit under one folder
(``archive/``, or the file's stem)::

    archive/data.pkl     the object, pickled; each tensor is
                         torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
                         and each storage a persistent id
                         ('storage', torch.FloatStorage, key, location, numel)
    archive/data/<key>   that storage's raw bytes (numel elements)
    archive/byteorder    'little' or 'big' (absent in old files: little)
    archive/version      the format version

The legacy format (``torch.save`` before 1.6, or ``_use_new_zipfile_serialization=False``) is
pickles one after another (a magic number, a protocol version, system info, the object, the
list of storage keys), then each storage as an int64 element count and its bytes.

Tensors that share a storage in the file share memory and one version counter after loading,
as in torch: a view loads as a view (so a file cannot make ndgrad allocate more than the
storages it holds), and an in-place change to one is seen by the others and by autograd.
Writing does the same the other way: a base and its views go into one storage, each tensor at
its own offset and strides. (A view read back in ndgrad shares memory and version counter
with the others but is its own base here, so its ``storage_offset()`` reads 0.)
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.nn.module import Module
from ndgrad.nn.parameter import Parameter
from ndgrad.serialization._allowlist import (
    CorruptError,
    RefusedError,
    unsupported_global,
    user_global,
)
from ndgrad.serialization._pickler import Global, PersistentId, Pickler, Reduce
from ndgrad.serialization._unpickler import Unpickler
from ndgrad.tensor import Size, Tensor, device
from ndgrad.tensor.storage import storage_of

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# torch's storage classes and the dtype of their elements
_STORAGES = {
    "HalfStorage": "float16", "FloatStorage": "float32", "DoubleStorage": "float64",
    "BFloat16Storage": "bfloat16", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "CharStorage": "int8", "ShortStorage": "int16",
    "IntStorage": "int32", "LongStorage": "int64", "ByteStorage": "uint8", "BoolStorage": "bool",
    "QInt8Storage": "qint8", "QUInt8Storage": "quint8", "QInt32Storage": "qint32",
    "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4",
}
_TORCH_DTYPES = {
    *_STORAGES.values(), "uint16", "uint32", "uint64", "complex32", "float8_e4m3fn",
    "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
    "half", "float", "double", "short", "int", "long", "cfloat", "cdouble", "chalf",
    *(f"bits{n}" for n in ("1x8", "2x4", "4x2", "8", "16")),
    *(f"int{n}" for n in range(1, 8)), *(f"uint{n}" for n in range(1, 8)),
}
_UNSUPPORTED = {
    "_rebuild_qtensor": "quantized tensors", "_rebuild_sparse_tensor": "sparse tensors",
    "_rebuild_sparse_csr_tensor": "sparse tensors", "_rebuild_nested_tensor": "nested tensors",
    "_rebuild_meta_tensor_no_storage": "meta tensors (which hold no data)",
    "_rebuild_wrapper_subclass": "tensor subclasses",
    "_rebuild_device_tensor_from_numpy": "tensors saved from an accelerator (XLA, ...)",
    "_rebuild_device_tensor_from_cpu_tensor": "tensors saved from an accelerator (XLA, ...)",
}
_WHOLE_MODEL = ("A model saved whole (torch.save(model)) cannot be read without running its "
                "code: in PyTorch, save model.state_dict() and load that into the ndgrad model.")


def _ndgrad_dtype(name: str) -> Any:
    d = _dtype._NAMES.get(name)
    if d is None:
        raise RefusedError(f"the file holds torch.{name} data, which ndgrad has no dtype for; "
                           f"convert it in PyTorch first (e.g. tensor.float() for bfloat16)")
    return d


class _StorageType:
    """The file's ``torch.FloatStorage`` (or ``UntypedStorage``: bytes, dtype None)."""

    def __init__(self, name: str, dtype: Any) -> None:
        self.name, self.dtype = name, dtype
        self.itemsize = 1 if dtype is None else dtype.itemsize


class _Storage:
    """One storage record: its bytes, and the version counter every tensor viewing it shares
    (so an in-place change through one view is seen by autograd through the others)."""

    def __init__(self, raw: np.ndarray | None, big_endian: bool = False) -> None:
        self.raw = raw  # writable uint8 array; None in the legacy format's first pass
        self.big_endian = big_endian
        self.vc = [0]
        self.typed: dict[np.dtype, np.ndarray] = {}

    def elements(self, dtype: np.dtype) -> np.ndarray:
        """The bytes as a 1-D array of ``dtype``, in native byte order (swapped once)."""
        if dtype not in self.typed:
            assert self.raw is not None
            if self.raw.size % dtype.itemsize:
                raise CorruptError(f"a storage of {self.raw.size} bytes does not hold whole "
                                   f"{dtype} elements")
            if self.big_endian and self.typed:
                raise CorruptError("a big-endian storage read as two dtypes")
            typed = self.raw.view(dtype)
            if self.big_endian:
                typed.byteswap(inplace=True)
            self.typed[dtype] = typed
        return self.typed[dtype]


class _TypedStorage:
    """What a persistent id loads as: a storage, the dtype the file reads it as, its length."""

    def __init__(self, storage: _Storage, stype: _StorageType, numel: int) -> None:
        self.storage, self.dtype, self.numel = storage, stype.dtype, numel


_TENSOR, _PARAMETER = object(), object()  # the file's torch.Tensor / nn.Parameter classes


# -- building tensors (the functions a torch file may call) -----------------------------------
def _is_index(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


def _contiguous_strides(size: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(size):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _overlaps(size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """Whether two elements may share memory (a zero stride, as from expand)."""
    reach = 0
    for st, n in sorted((st, n) for n, st in zip(size, stride) if n > 1):
        if st <= reach:
            return True
        reach += (n - 1) * st
    return False


def _tensor(ts: Any, offset: Any, size: Any, stride: Any, dtype: Any) -> Tensor:
    """The tensor viewing ``ts`` at ``offset`` with ``size`` and ``stride`` (in elements)."""
    if not isinstance(ts, _TypedStorage):
        raise CorruptError("a tensor's storage is not a storage")
    if not (isinstance(size, tuple | list) and isinstance(stride, tuple | list)
            and len(size) == len(stride) and all(map(_is_index, (*size, *stride, offset)))):
        raise CorruptError(f"damaged tensor layout: size {size!r:.60}, stride {stride!r:.60}, "
                           f"offset {offset!r:.20}")
    if dtype is None:
        raise CorruptError("a tensor on an untyped storage needs a dtype")
    size, stride, npdtype = tuple(size), tuple(stride), dtype.np
    if ts.storage.raw is None:  # the legacy format's first pass: layout checked, no data yet
        return Tensor._make(np.empty(0, npdtype))
    elements = ts.storage.elements(npdtype)
    n = elements.size
    if math.prod(size) == 0:
        if offset > n:
            raise CorruptError(f"an empty tensor starts at element {offset} of a storage of {n}")
        view = elements[offset:offset].reshape(size)
    else:
        last = offset + sum((k - 1) * st for k, st in zip(size, stride))
        if last >= n:
            raise CorruptError(f"a tensor of size {list(size)}, stride {list(stride)} at offset "
                               f"{offset} reaches element {last}, but its storage holds {n}")
        if stride == _contiguous_strides(size):
            view = elements[offset:offset + math.prod(size)].reshape(size)
        else:
            view = np.lib.stride_tricks.as_strided(
                elements[offset:], size, [st * npdtype.itemsize for st in stride],
                writeable=not _overlaps(size, stride))
    t = Tensor._make(view)
    t._vc = ts.storage.vc
    return t


def _finish(t: Tensor, requires_grad: Any, hooks: Any, metadata: Any = None) -> Tensor:
    if not isinstance(requires_grad, bool) or not (hooks is None or isinstance(hooks, dict)):
        raise CorruptError("damaged tensor flags")
    if metadata:
        raise RefusedError(f"tensor metadata {sorted(metadata)!r:.80} that ndgrad cannot apply")
    if requires_grad:
        if t._data.dtype.kind != "f":
            raise CorruptError(f"a {t.dtype} tensor cannot require gradients")
        t.requires_grad = True
    return t


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any) -> Tensor:
    return _tensor(storage, offset, size, stride, getattr(storage, "dtype", None))


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any,
                       requires_grad: Any = False, hooks: Any = None,
                       metadata: Any = None) -> Tensor:
    t = _tensor(storage, offset, size, stride, getattr(storage, "dtype", None))
    return _finish(t, requires_grad, hooks, metadata)


def _rebuild_tensor_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
                       hooks: Any, dtype: Any, metadata: Any = None) -> Tensor:
    if not isinstance(dtype, _dtype.dtype):
        raise CorruptError("damaged tensor dtype")
    return _finish(_tensor(storage, offset, size, stride, dtype), requires_grad, hooks, metadata)


def _with_state(t: Tensor, state: Any) -> Tensor:
    """Python attributes saved with a tensor (never ones Tensor itself defines)."""
    if not state:
        return t
    if not isinstance(state, dict) or any(not isinstance(k, str) or hasattr(Tensor, k)
                                          for k in state):
        raise RefusedError("tensor state that would replace ndgrad's own attributes")
    for k, v in state.items():
        setattr(t, k, v)
    return t


def _rebuild_parameter(data: Any, requires_grad: Any, hooks: Any) -> Parameter:
    if not isinstance(data, Tensor) or not isinstance(requires_grad, bool):
        raise CorruptError("damaged nn.Parameter")
    return Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data: Any, requires_grad: Any, hooks: Any,
                                  state: Any) -> Parameter:
    return _with_state(_rebuild_parameter(data, requires_grad, hooks), state)  # type: ignore


_REBUILDERS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
               _rebuild_parameter_with_state)


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Tensor:
    """A tensor with Python attributes: ``func(*args)``, then the attributes."""
    if not any(func is f for f in _REBUILDERS) or not (new_type is _TENSOR or
                                                       new_type is _PARAMETER) \
            or not isinstance(args, tuple):
        raise RefusedError("a tensor subclass ndgrad does not have")
    t = func(*args)
    if new_type is _PARAMETER and not isinstance(t, Parameter):
        t = Parameter(t, t.requires_grad)
    return _with_state(t, state)


def _size(dims: Any = ()) -> Size:
    if not (isinstance(dims, tuple | list) and all(map(_is_index, dims))):
        raise CorruptError(f"damaged torch.Size {dims!r:.60}")
    return Size(dims)


def _device(kind: Any, index: Any = None) -> device:
    try:
        return device(kind, index)
    except (RuntimeError, TypeError, ValueError) as e:
        raise RefusedError(f"the file holds torch.device({kind!r:.20}): {e}") from None


def find_global(module: str, name: str) -> Any:
    """What a GLOBAL in a torch checkpoint may name, beyond plain values."""
    if module == "torch._utils" and name in {f.__name__ for f in _REBUILDERS}:
        return next(f for f in _REBUILDERS if f.__name__ == name)
    if module in ("torch._utils", "torch._tensor") and name in _UNSUPPORTED:
        raise RefusedError(f"the file holds {_UNSUPPORTED[name]}, which ndgrad does not have")
    if (module, name) == ("torch._tensor", "_rebuild_from_type_v2"):
        return _rebuild_from_type_v2
    if (module, name) in (("torch", "Tensor"), ("torch._tensor", "Tensor")):
        return _TENSOR
    if (module, name) in (("torch.nn.parameter", "Parameter"), ("torch.nn", "Parameter")):
        return _PARAMETER
    if (module, name) == ("torch", "Size"):
        return _size
    if (module, name) == ("torch", "device"):
        return _device
    if module in ("torch", "torch.cuda") and name in _STORAGES:
        return _StorageType(name, _ndgrad_dtype(_STORAGES[name]))
    if module in ("torch", "torch.storage") and name == "UntypedStorage":
        return _StorageType(name, None)
    if module == "torch" and name in _TORCH_DTYPES:
        return _ndgrad_dtype(name)
    obj = user_global(module, name)
    if obj is None:
        raise RefusedError(f"{unsupported_global(module, name)}. {_WHOLE_MODEL}")
    return obj


def _storage_id(pid: Any, length: int) -> tuple[_StorageType, str, int]:
    """Check a persistent id ('storage', storage type, key, location, numel[, view])."""
    if not (isinstance(pid, tuple) and len(pid) == length and pid[0] in ("storage", b"storage")):
        if isinstance(pid, tuple) and pid and pid[0] in ("module", b"module"):
            raise RefusedError(_WHOLE_MODEL)
        raise CorruptError(f"unexpected persistent id {pid!r:.80}")
    stype, key, location, numel = pid[1:5]
    if not (isinstance(stype, _StorageType) and isinstance(key, str)
            and isinstance(location, str) and _is_index(numel)):
        raise CorruptError(f"damaged storage id {pid!r:.80}")
    # location ('cpu', 'cuda:0', ...) is ignored: ndgrad loads everything onto the CPU
    return stype, key, numel


# -- reading ----------------------------------------------------------------------------------
def read_zip(fileobj: Any) -> Any:
    """The object in a zip-format checkpoint (``fileobj`` is a seekable binary file)."""
    try:
        zf = zipfile.ZipFile(fileobj)
        names = zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise CorruptError(f"not a readable zip archive (truncated?): {e}") from None
    pkls = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    prefix = pkls[0][:-len("data.pkl")] if len(pkls) == 1 else None
    if any(n.endswith("/constants.pkl") for n in names):
        raise RefusedError("it is a TorchScript archive (torch.jit.save), whose code ndgrad cannot "
                           "run; in PyTorch, torch.save(model.state_dict()) and load that")
    if prefix is None:
        raise CorruptError("a zip archive without one data.pkl: not a torch.save checkpoint")
    order = _record(zf, prefix + "byteorder") if prefix + "byteorder" in names else b"little"
    if order not in (b"little", b"big"):
        raise CorruptError(f"unknown byte order {order!r:.20}")
    storages: dict[str, _Storage] = {}

    def persistent_load(pid: Any) -> _TypedStorage:
        stype, key, numel = _storage_id(pid, 5)
        nbytes = numel * stype.itemsize
        if key not in storages:
            name = f"{prefix}data/{key}"
            try:
                size = zf.getinfo(name).file_size
            except KeyError:
                raise CorruptError(f"the storage record data/{key} is missing") from None
            if size != nbytes:
                raise CorruptError(f"the storage record data/{key} holds {size} bytes, but the "
                                   f"pickle says {numel} elements of {stype.itemsize} bytes "
                                   f"({nbytes})")
            raw = np.frombuffer(bytearray(_record(zf, name)), np.uint8)
            storages[key] = _Storage(raw, big_endian=order == b"big")
        storage = storages[key]
        assert storage.raw is not None
        if storage.raw.size != nbytes:
            raise CorruptError(f"storage {key} is read as {nbytes} bytes and as {storage.raw.size}")
        return _TypedStorage(storage, stype, numel)

    data = _record(zf, prefix + "data.pkl")
    return Unpickler(data, find_global=find_global, persistent_load=persistent_load).load()


def _record(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError) as e:  # CRC mismatch, truncation, unknown compression, encryption
        raise CorruptError(f"its record {name} cannot be read: {e}") from None


def read_legacy(data: bytes) -> Any:
    """The object in a legacy-format checkpoint. The storages come after the pickle but their
    dtypes are named inside it, so the pickle is read twice: first to learn the storages (and
    where the pickle ends), then, with their data, to build the tensors."""
    u = Unpickler(data)
    magic = u.load()
    if type(magic) is not int or magic != LEGACY_MAGIC:
        raise CorruptError("a pickle, but not a torch.save checkpoint (wrong magic number)")
    version = Unpickler(data, u.pos)
    number = version.load()
    if type(number) is not int or number != _LEGACY_PROTOCOL:
        raise CorruptError("an unknown version of torch's legacy format")
    info = Unpickler(data, version.pos)
    sys_info = info.load()
    if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
        raise RefusedError("it was written on a big-endian machine in torch's legacy format")
    start = info.pos
    found: dict[str, tuple[_StorageType, int]] = {}

    def note_storage(pid: Any) -> _TypedStorage:
        stype, key, numel = _storage_id(pid, 6)
        if pid[5] is not None:
            raise RefusedError("it holds storage views (torch < 1.0), which ndgrad cannot read")
        first_type, first_numel = found.setdefault(key, (stype, numel))
        if first_numel * first_type.itemsize != numel * stype.itemsize:
            raise CorruptError(f"storage {key} is named with two sizes")
        return _TypedStorage(_Storage(None), stype, numel)

    first = Unpickler(data, start, find_global=find_global, persistent_load=note_storage)
    first.load()
    keys_pickle = Unpickler(data, first.pos)
    keys = keys_pickle.load()
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)) \
            or set(keys) != set(found):
        raise CorruptError("its list of storages does not match the storages its pickle names")
    pos, storages = keys_pickle.pos, {}
    for key in keys:
        stype, numel = found[key]
        if pos + 8 > len(data):
            raise CorruptError(f"storage {key} is missing (truncated?)")
        (count,) = struct.unpack("<q", data[pos:pos + 8])
        nbytes = numel * stype.itemsize
        if count != numel or pos + 8 + nbytes > len(data):
            raise CorruptError(f"storage {key} should hold {numel} elements ({nbytes} bytes); the "
                               f"file says {count} and has {len(data) - pos - 8} bytes left")
        storages[key] = _Storage(np.frombuffer(bytearray(data[pos + 8:pos + 8 + nbytes]),
                                               np.uint8))
        pos += 8 + nbytes

    def load_storage(pid: Any) -> _TypedStorage:
        stype, key, numel = _storage_id(pid, 6)
        return _TypedStorage(storages[key], stype, numel)

    return Unpickler(data, start, find_global=find_global, persistent_load=load_storage).load()


# -- writing ----------------------------------------------------------------------------------
_STORAGE_OF = {dtype: name for name, dtype in _STORAGES.items()}
_NUMPY_TYPES = (np.ndarray, np.dtype)


class _Writer:
    """Turns ndgrad objects into what torch pickles, collecting each storage's bytes."""

    def __init__(self) -> None:
        self.storages: list[bytes] = []
        # (address, shape, strides, dtype) -> (key, the array, kept alive so its address stays)
        self.keys: dict[tuple[Any, ...], tuple[str, np.ndarray]] = {}

    def reduce(self, obj: Any) -> Reduce | Global | None:
        if isinstance(obj, Parameter):
            data = Tensor._make(obj._data)
            return Reduce(Global("torch._utils", "_rebuild_parameter"),
                          (data, obj.requires_grad, OrderedDict()))
        if isinstance(obj, Tensor):
            return self.tensor(obj)
        if isinstance(obj, _dtype.dtype):
            return Global("torch", obj.name)
        if isinstance(obj, Size):
            return Reduce(Global("torch", "Size"), (tuple(obj),))
        if isinstance(obj, device):
            return Reduce(Global("torch", "device"), ("cpu",))
        if any(obj is t for t in _NUMPY_TYPES):  # (== would compare arrays elementwise)
            return Global(obj.__module__, obj.__name__)
        if type(obj) is np.ndarray or isinstance(obj, np.generic | np.dtype):
            kind = obj.kind if isinstance(obj, np.dtype) else obj.dtype.kind
            if kind not in "biufc":
                raise TypeError(f"a numpy {type(obj).__name__} of dtype {obj}")
            reduced: Any = obj.__reduce__()  # as NumPy pickles itself
            func, args, *state = reduced
            return Reduce(Global(func.__module__, func.__name__), args, *state[:1])
        if isinstance(obj, Module):
            raise TypeError(f"a whole {type(obj).__name__} module: save its state_dict() "
                            f"instead (a module's code cannot be stored safely)")
        return None

    def tensor(self, t: Tensor) -> Reduce:
        arr = t._data
        if _STORAGE_OF.get(arr.dtype.name) is None:
            raise TypeError(f"a tensor of dtype {t.dtype}")
        flat, offset, stride = _place(t)
        # tensors over the same memory (a base and its views, x and x.detach(): each its own
        # array object) share one storage, each at its offset and strides, as torch saves them
        same = (flat.__array_interface__["data"][0], flat.size, flat.dtype.str)
        if same not in self.keys:
            self.keys[same] = (str(len(self.storages)), flat)
            self.storages.append(flat.astype(flat.dtype.newbyteorder("<"), copy=False)
                                 .tobytes(order="C"))
        key = self.keys[same][0]
        storage = PersistentId(("storage", Global("torch", _STORAGE_OF[arr.dtype.name]), key,
                                "cpu", flat.size))
        return Reduce(Global("torch._utils", "_rebuild_tensor_v2"),
                      (storage, offset, tuple(arr.shape), stride, t.requires_grad,
                       OrderedDict()))


def _place(t: Tensor) -> tuple[np.ndarray, int, tuple[int, ...]]:
    """(storage, offset, strides) to save t as: its base's storage and its place in it, or,
    where t cannot be placed there (negative strides), a contiguous copy of its own."""
    arr = t._data
    if all(st >= 0 for st in arr.strides) and (t._base is None or all(
            st >= 0 for st in t._base._data.strides)):
        try:
            _, flat, offset = storage_of(t)
            return flat, offset, tuple(st // arr.itemsize for st in arr.strides)
        except RuntimeError:  # not inside its base's memory: saved on its own
            pass
    return np.ascontiguousarray(arr).reshape(-1), 0, _contiguous_strides(arr.shape)


def dumps(obj: Any) -> bytes:
    """``obj`` as a zip-format checkpoint that ``torch.load(weights_only=True)`` reads."""
    writer = _Writer()
    pickled = Pickler(writer.reduce).dumps(obj)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        _write(zf, "archive/data.pkl", pickled)
        _write(zf, "archive/.format_version", b"1")
        _write(zf, "archive/.storage_alignment", b"64")
        _write(zf, "archive/byteorder", b"little")
        for key, data in enumerate(writer.storages):
            _write(zf, f"archive/data/{key}", data)
        _write(zf, "archive/version", b"3\n")
    return buf.getvalue()


def _write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """One uncompressed record whose data starts on a 64-byte boundary, as torch writes them
    (``torch.load(mmap=True)`` maps storages in place): the local header's extra field pads."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    assert zf.fp is not None
    pad = -(zf.fp.tell() + 30 + len(name.encode())) % 64
    if pad:
        pad += 64 if pad < 4 else 0  # an extra field is at least its 4-byte header
        info.extra = struct.pack("<HH", 0x4246, pad - 4) + b"Z" * (pad - 4)
    zf.writestr(info, data)
