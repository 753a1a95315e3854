"""LowRankMultivariateNormal, VonMises, ContinuousBernoulli, FisherSnedecor and
GeneralizedPareto, and CatTransform, StackTransform, CorrCholeskyTransform and
PositiveDefiniteTransform, against torch.distributions: shapes, log_prob, moments, entropy,
cdf/icdf and their gradients exactly (float64); sample and rsample shapes, gradients through
rsample, expand; validation errors by message; sampling by its moments at a fixed seed; the
transforms' values, inverses, log-determinants, constraints and shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.distributions as td
import torch.distributions.transforms as tt
from distribution_checks import Draws, cmp_grads, same_description
from distribution_checks import cmp as _cmp
from distribution_checks import error as _error
from distribution_checks import make as _make_spec
from distribution_checks import values as _values

import ndgrad
import ndgrad.distributions as nd
import ndgrad.distributions.transforms as nt

DRAW = Draws(7)
RNG = DRAW.rng
B = DRAW.batch  # batch shape of the parameter sets below
_pos, _real, _prob = DRAW.pos, DRAW.real, DRAW.prob

_torch_isclose = torch.isclose


@pytest.fixture(autouse=True)
def _torch_generalized_pareto_float64(monkeypatch):
    """torch's GeneralizedPareto.log_prob / cdf call ``torch.isclose(concentration,
    torch.tensor(0.0))``, which raises "Double did not match Float" for float64 parameters:
    for the comparisons, torch.isclose here casts such a 0-d ``other`` to input's dtype."""
    def isclose(input, other, *args, **kwargs):
        if (isinstance(other, torch.Tensor) and other.dim() == 0
                and other.dtype != input.dtype):
            other = other.to(input.dtype)
        return _torch_isclose(input, other, *args, **kwargs)

    monkeypatch.setattr(torch, "isclose", isclose)


def test_torch_generalized_pareto_float64_bug():
    """(The reason for the fixture above; ndgrad's works in float64.)"""
    torch.isclose = _torch_isclose  # (undone by the fixture's monkeypatch)
    d = td.GeneralizedPareto(torch.tensor([0.0], dtype=torch.float64), 1.0, 0.5)
    with pytest.raises(RuntimeError, match="Double did not match Float"):
        d.log_prob(torch.tensor([1.0], dtype=torch.float64))
    n = nd.GeneralizedPareto(ndgrad.tensor([0.0], dtype=ndgrad.float64), 1.0, 0.5)
    np.testing.assert_allclose(n.log_prob(ndgrad.tensor([1.0])).numpy(),
                               [-3 * math.log(1.5)], rtol=1e-12)


# name: (constructor name, keyword parameters as arrays or numbers)
CASES = {
    "LowRankMultivariateNormal": ("LowRankMultivariateNormal", dict(
        loc=_real((*B, 4)), cov_factor=_real((*B, 4, 2)), cov_diag=_pos((*B, 4)))),
    "LowRankMultivariateNormal-broadcast": ("LowRankMultivariateNormal", dict(
        loc=_real((4,)), cov_factor=_real((3, 4, 2)), cov_diag=_pos((2, 1, 4)))),
    "LowRankMultivariateNormal-rank1": ("LowRankMultivariateNormal", dict(
        loc=_real((2, 3)), cov_factor=_real((2, 3, 1)), cov_diag=_pos((2, 3)))),
    "VonMises": ("VonMises", dict(loc=_real(), concentration=np.array(
        [[0.3, 1.0], [3.0, 3.9], [6.0, 20.0]]))),
    "VonMises-scalar": ("VonMises", dict(loc=0.5, concentration=2.0)),
    "ContinuousBernoulli-probs": ("ContinuousBernoulli", dict(probs=np.array(
        [[0.1, 0.4], [0.4995, 0.5005], [0.7, 0.97]]))),
    "ContinuousBernoulli-logits": ("ContinuousBernoulli", dict(logits=np.array(
        [[-3.0, -0.5], [0.001, -0.003], [1.2, 4.0]]))),
    "ContinuousBernoulli-scalar": ("ContinuousBernoulli", dict(probs=0.3)),
    "FisherSnedecor": ("FisherSnedecor", dict(df1=_pos(lo=0.5, hi=8.0),
                                              df2=np.array([[1.5, 3.0], [5.0, 9.0],
                                                            [12.0, 4.5]]))),
    "FisherSnedecor-scalar": ("FisherSnedecor", dict(df1=3.0, df2=7.0)),
    "GeneralizedPareto": ("GeneralizedPareto", dict(
        loc=_real(), scale=_pos(), concentration=np.array([[0.3, -0.4], [0.0, 1e-9],
                                                           [0.7, 1.5]]))),
    "GeneralizedPareto-negative": ("GeneralizedPareto", dict(
        loc=_real(), scale=_pos(), concentration=_pos(lo=-1.5, hi=-0.1))),
}
# dependent supports (a tensor bound) print their tensor, so their reprs are not compared
DEPENDENT_SUPPORT = {"GeneralizedPareto", "GeneralizedPareto-negative"}


def _make(lib, case, requires_grad=True):
    """The same distribution in torch (lib = torch) or ndgrad, with parameter leaves."""
    return _make_spec(lib, CASES[case], requires_grad)


