"""LKJCholesky and Wishart, and the kl_divergence pairs added with them, against
torch.distributions in float64: log_prob at torch's own draws and its gradients, moments,
entropy, shapes, sample/rsample shapes and support, gradients through Wishart's rsample,
expand, validation errors by message; each KL pair's value and gradients."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.distributions as td
from distribution_checks import Draws
from distribution_checks import cmp as _cmp
from distribution_checks import error as _error
from distribution_checks import make as _make
from distribution_checks import values as _values

import ndgrad
import ndgrad.distributions as nd

DRAW = Draws(11)
RNG = DRAW.rng
_pos, _real = DRAW.pos, DRAW.real

def _spd(shape):
    a = RNG.normal(size=shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _tril(shape):
    return np.tril(RNG.normal(size=shape) * 0.5, -1) + np.diag(np.ones(shape[-1])) * _pos(
        (*shape[:-1], 1))


def _grads(n_out, t_out, n_leaves, t_leaves, what):
    """d(out . w)/d(parameters) in ndgrad equals torch's (w: fixed random weights)."""
    w = RNG.normal(size=tuple(t_out.shape))
    names = [k for k in t_leaves if t_leaves[k].requires_grad]
    tg = torch.autograd.grad((t_out * torch.tensor(w)).sum(), [t_leaves[k] for k in names],
                             allow_unused=True, retain_graph=True)
    ng = ndgrad.autograd.grad((n_out * ndgrad.tensor(w)).sum(), [n_leaves[k] for k in names],
                              allow_unused=True, retain_graph=True)
    for k, a, b in zip(names, ng, tg):
        if b is None:
            assert a is None or not np.any(a.numpy()), f"{what}: d/d{k}"
        else:
            _cmp(a, b, f"{what}: d/d{k}", rtol=1e-8, atol=1e-10)


def _t(x):
    return ndgrad.tensor(x.detach().numpy())


# -- LKJCholesky ------------------------------------------------------------------------------
LKJ = {
    "dim2": ("LKJCholesky", dict(dim=2, concentration=np.array([0.5, 1.0, 4.0]))),
    "dim3-batch": ("LKJCholesky", dict(dim=3, concentration=_pos((3, 2), 0.3, 5.0))),
    "dim5": ("LKJCholesky", dict(dim=5, concentration=np.array(2.5))),
    "dim4-number": ("LKJCholesky", dict(dim=4, concentration=1.0)),
}


@pytest.mark.parametrize("case", sorted(LKJ))
def test_lkj_against_torch(case):
    t_dist, t_leaves = _make(torch, LKJ[case])
    n_dist, n_leaves = _make(ndgrad, LKJ[case])
    assert tuple(n_dist.batch_shape) == tuple(t_dist.batch_shape)
    assert tuple(n_dist.event_shape) == tuple(t_dist.event_shape)
    assert n_dist.has_rsample == t_dist.has_rsample is False
    assert set(n_dist.arg_constraints) == set(t_dist.arg_constraints)
    assert repr(n_dist.support) == repr(t_dist.support).replace("torch", "ndgrad")
    assert repr(n_dist) == repr(t_dist).replace("torch", "ndgrad")
    x = _values(t_dist)
    t_lp = t_dist.log_prob(x)
    n_lp = n_dist.log_prob(_t(x))
    _cmp(n_lp, t_lp, f"{case}.log_prob")
    if t_leaves:
        _grads(n_lp, t_lp, n_leaves, t_leaves, f"{case}.log_prob")
    ndgrad.manual_seed(0)
    s = n_dist.sample((50,))
    assert tuple(s.shape) == (50, *t_dist.batch_shape, *t_dist.event_shape)
    assert bool(nd.constraints.corr_cholesky.check(s).all())
    assert bool(t_dist.support.check(torch.tensor(s.numpy())).all())
    tol = 1e-12 if s.dtype == ndgrad.float64 else 1e-6  # (a number makes it float32)
    np.testing.assert_allclose((s @ s.mT).diagonal(0, -2, -1).numpy(), 1.0, rtol=tol)
    assert bool(n_dist.log_prob(s).isfinite().all())
    with pytest.raises(NotImplementedError):
        n_dist.rsample()


