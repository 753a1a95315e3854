"""Sparse COO tensors (``Tensor.to_sparse``, ``ndgrad.sparse_coo_tensor``) over dense storage.

A sparse tensor here is an ordinary tensor whose layout is ``sparse_coo``: its first
``sparse_dim()`` dims are the sparse ones, and its values are kept dense, zeros included. So every
op takes it and gives the numbers torch's sparse kernels give (``sparse @ dense``,
``dense + sparse``, ``torch.spmm``, gradients to the dense operand and to the values), and
``indices()``, ``values()`` and ``_nnz()`` are read from the nonzeros when asked. Where this
differs from torch, on purpose, for a library on NumPy:

- memory: a (V, V) adjacency matrix takes V*V numbers (Cora's 2708 nodes: 29 MB in float32),
  so graphs of millions of nodes do not fit;
- a sparse tensor is always coalesced: duplicate indices are summed when it is made, and an
  entry whose value is zero is not an entry (torch keeps explicit zeros and duplicates);
- results of ops are strided, where torch keeps some sparse (``sparse * 2``, ``t()``,
  ``sparse @ sparse``, ``torch.sparse.sum(x, dim)``): call ``to_sparse()`` on them if needed;
- ops that torch refuses on a sparse tensor (views, indexing) work, on the dense values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.tensor.base import TensorBase, _bool, _int


class SparseMixin(TensorBase):
    """``to_sparse``, ``to_dense`` and the sparse COO accessors (``indices``, ``values``, ...)."""

    def to_sparse(self, sparse_dim: _int | None = None, *, layout: Any = None,
                  blocksize: Any = None, dense_dim: _int | None = None) -> Any:
        """This tensor with the sparse COO layout; with ``sparse_dim`` (or ``dense_dim``) a
        hybrid one whose values are the trailing dims. Differentiable, as a copy is."""
        if layout not in (None, _dtype.sparse_coo) or blocksize is not None:
            raise NotImplementedError(f"to_sparse: ndgrad has the sparse_coo layout only, not "
                                      f"{layout}")
        n = self.ndim if sparse_dim is None else sparse_dim
        if dense_dim is not None:
            n = self.ndim - dense_dim
        if self._sparse_dim is not None:
            if n != self._sparse_dim:
                raise RuntimeError("to_sparse: conversion from Sparse to Sparse with sparse_dim "
                                   "argument !=self.sparse_dim() is not supported")
            return self
        if not 0 <= n <= self.ndim:
            raise RuntimeError(f"dense_to_sparse: sparse_dim argument must be in [0,"
                               f"{self.ndim}] range, but {n} is given")
        out = self.clone()
        out._sparse_dim = n
        return out

    def to_sparse_coo(self) -> Any:
        return self.to_sparse()

    def to_dense(self, dtype: Any = None, *, masked_grad: _bool | None = None) -> Any:
        """A strided tensor with the same values (self itself if it is strided already)."""
        if self._sparse_dim is None:
            return self if dtype is None else self.to(dtype)
        return self.clone() if dtype is None else self.to(dtype, copy=True)

    def _check_sparse(self, name: str) -> int:
        if self._sparse_dim is None:
            raise RuntimeError(f"{name} expected sparse coordinate tensor layout but got "
                               f"Strided")
        return self._sparse_dim

    def _entries(self) -> tuple[np.ndarray, ...]:
        """Per sparse dim, the coordinates of the entries: the cells of the sparse dims whose
        block of dense values is not all zero, in row-major (coalesced) order."""
        n = self._check_sparse("indices")
        cells = self._data != 0
        if cells.ndim > n:
            cells = cells.any(axis=tuple(range(n, cells.ndim)))
        return tuple(np.nonzero(cells))

    def indices(self) -> Any:
        """(sparse_dim, nnz) int64: the coordinates of the entries."""
        n = self._check_sparse("indices")
        if n == 0:
            return self._make(np.zeros((0, 1), np.int64))
        return self._make(np.stack(self._entries()).astype(np.int64).reshape(n, -1))

    def values(self) -> Any:
        """(nnz, *dense dims): the entries' values, differentiably."""
        n = self._check_sparse("values")
        if n == 0:
            return self.unsqueeze(0)
        return self[self._entries()]

    _indices, _values = indices, values

    def _nnz(self) -> _int:
        n = self._check_sparse("_nnz")
        return 1 if n == 0 else len(self._entries()[0])

    def coalesce(self) -> Any:
        self._check_sparse("coalesce")
        return self

    def is_coalesced(self) -> _bool:
        self._check_sparse("is_coalesced")
        return True

    def sparse_dim(self) -> _int:
        return self._sparse_dim or 0

    def dense_dim(self) -> _int:
        return self.ndim - (self._sparse_dim or 0)

    def _sparse_repr(self) -> str:
        """torch's form: ``tensor(indices=..., values=..., size=(2, 2), nnz=2,
        layout=ndgrad.sparse_coo)``."""
        indices, values = repr(self.indices()), repr(self.values().detach())
        pad = " " * len("tensor(")
        lines = [f"tensor(indices={_indent(indices, len('tensor(indices='))},",
                 f"{pad}values={_indent(values, len(pad + 'values='))},",
                 f"{pad}size={tuple(self.shape)}, nnz={self._nnz()}, "
                 f"layout={_dtype.sparse_coo}"]
        if self.grad_fn is not None:
            lines[-1] += f", grad_fn={self.grad_fn!r}"
        elif self._requires_grad:
            lines[-1] += ", requires_grad=True"
        return "\n".join(lines) + ")"


def _indent(text: str, width: int) -> str:
    return text.replace("\n", "\n" + " " * width)
