"""ndgrad.utils.checkpoint against torch.utils.checkpoint: the same gradients, fewer nodes kept."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as torch_checkpoint

import ndgrad
from ndgrad.autograd.engine import _reachable
from ndgrad.utils.checkpoint import checkpoint, checkpoint_sequential

W = np.random.default_rng(0).standard_normal((4, 4))
X = np.random.default_rng(1).standard_normal((3, 4))
LIBS = [(torch, torch_checkpoint), (ndgrad, ndgrad.utils.checkpoint)]


def layers(lib):
    a, b = lib.nn.Linear(4, 4).double(), lib.nn.Linear(4, 4).double()
    with lib.no_grad():
        a.weight.copy_(lib.tensor(W))
        b.weight.copy_(lib.tensor(W.T))
        a.bias.fill_(0.2)
        b.bias.fill_(-0.1)
    return a, b


@pytest.mark.parametrize("use_reentrant", [True, False])
@pytest.mark.parametrize("input_grad", [True, False])
def test_gradients_match_torch(use_reentrant, input_grad):
    results = []
    for lib, ck in LIBS:
        a, b = layers(lib)
        x = lib.tensor(X, requires_grad=input_grad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reentrant without an input that requires grad
            y = ck.checkpoint(lambda h, scale, a=a, b=b: b(a(h).tanh()).relu() * scale, x, 3.0,
                              use_reentrant=use_reentrant)
        if y.requires_grad:
            (y * y).sum().backward()
        results.append([None if t is None else t.numpy().copy()
                        for t in (x.grad, a.weight.grad, b.bias.grad)] + [y.requires_grad])
    for n, t in zip(results[1], results[0], strict=True):
        if isinstance(t, np.ndarray):
            np.testing.assert_allclose(n, t, rtol=1e-12)
        else:
            assert n == t


def test_the_block_keeps_no_graph_and_recomputes_dropout_the_same():
    a, _ = layers(ndgrad)
    x = ndgrad.tensor(X, requires_grad=True)
    ndgrad.manual_seed(0)
    y = checkpoint(lambda h: ndgrad.nn.functional.dropout(a(h).exp(), 0.5), x,
                   use_reentrant=False)
    names = {type(n).__name__ for n in _reachable([y.grad_fn])}
    assert not names & {"Linear", "ExpBackward", "Exp", "MulBackward", "Mul"}, names
    y.sum().backward()
    after = ndgrad.rand(1).item()
    got = (x.grad.numpy().copy(), a.weight.grad.numpy().copy())
    ndgrad.manual_seed(0)
    x.grad = a.weight.grad = None
    ndgrad.nn.functional.dropout(a(x).exp(), 0.5).sum().backward()
    np.testing.assert_array_equal(got[0], x.grad.numpy())  # the same masks
    np.testing.assert_array_equal(got[1], a.weight.grad.numpy())
    assert ndgrad.rand(1).item() == after  # and the generator where it would have been


def test_sequential_and_several_outputs():
    seq = ndgrad.nn.Sequential(*[ndgrad.nn.Linear(4, 4).double() for _ in range(5)])
    x = ndgrad.tensor(X, requires_grad=True)
    checkpoint_sequential(seq, 2, x, use_reentrant=False).square().sum().backward()
    got = x.grad.numpy().copy()
    x.grad = None
    seq(x).square().sum().backward()
    np.testing.assert_allclose(got, x.grad.numpy(), rtol=1e-12)
    p, q = checkpoint(lambda h: (h * 2, h.sin()), x, use_reentrant=False)
    x.grad = None
    (p.sum() + q.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 + np.cos(X), rtol=1e-12)


def test_autograd_grad_through_a_checkpoint_is_refused_and_the_default_warns():
    a, _ = layers(ndgrad)
    x = ndgrad.tensor(X, requires_grad=True)
    y = checkpoint(a, x, use_reentrant=False)
    with pytest.raises(RuntimeError, match="not compatible with .grad"):
        ndgrad.autograd.grad(y.sum(), x)
    assert a.weight.grad is None  # nothing was accumulated on the way
    for lib, ck in LIBS:
        with pytest.warns(UserWarning, match="use_reentrant"):
            ck.checkpoint(lib.nn.Linear(2, 2), lib.ones(1, 2, requires_grad=True))


def test_an_input_changed_in_place_before_backward_raises_as_torch():
    for lib, ck in LIBS:
        x = lib.tensor(X, requires_grad=True)
        h = x * 2
        y = ck.checkpoint(lambda t, k: (t * k).exp(), h, 0.5, use_reentrant=True)
        with lib.no_grad():
            h.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    x = ndgrad.tensor(X, requires_grad=True)
    y = checkpoint(lambda t, none, k: t * k if none is None else t, x, None, 3.0,
                   use_reentrant=False)
    y.sum().backward()  # a None argument stays None, a number stays a number
    np.testing.assert_array_equal(x.grad.numpy(), np.full_like(X, 3.0))
