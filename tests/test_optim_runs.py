"""Whole optimization runs against torch.optim, where the gradient depends on the parameters:
every first-order optimizer on a Rosenbrock function, LBFGS (fixed step and strong-Wolfe line
search) on Rosenbrock and on a logistic regression, SparseAdam on a sparse embedding, and
torch.optim.swa_utils (AveragedModel, SWALR, update_bn); state_dict round trips continue the
run in step with torch."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn, optim
from ndgrad.optim import swa_utils

TOL64 = dict(rtol=1e-10, atol=1e-12)


def rosenbrock(x, y):
    """A sum of 2-D Rosenbrock functions: a curved valley, minimum 0 at x = y = 1."""
    return (1 - x).square().sum() + 100 * (y - x * x).square().sum()


def start(dtype=np.float64, n=3, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1.5, 1.5, n).astype(dtype), rng.uniform(-1, 1, n).astype(dtype)]
    return ([torch.tensor(a.copy(), requires_grad=True) for a in arrays],
            [nn.Parameter(ndgrad.tensor(a.copy())) for a in arrays])


def closure_for(opt, params, loss_fn):
    def closure():
        opt.zero_grad()
        loss = loss_fn(*params)
        loss.backward()
        return loss
    return closure


def compare(n_params, t_params, tol, what=""):
    for i, (a, b) in enumerate(zip(n_params, t_params)):
        np.testing.assert_allclose(a._data, b.detach().numpy(), err_msg=f"{what} param {i}",
                                   **tol)


def to_ndgrad(value):
    """A torch optimizer state_dict, its tensors converted to ndgrad (lists, dicts kept)."""
    if isinstance(value, torch.Tensor):
        return ndgrad.from_numpy(value.detach().numpy().copy())
    if isinstance(value, dict):
        return {k: to_ndgrad(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_ndgrad(v) for v in value)
    return value


RUNS = [
    ("SGD", dict(lr=1e-3, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1)),
    ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adadelta", dict(lr=1.0, rho=0.95)),
    ("Adamax", dict(lr=0.02)),
    ("NAdam", dict(lr=0.02)),
    ("NAdam", dict(lr=0.02, weight_decay=0.01, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.02)),
    ("RAdam", dict(lr=0.02, weight_decay=0.01, decoupled_weight_decay=True)),
    ("ASGD", dict(lr=1e-3, t0=10, lambd=1e-3)),
    ("Rprop", dict(lr=1e-3)),
    ("Rprop", dict(lr=1e-3, maximize=True)),
    ("Adafactor", dict(lr=0.02, weight_decay=0.01)),
]


@pytest.mark.parametrize("name,kwargs", RUNS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(RUNS)])
def test_rosenbrock_run_matches_torch(name, kwargs):
    """40 steps down the Rosenbrock valley in float64 with opt.step(closure): the same
    parameters and losses as torch at every step."""
    t_params, n_params = start()
    t_opt = getattr(torch.optim, name)(t_params, **kwargs)
    n_opt = getattr(optim, name)(n_params, **kwargs)
    t_closure = closure_for(t_opt, t_params, rosenbrock)
    n_closure = closure_for(n_opt, n_params, rosenbrock)
    for step in range(40):
        t_loss = t_opt.step(t_closure)
        n_loss = n_opt.step(n_closure)
        np.testing.assert_allclose(n_loss.item(), t_loss.item(), rtol=1e-10)
        compare(n_params, t_params, TOL64, f"step {step}")


# -- LBFGS ------------------------------------------------------------------------------------
def logistic_problem(dtype, seed=1):
    """A small logistic regression (a well-conditioned convex problem), in both libraries."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 5)).astype(dtype)
    y = (rng.uniform(size=32) < 0.5).astype(dtype)
    w0 = (rng.standard_normal(5) * 0.1).astype(dtype)
    b0 = np.zeros(1, dtype)

    def loss(lib, xt, yt):
        def fn(w, b):
            return lib.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) \
                + 1e-2 * w.square().sum()
        return fn

    t_params = [torch.tensor(w0.copy(), requires_grad=True), torch.tensor(b0.copy(),
                                                                          requires_grad=True)]
    n_params = [nn.Parameter(ndgrad.tensor(w0.copy())), nn.Parameter(ndgrad.tensor(b0.copy()))]
    return (t_params, n_params, loss(torch, torch.tensor(x), torch.tensor(y)),
            loss(ndgrad, ndgrad.tensor(x), ndgrad.tensor(y)))


