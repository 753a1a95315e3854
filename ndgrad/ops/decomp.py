"""Matrix decompositions and what is computed from them: Cholesky, QR, SVD, eigh, eig, LU,
determinants, the pseudo-inverse; and the matrix exponential.

As in ``solve.py``: forward on NumPy's LAPACK (batched), backward is PyTorch's formula in
Tensor ops, differentiable again. The formulas for SVD and eigh divide by differences of
singular values (eigenvalues): they are only defined where those are distinct, and give
inf/nan otherwise, as torch's do. Their gradients are "gauge invariant" only for losses that do
not depend on the sign of each singular vector / eigenvector (torch's documented caveat).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.ops import _lapack
from ndgrad.ops._lapack import LinAlgError
from ndgrad.ops.base import Primitive
from ndgrad.ops.shape import Cat
from ndgrad.ops.solve import Solve, SolveTriangular, cat, diag_embed, mH, undefined, zeros


class Cholesky(Primitive):
    """A = L L^H (lower) or U^H U (upper), from A's lower (upper) triangle.

    gA = L^-H Phi(L^H gL) L^-1 with Phi taking the lower triangle and halving the diagonal,
    symmetrized (Murray 2016, torch's cholesky_backward)."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any, upper: Any, check: Any, name: Any) -> Any:
        ctx.upper = upper
        l, info = _lapack.cholesky(a.swapaxes(-1, -2).conj() if upper else a)
        if check and info.any():
            where, i = _lapack.batch_prefix(info, a.ndim)
            raise LinAlgError(f"{name}: {where}The factorization could not be completed because "
                              f"the input is not positive-definite (the leading minor of order "
                              f"{i} is not positive-definite).")
        out = np.ascontiguousarray(l.swapaxes(-1, -2).conj()) if upper else l
        ctx.save_for_backward(out)
        return out, info

    @staticmethod
    def backward(ctx: Any, grad: Any, _info: Any) -> Any:
        (l,) = ctx.saved_like(grad)
        if ctx.upper:
            l, grad = mH(l), mH(grad)
        ga = (mH(l) @ grad).tril()
        ga = 0.5 * (ga + mH(ga.tril(-1)))
        ga = SolveTriangular.apply(mH(l), ga, True, True, False)
        return SolveTriangular.apply(l, ga, False, False, False), None, None, None


class QR(Primitive):
    """A = Q R (Householder, LAPACK's geqrf + orgqr). torch's linalg_qr_backward: for m >= n,
    gA = (gQ + Q copyltu(M)) R^-H with M = R gR^H - gQ^H Q; the wide case works on the
    leading square block of R."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any, mode: Any) -> Any:
        ctx.mode = mode
        q: Any
        r: Any
        if mode == "r":
            q, r = np.zeros((0,), a.dtype), np.linalg.qr(a, mode="r")
        else:
            q, r = np.linalg.qr(a, mode=mode)
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def backward(ctx: Any, gq: Any, gr: Any) -> Any:
        q, r = ctx.saved_like(gq)
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                               "going to differentiate through linalg.qr.")
        m, n = q.shape[-2], r.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        ga = gr @ mH(r) - mH(q) @ gq
        if m >= n:
            ga = ga.triu()
            ga = ga + mH(ga)
            ga = ga - 0.5 * diag_embed(ga.diagonal(0, -2, -1))
            ga = SolveTriangular.apply(mH(r), q @ ga + gq, False, False, False)
            return ga, None
        ga = -ga
        ga = q @ (ga - mH(ga)).tril()
        ga = SolveTriangular.apply(mH(r[..., :m]), ga, False, False, False)
        ga = cat([ga, zeros(ga, tuple(ga.shape[:-1]) + (n - m,))], -1)
        return ga + q @ gr, None


class SVD(Primitive):
    """A = U diag(S) Vh. torch's svd_backward (real case):
    gA = U [(skew(U^T gU) / E) S + S (skew(V^T gV) / E) + diag(gS)] Vh, E_jk = S_k^2 - S_j^2,
    plus (I - U U^T) gU S^-1 Vh when m > n (or the mirror term when m < n). With
    full_matrices, only the first k = min(m, n) singular vectors carry gradient."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any, full_matrices: Any) -> Any:
        ctx.full = full_matrices
        u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx: Any, gu: Any, gs: Any, gvh: Any) -> Any:
        u, s, vh = ctx.saved_like(gu)
        m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
        if ctx.full:
            u, vh, gu, gvh = u[..., :k], vh[..., :k, :], gu[..., :k], gvh[..., :k, :]
        no_u, no_v = undefined(gu), undefined(gvh)
        if no_u and no_v:  # svdvals: gA = U diag(gS) Vh
            return (u @ (gs.unsqueeze(-1) * vh) if m >= n else (u * gs.unsqueeze(-2)) @ vh), None
        s2 = s * s
        e = s2.unsqueeze(-2) - s2.unsqueeze(-1) + _eye_like(s)  # any nonzero on the diagonal
        if not no_u:
            uhgu = mH(u) @ gu
            uhgu = uhgu - mH(uhgu)
        if not no_v:
            vhgv = vh @ mH(gvh)
            vhgv = vhgv - mH(vhgv)
        if no_v:
            ga = (uhgu / e) * s.unsqueeze(-2)
        elif no_u:
            ga = s.unsqueeze(-1) * (vhgv / e)
        else:
            ga = (uhgu * s.unsqueeze(-2) + s.unsqueeze(-1) * vhgv) / e
        ga = ga + diag_embed(gs)
        if m > n and not no_u:
            ga = u @ ga
            gu_sinv = gu / s.unsqueeze(-2)
            ga = (ga + gu_sinv - u @ (mH(u) @ gu_sinv)) @ vh
        elif m < n and not no_v:
            ga = ga @ vh
            sinv_gvh = gvh / s.unsqueeze(-1)
            ga = u @ (ga + sinv_gvh - (sinv_gvh @ mH(vh)) @ vh)
        else:
            ga = u @ (ga @ vh) if m >= n else (u @ ga) @ vh
        return ga, None


