"""More of torch's top-level ATen forms: losses with an integer ``reduction``, convolution,
dropout that returns its mask, embedding_bag's four outputs, and a few others.

``torch.kl_div(input, target, 1)`` is what ``F.kl_div(input, target, reduction="mean")`` calls
underneath: the ATen form takes the reduction as torch's enum (0 none, 1 mean, 2 sum; any
other value is none, as ATen's ``apply_loss_reduction``), and some take their arguments in
another order (``torch.embedding_bag(weight, indices, offsets, ...)``). Each form here is a thin
wrapper over ndgrad's functional op, so its gradient is autograd's of that op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.autograd import Function
from ndgrad.nn.functional import conv as _conv
from ndgrad.nn.functional import loss as _loss
from ndgrad.nn.functional.dropout import _dropout_mask, _feature_dropout
from ndgrad.nn.functional.margin import hinge_embedding_loss as _hinge_embedding_loss
from ndgrad.nn.functional.margin import margin_ranking_loss as _margin_ranking_loss
from ndgrad.nn.functional.margin import triplet_margin_loss as _triplet_margin_loss
from ndgrad.nn.functional.sparse import embedding_bag as _embedding_bag
from ndgrad.nn.functional.vision import affine_grid, channel_shuffle
from ndgrad.tensor import Tensor, broadcast_tensors
from ndgrad.tensor.creation import rng_of

# -- losses with torch's integer reduction -----------------------------------------------------
_REDUCTIONS = {1: "mean", 2: "sum"}


def _reduction(reduction: int) -> str:
    """torch's Reduction enum as F's string: 1 mean, 2 sum, anything else none."""
    return _REDUCTIONS.get(int(reduction), "none")


def kl_div(input: Tensor, target: Tensor, reduction: int = 1, *,
           log_target: bool = False) -> Tensor:
    """torch.kl_div: F.kl_div's pointwise loss; mean (1) is over every element (F warns that
    this is not the batch mean; the ATen form does not)."""
    loss = _loss.kl_div(input, target, reduction="none", log_target=log_target)
    how = _reduction(reduction)
    return loss.mean() if how == "mean" else loss.sum() if how == "sum" else loss


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     pos_weight: Tensor | None = None,
                                     reduction: int = 1) -> Tensor:
    """torch.binary_cross_entropy_with_logits: pos_weight before the reduction."""
    return _loss.binary_cross_entropy_with_logits(input, target, weight,
                                                  reduction=_reduction(reduction),
                                                  pos_weight=pos_weight)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: int = 1) -> Tensor:
    return _loss.cosine_embedding_loss(input1, input2, target, margin,
                                       reduction=_reduction(reduction))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 1) -> Tensor:
    return _margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction: int = 1) -> Tensor:
    return _hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        reduction: int = 1) -> Tensor:
    return _triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                reduction=_reduction(reduction))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    """torch.poisson_nll_loss: every argument is required, eps before the reduction."""
    return _loss.poisson_nll_loss(input, target, log_input, full, eps=eps,
                                  reduction=_reduction(reduction))


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: int = 1, zero_infinity: bool = False) -> Tensor:
    """torch.ctc_loss: mean (1) divides each loss by its target length, then averages."""
    return _loss.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                          _reduction(reduction), zero_infinity)


# -- embedding_bag: the output and what ATen keeps for its backward ---------------------------
_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor,
                  scale_grad_by_freq: bool = False, mode: int = 0, sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """torch.embedding_bag: (output, offset2bag, bag_size, max_indices), mode 0 sum, 1 mean,
    2 max, the weight first, 1-D indices with offsets; a negative padding_idx counts from the
    end (-1 is the last row, unlike torch.embedding's), None is no padding index.

    The output is F.embedding_bag's. The other three are what torch's CPU kernel returns for
    its backward, in the indices' dtype: offset2bag, the bag of each index (empty in torch's
    fast path: sum of a float32 weight with no padding index); bag_size, the number of
    non-padding indices of each bag (zeros for sum); max_indices, for max the weight row that
    gave each maximum (0 for an empty bag), for mean bag_size again, for sum zeros."""
    if mode not in (0, 1, 2):
        raise RuntimeError("`mode` must be sum, mean, or max.")
    if indices.dim() != 1:
        raise ValueError(f"embedding_bag: expected 1-D indices (with offsets), got "
                         f"{indices.dim()}-D; F.embedding_bag takes 2-D bags")
    num = weight.shape[0]
    if padding_idx is not None and not -num <= padding_idx < num:
        raise RuntimeError(f"padding_idx must be within the number of embeddings, -{num} "
                           f"through {num - 1}, but got {padding_idx}")
    pad = None if padding_idx is None else padding_idx % num
    out = _embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq, _BAG_MODES[mode],
                         sparse, per_sample_weights, include_last_offset, pad)
    idx = indices._data.astype(np.int64)
    starts = offsets._data.astype(np.int64)
    if include_last_offset:
        starts = starts[:-1]
    n_bags, itype = starts.size, indices._data.dtype
    bag = np.searchsorted(starts, np.arange(idx.size), side="right") - 1
    valid = idx != pad if pad is not None else np.ones(idx.size, dtype=bool)
    sizes = np.bincount(bag[valid], minlength=n_bags)
    fast = mode == 0 and weight.dtype == _dtype.float32 and pad is None
    offset2bag = np.zeros(0, itype) if fast else bag.astype(itype)
    if mode == 0:
        bag_size = np.zeros(n_bags, itype)
        max_indices = bag_size
    elif mode == 1:
        bag_size = max_indices = sizes.astype(itype)
    else:
        bag_size = sizes.astype(itype)
        max_indices = _bag_argmax(weight._data[idx], out._data, bag, valid, idx).astype(itype)
    return (out, Tensor._make(offset2bag), Tensor._make(bag_size.copy()),
            Tensor._make(max_indices.copy()))


def _bag_argmax(rows: np.ndarray, best: np.ndarray, bag: np.ndarray, valid: np.ndarray,
                idx: np.ndarray) -> np.ndarray:
    """(bags, D): the index (weight row) of each bag's first maximum per column, 0 for empty
    bags; ``best`` is F.embedding_bag's max output. Bags are runs of consecutive positions."""
    n_bags, dim = best.shape
    out = np.zeros((n_bags, dim), np.int64)
    if not idx.size:
        return out
    hit = valid[:, None] & (rows == best[bag])  # (L, D)
    pos = np.where(hit, np.arange(idx.size)[:, None], idx.size)
    counts = np.bincount(bag, minlength=n_bags)
    nonempty = counts > 0
    first = np.minimum.reduceat(pos, (np.cumsum(counts) - counts)[nonempty], axis=0)
    found = first < idx.size
    out[nonempty] = np.where(found, idx[np.minimum(first, idx.size - 1)], 0)
    return out


