"""ndgrad.testing.assert_close: torch.testing.assert_close for ndgrad tensors (and numbers,
NumPy arrays, and sequences and mappings of them), with torch's default tolerances per dtype
and torch's failure messages.

    ndgrad.testing.assert_close(actual, expected)              # rtol/atol from the dtype
    ndgrad.testing.assert_close(actual, expected, rtol=0, atol=0)   # exact

Two values are close when |actual - expected| <= atol + rtol * |expected| (infinities must
match; nan only matches nan with equal_nan=True).
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.tensor import Tensor

__all__ = ["assert_allclose", "assert_close", "make_tensor"]

# (rtol, atol) by dtype, as torch's; other dtypes (integers, bool) compare exactly
_DTYPE_PRECISIONS = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
                     np.dtype(np.float64): (1e-7, 1e-7)}
_NUMBER_DTYPES = {int: np.dtype(np.int64), float: np.dtype(np.float64)}


class _Mismatch(Exception):  # noqa: N818 - not raised to the caller
    """A comparison failure: the exception type to raise, its message, and where it is."""

    def __init__(self, kind: type[Exception], msg: str, path: tuple[Any, ...] = ()) -> None:
        super().__init__(msg)
        self.kind, self.msg, self.path = kind, msg, path

    def to_error(self, msg: str | Callable[[str], str] | None) -> Exception:
        if isinstance(msg, str):
            return self.kind(msg)
        generated = self.msg
        if self.path:
            generated += ("\n\nThe failure occurred for item "
                          + "".join(str([item]) for item in self.path))
        return self.kind(msg(generated) if callable(msg) else generated)


def _tolerances(dtypes: Sequence[np.dtype], rtol: float | None, atol: float | None,
                path: tuple[Any, ...]) -> tuple[float, float]:
    if (rtol is None) ^ (atol is None):
        raise _Mismatch(ValueError, f"Both 'rtol' and 'atol' must be either specified or "
                                   f"omitted, but got no {'rtol' if rtol is None else 'atol'}.",
                       path)
    if rtol is not None and atol is not None:
        return rtol, atol
    pairs = [_DTYPE_PRECISIONS.get(np.dtype(d), (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _mismatch_msg(identifier: str, extra: str, abs_diff: Any, abs_idx: Any, rel_diff: Any,
                  rel_idx: Any, rtol: float, atol: float) -> str:
    equality = rtol == 0 and atol == 0

    def diff_line(kind: str, diff: Any, idx: Any, tol: float) -> str:
        line = (f"{kind.title()} difference: {diff}" if idx is None
                else f"Greatest {kind} difference: {diff} at index {idx}")
        return line + ("" if equality else f" (up to {tol} allowed)") + "\n"

    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n{extra.strip()}\n"
    msg += diff_line("absolute", abs_diff, abs_idx, atol)
    msg += diff_line("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_msg(actual: Any, expected: Any, rtol: float, atol: float) -> str:
    abs_diff = abs(actual - expected)
    rel_diff = math.inf if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg("Scalars", f"Expected {expected} but got {actual}.", abs_diff, None,
                         rel_diff, None, rtol, atol)


def _tensor_msg(actual: np.ndarray, expected: np.ndarray, matches: np.ndarray, rtol: float,
                atol: float) -> str:
    total = matches.size
    mismatches = total - int(matches.sum())
    extra = f"Mismatched elements: {mismatches} / {total} ({mismatches / total:.1%})"
    a, e = actual.ravel(), expected.ravel()
    if a.dtype.kind != "f":
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - e)
        abs_diff[matches.ravel()] = 0  # only the mismatches count
        rel_diff = abs_diff / np.abs(e)
        rel_diff[matches.ravel()] = 0

    def worst(d: np.ndarray) -> tuple[Any, tuple[int, ...]]:
        # torch.max: a nan is the maximum, the first one found
        nans = np.flatnonzero(np.isnan(d)) if d.dtype.kind == "f" else np.array([], int)
        flat = int(nans[0]) if nans.size else int(np.argmax(d))
        index = tuple(int(i) for i in np.unravel_index(flat, matches.shape))
        return d[flat].item(), index

    abs_val, abs_idx = worst(abs_diff)
    rel_val, rel_idx = worst(rel_diff)
    return _mismatch_msg("Tensor-likes", extra, abs_val, abs_idx, rel_val, rel_idx, rtol, atol)


def _isclose(a: np.ndarray, e: np.ndarray, rtol: float, atol: float,
             equal_nan: bool) -> np.ndarray:
    """torch.isclose: equal values (infinities included) are close; nan only with equal_nan."""
    if a.dtype.kind != "f":
        if rtol == 0 and atol == 0:
            return a == e
        a, e = a.astype(np.float64), e.astype(np.float64)
    with np.errstate(all="ignore"):
        close = (a == e) | (np.isfinite(a) & np.isfinite(e)
                            & (np.abs(a - e) <= atol + rtol * np.abs(e)))
    if equal_nan:
        close |= np.isnan(a) & np.isnan(e)
    return close


def _compare_tensors(actual: Any, expected: Any, path: tuple[Any, ...], rtol: float | None,
                     atol: float | None, equal_nan: bool, check_dtype: bool) -> None:
    a = actual._data if isinstance(actual, Tensor) else np.asarray(actual)
    e = expected._data if isinstance(expected, Tensor) else np.asarray(expected)
    if a.shape != e.shape:
        raise _Mismatch(AssertionError, f"The values for attribute 'shape' do not match: "
                                       f"{_shape(actual)} != {_shape(expected)}.", path)
    if check_dtype and a.dtype != e.dtype:
        raise _Mismatch(AssertionError, f"The values for attribute 'dtype' do not match: "
                                       f"{_dtype_name(actual)} != {_dtype_name(expected)}.", path)
    r, t = _tolerances([a.dtype, e.dtype], rtol, atol, path)
    if a.dtype != e.dtype:
        common = _dtype.promote_types(a.dtype, e.dtype)
        a, e = a.astype(common), e.astype(common)
    matches = _isclose(a, e, r, t, equal_nan)
    if matches.all():
        return
    if a.ndim == 0:
        raise _Mismatch(AssertionError, _scalar_msg(a.item(), e.item(), r, t), path)
    raise _Mismatch(AssertionError, _tensor_msg(a, e, matches, r, t), path)


def _shape(x: Any) -> str:
    return repr(x.shape) if isinstance(x, Tensor) else str(np.shape(x))


def _dtype_name(x: Any) -> str:
    return str(x.dtype) if isinstance(x, Tensor) else str(np.asarray(x).dtype)


def _compare_numbers(actual: Any, expected: Any, path: tuple[Any, ...], rtol: float | None,
                     atol: float | None, equal_nan: bool, check_dtype: bool) -> None:
    actual = actual.item() if isinstance(actual, np.number) else actual
    expected = expected.item() if isinstance(expected, np.number) else expected
    r, t = _tolerances([_NUMBER_DTYPES.get(type(v), np.dtype(np.float64))
                        for v in (actual, expected)], rtol, atol, path)
    if check_dtype and type(actual) is not type(expected):
        raise _Mismatch(AssertionError, f"The (d)types do not match: {type(actual)} != "
                                       f"{type(expected)}.", path)
    if actual == expected:
        return
    if equal_nan and cmath.isnan(actual) and cmath.isnan(expected):
        return
    abs_diff = abs(actual - expected)
    if cmath.isfinite(abs_diff) and abs_diff <= t + r * abs(expected):
        return
    raise _Mismatch(AssertionError, _scalar_msg(actual, expected, r, t), path)


def _compare(actual: Any, expected: Any, path: tuple[Any, ...], **options: Any) -> None:
    seq = (Sequence,)
    if (isinstance(actual, seq) and not isinstance(actual, str | Tensor)
            and isinstance(expected, seq) and not isinstance(expected, str | Tensor)):
        if len(actual) != len(expected):
            raise _Mismatch(AssertionError, f"The length of the sequences mismatch: "
                                           f"{len(actual)} != {len(expected)}", path)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, (*path, i), **options)
        return
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        if set(actual) != set(expected):
            missing, extra = set(expected) - set(actual), set(actual) - set(expected)
            raise _Mismatch(AssertionError, f"The keys of the mappings do not match:\nMissing keys "
                                           f"in the actual mapping: {sorted(missing)}\nAdditional "
                                           f"keys in the actual mapping: {sorted(extra)}", path)
        keys = list(actual)
        try:
            keys = sorted(keys)
        except TypeError:
            pass
        for k in keys:
            _compare(actual[k], expected[k], (*path, k), **options)
        return
    if actual is None or expected is None:
        if not (actual is None and expected is None):
            raise _Mismatch(AssertionError, f"None mismatch: {actual} is not {expected}", path)
        return
    if isinstance(actual, bool | np.bool_) and isinstance(expected, bool | np.bool_):
        if bool(actual) is not bool(expected):
            raise _Mismatch(AssertionError, f"Booleans mismatch: {actual} is not {expected}", path)
        return
    number = (int, float, np.number)
    if (isinstance(actual, number) and not isinstance(actual, bool)
            and isinstance(expected, number) and not isinstance(expected, bool)):
        _compare_numbers(actual, expected, path, options["rtol"], options["atol"],
                         options["equal_nan"], options["check_dtype_numbers"])
        return
    tensor_like = (Tensor, np.ndarray)
    if isinstance(actual, tensor_like) and isinstance(expected, tensor_like) and (
            options["allow_subclasses"] or type(actual) is type(expected)):
        _compare_tensors(actual, expected, path, options["rtol"], options["atol"],
                         options["equal_nan"], options["check_dtype"])
        return
    raise _Mismatch(TypeError, f"No comparison pair was able to handle inputs of type "
                              f"{type(actual)} and {type(expected)}.", path)


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True,
                 rtol: float | None = None, atol: float | None = None, equal_nan: bool = False,
                 check_device: bool = True, check_dtype: bool = True, check_layout: bool = True,
                 check_stride: bool = False, msg: str | Callable[[str], str] | None = None) -> None:
    """Raise AssertionError (with torch's message) unless actual and expected are close.

    Tensors must have the same shape and (with check_dtype) dtype; the tolerances default to
    the loosest of their dtypes' (float32: rtol 1.3e-6, atol 1e-5; float64: 1e-7, 1e-7;
    float16: 1e-3, 1e-5; integers and bool: exact). Sequences and mappings are compared item
    by item. ``msg`` replaces the message (a string) or edits it (a callable).
    ``check_device``, ``check_layout`` and ``check_stride`` are accepted for torch's sake:
    ndgrad tensors are all strided CPU arrays."""
    try:
        _compare(actual, expected, (), rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_dtype=check_dtype, check_dtype_numbers=False,
                 allow_subclasses=allow_subclasses)
    except _Mismatch as failure:
        raise failure.to_error(msg) from None


def make_tensor(*shape: Any, dtype: Any, device: Any = None, low: float | None = None,
                high: float | None = None, requires_grad: bool = False,
                noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format: Any = None) -> Tensor:
    """A tensor of ``shape`` and ``dtype`` with values drawn uniformly from [low, high), as
    torch.testing.make_tensor: floats default to [-9, 9), integers to [-9, 10) (clamped to
    the dtype's range), bools to either. ``exclude_zero`` replaces zeros by 1 (integers) or
    the dtype's tiny (floats); ``noncontiguous`` gives a strided view of the same values."""
    import ndgrad

    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    kind = _dtype.to_np(dtype).kind
    if requires_grad and kind in "biu":
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dtype}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:  # twice the last dim, then every other element: a strided view
        shape = (*shape[:-1], 2 * shape[-1])
    if kind == "b":
        lo, hi = _low_high(low, high, dtype, 0, 2, 0, 2)
        result = ndgrad.randint(int(lo), int(hi), shape, dtype=dtype)
    elif kind in "iu":
        info = _dtype.iinfo(dtype)
        top = info.max + (1 if info.bits < 64 else 0)
        lo, hi = _low_high(low, high, dtype, info.min, top, -9, 10)
        result = ndgrad.randint(int(lo), int(hi), shape, dtype=dtype)
    else:
        info_f = _dtype.finfo(dtype)
        lo, hi = _low_high(low, high, dtype, info_f.min, info_f.max, -9, 9)
        real = dtype.to_real() if kind == "c" else dtype

        def draw() -> Tensor:
            t = ndgrad.empty(shape, dtype=real)
            if hi - lo >= info_f.max:  # the width itself overflows: draw halves, double
                return t.uniform_(lo / 2, hi / 2).mul_(2)
            return t.uniform_(lo, hi)
        result = ndgrad.complex(draw(), draw()) if kind == "c" else draw()
    if noncontiguous:
        result = result[..., 1::2]
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if exclude_zero:
        result[result == 0] = 1 if kind in "biu" else _dtype.finfo(dtype).tiny
    if kind in "fc":
        result.requires_grad_(requires_grad)
    return result


