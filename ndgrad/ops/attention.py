"""Scaled dot-product attention as one primitive: softmax(q k^T * scale + bias) v.

Shapes: q (..., L, E), k (..., S, E), v (..., S, Ev), bias broadcastable to (..., L, S)
(additive: 0 where a query may look, -inf where it may not, or a user's float mask); the
leading dims broadcast as in matmul. Masks and the grouped-query head layout are turned into
this form by ``F.scaled_dot_product_attention``.

What backward keeps is what PyTorch's flash attention keeps: q, k, v, the output and the
log-sum-exp of each row of scores (lse, (..., L)), not the (..., L, S) attention matrix. Backward
recomputes the matrix from q, k and lse (one batched matmul) and uses
rowsum(dP * P) = rowsum(grad * out) (``delta``), so it never forms P * dP:

    P = exp(q k^T s + bias - lse),  Pd = P * drop (dropout's kept-and-scaled mask)
    dv = Pd^T grad,   dP = (grad v^T) * drop,   dS = P * (dP - delta)
    dq = dS k s,   dk = dS^T q s,   dbias = dS

A query whose every key is masked out gets zeros and zero gradients (torch's _safe_softmax).

With numba (``ndgrad[fast]``) and no mask but the causal one, the scores stay q k^T as BLAS makes
them: the compiled softmax scales them and skips the masked half, backward's exp does the same,
and dS comes out of its kernel with the scale in it, so dq and dk need no pass of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._helpers import inverse_permutation
from ndgrad.ops._numba import kernels, kernels_for
from ndgrad.ops.base import Primitive
from ndgrad.ops.elementwise import Where
from ndgrad.ops.nn import Softmax


def _scores(q: Any, k: Any, bias: Any, scale: float) -> Any:
    """q k^T * scale + bias, (..., L, S); the scale goes on q, the smaller operand when E < S."""
    s = (q * scale) @ k.mT
    if bias is None:
        return s
    if isinstance(s, np.ndarray) and s.shape == np.broadcast_shapes(s.shape, bias.shape):
        s += bias
        return s
    return s + bias  # a Tensor (create_graph), or a mask with more leading dims than q and k


def _empty_like_query(q: np.ndarray, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An empty output of ``shape`` whose leading dims are laid out in memory as q's are.

    Heads split off as ``x.view(B, T, h, d).transpose(1, 2)`` keep (B, T, h, d) order in
    memory; an output in that order makes the usual ``y.transpose(1, 2).contiguous()`` free,
    as torch's attention kernels do."""
    lead = len(shape) - 2
    if q.ndim != len(shape) or lead < 1 or q.shape[:-1] != shape[:-1]:
        return np.empty(shape, dtype)
    strides = q.strides[:-1]
    order = sorted(range(q.ndim - 1), key=lambda i: -strides[i]) + [q.ndim - 1]
    return np.empty([shape[i] for i in order], dtype).transpose(inverse_permutation(order))


def _softmax_lse(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """softmax of s along its last axis, in place, and each row's log-sum-exp (..., L, 1).

    A row that is -inf throughout (fully masked) becomes zeros, with lse = +inf, so that the
    recomputation exp(s - lse) in backward gives zeros there too."""
    m = s.max(-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,), s.dtype)
    blocked = m == -np.inf
    if blocked.any():
        m[blocked] = 0
    s -= m
    np.exp(s, out=s)
    total = s.sum(-1, keepdims=True)
    if blocked.any():
        total[blocked] = np.inf  # exp(-inf) / inf = 0, and lse = +inf
    s /= total
    with np.errstate(divide="ignore"):
        lse = np.log(total)
    lse += m
    return s, lse


def _fold(q: Any, k: Any, bias: Any, drop: Any, causal: bool) -> Any:
    """The kernels when they can take the scale and the (causal or no) mask themselves: the
    scores are then q k^T as they are, and the kernels are told ``causal``; else None."""
    if drop is not None or not (bias is None or causal) or type(q) is not np.ndarray \
            or type(k) is not np.ndarray or q.dtype != k.dtype:
        return None
    kern = kernels()
    return kern if kern is not None and q.dtype.char in "fd" else None  # float32, float64