def _try(fn):
    try:
        return fn()
    except NotImplementedError:
        return NotImplemented


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_torch(case):
    t_dist, t_leaves = _make(torch, case)
    n_dist, n_leaves = _make(ndgrad, case)
    same_description(n_dist, t_dist, support_repr=case not in DEPENDENT_SUPPORT)
    outs = []
    props = ["mean", "mode", "variance", "stddev"]
    if case.startswith("LowRank"):
        props += ["covariance_matrix", "precision_matrix", "scale_tril"]
    if case.startswith("ContinuousBernoulli"):
        props += ["probs", "logits"]
    for prop in props:
        want = _try(lambda p=prop: getattr(t_dist, p))
        if want is NotImplemented:
            with pytest.raises(NotImplementedError):
                getattr(n_dist, prop)
            continue
        got = getattr(n_dist, prop)
        _cmp(got, want, f"{case}.{prop}")
        outs.append((got, want))
    x = _values(t_dist)
    nx = ndgrad.tensor(x.numpy())
    t_lp = t_dist.log_prob(x)
    n_lp = n_dist.log_prob(nx)
    _cmp(n_lp, t_lp, f"{case}.log_prob")
    outs.append((n_lp, t_lp))
    for method in ("entropy", "cdf", "log_cdf", "log_survival_function"):
        args_t, args_n = ((), ()) if method == "entropy" else ((x,), (nx,))
        if not hasattr(t_dist, method):
            assert not hasattr(n_dist, method), method
            continue
        want = _try(lambda m=method, a=args_t: getattr(t_dist, m)(*a))
        if want is NotImplemented:
            with pytest.raises(NotImplementedError):
                getattr(n_dist, method)(*args_n)
            continue
        got = getattr(n_dist, method)(*args_n)
        _cmp(got, want, f"{case}.{method}", rtol=1e-9)
        outs.append((got, want))
    q = RNG.uniform(0.05, 0.95, tuple(t_dist.batch_shape))
    tq, nq = torch.tensor(q), ndgrad.tensor(q)
    t_q = _try(lambda: t_dist.icdf(tq))
    if t_q is NotImplemented:
        with pytest.raises(NotImplementedError):
            n_dist.icdf(nq)
    else:
        n_q = n_dist.icdf(nq)
        _cmp(n_q, t_q, f"{case}.icdf")
        outs.append((n_q, t_q))
        _cmp(n_dist.cdf(n_q), t_dist.cdf(t_q), f"{case}.cdf(icdf)", rtol=1e-9)
    # gradients of everything above with respect to the parameters
    if t_leaves:
        _cmp_grads(case, outs, t_leaves, n_leaves)


def _cmp_grads(case, outs, t_leaves, n_leaves):
    cmp_grads(case, outs, t_leaves, n_leaves, RNG)


@pytest.mark.parametrize("case", sorted(CASES))
def test_sample_shapes_and_expand(case):
    n_dist, _ = _make(ndgrad, case, requires_grad=False)
    ndgrad.manual_seed(0)
    s = n_dist.sample((3,))
    assert tuple(s.shape) == (3, *n_dist.batch_shape, *n_dist.event_shape)
    assert not s.requires_grad
    assert s.dtype == n_dist.mean.dtype
    assert bool(n_dist.support.check(s).all()), case
    s2 = n_dist.sample((2, 1))
    assert tuple(s2.shape) == (2, 1, *n_dist.batch_shape, *n_dist.event_shape)
    assert tuple(n_dist.sample().shape) == (*n_dist.batch_shape, *n_dist.event_shape)
    big = n_dist.expand((4, *n_dist.batch_shape))
    assert type(big) is type(n_dist)
    assert tuple(big.batch_shape) == (4, *n_dist.batch_shape)
    assert tuple(big.event_shape) == tuple(n_dist.event_shape)
    assert big._validate_args == n_dist._validate_args
    assert tuple(big.sample().shape) == (4, *n_dist.batch_shape, *n_dist.event_shape)
    lp = big.log_prob(s[0])
    assert tuple(lp.shape) == (4, *n_dist.batch_shape)
    np.testing.assert_allclose(lp.numpy(), np.broadcast_to(n_dist.log_prob(s[0]).numpy(),
                                                           lp.shape))
    # expand agrees with torch's expand
    t_dist, _ = _make(torch, case, requires_grad=False)
    t_big = t_dist.expand((4, *t_dist.batch_shape))
    _cmp(lp, t_big.log_prob(torch.tensor(s[0].numpy())), f"{case}: expanded log_prob")
    _cmp(big.variance, t_big.variance, f"{case}: expanded variance")
    if _try(t_big.entropy) is not NotImplemented:
        _cmp(big.entropy(), t_big.entropy(), f"{case}: expanded entropy")


@pytest.mark.parametrize("case", [c for c in sorted(CASES) if not c.startswith("VonMises")])
def test_rsample_shapes_and_gradients(case):
    """rsample keeps the graph: every parameter gets a finite, non-zero gradient."""
    n_dist, n_leaves = _make(ndgrad, case)
    assert n_dist.has_rsample
    ndgrad.manual_seed(0)
    x = n_dist.rsample((3,))
    assert tuple(x.shape) == (3, *n_dist.batch_shape, *n_dist.event_shape)
    assert x.requires_grad == bool(n_leaves)
    if not n_leaves:
        return
    grads = ndgrad.autograd.grad(x.sum(), list(n_leaves.values()))
    for k, g in zip(n_leaves, grads):
        assert g is not None and np.all(np.isfinite(g.numpy())), (case, k)
        assert np.any(g.numpy() != 0), (case, k)