def _eye_like(s: Any) -> Any:
    """The identity matching the matrices whose diagonal is s (..., k)."""
    return s._make(np.eye(s.shape[-1], dtype=s._data.dtype))


class Eigh(Primitive):
    """A = V diag(L) V^H for symmetric A, from its lower (UPLO='L') or upper triangle.

    gA = V (diag(gL) + skew(V^H gV) / 2E) V^H with E_ij = L_j - L_i (torch's
    linalg_eig_backward, hermitian case); only gL: gA = V diag(gL) V^H."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any, uplo: Any) -> Any:
        w, v = np.linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx: Any, gl: Any, gv: Any) -> Any:
        w, v = ctx.saved_like(gl)
        if undefined(gv):
            return (v * gl.unsqueeze(-2)) @ mH(v), None
        vhgv = mH(v) @ gv
        vhgv = 0.5 * (vhgv - mH(vhgv))
        e = w.unsqueeze(-2) - w.unsqueeze(-1) + _eye_like(w)
        ga = vhgv / e + diag_embed(gl)
        return v @ (ga @ mH(v)), None


class MatrixExp(Primitive):
    """exp(A) by scaling and squaring (``_lapack.expm``). Its adjoint is the top-right block of
    exp([[A^H, G], [0, A^H]]) (Mathias 1996; torch's linalg_matrix_exp_differential), itself a
    matrix exponential, so double backward comes for free."""

    array_backward = False  # builds the block matrix with Cat

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        return _lapack.expm(a)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (a,) = ctx.saved_like(grad)
        n, d = a.shape[-1], a.ndim
        ah = a.mT  # exp is holomorphic: the plain transpose (see ops/complex.py)
        zero = a._make(np.zeros(tuple(a.shape), a._data.dtype))
        top = Cat.apply(ah, grad, dim=d - 1)
        bottom = Cat.apply(zero, ah, dim=d - 1)
        return MatrixExp.apply(Cat.apply(top, bottom, dim=d - 2))[..., :n, n:]


class Eig(Primitive):
    """A V = V diag(L) for a general real matrix: complex eigenvalues and eigenvectors (columns
    of norm 1, LAPACK's geev). torch's linalg_eig_backward, in torch's convention for complex
    gradients (the cotangents arrive conjugated, see ops/complex.py):
    gA = V^-H (diag(gL) + (V^H gV - V^H V Re(diag(V^H gV))) / conj(E)) V^H, real part taken.
    Each eigenvector is defined up to a phase e^{i phi}: a loss that depends on it raises."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        cdt = np.result_type(a.dtype, np.complex64)
        w, v = np.linalg.eig(a)
        w, v = w.astype(cdt), v.astype(cdt)
        ctx.real = a.dtype.kind != "c"
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx: Any, hl: Any, hv: Any) -> Any:
        w, v = ctx.saved_like(hl)
        gl, vh = hl.conj(), v.conj().mT
        if undefined(hv):
            ga = Solve.apply(vh, gl.unsqueeze(-1) * vh, False)[0]
            return ga.real if ctx.real else ga.conj()
        vhgv = vh @ hv.conj()
        d = vhgv.diagonal(0, -2, -1)
        if not np.allclose(d._data.imag, 0, rtol=1e-2, atol=1e-2):
            raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are "
                               "specified up to multiplication by e^{i phi}. The specified loss "
                               "function depends on this quantity, so it is ill-defined.")
        vhgv = vhgv - vh @ (v * d.real.unsqueeze(-2))
        wc = w.conj()
        eye = _eye_like(w.real)
        ga = vhgv / (wc.unsqueeze(-2) - wc.unsqueeze(-1) + eye)
        ga = ga * (1 - eye) + diag_embed(gl)
        ga = Solve.apply(vh, ga @ vh, False)[0]
        return ga.real if ctx.real else ga.conj()  # back to the engine's convention