def _matmul(a: Any, b: Any, like: Any = None) -> Any:
    """a @ b, laid out in memory as ``like`` (the input this is the gradient of) where the
    shapes agree: the gradient of a head split off by ``view(B, T, h, d).transpose(1, 2)`` is
    then (B, T, h, d) in memory, and the backward of that view needs no copy (torch's kernels
    do the same). A broadcast input gets a plain result the engine sums. With numba, the
    products of the heads run on the shared thread pool (``_kernels.matmul``). Tensors (under
    create_graph) take the plain ``@``."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        return a @ b
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    dtype = np.result_type(a, b)
    out = np.empty(shape, dtype) if like is None else _empty_like_query(like, shape, dtype)
    kern = kernels()
    if kern is not None and kern.matmul(a, b, out):
        return out
    return np.matmul(a, b, out=out)


class ScaledDotProductAttention(Primitive):
    """softmax(q k^T * scale + bias) v, with optional dropout on the attention weights.
    ``causal`` says that bias is the causal mask, which the compiled kernels apply themselves."""

    @staticmethod
    def forward(ctx: Any, q: Any, k: Any, v: Any, bias: Any, *, scale: Any,
                drop: Any = None, causal: bool = False) -> Any:
        kern = _fold(q, k, bias, drop, causal)
        lq = q.shape[-2]
        if kern is not None and q.size and k.size:  # the kernel scales and masks
            s = _matmul(q, k.mT)
            lse = np.empty(s.shape[:-1] + (1,), s.dtype)
            kern.softmax_lse(s.reshape(-1, s.shape[-1]), lse.reshape(-1), scale,
                             lq if causal else 0)
            p = s
        else:
            kern = None
            s = _scores(q, k, bias, scale)
            other = kernels_for(s) if s.size else None
            if other is not None:
                lse = np.empty(s.shape[:-1] + (1,), s.dtype)
                other.softmax_lse(s.reshape(-1, s.shape[-1]), lse.reshape(-1))
                p = s
            else:
                p, lse = _softmax_lse(s)
        if drop is not None:
            p *= drop
        out = _matmul(p, v, q)
        ctx.save_for_backward(q, k, v, out, bias)
        ctx.lse, ctx.scale, ctx.drop = lse, scale, drop
        # the scores backward recomputes: None = as _scores makes them, else q k^T for the
        # kernels, with the causal L (or 0: no mask)
        ctx.folded = None if kern is None else (lq if causal else 0)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        q, k, v, out, bias = ctx.saved_like(grad)
        scale, drop, folded = ctx.scale, ctx.drop, ctx.folded
        need_q, need_k, need_v, need_bias = ctx.needs_input_grad
        kern = None
        if isinstance(grad, np.ndarray):
            lse = ctx.lse
            kern = kernels_for(lse) if folded is not None else None
            if kern is not None:
                s = _matmul(q, k.mT)
                kern.exp_shifted(s.reshape(-1, s.shape[-1]), lse.reshape(-1), scale, folded)
            else:
                folded = None
                s = _scores(q, k, bias, scale)
                kern = kernels_for(s, lse) if s.size else None
                if kern is not None:  # one pass instead of two
                    kern.exp_shifted(s.reshape(-1, s.shape[-1]), lse.reshape(-1))
                else:
                    s -= lse
                    np.exp(s, out=s)
            p = s  # the attention weights again, in s's memory
            delta = np.einsum("...d,...d->...", grad, out)[..., None]  # rowsum(grad * out)
        else:  # create_graph: P as a differentiable function of q, k and the mask
            folded = None
            s = _scores(q, k, bias, scale)
            blocked = ctx.lse == np.inf
            if blocked.any():  # rows of -inf: zeros, and no nan in softmax's gradient
                s = Where.apply(blocked, 0.0, s)
                p = Where.apply(blocked, 0.0, Softmax.apply(s, s.ndim - 1))
            else:
                p = Softmax.apply(s, s.ndim - 1)
            delta = None
        pd = p if drop is None else p * drop
        dv = _matmul(pd.mT, grad, v) if need_v else None
        dp = _matmul(grad, v.mT)
        if drop is not None:
            dp = dp * drop
        if delta is None:
            delta = (dp * p).sum(-1).reshape(p.shape[:-1] + (1,))
        scaled = False  # whether dS carries the scale already (then dq, dk need no pass of it)
        if kern is not None and drop is None and kernels_for(dp, p) is not None \
                and dp.shape == p.shape:
            scaled = folded is not None and not need_bias  # the mask's gradient is dS itself
            kern.softmax_backward_rows(p.reshape(-1, p.shape[-1]), dp.reshape(-1, p.shape[-1]),
                                       np.ascontiguousarray(delta, p.dtype).reshape(-1),
                                       p.dtype.type(scale if scaled else 1))
            ds = dp  # p * (dp - delta) (* scale), in dp's memory
        else:
            ds = p * (dp - delta)
        dq = dk = None
        if need_q:
            dq = _matmul(ds, k, q)
            if not scaled:
                dq = dq * scale
        if need_k:
            dk = _matmul(ds.mT, q, k)
            if not scaled:
                dk = dk * scale
        return dq, dk, dv, ds if need_bias else None
