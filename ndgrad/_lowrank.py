"""Randomized low-rank SVD and PCA (torch.svd_lowrank, torch.pca_lowrank): Halko, Martinsson and
Tropp, "Finding structure with randomness" (arXiv:0909.4061), algorithms 4.4 and 5.1, as torch's
``torch/_lowrank.py``.

A random Gaussian sketch A R finds an orthonormal basis Q of A's dominant column space
(sharpened by ``niter`` power iterations, each re-orthonormalized by QR), and the small matrix
Q^H A is decomposed exactly. Built from matmul, QR and SVD, so autograd differentiates it. The
result depends on the random draws unless A's rank is at most q; the singular vectors are
defined up to sign.
"""

from __future__ import annotations

from typing import Any

from ndgrad import _dtype, linalg
from ndgrad.tensor.creation import randn


def _floating(A: Any) -> Any:
    """torch's get_floating_dtype: A's dtype if floating, else float32."""
    return A.dtype if A._data.dtype.kind == "f" else _dtype.float32


def get_approximate_basis(A: Any, q: int, niter: int | None = 2, M: Any = None) -> Any:
    """Q (..., m, q) with orthonormal columns such that Q Q^H (A - M) approximates A - M
    (Halko et al. algorithm 4.4), without forming A - M."""
    niter = 2 if niter is None else niter
    R = randn(A.shape[-1], q, dtype=_floating(A))
    Mt = None if M is None else M.mT

    def minus_m(X: Any, MX: Any, Y: Any) -> Any:  # X Y - MX Y: (A - M) Y, or (A - M)^T Y
        return X @ Y if MX is None else X @ Y - MX @ Y

    Q = linalg.qr(minus_m(A, M, R)).Q
    for _ in range(niter):
        Q = linalg.qr(minus_m(A.mT, Mt, Q)).Q
        Q = linalg.qr(minus_m(A, M, Q)).Q
    return Q


def svd_lowrank(A: Any, q: int | None = 6, niter: int | None = 2, M: Any = None,
                ) -> tuple[Any, Any, Any]:
    """(U, S, V) with A - M ~ U diag(S) V^H of rank q, by a randomized SVD (Halko et al.
    algorithm 5.1); M (broadcast to A's shape) defaults to zero."""
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    if m < n:  # sketch the taller side
        A = A.mT
        M = None if M is None else M.mT
    Q = get_approximate_basis(A, q, niter=niter, M=M)
    B = Q.mT @ A if M is None else Q.mT @ A - Q.mT @ M  # (..., q, n)
    U, S, Vh = linalg.svd(B, full_matrices=False)
    U, V = Q @ U, Vh.mT
    return (V, S, U) if m < n else (U, S, V)


def pca_lowrank(A: Any, q: int | None = None, center: bool = True, niter: int = 2,
                ) -> tuple[Any, Any, Any]:
    """(U, S, V) of the (column-centered, if ``center``) data matrix A, samples in rows: V's
    columns are the principal directions, S**2 / (m - 1) the variances along them."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if center:
        A = A - A.mean(dim=-2, keepdim=True)
    return svd_lowrank(A, q, niter=niter)


__all__ = ["svd_lowrank", "pca_lowrank"]