def test_rsample_gradients_per_draw():
    """The derivative of each draw with respect to the parameters, in closed form."""
    # LowRankMultivariateNormal: x = loc + W eps_W + sqrt(D) eps_D, linear in loc and W
    loc = ndgrad.tensor(_real((3,)), requires_grad=True)
    W = ndgrad.tensor(_real((3, 2)), requires_grad=True)
    D = ndgrad.tensor(_pos((3,)), requires_grad=True)
    ndgrad.manual_seed(0)
    x = nd.LowRankMultivariateNormal(loc, W, D).rsample((5,))
    gl, gw, gd = ndgrad.autograd.grad(x.sum(), [loc, W, D])
    np.testing.assert_allclose(gl.numpy(), np.full(3, 5.0))
    eps = x.detach().numpy() - loc.detach().numpy()  # = W eps_W + sqrt(D) eps_D
    # d/dD_i sum(x) = sum over draws of eps_D_i / (2 sqrt(D_i)): recover eps_D from ndgrad's
    # stream (eps_W first, then eps_D) and check it reproduces the draws
    ndgrad.manual_seed(0)
    rng = ndgrad.random.default_generator()
    eps_w = rng.standard_normal((5, 2))
    eps_d = rng.standard_normal((5, 3))
    np.testing.assert_allclose(eps, eps_w @ W.detach().numpy().T
                               + np.sqrt(D.detach().numpy()) * eps_d, rtol=1e-10)
    np.testing.assert_allclose(gw.numpy(), np.outer(np.ones(3), eps_w.sum(0)), rtol=1e-10)
    np.testing.assert_allclose(gd.numpy(), eps_d.sum(0) / (2 * np.sqrt(D.detach().numpy())),
                               rtol=1e-10)
    # GeneralizedPareto: x = loc + scale ((1 - u)^(-xi) - 1) / xi
    f64 = ndgrad.float64
    loc = ndgrad.tensor([0.5, -1.0], dtype=f64, requires_grad=True)
    scale = ndgrad.tensor([2.0, 0.5], dtype=f64, requires_grad=True)
    xi = ndgrad.tensor([0.3, -0.2], dtype=f64, requires_grad=True)
    ndgrad.manual_seed(1)
    x = nd.GeneralizedPareto(loc, scale, xi).rsample((4,))
    ndgrad.manual_seed(1)
    u = ndgrad.random.default_generator().uniform(0.0, 1.0, (4, 2))
    k = xi.detach().numpy()
    z = ((1 - u) ** (-k) - 1) / k
    np.testing.assert_allclose(x.detach().numpy(), loc.detach().numpy() + scale.detach()
                               .numpy() * z, rtol=1e-10)
    gl, gs, gk = ndgrad.autograd.grad(x.sum(), [loc, scale, xi])
    np.testing.assert_allclose(gl.numpy(), [4.0, 4.0])
    np.testing.assert_allclose(gs.numpy(), z.sum(0), rtol=1e-10)
    dz = (-np.log(1 - u) * (1 - u) ** (-k) * k - ((1 - u) ** (-k) - 1)) / k**2
    np.testing.assert_allclose(gk.numpy(), (scale.detach().numpy() * dz).sum(0), rtol=1e-8)


def test_fisher_snedecor_rsample_gradient_is_unbiased():
    """d/d df2 E[x] from the average gradient of the draws: E[x] = df2 / (df2 - 2)."""
    df1 = ndgrad.tensor([3.0, 6.0], dtype=ndgrad.float64, requires_grad=True)
    df2 = ndgrad.tensor([8.0, 12.0], dtype=ndgrad.float64, requires_grad=True)
    ndgrad.manual_seed(2)
    x = nd.FisherSnedecor(df1, df2).rsample((40000,))
    g1, g2 = ndgrad.autograd.grad(x.mean(0).sum(), [df1, df2])
    d2 = np.array([8.0, 12.0])
    np.testing.assert_allclose(g2.numpy(), -2 / (d2 - 2) ** 2, rtol=0.1)
    assert np.all(np.abs(g1.numpy()) < 0.02)  # the mean does not depend on df1


# -- sampling: moments at a fixed seed -----------------------------------------------------------
MOMENT_CASES = {
    "ContinuousBernoulli": ("ContinuousBernoulli", dict(probs=np.array([0.1, 0.4995, 0.9]))),
    "ContinuousBernoulli-logits": ("ContinuousBernoulli", dict(logits=np.array([-2.0, 3.0]))),
    "FisherSnedecor": ("FisherSnedecor", dict(df1=np.array([2.0, 7.0]),
                                              df2=np.array([30.0, 40.0]))),
    "GeneralizedPareto": ("GeneralizedPareto", dict(loc=np.array([0.0, 1.0, -1.0]),
                                                    scale=np.array([1.0, 2.0, 0.5]),
                                                    concentration=np.array([0.1, 0.0, -0.5]))),
    "LowRankMultivariateNormal": ("LowRankMultivariateNormal", dict(
        loc=_real((2, 3)), cov_factor=_real((2, 3, 2)), cov_diag=_pos((2, 3)))),
}


@pytest.mark.parametrize("case", sorted(MOMENT_CASES))
def test_sample_moments(case, monkeypatch):
    """The mean and variance of 20,000 draws agree with the distribution's within 5 standard
    errors (the variance's from the fourth moment of the draws)."""
    for k, v in MOMENT_CASES.items():
        monkeypatch.setitem(CASES, k, v)
    n_dist, _ = _make(ndgrad, case, requires_grad=False)
    t_dist, _ = _make(torch, case, requires_grad=False)
    ndgrad.manual_seed(1)
    n = 20000
    for x in (n_dist.sample((n,)).numpy(), n_dist.rsample((n,)).detach().numpy()):
        mean, var = t_dist.mean.numpy(), t_dist.variance.numpy()
        m = x.mean(0)
        assert np.all(np.abs(m - mean) < 5 * np.sqrt(var / n)), (case, m, mean)
        v = x.var(0)
        m4 = ((x - m) ** 4).mean(0)
        assert np.all(np.abs(v - var) < 5 * np.sqrt(np.maximum(m4 - v**2, 1e-12) / n)), case
    if case.startswith("LowRank"):  # the whole covariance, not just its diagonal
        cov = np.einsum("sbi,sbj->bij", x - m, x - m) / n
        np.testing.assert_allclose(cov, t_dist.covariance_matrix.numpy(), atol=0.15)


