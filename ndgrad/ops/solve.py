"""Linear systems: inverse, solve, triangular solve, Cholesky solve.

Forward runs on NumPy's LAPACK, batched over the leading dims (``ndgrad/ops/_lapack.py`` fills
the gaps). Backward is PyTorch's formula (``torch/csrc/autograd/FunctionsManual.cpp``) written
in Tensor ops and in these same primitives, so that it can itself be differentiated: every
primitive here sets ``array_backward = False``. ``mH`` is the conjugate transpose (the plain
transpose for real matrices); ``diag_embed`` puts a vector on a matrix's diagonal.

Inverse, solve and triangular solve are holomorphic, so in the engine's conjugated convention
for complex gradients (``ops/complex.py``) their formulas take the plain transpose where torch's
take the conjugate one: written with ``.mT`` they hold for complex matrices too (linalg.eig's
backward solves with complex eigenvectors). Cholesky solves are for real matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.ops import _lapack
from ndgrad.ops._lapack import LinAlgError
from ndgrad.ops.base import Primitive
from ndgrad.ops.shape import Cat, DiagonalEmbed


def check_input(name: str, x: np.ndarray, square: bool = True, what: str = "A",
                complex_ok: bool = False) -> None:
    """torch's checks for a linear-algebra input: floating point, at least 2-D, square. Complex
    matrices only where ``complex_ok`` (the holomorphic functions: inv, solve, det, matrix_exp,
    eig; the other formulas are written for real matrices)."""
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_dtype.scalar_name(x.dtype)}")
    if x.dtype.kind == "c" and not complex_ok:
        raise NotImplementedError(f"{name}: complex matrices are not supported by ndgrad "
                                  f"(real inputs only)")
    if x.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {what} must have at least 2 dimensions.")
    if square and x.shape[-1] != x.shape[-2]:
        raise RuntimeError(f"{name}: {what} must be batches of square matrices, but they are "
                           f"{x.shape[-2]} by {x.shape[-1]} matrices")


def mH(x: Any) -> Any:  # noqa: N802 - torch's name
    """The conjugate transpose of a batch of matrices."""
    return x.conj().mT if x.is_complex() else x.mT


def diag_embed(v: Any) -> Any:
    """(..., n) -> (..., n, n) with v on the diagonal."""
    nd = v.ndim
    return DiagonalEmbed.apply(v, tuple(v.shape) + (v.shape[-1],), 0, nd - 1, nd)


def cat(xs: list[Any], dim: int) -> Any:
    """Tensors joined along dim (negative dims allowed), recorded."""
    return Cat.apply(*xs, dim=dim % xs[0].ndim)


def zeros(like: Any, shape: tuple[int, ...]) -> Any:
    """A zero tensor in like's dtype."""
    return like._make(np.zeros(shape, like._data.dtype))


def undefined(g: Any) -> bool:
    """A gradient the engine filled with zeros for an output nobody used (torch leaves it
    undefined, and some formulas take a shortcut then, e.g. svdvals)."""
    return not g.requires_grad and not g._data.any()


class Inv(Primitive):
    """A^-1. From d(A^-1) = -A^-1 dA A^-1: gA = -A^-H g A^-H."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any, check: Any) -> Any:
        out, info = _lapack.inv(a)
        if check and info.any():
            where, i = _lapack.batch_prefix(info, a.ndim)
            raise LinAlgError(f"linalg.inv: {where}The diagonal element {i} is zero, the "
                              f"inversion could not be completed because the input matrix is "
                              f"singular.")
        ctx.save_for_backward(out)
        return out, info

    @staticmethod
    def backward(ctx: Any, grad: Any, _info: Any) -> Any:
        (inv,) = ctx.saved_like(grad)
        inv_t = inv.mT
        return -(inv_t @ (grad @ inv_t)), None


class Solve(Primitive):
    """X = A^-1 B for B of shape (..., n, k), batch dims broadcast. gB = A^-H gX, gA = -gB X^H."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any, check: Any) -> Any:
        out, info = _lapack.solve(a, b)
        if check and info.any():
            where, _ = _lapack.batch_prefix(info, a.ndim)
            raise LinAlgError(f"torch.linalg.solve: {where}The solver failed because the input "
                              f"matrix is singular.")
        ctx.save_for_backward(a, out)
        return out, info

    @staticmethod
    def backward(ctx: Any, grad: Any, _info: Any) -> Any:
        a, x = ctx.saved_like(grad)
        gb = Solve.apply(a.mT, grad, False)[0]
        ga = -(gb @ x.mT) if ctx.needs_input_grad[0] else None
        return ga, gb, None


class SolveTriangular(Primitive):
    """X with A X = B (left) or X A = B, A triangular (only its triangle is read). The gradient
    of A is projected onto that triangle, as torch's (its tangent space)."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any, upper: Any, left: Any, unit: Any) -> Any:
        ctx.args = (upper, left, unit)
        if left:
            out = _lapack.solve_triangular(a, b, upper, unit)
        else:  # X A = B is A^T X^T = B^T, and A^T's triangle is the other one
            out = _lapack.solve_triangular(a.swapaxes(-1, -2), b.swapaxes(-1, -2), not upper,
                                           unit).swapaxes(-1, -2)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        a, x = ctx.saved_like(grad)
        upper, left, unit = ctx.args
        gb = SolveTriangular.apply(a.mT, grad, not upper, left, unit)
        ga = None
        if ctx.needs_input_grad[0]:
            ga = -(gb @ x.mT) if left else -(x.mT @ gb)
            ga = ga.triu(int(unit)) if upper else ga.tril(-int(unit))
        return ga, gb, None, None, None


class LDLSolve(Primitive):
    """X with A X = B from A's packed LDL^T factors (sytrs), batch dims broadcast. Not
    differentiable, as torch's."""

    @staticmethod
    def forward(ctx: Any, ld: Any, piv: Any, b: Any) -> Any:
        return _lapack.ldl_solve(ld, piv, b)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        raise RuntimeError("derivative for aten::linalg_ldl_solve is not implemented")


def cholesky_solve_array(b: np.ndarray, c: np.ndarray, upper: bool) -> np.ndarray:
    """X with (C C^H) X = B for lower C, or (C^H C) X = B for upper C."""
    ch = c.swapaxes(-1, -2).conj()
    if upper:
        return _lapack.solve_triangular(c, _lapack.solve_triangular(ch, b, False), True)
    return _lapack.solve_triangular(ch, _lapack.solve_triangular(c, b, False), True)


class CholeskySolve(Primitive):
    """X = (L L^H)^-1 B from a Cholesky factor L (or U^H U). torch differentiates as if the
    whole of L were used: gB = cholesky_solve(gX, L), gL = -(gB X^H + X gB^H) L."""

    array_backward = False

    @staticmethod
    def forward(ctx: Any, b: Any, c: Any, upper: Any) -> Any:
        ctx.upper = upper
        out = cholesky_solve_array(b, c, upper)
        ctx.save_for_backward(c, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        c, x = ctx.saved_like(grad)
        gb = CholeskySolve.apply(grad, c, ctx.upper)
        gc = None
        if ctx.needs_input_grad[1]:
            common = gb @ mH(x)
            common = common + mH(common)
            gc = -(c @ common) if ctx.upper else -(common @ c)
        return gb, gc, None
