"""torch.lobpcg: the k largest (or smallest) eigenpairs of a symmetric positive-definite
(generalized) eigenproblem A x = lambda B x by the Locally Optimal Block Preconditioned Conjugate
Gradient method, as torch's ``torch/_lobpcg.py`` (Pearu Peterson's): ``method="basic"`` is
Knyazev's (2001), ``method="ortho"`` (the default) adds Stathopoulos and Wu's orthogonal basis
selection (2002) with Duersch et al.'s (2018) convergence test.

Each step solves the small Rayleigh-Ritz problem on the span of [X, P, W] (current vectors,
search directions, preconditioned residuals). Only products with A, B and iK are needed, so A may
be sparse. The start X is random unless given (ndgrad's generator, not torch's stream), so the
eigenvectors agree with torch's up to sign once converged.

Backward (dense A, B None) is torch's: the symmetric eigen-decomposition's formula, plus, when
only k < m eigenpairs are found, the solution of a Sylvester equation on the orthogonal
complement of U (Hu and Cheng's polynomial solution). It is written with differentiable ndgrad
ops, so double backward works too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ndgrad import _dtype, linalg
from ndgrad.autograd.function import Function
from ndgrad.autograd.grad_mode import no_grad
from ndgrad.tensor.core import Tensor
from ndgrad.tensor.creation import eye, randn, zeros
from ndgrad.tensor.functions import cat, stack, where

__all__ = ["lobpcg"]

_TORCH_GENERATOR_SEED = 67280421310721  # a new torch.Generator's seed: a fixed projection


# -- small helpers (torch/_linalg_utils.py) --------------------------------------------------
def _is_sparse(A: Any) -> bool:
    return bool(getattr(A, "is_sparse", False))


def _mm(A: Tensor | None, X: Tensor) -> Tensor:
    """A @ X, with A = None meaning the identity."""
    return X if A is None else A @ X


def _qform(A: Tensor | None, S: Tensor) -> Tensor:
    """S^T A S."""
    return S.mT @ _mm(A, S)


def _symeig(A: Tensor, largest: bool | None = False) -> tuple[Tensor, Tensor]:
    """Eigenpairs of the symmetric A, ascending, or descending if ``largest``."""
    E, Z = linalg.eigh(A, UPLO="U")
    if largest:
        E, Z = E.flip(-1), Z.flip(-1)
    return E, Z


def _floating(A: Tensor) -> Any:
    return A.dtype if A._data.dtype.kind == "f" else _dtype.float32


# -- backward ----------------------------------------------------------------------------------
def _symeig_backward_complete_eigenspace(D_grad: Tensor, U_grad: Tensor, A: Tensor, D: Tensor,
                                         U: Tensor) -> Tensor:
    """U (diag(D_grad) + (U^T U_grad) * F) U^T with F_ij = 1 / (d_j - d_i), F_ii = 0."""
    diff = D.unsqueeze(-2) - D.unsqueeze(-1)
    on_diag = eye(D.shape[-1], dtype=D.dtype).bool()
    F = where(on_diag, math.inf, diff).reciprocal()
    Ut = U.mT
    return U @ ((D_grad.diag_embed() + (Ut @ U_grad) * F) @ Ut)


def _polynomial_coefficients_given_roots(roots: Tensor) -> Tensor:
    """(a_0, ..., a_n = 1) with prod_i (x - r_i) = sum_j a_j x^j, along the last dim."""
    one = roots.new_ones((*roots.shape[:-1], 1))
    zero = roots.new_zeros((*roots.shape[:-1], 1))
    coeffs = one
    for i in range(roots.shape[-1]):  # times (x - r_i): shift up, minus r_i times the old
        r = roots[..., i:i + 1]
        coeffs = cat([zero, coeffs], -1) - r * cat([coeffs, zero], -1)
    return coeffs


def _vector_polynomial_value(poly: Tensor, x: Tensor) -> Tensor:
    """The monic polynomial ``poly`` (low to high, last coefficient 1) at each x (Horner)."""
    res = x.new_ones(x.shape)
    for k in range(poly.shape[-1] - 2, -1, -1):
        res = poly[..., k].unsqueeze(-1) + x * res
    return res


def _matrix_polynomial_value(poly: Tensor, A: Tensor) -> Tensor:
    """The monic polynomial ``poly`` at the square matrix A (Horner)."""
    eye_m = eye(A.shape[-1], dtype=A.dtype)
    res = eye_m.expand(A.shape)
    for k in range(poly.shape[-1] - 2, -1, -1):
        res = A @ res + poly[..., k].unsqueeze(-1).unsqueeze(-1) * eye_m
    return res


def _symeig_backward_partial_eigenspace(D_grad: Tensor, U_grad: Tensor, A: Tensor, D: Tensor,
                                        U: Tensor, largest: bool) -> Tensor:
    """The complete-eigenspace term plus the part in span(U)'s orthogonal complement: the
    solution dX of the Sylvester equation U_o^T A U_o dX - dX D = -U_o^T A U, found through
    the characteristic polynomial p of D, whose value p(A) on U_o is definite."""
    from ndgrad.random import Generator

    Ut = U.mT
    proj_U_ortho = eye(A.shape[-1], dtype=A.dtype) - U @ Ut
    gen = Generator().manual_seed(_TORCH_GENERATOR_SEED)  # deterministic, as torch's
    basis = randn((*A.shape[:-1], A.shape[-1] - D.shape[-1]), dtype=A.dtype, generator=gen)
    U_ortho = proj_U_ortho @ basis
    U_ortho_t = U_ortho.mT
    chr_poly_D = _polynomial_coefficients_given_roots(D)

    # series_acc = sum_k A^(k-1) U_grad * (sum_{j>=k} p_j D^(j-k)), by Horner in A
    U_grad_projected = U_grad
    series_acc = U_grad.new_zeros(U_grad.shape)
    for k in range(1, chr_poly_D.shape[-1]):
        poly_D = _vector_polynomial_value(chr_poly_D[..., k:], D)
        series_acc = series_acc + U_grad_projected * poly_D.unsqueeze(-2)
        U_grad_projected = A @ U_grad_projected

    chr_poly_D_at_A = _matrix_polynomial_value(chr_poly_D, A)
    on_ortho = U_ortho_t @ (chr_poly_D_at_A @ U_ortho)
    # definite: positive unless the largest eigenvalues were asked for and k is odd
    sign = -1 if (largest and (k % 2 == 1)) else +1
    L = linalg.cholesky(sign * on_ortho)
    res = _symeig_backward_complete_eigenspace(D_grad, U_grad, A, D, U)
    return res - (U_ortho @ (sign * (U_ortho_t @ series_acc).cholesky_solve(L))) @ Ut


def _symeig_backward(D_grad: Tensor, U_grad: Tensor, A: Tensor, D: Tensor, U: Tensor,
                     largest: bool) -> Tensor:
    if U.shape[-1] == U.shape[-2]:
        return _symeig_backward_complete_eigenspace(D_grad, U_grad, A, D, U)
    return _symeig_backward_partial_eigenspace(D_grad, U_grad, A, D, U, largest)


class LOBPCGAutogradFunction(Function):
    """lobpcg as an op of the graph: forward runs the iteration, backward differentiates the
    eigenpairs found (dense A, B None only, as in torch)."""

    @staticmethod
    def forward(ctx: Any, A: Tensor, k: int | None = None, B: Tensor | None = None,  # type: ignore[override]
                X: Tensor | None = None, n: int | None = None, iK: Tensor | None = None,
                niter: int | None = None, tol: float | None = None, largest: bool | None = None,
                method: str | None = None, tracker: Any = None,
                ortho_iparams: dict[str, int] | None = None,
                ortho_fparams: dict[str, float] | None = None,
                ortho_bparams: dict[str, bool] | None = None,
                a_sparse: bool = False) -> tuple[Tensor, Tensor]:
        D, U = _lobpcg(A, k, B, X, n, iK, niter, tol, largest, method, tracker, ortho_iparams,
                       ortho_fparams, ortho_bparams)
        ctx.save_for_backward(A, B, D, U)
        ctx.largest, ctx.a_sparse = largest, a_sparse  # (A was sparse before symmetrizing)
        return D, U

    @staticmethod
    def backward(ctx: Any, D_grad: Tensor | None, U_grad: Tensor | None,  # type: ignore[override]
                 ) -> tuple[Any, ...]:
        A, B, D, U = ctx.saved_tensors
        B_sparse = B is not None and _is_sparse(B) and ctx.needs_input_grad[2]
        if ctx.a_sparse or _is_sparse(A) or B_sparse:
            raise ValueError("lobpcg.backward does not support sparse input yet. "
                             "Note that lobpcg.forward does though.")
        if A.is_complex() or (B is not None and B.is_complex()):
            raise ValueError("lobpcg.backward does not support complex input yet. "
                             "Note that lobpcg.forward does though.")
        if B is not None:
            raise ValueError("lobpcg.backward does not support backward with B != I yet.")
        largest = True if ctx.largest is None else ctx.largest
        D_grad = D.new_zeros(D.shape) if D_grad is None else D_grad
        U_grad = U.new_zeros(U.shape) if U_grad is None else U_grad
        A_grad = _symeig_backward(D_grad, U_grad, A, D, U, largest)
        return (A_grad,) + (None,) * 14


def lobpcg(A: Tensor, k: int | None = None, B: Tensor | None = None, X: Tensor | None = None,
           n: int | None = None, iK: Tensor | None = None, niter: int | None = None,
           tol: float | None = None, largest: bool | None = None, method: str | None = None,
           tracker: Callable[[LOBPCG], None] | None = None,
           ortho_iparams: dict[str, int] | None = None,
           ortho_fparams: dict[str, float] | None = None,
           ortho_bparams: dict[str, bool] | None = None) -> tuple[Tensor, Tensor]:
    """(E (*, k), X (*, m, k)): the k largest (``largest=False``: smallest) eigenvalues of
    A x = E B x and their B-orthonormal eigenvectors, by LOBPCG (see the module docstring);
    differentiable in A for dense A and B None (A is symmetrized first, as torch does)."""
    if A.requires_grad or (B is not None and B.requires_grad):
        # A's gradient is made symmetric, so that A - lr * A.grad stays symmetric
        A_sym = (A + A.mT) / 2
        B_sym = (B + B.mT) / 2 if B is not None else None
        return LOBPCGAutogradFunction.apply(A_sym, k, B_sym, X, n, iK, niter, tol, largest,
                                            method, tracker, ortho_iparams, ortho_fparams,
                                            ortho_bparams, _is_sparse(A))
    with no_grad():
        return _lobpcg(A, k, B, X, n, iK, niter, tol, largest, method, tracker, ortho_iparams,
                       ortho_fparams, ortho_bparams)


def _lobpcg(A: Tensor, k: int | None, B: Tensor | None, X: Tensor | None, n: int | None,
            iK: Tensor | None, niter: int | None, tol: float | None, largest: bool | None,
            method: str | None, tracker: Any, ortho_iparams: dict[str, int] | None,
            ortho_fparams: dict[str, float] | None,
            ortho_bparams: dict[str, bool] | None) -> tuple[Tensor, Tensor]:
    """The iteration on detached inputs, one worker per matrix of a batch."""
    if A.shape[-2] != A.shape[-1]:
        raise AssertionError(f"A must be square, got shape {A.shape}")
    if B is not None and A.shape != B.shape:
        raise AssertionError(f"A and B must have same shape, got {A.shape} vs {B.shape}")
    dtype = _floating(A)
    if tol is None:
        feps = {_dtype.float32: 1.2e-07, _dtype.float64: 2.23e-16}[dtype]
        tol = feps**0.5
    m = A.shape[-1]
    k = (1 if X is None else X.shape[-1]) if k is None else k
    n = (k if n is None else n) if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m})"
                         f" is smaller than 3 x the number of requested eigenpairs (={n})")
    method = "ortho" if method is None else method
    iparams = {"m": m, "n": n, "k": k, "niter": 1000 if niter is None else niter}
    fparams = {"tol": tol}
    bparams = {"largest": True if largest is None else largest}
    if method == "ortho":
        iparams.update(ortho_iparams or {})
        fparams.update(ortho_fparams or {})
        bparams.update(ortho_bparams or {})
        iparams.setdefault("ortho_i_max", 3)
        iparams.setdefault("ortho_j_max", 3)
        fparams.setdefault("ortho_tol", tol)
        fparams.setdefault("ortho_tol_drop", tol)
        fparams.setdefault("ortho_tol_replace", tol)
        bparams.setdefault("ortho_use_drop", False)

    A, B = A.detach(), None if B is None else B.detach()
    if A.ndim > 2:
        batch = tuple(A.shape[:-2])
        N = math.prod(batch)
        bA = A.reshape((N, m, m))
        bB = B.reshape((N, m, m)) if B is not None else None
        bX = X.reshape((N, *X.shape[-2:])) if X is not None else None
        Es, Xs = [], []
        for i in range(N):
            X_ = randn((m, n), dtype=dtype) if bX is None else bX[i]
            if not (X_.ndim == 2 and tuple(X_.shape) == (m, n)):
                raise AssertionError(f"X_ shape mismatch: got {X_.shape}, expected {(m, n)}")
            iparams["batch_index"] = i
            worker = LOBPCG(bA[i], None if bB is None else bB[i], X_, iK, iparams, fparams,
                            bparams, method, tracker)
            worker.run()
            Es.append(worker.E[:k])
            Xs.append(worker.X[:, :k])
        return stack(Es).reshape((*batch, k)), stack(Xs).reshape((*batch, m, k))

    X = randn((m, n), dtype=dtype) if X is None else X
    if not (X.ndim == 2 and tuple(X.shape) == (m, n)):
        raise AssertionError(f"X shape mismatch: got {X.shape}, expected {(m, n)}")
    worker = LOBPCG(A, B, X, iK, iparams, fparams, bparams, method, tracker)
    worker.run()
    return worker.E[:k], worker.X[:, :k]


class LOBPCG:
    """The iteration's state (as torch's worker, which ``tracker`` receives each step):
    ``iparams``/``fparams``/``bparams`` (settings), ``ivars``/``fvars``/``bvars``/``tvars``
    (iteration variables: ``ivars["istep"]``, ``ivars["converged_count"]``,
    ``tvars["rerr"]``), ``A``, ``B``, ``iK`` and ``E``, ``X``, ``S``, ``R``. A tracker that sets
    ``bvars["force_stop"] = True`` stops the iteration."""

    def __init__(self, A: Tensor | None, B: Tensor | None, X: Tensor, iK: Tensor | None,
                 iparams: dict[str, int], fparams: dict[str, float], bparams: dict[str, bool],
                 method: str, tracker: Any) -> None:
        self.A, self.B, self.iK = A, B, iK
        self.iparams, self.fparams, self.bparams = iparams, fparams, bparams
        self.method, self.tracker = method, tracker
        m, n = iparams["m"], iparams["n"]
        self.X = X
        self.E = zeros((n,), dtype=X.dtype)
        self.R = zeros((m, n), dtype=X.dtype)
        self.S = zeros((m, 3 * n), dtype=X.dtype)
        self.tvars: dict[str, Tensor] = {}
        self.ivars: dict[str, int] = {"istep": 0}
        self.fvars: dict[str, float] = {"_": 0.0}
        self.bvars: dict[str, bool] = {"_": False}

    def __str__(self) -> str:
        names = ["iparams", "fparams", "bparams", "ivars", "fvars", "bvars", "tvars", "A", "B",
                 "iK", "X", "E"]
        return "LOBPCG:\n" + "".join(f"  {a}={getattr(self, a)}\n" for a in names)

    def update(self) -> None:
        """One step (the first also measures the norms the convergence test uses)."""
        if self.ivars["istep"] == 0:
            X_norm = float(self.X.norm())
            iX_norm = X_norm**-1
            self.fvars["X_norm"] = X_norm
            self.fvars["A_norm"] = float(_mm(self.A, self.X).norm()) * iX_norm
            self.fvars["B_norm"] = float(_mm(self.B, self.X).norm()) * iX_norm
            self.ivars["iterations_left"] = self.iparams["niter"]
            self.ivars["converged_count"] = 0
            self.ivars["converged_end"] = 0
        if self.method == "ortho":
            self._update_ortho()
        else:
            self._update_basic()
        self.ivars["iterations_left"] -= 1
        self.ivars["istep"] += 1

    def update_residual(self) -> None:
        """R = A X - B X diag(E)."""
        self.R = _mm(self.A, self.X) - _mm(self.B, self.X) * self.E

    def update_converged_count(self) -> int:
        """How many leading eigenpairs meet the backward-stable test of Duersch et al.
        (sec. 4.3): |r_i| < tol |x_i| (|A| + |e_i| |B|)."""
        prev_count = self.ivars["converged_count"]
        tol = self.fparams["tol"]
        A_norm, B_norm = self.fvars["A_norm"], self.fvars["B_norm"]
        E, X, R = self.E, self.X, self.R
        rerr = R.norm(2, (0,)) / (X.norm(2, (0,)) * (A_norm + E[:X.shape[-1]].abs() * B_norm))
        count = 0
        for b in (rerr < tol).tolist():
            if not b:  # later pairs wait, to keep the eigenpairs in order
                break
            count += 1
        if count < prev_count:
            raise AssertionError(f"the number of converged eigenpairs (was {prev_count}, got "
                                 f"{count}) cannot decrease")
        self.ivars["converged_count"] = count
        self.tvars["rerr"] = rerr
        return count

    def stop_iteration(self) -> bool:
        return (self.bvars.get("force_stop", False) or self.ivars["iterations_left"] == 0
                or self.ivars["converged_count"] >= self.iparams["k"])

    def run(self) -> None:
        """Step until converged, out of iterations, or stopped by the tracker."""
        self.update()
        if self.tracker is not None:
            self.call_tracker()
        while not self.stop_iteration():
            self.update()
            if self.tracker is not None:
                self.call_tracker()

    def call_tracker(self) -> None:
        self.tracker(self)

    def _update_basic(self) -> None:
        """A step of Knyazev's LOBPCG: Rayleigh-Ritz on the B-orthonormalized [X, P, W]."""
        ns, nc = self.ivars["converged_end"], self.ivars["converged_count"]
        n, largest = self.iparams["n"], self.bparams["largest"]
        if self.ivars["istep"] == 0:
            Ri = self._get_rayleigh_ritz_transform(self.X)
            M = _qform(_qform(self.A, self.X), Ri)
            E, Z = _symeig(M, largest)
            self.X[:] = self.X @ (Ri @ Z)
            self.E[:] = E
            n_p = 0
            self.update_residual()
            nc = self.update_converged_count()
            self.S[..., :n] = self.X
            W = _mm(self.iK, self.R)
            self.ivars["converged_end"] = ns = n + n_p + W.shape[-1]
            self.S[:, n + n_p:ns] = W
        else:
            S_ = self.S[:, nc:ns]
            Ri = self._get_rayleigh_ritz_transform(S_)
            M = _qform(_qform(self.A, S_), Ri)
            E_, Z = _symeig(M, largest)
            self.X[:, nc:] = S_ @ (Ri @ Z[:, :n - nc])
            self.E[nc:] = E_[:n - nc]
            P = S_ @ (Ri @ Z[:, n:2 * n - nc])
            n_p = P.shape[-1]
            self.update_residual()
            nc = self.update_converged_count()
            self.S[..., :n] = self.X
            self.S[:, n:n + n_p] = P
            W = _mm(self.iK, self.R[:, nc:])
            self.ivars["converged_end"] = ns = n + n_p + W.shape[-1]
            self.S[:, n + n_p:ns] = W

    def _update_ortho(self) -> None:
        """A step of the orthogonal-basis LOBPCG: [X, P, W] kept B-orthonormal, so the
        Rayleigh-Ritz problem is a standard one."""
        ns, nc = self.ivars["converged_end"], self.ivars["converged_count"]
        n, largest = self.iparams["n"], self.bparams["largest"]
        if self.ivars["istep"] == 0:
            Ri = self._get_rayleigh_ritz_transform(self.X)
            M = _qform(_qform(self.A, self.X), Ri)
            _E, Z = _symeig(M, largest)
            self.X = self.X @ (Ri @ Z)
            self.update_residual()
            n_p = 0
            nc = self.update_converged_count()
            self.S[:, :n] = self.X
            W = self._get_ortho(self.R, self.X)
            ns = self.ivars["converged_end"] = n + n_p + W.shape[-1]
            self.S[:, n + n_p:ns] = W
        else:
            S_ = self.S[:, nc:ns]
            E_, Z = _symeig(_qform(self.A, S_), largest)  # Rayleigh-Ritz
            self.X[:, nc:] = S_ @ Z[:, :n - nc]
            self.E[nc:] = E_[:n - nc]
            P = S_ @ (Z[:, n - nc:] @ linalg.qr(Z[:n - nc, n - nc:].mT).Q)
            n_p = P.shape[-1]
            self.update_residual()
            nc = self.update_converged_count()
            self.S[:, :n] = self.X
            self.S[:, n:n + n_p] = P
            W = self._get_ortho(self.R[:, nc:], self.S[:, :n + n_p])
            ns = self.ivars["converged_end"] = n + n_p + W.shape[-1]
            self.S[:, n + n_p:ns] = W

    def _get_rayleigh_ritz_transform(self, S: Tensor) -> Tensor:
        """Ri (upper triangular) with Ri^T S^T B S Ri = I: with d = diag(S^T B S)^(-1/2) and
        R^T R the Cholesky factorization of d d^T * S^T B S, Ri = R^-1 * d (Duersch et al.)."""
        SBS = _qform(self.B, S)
        d_row = SBS.diagonal(0, -2, -1) ** -0.5
        d_col = d_row.reshape(d_row.shape[0], 1)
        R = linalg.cholesky((SBS * d_row) * d_col, upper=True)
        return linalg.solve_triangular(R, d_row.diag_embed(), upper=True, left=False)

    def _get_svqb(self, U: Tensor, drop: bool, tau: float) -> Tensor:
        """B-orthonormal columns spanning U's (Algorithm 4 of Duersch's thesis; with ``drop``,
        the columns adding less than tau to the span are dropped instead of kept)."""
        if U.numel() == 0:
            return U
        UBU = _qform(self.B, U)
        d = UBU.diagonal(0, -2, -1)
        nz = (d.abs() != 0.0).nonzero(as_tuple=True)[0]
        if len(nz) < len(d):  # exact zero columns: d ** -0.5 would fail
            U = U[:, nz]
            if U.numel() == 0:
                return U
            UBU = _qform(self.B, U)
            d = UBU.diagonal(0, -2, -1)
        d_col = (d**-0.5).reshape(d.shape[0], 1)
        DUBUD = (UBU * d_col) * d_col.mT
        E, Z = _symeig(DUBUD)
        t = tau * float(E.abs().max())
        if drop:
            keep = (E > t).nonzero(as_tuple=True)[0]
            E, Z, d_col = E[keep], Z[:, keep], d_col[keep]
        else:
            E[(E < t).nonzero(as_tuple=True)[0]] = t
        return (U * d_col.mT) @ (Z * E**-0.5)

    def _get_ortho(self, U: Tensor, V: Tensor) -> Tensor:
        """U's columns made B-orthonormal and B-orthogonal to V's (Algorithms 3 and 6 of
        Duersch's thesis); empty when all of U lies in span(V)."""
        m = self.iparams["m"]
        tau_ortho = self.fparams["ortho_tol"]
        tau_drop = self.fparams["ortho_tol_drop"]
        tau_replace = self.fparams["ortho_tol_replace"]
        i_max, j_max = self.iparams["ortho_i_max"], self.iparams["ortho_j_max"]
        use_drop = self.bparams["ortho_use_drop"]
        for vkey in list(self.fvars):  # clean up the previous call's records
            if vkey.startswith("ortho_") and vkey.endswith("_rerr"):
                self.fvars.pop(vkey)
        self.ivars.pop("ortho_i", 0)
        self.ivars.pop("ortho_j", 0)

        BV_norm = _mm(self.B, V).norm()
        BU = _mm(self.B, U)
        VBU = V.mT @ BU
        i = j = 0
        for i in range(i_max):
            U = U - V @ VBU
            drop = False
            tau_svqb = tau_drop
            for j in range(j_max):
                if use_drop:
                    U = self._get_svqb(U, drop, tau_svqb)
                    drop = True
                    tau_svqb = tau_replace
                else:
                    U = self._get_svqb(U, False, tau_replace)
                if U.numel() == 0:  # all of U is B-collinear to V
                    self.ivars["ortho_i"], self.ivars["ortho_j"] = i, j
                    return U
                BU = _mm(self.B, U)
                UBU = U.mT @ BU
                R = UBU - eye(UBU.shape[-1], dtype=UBU.dtype)
                rerr = float(R.norm()) * float(BU.norm() * U.norm()) ** -1
                self.fvars[f"ortho_UBUmI_rerr[{i}, {j}]"] = rerr
                if rerr < tau_ortho:
                    break
            VBU = V.mT @ BU
            rerr = float(VBU.norm()) * float(BV_norm * U.norm()) ** -1
            self.fvars[f"ortho_VBU_rerr[{i}]"] = rerr
            if rerr < tau_ortho:
                break
            if m < U.shape[-1] + V.shape[-1]:
                n_b = self.B.shape[-1] if self.B is not None else m
                raise ValueError(f"Overdetermined shape of U: #B-cols(={n_b}) >= #U-cols(="
                                 f"{U.shape[-1]}) + #V-cols(={V.shape[-1]}) must hold")
        self.ivars["ortho_i"], self.ivars["ortho_j"] = i, j
        return U