def test_von_mises_samples():
    """Draws lie in [-pi, pi); their circular mean is loc and their mean resultant length
    E[cos(x - loc)] = I1(k) / I0(k) = 1 - variance, within 5 standard errors."""
    loc = np.array([0.0, 3.0, -2.5, 1.0, 0.5])
    kappa = np.array([0.5, 2.0, 10.0, 1e-6, 500.0])
    d = nd.VonMises(ndgrad.tensor(loc), ndgrad.tensor(kappa))
    t = td.VonMises(torch.tensor(loc), torch.tensor(kappa))
    ndgrad.manual_seed(4)
    n = 20000
    x = d.sample((n,)).numpy()
    assert x.dtype == np.float64 and x.shape == (n, 5)
    assert np.all(x >= -math.pi) and np.all(x < math.pi)
    c, s = np.cos(x - loc), np.sin(x - loc)
    r = 1 - t.variance.numpy()
    np.testing.assert_allclose(r, 1 - d.variance.numpy(), rtol=1e-10)
    assert np.all(np.abs(c.mean(0) - r) < 5 * c.std(0) / math.sqrt(n) + 1e-6), c.mean(0)
    assert np.all(np.abs(s.mean(0)) < 5 * s.std(0) / math.sqrt(n) + 1e-6), s.mean(0)
    # nearly uniform for a tiny concentration: the draws' quartiles are near -pi/2, 0, pi/2
    np.testing.assert_allclose(np.quantile(x[:, 3], [0.25, 0.5, 0.75]),
                               [-math.pi / 2, 0, math.pi / 2], atol=0.08)
    # float32 parameters give float32 draws (sampled in float64, as torch)
    f = nd.VonMises(ndgrad.tensor([0.0, 1.0], dtype=ndgrad.float32), 2.0).sample((3,))
    assert f.dtype == ndgrad.float32 and tuple(f.shape) == (3, 2)
    # log_prob integrates to one over the circle
    grid = np.linspace(-math.pi, math.pi, 4001)
    dens = np.exp(d.log_prob(ndgrad.tensor(grid[:, None])).numpy())
    np.testing.assert_allclose(np.trapezoid(dens, grid, axis=0), 1.0, rtol=1e-6)


def test_continuous_bernoulli_details():
    # the density integrates to one, and the cdf is its integral, in and out of the
    # Taylor region around 1/2
    probs = np.array([0.02, 0.3, 0.4999, 0.5, 0.5008, 0.99])
    d = nd.ContinuousBernoulli(ndgrad.tensor(probs))
    grid = np.linspace(0.0, 1.0, 20001)
    dens = np.exp(d.log_prob(ndgrad.tensor(grid[:, None])).numpy())
    np.testing.assert_allclose(np.trapezoid(dens, grid, axis=0), 1.0, rtol=1e-6)
    t = td.ContinuousBernoulli(torch.tensor(probs))
    g = torch.tensor(grid[::1000, None])
    _cmp(d.cdf(ndgrad.tensor(g.numpy())), t.cdf(g), "ContinuousBernoulli.cdf on a grid")
    assert tuple(d.param_shape) == tuple(t.param_shape)
    # the natural-parameter log normalizer, in and out of its Taylor region
    xs = np.array([-3.0, -0.0005, 0.0, 0.0009, 2.0])
    _cmp(d._log_normalizer(ndgrad.tensor(xs)), t._log_normalizer(torch.tensor(xs)),
         "ContinuousBernoulli._log_normalizer")
    # lims moves the Taylor region, and expand keeps it
    w = nd.ContinuousBernoulli(ndgrad.tensor([0.45, 0.7]), lims=(0.4, 0.6))
    tw = td.ContinuousBernoulli(torch.tensor([0.45, 0.7]), lims=(0.4, 0.6))
    _cmp(w.mean, tw.mean, "ContinuousBernoulli lims")
    _cmp(w.expand((2, 2)).entropy(), tw.expand((2, 2)).entropy(), "expanded lims")
    # probs outside [0, 1] are clamped (validated only with an explicit validate_args)
    c = nd.ContinuousBernoulli(ndgrad.tensor([1.5]))
    assert 0 < c.probs.item() < 1


