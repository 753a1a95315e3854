"""ndgrad.autograd.graph: saved-tensor hooks see what backward keeps and give it back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd.graph import save_on_cpu, saved_tensors_hooks

X = np.random.default_rng(0).standard_normal((4, 5))
Y = np.array([0, 2, 1, 2])


def loss_and_params(lib):
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Linear(5, 6), lib.nn.Tanh(), lib.nn.Linear(6, 6),
                            lib.nn.ReLU(), lib.nn.Dropout(0.0), lib.nn.Linear(6, 3)).double()
    with lib.no_grad():
        for k, p in enumerate(net.parameters()):
            p.copy_(lib.tensor(np.random.default_rng(k).standard_normal(tuple(p.shape))))
    x = lib.tensor(X, requires_grad=True)
    h = net(x).softmax(-1).log() * 0.5 + net(x.exp() / 3)
    return lib.nn.functional.cross_entropy(h, lib.tensor(Y)), [x, *net.parameters()]


def grads_of(lib, hooks=None):
    if hooks is None:
        loss, params = loss_and_params(lib)
    else:
        with hooks:
            loss, params = loss_and_params(lib)
    loss.backward()
    return [p.grad.numpy().copy() for p in params]


def test_hooks_that_move_tensors_out_and_back_leave_gradients_exact():
    calls = {"pack": 0, "unpack": 0}

    def pack(t):
        calls["pack"] += 1
        return t.detach().numpy().copy()  # kept outside autograd's tensors

    def unpack(a):
        calls["unpack"] += 1
        return ndgrad.from_numpy(a)
    plain = grads_of(ndgrad)
    with saved_tensors_hooks(pack, unpack):
        loss, params = loss_and_params(ndgrad)
    assert calls["pack"] > 0 and calls["unpack"] == 0  # packed in forward only
    loss.backward()
    assert calls["unpack"] > 0
    for a, b in zip(grads_of(ndgrad, saved_tensors_hooks(pack, unpack)), plain, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(plain, grads_of(torch), strict=True):  # and torch agrees
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(grads_of(ndgrad, save_on_cpu()), plain, strict=True):
        np.testing.assert_array_equal(a, b)


def test_second_derivatives_through_hooked_saves_as_torch():
    def run(lib):
        x = lib.tensor([0.3, -1.2, 2.0], dtype=lib.float64, requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            y = (x.exp() * x.sin()).tanh().sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return g.detach().numpy(), gg.numpy()
    for a, b in zip(run(ndgrad), run(torch), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_innermost_hooks_apply_and_misuse_raises():
    seen = []
    with saved_tensors_hooks(lambda t: ("outer", t), lambda p: p[1]):
        with saved_tensors_hooks(lambda t: ("inner", t), lambda p: seen.append(p[0]) or p[1]):
            x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
            y = (x * x).sum()
    y.backward()
    assert seen and set(seen) == {"inner"}
    for lib in (torch, ndgrad):
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: 3):
            y = (lib.tensor([1.0, 2.0], requires_grad=True) ** 2).sum()
        with pytest.raises(TypeError, match="unpack_hook"):
            y.backward()
        with pytest.raises(RuntimeError, match="no hooks here"), \
                lib.autograd.graph.disable_saved_tensors_hooks("no hooks here"), \
                lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            pass


def test_increment_version_makes_backward_refuse_stale_values():
    for lib in (torch, ndgrad):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        z = (y * 2).exp().sum()  # saves y's exp output
        lib.autograd.graph.increment_version(y)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.backward()
