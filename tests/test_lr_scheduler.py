"""ndgrad.optim.lr_scheduler against torch.optim.lr_scheduler: lr sequences over many steps."""

from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch

import ndgrad
from ndgrad import nn, optim
from ndgrad.optim import lr_scheduler


def _optimizers(name="SGD", groups=2, **kwargs):
    kwargs.setdefault("lr", 0.1)
    t_params = [torch.zeros(2, requires_grad=True) for _ in range(groups)]
    n_params = [nn.Parameter(ndgrad.zeros(2)) for _ in range(groups)]
    t_groups = [dict(params=[p], lr=kwargs["lr"] * (i + 1)) for i, p in enumerate(t_params)]
    n_groups = [dict(params=[p], lr=kwargs["lr"] * (i + 1)) for i, p in enumerate(n_params)]
    return (getattr(torch.optim, name)(t_groups, **kwargs),
            getattr(optim, name)(n_groups, **kwargs))


def _run(t_sched, n_sched, t_opt, n_opt, steps, metrics=None):
    """Step both for ``steps`` epochs; lrs (and momenta) must agree at every step."""
    for i in range(steps):
        t_opt.step()
        n_opt.step()
        if metrics is None:
            t_sched.step()
            n_sched.step()
        else:
            t_sched.step(metrics[i])
            n_sched.step(metrics[i])
        t_lrs, n_lrs = t_sched.get_last_lr(), n_sched.get_last_lr()
        assert len(n_lrs) == len(t_lrs)
        for a, b in zip(n_lrs, t_lrs):
            assert a == pytest.approx(b, rel=1e-12, abs=1e-15), f"step {i}: {n_lrs} vs {t_lrs}"
        for ng, tg in zip(n_opt.param_groups, t_opt.param_groups):
            assert ng["lr"] == pytest.approx(tg["lr"], rel=1e-12, abs=1e-15)
            for key in ("momentum", "betas"):
                if key in tg:
                    assert ng[key] == pytest.approx(tg[key], rel=1e-12), (i, key)


CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5), "SGD", {}),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3), "SGD", {}),
    ("ExponentialLR", dict(gamma=0.93), "SGD", {}),
    ("CosineAnnealingLR", dict(T_max=15), "SGD", {}),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.01), "SGD", {}),
    ("LinearLR", dict(start_factor=0.2, end_factor=1.0, total_iters=10), "SGD", {}),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=7), "Adam", {}),
    ("ConstantLR", dict(factor=0.5, total_iters=4), "SGD", {}),
    ("PolynomialLR", dict(total_iters=12, power=2.0), "SGD", {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=0.001), "SGD", {}),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=50), "SGD", dict(momentum=0.9)),
    ("OneCycleLR", dict(max_lr=[0.5, 1.0], epochs=5, steps_per_epoch=10,
                        anneal_strategy="linear", three_phase=True), "SGD",
     dict(momentum=0.9)),
    ("OneCycleLR", dict(max_lr=0.01, total_steps=40, pct_start=0.25), "Adam", {}),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=30, cycle_momentum=False), "SGD", {}),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4), "SGD", dict(momentum=0.9)),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3,
                      step_size_down=7, mode="triangular2", base_momentum=[0.7, 0.8],
                      max_momentum=0.95), "SGD", dict(momentum=0.9)),
    ("CyclicLR", dict(base_lr=0.001, max_lr=0.01, step_size_up=5, mode="exp_range",
                      gamma=0.97), "Adam", {}),
    ("CyclicLR", dict(base_lr=0.001, max_lr=0.01, step_size_up=5, cycle_momentum=False),
     "Adagrad", {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=7), "SGD", {}),
    ("PolynomialLR", dict(), "SGD", {}),
    ("ExponentialLR", dict(gamma=0.9), "NAdam", {}),
    ("StepLR", dict(step_size=3), "RAdam", {}),
]


@pytest.mark.parametrize("name,kwargs,opt_name,opt_kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_scheduler_matches_torch(name, kwargs, opt_name, opt_kwargs):
    t_opt, n_opt = _optimizers(opt_name, **opt_kwargs)
    t_sched = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    n_sched = getattr(lr_scheduler, name)(n_opt, **kwargs)
    assert n_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)
    steps = 50 if name == "OneCycleLR" and "total_steps" not in kwargs else \
        kwargs.get("total_steps", 60)
    _run(t_sched, n_sched, t_opt, n_opt, steps)


def test_lambda_and_multiplicative():
    t_opt, n_opt = _optimizers()
    t = torch.optim.lr_scheduler.LambdaLR(t_opt, [lambda e: 0.95**e, lambda e: 1 / (e + 1)])
    n = lr_scheduler.LambdaLR(n_opt, [lambda e: 0.95**e, lambda e: 1 / (e + 1)])
    _run(t, n, t_opt, n_opt, 30)
    t_opt, n_opt = _optimizers()
    t = torch.optim.lr_scheduler.MultiplicativeLR(t_opt, lambda e: 0.9)
    n = lr_scheduler.MultiplicativeLR(n_opt, lambda e: 0.9)
    _run(t, n, t_opt, n_opt, 30)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(n_opt, [lambda e: 1.0])