def _low_high(low: float | None, high: float | None, dtype: Any, lowest: float,
              highest: float, default_low: float, default_high: float) -> tuple[float, float]:
    """make_tensor's [low, high): defaults filled in, checked, clamped to the dtype (ceiled
    for integers)."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low >= high and not (low == high and _dtype.to_np(dtype).kind in "fc"):
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    if high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest}, {highest})")
    low, high = min(max(low, lowest), highest), min(max(high, lowest), highest)
    if _dtype.to_np(dtype).kind in "biu":
        return math.ceil(low), math.ceil(high)
    return low, high


def assert_allclose(actual: Any, expected: Any, rtol: float | None = None,
                    atol: float | None = None, equal_nan: bool = True, msg: str = "") -> None:
    """Deprecated in torch for ``assert_close``: compares values (not dtypes), nan equal to nan
    by default."""
    import warnings

    import ndgrad
    warnings.warn("ndgrad.testing.assert_allclose() is deprecated (as torch's); use "
                  "ndgrad.testing.assert_close() instead.", FutureWarning, stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = ndgrad.tensor(actual)
    if not isinstance(expected, Tensor):
        expected = ndgrad.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = _tolerances([actual._data.dtype, expected._data.dtype], None, None, ())
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_dtype=False, msg=msg or None)
