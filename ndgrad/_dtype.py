"""dtypes and PyTorch's type-promotion rules, in one place.

Internally every array is a NumPy array and every dtype a ``np.dtype``; the ``dtype`` objects
below are the public face (``ndgrad.float32``) and print like PyTorch's.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np


class dtype:  # noqa: N801 - named like torch.dtype
    """A tensor element type: ``ndgrad.float32``, ``ndgrad.int64``, ..."""

    __slots__ = ("name", "np")

    def __init__(self, name: str, np_dtype: Any = "same") -> None:
        self.name = name
        self.np = np.dtype(name) if np_dtype == "same" else np_dtype

    @property
    def is_floating_point(self) -> bool:
        return self.np is None or self.np.kind == "f"  # (bfloat16 has no NumPy dtype)

    @property
    def is_signed(self) -> bool:
        return self.np is None or self.np.kind in "fic"

    @property
    def is_complex(self) -> bool:
        return self.np is not None and self.np.kind == "c"

    def to_real(self) -> dtype:
        """The real dtype of a complex one (complex64 -> float32); real dtypes as they are."""
        return self if self.np is None else from_np(to_real(self.np))

    def to_complex(self) -> dtype:
        """The complex dtype of a floating one (float32 -> complex64)."""
        return from_np(to_complex(self.np))

    @property
    def itemsize(self) -> builtins.int:  # (int is ndgrad.int32 further down this module)
        return 2 if self.np is None else self.np.itemsize

    def __repr__(self) -> str:
        return f"ndgrad.{self.name}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dtype):
            return self.name == other.name
        if isinstance(other, np.dtype):
            return self.np == other
        return NotImplemented

    def __hash__(self) -> builtins.int:
        return hash(self.np) if self.np is not None else hash(self.name)

    def __reduce__(self) -> Any:
        return (_by_name, (self.name,))


class layout:  # noqa: N801 - named like torch.layout
    """How a tensor's elements are stored: ``strided`` (dense), or ``sparse_coo`` (the
    coordinates of the nonzeros; ndgrad keeps the values dense too, see tensor/sparse.py)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ndgrad.{self.name}"


strided = layout("strided")
sparse_coo = layout("sparse_coo")


float16 = dtype("float16")
float32 = dtype("float32")
float64 = dtype("float64")
int8 = dtype("int8")
int16 = dtype("int16")
int32 = dtype("int32")
int64 = dtype("int64")
uint8 = dtype("uint8")
bool_ = dtype("bool")
complex64 = dtype("complex64")
complex128 = dtype("complex128")
half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
cfloat, cdouble = complex64, complex128

# bfloat16 exists so that model configs and dtype tables naming it load, and comparisons with it
# work; a tensor of it cannot be made. NumPy has no bfloat16: ml_dtypes (JAX's NumPy extension)
# adds the type but no BLAS for it, so matmuls would run in a slow generic loop and every op
# would need checking in it; torch's own CPU bfloat16 saves memory and speed, which a NumPy
# emulation would not. float32 (or float16 for memory) is the honest alternative.
bfloat16 = dtype("bfloat16", None)

_ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool_, complex64,
        complex128)
_FROM_NP = {d.np: d for d in _ALL}
_NAMES = {d.name: d for d in _ALL}
_NAMES.update(half=float16, float=float32, double=float64, long=int64, int=int32, short=int16,
              cfloat=complex64, cdouble=complex128)

# torch's legacy tensor type names (FloatTensor, ...) for each dtype
LEGACY_NAMES = {float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor",
                int64: "LongTensor", int32: "IntTensor", int16: "ShortTensor",
                int8: "CharTensor", uint8: "ByteTensor", bool_: "BoolTensor"}


