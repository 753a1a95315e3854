"""Loss functions. cross_entropy and binary_cross_entropy are primitives (``ndgrad/ops/nn.py``)
for numerical stability; the rest are composites with the reduction handled in one place.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ndgrad._dtype import bool_, int64, scalar_name, uint8
from ndgrad.nn.functional._helpers import _float_input, _reduce, _reduction, _size_warning
from ndgrad.nn.functional.activation import log_softmax
from ndgrad.nn.functional.conv import linear
from ndgrad.nn.functional.distance import cosine_similarity
from ndgrad.ops.ctc import CTCLoss
from ndgrad.ops.nn import BinaryCrossEntropy, CrossEntropy, LogSigmoid, NllLoss
from ndgrad.tensor import Tensor, where


def _class_last(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor, tuple]:
    """(N, C, d1, ...) logits and (N, d1, ...) class indices -> (M, C) and (M,), plus the
    target's shape (for reduction='none'). (C,) with a 0-d target (or one of size 1) is one
    sample. torch's nll_loss_nd checks, in its order and with its messages."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    xs, ts = tuple(input.shape), tuple(target.shape)
    if len(xs) != 1 and xs[0] != (ts[0] if ts else 0):
        raise ValueError(f"Expected input batch_size ({xs[0]}) to match target "
                         f"batch_size ({ts[0] if ts else 0}).")
    if len(xs) <= 2 and len(ts) > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if len(xs) == 4 and len(ts) != 3:
        raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got "
                           f"targets of dimension: {len(ts)}")
    if len(xs) == 4 and ts[1:] != xs[2:]:
        raise RuntimeError(f"size mismatch (got input: {list(xs)} , target: {list(ts)}")
    if len(xs) > 2 and ts[1:] != xs[2:]:
        raise RuntimeError(f"Expected target size {[xs[0], *xs[2:]]}, got {list(ts)}")
    if target.dtype not in (int64, uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{scalar_name(target._data.dtype)}")
    if len(xs) == 1:
        if ts not in ((), (1,)):
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: "
                             f"{ts[0]}")
        return input.unsqueeze(0), target.reshape(1), ()
    if len(xs) == 2:
        return input, target, ts
    c = input.shape[1]
    return input.movedim(1, -1).reshape(-1, c), target.reshape(-1), ts


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax + nll in one primitive for class-index targets (its gradient is
    (softmax - onehot) * scale); probability targets (float, input's shape) are a composite."""
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    if weight is not None:
        weight = weight.to(input.dtype)
    if tuple(target.shape) == tuple(input.shape):  # torch's rule: probabilities, not indices
        if not target.is_floating_point():
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {scalar_name(target._data.dtype)}")
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    _float_input(input, "cross_entropy")
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != input.shape[
            1 if input.ndim > 1 else 0]):
        raise RuntimeError(f"weight tensor should be defined either for all "
                           f"{input.shape[1 if input.ndim > 1 else 0]} classes or no classes "
                           f"but got weight tensor of shape: {list(weight.shape)}")
    x, t, shape = _class_last(input, target)
    # only the logits are an input of the graph; the rest are options (no edges to walk)
    out = CrossEntropy.apply(x, target=t._data, weight=None if weight is None else weight._data,
                                ignore_index=ignore_index, reduction=reduction,
                                label_smoothing=float(label_smoothing))
    return out.reshape(shape) if reduction == "none" else out


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                         label_smoothing: float) -> Tensor:
    cdim = 1 if input.ndim > 1 else 0
    c = input.shape[cdim]
    logp = log_softmax(input, cdim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    terms = logp * target
    if weight is not None:
        terms = terms * weight.reshape([-1] + [1] * (input.ndim - cdim - 1))
    if reduction == "none":
        return -terms.sum(cdim)
    if reduction == "sum":
        return -terms.sum()
    return -terms.sum() / (input.numel() // c) if input.numel() else terms.sum() * float("nan")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """-input[i, target[i]] * weight[target[i]]; 'mean' divides by the summed weights."""
    reduction = _reduction(size_average, reduce, reduction)
    x, t, shape = _class_last(input, target)
    c = x.shape[1]
    valid = t._data != ignore_index
    ti = np.where(valid, t._data, 0)
    bad = (ti < 0) | (ti >= c)
    if bad.any():
        raise IndexError(f"Target {int(ti[bad][0])} is out of bounds.")
    w = valid.astype(x._data.dtype)
    if weight is not None:
        w = w * weight._data.astype(x._data.dtype)[ti]
    loss = NllLoss.apply(x, target=ti, w=w, valid=valid, reduction=reduction)
    return loss.reshape(shape) if reduction == "none" else loss


def _weighted(loss: Tensor, input: Tensor, weight: Tensor | None, reduction: str,
              mean_by_weight: bool) -> Tensor:
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def _bool_as(target: Tensor, input: Tensor) -> Tensor:
    """A bool target as the input's dtype: torch's mse/smooth_l1/huber kernels promote it
    (where ``input - target`` itself refuses bool)."""
    return target.to(input.dtype) if target.dtype == bool_ and input.is_floating_point() \
        else target


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    _size_warning(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    diff = input - _bool_as(target, input)
    return _weighted(diff * diff, input, weight, reduction, True)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    _size_warning(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    return _weighted((input - target).abs(), input, weight, reduction, True)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0 is l1_loss)."""
    _size_warning(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = input - _bool_as(target, input)
    ad = d.abs()
    if beta == 0:
        return _reduce(ad, reduction)
    return _reduce(where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    _size_warning(input, target)
    reduction = _reduction(None, None, reduction)
    d = input - _bool_as(target, input)
    ad = d.abs()
    loss = where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    if input.is_floating_point():  # torch's kernel writes into a loss of the input's dtype
        loss = loss.to(input.dtype)
    return _weighted(loss, input, weight, reduction, False)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-(t log x + (1 - t) log(1 - x)), logs clamped at -100 (a primitive, as PyTorch)."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         f"size.")
    if target.dtype != input.dtype:  # torch's kernel takes no other target dtype
        raise RuntimeError(f"Found dtype {scalar_name(target._data.dtype)} but expected "
                           f"{scalar_name(input._data.dtype)}")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"binary_cross_entropy\" not implemented for "
                                  f"'{scalar_name(input._data.dtype)}'")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight.to(input.dtype)  # the loss keeps the input's dtype, as torch's
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """(1 - t) x - (1 + (pos_weight - 1) t) log(sigmoid(x)): stable for any logit."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    if not target.is_floating_point() and target.dtype != bool_:
        raise RuntimeError(f"result type {scalar_name(input._data.dtype)} can't be cast to the "
                           f"desired output type {scalar_name(target._data.dtype)}")
    log_sig = LogSigmoid.apply(input)
    # torch's kernel works in place on (1 - target): each step is rounded to that dtype (the
    # target's, when it is floating), so a float32 target gives a float32 loss for float64 logits
    out = target.dtype if target.is_floating_point() else None
    loss = ((1 - target) * input).to(out)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (loss - (log_weight * log_sig).to(log_weight.dtype)).to(out)
    else:
        loss = (loss - log_sig).to(out)
    if weight is not None:
        loss = (loss * weight).to(out)
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Pointwise target * (log target - input), input being log-probabilities; 'batchmean'
    divides the sum by the batch size (the true KL divergence)."""
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    elif reduction not in ("none", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        safe = where(positive, target, 1.0)  # 0 * log 0 is 0 (xlogy), with finite gradients
        loss = target * safe.log() - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    cos = cosine_similarity(input1, input2, -1, 1e-12)
    loss = where(target == 1, 1 - cos, (cos - margin).clamp(min=0.0))
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of a Poisson target: exp(input) - target * input for log-rate
    inputs, else input - target * log(input + eps); ``full`` adds Stirling's approximation of
    log(target!) where target > 1."""
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of target under N(input, var): 0.5 (log var + (input -
    target)^2 / var), var clamped at eps (the clamp is invisible to the gradient, as in
    PyTorch); var may have one dim fewer, or size 1 in one dim (shared variances)."""
    if isinstance(var, int | float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
    v = var if isinstance(var, Tensor) else input.detach() * 0 + float(var)
    if bool((v < 0).any()):
        raise ValueError("var has negative entry/entries")
    if v.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(v.shape):
            v = v.unsqueeze(-1)
        elif input.ndim == v.ndim and sum(
                b for a, b in zip(input.shape, v.shape) if a != b) == 1:
            pass  # heteroscedastic: one dim of size 1, broadcast
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    v = v + (v.detach().clamp(min=eps) - v.detach())  # the clamp, value only
    loss = 0.5 * (v.log() + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor, *,
                         linear_bias: Tensor | None = None, weight: Tensor | None = None,
                         reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options: Any = None) -> Tensor:
    """cross_entropy(linear(input, linear_weight, linear_bias), target). PyTorch's
    ``options`` choose a chunked computation that saves memory and gives the same result;
    ndgrad accepts them and computes the logits whole."""
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.ndim}")
    batches, in_features = tuple(input.shape[:-1]), input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions "
                           f"(in_features), got {input.shape[-1]} and "
                           f"{linear_weight.shape[-1]}, respectively")
    classes, extra = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (classes, *extra):
        raise RuntimeError(f"expected linear_bias shape {(classes, *extra)}, got "
                           f"{tuple(linear_bias.shape)}")
    if extra and not batches:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, (N, "
                           f"{in_features}), got unbatched input with shape "
                           f"{tuple(input.shape)}")
    logits_shape = (*batches, classes, *extra)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    if extra:
        linear_weight = linear_weight.reshape(math.prod(extra) * classes, in_features)
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(-1)
    logits = linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=-100 if ignore_index is None else ignore_index,
                         label_smoothing=label_smoothing)


def _lengths(v: Any, name: str) -> np.ndarray:
    """input_lengths/target_lengths given as a Tensor, a tuple of ints or an int: (N,) int64."""
    if isinstance(v, Tensor):
        return v._data.astype(np.int64).reshape(-1)
    if isinstance(v, int | np.integer):
        return np.array([v], dtype=np.int64)
    try:
        return np.array([int(i) for i in v], dtype=np.int64).reshape(-1)
    except TypeError:
        raise TypeError(f"ctc_loss(): {name} must be a Tensor or a tuple of ints, got "
                        f"{type(v).__name__}") from None


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss of (T, N, C) log-probabilities (or (T, C))
    against targets padded (N, S) or concatenated (sum(target_lengths),). 'mean' divides each
    sample's loss by its target length (at least 1), then averages over the batch."""
    reduction = _reduction(None, None, reduction)
    _float_input(log_probs, "ctc_loss")
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if lp.ndim != 3:
        raise RuntimeError(f"ctc_loss: expected log_probs of 2 or 3 dimensions, got "
                           f"{log_probs.ndim}")
    t_max, n, c = lp.shape
    if not lp.numel():
        raise RuntimeError("log_probs tensor must not be empty")
    in_len, tgt_len = _lengths(input_lengths, "input_lengths"), _lengths(target_lengths,
                                                                         "target_lengths")
    where_ = "(while checking arguments for ctc_loss_allocate_outputs)"
    if not 0 <= blank < c:
        raise RuntimeError("blank must be in label range")
    if in_len.size != n:
        raise RuntimeError("input_lengths must be of size batch_size")
    if tgt_len.size != n:
        raise RuntimeError("target_lengths must be of size batch_size")
    for name, lens, top in (("input_lengths", in_len, t_max), ("target_lengths", tgt_len, None)):
        if lens.size and lens.min() < 0:
            raise RuntimeError(f"Expected {name} to have value at least 0, but got value "
                               f"{int(lens.min())} {where_}")
        if top is not None and lens.size and lens.max() > top:
            raise RuntimeError(f"Expected {name} to have value at most {top}, but got value "
                               f"{int(lens.max())} {where_}")
    tg = targets._data.astype(np.int64)
    s_max = int(tgt_len.max()) if n else 0
    if tg.ndim == 1 and not unbatched:  # concatenated: sample i's labels follow sample i-1's
        if tg.shape[0] != tgt_len.sum():
            raise RuntimeError(f"Expected tensor to have size {int(tgt_len.sum())} at "
                               f"dimension 0, but got size {tg.shape[0]} for argument #2 "
                               f"'targets' {where_}")
        starts = np.cumsum(tgt_len) - tgt_len
        at = starts[:, None] + np.arange(s_max)[None, :]
        padded = tg[np.minimum(at, max(tg.shape[0] - 1, 0))] if tg.size else \
            np.zeros((n, s_max), np.int64)
    else:
        padded = tg.reshape(1, -1) if unbatched else tg
        if padded.shape[1] < s_max:
            raise RuntimeError(f"Expected tensor to have size at least {s_max} at dimension 1, "
                               f"but got size {padded.shape[1]} for argument #2 'targets' "
                               f"{where_}")
        padded = padded[:, :s_max]
    used = np.arange(s_max)[None, :] < tgt_len[:, None]
    padded = np.where(used, padded, blank)  # padding past each target is never read
    if padded.size and (padded.min() < 0 or padded.max() >= c):
        raise IndexError(f"ctc_loss: target label out of range [0, {c})")
    labels = np.full((n, 2 * s_max + 1), blank, dtype=np.int64)  # l': blanks around labels
    labels[:, 1::2] = padded
    loss = CTCLoss.apply(lp, labels=labels, in_len=in_len, tgt_len=tgt_len,
                         zero_infinity=zero_infinity)  # (N,)
    if reduction == "mean":
        per = Tensor._make(np.maximum(tgt_len, 1).astype(lp._data.dtype))
        return (loss / per).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.squeeze(0) if unbatched else loss
