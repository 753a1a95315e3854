"""Reduction primitives. Composites (mean, var, std, logsumexp, norm, ...) live in tensor.py."""

from __future__ import annotations

import numpy as np

from ndgrad.ops.elementwise import Primitive


def _keepdim_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


class Sum(Primitive):
    """The gradient of a sum is the upstream gradient, broadcast back over the summed dims."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.kshape = _keepdim_shape(x.shape, dims)
        ctx.shape = x.shape
        return np.sum(x, axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.kshape).expand(ctx.shape), None, None


class Amax(Primitive):
    """max over dims; tied maxima share the gradient equally (torch.amax's rule)."""

    np_fn = staticmethod(np.amax)

    @classmethod
    def forward(cls, ctx, x, dims, keepdim):
        if x.size == 0 and any(x.shape[d] == 0 for d in dims):
            raise IndexError(f"{cls.__name__.lower()}(): Expected reduction dim {dims} to have "
                             f"non-zero size.")
        out = cls.np_fn(x, axis=dims, keepdims=True)
        ctx.save_for_backward(x, out)
        ctx.kshape, ctx.dims = out.shape, dims
        return out if keepdim else out.reshape([s for i, s in enumerate(x.shape) if i not in dims])

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        mask = x == out.detach()
        count = mask.sum(dim=ctx.dims, keepdim=True)
        return grad.reshape(ctx.kshape) * mask / count, None, None


class Amin(Amax):
    np_fn = staticmethod(np.amin)


class Cumsum(Primitive):
    """The gradient of a running sum is the reversed running sum of the gradient."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return np.cumsum(x, axis=dim, dtype=x.dtype if x.dtype.kind == "f" else None)

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim), None


class Prod(Primitive):
    """Product along one dim. d/dx_i = product of the others (TODO: exact with zeros)."""

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        out = np.prod(x, axis=dim, keepdims=True)
        ctx.save_for_backward(x)
        ctx.dim, ctx.kshape = dim, out.shape
        return out if keepdim else np.squeeze(out, dim)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        d = ctx.dim
        # product of the elements before and after each one: no division, so zeros are fine
        n = x.shape[d]
        ones = x.narrow(d, 0, 1) * 0 + 1
        before = _cat([ones, x.narrow(d, 0, n - 1).cumprod(d)], d) if n > 1 else ones
        after_r = x.flip(d).narrow(d, 0, n - 1).cumprod(d) if n > 1 else None
        after = _cat([after_r.flip(d), ones], d) if n > 1 else ones
        return grad.reshape(ctx.kshape) * before * after, None, None


class Cumprod(Primitive):
    """Running product. d out_j / d x_i = out_j / x_i for j >= i (TODO: exact with zeros)."""

    @staticmethod
    def forward(ctx, x, dim):
        out = np.cumprod(x, axis=dim)
        ctx.save_for_backward(x, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        d = ctx.dim
        return (grad * out).flip(d).cumsum(d).flip(d) / x, None


def norm(x, p, dims, keepdim):
    """Vector p-norm over ``dims`` (composite)."""
    if p == "fro" or p == 2:
        return (x * x).sum(dims, keepdim).sqrt()
    if p == float("inf"):
        return x.abs().amax(dims, keepdim)
    if p == float("-inf"):
        return x.abs().amin(dims, keepdim)
    if p == 1:
        return x.abs().sum(dims, keepdim)
    if p == 0:
        return (x != 0).to(x.dtype).sum(dims, keepdim)
    return (x.abs() ** p).sum(dims, keepdim) ** (1.0 / p)


def _cat(ts, dim):
    from ndgrad.tensor import cat

    return cat(ts, dim)