# Rosenbrock's narrow valley amplifies rounding differences (torch sums and fuses multiply-adds
# in another order) along the run: about 1e-9 after a hundred iterations, so its tolerance is
# looser; the logistic regression stays at rounding level
ROSEN_TOL = dict(rtol=1e-6, atol=1e-8)
LBFGS_RUNS = [
    ("rosenbrock", dict(line_search_fn="strong_wolfe"), 5, ROSEN_TOL),
    ("rosenbrock", dict(max_iter=6, history_size=3, line_search_fn="strong_wolfe",
                        tolerance_change=1e-6), 6, ROSEN_TOL),
    ("rosenbrock", dict(lr=0.1, max_iter=5, history_size=2), 6, ROSEN_TOL),
    ("logistic", dict(), 3, TOL64),
    ("logistic", dict(lr=0.5, max_iter=4, max_eval=6, history_size=2), 6, TOL64),
    ("logistic", dict(max_iter=5, history_size=3, line_search_fn="strong_wolfe"), 4, TOL64),
    ("logistic", dict(tolerance_grad=1e-3, tolerance_change=1e-4,
                      line_search_fn="strong_wolfe"), 3, TOL64),
]


@pytest.mark.parametrize("problem,kwargs,steps,tol", LBFGS_RUNS,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(LBFGS_RUNS)])
def test_lbfgs_matches_torch(problem, kwargs, steps, tol):
    """Each step(closure) runs up to max_iter iterations: the same parameters, losses and
    evaluation counts as torch (so every branch and stopping test went the same way), and the
    same state (search direction, history, step length)."""
    if problem == "rosenbrock":
        t_params, n_params = start()
        t_fn = n_fn = rosenbrock
    else:
        t_params, n_params, t_fn, n_fn = logistic_problem(np.float64)
    t_opt = torch.optim.LBFGS(t_params, **kwargs)
    n_opt = optim.LBFGS(n_params, **kwargs)
    t_closure = closure_for(t_opt, t_params, t_fn)
    n_closure = closure_for(n_opt, n_params, n_fn)
    for step in range(steps):
        t_loss = t_opt.step(t_closure)
        n_loss = n_opt.step(n_closure)
        np.testing.assert_allclose(n_loss.item(), t_loss.item(), **tol)
        compare(n_params, t_params, tol, f"step {step}")
        t_state, n_state = t_opt.state[t_params[0]], n_opt.state[n_params[0]]
        assert (n_state["func_evals"], n_state["n_iter"]) == \
            (t_state["func_evals"], t_state["n_iter"]), step
    n_sd, t_sd = n_opt.state_dict(), t_opt.state_dict()
    assert n_sd["param_groups"] == t_sd["param_groups"]
    n_state, t_state = n_sd["state"][0], t_sd["state"][0]
    assert list(n_state) == list(t_state)
    if problem == "rosenbrock":
        return  # near the optimum the history (1 / y.s) is mostly rounding
    for key in ("d", "prev_flat_grad", "H_diag"):
        np.testing.assert_allclose(n_state[key]._data, t_state[key].numpy(), **tol)
    assert len(n_state["old_dirs"]) == len(t_state["old_dirs"]) <= kwargs.get("history_size",
                                                                               100)
    for a, b in zip(n_state["old_stps"] + n_state["ro"], t_state["old_stps"] + t_state["ro"]):
        np.testing.assert_allclose(a._data, b.numpy(), **tol)
    assert n_state["prev_loss"] == pytest.approx(t_state["prev_loss"], rel=tol["rtol"])