# -- convolution ------------------------------------------------------------------------------
def _expand(value: Any, n: int, name: str) -> tuple[int, ...]:
    """An int or a list of 1 or n ints as n ints (ATen expands a single value)."""
    vals = [int(value)] if isinstance(value, int) else [int(v) for v in value]
    if len(vals) == 1:
        vals *= n
    if len(vals) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={vals}")
    return tuple(vals)


def convolution(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Sequence[int],
                padding: Sequence[int], dilation: Sequence[int], transposed: bool,
                output_padding: Sequence[int], groups: int) -> Tensor:
    """torch.convolution: conv{1,2,3}d, or conv_transpose{1,2,3}d when ``transposed``, by the
    weight's rank."""
    n = weight.dim() - 2
    if n not in (1, 2, 3):
        raise RuntimeError("weight should have at least three dimensions" if n < 1 else
                           f"Expected a 3-D, 4-D or 5-D weight, got {weight.dim()}-D")
    s, p, d = (_expand(v, n, k) for v, k in ((stride, "stride"), (padding, "padding"),
                                               (dilation, "dilation")))
    if transposed:
        up: Any = (_conv.conv_transpose1d, _conv.conv_transpose2d, _conv.conv_transpose3d)[n - 1]
        out: Tensor = up(input, weight, bias, s, p, _expand(output_padding, n, "output_padding"),
                         groups, d)
        return out
    down: Any = (_conv.conv1d, _conv.conv2d, _conv.conv3d)[n - 1]
    out = down(input, weight, bias, s, p, d, groups)
    return out