def test_generalized_pareto_support_and_edges():
    loc = np.array([0.0, 1.0, 1.0])
    scale = np.array([1.0, 2.0, 2.0])
    conc = np.array([0.5, -0.5, 0.0])
    n = nd.GeneralizedPareto(ndgrad.tensor(loc), ndgrad.tensor(scale), ndgrad.tensor(conc))
    t = td.GeneralizedPareto(torch.tensor(loc), torch.tensor(scale), torch.tensor(conc))
    _cmp(n.support.lower_bound, t.support.lower_bound, "lower bound")
    _cmp(n.support.upper_bound, t.support.upper_bound, "upper bound")
    x = np.array([[0.2, 4.9, 7.0], [-0.1, 5.5, 0.5]])
    np.testing.assert_array_equal(n.support.check(ndgrad.tensor(x)).numpy(),
                                  t.support.check(torch.tensor(x)).numpy())
    # at the upper end of a negative concentration (log_prob finite or not, as torch)
    nv = nd.GeneralizedPareto(ndgrad.tensor(loc), ndgrad.tensor(scale), ndgrad.tensor(conc),
                              validate_args=False)
    tv = td.GeneralizedPareto(torch.tensor(loc), torch.tensor(scale), torch.tensor(conc),
                              validate_args=False)
    edge = np.array([0.0, 5.0, 1.0])
    _cmp(nv.log_prob(ndgrad.tensor(edge)), tv.log_prob(torch.tensor(edge)), "edge log_prob")
    _cmp(nv.cdf(ndgrad.tensor(edge)), tv.cdf(torch.tensor(edge)), "edge cdf")
    # concentration -1: uniform on [loc, loc + scale] (1/xi + 1 == 0 branch)
    u = nd.GeneralizedPareto(0.0, 2.0, -1.0)
    tu = td.GeneralizedPareto(0.0, 2.0, -1.0)
    _cmp(u.log_prob(ndgrad.tensor([0.5, 1.9])), tu.log_prob(torch.tensor([0.5, 1.9])),
         "uniform GeneralizedPareto")
    assert tuple(u.batch_shape) == () and tuple(u.entropy().shape) == ()


