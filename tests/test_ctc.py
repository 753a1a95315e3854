"""CTC loss (F.ctc_loss, nn.CTCLoss) against torch: values and gradients for padded and
concatenated targets, every reduction, zero_infinity, unbatched input and misuse."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn

T, N, C, S = 7, 3, 5, 3
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _case(seed: int = 0):
    """Log-probabilities (T, N, C), padded targets with a repeated label (so the recursion
    may not skip the blank between them), and lengths, one sample shorter than the rest."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C))
    lp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    pad = rng.integers(1, C, (N, S))
    pad[0, 1] = pad[0, 0]
    return lp, pad, np.array([7, 5, 6]), np.array([3, 1, 2])


def _both(lp, targets, il, tl, dtype=np.float64, grad_out=None, lengths=tuple, **kw):
    """Loss and d loss / d log_probs in torch and ndgrad (lengths as tuples or tensors)."""
    out = []
    for lib in (torch, ndgrad):
        x = lib.tensor(lp.astype(dtype), requires_grad=True)
        il_, tl_ = ((tuple(int(i) for i in v) for v in (il, tl)) if lengths is tuple
                    else (lib.tensor(v) for v in (il, tl)))
        loss = lib.nn.functional.ctc_loss(x, lib.tensor(targets), il_, tl_, **kw)
        g = np.ones(loss.shape) if grad_out is None else grad_out
        loss.backward(lib.tensor(g.astype(dtype)))
        out.append((loss.detach().numpy(), x.grad.numpy()))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_ctc_matches_torch(dtype, reduction, layout):
    lp, pad, il, tl = _case()
    tg = pad if layout == "padded" else np.concatenate([pad[i, :tl[i]] for i in range(N)])
    grad_out = np.arange(1.0, N + 1) if reduction == "none" else None
    (tv, tgr), (nv, ngr) = _both(lp, tg, il, tl, dtype, grad_out, reduction=reduction,
                                 lengths=tuple if layout == "padded" else np.asarray)
    np.testing.assert_allclose(nv, tv, **TOL[dtype])
    np.testing.assert_allclose(ngr, tgr, **TOL[dtype])


def test_ctc_blank_and_raw_scores():
    """Another blank index, and scores that are not normalized: torch's gradient keeps its
    exp(log_probs) term, which assumes a log_softmax made them."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, N, C))
    pad = rng.integers(0, C - 1, (N, S))
    (tv, tgr), (nv, ngr) = _both(x, pad, (7, 7, 4), (3, 2, 0), blank=C - 1, reduction="sum")
    np.testing.assert_allclose(nv, tv, **TOL[np.float64])
    np.testing.assert_allclose(ngr, tgr, **TOL[np.float64])


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_impossible_alignment(zero_infinity):
    """A target longer than the frames allow has infinite loss (and a nan gradient, as
    torch), or zero of both with zero_infinity; empty input with an empty target costs 0."""
    lp, pad, _, _ = _case()
    il, tl = np.array([1, 0, 6]), np.array([2, 0, 2])
    (tv, tgr), (nv, ngr) = _both(lp, pad, il, tl, reduction="none",
                                 zero_infinity=zero_infinity)
    np.testing.assert_allclose(nv, tv, **TOL[np.float64])
    np.testing.assert_allclose(ngr, tgr, **TOL[np.float64])
    assert np.isinf(nv[0]) != zero_infinity


def test_ctc_unbatched_and_module():
    lp, pad, _, _ = _case()
    for lib in (torch, ndgrad):
        x = lib.tensor(lp[:, 0], requires_grad=True)
        loss = lib.nn.CTCLoss(reduction="none")(x, lib.tensor(pad[0]), lib.tensor(T),
                                                lib.tensor(S))
        loss.backward()
        if lib is torch:
            tv, tg = loss.detach().numpy(), x.grad.numpy()
    assert loss.shape == ()
    np.testing.assert_allclose(loss.detach().numpy(), tv, **TOL[np.float64])
    np.testing.assert_allclose(x.grad.numpy(), tg, **TOL[np.float64])
    assert repr(nn.CTCLoss()) == "CTCLoss()"


def test_ctc_no_double_backward():
    """As in torch, the gradient has a graph but differentiating it again raises."""
    lp, pad, il, tl = _case()
    x = ndgrad.tensor(lp, requires_grad=True)
    loss = ndgrad.nn.functional.ctc_loss(x, ndgrad.tensor(pad), tuple(il), tuple(tl))
    (g,) = ndgrad.autograd.grad(loss, x, create_graph=True)
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="_ctc_loss_backward is not implemented"):
        g.sum().backward()


@pytest.mark.parametrize("args, msg", [
    (dict(il=(8, 5, 6)), "input_lengths to have value at most 7"),
    (dict(tl=(4, 1, 2)), "size at least 4 at dimension 1"),
    (dict(il=(7, 5)), "input_lengths must be of size batch_size"),
    (dict(tl=(-1, 1, 2)), "target_lengths to have value at least 0"),
    (dict(blank=C), "blank must be in label range"),
])
def test_ctc_errors(args, msg):
    """torch's messages for lengths out of range, a short target tensor, a bad blank."""
    lp, pad, il, tl = _case()
    blank = args.get("blank", 0)
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match=msg):
            lib.nn.functional.ctc_loss(lib.tensor(lp), lib.tensor(pad),
                                       tuple(args.get("il", il)), tuple(args.get("tl", tl)),
                                       blank=blank)


def test_ctc_empty_log_probs():
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="log_probs tensor must not be empty"):
            lib.nn.functional.ctc_loss(lib.zeros(0, 2, 4), lib.zeros(2, 2, dtype=lib.int64),
                                       (0, 0), (0, 0))
