"""ndgrad.func against torch.func (grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian,
vmap, functional_call), and ndgrad.testing.assert_close against torch.testing.assert_close."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.func as TFN

import ndgrad
import ndgrad.func as NFN

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(3,)), RNG.normal(size=(2, 3))


def _cmp(n, t, rtol=1e-10):
    if isinstance(t, tuple | list):
        assert len(n) == len(t)
        for a, b in zip(n, t):
            _cmp(a, b, rtol)
        return
    if isinstance(t, dict):
        assert set(n) == set(t)
        for k in t:
            _cmp(n[k], t[k], rtol)
        return
    assert tuple(n.shape) == tuple(t.shape), (n.shape, t.shape)
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=1e-12)


def loss(x, y):
    return ((y @ x).tanh() ** 2).sum() + x.sin().sum()


def test_grad_and_value_argnums_aux_and_nesting():
    tx, ty, nx, ny = torch.tensor(X), torch.tensor(Y), ndgrad.tensor(X), ndgrad.tensor(Y)
    _cmp(NFN.grad(loss)(nx, ny), TFN.grad(loss)(tx, ty))
    _cmp(NFN.grad(loss, argnums=(0, 1))(nx, ny), TFN.grad(loss, argnums=(0, 1))(tx, ty))
    _cmp(NFN.grad_and_value(loss, argnums=1)(nx, ny), TFN.grad_and_value(loss, argnums=1)(tx, ty))

    def with_aux(x, y):
        return loss(x, y), {"norm": x.norm()}

    g, aux = NFN.grad(with_aux, has_aux=True)(nx, ny)
    tg, taux = TFN.grad(with_aux, has_aux=True)(tx, ty)
    _cmp(g, tg)
    _cmp(aux, taux)
    # grad of grad: the second derivative along the diagonal
    second = NFN.grad(lambda x: NFN.grad(lambda z: (z**4).sum())(x).sum())(nx)
    _cmp(second, TFN.grad(lambda x: TFN.grad(lambda z: (z**4).sum())(x).sum())(tx))
    # pytrees as arguments
    params = {"w": ny, "b": nx}
    tparams = {"w": ty, "b": tx}
    _cmp(NFN.grad(lambda p: (p["w"] @ p["b"]).exp().sum())(params),
         TFN.grad(lambda p: (p["w"] @ p["b"]).exp().sum())(tparams))


def test_grad_errors_match_torch():
    def err(fn):
        try:
            fn()
        except (RuntimeError, ValueError) as e:
            return type(e).__name__, str(e)
        return None

    for make in [lambda F, lib: F.grad(lambda x: x * 2)(lib.ones(3)),
                 lambda F, lib: F.grad(lambda x: 3.0)(lib.ones(3)),
                 lambda F, lib: F.grad(lambda x: x.sum(), argnums=2)(lib.ones(3)),
                 lambda F, lib: F.grad(lambda x: x.sum(), argnums=())(lib.ones(3)),
                 lambda F, lib: F.grad(lambda x: x.sum(), has_aux=True)(lib.ones(3))]:
        t = err(lambda make=make: make(TFN, torch))
        n = err(lambda make=make: make(NFN, ndgrad))
        assert t is not None and n is not None
        assert n[0] == t[0] and n[1].split(":")[0] == t[1].split(":")[0]


def test_vjp_and_jvp():
    tx, ty, nx, ny = torch.tensor(X), torch.tensor(Y), ndgrad.tensor(X), ndgrad.tensor(Y)

    def f(x, y):
        return (y @ x).exp(), x * 2

    t_out, t_fn = TFN.vjp(f, tx, ty)
    n_out, n_fn = NFN.vjp(f, nx, ny)
    _cmp(n_out, t_out)
    cot = (RNG.normal(size=(2,)), RNG.normal(size=(3,)))
    _cmp(n_fn(tuple(ndgrad.tensor(c) for c in cot)), t_fn(tuple(torch.tensor(c) for c in cot)))
    _cmp(n_fn(tuple(ndgrad.tensor(c) for c in cot)), t_fn(tuple(torch.tensor(c) for c in cot)))
    tang = (RNG.normal(size=(3,)), RNG.normal(size=(2, 3)))
    _cmp(NFN.jvp(f, (nx, ny), tuple(ndgrad.tensor(v) for v in tang)),
         TFN.jvp(f, (tx, ty), tuple(torch.tensor(v) for v in tang)))


def test_jacrev_jacfwd_hessian():
    tx, ty, nx, ny = torch.tensor(X), torch.tensor(Y), ndgrad.tensor(X), ndgrad.tensor(Y)

    def f(x, y):
        return (y @ x).sin() * x.sum()

    for tj, nj in [(TFN.jacrev, NFN.jacrev), (TFN.jacfwd, NFN.jacfwd)]:
        _cmp(nj(f)(nx, ny), tj(f)(tx, ty))
        _cmp(nj(f, argnums=(0, 1))(nx, ny), tj(f, argnums=(0, 1))(tx, ty))
    _cmp(NFN.hessian(loss)(nx, ny), TFN.hessian(loss)(tx, ty))
    _cmp(NFN.hessian(loss, argnums=1)(nx, ny), TFN.hessian(loss, argnums=1)(tx, ty))


def test_vmap_per_example_gradients_and_dims():
    xs = RNG.normal(size=(5, 3))
    txs, nxs, ty, ny = torch.tensor(xs), ndgrad.tensor(xs), torch.tensor(Y), ndgrad.tensor(Y)
    # per-example gradients, the classic use
    _cmp(NFN.vmap(NFN.grad(loss), in_dims=(0, None))(nxs, ny),
         TFN.vmap(TFN.grad(loss), in_dims=(0, None))(txs, ty))
    # in_dims on another dim, out_dims, several outputs
    f = lambda y, x: (y @ x, x.sum())  # noqa: E731
    _cmp(NFN.vmap(f, in_dims=(None, 1), out_dims=(1, 0))(ny, nxs.T),
         TFN.vmap(f, in_dims=(None, 1), out_dims=(1, 0))(ty, txs.T))
    # grad through vmap
    _cmp(NFN.grad(lambda y: NFN.vmap(loss, in_dims=(0, None))(nxs, y).sum())(ny),
         TFN.grad(lambda y: TFN.vmap(loss, in_dims=(0, None))(txs, y).sum())(ty))
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        NFN.vmap(lambda a, b: a + b)(ndgrad.ones(3), ndgrad.ones(4))


def test_vmap_randomness():
    ndgrad.manual_seed(0)
    same = NFN.vmap(lambda x: x + ndgrad.randn(2), randomness="same")(ndgrad.zeros(4, 2))
    assert np.allclose(same.numpy(), same.numpy()[0])
    diff = NFN.vmap(lambda x: x + ndgrad.randn(2), randomness="different")(ndgrad.zeros(4, 2))
    assert not np.allclose(diff.numpy(), diff.numpy()[0])


def test_functional_call_with_grad_and_vmap():
    torch.manual_seed(0)
    t_net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    n_net = ndgrad.nn.Sequential(ndgrad.nn.Linear(3, 4), ndgrad.nn.Tanh(), ndgrad.nn.Linear(4, 1))
    n_net.load_state_dict({k: ndgrad.tensor(v.detach().numpy()) for k, v in
                           t_net.state_dict().items()})
    t_params = {k: v.detach() for k, v in t_net.named_parameters()}
    n_params = {k: v.detach() for k, v in n_net.named_parameters()}
    xs = RNG.normal(size=(6, 3)).astype(np.float32)
    ys = RNG.normal(size=(6, 1)).astype(np.float32)

    def make_loss(lib, fn, net):
        def per_example(params, x, y):
            out = fn.functional_call(net, params, (x.unsqueeze(0),))
            return ((out - y.unsqueeze(0)) ** 2).mean()
        return per_example

    t_g = TFN.vmap(TFN.grad(make_loss(torch, TFN, t_net)), in_dims=(None, 0, 0))(
        t_params, torch.tensor(xs), torch.tensor(ys))
    n_g = NFN.vmap(NFN.grad(make_loss(ndgrad, NFN, n_net)), in_dims=(None, 0, 0))(
        n_params, ndgrad.tensor(xs), ndgrad.tensor(ys))
    _cmp(n_g, t_g, rtol=1e-5)
    # the module's own parameters are back in place
    assert n_net[0].weight is dict(n_net.named_parameters())["0.weight"]
    with pytest.raises(RuntimeError, match="Missing key"):
        NFN.functional_call(n_net, {"0.weight": n_params["0.weight"]},
                            (ndgrad.tensor(xs),), strict=True)


# -- ndgrad.testing.assert_close ------------------------------------------------------------------
def _msg(lib, a, b, **kw):
    assert_close = torch.testing.assert_close if lib is torch else ndgrad.testing.assert_close
    try:
        assert_close(a, b, **kw)
    except (AssertionError, TypeError, ValueError) as e:
        text = str(e).replace("torch.", "ndgrad.").replace("ndgrad.tensor.core.", "ndgrad.")
        return type(e).__name__, text
    return None


@pytest.mark.parametrize("case", [
    lambda lib: (lib.tensor([1.0, 2.0, 3.0]), lib.tensor([1.0, 2.1, 3.0]), {}),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.0 + 1e-6]), {}),
    lambda lib: (lib.tensor([1.0, 2.0], dtype=lib.float64), lib.tensor([1.0, 2.0]), {}),
    lambda lib: (lib.tensor([1.0, 2.0], dtype=lib.float64), lib.tensor([1.0, 2.0]),
                 dict(check_dtype=False)),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.0, 3.0]), {}),
    lambda lib: (lib.tensor([1, 2, 3]), lib.tensor([1, 2, 4]), {}),
    lambda lib: (lib.tensor([[1.0, 2.0], [3.0, 4.0]]), lib.tensor([[1.0, 2.0], [3.0, 4.5]]),
                 dict(rtol=0, atol=0)),
    lambda lib: (1.0, 1.1, {}),
    lambda lib: (1.0, 1.0 + 1e-9, {}),
    lambda lib: (lib.tensor(1.0), 1.0, {}),
    lambda lib: ([lib.tensor(1.0), lib.tensor(2.0)], [lib.tensor(1.0), lib.tensor(2.5)], {}),
    lambda lib: ({"a": lib.tensor(1.0)}, {"a": lib.tensor(1.5)}, {}),
    lambda lib: ({"a": lib.tensor(1.0)}, {"b": lib.tensor(1.0)}, {}),
    lambda lib: (lib.tensor([math.nan]), lib.tensor([math.nan]), {}),
    lambda lib: (lib.tensor([math.nan]), lib.tensor([math.nan]), dict(equal_nan=True)),
    lambda lib: (lib.tensor([1.0, math.inf]), lib.tensor([1.0, math.inf]), {}),
    lambda lib: (lib.tensor([1.0, math.inf]), lib.tensor([1.0, -math.inf]), {}),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.5]), dict(rtol=0.1)),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.5]), dict(msg="custom")),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.5]),
                 dict(msg=lambda m: m.upper())),
    lambda lib: (lib.tensor(True), lib.tensor(False), {}),
    lambda lib: ([1, 2], [1, 2, 3], {}),
    lambda lib: (lib.tensor([1.0, 2.0]), [1.0, 2.0], {}),
    lambda lib: (None, None, {}),
    lambda lib: (True, False, {}),
    lambda lib: (lib.tensor([1.0, 2.0], dtype=lib.float16), lib.tensor([1.0, 2.001],
                                                                       dtype=lib.float16), {}),
    lambda lib: (np.array([1.0, 2.0]), np.array([1.0, 2.5]), {}),
])
def test_assert_close_matches_torch(case):
    t_args, n_args = case(torch), case(ndgrad)
    assert _msg(ndgrad, n_args[0], n_args[1], **n_args[2]) == _msg(torch, t_args[0], t_args[1],
                                                                   **t_args[2])


def test_stack_module_state_ensembles_as_torch():
    """torch's model-ensembling recipe: stack the models' state, vmap a functional_call."""
    import copy
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3))
    outs, grads = [], []
    for lib in (torch, ndgrad):
        nn = lib.nn
        models = []
        for k in range(3):
            m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                              nn.Linear(4, 2)).double().eval()
            with lib.no_grad():
                for p in m.parameters():
                    p.copy_(lib.tensor(np.random.default_rng(k * 10 + p.numel())
                                       .standard_normal(tuple(p.shape))))
            models.append(m)
        params, buffers = lib.func.stack_module_state(models)
        assert params["0.weight"].shape == (3, 4, 3) and params["0.weight"].is_leaf
        assert params["0.weight"].requires_grad and not buffers["1.running_mean"].requires_grad
        base = copy.deepcopy(models[0])

        def f(p, b, xb, base=base, lib=lib):
            return lib.func.functional_call(base, (p, b), (xb,))
        out = lib.func.vmap(f, in_dims=(0, 0, None))(params, buffers, lib.tensor(x))
        out.square().sum().backward()
        outs.append(out.detach().numpy())
        grads.append(params["3.weight"].grad.numpy())
        with pytest.raises(RuntimeError, match="at least one model"):
            lib.func.stack_module_state([])
        with pytest.raises(RuntimeError, match="same training/eval"):
            lib.func.stack_module_state([models[0], copy.deepcopy(models[1]).train()])
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)