# -- KL-free extras: LowRankMultivariateNormal against MultivariateNormal ------------------------
def test_lowrank_matches_full_multivariate_normal():
    loc, W, D = _real((2, 4)), _real((2, 4, 3)), _pos((2, 4))
    lr = nd.LowRankMultivariateNormal(ndgrad.tensor(loc), ndgrad.tensor(W), ndgrad.tensor(D))
    full = nd.MultivariateNormal(ndgrad.tensor(loc), covariance_matrix=lr.covariance_matrix)
    x = ndgrad.tensor(_real((5, 2, 4)))
    np.testing.assert_allclose(lr.log_prob(x).numpy(), full.log_prob(x).numpy(), rtol=1e-10)
    np.testing.assert_allclose(lr.entropy().numpy(), full.entropy().numpy(), rtol=1e-10)
    np.testing.assert_allclose(lr.precision_matrix.numpy(), full.precision_matrix.numpy(),
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(lr.scale_tril.numpy(), full.scale_tril.numpy(), rtol=1e-8,
                               atol=1e-12)


@pytest.mark.parametrize("make", [
    lambda lib, m: m.LowRankMultivariateNormal(lib.tensor(0.0), lib.ones(1, 1), lib.ones(1)),
    lambda lib, m: m.LowRankMultivariateNormal(lib.zeros(2), lib.ones(2), lib.ones(2)),
    lambda lib, m: m.LowRankMultivariateNormal(lib.zeros(2), lib.ones(3, 1), lib.ones(2)),
    lambda lib, m: m.LowRankMultivariateNormal(lib.zeros(2), lib.ones(2, 1), lib.ones(3)),
    lambda lib, m: m.LowRankMultivariateNormal(lib.zeros(2, 2), lib.ones(3, 2, 1),
                                               lib.ones(2)),
    lambda lib, m: m.LowRankMultivariateNormal(lib.zeros(2), lib.ones(2, 1),
                                               lib.tensor([1.0, -1.0])),
    lambda lib, m: m.LowRankMultivariateNormal(lib.zeros(2), lib.ones(2, 1),
                                               lib.ones(2)).log_prob(lib.zeros(3)),
    lambda lib, m: m.VonMises(lib.tensor([0.0]), lib.tensor([0.0])),
    lambda lib, m: m.VonMises(lib.tensor([0.0]), lib.tensor([1.0])).log_prob(
        lib.tensor([math.nan])),
    lambda lib, m: m.ContinuousBernoulli(),
    lambda lib, m: m.ContinuousBernoulli(lib.tensor([0.5]), lib.tensor([0.0])),
    lambda lib, m: m.ContinuousBernoulli(lib.tensor([1.5]), validate_args=True),
    lambda lib, m: m.ContinuousBernoulli(lib.tensor([0.5])).log_prob(lib.tensor([1.5])),
    lambda lib, m: m.ContinuousBernoulli(logits=lib.tensor([math.nan])),
    lambda lib, m: m.FisherSnedecor(lib.tensor([-1.0]), lib.tensor([1.0])),
    lambda lib, m: m.FisherSnedecor(lib.tensor([1.0]), lib.tensor([0.0])),
    lambda lib, m: m.FisherSnedecor(lib.tensor([1.0]), lib.tensor([2.0])).log_prob(
        lib.tensor([-1.0])),
    lambda lib, m: m.GeneralizedPareto(lib.tensor([0.0]), lib.tensor([-1.0]),
                                       lib.tensor([0.5])),
    lambda lib, m: m.GeneralizedPareto(lib.tensor([0.0]), lib.tensor([1.0]),
                                       lib.tensor([math.nan])),
])
def test_validation_errors_match_torch(make):
    t = _error(lambda: make(torch, td))
    n = _error(lambda: make(ndgrad, nd))
    assert t is not None
    assert n == t


def test_validation_against_the_dependent_support():
    """GeneralizedPareto's support depends on its parameters: values below loc, or above
    loc - scale / concentration, are rejected (the messages print tensors differently)."""
    d = nd.GeneralizedPareto(ndgrad.tensor([0.0]), ndgrad.tensor([1.0]), ndgrad.tensor([-0.5]))
    for v in (-0.1, 2.5):
        with pytest.raises(ValueError, match="to be within the support"):
            d.log_prob(ndgrad.tensor([v]))
        with pytest.raises(ValueError, match="to be within the support"):
            td.GeneralizedPareto(torch.tensor([0.0]), torch.tensor([1.0]),
                                 torch.tensor([-0.5])).log_prob(torch.tensor([v]))
    d.log_prob(ndgrad.tensor([1.5]))


def test_validate_args_off():
    nd.LowRankMultivariateNormal(ndgrad.zeros(2), ndgrad.ones(2, 1),
                                 ndgrad.tensor([1.0, 0.5]), validate_args=False)
    nd.VonMises(0.0, -1.0, validate_args=False)
    nd.ContinuousBernoulli(logits=math.inf, validate_args=False)
    # as torch, probs are checked whenever validate_args is given, even False
    for lib, m in ((torch, td), (ndgrad, nd)):
        with pytest.raises(ValueError, match="The parameter probs has invalid values"):
            m.ContinuousBernoulli(lib.tensor([1.5]), validate_args=False)
    nd.GeneralizedPareto(0.0, -1.0, 0.5, validate_args=False)
    # outside the support, log_prob without validation gives torch's value
    for make in (lambda lib, m: m.FisherSnedecor(lib.tensor([2.0]), lib.tensor([3.0]),
                                                 validate_args=False),
                 lambda lib, m: m.VonMises(lib.tensor([0.0]), lib.tensor([2.0]),
                                           validate_args=False)):
        v = np.array([-0.5])
        _cmp(make(ndgrad, nd).log_prob(ndgrad.tensor(v)), make(torch, td).log_prob(
            torch.tensor(v)), "log_prob outside the support")


def test_exports():
    for name in ("LowRankMultivariateNormal", "VonMises", "ContinuousBernoulli",
                 "FisherSnedecor", "GeneralizedPareto"):
        assert name in nd.__all__ and issubclass(getattr(nd, name), nd.Distribution)
    for name in ("CatTransform", "StackTransform", "CorrCholeskyTransform",
                 "PositiveDefiniteTransform"):
        assert name in nd.__all__ and name in nt.__all__
        assert issubclass(getattr(nd, name), nt.Transform)
    assert issubclass(nd.ContinuousBernoulli, nd.ExponentialFamily)


# -- transforms ------------------------------------------------------------------------------------
def _corr_input(shape):
    return _real(shape, s=1.0)


def _pd_input(shape):
    return _real(shape, s=0.7)


# name: (factory(transforms module), input array): the same transform from torch's or ndgrad's
TRANSFORMS = {
    "Cat-dim0": (lambda T: T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 3.0),
                                           T.SigmoidTransform()], dim=0, lengths=[2, 1, 3]),
                 _real((6, 2))),
    "Cat-dim-1-default-lengths": (lambda T: T.CatTransform(
        [T.ExpTransform(), T.TanhTransform(), T.identity_transform], dim=-1), _real((4, 3))),
    "Cat-event": (lambda T: T.CatTransform(
        [T.IndependentTransform(T.ExpTransform(), 1), T.AffineTransform(0.5, -2.0)],
        dim=0, lengths=[1, 2]), _real((3, 4))),
    "Cat-event-sum": (lambda T: T.CatTransform(
        [T.IndependentTransform(T.ExpTransform(), 1),
         T.IndependentTransform(T.SoftplusTransform(), 1)], dim=-1, lengths=[2, 3]),
        _real((2, 5))),
    "Cat-cached": (lambda T: T.CatTransform([T.ExpTransform(), T.SigmoidTransform()], dim=1,
                                            lengths=[1, 2], cache_size=1), _real((2, 3))),
    "Stack-dim0": (lambda T: T.StackTransform([T.ExpTransform(), T.SigmoidTransform(),
                                               T.AffineTransform(2.0, 0.5)], dim=0),
                   _real((3, 4))),
    "Stack-dim1": (lambda T: T.StackTransform([T.SoftplusTransform(), T.TanhTransform()],
                                              dim=1), _real((3, 2, 2))),
    "CorrCholesky-2": (lambda T: T.CorrCholeskyTransform(), _corr_input((3, 1))),
    "CorrCholesky-4": (lambda T: T.CorrCholeskyTransform(), _corr_input((2, 3, 6))),
    "CorrCholesky-unbatched": (lambda T: T.CorrCholeskyTransform(), _corr_input((10,))),
    "PositiveDefinite": (lambda T: T.PositiveDefiniteTransform(), _pd_input((2, 3, 3))),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transforms_against_torch(name):
    make, x0 = TRANSFORMS[name]
    t, n = make(tt), make(nt)
    assert type(n).__name__ == type(t).__name__
    assert n.bijective == t.bijective
    for which in ("domain", "codomain"):
        nc, tc = getattr(n, which), getattr(t, which)
        assert type(nc).__name__ == type(tc).__name__, which
        assert nc.event_dim == tc.event_dim, which
        assert nc.is_discrete == tc.is_discrete, which
    if not name.startswith("Cat") and not name.startswith("Stack"):
        assert n.event_dim == t.event_dim if n.domain.event_dim == n.codomain.event_dim else True
        assert repr(n.domain) == repr(t.domain).replace("torch", "ndgrad")
        assert repr(n.codomain) == repr(t.codomain).replace("torch", "ndgrad")
    else:
        assert n.event_dim == t.event_dim
    tx = torch.tensor(x0, requires_grad=True)
    nx = ndgrad.tensor(x0, requires_grad=True)
    ty, ny = t(tx), n(nx)
    _cmp(ny, ty, f"{name}: forward")
    if name == "Cat-event":  # (pieces of mixed event dims: both cat constraints fail)
        with pytest.raises(RuntimeError):
            t.codomain.check(ty)
        with pytest.raises(RuntimeError):
            n.codomain.check(ny)
    else:
        assert bool(n.codomain.check(ny).all()) and bool(t.codomain.check(ty).all())
        np.testing.assert_array_equal(n.domain.check(nx).numpy(), t.domain.check(tx).numpy())
        np.testing.assert_array_equal(n.codomain.check(ny).numpy(),
                                      t.codomain.check(ty).numpy())
    if name == "PositiveDefinite":  # (no log_abs_det_jacobian in torch either)
        with pytest.raises(NotImplementedError):
            t.log_abs_det_jacobian(tx, ty)
        with pytest.raises(NotImplementedError):
            n.log_abs_det_jacobian(nx, ny)
        tl, nl = ty.sum((-2, -1)) * 0, ny.sum((-2, -1)) * 0
    else:
        tl, nl = t.log_abs_det_jacobian(tx, ty), n.log_abs_det_jacobian(nx, ny)
    _cmp(nl, tl, f"{name}: log_abs_det_jacobian")
    # the inverse of a fresh copy of y (no cache): back to x
    y_plain = ty.detach().numpy().copy()
    tinv, ninv = t.inv(torch.tensor(y_plain)), n.inv(ndgrad.tensor(y_plain))
    _cmp(ninv, tinv, f"{name}: inverse", rtol=1e-9, atol=1e-10)
    if t.bijective:
        np.testing.assert_allclose(ninv.numpy(), x0, rtol=1e-8, atol=1e-9)
    else:  # PositiveDefiniteTransform: back to the lower-triangular part of x
        np.testing.assert_allclose(ninv.numpy(), np.tril(x0), rtol=1e-8, atol=1e-9)
    if name != "PositiveDefinite":
        _cmp(n.inv.log_abs_det_jacobian(ndgrad.tensor(y_plain), ninv),
             t.inv.log_abs_det_jacobian(torch.tensor(y_plain), tinv), f"{name}: inverse ladj",
             rtol=1e-9, atol=1e-10)
    # shapes
    assert tuple(n.forward_shape(tuple(x0.shape))) == tuple(t.forward_shape(x0.shape))
    assert tuple(n.inverse_shape(tuple(ny.shape))) == tuple(t.inverse_shape(ty.shape))
    assert tuple(n.forward_shape(x0.shape)) == tuple(ny.shape)
    # gradients of y and of the log-det with respect to x
    wy, wl = RNG.normal(size=ty.shape), RNG.normal(size=tl.shape)
    (tg,) = torch.autograd.grad((ty * torch.tensor(wy)).sum() + (tl * torch.tensor(wl)).sum(),
                                [tx])
    (ng,) = ndgrad.autograd.grad((ny * ndgrad.tensor(wy)).sum()
                                 + (nl * ndgrad.tensor(wl)).sum(), [nx])
    _cmp(ng, tg, f"{name}: gradient", rtol=1e-8, atol=1e-10)
    # caching: the inverse of the very y just produced is the very x
    c = n.with_cache(1)
    assert c._cache_size == 1
    cy = c(nx)
    assert c.inv(cy) is nx
    assert n.with_cache(n._cache_size) is n


