"""Reduction primitives. Composites (mean, var, std, logsumexp, ...) live in tensor.py."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad._helpers import as_ndarray, contiguous, wrap_dims
from ndgrad.autograd.grad_mode import is_grad_enabled
from ndgrad.ops.base import Primitive
from ndgrad.ops.elementwise import Abs, Exp, Log, Where, ZerosLike
from ndgrad.ops.shape import ExpandCopy, Flip, Pad


def reduce_dims(dim: Any, ndim: int) -> tuple[int, ...]:
    """The dims a reduction runs over: ``None`` and an empty tuple or list mean all of them."""
    if dim is None or (isinstance(dim, tuple | list) and len(dim) == 0):
        return tuple(range(ndim))
    return wrap_dims(dim, ndim)


def _keepdim_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


class Sum(Primitive):
    """The gradient of a sum is the upstream gradient, broadcast back over the summed dims."""

    @staticmethod
    def forward(ctx: Any, x: Any, dims: Any, keepdim: Any) -> Any:
        ctx.args = (x.shape, dims, keepdim)
        return contiguous(np.add.reduce(x, dims, x.dtype, None, keepdim))  # type: ignore[call-overload]  # x.sum without its wrapper

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        shape, dims, keepdim = ctx.args
        if not keepdim and len(dims) < len(shape):  # put the summed dims back, as size 1
            grad = grad.reshape(_keepdim_shape(shape, dims))
        return ExpandCopy.apply(grad, shape), None, None


class DivCount(Primitive):
    """x / n for mean: the count n is kept on the node, not saved, so that, as torch's
    MeanBackward (which keeps only sizes), a second backward through it frees nothing."""

    @staticmethod
    def forward(ctx: Any, x: Any, n: Any) -> Any:
        ctx.n = n  # (n = 0, the mean of nothing: nan, as torch's, without NumPy's 0/0 warning)
        return as_ndarray(x / n if n else x * float("nan"))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return (grad / ctx.n if ctx.n else grad * float("nan")), None


class NanSum(Primitive):
    """sum with NaNs counted as zeros. The gradient is grad * (x is not NaN), a product as in
    torch: a NaN or infinite upstream gradient stays NaN on the NaNs too."""

    @staticmethod
    def forward(ctx: Any, x: Any, dims: Any, keepdim: Any) -> Any:
        ctx.args = (x.shape, dims, keepdim)
        ctx.save_for_backward(x)
        return as_ndarray(np.nansum(x, axis=dims, dtype=x.dtype, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        return Sum.backward(ctx, grad)[0] * (x == x), None, None


class Var(Primitive):
    """Variance over ``dims``: the squared deviations from the mean summed, over ``ddof``
    (n - correction). torch's var_backward, 2 / ddof * grad * (x - mean), in one formula:
    written as ops (a mean, then squares) an infinite gradient met inf - inf in the mean's
    backward and gave nan for torch's +-inf; and x is saved, so that an in-place change of x
    before backward raises, as in torch. ``whole``: the variance of all of x, with no dim
    given or of a 0-d x, where torch's gradient without degrees of freedom is a constant."""

    @staticmethod
    def forward(ctx: Any, x: Any, dims: Any, keepdim: Any, ddof: Any, whole: bool = False
                ) -> Any:
        ctx.ddof, ctx.dims, ctx.n = ddof, dims, math.prod(x.shape[d] for d in dims)
        ctx.whole = whole
        ctx.kshape = tuple(1 if i in dims else n for i, n in enumerate(x.shape))
        ctx.save_for_backward(x)
        centered = x - np.mean(x, axis=dims, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # no degrees of freedom: inf, nan
            return contiguous(as_ndarray(np.sum(centered * centered, axis=dims,
                                                keepdims=keepdim) / x.dtype.type(ddof)))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_like(grad)
        if ctx.whole and not ctx.ddof:
            # torch's var_backward: grad * (nan where x is its mean, else inf), whatever the
            # sign of x - mean and for a nan x too; a constant in x, as torch's where is
            a = x if isinstance(x, np.ndarray) else x._data
            mean = np.mean(a) if a.size else 0
            f = np.where(a == mean, np.nan, np.inf).astype(a.dtype)
            return grad.reshape(ctx.kshape) * f, None, None, None, None
        scale = 2.0 / ctx.ddof if ctx.ddof else math.inf
        centered = x - x.sum(ctx.dims).reshape(ctx.kshape) / max(ctx.n, 1)
        return grad.reshape(ctx.kshape) * scale * centered, None, None, None, None


class Logsumexp(Primitive):
    """log(sum(exp(x))) over ``dims``, as m + log(sum(exp(x - m))) with m the max (0 where it
    is infinite) so that exp never overflows. torch's logsumexp_backward, grad * exp(x - out):
    x and the result are saved, so that an in-place change of either before backward raises,
    as in torch (the composite saved neither: fuzz seed 7634506)."""

    @staticmethod
    def forward(ctx: Any, x: Any, dims: Any, keepdim: Any) -> Any:
        ctx.kshape = _keepdim_shape(x.shape, dims)
        m = np.amax(x, axis=dims, keepdims=True) if x.size else np.zeros(ctx.kshape, x.dtype)
        m = np.where(np.isinf(m), 0, m)
        with np.errstate(divide="ignore"):  # the sum of nothing: log(0) = -inf
            out = np.log(np.sum(np.exp(x - m), axis=dims, keepdims=True)) + m
        out = contiguous(as_ndarray(out if keepdim else np.squeeze(out, dims)))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        return grad.reshape(ctx.kshape) * Exp.apply(x - out.reshape(ctx.kshape)), None, None


class StdFromVar(Primitive):
    """std = sqrt(var), with torch's std_backward: where std is 0 (all elements equal) the
    gradient is 0, not grad / 0."""

    @staticmethod
    def forward(ctx: Any, var: Any) -> Any:
        out = as_ndarray(np.sqrt(var))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (out,) = ctx.saved_like(grad)
        return Where.apply(out == 0, 0.0, grad / (out * 2))


class Amax(Primitive):
    """max over dims; tied maxima share the gradient equally (torch.amax's rule). The full
    ``max()`` passes ``nan_wins=True``: a nan maximum sends the gradient to the nans."""

    np_fn: Any = staticmethod(np.amax)

    @classmethod
    def forward(cls: Any, ctx: Any, x: Any, dims: Any, keepdim: Any, nan_wins: Any = False) -> Any:
        if x.size == 0 and any(x.shape[d] == 0 for d in dims):
            raise IndexError(f"{cls.__name__.lower()}(): Expected reduction dim {dims} to have "
                             f"non-zero size.")
        out = contiguous(as_ndarray(cls.np_fn(x, axis=dims, keepdims=True)))
        ctx.kshape, ctx.dims, ctx.nan_wins = out.shape, dims, nan_wins
        if not keepdim:
            out = out.reshape([s for i, s in enumerate(x.shape) if i not in dims])
        # saved as the very array returned, so an in-place op on the output is caught by its
        # version counter (a reshaped copy of it would change silently under the node)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        mask = x == out.reshape(ctx.kshape)
        grad = grad.reshape(ctx.kshape)
        if ctx.nan_wins:  # torch's evenly_distribute_backward: zeros off the mask, even for nan
            mask = mask | ((x != x) & (out != out))  # both nan
            share = grad / mask.sum(ctx.dims).reshape(ctx.kshape)
            return Where.apply(mask, share, 0.0), None, None, None
        return grad * mask / mask.sum(ctx.dims).reshape(ctx.kshape), None, None, None


class Amin(Amax):
    np_fn = staticmethod(np.amin)


def _squeezed(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def _rev_cumsum(t: Any, d: int) -> Any:
    """out_k = sum over j >= k of t_j along d (t an array or a Tensor)."""
    return Flip.apply(Cumsum.apply(Flip.apply(t, (d,)), d), (d,))


class Cumsum(Primitive):
    """The gradient of a running sum is the reversed running sum of the gradient."""

    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any) -> Any:
        ctx.dim = dim
        return contiguous(np.cumsum(x.reshape(-1) if x.ndim == 0 else x, axis=dim,
                                    dtype=x.dtype)).reshape(x.shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        if grad.ndim == 0:
            return grad, None
        return _rev_cumsum(grad, ctx.dim), None


class Logcumsumexp(Primitive):
    """out_j = log(exp(x_0) + ... + exp(x_j)) along dim, accumulated by NumPy's logaddexp (no
    overflow). d out_j / d x_k = exp(x_k - out_j) for k <= j, so the gradient is
    grad_k = sum over j >= k of grad_j exp(x_k - out_j): torch's logcumsumexp_backward sums it
    in log space, the positive and the negative parts of grad apart, so nothing overflows."""

    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any) -> Any:
        # float32/16 accumulate in float64 and round once, as torch's CPU kernel does
        acc = np.promote_types(x.dtype, np.float64) if x.dtype.kind == "f" else x.dtype
        out = np.logaddexp.accumulate(x.reshape(-1) if x.ndim == 0 else x, axis=dim, dtype=acc)
        out = contiguous(out.reshape(x.shape).astype(x.dtype, copy=False))
        ctx.dim = dim
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        if x.ndim == 0:
            return grad, None
        d = ctx.dim
        # log(0) as a finite number (float32's lowest: finite in float64 too), so that
        # log(0) - out is never inf - inf
        lowest = float(np.finfo(np.float32).min)
        log_abs = Log.apply(Abs.apply(grad))
        pos = Where.apply(grad > 0, log_abs, lowest)
        neg = Where.apply(grad < 0, log_abs, lowest)

        def reversed_lcse(t: Any) -> Any:  # log(sum over j >= k of exp(t_j))
            return Flip.apply(Logcumsumexp.apply(Flip.apply(t, (d,)), d), (d,))

        gx = Exp.apply(reversed_lcse(pos - out) + x) - Exp.apply(reversed_lcse(neg - out) + x)
        return gx, None


class Prod(Primitive):
    """Product along one dim (or of a 0-d x). d out / d x_k = the product of the others."""

    array_backward = False  # written in Tensor ops (narrow, cumprod, flip)

    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any, keepdim: Any, whole: bool = False) -> Any:
        if x.ndim == 0:  # its own product, whose gradient is grad (torch's, even at nan or 0);
            out = x.copy()  # x and out are saved all the same, as torch's (fuzz seed 8170517)
            ctx.dim = None
            ctx.save_for_backward(x, out)
            return out
        out = np.prod(x, axis=dim, keepdims=True, dtype=x.dtype)
        ctx.dim, ctx.kshape = dim, out.shape
        if not keepdim:
            out = out.reshape(_squeezed(x.shape, (dim,)))
        if ctx.needs_input_grad[0]:
            zeros = int(np.count_nonzero(x == 0))
            ctx.has_zero = zeros > 0
            # x.prod() of all elements with two zeros or more: every gradient is exactly 0,
            # as torch returns it outside create_graph (not grad * 0, nan for an inf grad)
            ctx.all_zero = whole and zeros > 1
            ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        if ctx.dim is None:
            return grad, None, None, None
        d, n = ctx.dim, x.shape[ctx.dim]
        grad = grad.reshape(ctx.kshape)
        if ctx.all_zero and not is_grad_enabled():
            return ZerosLike.apply(x), None, None, None
        # n <= 1 without zeros takes the same formula (the product of no other elements is 1),
        # so the gradient is a function of x under create_graph (torch's zero second derivative)
        if not ctx.has_zero:
            return grad * (out.reshape(ctx.kshape) / x), None, None, None  # torch's formula
        if n == 1:  # torch's prod_safe_zeros_backward: grad itself, not a function of x
            return grad, None, None, None
        # with zeros: the products of the elements before and after each one, no division
        before = Pad.apply(x.narrow(d, 0, n - 1).cumprod(d), _widths(x.ndim, d, (1, 0)), 1.0)
        after = Pad.apply(x.narrow(d, 1, n - 1).flip(d).cumprod(d).flip(d),
                          _widths(x.ndim, d, (0, 1)), 1.0)
        return grad * (before * after), None, None, None


