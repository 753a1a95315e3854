"""ndgrad.sparse and the top-level sparse functions: ``sparse_coo_tensor`` builds a sparse COO
tensor from coordinates and values, ``spmm`` / ``sparse.mm`` multiply one by a dense matrix.
ndgrad's sparse tensors keep their values dense: see ndgrad/tensor/sparse.py for what that
means and where it differs from torch."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._device import check_device
from ndgrad.tensor import Tensor, tensor

__all__ = ["mm", "sparse_coo_tensor", "spmm", "sum"]

def sparse_coo_tensor(indices: Any, values: Any, size: Any = None, *, dtype: Any = None,
                      device: Any = None, pin_memory: bool = False, requires_grad: bool = False,
                      check_invariants: bool | None = None,
                      is_coalesced: bool | None = None) -> Tensor:
    """A sparse COO tensor whose entry ``values[k]`` sits at ``indices[:, k]`` (indices: sparse
    dims x nnz; values: nnz x dense dims). Duplicate coordinates are summed. ``size`` defaults
    to the smallest that holds the indices; coordinates are always checked against it (torch
    checks only with ``check_invariants=True``). The result is differentiable in ``values``."""
    check_device(device)
    idx = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    if idx.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(idx.shape)}")
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"indices must be an int64 tensor, got {idx.dtype}")
    vals = values if isinstance(values, Tensor) else tensor(values)
    if dtype is not None:
        vals = vals.to(dtype)
    n, nnz = idx.shape
    if vals.ndim == 0 or vals.shape[0] != nnz:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: "
                           f"{nnz}, nnz from values: {vals.shape[0] if vals.ndim else 1}")
    if (idx < 0).any():
        raise RuntimeError("found negative index in the indices of a sparse tensor")
    if size is None:
        size = [int(m) + 1 for m in idx.max(axis=1)] if nnz else [0] * n
        size = (*size, *vals.shape[1:])
    size = tuple(int(s) for s in size)
    if len(size) != n + vals.ndim - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({n}) + dense_dim "
                           f"({vals.ndim - 1}), but got {len(size)}")
    if tuple(vals.shape[1:]) != size[n:]:
        raise RuntimeError(f"values has incorrect size, expected {[nnz, *size[n:]]}, got "
                           f"{list(vals.shape)}")
    for d in range(n):
        if nnz and idx[d].max() >= size[d]:
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is "
                               f"{size[d]} but found index {int(idx[d].max())}")
    dense = vals.new_zeros(size)
    if nnz:
        coords = tuple(Tensor._make(idx[d].astype(np.int64)) for d in range(n))
        dense = dense.index_put(coords, vals, accumulate=True)
    if requires_grad:
        dense = dense.detach().requires_grad_()
    dense._sparse_dim = n
    return dense


def mm(mat1: Tensor, mat2: Tensor, reduce: str = "sum") -> Tensor:
    """``mat1 @ mat2`` where either may be sparse; a strided result (torch gives a sparse one
    when both are sparse)."""
    if reduce != "sum":
        raise NotImplementedError(f"ndgrad.sparse.mm: reduce={reduce!r} is not supported")
    return mat1.mm(mat2)


def spmm(input: Tensor, mat2: Tensor) -> Tensor:
    """torch.spmm: a sparse matrix times a dense one (``input.mm(mat2)``)."""
    return input.mm(mat2)


def sum(input: Tensor, dim: Any = None, dtype: Any = None) -> Tensor:  # noqa: A001 - torch's name
    """torch.sparse.sum: all entries summed (a 0-dim strided tensor), or over ``dim``, sparse
    again when dims remain."""
    out = input.sum(dtype=dtype) if dim is None else input.sum(dim, dtype=dtype)
    return out.to_sparse() if dim is not None and out.ndim else out