def test_lbfgs_float32_converges_like_torch():
    """In float32 the two runs differ by rounding, which can change a line-search decision;
    both still reach the same optimum."""
    t_params, n_params, t_fn, n_fn = logistic_problem(np.float32)
    t_opt = torch.optim.LBFGS(t_params, line_search_fn="strong_wolfe")
    n_opt = optim.LBFGS(n_params, line_search_fn="strong_wolfe")
    for _ in range(3):
        t_loss = t_opt.step(closure_for(t_opt, t_params, t_fn))
        n_loss = n_opt.step(closure_for(n_opt, n_params, n_fn))
    assert n_params[0].dtype == ndgrad.float32
    np.testing.assert_allclose(n_loss.item(), t_loss.item(), rtol=1e-5)
    compare(n_params, t_params, dict(rtol=1e-3, atol=1e-4))


def test_lbfgs_state_dict_round_trip():
    """Two steps, then the state (ndgrad's own, and torch's converted) loads into fresh
    optimizers over copies of the parameters: all continue in step with torch."""
    kwargs = dict(max_iter=4, history_size=3, line_search_fn="strong_wolfe")
    t_params, n_params, t_fn, n_fn = logistic_problem(np.float64)
    t_opt = torch.optim.LBFGS(t_params, **kwargs)
    n_opt = optim.LBFGS(n_params, **kwargs)
    for _ in range(2):
        t_opt.step(closure_for(t_opt, t_params, t_fn))
        n_opt.step(closure_for(n_opt, n_params, n_fn))
    runs = [(t_opt, t_params, t_fn), (n_opt, n_params, n_fn)]
    for sd in (copy.deepcopy(n_opt.state_dict()), to_ndgrad(t_opt.state_dict())):
        params = [nn.Parameter(ndgrad.tensor(p._data.copy())) for p in n_params]
        opt = optim.LBFGS(params, lr=123.0)  # hyperparameters come from the state_dict
        opt.load_state_dict(sd)
        runs.append((opt, params, n_fn))
    for step in range(3):
        for opt, params, fn in runs:
            opt.step(closure_for(opt, params, fn))
        compare(runs[2][1], runs[1][1], dict(rtol=0, atol=0), f"reloaded, step {step}")
        compare(runs[3][1], t_params, TOL64, f"loaded from torch, step {step}")
        compare(n_params, t_params, TOL64, f"step {step}")


def test_lbfgs_stops_at_a_stationary_point_and_errors():
    p = nn.Parameter(ndgrad.tensor([1.0, 1.0]))
    q = nn.Parameter(ndgrad.tensor([1.0, 1.0]))
    opt = optim.LBFGS([p, q])
    loss = opt.step(closure_for(opt, [p, q], rosenbrock))  # the minimum: nothing to do
    assert loss.item() == 0.0 and p.tolist() == [1.0, 1.0]
    assert dict(opt.state[p]) == {"func_evals": 1, "n_iter": 0}
    with pytest.raises(TypeError):
        opt.step()  # LBFGS needs a closure, as torch's
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([dict(params=[p]), dict(params=[q])])
    bad = optim.LBFGS([p, q], line_search_fn="backtracking")
    p.data = ndgrad.tensor([0.0, 0.5])
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        bad.step(closure_for(bad, [p, q], rosenbrock))


def test_lbfgs_parameter_without_gradient():
    """A parameter the loss does not use counts as a zero gradient and is left alone."""
    t_params, n_params, t_fn, n_fn = logistic_problem(np.float64)
    t_extra = torch.ones(3, requires_grad=True)
    n_extra = nn.Parameter(ndgrad.ones(3))
    t_opt = torch.optim.LBFGS(t_params + [t_extra], max_iter=5)
    n_opt = optim.LBFGS(n_params + [n_extra], max_iter=5)
    for _ in range(2):
        t_opt.step(closure_for(t_opt, t_params, t_fn))
        n_opt.step(closure_for(n_opt, n_params, n_fn))
    compare(n_params + [n_extra], t_params + [t_extra], TOL64)


