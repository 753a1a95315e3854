"""Inverses, determinants and linear systems: inv, det, slogdet, solve, solve_triangular, LU,
pinv, lstsq, matrix_power, matrix_exp, tensorinv, tensorsolve."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import not_implemented_for
from ndgrad.linalg import _common as c
from ndgrad.ops.decomp import Det, LDLFactor, LUFactor, MatrixExp, Pinv, Slogdet
from ndgrad.ops.decomp import lu_unpack as unpack_factors
from ndgrad.ops.solve import (
    CholeskySolve,
    Inv,
    LDLSolve,
    Solve,
    SolveTriangular,
    check_input,
    mH,
)


def _square(fn: str, A: Any) -> None:
    """A is a tensor of square matrices (complex allowed: the callers are holomorphic)."""
    c.tensor_arg(fn.replace(".", "_"), "A", 1, A)
    check_input(fn, A._data, complex_ok=True)


def inv(A: Any) -> Any:
    """The inverse of each square matrix of A (..., n, n); singular matrices raise."""
    _square("linalg.inv", A)
    return Inv.apply(A, True)[0]


def inv_ex(A: Any, *, check_errors: bool = False) -> Any:
    """(inverse, info): info is 0 where A is invertible, else the index of the zero pivot."""
    _square("linalg.inv_ex", A)
    return c.linalg_inv_ex(*Inv.apply(A, check_errors))


def det(A: Any) -> Any:
    """The determinant of each square matrix of A."""
    _square("linalg.det", A)
    return Det.apply(A)


def slogdet(A: Any) -> Any:
    """(sign, log|det|): the determinant without overflow. log|det| = -inf where singular."""
    _square("linalg.slogdet", A)
    return c.linalg_slogdet(*Slogdet.apply(A))


def logdet(A: Any) -> Any:
    """log(det A): nan where det < 0, -inf where det = 0 (torch.logdet)."""
    sign, logabs = slogdet(A)
    return logabs.masked_fill(sign < 0, math.nan)


def _rhs(fn: str, A: Any, B: Any, left: bool) -> tuple[Any, bool]:
    """Check B against A for A X = B (or X A = B) and make a vector B a one-column matrix."""
    c.tensor_arg(fn.replace(".", "_"), "B", 2, B)
    c.same_dtype(fn, A, B)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector and not left:
        raise RuntimeError(f"{fn}: Vector broadcasting of the left hand side is not supported "
                           f"for left=False. In this case {fn} is equivalent to B / "
                           f"A.squeeze(-1)")
    b = B.unsqueeze(-1) if vector else B
    n = A.shape[-1]
    if b.ndim < 2 or (b.shape[-2] if left else b.shape[-1]) != n:
        bs = f"{b.shape[-2]}x{b.shape[-1]}" if b.ndim >= 2 else f"{b.shape[-1]}"
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"{fn}: Incompatible shapes of A and B for the equation {eq} "
                           f"({n}x{n} and {bs})")
    c.batch_shape(tuple(A.shape[:-2]), tuple(b.shape[:-2]))
    return b, vector


def solve_ex(A: Any, B: Any, *, left: bool = True, check_errors: bool = False) -> Any:
    """(X, info) with A X = B (or X A = B if not left); B may be a vector. Batch dims
    broadcast."""
    _square("linalg.solve", A)
    b, vector = _rhs("linalg.solve", A, B, left)
    if left:
        x, info = Solve.apply(A, b, check_errors)
    else:  # X A = B is A^T X^T = B^T
        x, info = Solve.apply(A.mT, b.mT, check_errors)
        x = x.mT
    return c.linalg_solve_ex(x.squeeze(-1) if vector else x, info)


def solve(A: Any, B: Any, *, left: bool = True) -> Any:
    """X with A X = B (left) or X A = B; singular matrices raise."""
    return solve_ex(A, B, left=left, check_errors=True)[0]


def solve_triangular(A: Any, B: Any, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Any:
    """X with A X = B (or X A = B) reading only A's upper (or lower) triangle; with
    unitriangular its diagonal is taken to be ones."""
    _square("linalg.solve_triangular", A)
    c.tensor_arg("linalg_solve_triangular", "B", 2, B)
    c.same_dtype("linalg.solve_triangular", A, B)
    if B.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    _rhs("linalg.solve_triangular", A, B, left)
    return SolveTriangular.apply(A, B, bool(upper), bool(left), bool(unitriangular))


def lu_factor_ex(A: Any, *, pivot: bool = True, check_errors: bool = False) -> Any:
    """(LU, pivots, info): A = P L U packed as LAPACK's getrf, int32 pivots (1-based)."""
    c.tensor_arg("linalg_lu_factor_ex", "A", 1, A)
    check_input("torch.linalg.lu_factor_ex", A._data, square=False)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    return c.linalg_lu_factor_ex(*LUFactor.apply(A, check_errors))


