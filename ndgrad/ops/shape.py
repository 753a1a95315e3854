"""Shape primitives: reshape, permute, expand, cat, diagonal, flip, roll, pad.

Reshape, Permute and Expand return NumPy views, like PyTorch's views: they share memory (and the
version counter) with their input. Expand's backward is just ``grad``: the engine sums it back
down to the input's shape, as it does for every broadcast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._helpers import inverse_permutation
from ndgrad.ops.base import Primitive
from ndgrad.ops.elementwise import ZerosLike


class Reshape(Primitive):
    is_view = True

    @staticmethod
    def forward(ctx: Any, x: Any, shape: Any) -> Any:
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad.reshape(ctx.shape), None


class Permute(Primitive):
    is_view = True

    @staticmethod
    def forward(ctx: Any, x: Any, dims: Any) -> Any:
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return Permute.apply(grad, inverse_permutation(ctx.dims)), None


class Expand(Primitive):
    """A view with stride 0 along the expanded dims. It is writable, as torch's is: ``x[0]`` of
    it can be written into (an in-place op on the whole of it is refused, see
    ``ndgrad/autograd/inplace.py``), where NumPy's broadcast_to is read-only."""

    is_view = True

    @staticmethod
    def forward(ctx: Any, x: Any, shape: Any) -> Any:
        lead = len(shape) - x.ndim
        strides = (0,) * lead + tuple(st if n == s else 0 for st, n, s in
                                      zip(x.strides, x.shape, shape[lead:], strict=True))
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=x.flags.writeable)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad, None  # the engine sums grad down to x's shape


class ExpandCopy(Primitive):
    """``x`` broadcast to ``shape`` into a new array (torch's expand_copy): what backward
    formulas use to spread a gradient, since a broadcast view costs more to make (NumPy's
    broadcast_to) and is copied anyway wherever it lands."""

    @staticmethod
    def forward(ctx: Any, x: Any, shape: Any) -> Any:
        out = np.empty(shape, x.dtype)
        out[...] = x
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad, None  # the engine sums grad down to x's shape


def _legacy_empty(x: np.ndarray) -> bool:
    return x.ndim == 1 and x.shape[0] == 0


class Cat(Primitive):
    """Join along ``dim``; 1-D empty inputs are skipped (torch's legacy rule), grad zeros(0)."""

    @staticmethod
    def forward(ctx: Any, *xs: Any, dim: Any) -> Any:
        skip = [_legacy_empty(x) for x in xs]
        if all(skip):
            skip = [False] * len(xs)
        ctx.dim, ctx.skip = dim, skip
        kept = [x for x, s in zip(xs, skip, strict=True) if not s]
        ctx.sizes = [x.shape[dim] for x in kept]
        return np.concatenate(kept, axis=dim)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        lead, out, start = (slice(None),) * ctx.dim, [], 0
        sizes = iter(ctx.sizes)
        for s in ctx.skip:
            if s:  # a skipped 1-D empty input: an empty constant, cut off from grad (as torch)
                out.append(ZerosLike.apply(grad[lead + (slice(0, 0),)].reshape(0)))
            else:
                n = next(sizes)
                out.append(grad[lead + (slice(start, start + n),)])
                start += n
        return tuple(out)


class Diagonal(Primitive):
    """The diagonal of dims (dim1, dim2) moved to the end, as a view (like torch's)."""

    is_view = True

    @staticmethod
    def forward(ctx: Any, x: Any, offset: Any, dim1: Any, dim2: Any) -> Any:
        ctx.shape, ctx.args = x.shape, (offset, dim1, dim2)
        out = np.diagonal(x, offset, dim1, dim2)
        if x.flags.writeable:
            out.flags.writeable = True  # NumPy marks it read-only; torch's diagonal is writable
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return DiagonalEmbed.apply(grad, ctx.shape, *ctx.args), None, None, None


class DiagonalEmbed(Primitive):
    """zeros(shape) with ``grad`` on the diagonal: the adjoint of Diagonal."""

    @staticmethod
    def forward(ctx: Any, grad: Any, shape: Any, offset: Any, dim1: Any, dim2: Any) -> Any:
        ctx.args = (offset, dim1, dim2)
        out = np.zeros(shape, dtype=grad.dtype)
        view = np.diagonal(out, offset, dim1, dim2)
        view.flags.writeable = True
        view[...] = grad
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad.diagonal(*ctx.args), None, None, None, None


class DiagonalScatter(Primitive):
    """x with its diagonal (offset, dim1, dim2) replaced by ``src``: the gradient of x is grad
    with that diagonal zeroed, the gradient of src is grad's diagonal."""

    @staticmethod
    def forward(ctx: Any, x: Any, src: Any, offset: Any, dim1: Any, dim2: Any) -> Any:
        ctx.args = (offset, dim1, dim2)
        out = x.copy()
        view = np.diagonal(out, offset, dim1, dim2)
        view.flags.writeable = True
        view[...] = src
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        gx = DiagonalScatter.apply(grad, 0.0, *ctx.args) if ctx.needs_input_grad[0] else None
        gsrc = Diagonal.apply(grad, *ctx.args) if ctx.needs_input_grad[1] else None
        return gx, gsrc, None, None, None


class Flip(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any, dims: Any) -> Any:
        ctx.dims = dims
        return np.flip(x, dims).copy()

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return Flip.apply(grad, ctx.dims), None


class Roll(Primitive):
    @staticmethod
    def forward(ctx: Any, x: Any, shifts: Any, dims: Any) -> Any:
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(x, shifts, dims)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return Roll.apply(grad, neg, ctx.dims), None, None


class Pad(Primitive):
    """Constant padding; ``widths`` is NumPy's ((before, after), ...) per dim."""

    @staticmethod
    def forward(ctx: Any, x: Any, widths: Any, value: Any) -> Any:
        ctx.index = tuple(slice(b, b + s) for (b, _), s in zip(widths, x.shape, strict=True))
        return np.pad(x, widths, constant_values=value)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad[ctx.index], None, None
