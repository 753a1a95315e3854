"""Margin and ranking losses: margin_ranking, hinge_embedding, soft_margin,
multilabel_soft_margin, multi_margin, multilabel_margin, triplet_margin and
triplet_margin_with_distance. Each is a composite of Tensor ops (autograd derives the
backward), written as PyTorch's kernels compute it, so values and gradients match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad.nn.functional._helpers import _reduce, _reduction
from ndgrad.nn.functional.activation import logsigmoid, relu
from ndgrad.nn.functional.distance import pairwise_distance
from ndgrad.tensor import Tensor, where


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin): input1 should rank above input2 where
    target is 1, below where it is -1."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """input where target is 1, max(0, margin - input) where target is -1 (a distance that
    should be small for similar pairs, at least margin for dissimilar ones)."""
    reduction = _reduction(size_average, reduce, reduction)
    zeros = input * 0
    margin_clamp = (margin - input).clamp_min(0)
    loss = where(target != 1, margin_clamp, zeros) + where(target != -1, input, zeros)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input)): a smooth two-class hinge for targets +-1."""
    reduction = _reduction(size_average, reduce, reduction)
    z = -input * target
    if input.is_floating_point():  # torch writes it into a tensor of the input's dtype
        z = z.to(input.dtype)
    return _reduce(z.exp().log1p(), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """Per sample, the mean over classes of the binary logistic loss of each class."""
    reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)


def _class_scores(name: str, input: Tensor, target: Tensor) -> tuple[Tensor, np.ndarray]:
    """(C,) or (N, C) scores as (N, C), with the target as an array of N class indices (for
    multilabel_margin: (N, C))."""
    if input.ndim > 2 or (input.ndim == 2 and input.shape[1] == 0 and input.shape[0] > 0):
        raise RuntimeError(f"{name}: Expected non-empty vector or matrix with optional 0-dim "
                           f"batch size, but got: {list(input.shape)}")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    return x, target._data


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge: per sample, sum over classes j != y of
    max(0, margin - x[y] + x[j])^p (times weight[y]), divided by the number of classes."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x, t = _class_scores("multi_margin_loss", input, target)
    n, c = x.shape
    t = t.reshape(-1)
    if t.shape[0] != n:
        raise RuntimeError(f"inconsistent target size, expected {n} but got "
                           f"{list(target.shape)}")
    if t.size and (t.min() < 0 or t.max() >= c):
        raise RuntimeError("target out of range")
    if weight is not None and (weight.ndim != 1 or weight.numel() != c):
        raise RuntimeError(f"inconsistent weight size, expected {c} but got "
                           f"{list(weight.shape)}")
    picked = x.gather(1, Tensor._make(t.reshape(n, 1).astype(np.int64)))  # x[y], (N, 1)
    z = relu(margin - picked + x)  # strictly positive parts only, as PyTorch's z > 0
    h = z if p == 1 else z * z
    if weight is not None:
        h = h * weight[Tensor._make(t.astype(np.int64))].reshape(n, 1)
    others = Tensor._make(np.arange(c)[None, :] != t[:, None])  # j != y
    loss = (h * others).sum(1) / c
    if input.ndim < 2 and reduction == "none":
        loss = loss.reshape(target.shape if target.ndim else ())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge: target lists each sample's classes (ended by the first -1); per
    sample, sum over its classes j and the other classes k of max(0, 1 - (x[j] - x[k])),
    divided by the number of classes."""
    reduction = _reduction(size_average, reduce, reduction)
    x, t = _class_scores("multilabel_margin_loss", input, target)
    n, c = x.shape
    t = t.reshape(n, c) if t.size == n * c else t
    if t.shape != (n, c):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    # the targets before each row's first -1
    valid = np.cumprod(t >= 0, axis=1).astype(bool)
    if ((t < -1) | (t >= c))[valid].any():
        raise RuntimeError("target out of range")
    tt = np.where(valid, t, 0).astype(np.int64)
    is_target = np.zeros((n, c), dtype=bool)
    rows = np.broadcast_to(np.arange(n)[:, None], (n, c))
    is_target[rows[valid], tt[valid]] = True
    xj = x.gather(1, Tensor._make(tt))  # (N, C) scores of the listed targets
    # (N, targets, classes): 1 - (x[j] - x[k]) for listed j and non-target k
    z = relu(1 - xj.unsqueeze(2) + x.unsqueeze(1))
    mask = Tensor._make((valid[:, :, None] & ~is_target[:, None, :]).astype(x._data.dtype))
    loss = (z * mask).sum((1, 2)) / c
    if input.ndim < 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def _same_ndim(a: Tensor, p: Tensor, n: Tensor) -> None:
    if not (a.ndim == p.ndim == n.ndim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a.ndim}D, positive "
                           f"{p.ndim}D, and negative {n.ndim}D inputs")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with the p-norm distance (pairwise_distance);
    ``swap``: d(a, n) is replaced by d(p, n) where that is smaller."""
    reduction = _reduction(size_average, reduce, reduction)
    _same_ndim(anchor, positive, negative)
    return _triplet(anchor, positive, negative,
                    lambda x, y: pairwise_distance(x, y, p, eps), margin, swap, reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Callable[[Tensor, Tensor], Tensor]
                                      | None = None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """triplet_margin_loss with any distance (pairwise_distance by default)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _same_ndim(anchor, positive, negative)
    dist: Any = distance_function if distance_function is not None else pairwise_distance
    return _triplet(anchor, positive, negative, dist, margin, swap, reduction)


def _triplet(a: Tensor, p: Tensor, n: Tensor, dist: Any, margin: float, swap: bool,
             reduction: str) -> Tensor:
    dist_pos = dist(a, p)
    dist_neg = dist(a, n)
    if swap:
        dist_neg = dist_neg.minimum(dist(p, n))
    return _reduce((margin + dist_pos - dist_neg).clamp_min(0), reduction)
