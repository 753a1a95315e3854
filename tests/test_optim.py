"""ndgrad.optim against torch.optim: the same parameters and gradients for 20 steps, param
groups, state_dict round trips (ours and torch's), argument validation, no per-step
allocation."""

from __future__ import annotations

import copy
import tracemalloc

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn, optim

SHAPES = [(4, 3), (3,), (2, 2, 2), ()]
TOL32 = dict(rtol=1e-5, atol=1e-6)
TOL64 = dict(rtol=1e-10, atol=1e-12)


def make_params(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, s).astype(dtype) for s in SHAPES]
    t = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    n = [nn.Parameter(ndgrad.tensor(a.copy())) for a in arrays]
    return t, n


def grads_for(step, dtype, skip=None):
    rng = np.random.default_rng(100 + step)
    gs = [rng.uniform(-1, 1, s).astype(dtype) * (1 + step % 3) for s in SHAPES]
    if skip is not None and step % 4 == 3:
        gs[skip] = None  # a parameter without a gradient is not updated
    return gs


def set_grads(params, gs, lib):
    for p, g in zip(params, gs):
        p.grad = None if g is None else lib.tensor(g.copy())


def compare(n_params, t_params, tol, what=""):
    for i, (a, b) in enumerate(zip(n_params, t_params)):
        np.testing.assert_allclose(a._data, b.detach().numpy(), err_msg=f"{what} param {i}",
                                   **tol)


def groups(params, kind, group_kwargs):
    if kind == "single":
        return params
    # two groups: the first params with overridden hyperparameters
    return [dict(params=params[:2], **group_kwargs), dict(params=params[2:])]


CASES = [
    ("SGD", dict(lr=0.1), {}),
    ("SGD", dict(lr=0.1, momentum=0.9), dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3), dict(momentum=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), dict(lr=0.2)),
    ("SGD", dict(lr=0.05, weight_decay=0.1, maximize=True), {}),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1, maximize=True), {}),
    ("Adam", dict(lr=0.01), dict(lr=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), {}),
    ("Adam", dict(lr=0.01, amsgrad=True), dict(betas=(0.5, 0.9))),
    ("Adam", dict(lr=0.01, maximize=True, weight_decay=0.05), {}),
    ("AdamW", dict(lr=0.01), dict(weight_decay=0.5)),
    ("AdamW", dict(lr=0.02, amsgrad=True, weight_decay=0.1), {}),
    ("RMSprop", dict(lr=0.01), dict(lr=0.001)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1), {}),
    ("RMSprop", dict(lr=0.01, momentum=0.9, alpha=0.3), dict(momentum=0.5)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, alpha=0.3, maximize=True), {}),
    ("Adagrad", dict(lr=0.1), dict(lr=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                     initial_accumulator_value=0.2, eps=1e-6), {}),
    ("Adagrad", dict(lr=0.1, maximize=True), {}),
    ("Adadelta", dict(), dict(lr=0.5)),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1, maximize=True), {}),
    ("Adamax", dict(), dict(betas=(0.5, 0.9))),
    ("Adamax", dict(lr=0.01, eps=1e-4, weight_decay=0.1, maximize=True), {}),
    ("NAdam", dict(), dict(lr=0.01)),
    ("NAdam", dict(weight_decay=0.1, momentum_decay=0.01), dict(betas=(0.5, 0.9))),
    ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True),
     dict(weight_decay=0.5)),
    ("RAdam", dict(lr=0.01), dict(betas=(0.5, 0.9))),  # rho_t > 5 from step 6 (step 2 in g1)
    ("RAdam", dict(weight_decay=0.1, betas=(0.8, 0.9), maximize=True), {}),
    ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True), dict(lr=0.1)),
    ("ASGD", dict(), dict(lr=0.1)),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1, maximize=True),
     dict(t0=0)),
    ("Rprop", dict(), dict(lr=0.1)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True),
     dict(etas=(0.9, 1.1))),
    ("Adafactor", dict(), dict(lr=0.05)),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.1,
                       maximize=True), dict(d=1.0)),
]
NAMES = sorted({name for name, _, _ in CASES})
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw, _ in CASES]


