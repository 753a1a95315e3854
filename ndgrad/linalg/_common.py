"""What the linalg functions share: argument checks with torch's messages, and the named tuples
they return (``torch.return_types``)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import broadcast_error
from ndgrad.autograd import function
from ndgrad.ops.solve import check_input

__all__ = ["check_input", "tensor_arg", "same_dtype", "batch_shape", "const"]

# torch.return_types.* : fields by name and by position
linalg_inv_ex = namedtuple("linalg_inv_ex", ["inverse", "info"])
linalg_solve_ex = namedtuple("linalg_solve_ex", ["result", "info"])
linalg_cholesky_ex = namedtuple("linalg_cholesky_ex", ["L", "info"])
linalg_slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
slogdet = namedtuple("slogdet", ["sign", "logabsdet"])
linalg_qr = namedtuple("linalg_qr", ["Q", "R"])
qr = namedtuple("qr", ["Q", "R"])
linalg_svd = namedtuple("linalg_svd", ["U", "S", "Vh"])
svd = namedtuple("svd", ["U", "S", "V"])
linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
linalg_eig = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])
linalg_lu_factor = namedtuple("linalg_lu_factor", ["LU", "pivots"])
linalg_lu_factor_ex = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
linalg_lu = namedtuple("linalg_lu", ["P", "L", "U"])
lu_unpack = namedtuple("lu_unpack", ["P", "L", "U"])
linalg_lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
linalg_ldl_factor = namedtuple("linalg_ldl_factor", ["LD", "pivots"])
linalg_ldl_factor_ex = namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])
triangular_solve = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
geqrf = namedtuple("geqrf", ["a", "tau"])


def tensor_arg(fn: str, name: str, pos: int, x: Any) -> None:
    """torch's TypeError for a non-tensor argument."""
    if not isinstance(x, function.Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{type(x).__name__}")


def same_dtype(fn: str, a: Any, b: Any, an: str = "A", bn: str = "B") -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{fn}: Expected {an} and {bn} to have the same dtype, but found {an} "
                           f"of type {_dtype.scalar_name(a._data.dtype)} and {bn} of type "
                           f"{_dtype.scalar_name(b._data.dtype)} instead")


def batch_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of batch shapes, with torch's message if they do not broadcast."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise broadcast_error(*shapes) from None


def in_graph(out: Any, *inputs: Any) -> Any:
    """``out`` (computed without ``inputs``) made to depend on them with a zero gradient, as a
    torch op's output does even when its value ignores its inputs (A^0, an empty product)."""
    for x in inputs:
        if x.requires_grad:
            zero = x.where(x._make(np.zeros((), bool)), 0).sum()
            out = out + zero.to(out.dtype)
    return out


def const(like: Any, array: Any) -> Any:
    """A constant tensor (no grad) holding ``array`` in ``like``'s dtype."""
    return like._make(np.asarray(array, dtype=like._data.dtype))