def test_reduce_lr_on_plateau():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.9, 0.89, 0.89, 0.89, 0.89, 0.89, 0.5, 0.5,
               0.5, 0.5, 0.5, 0.5, 0.5, 0.5] * 2
    for kwargs in (dict(patience=2), dict(patience=1, factor=0.5, cooldown=2, min_lr=0.01),
                   dict(mode="max", patience=0, threshold_mode="abs", threshold=0.05),
                   dict(patience=1, min_lr=[0.05, 0.001])):
        t_opt, n_opt = _optimizers()
        t = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
        n = lr_scheduler.ReduceLROnPlateau(n_opt, **kwargs)
        _run(t, n, t_opt, n_opt, len(metrics), metrics)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(n_opt, factor=1.5)
    with pytest.raises(ValueError, match="mode median is unknown"):
        lr_scheduler.ReduceLROnPlateau(n_opt, mode="median")


def test_sequential_and_chained():
    t_opt, n_opt = _optimizers()
    t = torch.optim.lr_scheduler.SequentialLR(
        t_opt, [torch.optim.lr_scheduler.LinearLR(t_opt, 0.1, total_iters=5),
                torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=20)], milestones=[5])
    n = lr_scheduler.SequentialLR(
        n_opt, [lr_scheduler.LinearLR(n_opt, 0.1, total_iters=5),
                lr_scheduler.CosineAnnealingLR(n_opt, T_max=20)], milestones=[5])
    _run(t, n, t_opt, n_opt, 30)
    t_opt, n_opt = _optimizers()
    t = torch.optim.lr_scheduler.ChainedScheduler(
        [torch.optim.lr_scheduler.ExponentialLR(t_opt, 0.9),
         torch.optim.lr_scheduler.StepLR(t_opt, 3, 0.5)])
    n = lr_scheduler.ChainedScheduler(
        [lr_scheduler.ExponentialLR(n_opt, 0.9), lr_scheduler.StepLR(n_opt, 3, 0.5)])
    _run(t, n, t_opt, n_opt, 20)


def test_state_dict_resume():
    t_opt, n_opt = _optimizers()
    n = lr_scheduler.CosineAnnealingLR(n_opt, T_max=20)
    t = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=20)
    _run(t, n, t_opt, n_opt, 7)
    sd = n.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 7
    assert sd.keys() == t.state_dict().keys()
    opt_sd = n_opt.state_dict()
    # resume: a new optimizer and scheduler, both loaded
    _, n_opt2 = _optimizers()
    n_opt2.load_state_dict(opt_sd)
    n2 = lr_scheduler.CosineAnnealingLR(n_opt2, T_max=20)
    n2.load_state_dict(sd)
    _run(t, n2, t_opt, n_opt2, 10)


def test_lambda_state_dict_skips_functions():
    _, n_opt = _optimizers()

    class Scale:
        def __init__(self):
            self.k = 0.5

        def __call__(self, epoch):
            return self.k**epoch

    s = lr_scheduler.LambdaLR(n_opt, [lambda e: 1.0, Scale()])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [None, {"k": 0.5}]
    s.lr_lambdas[1].k = 0.1
    s.load_state_dict(sd)
    assert s.lr_lambdas[1].k == 0.5


def test_initial_lr_and_last_epoch_resume_errors():
    _, n_opt = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(n_opt, 3, last_epoch=5)
    lr_scheduler.StepLR(n_opt, 3)
    assert all("initial_lr" in g for g in n_opt.param_groups)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), 3)


def test_step_order_warning():
    _, n_opt = _optimizers()
    s = lr_scheduler.StepLR(n_opt, 3)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()
    _, n_opt = _optimizers()
    s = lr_scheduler.StepLR(n_opt, 3)
    n_opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.step()


def test_closed_form_with_epoch_argument():
    t_opt, n_opt = _optimizers()
    t = torch.optim.lr_scheduler.StepLR(t_opt, 3, 0.5)
    n = lr_scheduler.StepLR(n_opt, 3, 0.5)
    t_opt.step()
    n_opt.step()
    for epoch in (4, 9, 2):
        with pytest.warns(UserWarning):
            t.step(epoch)
        with pytest.warns(UserWarning, match="epoch parameter"):
            n.step(epoch)
        assert n.get_last_lr() == pytest.approx(t.get_last_lr())


