"""Linear algebra methods: matmul and its 2-D/3-D/1-D forms (mm, bmm, mv, dot, outer, inner),
the add-and-multiply forms (addmm, addmv, addr, baddbmm, addbmm), trace, and the decompositions
and solvers that torch also has as methods (det, inverse, cholesky, qr, svd, lu, ...), which call
``ndgrad.linalg``. The products run on one primitive, ``MatMul``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import linalg
from ndgrad._helpers import not_implemented_for
from ndgrad.linalg import _common, _decomp, _solve
from ndgrad.ops.linalg import MatMul, check_matmul
from ndgrad.tensor.base import TensorBase, _bool, _float, _int


def _refuse_bool_product(xs: tuple[int, ...], ys: tuple[int, ...], nonempty: Any) -> None:
    """torch has no bool matrix product: its message names the kernel matmul dispatches to
    (dot for vectors, addmv, addmm, bmm); an empty product calls none, except dot."""
    if len(xs) == 1 and len(ys) == 1:
        raise not_implemented_for("dot", np.dtype(bool))
    if nonempty:
        kernel = "addmv_impl_cpu" if len(ys) == 1 else "addmm_impl_cpu_" if len(ys) == 2 \
            else "bmm"
        raise not_implemented_for(kernel, np.dtype(bool))


class LinalgMixin(TensorBase):
    """Matrix products."""

    def matmul(self, other: Any) -> Any:
        """torch.matmul: 1-D operands are promoted to matrices and the added dim removed;
        batch dims broadcast."""
        x, y = self, self._operand(other)
        xs, ys = x._data.shape, y._data.shape
        if not xs or not ys:
            raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                               f"{len(xs)}D and {len(ys)}D")
        if x._data.dtype != y._data.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{x.dtype} != {y.dtype}")
        check_matmul(xs, ys)
        if x._data.dtype.kind == "b":
            _refuse_bool_product(xs, ys, x._data.size and y._data.size)
        if len(xs) == 1 and len(ys) == 1:
            return (x * y).sum()
        if len(xs) == 1:
            return MatMul.apply(x.unsqueeze(0), y).squeeze(-2)
        if len(ys) == 1:
            return MatMul.apply(x, y.unsqueeze(-1)).squeeze(-1)
        return MatMul.apply(x, y)

    def mm(self, mat2: Any) -> Any:
        """Matrix product of two 2-D tensors (no broadcasting)."""
        if self._data.ndim != 2:
            raise RuntimeError(f"self must be a matrix (got a {self._data.ndim}-D tensor)")
        if mat2.ndim != 2:
            raise RuntimeError(f"mat2 must be a matrix (got a {mat2.ndim}-D tensor)")
        return self.matmul(mat2)

    def bmm(self, mat2: Any) -> Any:
        """Batched matrix product of (b, n, k) and (b, k, m) tensors (no broadcasting)."""
        if self._data.ndim != 3:
            raise RuntimeError(f"batch1 must be a 3D tensor (got a {self._data.ndim}-D tensor)")
        if mat2.ndim != 3:
            raise RuntimeError(f"batch2 must be a 3D tensor (got a {mat2.ndim}-D tensor)")
        (b, _, k), (b2, k2, _) = self._data.shape, mat2.shape
        if (b, k) != (b2, k2):
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{b}, {k}] but got: [{b2}, {k2}].")
        return self.matmul(mat2)

    def dot(self, other: Any) -> Any:
        """Inner product of two 1-D tensors of the same size and dtype."""
        if self._data.ndim != 1 or other.ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {self._data.ndim}D and "
                               f"{other.ndim}D tensors")
        if self._data.dtype != other._data.dtype:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{self.dtype} and {other.dtype}")
        return self.matmul(other)

    def outer(self, vec2: Any) -> Any:
        """(n,) and (m,) -> (n, m): out[i, j] = self[i] * vec2[j]."""
        for name, v in (("self", self), ("vec2", vec2)):
            if v.ndim != 1:
                raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    ger = outer

    def mv(self, vec: Any) -> Any:
        """(n, m) matrix times (m,) vector."""
        if self._data.ndim != 2 or vec.ndim != 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got {self._data.ndim}-D "
                               f"matrix and {vec.ndim}-D vector")
        return self.matmul(vec)

    def inner(self, other: Any) -> Any:
        """Sum over the last dims: out[i..., j...] = sum_k self[i..., k] * other[j..., k]."""
        other = self._operand(other)
        if self.ndim == 0 or other.ndim == 0:
            return self * other
        k = self.shape[-1]
        if other.shape[-1] != k:
            raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                               f"got shapes {list(self.shape)} and {list(other.shape)}")
        out = self.reshape(-1, k).matmul(other.reshape(-1, k).mT)
        return out.reshape(tuple(self.shape[:-1]) + tuple(other.shape[:-1]))

    def vdot(self, other: Any) -> Any:
        """conj(self) . other for two 1-D tensors."""
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {self.ndim}D and {other.ndim}D "
                               f"tensors")
        return (self.conj() if self.is_complex() else self).dot(other)

    # beta * self + alpha * (a product); with beta = 0 self is ignored (its nan and inf too)
    def _plus_scaled(self, prod: Any, beta: Any, alpha: Any, fn: str) -> Any:
        out = prod if alpha == 1 else prod * alpha
        shape = tuple(out.shape)
        try:
            if np.broadcast_shapes(tuple(self.shape), shape) != shape:
                raise ValueError
        except ValueError:
            raise RuntimeError(f"{fn}: the input of shape {list(self.shape)} does not broadcast "
                               f"to the result's shape {list(shape)}") from None
        if beta == 0:
            return out + self.where(self._make(np.zeros((), bool)), 0)
        return out + (self if beta == 1 else self * beta)

    def addmm(self, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """beta * self + alpha * (mat1 @ mat2) for matrices mat1 (n, k), mat2 (k, m)."""
        for name, m in (("mat1", mat1), ("mat2", mat2)):
            if m.ndim != 2:
                raise RuntimeError(f"{name} must be a matrix, got {m.ndim}-D tensor")
        return self._plus_scaled(mat1.mm(mat2), beta, alpha, "addmm")

    def addmv(self, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """beta * self + alpha * (mat @ vec) for a matrix (n, m) and a vector (m,)."""
        return self._plus_scaled(mat.mv(vec), beta, alpha, "addmv")

    def addr(self, vec1: Any, vec2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """beta * self + alpha * outer(vec1, vec2)."""
        return self._plus_scaled(vec1.outer(vec2), beta, alpha, "addr")

    def baddbmm(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """beta * self + alpha * bmm(batch1, batch2)."""
        return self._plus_scaled(batch1.bmm(batch2), beta, alpha, "baddbmm")

    def addbmm(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        """beta * self + alpha * sum_b batch1[b] @ batch2[b]."""
        return self._plus_scaled(batch1.bmm(batch2).sum(0), beta, alpha, "addbmm")

    def addmm_(self, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return self._inplace(lambda: self.addmm(mat1, mat2, beta=beta, alpha=alpha))

    def addmv_(self, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return self._inplace(lambda: self.addmv(mat, vec, beta=beta, alpha=alpha))

    def addr_(self, vec1: Any, vec2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return self._inplace(lambda: self.addr(vec1, vec2, beta=beta, alpha=alpha))

    def baddbmm_(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return self._inplace(lambda: self.baddbmm(batch1, batch2, beta=beta, alpha=alpha))

    def addbmm_(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
        return self._inplace(lambda: self.addbmm(batch1, batch2, beta=beta, alpha=alpha))


    # -- decompositions and solvers (ndgrad.linalg does the work) ------------------------------
    @property
    def mH(self) -> Any:  # noqa: N802 - torch's name
        """The conjugate transpose of a batch of matrices (the transpose, for real ones)."""
        if self._data.ndim < 2:
            raise RuntimeError(f"tensor.mH is only supported on matrices or batches of matrices. "
                               f"Got {self._data.ndim}-D tensor.")
        return self.conj().mT if self.is_complex() else self.mT

    def adjoint(self) -> Any:
        """The conjugate transpose of the last two dims."""
        if self._data.ndim < 2:
            raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of "
                               f"matrices. Got {self._data.ndim}-D tensor.")
        return self.mH

    def det(self) -> Any:
        return linalg.det(self)

    def logdet(self) -> Any:
        return _solve.logdet(self)

    def slogdet(self) -> Any:
        sign, logabs = linalg.slogdet(self)
        return _common.slogdet(sign, logabs)

    def inverse(self) -> Any:
        return linalg.inv(self)

    def pinverse(self, rcond: _float = 1e-15) -> Any:
        return _solve.pinverse(self, rcond)

    def matrix_power(self, n: _int) -> Any:
        return linalg.matrix_power(self, n)

    def matrix_exp(self) -> Any:
        return linalg.matrix_exp(self)

    def cholesky(self, upper: _bool = False) -> Any:
        return linalg.cholesky(self, upper=upper)

    def cholesky_inverse(self, upper: _bool = False) -> Any:
        return _solve.cholesky_inverse(self, upper)

    def cholesky_solve(self, input2: Any, upper: _bool = False) -> Any:
        return _solve.cholesky_solve(self, input2, upper)

    def lu(self, pivot: _bool = True, get_infos: _bool = False) -> Any:
        """torch.lu: (LU, pivots), and the infos if asked (else a zero pivot raises)."""
        lu, piv, info = linalg.lu_factor_ex(self, pivot=pivot, check_errors=not get_infos)
        return (lu, piv, info) if get_infos else (lu, piv)

    def lu_solve(self, LU_data: Any, LU_pivots: Any) -> Any:
        """torch.lu_solve(b, LU, pivots): linalg.lu_solve(LU, pivots, b)."""
        return linalg.lu_solve(LU_data, LU_pivots, self)

    def triangular_solve(self, A: Any, upper: _bool = True, transpose: _bool = False,
                         unitriangular: _bool = False) -> Any:
        """(X, A.clone()) with A X = self (A^T X = self if transpose), A triangular."""
        if self.ndim < 2:
            raise RuntimeError(f"torch.triangular_solve: Expected b to have at least 2 "
                               f"dimensions, but it has {self.ndim} dimensions instead")
        a, up = (A.mT, not upper) if transpose else (A, upper)
        x = linalg.solve_triangular(a, self, upper=up, unitriangular=unitriangular)
        return _common.triangular_solve(x, A.clone())

    def qr(self, some: _bool = True) -> Any:
        q, r = linalg.qr(self, "reduced" if some else "complete")
        return _common.qr(q, r)

    def svd(self, some: _bool = True, compute_uv: _bool = True) -> Any:
        """torch.svd: (U, S, V) with A = U diag(S) V^H (V, not Vh); without compute_uv, U and
        V are zero-filled (m, m) and (n, n) matrices."""
        if not compute_uv:
            m, n, lead = self.shape[-2], self.shape[-1], tuple(self.shape[:-2])
            zeros = self._make(np.zeros(lead + (m, m), self._data.dtype))
            return _common.svd(zeros, linalg.svdvals(self),
                               self._make(np.zeros(lead + (n, n), self._data.dtype)))
        u, s, vh = linalg.svd(self, full_matrices=not some)
        return _common.svd(u, s, vh.mH)

    def geqrf(self) -> Any:
        return _decomp.geqrf(self)

    def orgqr(self, input2: Any) -> Any:
        return linalg.householder_product(self, input2)

    def ormqr(self, input2: Any, input3: Any, left: _bool = True, transpose: _bool = False) -> Any:
        return _decomp.ormqr(self, input2, input3, left, transpose)
