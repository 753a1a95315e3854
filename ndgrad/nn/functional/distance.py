"""Distances between vectors: cosine_similarity, pairwise_distance and pdist (every pair of
rows of one matrix).
"""

from __future__ import annotations

import numpy as np

from ndgrad._helpers import wrap_dim
from ndgrad.ops.elementwise import PiecewiseGrad
from ndgrad.tensor import Tensor


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1/|x1| * x2/|x2|) along dim; each norm is clamped at eps (value only, as in
    PyTorch, whose clamp runs without grad)."""
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    a, b = x1.expand(shape), x2.expand(shape)
    d = wrap_dim(dim, len(shape))

    def norm(v: Tensor) -> Tensor:
        sq = (v * v).sum(d, keepdim=True)
        n = sq.clamp(min=np.finfo(v._data.dtype).tiny).sqrt()
        return n + (n.detach().clamp(min=eps) - n.detach())

    return ((a / norm(a)) * (b / norm(b))).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    return (x1 - x2 + eps).norm(p, -1, keepdim)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The p-norm distance between every pair of rows i < j of (N, M) input, as a vector of
    N * (N - 1) / 2 (the upper triangle of cdist, row by row)."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    if i.size == 0:
        return input.sum(1)[:0]
    diff = input[Tensor._make(i)] - input[Tensor._make(j)]
    if p == 0:  # a count of differing entries: piecewise constant, its gradient zero
        return PiecewiseGrad.apply((diff != 0).sum(1).to(input.dtype), diff, 1.0)
    return diff.norm(p, 1)