@pytest.mark.parametrize("kind", ["single", "groups"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,kwargs,group_kwargs", CASES, ids=IDS)
def test_optimizer_matches_torch(name, kwargs, group_kwargs, dtype, kind):
    tol = TOL32 if dtype == np.float32 else TOL64
    t_params, n_params = make_params(dtype)
    t_opt = getattr(torch.optim, name)(groups(t_params, kind, group_kwargs), **kwargs)
    n_opt = getattr(optim, name)(groups(n_params, kind, group_kwargs), **kwargs)
    for step in range(20):
        gs = grads_for(step, dtype, skip=1)
        set_grads(t_params, gs, torch)
        set_grads(n_params, gs, ndgrad)
        t_opt.step()
        n_opt.step()
        compare(n_params, t_params, tol, f"step {step}")
    for p in n_params:
        assert p.dtype == ndgrad.from_numpy(np.zeros(1, dtype)).dtype  # dtype kept
    _compare_state_dicts(n_opt.state_dict(), t_opt.state_dict(), tol)


def _compare_state_dicts(n_sd, t_sd, tol):
    assert list(n_sd) == ["state", "param_groups"]
    assert list(n_sd["state"]) == list(t_sd["state"])
    for pid, t_state in t_sd["state"].items():
        n_state = n_sd["state"][pid]
        assert list(n_state) == list(t_state), pid
        for k, v in t_state.items():
            a = n_state[k]
            assert isinstance(a, ndgrad.Tensor)
            assert str(a.dtype).split(".")[1] == str(v.dtype).split(".")[1], (pid, k)
            np.testing.assert_allclose(a._data, v.numpy(), err_msg=f"{pid}.{k}", **tol)
    assert len(n_sd["param_groups"]) == len(t_sd["param_groups"])
    for ng, tg in zip(n_sd["param_groups"], t_sd["param_groups"]):
        assert ng == tg  # same keys, hyperparameters and integer param ids


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)), ("Adadelta", dict(lr=0.5)),
    ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01)), ("ASGD", dict(lr=0.05, t0=3)), ("Rprop", dict(lr=0.01)),
    ("Adafactor", dict(lr=0.05, weight_decay=0.1))])
def test_state_dict_round_trip(name, kwargs):
    """10 steps, save the state, load it into a fresh optimizer over copies of the parameters
    (ndgrad's own state_dict and torch's, converted), continue 10 steps: all three agree."""
    t_params, n_params = make_params()
    t_opt = getattr(torch.optim, name)(t_params, **kwargs)
    n_opt = getattr(optim, name)(n_params, **kwargs)
    for step in range(10):
        gs = grads_for(step, np.float32)
        set_grads(t_params, gs, torch)
        set_grads(n_params, gs, ndgrad)
        t_opt.step()
        n_opt.step()
    n_sd = n_opt.state_dict()
    n_params2 = [nn.Parameter(ndgrad.tensor(p._data.copy())) for p in n_params]
    n_opt2 = getattr(optim, name)(n_params2, lr=123.0)  # hyperparameters come from the file
    loaded = copy.deepcopy(n_sd)
    snapshot = copy.deepcopy(n_sd)
    n_opt2.load_state_dict(loaded)
    assert n_opt2.param_groups[0]["lr"] == kwargs["lr"]
    # torch's own state_dict, tensors converted to ndgrad
    t_sd = t_opt.state_dict()
    conv = {"state": {k: {kk: ndgrad.from_numpy(vv.numpy().copy()) for kk, vv in v.items()}
                      for k, v in t_sd["state"].items()},
            "param_groups": copy.deepcopy(t_sd["param_groups"])}
    n_params3 = [nn.Parameter(ndgrad.tensor(p._data.copy())) for p in n_params]
    n_opt3 = getattr(optim, name)(n_params3, **kwargs)
    n_opt3.load_state_dict(conv)
    for step in range(10, 20):
        gs = grads_for(step, np.float32)
        for ps, lib in ((t_params, torch), (n_params, ndgrad), (n_params2, ndgrad),
                        (n_params3, ndgrad)):
            set_grads(ps, gs, lib)
        for o in (t_opt, n_opt, n_opt2, n_opt3):
            o.step()
        compare(n_params2, n_params, dict(rtol=0, atol=0), "reloaded")  # bit for bit
        compare(n_params3, t_params, TOL32, "loaded from torch")
    # the optimizer copied what it loaded: stepping it did not change the dict it was given
    for pid, state in snapshot["state"].items():
        for k, v in state.items():
            np.testing.assert_array_equal(loaded["state"][pid][k]._data, v._data)