def test_onecycle_errors():
    _, n_opt = _optimizers()
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        lr_scheduler.OneCycleLR(n_opt, 0.1)
    s = lr_scheduler.OneCycleLR(n_opt, 0.1, total_steps=2)
    n_opt.step()
    s.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        s.step()
    _, n_opt = _optimizers("Adagrad")
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        lr_scheduler.OneCycleLR(n_opt, 0.1, total_steps=10)


def test_cosine_values():
    _, n_opt = _optimizers(groups=1)
    s = lr_scheduler.CosineAnnealingLR(n_opt, T_max=10)
    for epoch in range(1, 11):
        n_opt.step()
        s.step()
        expected = 0.1 * (1 + math.cos(math.pi * epoch / 10)) / 2
        assert s.get_last_lr()[0] == pytest.approx(expected, abs=1e-12)


class _Scale:
    """A callable object: its __dict__ is what a state_dict keeps of it."""

    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return self.k ** x


# every scheduler, built the same way on both libraries: (optimizer, optimizer kwargs, build)
EVERY = {
    "LambdaLR": ("SGD", {}, lambda m, o: m.LambdaLR(o, [lambda e: 0.9**e, _Scale(0.8)])),
    "MultiplicativeLR": ("SGD", {}, lambda m, o: m.MultiplicativeLR(o, _Scale(0.95))),
    "StepLR": ("SGD", {}, lambda m, o: m.StepLR(o, 4, gamma=0.5)),
    "MultiStepLR": ("SGD", {}, lambda m, o: m.MultiStepLR(o, [3, 8, 8], gamma=0.5)),
    "ConstantLR": ("SGD", {}, lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=6)),
    "LinearLR": ("SGD", {}, lambda m, o: m.LinearLR(o, 0.25, total_iters=9)),
    "ExponentialLR": ("SGD", {}, lambda m, o: m.ExponentialLR(o, 0.9)),
    "PolynomialLR": ("SGD", {}, lambda m, o: m.PolynomialLR(o, total_iters=10, power=0.5)),
    "CosineAnnealingLR": ("SGD", {}, lambda m, o: m.CosineAnnealingLR(o, 6, eta_min=0.01)),
    "CosineAnnealingWarmRestarts": ("SGD", {}, lambda m, o: m.CosineAnnealingWarmRestarts(
        o, 3, T_mult=2)),
    "CyclicLR": ("SGD", dict(momentum=0.9), lambda m, o: m.CyclicLR(
        o, 0.01, [0.1, 0.2], step_size_up=3, step_size_down=5, scale_fn=_Scale(0.9),
        scale_mode="iterations")),
    "CyclicLR-exp_range": ("Adam", {}, lambda m, o: m.CyclicLR(
        o, 0.001, 0.01, step_size_up=4, mode="exp_range", gamma=0.95)),
    "OneCycleLR": ("SGD", dict(momentum=0.9), lambda m, o: m.OneCycleLR(
        o, 0.5, total_steps=30, three_phase=True)),
    "OneCycleLR-Adam": ("Adam", {}, lambda m, o: m.OneCycleLR(o, 0.01, total_steps=30,
                                                              anneal_strategy="linear")),
    "SequentialLR": ("SGD", {}, lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, 0.1, total_iters=4), m.ExponentialLR(o, 0.9),
            m.CosineAnnealingLR(o, 8)], milestones=[4, 9])),
    "ChainedScheduler": ("SGD", dict(momentum=0.9), lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, 0.5, total_iters=3), m.StepLR(o, 2, 0.8),
         m.CyclicLR(o, 0.01, 0.1, step_size_up=3)])),
    "SequentialLR-nested": ("SGD", {}, lambda m, o: m.SequentialLR(
        o, [m.ChainedScheduler([m.ConstantLR(o, 0.5, total_iters=2), m.ExponentialLR(o, 0.9)]),
            m.StepLR(o, 3)], milestones=[5])),
    "ReduceLROnPlateau": ("SGD", {}, lambda m, o: m.ReduceLROnPlateau(
        o, patience=1, factor=0.5, cooldown=1, min_lr=[0.01, 0.02])),
}
METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.8, 0.8, 0.81, 0.82, 0.7, 0.7, 0.7, 0.7, 0.75, 0.74,
           0.73, 0.72, 0.71, 0.7, 0.7, 0.69, 0.69, 0.69, 0.68, 0.68]


