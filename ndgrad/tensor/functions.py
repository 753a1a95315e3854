"""Functions of several tensors, as torch has them at the top level: where, cat, stack and
their variants (hstack, vstack, dstack, column_stack, block_diag), meshgrid, cartesian_prod,
combinations, tensordot, cdist, einsum, broadcast_tensors, var_mean/std_mean, trapezoid,
searchsorted/bucketize, isin, tril/triu_indices; the ``*_copy`` forms of the view ops; and the
functional forms of a few methods (softmax, log_softmax)."""

from __future__ import annotations

import itertools
import math
import string
import warnings
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import broadcast_error, not_implemented_for, wrap_dim
from ndgrad.ops.linalg import Einsum, _explicit
from ndgrad.ops.reduce import Cdist
from ndgrad.ops.shape import Cat, Pad
from ndgrad.ops.sort import searchsorted_rows
from ndgrad.tensor.base import Size
from ndgrad.tensor.complex import view_as_complex, view_as_real
from ndgrad.tensor.conversion import cast, contiguous_format, promoted
from ndgrad.tensor.core import Tensor
from ndgrad.tensor.creation import tensor
from ndgrad.tensor.sort import _histogram


def _as_tensor(v: Any) -> Tensor:
    return v if isinstance(v, Tensor) else tensor(v)


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """Elementwise ``input if condition else other``, broadcasting all three; ``where(cond)``
    alone is ``cond.nonzero(as_tuple=True)``."""
    cond = _as_tensor(condition)
    if input is None and other is None:
        return cond.nonzero(as_tuple=True)
    if not isinstance(input, Tensor):  # a number: it takes the dtype input and other promote to
        if isinstance(input, np.number | np.bool_):
            input = input.item()
        input = Tensor._make(np.asarray(input, dtype=_dtype.result_type(input, other)))
    return input.where(cond, other)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (1-D empty tensors are skipped, as in torch)."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               f"concatenated")
    ts = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    d = wrap_dim(dim, ts[0].ndim)
    for i, t in enumerate(tensors):
        if t is not ts[0] and t.ndim == 1 and t.shape[0] == 0:
            continue
        if t.ndim != ts[0].ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got "
                               f"{ts[0].ndim} and {t.ndim}")
        if any(a != b for j, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if j != d):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected "
                               f"size {list(ts[0].shape)} but got size {list(t.shape)} for "
                               f"tensor number {i} in the list.")
    nd = (_dtype.result_type(*tensors) if len({t._data.dtype for t in tensors}) > 1
          else tensors[0]._data.dtype)
    return Cat.apply(*(cast(t, nd) for t in tensors), dim=d)