def test_load_state_dict_errors():
    _, n_params = make_params()
    opt = optim.SGD(n_params, lr=0.1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([dict(params=n_params[:1]), dict(params=n_params[1:])], lr=0.1)\
            .load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        optim.SGD(n_params[:2], lr=0.1).load_state_dict(sd)


def test_state_dict_format_matches_torch_before_any_step():
    t_params, n_params = make_params()
    for name in NAMES:
        kwargs = dict(lr=0.1)
        t_sd = getattr(torch.optim, name)(t_params, **kwargs).state_dict()
        n_sd = getattr(optim, name)(n_params, **kwargs).state_dict()
        assert n_sd["param_groups"] == t_sd["param_groups"], name
        assert list(n_sd["state"]) == list(t_sd["state"]), name  # Adagrad's state is eager


def test_repr_matches_torch():
    t_params, n_params = make_params()
    for name in NAMES:
        t = getattr(torch.optim, name)([dict(params=t_params[:1], lr=0.5),
                                        dict(params=t_params[1:])], lr=0.1)
        n = getattr(optim, name)([dict(params=n_params[:1], lr=0.5),
                                  dict(params=n_params[1:])], lr=0.1)
        assert repr(n) == repr(t)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=-1)), ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1)), ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-0.1)), ("Adam", dict(eps=-1.0)), ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, -0.1))), ("Adam", dict(weight_decay=-1)),
    ("AdamW", dict(betas=(0.9, 1.5))), ("RMSprop", dict(lr=-1)), ("RMSprop", dict(alpha=-1)),
    ("RMSprop", dict(momentum=-1)), ("RMSprop", dict(eps=-1)),
    ("Adagrad", dict(lr_decay=-1)), ("Adagrad", dict(initial_accumulator_value=-1)),
    ("Adagrad", dict(eps=-1)), ("Adagrad", dict(weight_decay=-1)),
    ("Adadelta", dict(lr=-1)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1)), ("Adadelta", dict(weight_decay=-1)),
    ("Adamax", dict(lr=-1)), ("Adamax", dict(eps=-1)), ("Adamax", dict(betas=(1.0, 0.9))),
    ("Adamax", dict(betas=(0.9, 1.0))), ("Adamax", dict(weight_decay=-1)),
    ("NAdam", dict(lr=-1)), ("NAdam", dict(eps=-1)), ("NAdam", dict(betas=(-0.1, 0.9))),
    ("NAdam", dict(betas=(0.9, 2.0))), ("NAdam", dict(weight_decay=-1)),
    ("NAdam", dict(momentum_decay=-1)),
    ("RAdam", dict(lr=-1)), ("RAdam", dict(eps=-1)), ("RAdam", dict(betas=(1.0, 0.9))),
    ("RAdam", dict(betas=(0.9, -1.0))), ("RAdam", dict(weight_decay=-1)),
    ("ASGD", dict(lr=-1)), ("ASGD", dict(weight_decay=-1)),
    ("Rprop", dict(lr=-1)), ("Rprop", dict(etas=(1.2, 0.5))), ("Rprop", dict(etas=(0.0, 1.2))),
    ("Rprop", dict(etas=(0.5, 1.0))),
    ("LBFGS", dict(lr=-1)), ("SparseAdam", dict(lr=0.0)), ("SparseAdam", dict(eps=0.0)),
    ("SparseAdam", dict(betas=(0.9, 1.0))),
    ("Adam", dict(betas=(0, 0.99))), ("AdamW", dict(betas=(0.9, 1))),
    ("Adam", dict(lr=ndgrad.tensor(0.1), foreach=True)),
    ("Adafactor", dict(lr=-1)), ("Adafactor", dict(beta2_decay=0.5)),
    ("Adafactor", dict(eps=(-1.0, 1e-3))), ("Adafactor", dict(eps=(None, -1.0))),
    ("Adafactor", dict(d=0.5)), ("Adafactor", dict(weight_decay=-1)),
])
def test_argument_validation_matches_torch(name, kwargs):
    t_params, n_params = make_params()
    t_kwargs = {k: torch.tensor(v.item()) if isinstance(v, ndgrad.Tensor) else v
                for k, v in kwargs.items()}
    with pytest.raises(ValueError) as t_err:
        getattr(torch.optim, name)(t_params, **t_kwargs)
    with pytest.raises(ValueError) as n_err:
        getattr(optim, name)(n_params, **kwargs)
    assert str(n_err.value) == str(t_err.value)


def test_invalid_learning_rate_message():
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.SGD([nn.Parameter(ndgrad.zeros(1))], lr=-1)


