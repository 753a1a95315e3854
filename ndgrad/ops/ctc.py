"""Connectionist temporal classification: the negative log-likelihood of each target sequence
under per-frame class log-probabilities, summed over every alignment (Graves et al., 2006).

The recursions run in log space over the extended target l' (a blank before, between and after
the labels, length 2S+1), one step a frame, vectorized over the batch and the label positions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.ops.base import Primitive


def _lse3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """log(exp(a) + exp(b) + exp(c)), elementwise, -inf where all three are -inf (log(0):
    callers silence NumPy's divide warning once around their loop, not per call)."""
    m = np.maximum(np.maximum(a, b), c)
    safe = np.where(m == -np.inf, 0, m)
    return np.log(np.exp(a - safe) + np.exp(b - safe) + np.exp(c - safe)) + safe


class CTCLoss(Primitive):
    """Per-sample CTC negative log-likelihood (N,) of log_probs (T, N, C).

    ``labels`` (N, 2S+1) is l' (blank at even places), ``in_len`` (N,) and ``tgt_len`` (N,)
    the lengths. alpha[t, s] sums the paths over l'[:s+1] ending at frame t in s; beta[t, s]
    those from s at frame t to the end (both include frame t's emission), so
    alpha + beta - lp[t, l'_s] is the log-probability of every path through (t, s). The
    gradient is torch's: exp(lp) - sum_{s: l'_s = c} exp(alpha + beta + nll - lp), the
    gradient through a log_softmax assumed to have made log_probs (torch's own choice).
    """

    @staticmethod
    def forward(ctx: Any, lp: Any, *, labels: Any, in_len: Any, tgt_len: Any,
                zero_infinity: bool) -> Any:
        t_max, n, _ = lp.shape
        width = labels.shape[1]
        pos = np.arange(width)
        inside = pos[None, :] < 2 * tgt_len[:, None] + 1  # (N, S') places of l' in use
        # lpe[t, n, s] = lp[t, n, l'_s], -inf past the end of each l' so no path goes there
        lpe = np.take_along_axis(lp, np.broadcast_to(labels, (t_max, n, width)), axis=2)
        lpe = np.where(inside, lpe, -np.inf)
        # a label may skip the blank before it unless it repeats the label two places back
        skip = np.zeros((n, width), dtype=bool)
        skip[:, 2:] = (pos[2:] % 2 == 1) & (labels[:, 2:] != labels[:, :-2])
        # two -inf places before s = 0 make s - 1 and s - 2 plain slices (no copies a step)
        padded = np.full((max(t_max, 1), n, width + 2), -np.inf, dtype=lp.dtype)
        alpha = padded[:, :, 2:]
        if t_max:
            alpha[0, :, :2] = lpe[0, :, :2]
        no_skip = np.where(skip, 0, -np.inf).astype(lp.dtype)  # added to the s - 2 term
        with np.errstate(divide="ignore"):
            for t in range(1, t_max):
                a = padded[t - 1]
                alpha[t] = lpe[t] + _lse3(a[:, 2:], a[:, 1:-1], a[:, :-2] + no_skip)
        rows = np.arange(n)
        last = np.maximum(in_len - 1, 0)
        end = 2 * tgt_len
        ll = np.logaddexp(alpha[last, rows, end],
                          np.where(tgt_len > 0, alpha[last, rows, np.maximum(end - 1, 0)],
                                   -np.inf))
        # no frames: only the empty target has an alignment (the empty one)
        ll = np.where(in_len > 0, ll, np.where(tgt_len == 0, 0.0, -np.inf))
        nll = -ll.astype(lp.dtype)
        infinite = np.isinf(nll)
        if zero_infinity:
            nll = np.where(infinite, 0, nll).astype(lp.dtype)
        ctx.save_for_backward(lp)  # an input of the gradient's graph under create_graph
        ctx.lp, ctx.lpe, ctx.alpha, ctx.skip, ctx.labels = lp, lpe, alpha, skip, labels
        ctx.in_len, ctx.tgt_len, ctx.nll = in_len, tgt_len, -ll.astype(lp.dtype)
        ctx.zero = infinite if zero_infinity else np.zeros(n, dtype=bool)
        return nll

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        if not isinstance(grad, np.ndarray):  # create_graph: a gradient torch cannot derive
            (lp,) = ctx.saved_like(grad)
            return CTCLossBackward.apply(lp, grad, state=ctx)
        return _ctc_grad(ctx, grad)


class CTCLossBackward(Primitive):
    """CTC's gradient as an op of the graph (create_graph=True); like torch's
    ``_ctc_loss_backward`` it has no derivative of its own."""

    @staticmethod
    def forward(ctx: Any, lp: Any, grad: Any, *, state: Any) -> Any:
        return _ctc_grad(state, grad)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")


def _ctc_grad(ctx: Any, grad: np.ndarray) -> np.ndarray:
    """d loss / d log_probs (T, N, C) for upstream gradient (N,): runs the beta recursion."""
    lp, lpe, alpha, skip, labels = ctx.lp, ctx.lpe, ctx.alpha, ctx.skip, ctx.labels
    in_len, tgt_len, nll = ctx.in_len, ctx.tgt_len, ctx.nll
    t_max, n, c = lp.shape
    width = labels.shape[1]
    end = (2 * tgt_len)[:, None]
    pos = np.arange(width)[None, :]
    start = (pos == end) | ((pos == end - 1) & (tgt_len[:, None] > 0))  # (N, S') final places
    no_skip_next = np.full((n, width), -np.inf, dtype=lp.dtype)  # from s, may a path
    no_skip_next[:, :-2] = np.where(skip[:, 2:], 0, -np.inf)  # jump to s + 2?
    frame = np.arange(t_max)[:, None, None]
    here, later = frame == (in_len - 1)[None, :, None], frame > (in_len - 1)[None, :, None]
    beta = np.full_like(alpha, -np.inf)
    b = np.full((n, width + 2), -np.inf, dtype=lp.dtype)  # two -inf places after the end
    first = np.where(start, lpe, -np.inf)  # (T, N, S') beta at each sequence's last frame
    with np.errstate(divide="ignore"):
        for t in range(t_max - 1, -1, -1):
            step = lpe[t] + _lse3(b[:, :-2], b[:, 1:-1], b[:, 2:] + no_skip_next)
            # each sequence's last frame starts its recursion; frames after it have no paths
            b[:, :-2] = np.where(here[t], first[t], np.where(later[t], -np.inf, step))
            beta[t] = b[:, :-2]
    impossible = np.isinf(nll)  # no alignment: torch's formula gives nan (-inf + inf)
    with np.errstate(invalid="ignore", over="ignore"):
        paths = np.exp(alpha[:t_max] + beta + np.where(impossible, 0, nll)[None, :, None]
                       - lpe)  # (T, N, S')
    # add each place's share into its class: one bincount over flat (t, n, class) indices
    flat = (np.arange(t_max * n).reshape(t_max, n, 1) * c + labels[None]).reshape(-1)
    used = np.isfinite(lpe).reshape(-1)
    share = np.bincount(flat[used], weights=paths.reshape(-1)[used],
                        minlength=t_max * n * c).reshape(t_max, n, c)
    g = np.where(impossible[None, :, None], np.nan, np.exp(lp) - share.astype(lp.dtype))
    frames = np.arange(t_max)[:, None] < in_len[None, :]  # (T, N) frames each sequence has
    scale = np.where(ctx.zero, 0, grad).astype(lp.dtype)
    return np.where(frames[:, :, None] & ~ctx.zero[None, :, None], g * scale[None, :, None],
                    0).astype(lp.dtype)