# -- SparseAdam --------------------------------------------------------------------------------
def test_sparse_adam_matches_torch_sparse_embeddings():
    """torch's sparse embedding gradients against ndgrad's dense ones: the rows looked up move,
    the others (and the padding row) stay exactly as they were, as in torch; two tables in two
    param groups, one maximizing."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((10, 4)), rng.standard_normal((6, 3))]
    t_emb = [torch.nn.Embedding(10, 4, padding_idx=0, sparse=True),
             torch.nn.Embedding(6, 3, sparse=True)]
    n_emb = [nn.Embedding(10, 4, padding_idx=0, sparse=True), nn.Embedding(6, 3, sparse=True)]
    for t, n, w in zip(t_emb, n_emb, weights):
        t.weight.data = torch.tensor(w.copy())
        n.weight.data = ndgrad.tensor(w.copy())
    t_opt = torch.optim.SparseAdam([dict(params=t_emb[0].parameters()),
                                    dict(params=t_emb[1].parameters(), lr=0.1, maximize=True)],
                                   lr=0.05, betas=(0.8, 0.99))
    n_opt = optim.SparseAdam([dict(params=n_emb[0].parameters()),
                              dict(params=n_emb[1].parameters(), lr=0.1, maximize=True)],
                             lr=0.05, betas=(0.8, 0.99))
    for _ in range(25):
        idx = [rng.integers(0, 10, (3, 2)), rng.integers(0, 3, 4)]  # rows 3..5 never used
        tgt = [rng.standard_normal((3, 2, 4)), rng.standard_normal((4, 3))]
        losses = []
        for lib, embs in ((torch, t_emb), (ndgrad, n_emb)):
            losses.append(sum(((e(lib.tensor(i)) - lib.tensor(g)) ** 2).mean()
                              for e, i, g in zip(embs, idx, tgt)))
        t_opt.zero_grad()
        n_opt.zero_grad()
        losses[0].backward()
        losses[1].backward()
        t_opt.step()
        n_opt.step()
        for t, n in zip(t_emb, n_emb):
            np.testing.assert_allclose(n.weight._data, t.weight.detach().numpy(), **TOL64)
    np.testing.assert_array_equal(n_emb[1].weight._data[3:], weights[1][3:])
    t_sd, n_sd = t_opt.state_dict(), n_opt.state_dict()
    assert n_sd["param_groups"] == t_sd["param_groups"]
    for pid, t_state in t_sd["state"].items():
        assert n_sd["state"][pid]["step"] == t_state["step"] == 25
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(n_sd["state"][pid][key]._data, t_state[key].numpy(),
                                       **TOL64)
    # a round trip continues bit for bit
    params2 = [nn.Parameter(ndgrad.tensor(e.weight._data.copy())) for e in n_emb]
    opt2 = optim.SparseAdam([dict(params=[params2[0]]), dict(params=[params2[1]])])
    opt2.load_state_dict(copy.deepcopy(n_sd))
    for e, p in zip(n_emb, params2):
        e.weight.grad = p.grad = ndgrad.ones_like(p)
    n_opt.step()
    opt2.step()
    for e, p in zip(n_emb, params2):
        np.testing.assert_array_equal(p._data, e.weight._data)


# -- swa_utils ---------------------------------------------------------------------------------
def _bn_model(lib):
    return lib.nn.Sequential(lib.nn.Linear(3, 5), lib.nn.BatchNorm1d(5), lib.nn.ReLU(),
                             lib.nn.Linear(5, 2)).double()


AVERAGES = {
    "swa": lambda m, model: m.AveragedModel(model),
    "ema": lambda m, model: m.AveragedModel(model, avg_fn=m.get_ema_avg_fn(0.9)),
    "ema_multi": lambda m, model: m.AveragedModel(model,
                                                  multi_avg_fn=m.get_ema_multi_avg_fn(0.9)),
    "swa_multi": lambda m, model: m.AveragedModel(model, multi_avg_fn=m.get_swa_multi_avg_fn()),
    "buffers": lambda m, model: m.AveragedModel(model, use_buffers=True),
}


@pytest.mark.parametrize("average", list(AVERAGES))
@pytest.mark.parametrize("strategy,anneal_epochs", [("cos", 3), ("linear", 0)])
def test_swa_matches_torch(average, strategy, anneal_epochs):
    """SGD under SWALR for 6 steps, the averaged model updated after each, then update_bn:
    the lrs, the averaged weights, buffers and n_averaged all agree with torch."""
    t_model = _bn_model(torch)
    n_model = _bn_model(ndgrad)
    n_model.load_state_dict({k: ndgrad.from_numpy(v.numpy().copy())
                             for k, v in t_model.state_dict().items()})
    t_avg = AVERAGES[average](torch.optim.swa_utils, t_model)
    n_avg = AVERAGES[average](swa_utils, n_model)
    t_opt = torch.optim.SGD([dict(params=t_model[0].parameters(), lr=0.2),
                             dict(params=t_model[3].parameters())], lr=0.5)
    n_opt = optim.SGD([dict(params=n_model[0].parameters(), lr=0.2),
                       dict(params=n_model[3].parameters())], lr=0.5)
    kwargs = dict(swa_lr=[0.05, 0.01], anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    t_sched = torch.optim.swa_utils.SWALR(t_opt, **kwargs)
    n_sched = swa_utils.SWALR(n_opt, **kwargs)
    rng = np.random.default_rng(0)
    for _ in range(6):
        x = rng.standard_normal((8, 3))
        for opt, model, lib in ((t_opt, t_model, torch), (n_opt, n_model, ndgrad)):
            opt.zero_grad()
            model(lib.tensor(x)).square().mean().backward()
            opt.step()
        t_sched.step()
        n_sched.step()
        assert n_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)
        t_avg.update_parameters(t_model)
        n_avg.update_parameters(n_model)
    loader = [rng.standard_normal((4, 3)) for _ in range(3)]
    torch.optim.swa_utils.update_bn([(torch.tensor(x), 0) for x in loader], t_avg)
    swa_utils.update_bn([(ndgrad.tensor(x), 0) for x in loader], n_avg)
    assert n_avg.module[1].momentum == 0.1  # restored after the pass
    t_sd, n_sd = t_avg.state_dict(), n_avg.state_dict()
    assert list(n_sd) == list(t_sd)
    for k in t_sd:
        np.testing.assert_allclose(n_sd[k].numpy(), t_sd[k].numpy(), err_msg=k, **TOL64)
    x = rng.standard_normal((2, 3))
    np.testing.assert_allclose(n_avg(ndgrad.tensor(x)).detach().numpy(),
                               t_avg(torch.tensor(x)).detach().numpy(), **TOL64)
    # the scheduler's state round trips (anneal_func is rebuilt, not saved)
    sd = n_sched.state_dict()
    assert "anneal_func" not in sd and sd.keys() == t_sched.state_dict().keys()
    fresh = swa_utils.SWALR(n_opt, [0.05, 0.01], anneal_strategy="linear" if strategy == "cos"
                            else "cos")
    fresh.load_state_dict(sd)
    t_sched.step()
    fresh.step()
    assert fresh.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)


def test_swa_errors():
    model = _bn_model(ndgrad)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for fn in (swa_utils.get_ema_avg_fn, swa_utils.get_ema_multi_avg_fn):
        with pytest.raises(ValueError, match="Invalid decay value 1.5 provided"):
            fn(1.5)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        swa_utils.SWALR(opt, 0.01, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        swa_utils.SWALR(opt, 0.01, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length"):
        swa_utils.SWALR(opt, [0.01, 0.02])
    sched = swa_utils.SWALR(opt, 0.01)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        swa_utils.update_bn([ndgrad.zeros(2, 3)], nn.Linear(3, 2))  # no batch norm: nothing