def test_corr_cholesky_is_the_factor_of_a_correlation_matrix():
    n = nt.CorrCholeskyTransform()
    y = n(ndgrad.tensor(_real((5, 10), s=1.0))).numpy()
    assert y.shape == (5, 5, 5)
    c = y @ np.swapaxes(y, -1, -2)
    np.testing.assert_allclose(np.diagonal(c, 0, -2, -1), 1.0, rtol=1e-12)
    assert np.all(np.diagonal(y, 0, -2, -1) > 0) and np.allclose(np.triu(y, 1), 0)
    assert np.all(np.linalg.eigvalsh(c) > 0)
    # log_abs_det_jacobian against a finite-difference Jacobian of x -> tril(y, -1)
    x0 = _real((6,), s=0.8)
    rows, cols = np.tril_indices(4, -1)

    def f(v):
        return n(ndgrad.tensor(v)).numpy()[rows, cols]

    h = 1e-6
    J = np.stack([(f(x0 + h * e) - f(x0 - h * e)) / (2 * h) for e in np.eye(6)], -1)
    x = ndgrad.tensor(x0)
    np.testing.assert_allclose(n.log_abs_det_jacobian(x, n(x)).item(),
                               np.log(abs(np.linalg.det(J))), rtol=1e-6)
    for bad, msg in (((), "Too few dimensions on input"),
                     ((4,), "Input is not a flattened lower-diagonal number")):
        with pytest.raises(ValueError, match=msg):
            n.forward_shape(bad)
        with pytest.raises(ValueError, match=msg):
            tt.CorrCholeskyTransform().forward_shape(bad)
    with pytest.raises(ValueError, match="Input is not square"):
        n.inverse_shape((3, 4))


def test_positive_definite_transform():
    n, t = nt.PositiveDefiniteTransform(), tt.PositiveDefiniteTransform()
    assert n == nt.PositiveDefiniteTransform() and n != nt.LowerCholeskyTransform()
    y = n(ndgrad.tensor(_real((4, 3, 3))))
    assert bool(nd.constraints.positive_definite.check(y).all())
    with pytest.raises(NotImplementedError):
        n.log_abs_det_jacobian(ndgrad.zeros(3, 3), y[0])
    with pytest.raises(NotImplementedError):
        t.log_abs_det_jacobian(torch.zeros(3, 3), torch.tensor(y[0].numpy()))


