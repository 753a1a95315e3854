"""Attention: scaled_dot_product_attention with torch's masks, causal flag, scale and GQA.
"""

from __future__ import annotations

import math

import numpy as np

from ndgrad import _dtype
from ndgrad.nn.functional.activation import softmax
from ndgrad.nn.functional.dropout import dropout
from ndgrad.tensor import Tensor


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v. A bool mask marks the positions that take part;
    a float mask is added to the scores; is_causal masks the upper triangle."""
    lq, lk = query.shape[-2], key.shape[-2]
    scale_factor = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = _repeat_heads(key, rep)
        value = _repeat_heads(value, rep)
    scores = query.matmul(key.transpose(-2, -1)) * scale_factor
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        keep = np.tril(np.ones((lq, lk), dtype=bool))
        scores = scores.masked_fill(Tensor._make(~keep), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == _dtype.bool_:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    attn = softmax(scores, -1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return attn.matmul(value)


def _repeat_heads(t: Tensor, rep: int) -> Tensor:
    """(..., H, L, E) -> (..., H*rep, L, E), each head repeated rep times in a row."""
    shape = tuple(t.shape)
    t = t.unsqueeze(-3).expand(*shape[:-2], rep, *shape[-2:])
    return t.reshape(*shape[:-3], shape[-3] * rep, *shape[-2:])
