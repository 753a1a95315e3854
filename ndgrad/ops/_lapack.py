"""What NumPy's LAPACK does not expose, written in NumPy on arrays (no autograd here).

``np.linalg`` gives batched inv, solve, det, cholesky, qr, svd, eig and eigh, but not LU with
partial pivoting (LAPACK's getrf), triangular solves (trtrs), the failing minor of a Cholesky
factorization (potrf's ``info``), the matrix exponential or LDL^T. The factorizations below
loop over the columns of the matrix (as the textbook algorithms do), never over the matrices of
a batch: each step is one NumPy operation on the whole batch.
"""

from __future__ import annotations

import numpy as np


class LinAlgError(RuntimeError):
    """A matrix a linear-algebra function cannot handle: singular, not positive-definite
    (torch.linalg.LinAlgError)."""


def _batched(a: np.ndarray) -> np.ndarray:
    """(..., m, n) -> (B, m, n), one copy that the algorithms below may overwrite."""
    nb = int(np.prod(a.shape[:-2]))  # not -1: that is ambiguous for 0x0 matrices
    return np.array(a.reshape((nb,) + a.shape[-2:]), copy=True)


def lu_factor(a: np.ndarray, pivot: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LU with partial pivoting, as LAPACK's getrf: A = P L U packed into one (..., m, n)
    array (L below the diagonal, its unit diagonal implied), 1-based int32 pivots (row j was
    swapped with row pivots[j] - 1) and int32 info (the first zero pivot, 1-based; 0 if none).

    Column j: pick the largest |entry| on or below the diagonal (the first one on ties, as
    idamax), swap it up, divide the column below by it, update the trailing block."""
    lu = _batched(a)
    nb, m, n = lu.shape
    k = min(m, n)
    piv = np.tile(np.arange(1, k + 1, dtype=np.int32), (nb, 1))
    info = np.zeros(nb, np.int32)
    rows = np.arange(nb)
    for j in range(k):
        if pivot and m > 1:
            p = j + np.argmax(np.abs(lu[:, j:, j]), axis=1)
            piv[:, j] = p + 1
            top = lu[rows, j].copy()
            lu[rows, j] = lu[rows, p]
            lu[rows, p] = top
        d = lu[:, j, j]
        zero = d == 0
        info[(info == 0) & zero] = j + 1
        # getf2 leaves the column unscaled under a zero pivot; the update then still runs
        scale = np.where(zero, 1, d)
        lu[:, j + 1:, j] /= scale[:, None]
        lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:]
    shape = a.shape[:-2]
    return lu.reshape(a.shape), piv.reshape(shape + (k,)), info.reshape(shape)


def permutation(piv: np.ndarray, m: int) -> np.ndarray:
    """The row order (..., m) that LAPACK's sequential swaps produce: A[perm] = L U."""
    shape = piv.shape[:-1]
    p = piv.reshape(int(np.prod(shape)), piv.shape[-1]).astype(np.int64) - 1
    perm = np.tile(np.arange(m), (p.shape[0], 1))
    rows = np.arange(p.shape[0])
    for j in range(p.shape[1]):
        top = perm[:, j].copy()
        perm[:, j] = perm[rows, p[:, j]]
        perm[rows, p[:, j]] = top
    return perm.reshape(shape + (m,))


def triangle(a: np.ndarray, upper: bool, unit: bool = False) -> np.ndarray:
    """The triangle of ``a`` that a triangular solver reads (with ones on the diagonal if
    ``unit``)."""
    t = np.triu(a) if upper else np.tril(a)
    if unit:
        t = np.array(t, copy=True)
        np.einsum("...ii->...i", t)[...] = 1
    return t


def solve_triangular(a: np.ndarray, b: np.ndarray, upper: bool, unit: bool = False) -> np.ndarray:
    """X with T X = B for the triangle T of ``a`` (batch dims broadcast). LAPACK's trsm does not
    check for singularity: a zero on the diagonal gives inf/nan, not an error."""
    t = triangle(a, upper, unit)
    try:
        return np.linalg.solve(t, b)
    except np.linalg.LinAlgError:
        return _substitute(t, b, upper)


def _substitute(t: np.ndarray, b: np.ndarray, upper: bool) -> np.ndarray:
    """Back/forward substitution, one row at a time over the whole batch; used only when a
    triangle is singular, to give trsm's inf/nan."""
    shape = np.broadcast_shapes(t.shape[:-2], b.shape[:-2])
    t = np.broadcast_to(t, shape + t.shape[-2:])
    x = np.array(np.broadcast_to(b, shape + b.shape[-2:]), dtype=np.result_type(t, b))
    n = t.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in (range(n - 1, -1, -1) if upper else range(n)):
            rest = slice(i + 1, n) if upper else slice(0, i)
            x[..., i, :] -= np.einsum("...j,...jk->...k", t[..., i, rest], x[..., rest, :])
            x[..., i, :] /= t[..., i, i, None]
    return x


def lu_solve(lu: np.ndarray, piv: np.ndarray, b: np.ndarray) -> np.ndarray:
    """X with A X = B from A's packed LU factors (getrs)."""
    perm = permutation(piv, lu.shape[-1])
    shape = np.broadcast_shapes(perm.shape[:-1], b.shape[:-2])
    pb = np.take_along_axis(np.broadcast_to(b, shape + b.shape[-2:]),
                            np.broadcast_to(perm, shape + perm.shape[-1:])[..., None], axis=-2)
    y = solve_triangular(lu, pb, upper=False, unit=True)
    return solve_triangular(lu, y, upper=True)


def batch_prefix(info: np.ndarray, ndim: int) -> tuple[str, int]:
    """For the first failed matrix: torch's "(Batch element i): " when A is batched, and its
    info."""
    flat = info.reshape(-1)
    i = int(np.flatnonzero(flat)[0])
    return (f"(Batch element {i}): " if ndim > 2 else ""), int(flat[i])


def inv(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse and getrf's info (0 where invertible). A singular matrix gives inf/nan."""
    try:
        return np.linalg.inv(a), np.zeros(a.shape[:-2], np.int32)
    except np.linalg.LinAlgError:
        lu, piv, info = lu_factor(a)
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
        return lu_solve(lu, piv, eye), info


def solve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X with A X = B (batch dims broadcast) and getrf's info per matrix of A's batch."""
    try:
        return np.linalg.solve(a, b), np.zeros(a.shape[:-2], np.int32)
    except np.linalg.LinAlgError:
        lu, piv, info = lu_factor(a)
        return lu_solve(lu, piv, b), info


def cholesky(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower Cholesky factor of the lower triangle of ``a`` and potrf's info: 0, or the order
    of the first leading minor that is not positive-definite (the factor is then partial, as
    potf2 leaves it: that minor's pivot unrooted, the columns after it untouched)."""
    try:
        return np.linalg.cholesky(a), np.zeros(a.shape[:-2], np.int32)
    except np.linalg.LinAlgError:
        pass
    l = np.tril(_batched(a))
    nb, n, _ = l.shape
    info = np.zeros(nb, np.int32)
    for j in range(n):
        live = info == 0  # matrices that have not failed yet
        d = l[:, j, j] - np.einsum("bk,bk->b", l[:, j, :j], l[:, j, :j])
        bad = live & ~(d > 0)
        info[bad] = j + 1
        l[bad, j, j] = d[bad]
        ok = live & ~bad
        if not ok.any():
            continue
        root = np.sqrt(d[ok])
        l[ok, j, j] = root
        below = l[ok, j + 1:, j] - np.einsum("bik,bk->bi", l[ok, j + 1:, :j], l[ok, j, :j])
        l[ok, j + 1:, j] = below / root[:, None]
    return l.reshape(a.shape), info.reshape(a.shape[:-2])



# -- LDL^T with Bunch-Kaufman pivoting (LAPACK's sytrf, lower) ------------------------------------
_BUNCH_KAUFMAN = (1 + np.sqrt(17)) / 8  # the pivot threshold that bounds element growth


def ldl_factor(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A = L D L^T of the symmetric matrices whose lower triangles are ``a``, as LAPACK's
    unblocked sytf2 (uplo='L'): packed LD (D's 1x1 and 2x2 blocks on the diagonal and first
    subdiagonal, L's multipliers below them), int32 pivots (kp+1 for a 1x1 block whose
    rows/columns k and kp were swapped, -(kp+1) twice for a 2x2 block) and info (the first
    zero column, 1-based; 0 if none).

    Each matrix is at its own column k (a 2x2 block moves it by two), so one step works on the
    whole batch with masks. The trailing block is kept symmetric (both triangles, mirrored from
    the lower one LAPACK computes) so that a row and column interchange is one gather; the
    columns before k are not swapped: L is LAPACK's product form P1 L1 P2 L2 ..."""
    s = _batched(a)
    nb, n, _ = s.shape
    s = np.tril(s) + np.swapaxes(np.tril(s, -1), -1, -2)
    piv = np.zeros((nb, n), np.int32)
    info = np.zeros(nb, np.int32)
    k = np.zeros(nb, np.int64)
    rows, r = np.arange(nb), np.arange(n)
    lower = r[:, None] >= r[None, :]
    alpha = s.dtype.type(_BUNCH_KAUFMAN)
    while (k < n).any():
        live = k < n
        kc = np.minimum(k, n - 1)
        k1 = np.minimum(kc + 1, n - 1)
        col = s[rows, :, kc]  # (B, n): column k of each matrix
        akk = np.abs(col[rows, kc])
        below = np.abs(np.where(r > kc[:, None], col, 0))
        imax = np.argmax(below, axis=1)  # the first largest, as idamax
        colmax = below[rows, imax]
        others = (r >= kc[:, None]) & (r != imax[:, None])  # row imax of the trailing block
        rowmax = np.abs(np.where(others, s[rows, :, imax], 0)).max(axis=1, initial=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            singular = live & ((np.maximum(akk, colmax) == 0) | np.isnan(akk))
            zero = ~live | singular  # no pivoting and no update
            keep = zero | (akk >= alpha * colmax) | (akk >= alpha * colmax * (colmax / rowmax))
            two = ~keep & ~(np.abs(s[rows, imax, imax]) >= alpha * rowmax)
        kp = np.where(keep, kc, imax)
        kk = kc + two
        # interchange rows and columns kk and kp of the trailing block (rows, cols >= k)
        idx = np.tile(r, (nb, 1))
        idx[rows, kk], idx[rows, kp] = kp, kk
        trail = r >= kc[:, None]
        block = trail[:, :, None] & trail[:, None, :]
        s = np.where(block, s[rows[:, None, None], idx[:, :, None], idx[:, None, :]], s)
        # the update A -= W D^-1 W^T of the rows and columns after the block, written as
        # A + c0 q^T + u v^T with LAPACK's operations (dsyr for 1x1; sytf2's loop for 2x2)
        c0, c1 = s[rows, :, kc], s[rows, :, k1]
        one = ~two[:, None]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d11 = 1 / c0[rows, kc]
            e = c0[rows, k1]  # the 2x2 block's off-diagonal
            b11, b22 = c1[rows, k1] / e, c0[rows, kc] / e
            e2 = 1 / (b11 * b22 - 1) / e
            wk = e2[:, None] * (b11[:, None] * c0 - c1)
            wkp1 = e2[:, None] * (b22[:, None] * c1 - c0)
            q = np.where(one, -d11[:, None] * c0, -wk)
            u = np.where(one, 0, c1)
            v = np.where(one, 0, -wkp1)
            new = s + c0[:, :, None] * q[:, None, :] + u[:, :, None] * v[:, None, :]
            mult = np.where(one, c0 * d11[:, None], wk)
        after = (r >= (kc + 1 + two)[:, None]) & ~zero[:, None]  # (B, n): rows past the block
        region = after[:, :, None] & after[:, None, :]
        s = np.where(region & lower, new, s)
        s = np.where(region & ~lower, np.swapaxes(s, -1, -2), s)
        # the multipliers: L's column k (and k+1)
        s[rows, :, kc] = np.where(after, mult, c0)
        s[rows, :, k1] = np.where(after & two[:, None], wkp1, s[rows, :, k1])
        first = singular & (info == 0)
        info[first] = kc[first] + 1
        piv[rows[live], kc[live]] = np.where(two, -(kp + 1), kp + 1)[live]
        piv[rows[two], k1[two]] = -(kp[two] + 1)
        k = np.where(live, k + 1 + two, k)
    shape = a.shape[:-2]
    return np.tril(s).reshape(a.shape), piv.reshape(shape + (n,)), info.reshape(shape)


def ldl_unpack(ld: np.ndarray, piv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(perm, L, D), flattened to one batch dim, with A[perm][:, perm] = L D L^T from sytrf's
    packed factors: L unit lower (the product form's later interchanges applied to the earlier
    columns, as LAPACK's syconv does), D block diagonal with 1x1 and 2x2 blocks."""
    n = ld.shape[-1]
    ld = _batched(ld)
    nb = ld.shape[0]
    p = piv.reshape(nb, n).astype(np.int64)
    rows, r = np.arange(nb), np.arange(n)
    # the 2x2 blocks: a negative pivot opens one, unless it closes the one before
    second = np.zeros((nb, n), bool)
    for j in range(1, n):
        second[:, j] = (p[:, j - 1] < 0) & ~second[:, j - 1]
    first = (p < 0) & ~second
    # the row swapped with row j: kp for a 1x1 block at j, kp for the second row of a 2x2
    target = np.where(first, r, np.abs(p) - 1)
    sub = np.zeros((nb, n), ld.dtype)  # D's subdiagonal
    sub[:, 1:] = np.where(second[:, 1:], ld[:, r[1:], r[1:] - 1], 0)
    low = np.tril(ld, -1)
    low[:, r[1:], r[1:] - 1] -= sub[:, 1:]
    for j in range(n):  # swap rows j and target in the columns before j's block
        t = target[:, j]
        before = r < (j - second[:, j])[:, None]
        rj, rt = low[rows, j].copy(), low[rows, t].copy()
        low[rows, j] = np.where(before, rt, rj)
        low[rows, t] = np.where(before, rj, rt)
    low[:, r, r] = 1
    d = np.zeros_like(ld)
    d[:, r, r] = ld[:, r, r]
    d[:, r[1:], r[1:] - 1] = d[:, r[1:] - 1, r[1:]] = sub[:, 1:]
    return permutation(target + 1, n), low, d


def ldl_solve(ld: np.ndarray, piv: np.ndarray, b: np.ndarray) -> np.ndarray:
    """X with A X = B from A's packed LDL^T factors (sytrs); batch dims broadcast. A singular D
    gives inf/nan, as LAPACK's (which does not check)."""
    n = ld.shape[-1]
    perm, low, d = ldl_unpack(ld, piv)
    shape = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
    batch = ld.shape[:-2]
    perm = np.broadcast_to(perm.reshape(batch + (n,)), shape + (n,))
    low = low.reshape(batch + (n, n))
    d = np.broadcast_to(d.reshape(batch + (n, n)), shape + (n, n))
    b = np.broadcast_to(b, shape + b.shape[-2:])
    y = np.take_along_axis(b, perm[..., None], axis=-2)  # P^T B
    with np.errstate(divide="ignore", invalid="ignore"):
        z = solve(d, solve_triangular(low, y, upper=False, unit=True))[0]
        x = solve_triangular(np.swapaxes(low, -1, -2), z, upper=True, unit=True)
    out = np.empty_like(x)
    np.put_along_axis(out, perm[..., None], x, axis=-2)  # P X
    return out


# -- the matrix exponential --------------------------------------------------------------------
# Scaling and squaring with the [13/13] Pade approximant (Higham, SIAM J. Matrix Anal. Appl. 26,
# 2005; also SciPy's expm): exp(A) = exp(A / 2^s)^(2^s), with s chosen per matrix from its
# 1-norm so that the approximant is accurate to the unit roundoff of float64.
_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
           129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
           40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def expm(a: np.ndarray) -> np.ndarray:
    """exp(A) for a batch of square matrices. float32 input is computed in float64: the
    squarings amplify rounding errors (torch's own float32 result can be off by 1e-3)."""
    if a.dtype.kind == "f" and a.dtype.itemsize < 8:
        return expm(a.astype(np.float64)).astype(a.dtype)
    n = a.shape[-1]
    if a.size == 0:
        return np.array(a, copy=True)
    b = _PADE13
    norm = np.abs(a).sum(-2).max(-1)  # the 1-norm of each matrix
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(np.isfinite(norm), np.maximum(0, np.ceil(np.log2(norm / _THETA13))), 0)
    s = s.astype(np.int64)
    x = a / np.ldexp(1.0, s)[..., None, None].astype(a.dtype)
    eye = np.eye(n, dtype=a.dtype)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2)
             + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 \
        + b[0] * eye
    r = np.linalg.solve(v - u, v + u)
    for step in range(int(s.max(initial=0))):  # square each matrix its own number of times
        r = np.where((s > step)[..., None, None], r @ r, r)
    return r

