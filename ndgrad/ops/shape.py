"""Shape primitives: reshape, permute, expand, cat, diagonal, flip, roll, pad, as_strided.

Reshape, Permute and Expand return NumPy views, like PyTorch's views: they share memory (and the
version counter) with their input. Expand's backward is just ``grad``: the engine sums it back
down to the input's shape, as it does for every broadcast. AsStrided takes any geometry of its
input's storage (ndgrad/tensor/storage.py); its backward moves the gradient between geometries
of that storage (Restride).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad._helpers import contiguous, inverse_permutation
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
        return np.lib.stride_tricks.as_strided(x, shape, expand_strides(x, shape),
                                               writeable=x.flags.writeable)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad, None  # the engine sums grad down to x's shape


def expand_strides(x: np.ndarray, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The strides (bytes) of x expanded to ``shape``, as torch's expand sets them: 0 along a
    stretched dim; a kept dim keeps its own; a new leading dim of size 1 gets the stride of a
    contiguous dim there (size * stride of the next), which torch's checks for "the same
    elements" compare (``ones(3).expand(1, 3).stride()`` is (3, 1))."""
    if x.ndim == 0:  # a number's every dim is stride 0, as torch's
        return (0,) * len(shape)
    lead = len(shape) - x.ndim
    strides = [st if n == m else 0 for st, n, m in zip(x.strides, x.shape, shape[lead:],
                                                        strict=True)]
    for i in reversed(range(lead)):  # strides[0] is dim i + 1's, already expanded
        st = shape[i + 1] * strides[0] if i + 1 < len(shape) else x.itemsize
        strides.insert(0, st if shape[i] == 1 else 0)
    return tuple(strides)