def test_cat_and_stack_errors_match_torch():
    cases = [
        lambda T, lib: T.CatTransform([T.ExpTransform(), "exp"]),
        lambda T, lib: T.CatTransform([T.ExpTransform()], lengths=[1, 2]),
        lambda T, lib: T.CatTransform([T.ExpTransform(), T.ExpTransform()], dim=0)(
            lib.zeros(3)),
        lambda T, lib: T.CatTransform([T.ExpTransform()], dim=2)(lib.zeros(3)),
        lambda T, lib: T.CatTransform([T.ExpTransform()], dim=0).inv(lib.zeros(2)),
        lambda T, lib: T.CatTransform([T.ExpTransform()], dim=1).log_abs_det_jacobian(
            lib.zeros(1), lib.zeros(1)),
        lambda T, lib: T.CatTransform([T.ExpTransform()], dim=0).log_abs_det_jacobian(
            lib.zeros(1), lib.zeros(2)),
        lambda T, lib: T.StackTransform([T.ExpTransform(), 3]),
        lambda T, lib: T.StackTransform([T.ExpTransform()], dim=0)(lib.zeros(2)),
        lambda T, lib: T.StackTransform([T.ExpTransform()], dim=3).inv(lib.zeros(1)),
        lambda T, lib: T.StackTransform([T.ExpTransform()], dim=0).log_abs_det_jacobian(
            lib.zeros(1), lib.zeros(2)),
        lambda T, lib: T.StackTransform([T.ExpTransform()], dim=1).log_abs_det_jacobian(
            lib.zeros(1), lib.zeros(1)),
    ]
    for make in cases:
        t = _error(lambda mk=make: mk(tt, torch))
        n = _error(lambda mk=make: mk(nt, ndgrad))
        assert t is not None
        assert n == t


def test_constraint_registry():
    from ndgrad.distributions import constraints as nc
    tcs = td.constraints
    pairs = [
        (nc.corr_cholesky, tcs.corr_cholesky, _real((2, 3))),
        (nc.cat([nc.positive, nc.real, nc.interval(-1.0, 2.0)], 0, [1, 2, 1]),
         tcs.cat([tcs.positive, tcs.real, tcs.interval(-1.0, 2.0)], 0, [1, 2, 1]),
         _real((4, 2))),
        (nc.stack([nc.unit_interval, nc.greater_than(3.0)], -1),
         tcs.stack([tcs.unit_interval, tcs.greater_than(3.0)], -1), _real((3, 2))),
    ]
    for ncon, tcon, x0 in pairs:
        for nreg, treg in ((nd.biject_to, td.biject_to), (nd.transform_to, td.transform_to)):
            n, t = nreg(ncon), treg(tcon)
            assert type(n).__name__ == type(t).__name__
            ny, ty = n(ndgrad.tensor(x0)), t(torch.tensor(x0))
            _cmp(ny, ty, f"{type(n).__name__} from the registry")
            assert bool(ncon.check(ny).all())
    pd = nd.transform_to(nc.positive_definite)
    assert isinstance(pd, nt.PositiveDefiniteTransform)
    assert isinstance(nd.transform_to(nc.positive_semidefinite), nt.PositiveDefiniteTransform)
    x0 = _real((3, 3))
    _cmp(pd(ndgrad.tensor(x0)), td.transform_to(tcs.positive_definite)(torch.tensor(x0)),
         "PositiveDefiniteTransform from the registry")
    with pytest.raises(NotImplementedError):
        nd.biject_to(nc.positive_definite)


def test_transformed_distribution_through_new_transforms():
    """A TransformedDistribution through CorrCholeskyTransform or CatTransform scores as
    torch's. (Through a StackTransform, torch's log_prob fails: the stacked log-det is not
    summed over the event dim the stack constraint adds; ndgrad's fails as well.)"""
    x0 = _real((5, 3), s=0.8)
    for make_base, make_t in (
            (lambda m, lib: m.Independent(m.Normal(lib.zeros(3, dtype=lib.float64),
                                                   lib.ones(3, dtype=lib.float64)), 1),
             lambda T: T.CorrCholeskyTransform()),
            (lambda m, lib: m.Normal(lib.zeros(2, 3, dtype=lib.float64), 1.0),
             lambda T: T.CatTransform([T.ExpTransform(), T.SigmoidTransform()], dim=-1,
                                      lengths=[1, 2]))):
        tdist = td.TransformedDistribution(make_base(td, torch), [make_t(tt)])
        ndist = nd.TransformedDistribution(make_base(nd, ndgrad), [make_t(nt)])
        assert tuple(ndist.event_shape) == tuple(tdist.event_shape)
        assert tuple(ndist.batch_shape) == tuple(tdist.batch_shape)
        torch.manual_seed(0)
        y = tdist.sample((4,))
        _cmp(ndist.log_prob(ndgrad.tensor(y.numpy())), tdist.log_prob(y),
             "TransformedDistribution.log_prob", rtol=1e-9)
        ndgrad.manual_seed(0)
        assert tuple(ndist.sample((4,)).shape) == tuple(y.shape)
    del x0
    for lib, m, T in ((torch, td, tt), (ndgrad, nd, nt)):
        d = m.TransformedDistribution(m.Normal(lib.zeros(2, 3, dtype=lib.float64), 1.0),
                                      [T.StackTransform([T.ExpTransform(),
                                                         T.SigmoidTransform()], dim=-2)])
        with pytest.raises(RuntimeError, match="must match the size"):
            d.log_prob(d.sample((4,)))
