"""Decompositions: cholesky, qr, svd, eigh, Householder products (householder_product, geqrf,
ormqr)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.autograd.forward_ad import is_dual
from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.linalg import _common as c
from ndgrad.ops.decomp import QR, SVD, Cholesky, Eig, Eigh
from ndgrad.ops.solve import check_input


def cholesky_ex(A: Any, *, upper: bool = False, check_errors: bool = False) -> Any:
    """(L, info): A = L L^H from A's lower triangle (U^H U from the upper one if upper); info
    is the order of the first leading minor that is not positive-definite, else 0."""
    c.tensor_arg("linalg_cholesky_ex", "A", 1, A)
    check_input("linalg.cholesky_ex", A._data)
    return c.linalg_cholesky_ex(*Cholesky.apply(A, bool(upper), check_errors,
                                                 "linalg.cholesky_ex"))


def cholesky(A: Any, *, upper: bool = False) -> Any:
    """The Cholesky factor of each symmetric positive-definite matrix; others raise."""
    c.tensor_arg("linalg_cholesky", "A", 1, A)
    check_input("linalg.cholesky", A._data)
    return Cholesky.apply(A, bool(upper), True, "linalg.cholesky")[0]


def qr(A: Any, mode: str = "reduced") -> Any:
    """(Q, R) with A = Q R: mode 'reduced' (Q m x k), 'complete' (Q m x m) or 'r' (Q empty)."""
    c.tensor_arg("linalg_qr", "A", 1, A)
    check_input("linalg.qr", A._data, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    return c.linalg_qr(*QR.apply(A, mode))


def _no_driver(fn: str, driver: Any) -> None:
    if driver is not None:
        raise RuntimeError(f"{fn}: keyword argument `driver=` is only supported on CUDA inputs "
                           f"with cuSOLVER backend.")


def svd(A: Any, full_matrices: bool = True, *, driver: str | None = None) -> Any:
    """(U, S, Vh) with A = U diag(S) Vh, S descending. Singular vectors are defined up to sign:
    differentiate only losses that do not depend on it."""
    c.tensor_arg("linalg_svd", "A", 1, A)
    check_input("linalg.svd", A._data, square=False)
    _no_driver("torch.linalg.svd", driver)
    return c.linalg_svd(*SVD.apply(A, bool(full_matrices)))


def _needs_grad(A: Any) -> bool:
    return grad_state.enabled and A.requires_grad or is_dual(A)  # forward AD: the op too


def svdvals(A: Any, *, driver: str | None = None) -> Any:
    """The singular values, descending (the singular vectors are computed only for the
    gradient)."""
    c.tensor_arg("linalg_svdvals", "A", 1, A)
    check_input("linalg.svdvals", A._data, square=False)
    _no_driver("torch.linalg.svdvals", driver)
    if _needs_grad(A):
        return SVD.apply(A, False)[1]
    return A._make(np.linalg.svd(A._data, compute_uv=False))


def _uplo(UPLO: str) -> Any:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO


def eigh(A: Any, UPLO: str = "L") -> Any:
    """(eigenvalues ascending, eigenvectors) of each symmetric matrix, read from its lower
    (UPLO='L') or upper triangle. Eigenvectors are defined up to sign, and only where the
    eigenvalues are distinct (the gradient divides by their differences)."""
    c.tensor_arg("linalg_eigh", "A", 1, A)
    check_input("linalg.eigh", A._data)
    return c.linalg_eigh(*Eigh.apply(A, _uplo(UPLO)))


def eigvalsh(A: Any, UPLO: str = "L") -> Any:
    """The eigenvalues of each symmetric matrix, ascending."""
    c.tensor_arg("linalg_eigvalsh", "A", 1, A)
    check_input("linalg.eigvalsh", A._data)
    if _needs_grad(A):
        return Eigh.apply(A, _uplo(UPLO))[0]
    return A._make(np.linalg.eigvalsh(A._data, UPLO=_uplo(UPLO)))


def eig(A: Any) -> Any:
    """(eigenvalues, eigenvectors) of each square matrix, complex (columns of norm 1). Each
    eigenvector is defined up to a complex phase: differentiate only losses that do not depend
    on it (torch raises otherwise, and so does ndgrad)."""
    c.tensor_arg("linalg_eig", "A", 1, A)
    check_input("linalg.eig", A._data, complex_ok=True)
    return c.linalg_eig(*Eig.apply(A))


def eigvals(A: Any) -> Any:
    """The (complex) eigenvalues of each square matrix."""
    c.tensor_arg("linalg_eigvals", "A", 1, A)
    check_input("linalg.eigvals", A._data, complex_ok=True)
    if _needs_grad(A):
        return Eig.apply(A)[0]
    return A._make(np.linalg.eigvals(A._data).astype(np.result_type(A._data.dtype,
                                                                    np.complex64)))


def _reflectors(A: Any, tau: Any, fn: str) -> Any:
    """The Householder vectors v_i (unit first entry) as columns: A's strict lower triangle
    plus ones on the diagonal, checked against tau."""
    c.tensor_arg(fn, "input", 1, A)
    c.tensor_arg(fn, "tau", 2, tau)
    check_input(f"torch.linalg.{fn}", A._data, square=False, what="input")
    m, n = A.shape[-2], A.shape[-1]
    if m < n:
        raise RuntimeError(f"torch.linalg.{fn}: input.shape[-2] must be greater than or equal "
                           f"to input.shape[-1]")
    if tau.shape[-1] > n:
        raise RuntimeError(f"torch.linalg.{fn}: input.shape[-1] must be greater than or equal "
                           f"to tau.shape[-1]")
    if tau.ndim != A.ndim - 1 or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"torch.linalg.{fn}: Expected batch dimensions of tau to be equal "
                           f"to input.shape[:-2], but got {list(tau.shape[:-1])}")
    c.same_dtype(f"torch.linalg.{fn}", A, tau, "input", "tau")
    return A.tril(-1) + c.const(A, np.eye(m, n))


def householder_product(A: Any, tau: Any) -> Any:
    """The first n columns of H_1 ... H_k with H_i = I - tau_i v_i v_i^H (LAPACK's orgqr).
    Applied one reflector at a time (k steps over the whole batch), so autograd derives the
    gradient, torch's householder_product_backward."""
    v = _reflectors(A, tau, "householder_product")
    m, n = A.shape[-2], A.shape[-1]
    q = c.const(A, np.broadcast_to(np.eye(m, n), tuple(A.shape)).copy())
    for i in range(tau.shape[-1] - 1, -1, -1):
        vi = v[..., i:i + 1]  # (..., m, 1)
        q = q - tau[..., i, None, None] * (vi @ (vi.mT @ q))
    return q if tau.shape[-1] else c.in_graph(q, A, tau)


def ormqr(A: Any, tau: Any, other: Any, left: bool = True, transpose: bool = False) -> Any:
    """Q C, Q^H C, C Q or C Q^H for Q = H_1 ... H_k from (A, tau) as geqrf returns them,
    applied one reflector at a time."""
    v = _reflectors(A, tau, "ormqr")
    c.tensor_arg("ormqr", "other", 3, other)
    m = A.shape[-2]
    if other.shape[-2 if left else -1] != m:
        raise RuntimeError(f"torch.ormqr: other.shape[{-2 if left else -1}] must be equal to "
                           f"input.shape[-2]")
    k = tau.shape[-1]
    # Q C applies H_k first; Q^H C applies H_1 first; C Q applies H_1 first; C Q^H H_k first
    order = range(k) if left == transpose else range(k - 1, -1, -1)
    out = other
    for i in order:
        vi, ti = v[..., i:i + 1], tau[..., i, None, None]
        out = out - ti * (vi @ (vi.mT @ out)) if left else out - ti * ((out @ vi) @ vi.mT)
    return out


def geqrf(A: Any) -> Any:
    """(a, tau): LAPACK's geqrf, R on and above the diagonal of a, the Householder vectors
    below it. Not differentiable (as in torch)."""
    c.tensor_arg("geqrf", "input", 1, A)
    check_input("torch.geqrf", A._data, square=False, what="input")
    h, tau = np.linalg.qr(A._data, mode="raw")
    return c.geqrf(A._make(np.ascontiguousarray(h.swapaxes(-1, -2))), A._make(tau))


__all__ = ["cholesky", "cholesky_ex", "qr", "svd", "svdvals", "eig", "eigvals", "eigh", "eigvalsh",
           "householder_product", "ormqr", "geqrf"]