concat = cat
concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim."""
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    d = wrap_dim(dim, len(shape) + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation (differentiable): ``einsum('ij,jk->ik', a, b)``."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    ts = [_as_tensor(o) for o in operands]
    equation = equation.replace(" ", "")
    ins, out = _explicit(equation, [tuple(t.shape) for t in ts])
    nd = _einsum_dtype(equation, ins, out, [t._data for t in ts])
    return Einsum.apply(equation, *(promoted(t, nd) for t in ts))


def _summed(nd: np.dtype) -> np.dtype:
    """The dtype of torch.sum of a ``nd`` tensor: bool and integers sum to int64."""
    return np.dtype(np.int64) if nd.kind in "biu" else nd


def _einsum_dtype(equation: str, ins: list[str], out: str,
                  xs: list[np.ndarray]) -> np.dtype:
    """torch's einsum result dtype, raising its errors (at::einsum, operands left to right).

    A label held (with size > 1) by one operand only is summed out of it first (bool and int
    sums are int64); a pair with no label left to contract is multiplied (type promotion); one
    with some goes through bmm, which needs one dtype and no bool, and takes the right operand's
    dtype when one is empty (sumproduct_pair swaps the pair when the right's own output dims all
    come before the left's). The values are the same computed at the result dtype, so one NumPy
    einsum does the work."""
    sizes = [dict(zip(sub, x.shape, strict=True)) for sub, x in zip(ins, xs, strict=True)]
    dtypes = [x.dtype for x in xs]
    contracted = set("".join(ins)) - set(out)
    if len(xs) == 1:
        return _summed(dtypes[0]) if set(ins[0]) & contracted else dtypes[0]
    # torch's dim order: the output's, then '...' dims (letters _explicit made up), then
    # the other contracted labels, upper case first
    made_up = contracted - set(equation)
    order = {c: i for i, c in enumerate(out)}
    order.update((c, len(out) + i) for i, c in enumerate(sorted(
        contracted, key=lambda c: (c not in made_up, string.ascii_letters.index(c)
                                   if c in made_up else (c.islower(), c)))))
    holders = {c: sum(s.get(c, 1) != 1 for s in sizes) for c in contracted}
    a, a_dt = sizes[0], dtypes[0]
    for b, b_dt in zip(sizes[1:], dtypes[1:]):
        pair, gone = set(), set()
        for c in contracted:
            in_a, in_b = a.get(c, 1) != 1, b.get(c, 1) != 1
            if in_a and in_b:
                holders[c] -= 1
                if holders[c] == 1:  # a and b, merged, are its last holder: bmm contracts it
                    pair.add(c)
                    holders[c] = 0
            elif holders[c] == 1 and (in_a or in_b):  # only one of them holds it: sum it out
                if in_a:
                    a_dt = _summed(a_dt)
                else:
                    b_dt = _summed(b_dt)
                holders[c] = 0
                gone.add(c)
        a = {c: n for c, n in a.items() if c not in gone}  # summed (keepdim): size 1
        b = {c: n for c, n in b.items() if c not in gone}
        if not pair:
            a_dt = _dtype.promote_types(a_dt, b_dt)
        else:
            lo = [order[c] for c in order
                  if c not in pair and a.get(c, 1) != 1 and b.get(c, 1) == 1]
            ro = [order[c] for c in order if c not in pair and a.get(c, 1) == 1]
            left, right = (b_dt, a_dt) if lo and ro and max(ro) < min(lo) else (a_dt, b_dt)
            if 0 in a.values() or 0 in b.values():
                a_dt = right  # an empty bmm checks nothing
            elif left.kind == "b":
                raise not_implemented_for("bmm", left)
            elif left != right:
                raise RuntimeError(f"expected scalar type {_dtype.scalar_name(left)} but found "
                                   f"{_dtype.scalar_name(right)}")
            else:
                a_dt = left
        merged = {c: a.get(c, 1) if a.get(c, 1) != 1 else b.get(c, 1)
                  for c in {*a, *b} - pair}
        a = merged
    return a_dt


def var_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: Any = None, axis: Any = None,
             keepdims: bool | None = None) -> tuple[Tensor, Tensor]:
    """(var, mean) over ``dim``, with var's arguments (``var_mean(x, unbiased)`` too)."""
    return _spread_mean(Tensor.var, input, dim, unbiased, keepdim, correction, axis, keepdims)


def std_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: Any = None, axis: Any = None,
             keepdims: bool | None = None) -> tuple[Tensor, Tensor]:
    """(std, mean) over ``dim``, with std's arguments."""
    return _spread_mean(Tensor.std, input, dim, unbiased, keepdim, correction, axis, keepdims)


def _spread_mean(spread: Any, input: Tensor, dim: Any, unbiased: bool | None, keepdim: bool,
                 correction: Any, axis: Any, keepdims: bool | None) -> tuple[Tensor, Tensor]:
    """(spread, mean) for var_mean and std_mean: NumPy's axis/keepdims names accepted, and a
    bool in dim's place read as ``unbiased``, as torch's overloads do."""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (spread(input, dim, unbiased, keepdim, correction=correction),
            input.mean(dim, keepdim))


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(t: Tensor) -> bool:
    return t.is_floating_point()


def is_nonzero(input: Tensor) -> bool:
    return input.is_nonzero()


def is_signed(input: Tensor) -> bool:
    return input.is_signed()