def test_param_group_errors():
    p = nn.Parameter(ndgrad.zeros(2))
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([dict(params={p})], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([ndgrad.zeros(2, requires_grad=True) * 2], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        optim.SGD([3.0], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one"):
        opt.add_param_group(dict(params=[p]))
    q = nn.Parameter(ndgrad.zeros(2))
    opt.add_param_group(dict(params=q, lr=0.5))
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0
    assert opt.param_groups[1]["params"] == [q]
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)


def test_named_parameters_and_param_names():
    m = nn.Linear(2, 2)
    tm = torch.nn.Linear(2, 2)
    n_opt = optim.Adam(m.named_parameters(), lr=0.1)
    t_opt = torch.optim.Adam(tm.named_parameters(), lr=0.1)
    assert n_opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert n_opt.state_dict()["param_groups"] == t_opt.state_dict()["param_groups"]


def test_zero_grad():
    p = nn.Parameter(ndgrad.ones(3))
    opt = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and not g._data.any()
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_and_hooks():
    p = nn.Parameter(ndgrad.tensor([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.5)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    h = opt.register_step_post_hook(lambda o, a, k: calls.append("post"))

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with ndgrad.no_grad():  # the closure runs with grad enabled anyway
        loss = opt.step(closure)
    assert loss.item() == 5.0 and p.tolist() == [0.0, 0.0]
    assert calls == ["pre", "post"]
    h.remove()
    opt.step(closure)
    assert calls == ["pre", "post", "pre"]


def test_hooks_run_once_for_a_subclass_calling_super_step():
    class MySGD(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    p = nn.Parameter(ndgrad.ones(1))
    p.grad = ndgrad.ones(1)
    opt = MySGD([p], lr=0.5)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    opt.step()
    assert calls == ["pre", "post"] and p.item() == 0.5


def test_step_does_not_record_graph_and_bumps_version():
    p = nn.Parameter(ndgrad.ones(3))
    opt = optim.Adam([p], lr=0.1)
    (p * 3).sum().backward()
    v = p._version
    opt.step()
    assert p.grad_fn is None and p.requires_grad and p._version == v + 1


def test_lr_as_tensor_and_changed_between_steps():
    t_params, n_params = make_params()
    t_opt = torch.optim.SGD(t_params, lr=0.1, momentum=0.9)
    n_opt = optim.SGD(n_params, lr=0.1, momentum=0.9)
    for step in range(6):
        for o in (t_opt, n_opt):
            o.param_groups[0]["lr"] = 0.1 / (step + 1)
        gs = grads_for(step, np.float32)
        set_grads(t_params, gs, torch)
        set_grads(n_params, gs, ndgrad)
        t_opt.step()
        n_opt.step()
    compare(n_params, t_params, TOL32)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)), ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)), ("Adagrad", dict(lr=0.1)),
    ("Adadelta", dict(weight_decay=0.1)), ("Adamax", dict(weight_decay=0.1)),
    ("NAdam", dict(weight_decay=0.1)), ("RAdam", dict(weight_decay=0.1)),
    ("ASGD", dict(t0=0))])
def test_step_allocates_no_parameter_sized_arrays(name, kwargs):
    """After the first step creates the state, a step reuses its scratch arrays: it allocates
    far less than one parameter's worth of memory. SGD's last temporary (lr * buf) is the one
    exception: it is allocated and freed at once rather than kept for the whole run."""
    p = nn.Parameter(ndgrad.zeros(256, 256))
    p.grad = ndgrad.ones(256, 256)
    opt = getattr(optim, name)([p], **kwargs)
    opt.step()
    opt.step()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    allowed = p._data.nbytes * (1 if name == "SGD" else 0) + p._data.nbytes // 8
    assert peak < allowed, f"a step allocated {peak} bytes"