def lu_factor(A: Any, *, pivot: bool = True) -> Any:
    """(LU, pivots) of A; a zero pivot raises (use lu_factor_ex to get it as info)."""
    lu_, piv, _ = lu_factor_ex(A, pivot=pivot, check_errors=True)
    return c.linalg_lu_factor(lu_, piv)


def lu_unpack(LU_data: Any, LU_pivots: Any, unpack_data: bool = True,
              unpack_pivots: bool = True) -> Any:
    """(P, L, U) from packed LU factors: A = P L U."""
    c.tensor_arg("lu_unpack", "LU_data", 1, LU_data)
    if LU_data.ndim < 2:
        raise RuntimeError("torch.lu_unpack: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(LU_data.shape)} instead")
    p, low, up = unpack_factors(LU_data, LU_pivots)
    empty = c.const(LU_data, np.zeros(0))
    return c.lu_unpack(p if unpack_pivots else empty, low if unpack_data else empty,
                       up if unpack_data else empty)


def lu(A: Any, *, pivot: bool = True) -> Any:
    """(P, L, U) with A = P L U: L (..., m, k) unit lower, U (..., k, n) upper."""
    c.tensor_arg("linalg_lu", "A", 1, A)
    check_input("linalg.lu", A._data, square=False)
    if not pivot:
        raise RuntimeError("linalg.lu: LU without pivoting is not implemented on the CPU")
    lu_, piv, _ = LUFactor.apply(A, False)
    return c.linalg_lu(*unpack_factors(lu_, piv))


def lu_solve(LU: Any, pivots: Any, B: Any, *, left: bool = True, adjoint: bool = False) -> Any:
    """X with A X = B from A's LU factors (A^H X = B if adjoint; X A = B if not left). Written
    with two triangular solves, so that the gradient of LU is torch's: gL below the diagonal
    plus gU on and above it."""
    c.tensor_arg("linalg_lu_solve", "LU", 1, LU)
    check_input("linalg.lu_solve", LU._data)
    c.same_dtype("linalg.lu_solve", LU, B, "LU", "B")
    if B.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 dimensions.")
    n = LU.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and "
                           f"{B.shape[-2]}x{B.shape[-1]})")
    p = unpack_factors(LU, pivots)[0]
    if left and not adjoint:  # X = U^-1 L^-1 P^T B
        y = SolveTriangular.apply(LU, p.mT @ B, False, True, True)
        return SolveTriangular.apply(LU, y, True, True, False)
    if left:  # A^H = U^H L^H P^T: X = P L^-H U^-H B
        y = SolveTriangular.apply(mH(LU), B, False, True, False)
        return p @ SolveTriangular.apply(mH(LU), y, True, True, True)
    if not adjoint:  # X = B U^-1 L^-1 P^T
        y = SolveTriangular.apply(LU, B, True, False, False)
        return SolveTriangular.apply(LU, y, False, False, True) @ p.mT
    y = SolveTriangular.apply(mH(LU), B @ p, True, False, True)  # X = B P L^-H U^-H
    return SolveTriangular.apply(mH(LU), y, False, False, False)