def lu_unpack(lu: Any, pivots: Any) -> tuple[Any, Any, Any]:
    """(P, L, U) from the packed factors: P a permutation matrix (from the pivots, constant),
    L unit lower (m, k), U upper (k, n). Differentiable in ``lu`` through tril/triu."""
    m, n = lu.shape[-2], lu.shape[-1]
    k = min(m, n)
    perm = _lapack.permutation(pivots._data, m)
    # P[..., perm[i], i] = 1, so that A = P L U
    p = (perm[..., None, :] == np.arange(m)[:, None]).astype(lu._data.dtype)
    low = lu[..., :k].tril(-1) + lu._make(np.eye(m, k, dtype=lu._data.dtype))
    up = lu[..., :k, :].triu()
    return lu._make(p), low, up


def lu_backward(gl: Any, gu: Any, p: Any, l: Any, u: Any) -> Any:
    """torch's linalg_lu_backward: A = P L U, L (m, k) unit lower, U (k, n) upper."""
    m, n = l.shape[-2], u.shape[-1]
    k = min(m, n)
    if m == n:
        ga = (mH(l) @ gl).tril(-1) + (gu @ mH(u)).triu()
        ga = SolveTriangular.apply(mH(u), ga, False, False, False)
        ga = SolveTriangular.apply(mH(l), ga, True, True, True)
    elif m < n:  # wide: U = (U1 | U2)
        ga = mH(l) @ gl - gu.triu() @ mH(u)
        ga = SolveTriangular.apply(mH(u[..., :k]), ga.tril(-1), False, False, False)
        ga = cat([ga + gu[..., :k].triu(), gu[..., k:]], -1)
        ga = SolveTriangular.apply(mH(l), ga, True, True, True)
    else:  # tall: L = (L1 ; L2)
        ga = gu @ mH(u) - mH(l) @ gl.tril(-1)
        ga = SolveTriangular.apply(mH(l[..., :k, :]), ga.triu(), True, True, True)
        ga = cat([ga + gl[..., :k, :].tril(-1), gl[..., k:, :]], -2)
        ga = SolveTriangular.apply(mH(u), ga, False, False, False)
    return p @ ga


class LUFactor(Primitive):
    """PA = LU packed in one matrix (getrf). The gradient is torch's lu_factor_ex_backward:
    the packed gradient split into gL (below the diagonal) and gU, then linalg_lu_backward."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any, check: Any) -> Any:
        lu, piv, info = _lapack.lu_factor(a)
        if check and info.any():
            where, i = _lapack.batch_prefix(info, a.ndim)
            raise RuntimeError(f"torch.linalg.lu_factor: {where}U[{i},{i}] is zero and using it "
                              f"on lu_solve would result in a division by zero. If you still "
                              f"want to perform the factorization, consider calling "
                              f"linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")
        ctx.save_for_backward(lu, piv)
        return lu, piv, info

    @staticmethod
    def backward(ctx: Any, grad: Any, _piv: Any, _info: Any) -> Any:
        lu, piv = ctx.saved_like(grad)
        p, l, u = lu_unpack(lu, piv)
        k = min(lu.shape[-2], lu.shape[-1])
        return lu_backward(grad[..., :k], grad[..., :k, :], p, l, u), None


class LDLFactor(Primitive):
    """A = L D L^T with Bunch-Kaufman pivoting, packed as LAPACK's sytrf (see _lapack). Not
    differentiable: torch has no derivative for it, and asking for one raises as torch's."""

    @staticmethod
    def forward(ctx: Any, a: Any, fn: Any, check: Any) -> Any:
        ld, piv, info = _lapack.ldl_factor(a)
        if check and info.any():
            where, i = _lapack.batch_prefix(info, a.ndim)
            raise LinAlgError(f"{fn}: {where}D[{i},{i}] is 0: the block diagonal matrix D is "
                              f"exactly singular, and solving with it would divide by zero.")
        return ld, piv, info

    @staticmethod
    def backward(ctx: Any, grad: Any, _piv: Any, _info: Any) -> Any:
        raise RuntimeError("derivative for aten::linalg_ldl_factor_ex is not implemented")


