"""Shape methods: views and reshapes (view, reshape, permute, transpose, expand, squeeze, ...,
and their in-place forms), methods that rearrange or cut along dims (repeat, repeat_interleave,
flip, rot90, roll, unfold, split, tensor_split, narrow, tril, diagonal, diag_embed), and
products that lay tensors out in blocks (kron, cross), and the methods that place a tensor in
its storage (as_strided, resize_, set_, untyped_storage: their work is in ``storage.py``).
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
from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.autograd.inplace import check_inplace, multi_output_views, unviewed_alias
from ndgrad.ops.index import Split, Unfold
from ndgrad.ops.shape import (
    Diagonal,
    DiagonalEmbed,
    DiagonalScatter,
    Expand,
    ExpandCopy,
    Flip,
    Permute,
    Reshape,
    Roll,
)
from ndgrad.tensor import storage as _storage
from ndgrad.tensor.base import TensorBase, _bool, _int


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

    def ravel(self) -> Any:
        """The elements as a 1-D tensor (a view when the layout allows, as reshape)."""
        return self.reshape(-1)

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

    @property
    def H(self) -> Any:  # noqa: N802
        """The conjugate transpose of a matrix: its transpose, as ndgrad has no complex dtypes."""
        n = self._data.ndim
        if n == 0:
            warnings.warn("Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
                          UserWarning, stacklevel=2)
            return self
        if n != 2:
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {n}-D "
                               f"tensor." + (" For batches of matrices, consider using tensor.mH"
                                             if n > 2 else ""))
        return self.transpose(0, 1)

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
        return _storage.unview(x.reshape(tuple(r * s for r, s in zip(reps, shp, strict=True))))

    def tile(self, *dims: Any) -> Any:
        reps = shape_arg(dims)
        reps = (1,) * (self._data.ndim - len(reps)) + reps
        return self.repeat(reps)

    def flip(self, *dims: Any, **kwargs: Any) -> Any:
        """Reverse the order along ``dims`` (``flip(0, 1)``, ``flip((0, 1))`` or ``dims=``)."""
        if "dims" in kwargs:
            dims = (kwargs.pop("dims"),)
        if kwargs:
            raise TypeError(f"flip() got an unexpected keyword argument '{next(iter(kwargs))}'")
        if isinstance(dims[0] if len(dims) == 1 else None, int):
            dims = ((dims[0],),)
        return Flip.apply(self, wrap_dims(shape_arg(dims), self._data.ndim))

    def rot90(self, k: _int = 1, dims: Sequence[_int] = (0, 1)) -> Any:
        """Rotate by 90 degrees k times, from the first of ``dims`` towards the second."""
        if len(dims) != 2:
            raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
        if self._data.ndim < 2:
            raise RuntimeError(f"expected total dims >= 2, but got total dims = "
                               f"{self._data.ndim}")
        d0, d1 = (wrap_dim(d, self._data.ndim) for d in dims)
        if d0 == d1:
            raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} "
                               f"and dim1 = {d1}")
        k %= 4
        if k == 1:  # (a transpose of the flipped copy, a tensor of its own as torch's)
            return _storage.unview(self.flip(d1).transpose(d0, d1))
        if k == 2:
            return self.flip(d0, d1)
        if k == 3:
            return _storage.unview(self.flip(d0).transpose(d0, d1))
        return self.clone()

    def fliplr(self) -> Any:
        return self.flip(1)

    def flipud(self) -> Any:
        return self.flip(0)

    def roll(self, shifts: Any, dims: Any = None) -> Any:
        """Shift elements along ``dims`` (of the flattened tensor if None), wrapping around."""
        shifts_t = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        dims_t = () if dims is None else (dims,) if isinstance(dims, int) else tuple(dims)
        if dims is None and len(shifts_t) == 1:
            if self._data.ndim == 0:
                return self.clone()
            return _storage.unview(Roll.apply(self.flatten(), shifts_t[0], 0).reshape(self.shape))
        if len(shifts_t) != len(dims_t):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts_t)}, "
                               f"dims:{len(dims_t)}")
        if self._data.ndim == 0:
            raise IndexError(f"Dimension specified as {dims_t[0]} but tensor has no dimensions")
        return Roll.apply(self, shifts_t, tuple(wrap_dim(d, self._data.ndim) for d in dims_t))

    def split(self, split_size_or_sections: Any, dim: _int = 0) -> tuple[Any, ...]:
        """Pieces of ``split_size`` along dim (the last may be smaller), or of the given sizes:
        views that, as torch's, may not be modified in place while autograd records (see
        unsafe_split)."""
        name = "Split" if isinstance(split_size_or_sections, int) else "SplitWithSizes"
        return multi_output_views(self._pieces(split_size_or_sections, dim, joined=True), name)

    def unsafe_split(self, split_size: _int, dim: _int = 0) -> tuple[Any, ...]:
        """split's pieces as tensors of their own that share self's memory, so that they may
        be modified in place (the change shows in self, but not in its version or history)."""
        return tuple(unviewed_alias(p) for p in self._pieces(split_size, dim, joined=True))

    def _pieces(self, split_size_or_sections: Any, dim: _int,
                joined: bool = False) -> tuple[Any, ...]:
        """split's pieces: views made by one Split node (``joined``, torch's split), or each by
        its own narrow (tensor_split's)."""
        if self._data.ndim == 0:
            raise RuntimeError("split expects at least a 1-dimensional tensor")
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
        if joined:
            return Split.apply(self, sizes=sizes, dim=d)
        out, start = [], 0
        for s in sizes:
            out.append(self.narrow(d, start, s))
            start += s
        return tuple(out)

    def split_with_sizes(self, split_sizes: Sequence[_int], dim: _int = 0) -> tuple[Any, ...]:
        return self.split(list(split_sizes), dim)

    def chunk(self, chunks: _int, dim: _int = 0) -> tuple[Any, ...]:
        """At most ``chunks`` pieces of equal size (ceil(n / chunks)) along dim: split's."""
        return self.split(self._chunk_size(chunks, dim), dim)

    def unsafe_chunk(self, chunks: _int, dim: _int = 0) -> tuple[Any, ...]:
        """chunk's pieces as unsafe_split's: they may be modified in place."""
        return self.unsafe_split(self._chunk_size(chunks, dim), dim)

    def _chunk_size(self, chunks: _int, dim: _int) -> Any:
        """The split size (or, along an empty dim, the sizes) of ``chunk(chunks, dim)``."""
        if self._data.ndim == 0:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        n = self._data.shape[wrap_dim(dim, self._data.ndim)]
        return -(-n // chunks) if n else [0] * chunks

    def tensor_split(self, indices_or_sections: Any, dim: _int = 0) -> tuple[Any, ...]:
        """``sections`` pieces as equal as can be (the first n % sections one longer), or the
        pieces between ``indices`` (a list or a 1-D tensor; out-of-range indices clamp)."""
        if self._data.ndim == 0:
            raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                               "tensor with 0 dims")
        d = wrap_dim(dim, self._data.ndim)
        n = self._data.shape[d]
        split = indices_or_sections
        if isinstance(split, TensorBase):
            if split._data.dtype != np.int64:
                raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have "
                                   f"dtype of long, but got {split.dtype}")
            if split._data.ndim > 1:
                raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a "
                                   f"zero-dimensional or one-dimensional tensor, but got a "
                                   f"tensor with {split._data.ndim} dims")
            split = split._data.tolist()
        if isinstance(split, int):
            if split <= 0:
                raise RuntimeError(f"number of sections must be larger than 0, got {split}")
            q, r = divmod(n, split)
            return self._pieces([q + 1] * r + [q] * (split - r), d)
        # slice semantics: negative indices count from the end, and all clamp to [0, n]
        bounds = [0] + [builtins.min(builtins.max(i + n if i < 0 else i, 0), n)
                        for i in split] + [n]
        return tuple(self.narrow(d, a, builtins.max(b - a, 0))
                     for a, b in zip(bounds[:-1], bounds[1:]))

    def hsplit(self, sections: Any) -> tuple[Any, ...]:
        """tensor_split along dim 1 (dim 0 of a 1-D tensor); sections must divide evenly."""
        return self._dim_split("hsplit", 1, 1 if self._data.ndim > 1 else 0, sections)

    def vsplit(self, sections: Any) -> tuple[Any, ...]:
        return self._dim_split("vsplit", 2, 0, sections)

    def dsplit(self, sections: Any) -> tuple[Any, ...]:
        return self._dim_split("dsplit", 3, 2, sections)

    def _dim_split(self, name: str, min_ndim: _int, d: _int, sections: Any) -> tuple[Any, ...]:
        if self._data.ndim < min_ndim:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} "
                               f"dimension, but got a tensor with {self._data.ndim} dimensions!")
        n = self._data.shape[d]
        if isinstance(sections, int) and (sections == 0 or n % sections):
            raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but the "
                               f"size of the dimension {n} is not divisible by the split_size "
                               f"{sections}!")
        return self.tensor_split(sections, d)

    def unbind(self, dim: _int = 0) -> tuple[Any, ...]:
        if self._data.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        d = wrap_dim(dim, self._data.ndim)
        return multi_output_views(
            tuple(self[(slice(None),) * d + (i,)] for i in range(self._data.shape[d])), "Unbind")

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

    def narrow_copy(self, dim: _int, start: _int, length: _int) -> Any:
        return self.narrow(dim, start, length).clone()

    def unfold(self, dimension: _int, size: _int, step: _int) -> Any:
        """Every window of ``size`` elements, ``step`` apart, along ``dimension``, in a new last
        dim: (..., n, ...) -> (..., (n - size) // step + 1, ..., size). A view."""
        d = wrap_dim(dimension, self._data.ndim)
        n = self._data.shape[d] if self._data.ndim else 1
        if size > n:
            raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is "
                               f"{size}")
        if step <= 0:
            raise RuntimeError(f"step is {step} but must be > 0")
        if size < 0:
            raise RuntimeError(f"size is {size} but must be >= 0")
        return Unfold.apply(self, d, size, step)

    def repeat_interleave(self, repeats: Any = None, dim: _int | None = None, *,
                          output_size: _int | None = None) -> Any:
        """Each element (or slice along ``dim``) repeated ``repeats`` times in place, an int or
        one count per element; the input is flattened if dim is None. ``x.repeat_interleave()``
        of a 1-D count tensor x gives the indices 0, 1, ... each repeated x[i] times."""
        if repeats is None:  # torch.repeat_interleave(repeats)
            counts = self._data
            if counts.ndim != 1 or counts.dtype.kind not in "iu":
                raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
            if counts.size and counts.min() < 0:
                raise RuntimeError("repeats can not be negative")
            return self._make(np.repeat(np.arange(counts.size), counts))
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else wrap_dim(dim, x._data.ndim)
        n = x._data.shape[d] if x._data.ndim else 1
        reps = repeats._data if isinstance(repeats, TensorBase) else np.asarray(repeats)
        if reps.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if reps.ndim == 1 and reps.size != n and reps.size != 1:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {reps.size} and input.size({d}) = {n}")
        if reps.size and reps.min() < 0:
            raise RuntimeError("repeats can not be negative" if isinstance(repeats, TensorBase)
                               else "Repeats must be non-negative")
        counts = reps.reshape(-1)
        index = np.repeat(np.arange(n), counts if counts.size != 1 else int(counts[0]))
        if output_size is not None and output_size != index.size:
            raise RuntimeError(f"allocated size does not match required size ({output_size} "
                               f"vs {index.size})")
        if x._data.ndim == 0:
            return x.reshape(1).index_select(0, self._make(index))
        return x.index_select(d, self._make(index))

    def kron(self, other: Any) -> Any:
        """The Kronecker product: every element of self times the whole of other, laid out in
        blocks. Shapes (a0, a1, ...) and (b0, b1, ...) give (a0 b0, a1 b1, ...)."""
        other = self._operand(other)
        n = builtins.max(self._data.ndim, other._data.ndim)
        a = self.reshape((1,) * (n - self._data.ndim) + tuple(self.shape))
        b = other.reshape((1,) * (n - other._data.ndim) + tuple(other.shape))
        # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0, b0, a1, b1, ...) -> (a0 b0, ...)
        pairs = a.reshape(tuple(v for s in a.shape for v in (s, 1))) * b.reshape(
            tuple(v for s in b.shape for v in (1, s)))
        return pairs.reshape(tuple(i * j for i, j in zip(a.shape, b.shape)))

    def cross(self, other: Any, dim: _int | None = None) -> Any:
        """The cross product of 3-vectors along ``dim`` (the first dim of size 3 if None, as
        torch's deprecated default), after broadcasting the two."""
        other = self._operand(other)
        if self._data.ndim != other._data.ndim:
            raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
        shape = np.broadcast_shapes(self._data.shape, other._data.shape)
        if dim is None:
            warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\n"
                          "Please either pass the dim explicitly or simply use "
                          "torch.linalg.cross.\nThe default value of dim will change to agree "
                          "with that of linalg.cross in a future release.", UserWarning,
                          stacklevel=2)
            sizes3 = [i for i, s in enumerate(shape) if s == 3]
            if not sizes3:
                raise RuntimeError("no dimension of size 3 in input")
            d = sizes3[0]
        else:
            d = wrap_dim(dim, len(shape))
        if shape[d] != 3:
            raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                               f"{self.shape[d]} and {other.shape[d]}")
        a, b = self.expand(shape), other.expand(shape)
        # (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0): rolled copies of a and b
        return a.roll(-1, d) * b.roll(-2, d) - a.roll(-2, d) * b.roll(-1, d)

    def tril(self, diagonal: _int = 0) -> Any:
        return self._tri(np.tril, diagonal)

    def triu(self, diagonal: _int = 0) -> Any:
        return self._tri(np.triu, diagonal)

    def tril_(self, diagonal: _int = 0) -> Any:
        return self._inplace(lambda: self.tril(diagonal))

    def triu_(self, diagonal: _int = 0) -> Any:
        return self._inplace(lambda: self.triu(diagonal))

    # -- the storage: as_strided, resize_, set_ (ndgrad/tensor/storage.py) ---------------------
    def as_strided(self, size: Sequence[_int], stride: Sequence[_int],
                   storage_offset: _int | None = None) -> Any:
        """A view of this tensor's storage in the given size and strides, from
        ``storage_offset`` (all in elements; default: where this tensor starts). Positions are
        the storage's, not this tensor's: a view's as_strided can reach all of its base."""
        return _storage.as_strided(self, size, stride, storage_offset)

    def as_strided_(self, size: Sequence[_int], stride: Sequence[_int],
                    storage_offset: _int | None = None) -> Any:
        return _storage.as_strided_(self, size, stride, storage_offset)

    def as_strided_scatter(self, src: Any, size: Sequence[_int], stride: Sequence[_int],
                           storage_offset: _int | None = None) -> Any:
        """A copy of self with ``src`` in its as_strided(size, stride, storage_offset) view."""
        return _storage.as_strided_scatter(self, src, size, stride, storage_offset)

    def resize_(self, *sizes: Any, memory_format: Any = None) -> Any:
        """Self as a row-major tensor of ``sizes`` from where it starts in its storage: its
        first elements (in storage order) are kept, new ones are 0. Refused for a tensor that
        requires grad, and when the storage must grow under other tensors that share it."""
        if memory_format is not None and getattr(memory_format, "name", "") != \
                "contiguous_format":
            raise RuntimeError(f"resize_: ndgrad lays tensors out row-major only (got "
                               f"{memory_format})")
        return _storage.resize_(self, shape_arg(sizes))

    def resize_as_(self, the_template: Any, memory_format: Any = None) -> Any:
        return self.resize_(the_template.shape, memory_format=memory_format)

    def set_(self, source: Any = None, storage_offset: _int = 0,
             size: Sequence[_int] | None = None, stride: Sequence[_int] | None = None) -> Any:
        """Share the storage of ``source`` (a tensor or a storage), in the given geometry or
        source's own; with no source, an empty storage."""
        return _storage.set_(self, source, storage_offset, size, stride)

    def is_set_to(self, tensor: Any) -> _bool:
        """True if both are the same elements of the same storage."""
        return _storage.is_set_to(self, tensor)

    def __deepcopy__(self, memo: dict[Any, Any]) -> Any:
        """copy.deepcopy: the storage copied once per deepcopy, so views stay views of it."""
        return _storage.deepcopy(self, memo)

    def untyped_storage(self) -> Any:
        """The bytes of this tensor's storage: views of one tensor share it (and its
        ``data_ptr()``)."""
        return _storage.untyped_storage(self)

    def storage(self) -> Any:
        """This tensor's storage as elements of its dtype (torch's deprecated TypedStorage)."""
        return _storage.typed_storage(self)

    # -- in-place view ops: self takes the view's shape (and history) over --------------------
    def squeeze_(self, dim: Any = None) -> Any:
        return self._view_inplace(self.squeeze(dim))

    def unsqueeze_(self, dim: _int) -> Any:
        return self._view_inplace(self.unsqueeze(dim))

    def t_(self) -> Any:
        return self._view_inplace(self.t())

    def transpose_(self, dim0: _int, dim1: _int) -> Any:
        return self._view_inplace(self.transpose(dim0, dim1))

    swapaxes_ = transpose_
    swapdims_ = transpose_

    def _view_inplace(self, view: Any) -> Any:
        """self becomes ``view``, a view of its own memory with another shape: its array and,
        if recorded, its grad_fn (as torch's in-place view ops change only the metadata). A
        view stays a view of the same base, with ``view``'s chain of view ops from it."""
        if grad_state.enabled and self.requires_grad:
            check_inplace(self)  # torch's checks of in-place ops, views of leaves included
        self._data = view._data
        if view._grad_fn is not None:
            self._grad_fn, self._output_nr = view._grad_fn, view._output_nr
        if view._base is not None and view._base is not self:
            self._base, self._view_fn = view._base, view._view_fn
            self._view_version, self._view_meta = view._view_version, view._view_meta
        return self

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

    def diagonal_scatter(self, src: Any, offset: _int = 0, dim1: _int = 0, dim2: _int = 1) -> Any:
        """A copy of self with its diagonal (as ``diagonal`` takes it) replaced by ``src``."""
        d1, d2 = wrap_dim(dim1, self._data.ndim), wrap_dim(dim2, self._data.ndim)
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        want = np.diagonal(self._data, offset, d1, d2).shape
        if tuple(src.shape) != want:
            raise RuntimeError(f"expected src to have a size equal to the slice of self. src "
                               f"size = {list(src.shape)}, slice size = {list(want)}")
        return DiagonalScatter.apply(self, src.to(self.dtype), offset, d1, d2)

    def diag(self, diagonal: _int = 0) -> Any:
        """A 1-D tensor as the ``diagonal``-th diagonal of a square matrix, or that diagonal
        of a matrix, copied."""
        n = self._data.ndim
        if n == 1:
            size = self._data.shape[0] + builtins.abs(diagonal)
            return DiagonalEmbed.apply(self, (size, size), diagonal, 0, 1)
        if n == 2:
            return self.diagonal(diagonal).clone()
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {n}D")

    def diag_embed(self, offset: _int = 0, dim1: _int = -2, dim2: _int = -1) -> Any:
        """Tensors whose diagonals (offset, dim1, dim2) hold the last dim of self, zeros
        elsewhere: the adjoint of diagonal()."""
        nd = self._data.ndim + 1
        d1, d2 = wrap_dim(dim1, nd), wrap_dim(dim2, nd)
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        x = self if self._data.ndim else self.reshape(1)
        size = x._data.shape[-1] + builtins.abs(offset)
        rest = iter(x._data.shape[:-1])
        shape = tuple(size if i in (d1, d2) else next(rest) for i in range(nd))
        return DiagonalEmbed.apply(x, shape, offset, d1, d2)

    def diagflat(self, offset: _int = 0) -> Any:
        """The flattened input on the ``offset``-th diagonal of a square matrix."""
        return self.reshape(-1).diag(offset)

    def trace(self) -> Any:
        """The sum of a matrix's main diagonal."""
        if self._data.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got tensor with dim "
                               f"{self._data.ndim}")
        return self.diagonal().sum()