class finfo:  # noqa: N801 - named like torch.finfo
    """The limits of a floating-point dtype, as ``torch.finfo``: ``bits``, ``eps`` (1.0's gap to
    the next number), ``max``, ``min`` (= -max), ``tiny`` = ``smallest_normal``, ``resolution``
    (10 ** -decimal digits) and ``dtype`` (its name). A complex dtype gives its real part's;
    no argument, the default dtype's. Read from NumPy's finfo (bfloat16's are written out)."""

    def __init__(self, type: dtype | None = None) -> None:  # noqa: A002 - torch's name
        d = get_default_dtype() if type is None else _check_info_arg("finfo", type)
        if d is bfloat16:  # 8 exponent bits like float32, 7 mantissa bits
            self.bits, self.eps, self.max = 16, 2.0 ** -7, builtins.float.fromhex("0x1.fep127")
            self.tiny, precision, name = 2.0 ** -126, 2, "bfloat16"
        else:
            if d.np.kind not in "fc":
                raise TypeError(f"finfo() requires a floating point input type, got {d}; use "
                                f"iinfo for integer types")
            info = np.finfo(d.np)
            self.bits, precision, name = info.bits, info.precision, info.dtype.name
            self.eps, self.max, self.tiny = (builtins.float(v) for v in (info.eps, info.max,
                                                                         info.tiny))
        self.min, self.smallest_normal = -self.max, self.tiny
        self.resolution = 10.0 ** -precision
        self.dtype = name

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801 - named like torch.iinfo
    """The limits of an integer dtype, as ``torch.iinfo``: ``bits``, ``min``, ``max`` and
    ``dtype`` (its name)."""

    def __init__(self, type: dtype) -> None:  # noqa: A002 - torch's name
        d = _check_info_arg("iinfo", type)
        if d is bool_:
            raise TypeError("ndgrad.bool is not supported by iinfo")
        if d.np is None or d.np.kind not in "iu":
            raise TypeError(f"iinfo() requires an integer input type, got {d}; use finfo for "
                            f"floating point types")
        info = np.iinfo(d.np)
        self.bits, self.dtype = info.bits, d.name
        self.min, self.max = builtins.int(info.min), builtins.int(info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"  # as torch


def _check_info_arg(fn: str, d: Any) -> dtype:
    if not isinstance(d, dtype):
        raise TypeError(f"{fn}(): argument 'type' must be ndgrad.dtype, not "
                        f"{builtins.type(d).__name__}")
    return d


def _by_name(name: str) -> dtype:
    """The dtype named ``name`` (for pickling: dtypes are singletons)."""
    return bfloat16 if name == "bfloat16" else _NAMES[name]

_default_float = np.dtype(np.float32)


def get_default_dtype() -> dtype:
    """The dtype of floating-point tensors made from Python floats (float32 unless changed)."""
    return _FROM_NP[_default_float]


def set_default_dtype(d: Any) -> None:
    """Set the dtype of new floating-point tensors; only float32 and float64 are allowed."""
    global _default_float
    nd = to_np(d)
    if nd.kind != "f" or nd.itemsize < 4:
        raise TypeError(f"only floating-point types float32/float64 are supported as the default "
                        f"type, got {from_np(nd)}")
    _default_float = nd


def default_float() -> np.dtype:
    return _default_float


def default_complex() -> np.dtype:
    """The dtype of Python complex numbers: complex64, or complex128 if the default float is
    float64 (torch's default complex type follows the default float)."""
    return to_complex(_default_float)


def from_np(nd: np.dtype) -> dtype:
    """The public dtype for a NumPy dtype."""
    try:
        return _FROM_NP[nd]
    except KeyError:
        raise TypeError(f"ndgrad does not support NumPy dtype {nd}; supported: "
                        f"{', '.join(d.name for d in _ALL)}") from None


def to_np(d: Any) -> np.dtype:
    """Accept ``ndgrad.float32``, ``np.float32``, ``'float32'``, or Python ``float/int/bool``."""
    if isinstance(d, dtype):
        if d.np is None:
            raise TypeError(f"ndgrad has no {d.name} tensors (NumPy has no {d.name} type); use "
                            f"float32, or float16 to save memory")
        return d.np
    if d is builtins.float:
        return np.dtype(np.float64)  # torch: tensor.to(float) is float64
    if d is builtins.int:
        return np.dtype(np.int64)
    if d is builtins.bool:
        return np.dtype(np.bool_)
    if d is builtins.complex:
        return np.dtype(np.complex128)
    if isinstance(d, str) and d in _NAMES:
        return _NAMES[d].np
    if isinstance(d, str) and d.removeprefix("torch.") == "bfloat16":
        return to_np(bfloat16)
    legacy = getattr(d, "dtype", None) if isinstance(d, type) else None
    if isinstance(legacy, dtype):
        return to_np(legacy)  # a legacy tensor type: ndgrad.FloatTensor
    nd = np.dtype(d)
    from_np(nd)  # raises for unsupported types
    return nd



_SCALAR_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char",
                 "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte",
                 "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def scalar_name(nd: np.dtype) -> str:
    """torch's name for a dtype in error messages (``Float``, ``Long``, ...)."""
    return _SCALAR_NAMES.get(np.dtype(nd).name, str(nd))


def to_complex(nd: np.dtype) -> np.dtype:
    """float32 (and float16) -> complex64, float64 -> complex128; complex as it is."""
    if nd.kind == "c":
        return nd
    return np.dtype(np.complex128 if nd == np.float64 else np.complex64)


def to_real(nd: np.dtype) -> np.dtype:
    """complex64 -> float32, complex128 -> float64; real dtypes as they are."""
    return np.empty(0, nd).real.dtype


def _category(nd: np.dtype) -> builtins.int:
    # bool < integer < floating < complex
    return {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}[nd.kind]


def can_cast(from_: dtype, to: dtype) -> builtins.bool:
    """torch.can_cast: whether type promotion may cast ``from_`` to ``to``, i.e. ``to`` is of
    the same or a higher category (bool < integer < floating < complex); size does not count."""
    for name, d in (("from_", from_), ("to", to)):
        if not isinstance(d, dtype):
            raise TypeError(f"can_cast(): argument '{name}' must be ndgrad.dtype, not "
                            f"{builtins.type(d).__name__}")
    rank = [2 if d.np is None else _category(d.np) for d in (from_, to)]  # bfloat16: floating
    return rank[0] <= rank[1]


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's promotion of two tensor dtypes (int64 + float16 is float16, unlike NumPy;
    complex64 + float64 is complex128, as NumPy)."""
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb and min(ca, cb) < 2:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    # torch's combine_categories: a lower-priority operand only matters if its category is
    # higher; a complex one keeps a floating higher's precision (float32 * 1j is complex64)
    if higher is None:
        return lower
    if lower is None or _category(higher) >= 2 and _category(lower) <= 2:
        return higher
    if lower.kind == "c":
        return to_complex(higher) if higher.kind in "fc" else lower
    if higher.kind == "b" or _category(lower) > _category(higher):
        return promote_types(higher, lower)
    return higher


def scalar_dtype(value: Any) -> np.dtype:
    """The dtype a Python number stands for: bool, int64, or the default float."""
    if isinstance(value, builtins.bool | np.bool_):
        return np.dtype(np.bool_)
    if isinstance(value, builtins.int | np.integer):
        return np.dtype(np.int64)
    if isinstance(value, builtins.float | np.floating):
        return _default_float
    if isinstance(value, builtins.complex | np.complexfloating):
        return default_complex()
    raise TypeError(f"expected a Tensor or a Python number, got {type(value).__name__}")


def result_type(*operands: Any) -> np.dtype:
    """The dtype of an op on ``operands`` (Tensors and Python numbers), as PyTorch computes it.

    Dimensioned tensors outrank 0-dim tensors, which outrank Python numbers; a lower-ranked
    operand changes the result only if its category (bool < int < float) is higher. So
    ``float32_tensor * 2.5`` stays float32 and ``int_tensor * 2.5`` is the default float.
    """
    dim = zero = wrapped = None
    for x in operands:
        data = getattr(x, "_data", None)
        if data is None:
            nd = scalar_dtype(x)
            wrapped = nd if wrapped is None else promote_types(wrapped, nd)
        elif data.ndim:
            dim = data.dtype if dim is None else promote_types(dim, data.dtype)
        else:
            zero = data.dtype if zero is None else promote_types(zero, data.dtype)
    out = _combine(dim, _combine(zero, wrapped))
    assert out is not None
    return out


def public_result_type(tensor1: Any, tensor2: Any) -> dtype:
    """``ndgrad.result_type``: the dtype ``tensor1 op tensor2`` computes in (as torch's)."""
    return from_np(result_type(tensor1, tensor2))


def public_promote_types(type1: Any, type2: Any) -> dtype:
    """``ndgrad.promote_types``: the smallest dtype both convert to safely (as torch's)."""
    return from_np(promote_types(to_np(type1), to_np(type2)))


def float_input(fn: str, x: Any, dtype: Any) -> Any:
    """x cast to dtype (if given), which must be floating point, as torch checks it (norms:
    ``fn`` names the op in the message)."""
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(f"{fn}: Expected a floating point or complex tensor as input. Got "
                           f"{scalar_name(x._data.dtype)}")
    if dtype is not None:
        nd = to_np(dtype)
        if nd.kind not in "fc":
            raise RuntimeError(f"{fn}: dtype should be floating point or complex, but got "
                               f"{from_np(nd)}")
        x = x.to(dtype)
    return x