def ldl_factor_ex(A: Any, *, hermitian: bool = False, check_errors: bool = False) -> Any:
    """(LD, pivots, info): A = L D L^T of the symmetric A (its lower triangle read) with
    Bunch-Kaufman pivoting, packed as LAPACK's sytrf. ``hermitian`` is the same factorization
    for real matrices. Not differentiable, as torch's."""
    c.tensor_arg("linalg_ldl_factor_ex", "A", 1, A)
    check_input("torch.linalg.ldl_factor_ex", A._data)
    if A._data.dtype == np.float16:
        raise not_implemented_for("ldl_factor_kernel_cpu", A._data.dtype)
    fn = "torch.linalg.ldl_factor" + ("_ex" if check_errors else "")
    return c.linalg_ldl_factor_ex(*LDLFactor.apply(A, fn, check_errors))


def ldl_factor(A: Any, *, hermitian: bool = False) -> Any:
    """(LD, pivots) of A (see ldl_factor_ex); an exactly singular D raises."""
    c.tensor_arg("linalg_ldl_factor", "A", 1, A)
    check_input("torch.linalg.ldl_factor", A._data)
    if A._data.dtype == np.float16:
        raise not_implemented_for("ldl_factor_kernel_cpu", A._data.dtype)
    ld, piv, _ = LDLFactor.apply(A, "torch.linalg.ldl_factor", True)
    return c.linalg_ldl_factor(ld, piv)


def ldl_solve(LD: Any, pivots: Any, B: Any, *, hermitian: bool = False) -> Any:
    """X with A X = B from A's factors as ldl_factor returns them; batch dims broadcast. Not
    differentiable, as torch's."""
    fn = "torch.linalg.ldl_solve"
    c.tensor_arg("linalg_ldl_solve", "LD", 1, LD)
    c.tensor_arg("linalg_ldl_solve", "pivots", 2, pivots)
    c.tensor_arg("linalg_ldl_solve", "B", 3, B)
    check_input(fn, LD._data)
    if pivots._data.dtype.kind not in "iu":
        raise RuntimeError(f"{fn}: Expected pivots to be integers. Got "
                           f"{_dtype.scalar_name(pivots._data.dtype)}")
    if tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise RuntimeError(f"{fn}: Expected LD.shape[:-1] and pivots.shape to be the same, but "
                           f"got pivots with shape {list(pivots.shape)} instead")
    if B.ndim < 2:
        raise RuntimeError(f"{fn}: The input tensor B must have at least 2 dimensions.")
    c.same_dtype(fn, LD, B, "LD", "B")
    n = LD.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for {fn}: each A matrix is {n} by {n} but "
                           f"each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    c.batch_shape(tuple(LD.shape[:-2]), tuple(B.shape[:-2]))
    return LDLSolve.apply(LD, pivots.detach(), B)


def cholesky_solve(B: Any, L: Any, upper: bool = False) -> Any:
    """X with A X = B given A's Cholesky factor (A = L L^H, or U^H U if upper); batch dims
    broadcast."""
    c.tensor_arg("cholesky_solve", "input", 1, B)
    c.tensor_arg("cholesky_solve", "input2", 2, L)
    if B.ndim < 2 or L.ndim < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B.ndim} dimensions "
                           f"instead" if B.ndim < 2 else f"u should have at least 2 dimensions, "
                           f"but has {L.ndim} dimensions instead")
    c.same_dtype("cholesky_solve", B, L, "b", "u")
    check_input("cholesky_solve", L._data, what="u")
    if B.shape[-2] != L.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is "
                           f"{L.shape[-1]} by {L.shape[-1]} but each b matrix is "
                           f"{B.shape[-2]} by {B.shape[-1]}")
    c.batch_shape(tuple(B.shape[:-2]), tuple(L.shape[:-2]))
    return CholeskySolve.apply(B, L, bool(upper))