class Det(Primitive):
    """det(A); gA = g det(A) A^-H (A^-T in the engine's convention, see ops/complex.py; det is
    holomorphic). Without create_graph torch solves with A's LU, so an
    exactly singular A gets a zero gradient; with create_graph it uses the adjugate (from the
    SVD) where |det| < 100 eps, which stays differentiable."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        out = np.linalg.det(a)
        out = np.asarray(out, a.dtype)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        a, det = ctx.saved_like(grad)
        if a.numel() == 0:
            return zeros(a, tuple(a.shape))
        d = (grad * det).unsqueeze(-1).unsqueeze(-1)
        if not grad_state.enabled:
            inv = _lapack.inv(a._data)[0]
            out = np.where(det._data[..., None, None] == 0, 0, d._data * inv.swapaxes(-1, -2))
            return a._make(out.astype(a._data.dtype))
        eps = np.finfo(a._data.dtype).eps
        singular = (det.abs() < 100 * eps).unsqueeze(-1).unsqueeze(-1)
        n = a.shape[-1]
        eye = a._make(np.eye(n, dtype=a._data.dtype))
        ramp = a._make(np.diag(np.arange(1, n + 1, dtype=a._data.dtype)))
        # each branch sees only matrices it is defined on (the rest replaced by harmless ones),
        # so that neither sends inf/nan into the other's gradient
        nonsingular = Solve.apply(eye.where(singular, a).mT, d * eye, False)[0]
        if a.is_complex():
            return nonsingular
        return _adjugate_h(ramp.where(~singular, a), grad).where(singular, nonsingular)


def _adjugate_h(a: Any, grad: Any) -> Any:
    """grad * adj(A)^H from the SVD, defined for singular A too (torch's det_backward)."""
    u, s, vh = SVD.apply(a, False)
    alpha = (Det.apply(u) * Det.apply(vh)) * grad
    # D_i = alpha * prod_{j != i} S_j: the gradient of prod(S), exact with zeros in S
    n = s.shape[-1]
    others = s.unsqueeze(-2).expand(tuple(s.shape[:-1]) + (n, n))
    mask = s._make(np.eye(n, dtype=bool))
    d = others.masked_fill(mask, 1.0).prod(-1) * alpha.unsqueeze(-1)
    return (u * d.unsqueeze(-2)) @ vh


class Slogdet(Primitive):
    """(sign, log|det A|); g_logabsdet A^-H (the sign is piecewise constant for real A)."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        sign, logabs = np.linalg.slogdet(a)
        ctx.save_for_backward(a)
        return np.asarray(sign, a.dtype), np.asarray(logabs, a.dtype)

    @staticmethod
    def backward(ctx: Any, _gsign: Any, glogabs: Any) -> Any:
        (a,) = ctx.saved_like(glogabs)
        n = a.shape[-1]
        d = glogabs.unsqueeze(-1).unsqueeze(-1) * a._make(np.eye(n, dtype=a._data.dtype))
        return Solve.apply(mH(a), d, False)[0]


class Pinv(Primitive):
    """The Moore-Penrose pseudo-inverse from the SVD (or eigh if hermitian), singular values at
    or below max(atol, rtol * largest) dropped. Gradient: torch's pinv_backward."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any, atol: Any, rtol: Any, hermitian: Any) -> Any:
        m, n = a.shape[-2], a.shape[-1]
        if a.size == 0:
            out = np.zeros(a.shape[:-2] + (n, m), a.dtype)
        elif hermitian:
            w, v = np.linalg.eigh(a)
            absw = np.abs(w)
            tol = np.maximum(atol[..., None], rtol[..., None] * absw.max(-1, keepdims=True))
            winv = np.where(absw > tol, 1 / np.where(w == 0, 1, w), 0).astype(a.dtype)
            out = (v * winv[..., None, :]) @ v.swapaxes(-1, -2).conj()
        else:
            u, s, vh = np.linalg.svd(a, full_matrices=False)
            tol = np.maximum(atol[..., None], rtol[..., None] * s[..., :1])
            sinv = np.where(s > tol, 1 / np.where(s == 0, 1, s), 0).astype(a.dtype)
            out = (vh.swapaxes(-1, -2).conj() * sinv[..., None, :]) @ u.swapaxes(-1, -2).conj()
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        a, p = ctx.saved_like(grad)
        m, n = a.shape[-2], a.shape[-1]
        ph, gh = mH(p), mH(grad)
        if m <= n:
            k = gh @ p
            kph = k @ ph
            ga = -mH(p @ k) + kph - (a @ p) @ kph + (ph @ p) @ (gh - k @ a)
        else:
            k = p @ gh
            phk = ph @ k
            ga = -mH(k @ p) + ((gh - a @ k) @ p) @ ph + phk - (phk @ p) @ a
        return ga, None, None, None