def expand_value(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """v as a copy or setitem writes it into a place of ``shape``: leading size-1 dims dropped
    (setitem's rule), then expanded with torch's strides, to tell whether it is that place's
    very elements; v itself where it does not broadcast (the shape error comes later)."""
    first = next((i for i in range(v.ndim) if v.shape[i] != 1), v.ndim)
    v = v.reshape(v.shape[first:])
    lead = len(shape) - v.ndim
    if lead < 0 or any(v.shape[i] not in (1, shape[lead + i]) for i in range(v.ndim)):
        return v
    return np.lib.stride_tricks.as_strided(v, shape, expand_strides(v, shape))


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
        skip = ctx.empty = [_legacy_empty(x) for x in xs]
        if all(skip):
            skip = [False] * len(xs)
        ctx.dim, ctx.skip = dim, skip
        kept = [x for x, s in zip(xs, skip, strict=True) if not s]
        ctx.sizes = [x.shape[dim] for x in kept]
        return contiguous(np.concatenate(kept, axis=dim))  # (NumPy keeps an F order)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        lead, out, start = (slice(None),) * ctx.dim, [], 0
        sizes = iter(ctx.sizes)
        for s, e in zip(ctx.skip, ctx.empty, strict=True):
            n = 0 if s else next(sizes)
            if e:  # a 1-D empty input: an empty constant, cut off from grad, as torch's even
                # when every input is one (fuzz seed 8298176)
                out.append(ZerosLike.apply(grad[lead + (slice(0, 0),)].reshape(0)))
            else:
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


# -- storage geometry: as_strided ---------------------------------------------------------------
# A geometry is (size, stride, offset) in elements of a tensor's storage (ndgrad/tensor/storage.py
# says what the storage of a tensor is): element i of it is at position offset + sum(i[d] *
# stride[d]) of the storage.


def storage_positions(size: tuple[int, ...], stride: tuple[int, ...], offset: int) -> np.ndarray:
    """The storage position of each element of a geometry: an int64 array of shape ``size``."""
    pos = np.asarray(offset, np.int64)
    for d, (n, s) in enumerate(zip(size, stride, strict=True)):
        step = np.arange(n, dtype=np.int64) * s
        pos = pos + step.reshape((n,) + (1,) * (len(size) - d - 1))
    return np.broadcast_to(pos, size)


def maybe_overlapping(size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """torch's test of whether two elements of a geometry may share a position (dims sorted by
    stride, each must step past all the inner ones); size-1 dims do not count."""
    reach = 0
    for s, n in sorted((s, n) for n, s in zip(size, stride, strict=True) if n != 1):
        if n == 0:
            return False
        if s <= reach:
            return True
        reach += s * (n - 1)
    return False


def _laid_out(x: np.ndarray, size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """True if ``x``'s memory has the geometry's shape and strides (size-1 dims aside)."""
    return x.shape == tuple(size) and all(
        n == 1 or xs == s * x.itemsize for xs, n, s in zip(x.strides, size, stride, strict=True))


def strided_view(x: np.ndarray, size: tuple[int, ...], stride: tuple[int, ...], offset: int,
                 geom: tuple[Any, Any, int]) -> np.ndarray:
    """The geometry (size, stride, offset) of the storage whose elements ``x`` holds in geometry
    ``geom``: a view of x's memory (the caller has checked it lies inside the storage). When x
    is not laid out as ``geom`` it is a positions array, the replay of a view chain on a fresh
    array of the base's shape (ndgrad/autograd/inplace.py, ``view_positions``): the result is
    then a copy, with the storage positions of x's elements (-1 where x has none)."""
    if _laid_out(x, geom[0], geom[1]):
        bytes_ = tuple(s * x.itemsize for s in stride)
        if math.prod(size) == 0:  # no element is read: no pointer to move
            return np.lib.stride_tricks.as_strided(x, size, bytes_)
        # a one-element array at the storage's ``offset`` (x starts at ``geom[2]``), then the view
        delta = (offset - geom[2]) * x.itemsize
        origin = np.lib.stride_tricks.as_strided(x, (2,), (delta,))[1:]
        return np.lib.stride_tricks.as_strided(origin, size, bytes_)
    if x.dtype != np.int64:  # not positions: the base's layout changed since the view was made
        raise RuntimeError("the base of this as_strided view has changed its layout in place "
                           "(t_(), as_strided_(), resize_()) since the view was made: ndgrad "
                           "cannot make the view again from it")
    store = np.full(_storage_end([geom, (size, stride, offset)]), -1, x.dtype)
    store[storage_positions(*geom)] = x
    out = store[storage_positions(size, stride, offset)]
    if out.size and out.min() < 0:
        raise RuntimeError("an in-place op on this as_strided view writes storage elements that "
                           "are not elements of its base tensor (ndgrad's storage of a tensor "
                           "that is a strided window of other memory); clone() the base first")
    return out


def _storage_end(geoms: list[tuple[Any, Any, int]]) -> int:
    """One past the last storage position any of the geometries reaches (0 if all are empty)."""
    ends = [off + 1 + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
            for size, stride, off in geoms if math.prod(size)]
    return max(ends, default=0)


class AsStrided(Primitive):
    """The geometry (size, stride, offset) of x's storage, as a view; ``geom`` is x's own
    geometry in it. The gradient is torch's: ``grad`` added into a storage-shaped buffer at
    the view's positions, then read at x's (divided by how often x's own elements repeat a
    position): storage elements that x does not cover get none."""

    is_view = True

    @staticmethod
    def forward(ctx: Any, x: Any, size: Any, stride: Any, offset: Any, geom: Any) -> Any:
        ctx.geoms = ((size, stride, offset), geom)
        return strided_view(x, size, stride, offset, geom)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        out, inp = ctx.geoms
        if not math.prod(out[0]) or not math.prod(inp[0]):  # torch's as_strided_backward:
            # zeros, a constant, where the view or x has no elements (fuzz seed 8273790)
            a = grad if isinstance(grad, np.ndarray) else grad._data
            return np.zeros(inp[0], a.dtype), None, None, None, None
        return Restride.apply(grad, out, inp, inp), None, None, None, None


class Restride(Primitive):
    """Values moved between two geometries of one storage: the values in geometry ``src``
    added up at their storage positions, divided by how often each position occurs in the
    geometry ``div`` (if it may repeat one), and read in geometry ``dst``; positions ``src``
    does not reach read 0. A linear map whose adjoint is the move back (dst to src, same div):
    AsStrided's gradient, and so its double backward."""

    @staticmethod
    def forward(ctx: Any, g: Any, src: Any, dst: Any, div: Any) -> Any:
        ctx.geoms = (src, dst, div)
        ps, pd = storage_positions(*src), storage_positions(*dst)
        if not pd.size or not ps.size:
            return np.zeros(dst[0], g.dtype)
        lo = min(int(ps.min()), int(pd.min()))
        store = np.zeros(max(int(ps.max()), int(pd.max())) + 1 - lo, g.dtype)
        if maybe_overlapping(src[0], src[1]):
            np.add.at(store, ps.reshape(-1) - lo, g.reshape(-1))
        else:
            store[ps - lo] = g
        if maybe_overlapping(div[0], div[1]):
            count = np.bincount(storage_positions(*div).reshape(-1) - lo, minlength=store.size)
            store /= np.maximum(count[:store.size], 1).astype(g.dtype)
        return store[pd - lo]

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        src, dst, div = ctx.geoms
        return Restride.apply(grad, dst, src, div), None, None, None