def cholesky_inverse(L: Any, upper: bool = False) -> Any:
    """(L L^H)^-1 (or (U^H U)^-1) from a Cholesky factor: cholesky_solve(I, L)."""
    c.tensor_arg("cholesky_inverse", "input", 1, L)
    check_input("cholesky_inverse", L._data, what="input")
    eye = c.const(L, np.broadcast_to(np.eye(L.shape[-1]), tuple(L.shape)))
    return CholeskySolve.apply(eye, L, bool(upper))


def _tolerances(fn: str, A: Any, atol: Any, rtol: Any) -> tuple[np.ndarray, np.ndarray]:
    """torch's get_atol_rtol, in float64: atol defaults to 0; rtol to eps * max(m, n), or to 0
    when a positive atol is given."""
    def arr(v: Any) -> np.ndarray:
        if hasattr(v, "_data"):
            if v._data.dtype.kind == "c":
                raise RuntimeError(f"{fn}: atol and rtol tensors of complex type are not "
                                   f"supported")
            return v._data.astype(np.float64)
        return np.asarray(v, np.float64)
    at = arr(atol) if atol is not None else np.zeros(())
    if rtol is not None:
        rt = arr(rtol)
    else:
        default = np.finfo(A._data.dtype).eps * max(A.shape[-1], A.shape[-2])
        rt = np.where(at > 0, 0.0, default) if atol is not None else np.asarray(default)
    return at, rt


def pinv(A: Any, rcond: Any = None, hermitian: bool = False, *, atol: Any = None,
         rtol: Any = None) -> Any:
    """The pseudo-inverse; singular values <= max(atol, rtol * largest) count as zero. The
    old ``rcond`` is ``rtol``. With hermitian, from the eigendecomposition of A's lower
    triangle."""
    c.tensor_arg("linalg_pinv", "A", 1, A)
    if A._data.dtype.kind not in "fc" or A.ndim < 2:
        raise RuntimeError(f"linalg.pinv({_dtype.scalar_name(A._data.dtype)}"
                           f"{{{list(A.shape)}}}): expected a tensor with 2 or more dimensions of "
                           f"float, double, cfloat or cdouble types")
    if rcond is not None:
        rtol = rcond
    if hermitian:
        check_input("linalg.pinv", A._data)
    at, rt = _tolerances("linalg.pinv", A, atol, rtol)
    return Pinv.apply(A, at, rt, bool(hermitian))


def pinverse(A: Any, rcond: float = 1e-15) -> Any:
    """torch.pinverse: pinv with rtol=rcond."""
    return pinv(A, rtol=rcond)


def lstsq(A: Any, B: Any, rcond: float | None = None, *, driver: str | None = None) -> Any:
    """(solution, residuals, rank, singular_values) of min ||A X - B||. The solution is
    pinv(A) B (minimum norm for rank-deficient A), so its gradient is torch's (which
    differentiates through pinv). What else is filled depends on the driver, as in torch:
    residuals for m > n and full rank (not 'gelsy'), rank except for 'gels', singular values
    for 'gelsd' and 'gelss'."""
    c.tensor_arg("linalg_lstsq", "A", 1, A)
    c.tensor_arg("linalg_lstsq", "B", 2, B)
    check_input("torch.linalg.lstsq", A._data, square=False, what="input")
    c.same_dtype("torch.linalg.lstsq", A, B, "input", "other")
    drivers = ("gels", "gelsy", "gelsd", "gelss")
    if driver is not None and driver not in drivers:
        raise RuntimeError(f"parameter `driver` should be one of (gels, gelsy, gelsd, gelss), "
                           f"but got {driver}")
    driver = driver or "gelsy"
    m, n = A.shape[-2], A.shape[-1]
    vector = B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1])
    b = B.unsqueeze(-1) if vector else B
    if b.ndim < 2 or b.shape[-2] != m:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    rt = rcond if rcond is not None and rcond > 0 else None
    x = Pinv.apply(A, *_tolerances("torch.linalg.lstsq", A, None, rt), False) @ b
    s = np.linalg.svd(A._data, compute_uv=False) if A.numel() else np.zeros(
        tuple(A.shape[:-2]) + (min(m, n),), A._data.dtype)
    cut = np.finfo(A._data.dtype).eps * max(m, n) if rt is None else rt
    rank = (s > cut * s[..., :1]).sum(-1) if s.shape[-1] else np.zeros(s.shape[:-1], np.int64)
    empty = c.const(A, np.zeros(0))
    residuals = c.in_graph(empty, A, B)
    if m > n and driver != "gelsy" and (driver == "gels" or bool((rank == n).all())):
        r = (A @ x - b).square().sum(-2)
        residuals = r.squeeze(-1) if vector else r
    return c.linalg_lstsq(x.squeeze(-1) if vector else x, residuals,
                          A._make(rank.astype(np.int64)) if driver != "gels"
                          else A._make(np.zeros(0, np.int64)),
                          A._make(s) if driver in ("gelsd", "gelss") else empty)