# a ChainedScheduler inside a SequentialLR steps before any optimizer.step(): torch warns too
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`")
@pytest.mark.parametrize("key", list(EVERY))
def test_every_scheduler_runs_and_resumes_like_torch(key):
    """10 steps on both libraries; then a resume as in a training script (a fresh optimizer and
    scheduler, built as before, load the two state_dicts: ndgrad's own, and torch's), and 15
    more steps: lrs and momenta equal torch's at every step."""
    opt_name, opt_kwargs, build = EVERY[key]
    metrics = METRICS if key == "ReduceLROnPlateau" else None
    t_opt, n_opt = _optimizers(opt_name, **opt_kwargs)
    t = build(torch.optim.lr_scheduler, t_opt)
    n = build(lr_scheduler, n_opt)
    assert n.get_last_lr() == pytest.approx(t.get_last_lr(), rel=1e-12)
    _run(t, n, t_opt, n_opt, 10, metrics)
    n_sd, t_sd = n.state_dict(), t.state_dict()
    assert n_sd.keys() == t_sd.keys()
    resumed = []
    for sched_sd in (n_sd, t_sd):
        _, opt = _optimizers(opt_name, **opt_kwargs)
        sched = build(lr_scheduler, opt)  # first the scheduler, then the loaded states
        opt.load_state_dict(n_opt.state_dict())
        sched.load_state_dict(copy.deepcopy(sched_sd))
        resumed.append((sched, opt))
    rest = None if metrics is None else metrics[10:]
    # torch's run, ndgrad's run and the two resumed ones step together
    for i in range(15):
        for _, opt in resumed:
            opt.step()
        for sched, _ in resumed:
            if rest is None:
                sched.step()
            else:
                sched.step(rest[i])
        _run(t, n, t_opt, n_opt, 1, None if rest is None else rest[i:i + 1])
        for sched, opt in resumed:
            assert sched.get_last_lr() == pytest.approx(t.get_last_lr(), rel=1e-12), i
            for ng, tg in zip(opt.param_groups, t_opt.param_groups):
                for k in ("lr", "momentum", "betas"):
                    if k in tg:
                        assert ng[k] == pytest.approx(tg[k], rel=1e-12), (i, k)


def _messages(record):
    return [str(w.message) for w in record]


def test_warnings_match_torch():
    """The step-order warning, get_lr() outside step(), the epoch argument: torch's texts."""
    texts = []
    for lib, sched_mod in ((torch, torch.optim.lr_scheduler), (ndgrad, lr_scheduler)):
        p = (torch.zeros(1, requires_grad=True) if lib is torch
             else nn.Parameter(ndgrad.zeros(1)))
        opt = lib.optim.SGD([p], lr=0.1)
        s = sched_mod.StepLR(opt, 2)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            s.step()  # before any optimizer.step()
            s.get_lr()
            opt.step()
            s.step(5)
        texts.append(_messages(record))
    assert texts[1] == texts[0] and len(texts[0]) == 3


def test_overridden_optimizer_step_warns_like_torch():
    texts = []
    for lib, sched_mod in ((torch, torch.optim.lr_scheduler), (ndgrad, lr_scheduler)):
        p = (torch.zeros(1, requires_grad=True) if lib is torch
             else nn.Parameter(ndgrad.zeros(1)))
        opt = lib.optim.SGD([p], lr=0.1)
        s = sched_mod.ExponentialLR(opt, 0.9)
        opt.step = lambda closure=None: None  # replaced after the scheduler wrapped it
        with pytest.warns(UserWarning) as record:
            s.step()
        texts.append(_messages(record))
    assert texts[1] == texts[0]


def test_tensor_lr_is_updated_in_place():
    """An lr given as a tensor stays that tensor: the scheduler fills it."""
    t_p = torch.zeros(2, requires_grad=True)
    n_p = nn.Parameter(ndgrad.zeros(2))
    t_opt = torch.optim.SGD([t_p], lr=torch.tensor(0.1))
    n_opt = optim.SGD([n_p], lr=ndgrad.tensor(0.1))
    t_lr, n_lr = t_opt.param_groups[0]["lr"], n_opt.param_groups[0]["lr"]
    t = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, 10)
    n = lr_scheduler.CosineAnnealingLR(n_opt, 10)
    for _ in range(4):
        t_opt.step()
        n_opt.step()
        t.step()
        n.step()
    assert n_opt.param_groups[0]["lr"] is n_lr and t_opt.param_groups[0]["lr"] is t_lr
    assert isinstance(n.get_last_lr()[0], ndgrad.Tensor) and n.get_last_lr()[0] is not n_lr
    assert n_lr.item() == pytest.approx(t_lr.item(), rel=1e-6)


def test_cyclic_errors():
    _, n_opt = _optimizers()
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        lr_scheduler.CyclicLR(n_opt, 0.01, 0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="base_lr must have the same length"):
        lr_scheduler.CyclicLR(n_opt, [0.01], 0.1)
    _, n_opt = _optimizers("Adagrad")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.CyclicLR(n_opt, 0.01, 0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.CyclicLR(object(), 0.01, 0.1)


def test_scheduler_names_match_torch():
    assert sorted(lr_scheduler.__all__) == sorted(torch.optim.lr_scheduler.__all__)
    assert lr_scheduler._LRScheduler.__name__ == "_LRScheduler"
