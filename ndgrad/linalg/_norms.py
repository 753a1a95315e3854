"""Norms, condition numbers and ranks, composed as torch composes them (so that their gradients
are torch's): vector_norm is a primitive (``ops.reduce.Norm``); the matrix 1- and inf-norms
are an absolute sum then a max; the 2-norm, nuclear norm and condition number come from the
singular values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad._dtype import float_input
from ndgrad._helpers import wrap_dim
from ndgrad.linalg import _common as c
from ndgrad.linalg._decomp import eigvalsh, svdvals
from ndgrad.linalg._solve import _tolerances, inv_ex
from ndgrad.ops.reduce import Norm, reduce_dims
from ndgrad.ops.solve import check_input


def vector_norm(x: Any, ord: float = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None) -> Any:
    """(sum |x|^ord)^(1/ord) over dim (all dims if None); ord may be inf, -inf, 0 or any
    number. The gradient at a zero vector is 0 (a subgradient), as torch's."""
    c.tensor_arg("linalg_vector_norm", "input", 1, x)
    x = float_input("linalg.vector_norm", x, dtype)
    if isinstance(ord, str) or isinstance(ord, bool):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not "
                        f"{type(ord).__name__}")
    dims = reduce_dims(dim, x.ndim)
    if x.is_complex():
        x = x.abs()
    return Norm.apply(x, float(ord), dims, keepdim)


def _matrix_dims(fn: str, A: Any, dim: Any) -> tuple[int, int]:
    if A.ndim < 2:
        raise RuntimeError(f"{fn}: The input tensor A must have at least 2 dimensions.")
    dim = tuple(dim)
    if len(dim) != 2:
        raise RuntimeError(f"{fn}: dim must be a 2-tuple. Got {', '.join(map(str, dim))}")
    d0, d1 = wrap_dim(dim[0], A.ndim), wrap_dim(dim[1], A.ndim)
    if d0 == d1:
        raise RuntimeError(f"{fn}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def _svd_reduce(A: Any, d0: int, d1: int, keepdim: bool, reduce: Any) -> Any:
    """reduce(singular values) of the matrices in dims (d0, d1): the dims are moved to the end
    first, and put back as size 1 if keepdim."""
    rest = [d for d in range(A.ndim) if d not in (d0, d1)]
    out = reduce(svdvals(A.permute(rest + [d0, d1])))
    if keepdim:
        for d in sorted((d0, d1)):
            out = out.unsqueeze(d)
    return out


def matrix_norm(A: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *,
                dtype: Any = None) -> Any:
    """'fro', 'nuc', 2, -2 (largest / smallest singular value), 1, -1 (max / min absolute
    column sum), inf, -inf (max / min absolute row sum) of the matrices in dims ``dim``."""
    c.tensor_arg("linalg_matrix_norm", "A", 1, A)
    if isinstance(ord, str):
        if ord not in ("fro", "nuc"):
            raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    elif abs(ord) not in (1, 2, math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    d0, d1 = _matrix_dims("linalg.matrix_norm", A, dim)
    A = float_input("linalg.matrix_norm", A, dtype)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc":
        return _svd_reduce(A, d0, d1, keepdim, lambda s: s.sum(-1))
    if abs(ord) == 2:
        return _svd_reduce(A, d0, d1, keepdim,
                           lambda s: s.amax(-1) if ord > 0 else s.amin(-1))
    if math.isinf(ord):  # the inf-norm is the 1-norm of the transpose
        d0, d1 = d1, d0
    sums = vector_norm(A, 1, d0, keepdim)
    if not keepdim and d0 < d1:
        d1 -= 1
    return sums.amax(d1, keepdim) if ord > 0 else sums.amin(d1, keepdim)


def norm(A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None) -> Any:
    """A vector norm (1-D input, or one dim) or a matrix norm (2-D input, or two dims); with
    neither ord nor dim, the 2-norm of the flattened input."""
    c.tensor_arg("linalg_norm", "input", 1, A)
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None:
        dim = tuple(dim)
        if len(dim) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {list(dim)}")
    elif ord is not None and A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if isinstance(ord, str) or (ord is not None and (
            (dim is not None and len(dim) == 2) or (dim is None and A.ndim == 2))):
        return matrix_norm(A, ord, dim if dim is not None else (0, 1), keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def cond(A: Any, p: Any = None) -> Any:
    """The condition number in norm p: S_max / S_min for p = None or 2 (S_min / S_max for -2),
    else norm(A) * norm(A^-1), inf for singular matrices."""
    c.tensor_arg("linalg_cond", "A", 1, A)
    if A.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    p = 2 if p is None else p
    if p not in (2, -2, 1, -1, math.inf, -math.inf, "fro", "nuc"):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    float_input("linalg.cond", A, None)
    if A.numel() == 0:
        return c.const(A, np.zeros(tuple(A.shape[:-2])))
    if p in (2, -2):
        s = svdvals(A)
        big, small = s[..., :1], s[..., -1:]
        return (small / big if p == -2 else big / small).squeeze(-1)
    check_input(f"linalg.cond(ord={p})", A._data)
    inverse, info = inv_ex(A)
    inverse = inverse.masked_fill((info > 0).unsqueeze(-1).unsqueeze(-1), math.inf)
    return matrix_norm(A, p) * matrix_norm(inverse, p)


def matrix_rank(A: Any, tol: Any = None, hermitian: bool = False, *, atol: Any = None,
                rtol: Any = None) -> Any:
    """The number of singular values above max(atol, rtol * largest) (int64). The old ``tol``
    is atol with rtol = 0."""
    c.tensor_arg("linalg_matrix_rank", "input", 1, A)
    check_input("linalg.matrix_rank", A._data, square=hermitian, what="A")
    if tol is not None:
        atol, rtol = tol, 0.0
    at, rt = _tolerances("torch.linalg.matrix_rank", A, atol, rtol)
    if A.numel() == 0:
        return A._make(np.zeros(tuple(A.shape[:-2]), np.int64))
    s = np.abs(eigvalsh(A.detach())._data) if hermitian else svdvals(A.detach())._data
    tol_ = np.maximum(at[..., None], rt[..., None] * s.max(-1, keepdims=True))
    return A._make((s > tol_).sum(-1).astype(np.int64))


__all__ = ["vector_norm", "matrix_norm", "norm", "cond", "matrix_rank"]