def matrix_power(A: Any, n: int) -> Any:
    """A^n by repeated squaring (inverse first for n < 0); A^0 is the identity."""
    c.tensor_arg("linalg_matrix_power", "A", 1, A)
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they "
                           f"are {A.shape[-2]} by {A.shape[-1]} matrices")
    if not isinstance(n, int | np.integer) or isinstance(n, bool):
        raise TypeError(f"linalg_matrix_power(): argument 'n' must be int, not "
                        f"{type(n).__name__}")
    if n == 0:
        return c.in_graph(c.const(A, np.broadcast_to(np.eye(A.shape[-1]), tuple(A.shape))), A)
    if n < 0:
        A, n = inv(A), -n
    if n == 1:
        return A.clone()
    result = z = None
    while n > 0:  # binary powers of A, from the lowest bit (torch's order of products)
        bit, n = n % 2, n // 2
        z = A if z is None else z @ z
        if bit:
            result = z if result is None else result @ z
    return result


def matrix_exp(A: Any) -> Any:
    """exp(A) = sum A^k / k! of each square matrix."""
    _square("linalg.matrix_exp", A)
    return MatrixExp.apply(A)


def tensorinv(A: Any, ind: int = 2) -> Any:
    """The inverse of A seen as a matrix from its first ``ind`` dims to the rest."""
    c.tensor_arg("linalg_tensorinv", "A", 1, A)
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    lead, rest = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    if math.prod(rest) != math.prod(lead):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {math.prod(rest)} != "
                           f"{math.prod(lead)}")
    return inv(A.reshape(math.prod(rest), math.prod(rest))).reshape(rest + lead)


def tensorsolve(A: Any, B: Any, dims: Any = None) -> Any:
    """X with tensordot(A, X, X.ndim) = B: A's trailing dims (after moving ``dims`` there)
    are X's shape."""
    c.tensor_arg("linalg_tensorsolve", "A", 1, A)
    c.tensor_arg("linalg_tensorsolve", "B", 2, B)
    if dims is not None:
        dims = list(dims)
        A = A.movedim(dims, list(range(A.ndim - len(dims), A.ndim)))
    shape = tuple(A.shape[B.ndim:])
    if math.prod(shape) != B.numel():
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:])"
                           f" == prod(self.shape[:other.ndim]), but got {math.prod(shape)} != "
                           f"{B.numel()}")
    return solve(A.reshape(B.numel(), B.numel()), B.flatten()).reshape(shape)


__all__ = ["inv", "inv_ex", "det", "slogdet", "logdet", "solve", "solve_ex", "solve_triangular",
           "lu_factor", "lu_factor_ex", "lu", "lu_solve", "lu_unpack", "ldl_factor",
           "ldl_factor_ex", "ldl_solve", "cholesky_solve",
           "cholesky_inverse", "pinv", "pinverse", "lstsq", "matrix_power", "matrix_exp",
           "tensorinv", "tensorsolve"]