# -- dropout ----------------------------------------------------------------------------------
def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.feature_dropout: zero whole channels (dim 1) of an input of 2 or more dims."""
    return _feature_dropout(input, p, train, False, 1)


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.feature_dropout_: feature_dropout in place."""
    return _feature_dropout(input, p, train, True, 1)


def native_dropout(input: Tensor, p: float, train: bool | None) -> tuple[Tensor, Tensor]:
    """torch.native_dropout: (output, mask), the bool mask of the kept elements. ``train``
    None means training; in evaluation the output is a copy and the mask all True."""
    if train is not None and not train:
        return input.clone(), Tensor._make(np.ones(tuple(input.shape), bool))
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={1 - p}")
    if p == 1:
        return input * 0.0, Tensor._make(np.zeros(tuple(input.shape), bool))
    scaled = _dropout_mask(tuple(input.shape), p, input._data.dtype)  # kept: 1 / (1 - p)
    return input * scaled, Tensor._make(scaled._data != 0)


# -- norms, shuffles, grids, splits ------------------------------------------------------------
def native_norm(input: Tensor, p: float | None = 2, dim: Any = None, keepdim: bool = False,
                dtype: Any = None) -> Tensor:
    """torch.native_norm: the p-norm (p None is 2) over ``dim`` (all by default). torch has it
    for sparse tensors only; here it takes strided ones too, differentiably."""
    x = input if dtype is None else input.to(dtype)
    return x.norm(2 if p is None else p, dim, keepdim)


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """torch.native_channel_shuffle: F.channel_shuffle."""
    return channel_shuffle(input, groups)


def affine_grid_generator(theta: Tensor, size: Sequence[int], align_corners: bool) -> Tensor:
    """torch.affine_grid_generator: F.affine_grid with align_corners required."""
    return affine_grid(theta, size, align_corners)


def unsafe_split_with_sizes(input: Tensor, split_sizes: Sequence[int],
                            dim: int = 0) -> tuple[Tensor, ...]:
    """torch.unsafe_split_with_sizes: split_with_sizes (ndgrad's views are always safe)."""
    return tuple(input.split_with_sizes(split_sizes, dim))


# -- binomial sampling ------------------------------------------------------------------------
class _Binomial(Function):
    """A binomial sample as the output of count and prob; as in torch, it has no derivative."""

    @staticmethod
    def forward(ctx: Any, sample: Tensor, count: Tensor, prob: Tensor) -> Tensor:
        return sample

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Any:
        raise RuntimeError("derivative for aten::binomial is not implemented")


def binomial(count: Tensor, prob: Tensor, generator: Any = None) -> Tensor:
    """Successes in ``count`` trials of probability ``prob`` (broadcast together), in their
    floating dtype, drawn from ``generator`` (or the global one)."""
    if not count.is_floating_point():
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                           f"{_dtype_name(count)}")
    if prob.dtype != count.dtype:
        raise RuntimeError(f"Found dtype {_dtype_name(prob)} but expected "
                           f"{_dtype_name(count)}")
    c, q = (t._data for t in broadcast_tensors(count, prob))
    if not (np.all(c >= 0) and np.all((q >= 0) & (q <= 1))):
        raise RuntimeError("binomial: expected count >= 0 and 0 <= prob <= 1")
    # (NumPy gives a Python int for 0-d arguments)
    arr = np.asarray(rng_of(generator).binomial(c.astype(np.int64), q), dtype=c.dtype)
    sample = Tensor._make(arr)
    if count.requires_grad or prob.requires_grad:
        out: Tensor = _Binomial.apply(sample, count, prob)
        return out
    return sample


def _dtype_name(t: Tensor) -> str:
    """torch's C++ name of a dtype, as its messages print it (Float, Double, Long, ...)."""
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
             "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
    key = str(t.dtype).split(".")[-1]
    return names.get(key, key)