def test_lkj_expand_and_moments():
    t_dist, _ = _make(torch, LKJ["dim3-batch"], requires_grad=False)
    n_dist, _ = _make(ndgrad, LKJ["dim3-batch"], requires_grad=False)
    te, ne = t_dist.expand((4, 3, 2)), n_dist.expand((4, 3, 2))
    assert tuple(ne.batch_shape) == tuple(te.batch_shape) == (4, 3, 2)
    assert tuple(ne.sample((2,)).shape) == (2, 4, 3, 2, 3, 3)
    x = _values(te)
    _cmp(ne.log_prob(_t(x)), te.log_prob(x), "expanded log_prob")
    # E[L L^T] = I, and for eta = 1, dim = 2, the correlation is uniform on (-1, 1): var 1/3
    ndgrad.manual_seed(1)
    r = nd.LKJCholesky(2, ndgrad.tensor(1.0, dtype=ndgrad.float64)).sample((20000,))[..., 1, 0]
    assert abs(r.mean().item()) < 0.02 and abs(r.pow(2).mean().item() - 1 / 3) < 0.02


def test_lkj_errors():
    for lib in (torch, ndgrad):
        mod = td if lib is torch else nd
        assert _error(lambda m=mod: m.LKJCholesky(1, 1.0))[0] == "ValueError"
    assert _error(lambda: nd.LKJCholesky(1)) == _error(lambda: td.LKJCholesky(1))
    bad_n = _error(lambda: nd.LKJCholesky(3, ndgrad.tensor([-1.0]), validate_args=True))
    bad_t = _error(lambda: td.LKJCholesky(3, torch.tensor([-1.0]), validate_args=True))
    assert bad_n is not None and bad_t is not None and bad_n[0] == bad_t[0] == "ValueError"
    assert "concentration" in bad_n[1] and "GreaterThan(lower_bound=0.0)" in bad_n[1]
    value = np.eye(3) * 2.0
    got = _error(lambda: nd.LKJCholesky(3, 1.0, validate_args=True).log_prob(
        ndgrad.tensor(value)))
    want = _error(lambda: td.LKJCholesky(3, 1.0, validate_args=True).log_prob(
        torch.tensor(value)))
    assert got is not None and want is not None and got[0] == want[0] == "ValueError"
    assert "CorrCholesky()" in got[1]


# -- Wishart ----------------------------------------------------------------------------------
WISHART = {
    "covariance": ("Wishart", dict(df=np.array([3.5, 6.0]), covariance_matrix=_spd((2, 3, 3)))),
    "precision": ("Wishart", dict(df=np.array([[4.0], [7.5]]),
                                  precision_matrix=_spd((3, 3)))),
    "scale_tril": ("Wishart", dict(df=_pos((3,), 4.0, 9.0), scale_tril=_tril((3, 4, 4)))),
    "df-number": ("Wishart", dict(df=5.0, covariance_matrix=_spd((2, 2)))),
    "df-low": ("Wishart", dict(df=np.array([2.5, 3.5]), scale_tril=_tril((3, 3)))),
}


def _wishart(lib, case, requires_grad=True):
    with warnings.catch_warnings():  # (the low-df warning; torch also warns on every draw)
        warnings.simplefilter("ignore", UserWarning)
        return _make(lib, WISHART[case], requires_grad)