def _widths(ndim: int, d: int, pad: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    return tuple(pad if i == d else (0, 0) for i in range(ndim))


class Cumprod(Primitive):
    """Running product out_j = x_0 ... x_j; d out_j / d x_k = prod of x_i, i <= j, i != k.

    Without zeros that is out_j / x_k, so the gradient is a reversed cumsum divided by x. With
    zeros, see ``_cumprod_grad``: exact, and differentiable again (double backward)."""

    array_backward = False  # _cumprod_grad is written in Tensor ops

    @staticmethod
    def forward(ctx: Any, x: Any, dim: Any) -> Any:
        out = contiguous(np.cumprod(x.reshape(-1) if x.ndim == 0 else x, axis=dim,
                                    dtype=x.dtype)).reshape(x.shape)
        ctx.save_for_backward(x, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, out = ctx.saved_like(grad)
        if x.ndim == 0 or x.shape[ctx.dim] <= 1:
            return grad, None
        if not is_grad_enabled() and (x._data == 0).any():
            return _cumprod_grad_first_order(x._data, out._data, grad._data, ctx.dim), None
        return _cumprod_grad(x, out, grad, ctx.dim), None


def _cumprod_grad_first_order(x: Any, out: Any, grad: Any, d: int) -> Any:
    """torch's cumprod_backward outside create_graph for an x with zeros (z1 and z2 the first
    two zeros of a row): x_k, k < z1, gets the no-zero formula summed over j < z1 only; x_z1
    gets the sum over z1 <= j < z2 of grad_j prod(x_z1+1..x_j), times out_z1-1; the rest get
    exactly 0. A grad_j its derivative does not reach adds nothing, so a NaN or infinite
    gradient there does not become the NaN of NaN * 0 (fuzz seed 8202609, through prod's
    double backward). Under create_graph torch sums the products instead (_cumprod_grad)."""
    count = np.cumsum(x == 0, axis=d)
    before, between = count == 0, count == 1
    first = between & (x == 0)
    between &= ~first
    with np.errstate(invalid="ignore"):  # (inf * 0 where the mask drops it)
        w = np.where(before, out * grad, 0)
        ga = np.flip(np.cumsum(np.flip(w, d), axis=d), d) / np.where(before, x, 1)
        z1 = np.argmax(first, axis=d, keepdims=True)
        last = np.where(z1 == 0, 1, np.take_along_axis(out, np.maximum(z1 - 1, 0), axis=d))
        prods = np.cumprod(np.where(between, x, 1), axis=d) * np.where(count == 1, grad, 0)
    gz = prods.sum(axis=d, keepdims=True) * last
    zero = np.zeros((), np.result_type(grad, x))
    return np.where(before, ga, np.where(first, gz, zero)).astype(grad.dtype, copy=False)


def _cumprod_grad(x: Any, out: Any, grad: Any, d: int) -> Any:
    """The gradient of sum(grad * cumprod(x, d)) with respect to x, exact where x has zeros.

    Let z be the first zero of a row. For k < z, x_k != 0 and the no-zero formula holds
    (out_j = 0 from z on, so the reversed cumsum only sums j < z). For k >= z, write x1 for x
    with x_z set to 1: then d out_j / d x_z = d cumprod(x1)_j / d x1_z, and for k > z,
    d out_j / d x_k = x_z * d cumprod(x1)_j / d x1_k. Each identity holds for every x, not
    just at this one, so the result stays exactly differentiable. x1 has one zero fewer: repeat
    until no zero is left (a loop, not recursion: a long row of zeros must not overflow it).
    """
    levels = []
    while True:
        zero = x._data == 0
        if not zero.any():
            g = _rev_cumsum(grad * out, d) / x
            break
        count = np.cumsum(zero, axis=d)
        before = count == 0
        first = zero & (count == 1)
        after = (count > 0) & ~first
        ga = _rev_cumsum(grad * out, d) / x.masked_fill(~before, 1.0)
        xz = (x * first).sum(d, keepdim=True)  # x at the first zero: 0, with a derivative
        levels.append((before, ga, after, xz))
        x = x.masked_fill(first, 1.0)
        out = x.cumprod(d)
    for before, ga, after, xz in reversed(levels):
        g = Where.apply(before, ga, Where.apply(after, g * xz, g))
    return g


class Norm(Primitive):
    """Vector p-norm over dims, with torch's gradient formulas (``norm_backward``): at an
    all-zero vector the gradient is 0, not nan; the inf-norm splits it among ties."""

    array_backward = False  # written in Tensor ops (masked_fill, pow, sign)

    @staticmethod
    def forward(ctx: Any, x: Any, p: Any, dims: Any, keepdim: Any) -> Any:
        if p == 2:
            out = np.sqrt(np.sum(x * x, axis=dims, keepdims=True))
        elif p == 1:
            out = np.sum(np.abs(x), axis=dims, keepdims=True)
        elif math.isinf(p):
            if x.size == 0 and any(x.shape[d] == 0 for d in dims):
                raise RuntimeError("linalg.vector_norm cannot compute the inf norm on an empty "
                                   "tensor because the operation does not have an identity")
            fn = np.amax if p > 0 else np.amin
            out = fn(np.abs(x), axis=dims, keepdims=True)
        elif p == 0:
            out = np.sum(x != 0, axis=dims, keepdims=True, dtype=x.dtype)
        else:
            out = np.sum(np.abs(x) ** p, axis=dims, keepdims=True) ** (1.0 / p)
        out = as_ndarray(out).astype(x.dtype, copy=False)
        ctx.kshape, ctx.p, ctx.dims = out.shape, p, dims
        if not keepdim:
            out = out.reshape(_squeezed(x.shape, dims))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x, norm = ctx.saved_like(grad)
        p, g, norm = ctx.p, grad.reshape(ctx.kshape), norm.reshape(ctx.kshape)
        if p == 0:
            return None, None, None, None  # torch: no gradient
        if p == 1:
            gx = x.sign() * g
        elif p == 2:
            gx = g * (x / norm).masked_fill(norm == 0, 0.0)
        elif math.isinf(p):
            ax = x.abs()
            mask = (ax == norm) | ax.isnan()
            gx = x.sign() * ((g / mask.sum(ctx.dims, keepdim=True)) * mask)
        elif p < 1:
            gx = x.sign() * x.abs().pow(p - 1).masked_fill(x == 0, 0.0) * g * norm.pow(1 - p)
        elif p < 2:
            gx = x.sign() * x.abs().pow(p - 1) * (g / norm.pow(p - 1)).masked_fill(norm == 0, 0.0)
        else:
            gx = x * x.abs().pow(p - 2) * (g / norm.pow(p - 1)).masked_fill(norm == 0, 0.0)
        return gx, None, None, None


class Cdist(Primitive):
    """dist[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p for x1 (..., P, M), x2 (..., R, M).

    p = 2 with ``use_mm`` is torch's matrix form (|a|^2 - 2 a.b + |b|^2, no (P, R, M) array).
    Gradients are torch's _cdist_backward: each pair contributes d||d||_p / d d to x1's row and
    its negative to x2's, 0 where the distance is 0; for p = inf, every coordinate reaching the
    max gets the whole gradient (no sharing)."""

    array_backward = False  # written in Tensor ops (sign, abs, pow, masked_fill)

    @staticmethod
    def forward(ctx: Any, x1: Any, x2: Any, p: Any, use_mm: Any) -> Any:
        if use_mm:
            sq1 = np.sum(x1 * x1, axis=-1, keepdims=True)  # (..., P, 1)
            sq2 = np.sum(x2 * x2, axis=-1, keepdims=True)  # (..., R, 1)
            d2 = sq1 - 2 * (x1 @ np.swapaxes(x2, -1, -2)) + np.swapaxes(sq2, -1, -2)
            out = np.sqrt(np.maximum(d2, 0))
        else:
            diff = np.abs(x1[..., :, None, :] - x2[..., None, :, :])  # (..., P, R, M)
            if p == 0:
                out = np.sum(diff != 0, axis=-1).astype(x1.dtype)
            elif p == 1:
                out = np.sum(diff, axis=-1)
            elif p == 2:
                out = np.sqrt(np.sum(diff * diff, axis=-1))
            elif math.isinf(p):
                out = np.amax(diff, axis=-1, initial=0)
            else:
                out = np.sum(diff ** p, axis=-1) ** (1 / p)
        out = as_ndarray(out).astype(x1.dtype, copy=False)
        ctx.p = p
        ctx.save_for_backward(x1, x2, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        x1, x2, dist = ctx.saved_tensors
        p = ctx.p
        if p == 2:  # torch's _euclidean_dist_backward: no (P, R, M) array
            ratio = (grad / dist).masked_fill(dist == 0, 0.0)  # (..., P, R)
            g1 = x1 * ratio.sum(-1, keepdim=True) - ratio @ x2
            g2 = x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ x1
            return g1, g2, None, None
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., P, R, M)
        g, d = grad.unsqueeze(-1), dist.unsqueeze(-1)
        if p == 0:
            w = diff * 0
        elif p == 1:
            w = diff.sign() * g
        elif math.isinf(p):
            w = diff.sign() * g * (diff.abs() == d)
        elif p < 2:
            w = diff.sign() * diff.abs().pow(p - 1) * g / d.pow(p - 1)
            w = w.masked_fill((d == 0) | ((diff == 0) & (p < 1)), 0.0)
        else:
            w = (diff * diff.abs().pow(p - 2) * g / d.pow(p - 1)).masked_fill(d == 0, 0.0)
        return w.sum(-2), -w.sum(-3), None, None
