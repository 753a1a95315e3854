"""Argument handling shared by ops and tensors: dims, shapes and broadcasting, with PyTorch's
error messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def wrap_dim(dim: int, ndim: int) -> int:
    """A dim in [-ndim, ndim) as a non-negative index (a 0-d tensor accepts dims -1 and 0)."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def wrap_dims(dim: int | Iterable[int] | None, ndim: int) -> tuple[int, ...]:
    """``None`` means every dim; repeated dims are an error, as in torch."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = tuple(wrap_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    if ndim == 0:
        return ()
    return out


def inverse_permutation(order: Sequence[int]) -> tuple[int, ...]:
    """The permutation that undoes ``order`` (np.argsort's result, without converting a small
    tuple to an array: 0.5 us instead of 3)."""
    return tuple(sorted(range(len(order)), key=order.__getitem__))


def shape_arg(size: Any) -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` as the same shape."""
    if len(size) == 1 and not isinstance(size[0], int):
        size = size[0]
    return tuple(int(s) for s in size)


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Undo broadcasting: sum ``g`` (an ndarray or a Tensor) over the dims along which ``shape``
    was broadcast to ``g.shape``. The one place broadcasting is reduced, for the engine and for
    ``Tensor.sum_to_size``; raises ValueError when ``shape`` does not broadcast to ``g.shape``."""
    gshape = tuple(g.shape)
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise ValueError(shape)
    dims = tuple(range(lead))
    for i, s in enumerate(shape):
        if s == 1 and gshape[lead + i] != 1:
            dims += (lead + i,)
        elif s != gshape[lead + i]:
            raise ValueError(shape)
    # keepdims: NumPy's sum over every dim gives a NumPy scalar, which has no item assignment
    return g.sum(dims, keepdims=True).reshape(shape) if dims else g.reshape(shape)


def broadcast_error(*shapes: tuple[int, ...]) -> RuntimeError:
    """torch's message for shapes that do not broadcast, naming the first clashing dim."""
    nd = max(len(s) for s in shapes)
    padded = [(1,) * (nd - len(s)) + tuple(s) for s in shapes]
    for d in range(nd - 1, -1, -1):
        sizes = [p[d] for p in padded]
        big = [i for i, n in enumerate(sizes) if n != 1]
        for i in big[1:]:
            if sizes[i] != sizes[big[0]]:
                a, b = big[0], i
                return RuntimeError(
                    f"The size of tensor a ({sizes[a]}) must match the size of tensor b "
                    f"({sizes[b]}) at non-singleton dimension {d} (shapes "
                    f"{' and '.join(str(list(s)) for s in shapes)} do not broadcast)")
    return RuntimeError(f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast")


def as_ndarray(out: Any) -> np.ndarray:
    """NumPy returns scalars for 0-d results; ndgrad keeps every value an ndarray (a tensor's
    data, a gradient, a saved output must be the very array the engine wraps)."""
    return out if type(out) is np.ndarray else np.asarray(out)


def contiguous(out: np.ndarray) -> np.ndarray:
    """out in C order: torch allocates the results of reductions, scans and softmax
    contiguous (``.view`` works on them), where NumPy's follow the input's memory order."""
    return out if out.flags.c_contiguous else np.ascontiguousarray(out)


_C_TYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char",
                 "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte",
                 "bool": "Bool"}


def not_implemented_for(kernel: str, dtype: np.dtype) -> NotImplementedError:
    """torch's error for an op that has no kernel for a dtype (``"kernel" not implemented for
    'Long'``), naming the dtype as torch's C++ does."""
    return NotImplementedError(f"\"{kernel}\" not implemented for "
                               f"'{_C_TYPE_NAMES.get(dtype.name, dtype.name)}'")