def test_mlp_training_matches_torch():
    """A real loop: MLP, cross entropy, each optimizer, 15 steps, losses agree at every step."""
    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(10, 16), lib.nn.ReLU(), lib.nn.Linear(16, 4))

    for name, kwargs in [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                         ("Adam", dict(lr=0.01)), ("AdamW", dict(lr=0.01)),
                         ("RMSprop", dict(lr=0.001)), ("Adagrad", dict(lr=0.05))]:
        t_model = build(torch)
        n_model = build(ndgrad)
        n_model.load_state_dict({k: ndgrad.from_numpy(v.numpy().copy())
                                 for k, v in t_model.state_dict().items()})
        t_opt = getattr(torch.optim, name)(t_model.parameters(), **kwargs)
        n_opt = getattr(optim, name)(n_model.parameters(), **kwargs)
        rng = np.random.default_rng(0)
        for _ in range(15):
            x = rng.standard_normal((8, 10)).astype(np.float32)
            y = rng.integers(0, 4, 8)
            t_loss = torch.nn.functional.mse_loss(t_model(torch.tensor(x)),
                                                  torch.nn.functional.one_hot(
                                                      torch.tensor(y), 4).float())
            n_loss = ndgrad.nn.functional.mse_loss(n_model(ndgrad.tensor(x)),
                                                   ndgrad.nn.functional.one_hot(
                                                       ndgrad.tensor(y), 4).float())
            np.testing.assert_allclose(n_loss.item(), t_loss.item(), rtol=1e-5, err_msg=name)
            for o in (t_opt, n_opt):
                o.zero_grad()
            t_loss.backward()
            n_loss.backward()
            t_opt.step()
            n_opt.step()
        for (k, a), (_, b) in zip(n_model.state_dict().items(), t_model.state_dict().items()):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6,
                                       err_msg=f"{name} {k}")


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad"])
def test_fused_flag_checks_match_torch(name):
    """fused is accepted (ndgrad has one implementation), with torch's errors on conflicts."""
    t_params, n_params = make_params()
    getattr(optim, name)(n_params, lr=0.1, fused=True)
    for kwargs in (dict(fused=True, foreach=True), dict(fused=True, differentiable=True)):
        with pytest.raises(RuntimeError) as t_err:
            getattr(torch.optim, name)(t_params, lr=0.1, **kwargs)
        with pytest.raises(RuntimeError) as n_err:
            getattr(optim, name)(n_params, lr=0.1, **kwargs)
        assert str(n_err.value) == str(t_err.value)


def test_differentiable_not_supported():
    for name in NAMES:
        if name == "Adafactor":  # torch's has no differentiable option
            continue
        with pytest.raises(NotImplementedError, match="differentiable"):
            getattr(optim, name)([nn.Parameter(ndgrad.zeros(1))], lr=0.1, differentiable=True)


def test_signatures_match_torch():
    """Every torch option is accepted, with the same defaults (foreach, capturable, fused are
    accepted and change nothing: ndgrad has one CPU implementation per optimizer)."""
    import inspect

    for name in NAMES + ["LBFGS", "SparseAdam"]:
        t_sig = inspect.signature(getattr(torch.optim, name).__init__).parameters
        n_sig = inspect.signature(getattr(optim, name).__init__).parameters
        assert list(n_sig) == list(t_sig), name
        for k, p in t_sig.items():
            assert n_sig[k].default == p.default and n_sig[k].kind == p.kind, (name, k)


def test_clip_grad_norm_matches_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) * 3 for s in [(5, 4), (4,), (3, 3)]]
    for norm_type in (2.0, 1.0, 3.0, float("inf"), 0.5):
        for max_norm in (0.5, 1e6):
            tp = [torch.zeros(a.shape, requires_grad=True) for a in arrays]
            npar = [nn.Parameter(ndgrad.zeros(*a.shape)) for a in arrays]
            for t, n, a in zip(tp, npar, arrays):
                t.grad = torch.tensor(a.copy())
                n.grad = ndgrad.tensor(a.copy())
            tn = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
            nn_ = nn.utils.clip_grad_norm_(npar, max_norm, norm_type)
            assert isinstance(nn_, ndgrad.Tensor) and nn_.shape == ()
            np.testing.assert_allclose(nn_.item(), tn.item(), rtol=1e-5)
            for t, n in zip(tp, npar):
                np.testing.assert_allclose(n.grad._data, t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(ndgrad.zeros(3))
    q = nn.Parameter(ndgrad.zeros(3))  # no grad: ignored
    p.grad = ndgrad.tensor([3.0, 4.0, 0.0])
    total = nn.utils.clip_grad_norm_(iter([p, q]), max_norm=1.0)  # a generator works
    assert abs(total.item() - 5.0) < 1e-6
    np.testing.assert_allclose(p.grad._data, [0.6, 0.8, 0.0], rtol=1e-5)
    p.grad = ndgrad.tensor([float("nan"), 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    p.grad = ndgrad.tensor([3.0, -4.0, 0.5])
    nn.utils.clip_grad_value_([p, q], 1.0)
    assert p.grad.tolist() == [1.0, -1.0, 0.5]


def test_parameters_to_vector_and_back():
    m = nn.Linear(3, 2)
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.shape == (8,)
    np.testing.assert_array_equal(v._data[:6], m.weight._data.ravel())
    nn.utils.vector_to_parameters(v * 0 + 1, m.parameters())
    assert (m.weight._data == 1).all() and (m.bias._data == 1).all()
    tm = torch.nn.Linear(3, 2)
    assert torch.nn.utils.parameters_to_vector(tm.parameters()).shape == (8,)
