"""Shape methods: views and reshapes (view, reshape, permute, transpose, expand, squeeze, ...),
and methods that rearrange or cut along dims (repeat, flip, roll, split, narrow, tril, diagonal).
Indexing (``x[i]``, gather, scatter) is in ``index.py``.
"""

from __future__ import annotations

import builtins
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import shape_arg, wrap_dim, wrap_dims
from ndgrad.ops.shape import Diagonal, Expand, ExpandCopy, Flip, Permute, Reshape, Roll
from ndgrad.tensor.base import TensorBase, _int


def _infer_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    """Resolve one -1 in ``shape`` and check the element count, with torch's message."""
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel or any(s < 0 for s in shape):
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class ShapeMixin(TensorBase):
    """Views, reshapes and rearrangements."""

    def reshape(self, *shape: Any) -> Any:
        return Reshape.apply(self, _infer_shape(shape_arg(shape), self._data.size))

    def view(self, *shape: Any) -> Any:
        if len(shape) == 1 and isinstance(shape[0], _dtype.dtype | str | type | np.dtype):
            raise NotImplementedError("view(dtype) is not supported by ndgrad; use to(dtype)")
        target = _infer_shape(shape_arg(shape), self._data.size)
        try:
            np.reshape(self._data, target, copy=False)
        except ValueError:
            raise RuntimeError("view size is not compatible with input tensor's size and stride "
                               "(at least one dimension spans across two contiguous subspaces). "
                               "Use .reshape(...) instead.") from None
        return Reshape.apply(self, target)

    def view_as(self, other: Any) -> Any:
        return self.view(other.shape)

    def reshape_as(self, other: Any) -> Any:
        return self.reshape(other.shape)

    def flatten(self, start_dim: _int = 0, end_dim: _int = -1) -> Any:
        if self._data.ndim == 0:
            return self.reshape(1)
        s, e = wrap_dim(start_dim, self._data.ndim), wrap_dim(end_dim, self._data.ndim)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if s == e:
            return self  # torch's flatten returns self when there is nothing to flatten
        shp = self._data.shape
        return self.reshape(shp[:s] + (math.prod(shp[s:e + 1]),) + shp[e + 1:])

    def unflatten(self, dim: _int, sizes: Sequence[_int]) -> Any:
        d = wrap_dim(dim, self._data.ndim)
        shp = self._data.shape
        sizes = tuple(sizes)
        if -1 not in sizes and math.prod(sizes) != shp[d]:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                               f"size of dim {dim} ({shp[d]}) in the input tensor")
        sizes = _infer_shape(sizes, shp[d])
        return self.reshape(shp[:d] + tuple(sizes) + shp[d + 1:])

    def squeeze(self, dim: Any = None) -> Any:
        shp = self._data.shape
        dims = wrap_dims(dim, self._data.ndim)
        return self.reshape(tuple(s for i, s in enumerate(shp) if not (i in dims and s == 1)))

    def unsqueeze(self, dim: _int) -> Any:
        d = wrap_dim(dim, self._data.ndim + 1)
        shp = self._data.shape
        return self.reshape(shp[:d] + (1,) + shp[d:])

    def permute(self, *dims: Any) -> Any:
        dims_t = tuple(wrap_dim(d, self._data.ndim) for d in shape_arg(dims))
        if len(set(dims_t)) != len(dims_t):
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        if len(dims_t) != self._data.ndim:
            raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input "
                               f"does not match the length of the desired ordering of dimensions "
                               f"i.e. input.dim() = {self._data.ndim} is not equal to "
                               f"len(dims) = {len(dims_t)}")
        return Permute.apply(self, dims_t)

    def transpose(self, dim0: _int, dim1: _int) -> Any:
        n = self._data.ndim
        order = list(range(n))
        if n == 0:
            wrap_dim(dim0, n), wrap_dim(dim1, n)
            return Permute.apply(self, ())  # a view, not self
        a, b = wrap_dim(dim0, n), wrap_dim(dim1, n)
        order[a], order[b] = order[b], order[a]
        return Permute.apply(self, tuple(order))

    swapaxes = transpose
    swapdims = transpose

    def t(self) -> Any:
        if self._data.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self._data.ndim}D")
        return self.transpose(0, 1) if self._data.ndim == 2 else self.transpose(0, 0)

    @property
    def T(self) -> Any:  # noqa: N802
        """All dims reversed; deprecated (torch warns, and so do we) unless ndim is 2."""
        n = self._data.ndim
        if n == 0:
            warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity "
                          "in these cases.", UserWarning, stacklevel=2)
        elif n != 2:
            warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their "
                          "shape is deprecated and it will throw an error in a future release. "
                          "Consider `x.mT` to transpose batches of matrices or `x.permute(*torch."
                          "arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
                          UserWarning, stacklevel=2)
        return Permute.apply(self, tuple(reversed(range(n))))

    @property
    def mT(self) -> Any:  # noqa: N802
        if self._data.ndim == 0:  # torch warns and returns self
            warnings.warn("Tensor.mT is deprecated on 0-D tensors. This function is the identity "
                          "in these cases.", UserWarning, stacklevel=2)
            return self
        if self._data.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self._data.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def movedim(self, source: Any, destination: Any) -> Any:
        n = self._data.ndim
        src, dst = (tuple(wrap_dim(d, n) for d in ((v,) if isinstance(v, int) else v))
                    for v in (source, destination))
        for name, v in (("source", src), ("destination", dst)):
            if len(set(v)) != len(v):
                raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(v)})")
        if n == 0:
            return self.view(())
        if len(src) != len(dst):
            raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)}"
                               f" dims) should contain the same number of dims as destination "
                               f"({list(dst)} dims)")
        order = [i for i in range(n) if i not in src]
        for d, s in sorted(zip(dst, src, strict=True)):
            order.insert(d, s)
        return Permute.apply(self, tuple(order))

    moveaxis = movedim

    def expand(self, *sizes: Any) -> Any:
        size = shape_arg(sizes)
        shp = self._data.shape
        if len(size) < len(shp):
            raise RuntimeError(f"expand(ndgrad.{self._data.dtype}{{{list(shp)}}}, size="
                               f"{list(size)}): the number of sizes provided ({len(size)}) must "
                               f"be greater or equal to the number of dimensions in the tensor "
                               f"({len(shp)})")
        lead = len(size) - len(shp)
        target = list(size)
        for i, s in enumerate(shp):
            want = size[lead + i]
            if want == -1:
                target[lead + i] = s
            elif s != want and s != 1:
                raise RuntimeError(f"The expanded size of the tensor ({want}) must match the "
                                   f"existing size ({s}) at non-singleton dimension {lead + i}.  "
                                   f"Target sizes: {list(size)}.  Tensor sizes: {list(shp)}")
        if any(s < 0 for s in target):
            d = next(i for i, s in enumerate(target) if s < 0)
            raise RuntimeError(f"The expanded size of the tensor ({size[d]}) isn't allowed in a "
                               f"leading, non-existing dimension {d}")
        return Expand.apply(self, tuple(target))

    def expand_as(self, other: Any) -> Any:
        return self.expand(other.shape)

    def broadcast_to(self, *shape: Any) -> Any:
        return self.expand(shape_arg(shape))

    def repeat(self, *sizes: Any) -> Any:
        reps = shape_arg(sizes)
        if len(reps) < self._data.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                               "number of dimensions of tensor")
        shp = (1,) * (len(reps) - self._data.ndim) + self._data.shape
        # (a, b) -> (1, a, 1, b) -> (ra, a, rb, b) -> (ra*a, rb*b), copied as torch's repeat is
        x = self.reshape(tuple(v for s in shp for v in (1, s)))
        x = ExpandCopy.apply(x, tuple(v for r, s in zip(reps, shp, strict=True) for v in (r, s)))
        return x.reshape(tuple(r * s for r, s in zip(reps, shp, strict=True)))

    def tile(self, *dims: Any) -> Any:
        reps = shape_arg(dims)
        reps = (1,) * (self._data.ndim - len(reps)) + reps
        return self.repeat(reps)

    def flip(self, *dims: Any) -> Any:
        return Flip.apply(self, wrap_dims(shape_arg(dims), self._data.ndim))

    def fliplr(self) -> Any:
        return self.flip(1)

    def flipud(self) -> Any:
        return self.flip(0)

    def roll(self, shifts: Any, dims: Any = None) -> Any:
        if dims is None:
            return Roll.apply(self.flatten(), shifts, 0).reshape(self.shape)
        dims_t = tuple(wrap_dim(d, self._data.ndim) for d in
                       ((dims,) if isinstance(dims, int) else dims))
        shifts_t = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        if len(shifts_t) != len(dims_t):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts_t)}, "
                               f"dims:{len(dims_t)}")
        return Roll.apply(self, shifts_t, dims_t)

    def split(self, split_size_or_sections: Any, dim: _int = 0) -> tuple[Any, ...]:
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d]
        if isinstance(split_size_or_sections, int):
            step = split_size_or_sections
            if step < 0:
                raise RuntimeError(f"split expects split_size be non-negative, but got "
                                   f"split_size={step}")
            if step == 0 and n:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                                   f"dimension size of {n}")
            sizes = [builtins.min(step, n - i) for i in range(0, n, step)] if n else [0]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                                   f"(input tensor's size at dimension {d}), but got "
                                   f"split_sizes={sizes}")
        out, start = [], 0
        for s in sizes:
            out.append(self.narrow(d, start, s))
            start += s
        return tuple(out)

    def chunk(self, chunks: _int, dim: _int = 0) -> tuple[Any, ...]:
        if chunks <= 0:
            raise RuntimeError("chunk expects `chunks` to be greater than 0")
        n = self._data.shape[wrap_dim(dim, self._data.ndim)]
        if n == 0:
            return self.split([0] * chunks, dim)
        return self.split(-(-n // chunks), dim)

    def tensor_split(self, sections: _int, dim: _int = 0) -> tuple[Any, ...]:
        n = self._data.shape[wrap_dim(dim, self._data.ndim)]
        q, r = divmod(n, sections)
        return self.split([q + 1] * r + [q] * (sections - r), dim)

    def unbind(self, dim: _int = 0) -> tuple[Any, ...]:
        d = wrap_dim(dim, self._data.ndim)
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self._data.shape[d]))

    def narrow(self, dim: _int, start: _int, length: _int) -> Any:
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d]
        if not -n <= start <= n:
            raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but "
                             f"got {start})")
        start = start + n if start < 0 else start
        if length < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        if start + length > n:
            raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                               f"({n}).")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def tril(self, diagonal: _int = 0) -> Any:
        return self._tri(np.tril, diagonal)

    def triu(self, diagonal: _int = 0) -> Any:
        return self._tri(np.triu, diagonal)

    def _tri(self, fn: Any, k: _int) -> Any:
        if self._data.ndim < 2:
            raise RuntimeError(f"{fn.__name__}: input tensor must have at least 2 dimensions")
        keep = fn(np.ones(self._data.shape[-2:], dtype=bool), k)
        return self.where(self._make(keep), self._make(np.zeros((), self._data.dtype)))

    def diagonal(self, offset: _int = 0, dim1: _int = 0, dim2: _int = 1) -> Any:
        """The diagonal of (dim1, dim2) as a view, moved to the last dim."""
        d1, d2 = wrap_dim(dim1, self._data.ndim), wrap_dim(dim2, self._data.ndim)
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        return Diagonal.apply(self, offset, d1, d2)