def is_same_size(input: Tensor, other: Tensor) -> bool:
    return input.is_same_size(other)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D ``x``: column j is x ** (N-1-j), or x ** j with
    ``increasing`` (N defaults to len(x)). Built as a cumulative product of x, so that its
    gradient is defined at x = 0 (where the x ** 0 column's pow gradient would be 0 * inf)."""
    if x.ndim != 1:
        raise RuntimeError(f"x must be a one-dimensional tensor, got {x.ndim} dims")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError(f"N must be non-negative, got {n}")
    if x._data.dtype.kind == "b":
        x = x.long()
    column = x.unsqueeze(-1)
    if n <= 1:
        out = column.new_ones((x.shape[0], n))
    else:
        out = cat([column.new_ones((x.shape[0], 1)), column.expand(-1, n - 1)], -1).cumprod(-1)
    return out if increasing else out.flip(-1)


def range_(start: float, end: float, step: float = 1, *, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """torch.range (``ndgrad.range``; deprecated in torch, kept for old code): ``start`` to
    ``end`` *inclusive* by ``step``,
    in the default dtype (unlike arange, which excludes ``end`` and infers an integer dtype)."""
    from ndgrad import _dtype
    from ndgrad.tensor.creation import arange

    warnings.warn("ndgrad.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "ndgrad.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    size = int(math.floor((end - start) / step)) + 1
    dt = _dtype.get_default_dtype() if dtype is None else dtype
    out = arange(size, dtype=_dtype.float64, device=device) * step + start
    return out.to(dt).requires_grad_(requires_grad)


def nuclear_norm(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The sum of singular values of a matrix (of the last two dims, or of ``dim``)."""
    from ndgrad import linalg
    return linalg.matrix_norm(input, "nuc", dim=(-2, -1) if dim is None else dim,
                              keepdim=keepdim)


def frobenius_norm(input: Tensor, dim: Any = (-2, -1), keepdim: bool = False) -> Tensor:
    """The square root of the sum of squares over ``dim``."""
    from ndgrad import linalg
    return linalg.vector_norm(input, 2, dim=dim, keepdim=keepdim)


def typename(obj: Any) -> str:
    """A tensor's legacy type name (``ndgrad.FloatTensor``), else the object's module and
    qualified name (its class's for an instance), as torch.typename."""
    if isinstance(obj, Tensor):
        return obj.type()
    named = obj if hasattr(obj, "__qualname__") else type(obj)
    module = getattr(named, "__module__", "") or ""
    return named.__qualname__ if module in ("", "builtins") else f"{module}.{named.__qualname__}"


def broadcast_shapes(*shapes: Any) -> Size:
    """The shape that tensors of ``shapes`` broadcast to (torch's message if they don't)."""
    try:
        return Size(np.broadcast_shapes(*shapes))
    except ValueError:
        raise broadcast_error(*shapes) from None


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded to their broadcast shape; one already of that shape is returned
    as it is, as torch does."""
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t if t.shape == shape else t.expand(shape) for t in tensors)


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return input.log_softmax(dim, dtype=dtype)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Any = None) -> Tensor:
    """Category indices drawn from each row of ``input`` (see Tensor.multinomial)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.multinomial(num_samples, replacement, generator=generator)


# -- joining tensors ---------------------------------------------------------------------------
def _tensors(tensors: Any, name: str) -> list[Tensor]:
    """The tensors of ``f(a, b)`` or ``f([a, b])``."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tensors[0]
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element in argument, but got "
                            f"{type(t).__name__}")
    return list(tensors)


def _atleast(ndim: int, shape_of: Any, tensors: tuple[Any, ...], name: str) -> Any:
    ts = _tensors(tensors, name)
    out = tuple(t if t.ndim >= ndim else t.reshape(shape_of(t)) for t in ts)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least one dim (a 0-d one becomes shape (1,))."""
    return _atleast(1, lambda t: (1,), tensors, "atleast_1d")


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least two dims: () -> (1, 1), (n,) -> (1, n)."""
    return _atleast(2, lambda t: (1,) * (2 - t.ndim) + tuple(t.shape), tensors, "atleast_2d")


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least three dims: () -> (1, 1, 1), (n,) -> (1, n, 1),
    (m, n) -> (m, n, 1)."""
    def shape(t: Tensor) -> tuple[int, ...]:
        return {0: (1, 1, 1), 1: (1, t.numel(), 1)}.get(t.ndim, tuple(t.shape) + (1,))
    return _atleast(3, shape, tensors, "atleast_3d")


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 1 (dim 0 for 1-D tensors)."""
    ts = atleast_1d(*_tensors((tensors,), "hstack"))
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join as rows: 1-D tensors become rows of a matrix."""
    return cat(atleast_2d(*_tensors((tensors,), "vstack")), 0)


row_stack = vstack


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along the third dim (depth)."""
    return cat(atleast_3d(*_tensors((tensors,), "dstack")), 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Join as columns: 0-d and 1-D tensors become columns of a matrix."""
    ts = _tensors((tensors,), "column_stack")
    return cat([t.reshape(t.numel(), 1) if t.ndim <= 1 else t for t in ts], 1)


def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (0-d, 1-D as a row, or 2-D) as blocks on the diagonal of a zero matrix."""
    mats = []
    for i, t in enumerate(_tensors(tensors, "block_diag")):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t.ndim} dimensions")
        mats.append(t.reshape((1,) * (2 - t.ndim) + tuple(t.shape)))
    if not mats:
        return Tensor._make(np.zeros((0, 0), _dtype.default_float()))
    nd = _dtype.result_type(*mats)
    width = sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:  # each block padded with zeros to the full width, then the rows joined
        w = m.shape[1]
        rows.append(Pad.apply(cast(m, nd), ((0, 0), (left, width - left - w)), 0))
        left += w
    return Cat.apply(*rows, dim=0)


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids: output i varies along dim i ('ij'), or the first two swapped ('xy',
    as NumPy's default); 0-d and 1-D inputs. The grids are expanded views of the inputs."""
    ts = _tensors(tensors, "meshgrid")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {t.ndim}D")
    if len({t.dtype for t in ts}) > 1:
        raise RuntimeError("torch.meshgrid: Expected all tensors in the tensor list to have the "
                           "same dtype")
    swap = indexing == "xy" and len(ts) >= 2
    order = [1, 0] + list(range(2, len(ts))) if swap else list(range(len(ts)))
    shape = tuple(ts[i].numel() for i in order)
    out = []
    for i, t in enumerate(ts):
        where = order.index(i)  # the output dim that t runs along
        view = [1] * len(ts)
        view[where] = t.numel()
        out.append(t.reshape(view).expand(shape))
    return tuple(out)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of one element from each 1-D tensor, as rows (itertools.product)."""
    ts = _tensors(tensors, "cartesian_prod")
    for t in ts:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-r combinations of a 1-D tensor's elements, as rows (itertools.combinations,
    or combinations_with_replacement), in lexicographic order of positions."""
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty(0)
    n = input.shape[0]
    # positions (i1, ..., ir) over the whole grid, kept where increasing (or non-decreasing)
    grid = np.indices((n,) * r).reshape(r, -1)
    keep = np.ones(grid.shape[1], bool)
    for a, b in itertools.pairwise(grid):
        keep &= a <= b if with_replacement else a < b
    index = Tensor._make(grid[:, keep].T.copy())
    return input[index]


# -- products and distances ------------------------------------------------------------------
def tensordot(a: Tensor, b: Tensor, dims: Any = 2, out: Any = None) -> Tensor:
    """Sum the products over the last ``dims`` dims of a and the first of b, or over the
    given pairs of dims (``dims=([1, 0], [0, 1])``): a matrix product after a permute."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got "
                               f"dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, but got "
                           f"{len(da)} and {len(db)}")
    da = [wrap_dim(d, a.ndim) for d in da]
    db = [wrap_dim(d, b.ndim) for d in db]
    for i, j in zip(da, db):  # a size-1 dim broadcasts: sum the other side's dim right away
        if b.shape[j] == 1:
            a = a.sum(i, keepdim=True)
        elif a.shape[i] == 1:
            b = b.sum(j, keepdim=True)
        elif a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in "
                               f"dim {j}")
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = int(np.prod([a.shape[d] for d in da]))
    nd = _dtype.result_type(a, b)
    x = cast(a, nd).permute(free_a + da).reshape(-1, k)  # (free_a..., k)
    y = cast(b, nd).permute(db + free_b).reshape(k, -1)  # (k, free_b...)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return (x @ y).reshape(shape)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between each row of x1 (..., P, M) and each row of x2 (..., R, M):
    (..., P, R); batch dims broadcast. Gradients as torch's (0 where a distance is 0)."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
             "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for t in (x1, x2):
        if not t.is_floating_point():
            raise RuntimeError(f"cdist only supports floating-point dtypes, X{1 if t is x1 else 2}"
                               f" got: {t.dtype}")
    batch = broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    a = x1.expand(tuple(batch) + tuple(x1.shape[-2:]))
    b = x2.expand(tuple(batch) + tuple(x2.shape[-2:]))
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == "use_mm_for_euclid_dist_if_necessary" and (a.shape[-2] > 25 or
                                                                   b.shape[-2] > 25)))
    return Cdist.apply(a, b, float(p), use_mm)


def trapezoid(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The integral of y along dim by the trapezoidal rule, at points x (a tensor) or with
    spacing dx (1 if neither is given)."""
    return _trapezoid(y, x, dx, dim, cumulative=False)


def trapz(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """Alias of trapezoid."""
    return _trapezoid(y, x, dx, dim, cumulative=False)


def cumulative_trapezoid(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The running trapezoidal integral of y along dim (one element fewer than y)."""
    return _trapezoid(y, x, dx, dim, cumulative=True)


def _trapezoid(y: Tensor, x: Any, dx: Any, dim: int, cumulative: bool) -> Tensor:
    name = "cumulative_trapezoid" if cumulative else "trapezoid"
    if not isinstance(x, Tensor) and x is not None:  # trapz(y, dx) positionally
        dx, x = x, None
    if y.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = wrap_dim(dim, y.ndim)
    n = y.shape[d]
    if n == 0:  # no intervals: an empty integral is 0 (torch's zeros: no gradient)
        if cumulative:
            return y.narrow(d, 0, 0) * 1
        return y.new_zeros(tuple(s for i, s in enumerate(y.shape) if i != d))
    mid = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) / 2  # (y_i + y_i+1) / 2
    if x is not None:
        if x.ndim == 1:
            if x.shape[0] != n:
                raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
            spacing = x.diff().reshape((-1,) + (1,) * (y.ndim - d - 1))
        else:
            spacing = x.diff(dim=dim)
        areas = mid * spacing
    else:
        areas = mid * (1 if dx is None else dx)
    return areas.cumsum(d) if cumulative else areas.sum(d)


# -- searching ---------------------------------------------------------------------------------
def searchsorted(sorted_sequence: Tensor, input: Any, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, sorter: Any = None) -> Tensor:
    """Where each value of ``input`` would be inserted into the sorted last dim of
    ``sorted_sequence`` to keep it sorted (before equal values, or after if ``right``)."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    seq = sorted_sequence._data
    scalar = not isinstance(input, Tensor)
    values = np.asarray(input, dtype=seq.dtype) if scalar else input._data
    if sorter is not None:
        order = sorter._data
        if order.shape != seq.shape:
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same "
                               "size, but got boundary tensor " + str(list(seq.shape)) +
                               " and got sorter tensor " + str(list(order.shape)))
        seq = np.take_along_axis(seq, order, axis=-1)
    if seq.ndim > 1 and (values.ndim != seq.ndim or values.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the "
                           f"first N-1 dimensions of boundaries tensor and input value tensor "
                           f"must match, but we got boundaries tensor {list(seq.shape)} and "
                           f"input value tensor {list(values.shape)}")
    out = searchsorted_rows(seq, values, right)
    return Tensor._make(out.astype(np.int32 if out_int32 else np.int64))


def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """The bucket of each value between the 1-D sorted ``boundaries``: i such that
    boundaries[i-1] < x <= boundaries[i] (or <= x < with ``right``)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


histogramdd_result = namedtuple("histogramdd_result", ["hist", "bin_edges"])


def histogramdd(input: Tensor, bins: Any = 10, *, range: Any = None, weight: Any = None,
                density: bool = False) -> Any:
    """(hist, bin_edges): the histogram of the points in the last dim of ``input`` (..., D),
    ``bins`` equal bins per dim (an int, or one per dim) or edges (a tensor per dim)."""
    x = input._data
    if x.dtype.kind != "f":
        raise not_implemented_for("histogramdd", x.dtype)
    points = x.reshape(-1, x.shape[-1])
    per_dim = list(bins) if isinstance(bins, list | tuple) else [bins] * points.shape[1]
    hist, edges = _histogram(points, per_dim, range, weight, density)
    return histogramdd_result(Tensor._make(hist), tuple(Tensor._make(e) for e in edges))


def gradient(input: Tensor, *, spacing: Any = 1, dim: Any = None,
             edge_order: int = 1) -> tuple[Tensor, ...]:
    """The derivative along each of ``dim`` (all dims by default) by central differences
    inside and one-sided ones (of order ``edge_order``, 1 or 2) at the ends, as NumPy's
    gradient: ``spacing`` is one step for all dims, one per dim, or coordinates (1-D tensors)."""
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dims = list(range(input.ndim)) if dim is None else (
        [dim] if isinstance(dim, int) else list(dim))
    dims = [wrap_dim(d, input.ndim) for d in dims]
    spacing = 1 if spacing is None else spacing
    steps = list(spacing) if isinstance(spacing, list | tuple) else [spacing] * len(dims)
    if len(steps) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or a "
                           f"list of length {len(dims)} but got a list of length {len(steps)}")
    x = input if input.is_floating_point() else cast(input, _dtype.default_float())
    return tuple(_gradient_along(x, d, h, edge_order) for d, h in zip(dims, steps))


def _gradient_along(f: Tensor, d: int, h: Any, order: int) -> Tensor:
    """One dim of gradient: each output a weighted sum of 2 or 3 neighbours, the weights
    from the steps dx (NumPy's formulas for uneven steps; even steps are a special case)."""
    n = f.shape[d]
    if n < order + 1:
        raise RuntimeError("torch.gradient expected each dimension size to be at least "
                           "edge_order+1")
    if isinstance(h, Tensor):  # coordinates: steps dx, possibly uneven; float ones promote f
        dx = np.diff(h._data.astype(np.float64))
        dtype = h._data.dtype if h.is_floating_point() else f._data.dtype
    else:
        dx, dtype = np.full(n - 1, float(h)), f._data.dtype

    def term(weight: Any, start: int, length: int) -> Tensor:
        """weight * f[start:start + length] along d, weight broadcast along d."""
        w = np.asarray(weight, dtype).reshape((-1,) + (1,) * (f.ndim - d - 1))
        return Tensor._make(w) * f.narrow(d, start, length)

    dx1, dx2 = dx[:-1], dx[1:]  # the steps left and right of each interior point
    inner = (term(-dx2 / (dx1 * (dx1 + dx2)), 0, n - 2) + term((dx2 - dx1) / (dx1 * dx2), 1, n - 2)
             + term(dx1 / (dx2 * (dx1 + dx2)), 2, n - 2))
    if order == 1:
        first = term([-1 / dx[0]], 0, 1) + term([1 / dx[0]], 1, 1)
        last = term([-1 / dx[-1]], n - 2, 1) + term([1 / dx[-1]], n - 1, 1)
    else:
        a, b = dx[0], dx[1]
        first = (term([-(2 * a + b) / (a * (a + b))], 0, 1) + term([(a + b) / (a * b)], 1, 1)
                 + term([-a / (b * (a + b))], 2, 1))
        a, b = dx[-2], dx[-1]
        last = (term([b / (a * (a + b))], n - 3, 1) + term([-(a + b) / (a * b)], n - 2, 1)
                + term([(2 * b + a) / (b * (a + b))], n - 1, 1))
    return cat([first, inner, last], d)


def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """Whether each element of ``elements`` is in ``test_elements`` (either may be a number)."""
    a = elements._data if isinstance(elements, Tensor) else np.asarray(elements)
    b = test_elements._data if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    return Tensor._make(np.isin(a, b, assume_unique=assume_unique, invert=invert))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None) -> Tensor:
    """The (2, N) coordinates of the lower triangle of a row x col matrix, row by row."""
    return _tri_indices(np.tril_indices(row, offset, col), dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None) -> Tensor:
    """The (2, N) coordinates of the upper triangle of a row x col matrix, row by row."""
    return _tri_indices(np.triu_indices(row, offset, col), dtype)


def _tri_indices(rows_cols: Any, dtype: Any) -> Tensor:
    nd = np.dtype(np.int64) if dtype is None else _dtype.to_np(dtype)
    if nd.kind not in "iu":
        raise RuntimeError(f"\"tril_indices\" not implemented for '{dtype}'")
    return Tensor._make(np.stack(rows_cols).astype(nd).reshape(2, -1))


def unravel_index(indices: Any, shape: Any) -> tuple[Tensor, ...]:
    """The coordinates in a tensor of ``shape`` of each flat index (negative ones count from
    the end), one tensor per dim, as torch computes them (by division and remainder)."""
    idx = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {idx.dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(s < 0 for s in shape):
        raise ValueError("'shape' cannot have negative values, but got " + str(shape))
    coords = []
    for size in reversed(shape):  # torch's arithmetic: out-of-range indices wrap around
        coords.append(np.mod(idx, size) if size else np.zeros_like(idx))
        idx = np.floor_divide(idx, size) if size else idx
    return tuple(Tensor._make(np.asarray(c, np.int64)) for c in reversed(coords))


# -- the *_copy forms of view ops: the same values in new memory -------------------------------
def _copying(method: str) -> Any:
    def fn(input: Tensor, *args: Any, **kwargs: Any) -> Any:
        out = getattr(input, method)(*args, **kwargs)
        if isinstance(out, tuple):  # contiguous, as torch's *_copy kernels write them
            return tuple(o.clone(memory_format=contiguous_format) for o in out)
        return out.clone(memory_format=contiguous_format)
    fn.__name__ = fn.__qualname__ = f"{method}_copy"
    fn.__doc__ = f"``input.{method}(...)``, copied into new memory (not a view)."
    return fn


expand_copy = _copying("expand")
permute_copy = _copying("permute")
view_copy = _copying("view")
t_copy = _copying("t")
transpose_copy = _copying("transpose")
unsqueeze_copy = _copying("unsqueeze")
squeeze_copy = _copying("squeeze")
diagonal_copy = _copying("diagonal")
unbind_copy = _copying("unbind")
split_copy = _copying("split")
split_with_sizes_copy = _copying("split_with_sizes")
unfold_copy = _copying("unfold")


select_copy = _copying("select")
detach_copy = _copying("detach")


def view_as_real_copy(input: Tensor) -> Tensor:
    """``view_as_real(input)``, copied into new memory (not a view)."""
    return view_as_real(input).clone(memory_format=contiguous_format)  # type: ignore[no-any-return]


def view_as_complex_copy(input: Tensor) -> Tensor:
    """``view_as_complex(input)``, copied into new memory (not a view)."""
    return view_as_complex(input).clone(memory_format=contiguous_format)  # type: ignore[no-any-return]


def slice_copy(input: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
               step: int = 1) -> Tensor:
    """torch.slice_copy: ``input[..., start:end:step, ...]`` along ``dim``, in new memory."""
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    index = (slice(None),) * wrap_dim(dim, input.dim()) + (slice(start, end, step),)
    return input[index].clone(memory_format=contiguous_format)


def alias_copy(input: Tensor) -> Tensor:
    """A copy of the input (what an alias of it holds), contiguous as torch's."""
    return input.clone(memory_format=contiguous_format)
