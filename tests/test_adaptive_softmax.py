"""nn.AdaptiveLogSoftmaxWithLoss against torch with the same weights (float64): forward's
(output, loss) and every parameter's gradient, log_prob, predict, state_dicts both ways."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad

IN, CLASSES, CUTOFFS = 64, 20, [4, 9, 15]
TOL = dict(rtol=1e-10, atol=1e-12)


def _pair(**kw):
    """torch's module and ndgrad's, loaded with torch's weights through the state_dict."""
    torch.manual_seed(0)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(IN, CLASSES, CUTOFFS, **kw).double()
    nm = ndgrad.nn.AdaptiveLogSoftmaxWithLoss(IN, CLASSES, CUTOFFS, **kw).double()
    result = nm.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in
                                 tm.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    return tm, nm


@pytest.mark.parametrize("kw", [{}, dict(head_bias=True, div_value=2.0)])
def test_forward_and_gradients(kw):
    tm, nm = _pair(**kw)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, IN))
    target = np.array([0, 3, 4, 8, 9, 14, 15, 19, 2])  # each cluster's edges, and the shortlist
    outs = []
    for lib, m in ((torch, tm), (ndgrad, nm)):
        xt = lib.tensor(x, requires_grad=True)
        out, loss = m(xt, lib.tensor(target))
        (out.sum() * 0.5 + loss).backward()
        grads = [p.grad.numpy() for _, p in sorted(m.named_parameters())]
        outs.append([out.detach().numpy(), loss.detach().numpy(), xt.grad.numpy(), *grads])
    assert len(outs[0]) == len(outs[1]) == 3 + (8 if kw else 7)
    for t, n in zip(*outs, strict=True):
        np.testing.assert_allclose(n, t, **TOL)


def test_unbatched_and_shortlist_only():
    tm, nm = _pair()
    x = np.random.default_rng(1).standard_normal(IN)
    to, tl = tm(torch.tensor(x), torch.tensor(12))
    no, nl = nm(ndgrad.tensor(x), ndgrad.tensor(12))
    assert no.shape == () and nl.shape == ()
    np.testing.assert_allclose(no.detach().numpy(), to.detach().numpy(), **TOL)
    res = nm(ndgrad.tensor(np.stack([x, x])), ndgrad.tensor([1, 2]))
    assert res.output.shape == (2,)  # a named tuple, as torch's
    np.testing.assert_allclose(res.loss.detach().numpy(), tm(torch.tensor(np.stack([x, x])),
                               torch.tensor([1, 2])).loss.detach().numpy(), **TOL)


def test_log_prob_and_predict():
    tm, nm = _pair(head_bias=True)
    # scaled inputs so that the head's best entry is a cluster for some rows, not for others
    x = np.random.default_rng(2).standard_normal((12, IN)) * 4
    tl = tm.log_prob(torch.tensor(x)).detach().numpy()
    nl = nm.log_prob(ndgrad.tensor(x)).detach().numpy()
    np.testing.assert_allclose(nl, tl, **TOL)
    np.testing.assert_allclose(np.exp(nl).sum(1), 1.0, rtol=1e-12)
    tp = tm.predict(torch.tensor(x)).numpy()
    np.testing.assert_array_equal(nm.predict(ndgrad.tensor(x)).numpy(), tp)
    np.testing.assert_array_equal(tp, tl.argmax(1))


def test_state_dict_loads_into_torch():
    _, nm = _pair(head_bias=True)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(IN, CLASSES, CUTOFFS, head_bias=True).double()
    tm.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in
                        nm.state_dict().items()})
    assert list(tm.state_dict()) == list(nm.state_dict())
    assert [tuple(p.shape) for p in tm.parameters()] == [tuple(p.shape) for p in
                                                         nm.parameters()]


@pytest.mark.parametrize("cutoffs", [[], [5, 3], [0, 4], [4, 20], [4, 4]])
def test_bad_cutoffs(cutoffs):
    for lib in (torch, ndgrad):
        with pytest.raises(ValueError, match="cutoffs should be a sequence"):
            lib.nn.AdaptiveLogSoftmaxWithLoss(IN, CLASSES, cutoffs)


def test_bad_targets():
    tm, nm = _pair()
    for lib, m in ((torch, tm), (ndgrad, nm)):
        x = lib.zeros(2, IN, dtype=lib.float64)
        with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 19\]"):
            m(x, lib.tensor([0, 20]))
        with pytest.raises(RuntimeError, match="same size in the batch dimension"):
            m(x, lib.tensor([0, 1, 2]))
        with pytest.raises(RuntimeError, match="multi-target not supported"):
            m(x, lib.tensor([[0, 1]]))
