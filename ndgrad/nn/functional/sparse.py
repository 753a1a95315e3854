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
