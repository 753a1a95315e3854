"""ndgrad.autograd.functional against torch.autograd.functional: the same function, inputs
and vectors on both, results compared (and, with create_graph, differentiated again)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import ndgrad
import ndgrad.autograd.functional as NF

RNG = np.random.default_rng(0)


def f_vec(lib, x):
    return (x**3).sum() * x.sin() + x.exp()


def f_two(lib, x, y):
    return (x * y.sum()).tanh(), (x**2).sum() + (y**3).sum()


def f_scalar(lib, x):
    return (x**3).sum() + (x[0] * x[1]).exp() + (x**2).prod()


def f_scalar2(lib, x, y):
    return (x * y).sum() ** 2 + x.sin().sum() * y.cos().sum()


def _both(fn, *arrays, create_graph=False):
    t = tuple(torch.tensor(a, requires_grad=create_graph) for a in arrays)
    n = tuple(ndgrad.tensor(a, requires_grad=create_graph) for a in arrays)
    return t, n


def _cmp(n, t, rtol=1e-10):
    if isinstance(t, tuple):
        assert isinstance(n, tuple) and len(n) == len(t)
        for a, b in zip(n, t):
            _cmp(a, b, rtol)
        return
    assert tuple(n.shape) == tuple(t.shape)
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=1e-12)


X, Y, V3, V2 = RNG.normal(size=3), RNG.normal(size=2), RNG.normal(size=3), RNG.normal(size=2)


@pytest.mark.parametrize("create_graph", [False, True])
def test_vjp_jvp_jacobian(create_graph):
    (tx,), (nx,) = _both(None, X, create_graph=create_graph)
    v_t, v_n = torch.tensor(V3), ndgrad.tensor(V3)
    for tf, nf in [(TF.vjp, NF.vjp), (TF.jvp, NF.jvp)]:
        t_out = tf(lambda x: f_vec(torch, x), tx, v_t, create_graph=create_graph)
        n_out = nf(lambda x: f_vec(ndgrad, x), nx, v_n, create_graph=create_graph)
        _cmp(n_out, t_out)
        assert n_out[1].requires_grad == t_out[1].requires_grad
    t_j = TF.jacobian(lambda x: f_vec(torch, x), tx, create_graph=create_graph)
    n_j = NF.jacobian(lambda x: f_vec(ndgrad, x), nx, create_graph=create_graph)
    _cmp(n_j, t_j)
    if create_graph:  # the Jacobian itself differentiated again
        w = RNG.normal(size=(3, 3))
        (tg,) = torch.autograd.grad((t_j * torch.tensor(w)).sum(), tx)
        (ng,) = ndgrad.autograd.grad((n_j * ndgrad.tensor(w)).sum(), nx)
        _cmp(ng, tg)


def test_tuple_inputs_and_outputs():
    (tx, ty), (nx, ny) = _both(None, X, Y)
    t_j = TF.jacobian(lambda x, y: f_two(torch, x, y), (tx, ty))
    n_j = NF.jacobian(lambda x, y: f_two(ndgrad, x, y), (nx, ny))
    _cmp(n_j, t_j)
    t_v = TF.vjp(lambda x, y: f_two(torch, x, y), (tx, ty),
                 (torch.tensor(V3), torch.tensor(1.5)))
    n_v = NF.vjp(lambda x, y: f_two(ndgrad, x, y), (nx, ny),
                 (ndgrad.tensor(V3), ndgrad.tensor(1.5)))
    _cmp(n_v, t_v)
    t_jv = TF.jvp(lambda x, y: f_two(torch, x, y), (tx, ty), (torch.tensor(V3), torch.tensor(V2)))
    n_jv = NF.jvp(lambda x, y: f_two(ndgrad, x, y), (nx, ny),
                  (ndgrad.tensor(V3), ndgrad.tensor(V2)))
    _cmp(n_jv, t_jv)


@pytest.mark.parametrize("create_graph", [False, True])
def test_hessian_hvp_vhp(create_graph):
    (tx,), (nx,) = _both(None, X, create_graph=create_graph)
    _cmp(NF.hessian(lambda x: f_scalar(ndgrad, x), nx, create_graph=create_graph),
         TF.hessian(lambda x: f_scalar(torch, x), tx, create_graph=create_graph))
    for tf, nf in [(TF.hvp, NF.hvp), (TF.vhp, NF.vhp)]:
        t_out = tf(lambda x: f_scalar(torch, x), tx, torch.tensor(V3), create_graph=create_graph)
        n_out = nf(lambda x: f_scalar(ndgrad, x), nx, ndgrad.tensor(V3),
                   create_graph=create_graph)
        _cmp(n_out, t_out)
        if create_graph:
            (tg,) = torch.autograd.grad(t_out[1].sum(), tx)
            (ng,) = ndgrad.autograd.grad(n_out[1].sum(), nx)
            _cmp(ng, tg)
    (tx, ty), (nx, ny) = _both(None, X, X[::-1].copy())
    _cmp(NF.hessian(lambda x, y: f_scalar2(ndgrad, x, y), (nx, ny)),
         TF.hessian(lambda x, y: f_scalar2(torch, x, y), (tx, ty)))


def test_vectorize_and_strategy_give_the_same_jacobian():
    (tx,), (nx,) = _both(None, X)
    want = TF.jacobian(lambda x: f_vec(torch, x), tx)
    for kw in (dict(vectorize=True), dict(vectorize=True, strategy="forward-mode")):
        _cmp(NF.jacobian(lambda x: f_vec(ndgrad, x), nx, **kw), want)


def _error(fn):
    try:
        fn()
    except (RuntimeError, TypeError, AssertionError, NotImplementedError) as e:
        return type(e).__name__, str(e).replace("torch.", "ndgrad.")
    return None


@pytest.mark.parametrize("call", [
    lambda lib, F: F.vjp(lambda x: x * 2, lib.ones(3)),
    lambda lib, F: F.jvp(lambda x: x * 2, lib.ones(3)),
    lambda lib, F: F.vjp(lambda x: x * 2, lib.ones(3), lib.ones(2)),
    lambda lib, F: F.vjp(lambda x, y: (x, y), (lib.ones(3), lib.ones(2)), (lib.ones(3),)),
    lambda lib, F: F.jacobian(lambda x: lib.ones(2), lib.ones(3), strict=True),
    lambda lib, F: F.jacobian(lambda x: x * 2, lib.ones(3), strict=True, vectorize=True),
    lambda lib, F: F.jacobian(lambda x: x * 2, lib.ones(3), strategy="sideways"),
    lambda lib, F: F.hessian(lambda x: x * 2, lib.ones(3)),
    lambda lib, F: F.hessian(lambda x: (x * 2).sum(), lib.ones(3), strict=True),
    lambda lib, F: F.hvp(lambda x: x.sum(), lib.ones(3)),
    lambda lib, F: F.vhp(lambda x: (x, x), lib.ones(3), lib.ones(3)),
    lambda lib, F: F.vjp(lambda x: x, [1.0]),
    lambda lib, F: F.vjp(lambda x, y: x * 2, (lib.ones(3), lib.ones(3)), lib.ones(3),
                         strict=True),
])
def test_errors_match_torch(call):
    t = _error(lambda: call(torch, TF))
    n = _error(lambda: call(ndgrad, NF))
    assert t is not None
    assert n == t


def test_strict_false_fills_zeros_and_results_are_detached():
    n = NF.vjp(lambda x, y: x * 2, (ndgrad.ones(3), ndgrad.ones(2)), ndgrad.ones(3))
    t = TF.vjp(lambda x, y: x * 2, (torch.ones(3), torch.ones(2)), torch.ones(3))
    _cmp(n, t)
    assert not n[1][0].requires_grad and n[1][0].grad_fn is None
    # a function closing over a parameter: create_graph keeps the path to it
    w = ndgrad.tensor([0.5, -1.0, 2.0], requires_grad=True)
    _, hv = NF.hvp(lambda x: (w * x**3).sum(), ndgrad.tensor(X), ndgrad.tensor(V3),
                   create_graph=True)
    (gw,) = ndgrad.autograd.grad(hv.sum(), w)
    np.testing.assert_allclose(gw.numpy(), 6 * X * V3)
