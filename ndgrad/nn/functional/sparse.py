"""Lookups: embedding (rows of a weight matrix, with padding_idx and max_norm) and one_hot.
"""

from __future__ import annotations

import numpy as np

from ndgrad import _dtype
from ndgrad.ops.nn import Embedding
from ndgrad.tensor import Tensor, tensor


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of weight picked by integer indices (a primitive whose backward adds the gradient
    rows of equal indices); the padding_idx row gets no gradient."""
    idx = input if isinstance(input, Tensor) else tensor(input)
    if idx.dtype not in (_dtype.int64, _dtype.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {idx.dtype} instead "
                           f"(while checking arguments for embedding)")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= num
    arr = idx._data
    if arr.size and (arr.min() < 0 or arr.max() >= num):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm_(weight, arr, max_norm, norm_type)
    return Embedding.apply(weight, idx=arr, padding_idx=padding_idx,
                           scale_grad_by_freq=scale_grad_by_freq)


def _embedding_renorm_(weight: Tensor, idx: np.ndarray, max_norm: float,
                       norm_type: float) -> None:
    """Rescale, in place, the rows used whose norm exceeds max_norm (PyTorch's rule)."""
    rows = np.unique(idx)
    w = weight._data
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
        weight._bump_version()


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """(...,) int64 class indices -> (..., num_classes) int64 one-hot."""
    if tensor.dtype != _dtype.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    arr = tensor._data
    if num_classes == -1:
        if arr.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(arr.max()) + 1
    if arr.size and arr.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if arr.size and arr.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = np.zeros(arr.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, arr[..., None], 1, axis=-1)
    return Tensor._make(out)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of the embedding rows in each bag, without the (bags, length, dim)
    intermediate: bags are the rows of a 2-D input, or runs of a 1-D input starting at each
    offset. Entries equal to padding_idx are left out (an empty bag gives zeros)."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                      f"per_sample_weights is only supported for mode='sum' "
                                      f"(got mode='{mode}'). Please open a feature request on "
                                      f"GitHub.")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) "
                             f"is not None, then it must have the same shape as the input "
                             f"({input.shape})")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences.")
        starts = np.arange(0, input.numel(), input.shape[1]) if input.shape[1] else \
            np.zeros(input.shape[0], np.int64)
        idx = input.reshape(-1)
        psw = per_sample_weights.reshape(-1) if per_sample_weights is not None else None
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets._data.astype(np.int64)
        if include_last_offset:
            starts = starts[:-1]
        idx, psw = input, per_sample_weights
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if starts.size and starts[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {int(starts[0])}")
    n_bags, length = starts.size, idx.numel()
    arr = idx._data.astype(np.int64)
    if padding_idx is not None:
        padding_idx %= weight.shape[0]
    # the bag of each position (offsets are sorted: bags are runs)
    bag = np.searchsorted(starts, np.arange(length), side="right") - 1
    valid = arr != padding_idx if padding_idx is not None else np.ones(length, dtype=bool)
    rows = embedding(Tensor._make(arr), weight, padding_idx, max_norm, norm_type,
                     scale_grad_by_freq)  # (L, D)
    dim = weight.shape[1]
    if mode == "max":
        return _bag_max(rows, bag, valid, n_bags, dim)
    w = Tensor._make(valid.astype(weight._data.dtype))
    terms = rows * (w if psw is None else psw.to(weight.dtype) * w).unsqueeze(1)
    out = Tensor._make(np.zeros((n_bags, dim), weight._data.dtype))
    out = out.index_add(0, Tensor._make(bag), terms)  # (also when empty: out stays in the graph)
    if mode == "mean":
        counts = np.bincount(bag[valid], minlength=n_bags).astype(weight._data.dtype)
        out = out / Tensor._make(np.maximum(counts, 1)[:, None])
    return out


def _bag_max(rows: Tensor, bag: np.ndarray, valid: np.ndarray, n_bags: int,
             dim: int) -> Tensor:
    """Per bag and column, the first maximum of the bag's valid rows (0 for an empty bag)."""
    r = rows._data
    length = r.shape[0]
    masked = np.where(valid[:, None], r, -np.inf)
    has = np.zeros(n_bags, dtype=bool)
    has[bag[valid]] = True
    first = np.zeros((n_bags, dim), dtype=np.int64)
    if length:
        counts = np.bincount(bag, minlength=n_bags)
        nonempty = counts > 0
        s = (np.cumsum(counts) - counts)[nonempty]  # where each bag with entries begins
        best = np.maximum.reduceat(masked, s, axis=0)  # (bags with entries, D)
        owner = np.cumsum(nonempty)[bag] - 1  # each position's row of best
        hit = masked == best[owner]
        cand = np.where(hit, np.arange(length)[:, None], length)
        first[nonempty] = np.minimum.reduceat(cand, s, axis=0)
    first = np.minimum(first, max(length - 1, 0))
    if not length:
        return Tensor._make(np.zeros((n_bags, dim), r.dtype)) + rows.sum() * 0
    out = rows.gather(0, Tensor._make(first))
    return out * Tensor._make(has[:, None].astype(r.dtype))
