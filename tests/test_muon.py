"""ndgrad.optim.Muon against torch.optim.Muon: exactly torch's rule with the Newton-Schulz steps
in float32 (torch's in bfloat16, which ndgrad lacks), and close to torch's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.optim._muon as torch_muon

import ndgrad

RNG = np.random.default_rng(0)
W = [RNG.standard_normal(s).astype(np.float32) for s in ((6, 4), (3, 6))]
X = RNG.standard_normal((5, 4)).astype(np.float32)


def train(lib, steps=3, **kwargs):
    a, b = (lib.nn.Parameter(lib.tensor(w)) for w in W)
    opt = lib.optim.Muon([a, b], lr=0.02, **kwargs)
    for _ in range(steps):
        loss = ((lib.tensor(X) @ a.T).tanh() @ b.T).square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [a.detach().numpy().copy(), b.detach().numpy().copy()]


def _ns_float32(grad, ns_coefficients, ns_steps, eps):
    """torch's _zeropower_via_newtonschulz with float32 where it has bfloat16."""
    a, b, c = ns_coefficients
    x = grad.float()
    if grad.size(0) > grad.size(1):
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if grad.size(0) > grad.size(1) else x


@pytest.mark.parametrize("kwargs", [{}, {"nesterov": False}, {"weight_decay": 0.0},
                                    {"adjust_lr_fn": "match_rms_adamw"}, {"momentum": 0.5},
                                    {"ns_steps": 3, "ns_coefficients": (2.0, -1.5, 0.5)}])
def test_matches_torch_rule_in_float32(kwargs, monkeypatch):
    ours = train(ndgrad, **kwargs)
    monkeypatch.setattr(torch_muon, "_zeropower_via_newtonschulz", _ns_float32)
    theirs = train(torch, **kwargs)
    for n, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(n, t, rtol=2e-5, atol=2e-6)


def test_close_to_torch_in_bfloat16():
    for n, t, w in zip(train(ndgrad), train(torch), W, strict=True):
        moved = np.abs(t - w).max()
        assert np.abs(n - t).max() < 0.05 * moved  # bfloat16 rounding of the updates


def test_errors_as_torch():
    for lib in (torch, ndgrad):
        with pytest.raises(ValueError, match="only supports 2D parameters"):
            lib.optim.Muon([lib.nn.Parameter(lib.ones(3))])
        for kwargs, words in (({"lr": -1.0}, "Invalid learning rate|Learning rate"),
                              ({"momentum": -0.1}, "momentum"),
                              ({"weight_decay": -1.0}, "weight decay"),
                              ({"adjust_lr_fn": "x"}, "not supported")):
            with pytest.raises(ValueError, match=words):
                lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2))], **kwargs)
    state = ndgrad.optim.Muon([ndgrad.nn.Parameter(ndgrad.ones(2, 3))]).state_dict()
    assert state["param_groups"][0]["ns_steps"] == 5 and state["param_groups"][0]["eps"] == 1e-7
