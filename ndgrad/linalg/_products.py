"""Products: cross, vecdot, multi_dot (in the cheapest order), vander, diagonal, matmul; all
composites of differentiable ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import wrap_dim
from ndgrad.linalg import _common as c
from ndgrad.ops.solve import cat


def cross(input: Any, other: Any, *, dim: int = -1) -> Any:
    """The 3-D cross product along ``dim`` (size 3), batch dims broadcast:
    out = x(i+1) y(i+2) - x(i+2) y(i+1), cyclically."""
    c.tensor_arg("linalg_cross", "input", 1, input)
    c.tensor_arg("linalg_cross", "other", 2, other)
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions. Got "
                           f"{input.ndim} and {other.ndim}")
    d = wrap_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    shape = c.batch_shape(tuple(input.shape), tuple(other.shape))
    x, y = input.expand(shape), other.expand(shape)
    return x.roll(-1, d) * y.roll(1, d) - x.roll(1, d) * y.roll(-1, d)


def vecdot(x: Any, y: Any, *, dim: int = -1) -> Any:
    """sum(conj(x) * y) along dim, batch dims broadcast."""
    c.tensor_arg("linalg_vecdot", "x", 1, x)
    c.tensor_arg("linalg_vecdot", "y", 2, y)
    c.same_dtype("linalg.vecdot", x, y, "x", "y")
    return ((x.conj() if x.is_complex() else x) * y).sum(dim)


def _chain_order(dims: list[int]) -> list[list[int]]:
    """The matrix-chain DP: split[i][j] is where to split the product of matrices i..j so that
    the number of multiplications is smallest (Cormen et al., 15.2)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = -1
            for k in range(i, j):
                q = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] < 0 or q < cost[i][j]:
                    cost[i][j], split[i][j] = q, k
    return split


def multi_dot(tensors: Any) -> Any:
    """The product of a chain of matrices (the first and last may be vectors), multiplied in
    the order that needs the fewest operations."""
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    n = len(ts)
    for i, t in enumerate(ts):
        c.tensor_arg("linalg_multi_dot", "tensors", 1, t)
        ok = (1, 2) if i in (0, n - 1) else (2,)
        if t.ndim not in ok:
            which = "first" if i == 0 else ("last" if i == n - 1 else None)
            raise RuntimeError(f"multi_dot(): the {which} tensor must be 1D or 2D but got "
                               f"{t.ndim}D" if which else
                               f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
        if t._data.dtype != ts[0]._data.dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor "
                               f"0 is {_dtype.scalar_name(ts[0]._data.dtype)} and tensor {i} is "
                               f"{_dtype.scalar_name(t._data.dtype)}")
    first_vec, last_vec = ts[0].ndim == 1, ts[-1].ndim == 1
    if first_vec:
        ts[0] = ts[0].unsqueeze(0)
    if last_vec:
        ts[-1] = ts[-1].unsqueeze(-1)
    for i in range(n - 1):
        if ts[i].shape[1] != ts[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(ts[i].shape)} and {list(ts[i + 1].shape)} cannot be "
                               f"multiplied")
    split = _chain_order([t.shape[0] for t in ts] + [ts[-1].shape[1]])

    def product(i: int, j: int) -> Any:
        if i == j:
            return ts[i]
        k = split[i][j]
        return product(i, k) @ product(k + 1, j)

    out = product(0, n - 1)
    if first_vec:
        out = out.squeeze(0)
    if last_vec:
        out = out.squeeze(-1)
    return out


def chain_matmul(*matrices: Any) -> Any:
    """torch.chain_matmul (deprecated): multi_dot of 2-D tensors (one matrix is itself)."""
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(matrices)


def vander(x: Any, N: int | None = None) -> Any:
    """(..., n) -> (..., n, N): the powers x^0, x^1, ..., x^(N-1) (a cumulative product, so the
    gradient is exact at 0)."""
    c.tensor_arg("linalg_vander", "x", 1, x)
    if x.ndim == 0:
        x = x.unsqueeze(0)
    n = N if N is not None else x.shape[-1]
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    if x._data.dtype.kind == "b":
        raise RuntimeError("linalg.vander supports floating point, complex, and integer "
                           "tensors, but got Bool")
    col = x.unsqueeze(-1)
    ones = c.const(col, np.ones(tuple(col.shape)))
    return cat([ones, col.expand(tuple(x.shape) + (n - 1,))], -1).cumprod(-1)


def diagonal(A: Any, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Any:
    """The diagonal of the matrices in dims (dim1, dim2), as a view."""
    c.tensor_arg("linalg_diagonal", "A", 1, A)
    return A.diagonal(offset, dim1, dim2)


def matmul(input: Any, other: Any) -> Any:
    return input.matmul(other)


__all__ = ["cross", "vecdot", "multi_dot", "chain_matmul", "vander", "diagonal", "matmul"]
