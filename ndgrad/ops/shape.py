"""Shape and indexing primitives.

Reshape, Permute, Expand and basic indexing return NumPy views, like PyTorch's views: they share
memory (and the version counter) with their input. Expand's backward is just ``grad``: the engine
sums it back down to the input's shape, as it does for every broadcast.
"""

from __future__ import annotations

import numpy as np

from ndgrad.ops.elementwise import Primitive


class Reshape(Primitive):
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.reshape(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class Permute(Primitive):
    is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.permute(tuple(np.argsort(ctx.dims).tolist())), None


class Expand(Primitive):
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # the engine sums grad down to x's shape


def has_advanced(index: tuple) -> bool:
    return any(isinstance(i, np.ndarray) for i in index)


class GetItem(Primitive):
    """x[index]; the gradient is scattered back into zeros (repeated indices accumulate)."""

    is_view = True

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        out = x[index]
        return out

    @staticmethod
    def backward(ctx, grad):
        return IndexAddZeros.apply(grad, ctx.shape, ctx.index), None


class IndexAddZeros(Primitive):
    """zeros(shape) with ``grad`` added at ``index``: the adjoint of GetItem."""

    @staticmethod
    def forward(ctx, grad, shape, index):
        ctx.index = index
        out = np.zeros(shape, dtype=grad.dtype)
        if has_advanced(index):
            np.add.at(out, index, grad)
        else:
            out[index] = grad
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.index], None, None


class IndexPut(Primitive):
    """``x`` with ``x[index] = value``, out of place (``x[index] = v`` is built on it)."""

    @staticmethod
    def forward(ctx, x, index, value):
        ctx.index = index
        out = x.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        gx = IndexPut.apply(grad, ctx.index, 0.0) if ctx.needs_input_grad[0] else None
        gv = grad[ctx.index] if ctx.needs_input_grad[2] else None
        return gx, None, gv


class Cat(Primitive):
    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim = dim
        ctx.sizes = [x.shape[dim] for x in xs]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(grad.split(ctx.sizes, ctx.dim))


class Flip(Primitive):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.flip(x, dims).copy()

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dims), None


class Roll(Primitive):
    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(x, shifts, dims)

    @staticmethod
    def backward(ctx, grad):
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return grad.roll(neg, ctx.dims), None, None


class Pad(Primitive):
    """Constant padding; ``widths`` is NumPy's ((before, after), ...) per dim."""

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.index = tuple(slice(b, b + s) for (b, _), s in zip(widths, x.shape, strict=True))
        return np.pad(x, widths, constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.index], None, None


def _along(index: np.ndarray, dim: int) -> tuple:
    """The full NumPy index that addresses x[..., index[...], ...] along ``dim``."""
    idx = list(np.indices(index.shape, sparse=True))
    idx[dim] = index
    return tuple(idx)


class Gather(Primitive):
    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, index
        return x[_along(index, dim)]

    @staticmethod
    def backward(ctx, grad):
        return IndexAddZeros.apply(grad, ctx.shape, _along(ctx.index, ctx.dim)), None, None


class ScatterAdd(Primitive):
    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.dim, ctx.index, ctx.src_shape = dim, index, np.shape(src)
        out = x.copy()
        np.add.at(out, _along(index, dim), _src_part(src, index))
        return out

    @staticmethod
    def backward(ctx, grad):
        gsrc = _pad_to(grad.gather(ctx.dim, ctx.index), ctx.src_shape)
        return grad, None, None, gsrc


class Scatter(Primitive):
    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.dim, ctx.index, ctx.src_shape = dim, index, np.shape(src)
        out = x.copy()
        out[_along(index, dim)] = _src_part(src, index)
        return out

    @staticmethod
    def backward(ctx, grad):
        gx = Scatter.apply(grad, ctx.dim, ctx.index, 0.0) if ctx.needs_input_grad[0] else None
        gsrc = None
        if ctx.needs_input_grad[3]:
            gsrc = _pad_to(grad.gather(ctx.dim, ctx.index), ctx.src_shape)
        return gx, None, None, gsrc


def _src_part(src, index):
    # torch only reads src[:index.shape[0], :index.shape[1], ...]
    if np.ndim(src) == 0:
        return src
    return src[tuple(slice(0, s) for s in index.shape)]


def _pad_to(g, shape):
    if tuple(g.shape) == tuple(shape):
        return g
    return Pad.apply(g, tuple((0, t - s) for s, t in zip(g.shape, shape, strict=True)), 0.0)