@pytest.mark.parametrize("case", sorted(WISHART))
def test_wishart_against_torch(case):
    t_dist, t_leaves = _wishart(torch, case)
    n_dist, n_leaves = _wishart(ndgrad, case)
    assert tuple(n_dist.batch_shape) == tuple(t_dist.batch_shape)
    assert tuple(n_dist.event_shape) == tuple(t_dist.event_shape)
    assert n_dist.has_rsample == t_dist.has_rsample is True
    assert set(n_dist.arg_constraints) == set(t_dist.arg_constraints)
    assert repr(n_dist.arg_constraints["df"]) == repr(t_dist.arg_constraints["df"]).replace(
        "torch", "ndgrad")
    assert repr(n_dist.support) == repr(t_dist.support).replace("torch", "ndgrad")
    assert repr(n_dist) == repr(t_dist).replace("torch", "ndgrad")
    for prop in ("mean", "mode", "variance", "covariance_matrix", "precision_matrix",
                 "scale_tril"):
        got, want = getattr(n_dist, prop), getattr(t_dist, prop)
        _cmp(got, want, f"{case}.{prop}")
        if want.requires_grad and bool(torch.isfinite(want).all()):
            _grads(got, want, n_leaves, t_leaves, f"{case}.{prop}")
    _cmp(n_dist.entropy(), t_dist.entropy(), f"{case}.entropy")
    _grads(n_dist.entropy(), t_dist.entropy(), n_leaves, t_leaves, f"{case}.entropy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        x = _values(t_dist)
    t_lp = t_dist.log_prob(x)
    n_lp = n_dist.log_prob(_t(x))
    _cmp(n_lp, t_lp, f"{case}.log_prob")
    _grads(n_lp, t_lp, n_leaves, t_leaves, f"{case}.log_prob")


@pytest.mark.parametrize("case", ["covariance", "precision", "scale_tril", "df-number"])
def test_wishart_rsample(case):
    n_dist, n_leaves = _wishart(ndgrad, case)
    ndgrad.manual_seed(0)
    s = n_dist.rsample((5,))
    shape = (5, *n_dist.batch_shape, *n_dist.event_shape)
    assert tuple(s.shape) == shape and tuple(n_dist.sample((5,)).shape) == shape
    assert not n_dist.sample().requires_grad
    assert bool(nd.constraints.positive_definite.check(s).all())
    assert bool(td.constraints.positive_definite.check(torch.tensor(s.detach().numpy())).all())
    grads = ndgrad.autograd.grad(s.sum(), list(n_leaves.values()))
    for k, g in zip(n_leaves, grads):
        assert g is not None and bool(g.isfinite().all()) and bool((g != 0).any()), k


def test_wishart_sampling_moments():
    """The Bartlett draws have the Wishart's mean and variance (at a fixed seed)."""
    cov = _spd((3, 3))
    n_dist = nd.Wishart(ndgrad.tensor(7.0, dtype=ndgrad.float64),
                        covariance_matrix=ndgrad.tensor(cov))
    ndgrad.manual_seed(3)
    s = n_dist.sample((40000,)).numpy()
    np.testing.assert_allclose(s.mean(0), n_dist.mean.numpy(), rtol=0.03, atol=0.1)
    np.testing.assert_allclose(s.var(0), n_dist.variance.numpy(), rtol=0.08)


def test_wishart_expand():
    t_dist, _ = _wishart(torch, "covariance", requires_grad=False)
    n_dist, _ = _wishart(ndgrad, "covariance", requires_grad=False)
    te, ne = t_dist.expand((4, 2)), n_dist.expand((4, 2))
    assert tuple(ne.batch_shape) == tuple(te.batch_shape) == (4, 2)
    for prop in ("mean", "variance", "covariance_matrix", "precision_matrix"):
        _cmp(getattr(ne, prop), getattr(te, prop), f"expanded {prop}")
    _cmp(ne.entropy(), te.entropy(), "expanded entropy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        x = _values(te)
    _cmp(ne.log_prob(_t(x)), te.log_prob(x), "expanded log_prob")
    assert tuple(ne.rsample((3,)).shape) == (3, 4, 2, 3, 3)


def test_wishart_errors():
    cov = _spd((3, 3))

    def both(fn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return (_error(lambda: fn(nd, ndgrad.tensor)),
                    _error(lambda: fn(td, torch.tensor)))

    cases = [
        lambda m, t: m.Wishart(5.0, covariance_matrix=t(cov), scale_tril=t(cov)),
        lambda m, t: m.Wishart(5.0),
        lambda m, t: m.Wishart(5.0, covariance_matrix=t(cov[0])),
        lambda m, t: m.Wishart(2.0, covariance_matrix=t(cov)),
        lambda m, t: m.Wishart(t([5.0, 1.5]), covariance_matrix=t(cov)),
    ]
    for i, fn in enumerate(cases):
        got, want = both(fn)
        assert want is not None and got == want, (i, got, want)
    got, want = both(lambda m, t: m.Wishart(5.0, covariance_matrix=t(-cov),
                                            validate_args=True))
    assert got is not None and want is not None and got[0] == want[0] == "ValueError"
    assert "covariance_matrix" in got[1] and "PositiveDefinite()" in got[1]
    got, want = both(lambda m, t: m.Wishart(5.0, covariance_matrix=t(cov),
                                            validate_args=True).log_prob(t(-cov)))
    assert got is not None and want is not None and got[0] == want[0] == "ValueError"
    with pytest.warns(UserWarning, match="Low df values detected"):
        nd.Wishart(2.5, covariance_matrix=ndgrad.tensor(cov))


def test_wishart_kl_bregman():
    """KL(Wishart || Wishart): torch's Bregman divergence of the exponential family (which
    ndgrad registers for Wishart only)."""
    p_spec = ("Wishart", dict(df=np.array([4.0, 6.5]), covariance_matrix=_spd((2, 3, 3))))
    q_spec = ("Wishart", dict(df=np.array([5.0, 3.5]), scale_tril=_tril((3, 3))))
    tp, tpl = _make(torch, p_spec)
    tq, tql = _make(torch, q_spec)
    npd, npl = _make(ndgrad, p_spec)
    nq, nql = _make(ndgrad, q_spec)
    tk, nk = td.kl_divergence(tp, tq), nd.kl_divergence(npd, nq)
    _cmp(nk, tk, "KL(Wishart || Wishart)", rtol=1e-9)
    _grads(nk, tk, {**{"p" + k: v for k, v in npl.items()}, **{"q" + k: v for k, v in
                                                               nql.items()}},
           {**{"p" + k: v for k, v in tpl.items()}, **{"q" + k: v for k, v in tql.items()}},
           "KL(Wishart || Wishart)")


# -- kl_divergence pairs ----------------------------------------------------------------------
KB = (3, 2)
KL_DISTS = {
    "LowRank": ("LowRankMultivariateNormal", dict(
        loc=_real((*KB, 4)), cov_factor=_real((*KB, 4, 2)), cov_diag=_pos((*KB, 4)))),
    "LowRank2": ("LowRankMultivariateNormal", dict(
        loc=_real((2, 4)), cov_factor=_real((2, 4, 3)), cov_diag=_pos((1, 4)))),
    "MVN": ("MultivariateNormal", dict(loc=_real((*KB, 4)), covariance_matrix=_spd((2, 4, 4)))),
    "MVN-tril": ("MultivariateNormal", dict(loc=_real((4,)), scale_tril=_tril((4, 4)))),
    "Pareto": ("Pareto", dict(scale=_pos(KB), alpha=np.array([[0.7, 1.5], [2.5, 4.0],
                                                              [1.9, 6.0]]))),
    "Pareto-small": ("Pareto", dict(scale=_pos(KB, 0.05, 0.3), alpha=_pos(KB, 1.5, 5.0))),
    "Exponential": ("Exponential", dict(rate=_pos(KB))),
    "Gamma": ("Gamma", dict(concentration=_pos(KB), rate=_pos(KB))),
    "Normal": ("Normal", dict(loc=_real(KB), scale=_pos(KB))),
    "Uniform": ("Uniform", dict(low=_pos(KB, 0.1, 0.4), high=_pos(KB, 1.0, 2.0))),
    "Uniform-in01": ("Uniform", dict(low=_pos(KB, 0.1, 0.4), high=_pos(KB, 0.5, 0.9))),
    "Uniform-wide": ("Uniform", dict(low=np.array([[-0.5, 0.2], [-1.0, -0.1], [0.0, -2.0]]),
                                     high=np.array([[1.5, 2.0], [0.9, 1.1], [1.2, 3.0]]))),
    "Beta": ("Beta", dict(concentration1=_pos(KB), concentration0=_pos(KB))),
    "Gumbel": ("Gumbel", dict(loc=_real(KB), scale=_pos(KB))),
    "Laplace": ("Laplace", dict(loc=_real(KB), scale=_pos(KB))),
    "CB": ("ContinuousBernoulli", dict(probs=np.array([[0.1, 0.4], [0.6, 0.5005],
                                                       [0.7, 0.97]]))),
    "CB-logits": ("ContinuousBernoulli", dict(logits=_real(KB))),
}
KL_PAIRS = [
    ("LowRank", "LowRank2"), ("LowRank2", "LowRank"), ("LowRank", "MVN"),
    ("LowRank2", "MVN-tril"), ("MVN", "LowRank"), ("MVN-tril", "LowRank2"),
    ("Pareto", "Exponential"), ("Pareto", "Gamma"), ("Pareto", "Normal"),
    ("Pareto-small", "Exponential"), ("Pareto-small", "Gamma"), ("Pareto-small", "Normal"),
    ("Pareto", "Beta"), ("Pareto", "Uniform"), ("Pareto", "CB"),
    ("Uniform", "Pareto-small"), ("Uniform", "Pareto"), ("Uniform-in01", "CB"),
    ("Uniform", "CB"), ("Gamma", "Gumbel"), ("Gumbel", "Normal"), ("Beta", "Exponential"),
    ("Beta", "Gamma"), ("Beta", "CB"), ("Beta", "Pareto"), ("CB", "CB-logits"),
    ("CB", "Exponential"), ("CB", "Normal"), ("CB", "Uniform-wide"), ("CB", "Pareto"),
    ("Exponential", "CB"), ("Exponential", "Pareto"), ("Gamma", "CB"), ("Gamma", "Pareto"),
    ("Gumbel", "CB"), ("Gumbel", "Pareto"), ("Laplace", "CB"), ("Laplace", "Pareto"),
    ("Normal", "CB"), ("Normal", "Pareto"),
]


@pytest.mark.parametrize("pc,qc", KL_PAIRS, ids=[f"{p}|{q}" for p, q in KL_PAIRS])
def test_kl_against_torch(pc, qc):
    tp, tpl = _make(torch, KL_DISTS[pc])
    tq, tql = _make(torch, KL_DISTS[qc])
    npd, npl = _make(ndgrad, KL_DISTS[pc])
    nq, nql = _make(ndgrad, KL_DISTS[qc])
    tk = td.kl_divergence(tp, tq)
    nk = nd.kl_divergence(npd, nq)
    _cmp(nk, tk, f"KL({pc} || {qc})", rtol=1e-9)
    n_leaves = {**{"p" + k: v for k, v in npl.items()}, **{"q" + k: v for k, v in nql.items()}}
    t_leaves = {**{"p" + k: v for k, v in tpl.items()}, **{"q" + k: v for k, v in tql.items()}}
    finite = torch.isfinite(tk)
    if tk.requires_grad and bool(finite.any()):
        w = torch.where(finite, torch.tensor(RNG.normal(size=tuple(tk.shape))), 0.0)
        tz = torch.where(finite, tk, 0.0)
        nz = ndgrad.where(ndgrad.tensor(finite.numpy()), nk, 0.0)
        names = [k for k in t_leaves if t_leaves[k].requires_grad]
        tg = torch.autograd.grad((tz * w).sum(), [t_leaves[k] for k in names],
                                 allow_unused=True)
        ng = ndgrad.autograd.grad((nz * ndgrad.tensor(w.numpy())).sum(),
                                  [n_leaves[k] for k in names], allow_unused=True)
        for k, a, b in zip(names, ng, tg):
            if b is None:
                assert a is None or not np.any(a.numpy()), k
            else:
                # (digamma's last digits differ from torch's)
                _cmp(a, b, f"KL({pc} || {qc}): d/d{k}", rtol=1e-7, atol=1e-10)


def test_kl_event_shape_errors():
    for p, q in [("LowRank", "LowRank"), ("LowRank", "MVN"), ("MVN", "LowRank")]:
        def build(lib, name, n):
            mod = td if lib is torch else nd
            if name == "MVN":
                return mod.MultivariateNormal(lib.zeros(n, dtype=lib.float64),
                                              lib.eye(n, dtype=lib.float64))
            return mod.LowRankMultivariateNormal(lib.zeros(n, dtype=lib.float64),
                                                 lib.ones(n, 1, dtype=lib.float64),
                                                 lib.ones(n, dtype=lib.float64))
        got = _error(lambda p=p, q=q: nd.kl_divergence(build(ndgrad, p, 2),
                                                       build(ndgrad, q, 3)))
        want = _error(lambda p=p, q=q: td.kl_divergence(build(torch, p, 2),
                                                        build(torch, q, 3)))
        assert got is not None and want is not None and got[0] == want[0] == "ValueError"
        assert " ".join(got[1].split()) == " ".join(want[1].split())
