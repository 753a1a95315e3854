"""The distributions added after the first set (HalfNormal, HalfCauchy, Pareto, Weibull,
Multinomial, NegativeBinomial, MixtureSameFamily, InverseGamma, Kumaraswamy, LogisticNormal)
against torch.distributions: shapes, log_prob, moments, entropy, cdf/icdf and their gradients
exactly (float64); sample and rsample shapes, gradients through rsample, expand; validation
errors by message; sampling by its moments at a fixed seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.distributions as td
from distribution_checks import Draws, cmp_grads, same_description
from distribution_checks import cmp as _cmp
from distribution_checks import error as _error
from distribution_checks import make as _make_spec
from distribution_checks import values as _values

import ndgrad
import ndgrad.distributions as nd
from ndgrad.distributions import constraints

DRAW = Draws(1)
RNG = DRAW.rng
B = DRAW.batch  # batch shape of the parameter sets below
_pos, _real, _prob, _simplex = DRAW.pos, DRAW.real, DRAW.prob, DRAW.simplex

# name: (constructor name, keyword parameters as arrays or numbers)
CASES = {
    "HalfNormal": ("HalfNormal", dict(scale=_pos())),
    "HalfNormal-scalar": ("HalfNormal", dict(scale=1.3)),
    "HalfCauchy": ("HalfCauchy", dict(scale=_pos())),
    "Pareto": ("Pareto", dict(scale=_pos(), alpha=_pos(lo=2.5, hi=6.0))),
    "Pareto-heavy": ("Pareto", dict(scale=_pos(), alpha=_pos(lo=0.3, hi=2.0))),
    "Weibull": ("Weibull", dict(scale=_pos(), concentration=_pos(lo=0.6, hi=4.0))),
    "Multinomial-probs": ("Multinomial", dict(total_count=6, probs=_simplex())),
    "Multinomial-logits": ("Multinomial", dict(total_count=4, logits=_real((*B, 3)))),
    "NegativeBinomial-probs": ("NegativeBinomial", dict(total_count=_pos(hi=6.0),
                                                        probs=_prob())),
    "NegativeBinomial-logits": ("NegativeBinomial", dict(total_count=_pos(hi=6.0),
                                                         logits=_real())),
    "InverseGamma": ("InverseGamma", dict(concentration=_pos(lo=0.5, hi=5.0), rate=_pos())),
    "Kumaraswamy": ("Kumaraswamy", dict(concentration1=_pos(lo=0.5, hi=4.0),
                                        concentration0=_pos(lo=0.5, hi=4.0))),
    "LogisticNormal": ("LogisticNormal", dict(loc=_real((*B, 3)), scale=_pos((*B, 3)))),
    "LogisticNormal-scalar": ("LogisticNormal", dict(loc=0.3, scale=0.8)),
}
# dependent supports (a tensor bound) print their tensor, so their reprs are not compared
DEPENDENT_SUPPORT = {"Pareto", "Pareto-heavy", "Multinomial-probs", "Multinomial-logits"}


def _make(lib, case, requires_grad=True):
    """The same distribution in torch (lib = torch) or ndgrad, with parameter leaves."""
    return _make_spec(lib, CASES[case], requires_grad)


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_torch(case):
    t_dist, t_leaves = _make(torch, case)
    n_dist, n_leaves = _make(ndgrad, case)
    same_description(n_dist, t_dist, support_repr=case not in DEPENDENT_SUPPORT)
    outs = []
    for prop in ("mean", "mode", "variance", "stddev"):
        try:
            want = getattr(t_dist, prop)
        except NotImplementedError:
            with pytest.raises(NotImplementedError):
                getattr(n_dist, prop)
            continue
        got = getattr(n_dist, prop)
        _cmp(got, want, f"{case}.{prop}")
        outs.append((got, want))
    x = _values(t_dist)
    t_lp = t_dist.log_prob(x)
    n_lp = n_dist.log_prob(ndgrad.tensor(x.numpy()))
    _cmp(n_lp, t_lp, f"{case}.log_prob")
    outs.append((n_lp, t_lp))
    try:
        t_ent = t_dist.entropy()
    except NotImplementedError:
        t_ent = None
        with pytest.raises(NotImplementedError):
            n_dist.entropy()
    if t_ent is not None:
        n_ent = n_dist.entropy()
        _cmp(n_ent, t_ent, f"{case}.entropy")
        outs.append((n_ent, t_ent))
    cdf_out = None
    try:
        t_c = t_dist.cdf(x)
    except NotImplementedError:
        t_c = None
        with pytest.raises(NotImplementedError):
            n_dist.cdf(ndgrad.tensor(x.numpy()))
    if t_c is not None:
        n_c = n_dist.cdf(ndgrad.tensor(x.numpy()))
        _cmp(n_c, t_c, f"{case}.cdf")
        cdf_out = (n_c, t_c)
        outs.append(cdf_out)
        q = RNG.uniform(0.05, 0.95, tuple(t_dist.batch_shape))
        tq = torch.tensor(q)
        nq = ndgrad.tensor(q)
        try:
            t_q = t_dist.icdf(tq)
        except NotImplementedError:  # (InverseGamma: Gamma has no icdf)
            t_q = None
            with pytest.raises(NotImplementedError):
                n_dist.icdf(nq)
        if t_q is not None:
            n_q = n_dist.icdf(nq)
            _cmp(n_q, t_q, f"{case}.icdf")
            outs.append((n_q, t_q))
            # icdf inverts cdf
            _cmp(n_dist.cdf(n_q), t_dist.cdf(t_q), f"{case}.cdf(icdf)")
            if t_dist.mean.dtype == torch.float64:
                _cmp(n_dist.cdf(n_q), tq, f"{case}.cdf(icdf) == q", rtol=1e-9)
    # gradients of everything above with respect to the parameters
    names = list(t_leaves)
    if not names:
        return
    try:
        _cmp_grads(case, outs, t_leaves, n_leaves)
    except NotImplementedError as e:  # InverseGamma.cdf: no derivative in the concentration
        with pytest.raises(NotImplementedError, match=str(e)):
            _cmp_grads(case, outs, t_leaves, n_leaves, ndgrad_only=True)
        _cmp_grads(case, [o for o in outs if o is not cdf_out], t_leaves, n_leaves)


def _cmp_grads(case, outs, t_leaves, n_leaves, ndgrad_only=False):
    cmp_grads(case, outs, t_leaves, n_leaves, RNG, ndgrad_only)


@pytest.mark.parametrize("case", sorted(CASES))
def test_sample_shapes_and_expand(case):
    n_dist, _ = _make(ndgrad, case, requires_grad=False)
    ndgrad.manual_seed(0)
    s = n_dist.sample((3,))
    assert tuple(s.shape) == (3, *n_dist.batch_shape, *n_dist.event_shape)
    assert not s.requires_grad
    assert bool(n_dist.support.check(s).all()), case
    s2 = n_dist.sample((2, 1))
    assert tuple(s2.shape) == (2, 1, *n_dist.batch_shape, *n_dist.event_shape)
    big = n_dist.expand((4, *n_dist.batch_shape))
    assert type(big) is type(n_dist)
    assert tuple(big.batch_shape) == (4, *n_dist.batch_shape)
    assert tuple(big.event_shape) == tuple(n_dist.event_shape)
    assert tuple(big.sample().shape) == (4, *n_dist.batch_shape, *n_dist.event_shape)
    lp = big.log_prob(s[0])
    assert tuple(lp.shape) == (4, *n_dist.batch_shape)
    np.testing.assert_allclose(lp.numpy(), np.broadcast_to(n_dist.log_prob(s[0]).numpy(),
                                                           lp.shape))
    # expand agrees with torch's expand
    t_dist, _ = _make(torch, case, requires_grad=False)
    t_big = t_dist.expand((4, *t_dist.batch_shape))
    _cmp(lp, t_big.log_prob(torch.tensor(s[0].numpy())), f"{case}: expanded log_prob")


@pytest.mark.parametrize("case", [c for c in sorted(CASES) if c.split("-")[0] not in
                                  ("Multinomial", "NegativeBinomial")])
def test_rsample_shapes_and_gradients(case):
    """rsample keeps the graph: every parameter gets a finite, non-zero gradient, and the
    gradient matches torch's at the same base draw for the explicit transforms."""
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
    scale = ndgrad.tensor([0.5, 2.0], dtype=ndgrad.float64, requires_grad=True)
    for cls in (nd.HalfNormal, nd.HalfCauchy):
        ndgrad.manual_seed(0)
        x = cls(scale).rsample((4,))
        (g,) = ndgrad.autograd.grad(x.sum(), [scale])  # x = scale |eps|
        np.testing.assert_allclose(g.numpy(), (x.detach() / scale.detach()).sum(0).numpy(),
                                   rtol=1e-12)
    # Weibull: x = scale E^(1/k); dx/dscale = x/scale, dx/dk = -x log(E) / k^2
    k = ndgrad.tensor([0.7, 3.0], dtype=ndgrad.float64, requires_grad=True)
    ndgrad.manual_seed(0)
    x = nd.Weibull(scale, k).rsample((5,))
    gs, gk = ndgrad.autograd.grad(x.sum(), [scale, k])
    xd, sd, kd = x.detach().numpy(), scale.detach().numpy(), k.detach().numpy()
    e = (xd / sd) ** kd
    np.testing.assert_allclose(gs.numpy(), (xd / sd).sum(0), rtol=1e-10)
    np.testing.assert_allclose(gk.numpy(), (-xd * np.log(e) / kd**2).sum(0), rtol=1e-10)
    # Pareto: x = scale exp(E / alpha); dx/dalpha = -x log(x / scale) / alpha
    alpha = ndgrad.tensor([1.5, 4.0], dtype=ndgrad.float64, requires_grad=True)
    ndgrad.manual_seed(0)
    x = nd.Pareto(scale, alpha).rsample((5,))
    gs, ga = ndgrad.autograd.grad(x.sum(), [scale, alpha])
    xd, ad = x.detach().numpy(), alpha.detach().numpy()
    np.testing.assert_allclose(gs.numpy(), (xd / sd).sum(0), rtol=1e-10)
    np.testing.assert_allclose(ga.numpy(), (-xd * np.log(xd / sd) / ad).sum(0), rtol=1e-10)


def test_inverse_gamma_rsample_gradient_is_unbiased():
    """d/dtheta E[x] from the average gradient of the draws: E[x] = rate / (a - 1)."""
    conc = ndgrad.tensor([3.0, 5.0], dtype=ndgrad.float64, requires_grad=True)
    rate = ndgrad.tensor([1.5, 0.7], dtype=ndgrad.float64, requires_grad=True)
    ndgrad.manual_seed(2)
    x = nd.InverseGamma(conc, rate).rsample((40000,))
    gc, gr = ndgrad.autograd.grad(x.mean(0).sum(), [conc, rate])
    c, r = np.array([3.0, 5.0]), np.array([1.5, 0.7])
    np.testing.assert_allclose(gc.numpy(), -r / (c - 1) ** 2, rtol=0.05)
    np.testing.assert_allclose(gr.numpy(), 1 / (c - 1), rtol=0.05)


# -- sampling: moments at a fixed seed -----------------------------------------------------------
MOMENT_CASES = ["HalfNormal", "Pareto", "Weibull", "Multinomial-probs",
                "NegativeBinomial-probs", "NegativeBinomial-logits", "InverseGamma-light",
                "Kumaraswamy"]


@pytest.mark.parametrize("case", MOMENT_CASES)
def test_sample_moments(case, monkeypatch):
    """The mean and variance of 20,000 draws agree with the distribution's within 5 standard
    errors (the variance's from the fourth moment of the draws)."""
    if case == "InverseGamma-light":  # (a finite fourth moment needs concentration > 4)
        monkeypatch.setitem(CASES, case, ("InverseGamma", dict(
            concentration=_pos(lo=5.0, hi=8.0), rate=_pos())))
    if case == "Pareto":
        monkeypatch.setitem(CASES, case, ("Pareto", dict(scale=_pos(),
                                                         alpha=_pos(lo=5.0, hi=8.0))))
    n_dist, _ = _make(ndgrad, case, requires_grad=False)
    t_dist, _ = _make(torch, case, requires_grad=False)
    ndgrad.manual_seed(1)
    n = 20000
    x = n_dist.sample((n,)).numpy()
    mean, var = t_dist.mean.numpy(), t_dist.variance.numpy()
    m = x.mean(0)
    assert np.all(np.abs(m - mean) < 5 * np.sqrt(var / n)), (case, m, mean)
    v = x.var(0)
    m4 = ((x - m) ** 4).mean(0)
    assert np.all(np.abs(v - var) < 5 * np.sqrt(np.maximum(m4 - v**2, 1e-12) / n)), case


def test_multinomial_samples_and_log_prob():
    probs = ndgrad.tensor([[0.2, 0.0, 0.8], [0.5, 0.25, 0.25]], dtype=ndgrad.float64)
    d = nd.Multinomial(7, probs=probs)
    ndgrad.manual_seed(0)
    s = d.sample((5,))
    assert s.dtype == ndgrad.float64
    assert np.all(s.sum(-1).numpy() == 7) and np.all(s[:, 0, 1].numpy() == 0)
    # a zero probability scores a zero count with 0 * log 0 = 0, as torch
    t = td.Multinomial(7, probs=torch.tensor(probs.numpy()))
    _cmp(d.log_prob(s), t.log_prob(torch.tensor(s.numpy())), "Multinomial zero probs")
    # the default total_count scores counts of any total (torch's example)
    x = ndgrad.tensor([21.0, 24.0, 30.0, 25.0], dtype=ndgrad.float64)
    got = nd.Multinomial(probs=ndgrad.ones(4, dtype=ndgrad.float64),
                         validate_args=False).log_prob(x)
    want = td.Multinomial(probs=torch.ones(4, dtype=torch.float64),
                          validate_args=False).log_prob(torch.tensor(x.numpy()))
    _cmp(got, want, "Multinomial log_prob of any total")
    assert tuple(d.param_shape) == (2, 3)
    # the entropy of an expanded Multinomial (torch's expand drops what entropy needs)
    big = d.expand((4, 2))
    np.testing.assert_allclose(big.entropy().numpy(),
                               np.broadcast_to(t.entropy().numpy(), (4, 2)), rtol=1e-10)
    _cmp(d.logits, t.logits, "Multinomial.logits")


def test_negative_binomial_edges():
    # total_count + value == 0 is masked to log_prob 0, as torch
    tc = np.array([0.0, 2.5])
    for lib, mod in ((torch, td), (ndgrad, nd)):
        d = mod.NegativeBinomial(lib.tensor(tc), probs=lib.tensor([0.3, 0.6]))
        out = d.log_prob(lib.tensor([0.0, 3.0]))
        if lib is torch:
            want = out
        else:
            _cmp(out, want, "NegativeBinomial at total_count 0")
    n = nd.NegativeBinomial(2.0, logits=ndgrad.tensor([0.3, -1.0], dtype=ndgrad.float64))
    t = td.NegativeBinomial(2.0, logits=torch.tensor([0.3, -1.0], dtype=torch.float64))
    _cmp(n.probs, t.probs, "NegativeBinomial.probs from logits")
    assert tuple(n.param_shape) == tuple(t.param_shape)


# -- MixtureSameFamily -----------------------------------------------------------------------------
def _gmm(lib, mod, mix_logits, loc, scale):
    return mod.MixtureSameFamily(mod.Categorical(logits=lib.tensor(mix_logits)),
                                 mod.Normal(lib.tensor(loc), lib.tensor(scale)))


def _mixture_pairs():
    """(name, torch mixture, ndgrad mixture, torch leaves, ndgrad leaves)."""
    out = []
    # univariate, batch (3,), k = 4, the Categorical with the same batch
    params = dict(mix=_real((3, 4)), loc=_real((3, 4)), scale=_pos((3, 4)))
    # univariate with one shared Categorical (batch ()) and batch (2, 3)
    params2 = dict(mix=_real((4,)), loc=_real((2, 3, 4)), scale=_pos((2, 3, 4)))
    # Independent(Normal) over 2-d events, batch (3,), k = 4
    params3 = dict(mix=_real((3, 4)), loc=_real((3, 4, 2)), scale=_pos((3, 4, 2)))
    # MultivariateNormal components, batch (2,), k = 3, 2-d events
    m = RNG.normal(size=(2, 3, 2, 2))
    params4 = dict(mix=_real((2, 3)), loc=_real((2, 3, 2)),
                   cov=m @ np.swapaxes(m, -1, -2) + np.eye(2))
    for name, p in (("univariate", params), ("shared-mixture", params2),
                    ("independent-normal", params3), ("mvn", params4)):
        pair = []
        for lib, mod in ((torch, td), (ndgrad, nd)):
            leaves = {k: lib.tensor(v, requires_grad=True) for k, v in p.items()}
            mix = mod.Categorical(logits=leaves["mix"])
            if name == "mvn":
                comp = mod.MultivariateNormal(leaves["loc"], covariance_matrix=leaves["cov"])
            elif name == "independent-normal":
                comp = mod.Independent(mod.Normal(leaves["loc"], leaves["scale"]), 1)
            else:
                comp = mod.Normal(leaves["loc"], leaves["scale"])
            pair.append((mod.MixtureSameFamily(mix, comp), leaves))
        out.append((name, *pair))
    return out


MIXTURES = _mixture_pairs()


@pytest.mark.parametrize("name,tpair,npair", MIXTURES, ids=[m[0] for m in MIXTURES])
def test_mixture_same_family(name, tpair, npair):
    (t, tl), (n, nl) = tpair, npair
    assert tuple(n.batch_shape) == tuple(t.batch_shape)
    assert tuple(n.event_shape) == tuple(t.event_shape)
    assert n.has_rsample is False and t.has_rsample is False
    assert repr(n.support) == repr(t.support).replace("torch", "ndgrad")
    assert n.support.event_dim == t.support.event_dim
    assert isinstance(n.mixture_distribution, nd.Categorical)
    assert repr(n) == repr(t).replace("torch", "ndgrad")
    outs = [(n.mean, t.mean), (n.variance, t.variance), (n.stddev, t.stddev)]
    # (torch's sample fails for a Categorical of batch () under components of batch (2, 3))
    x = torch.tensor(RNG.normal(0, 2.0, (5, *t.batch_shape, *t.event_shape)))
    outs.append((n.log_prob(ndgrad.tensor(x.numpy())), t.log_prob(x)))
    if not t.event_shape:
        outs.append((n.cdf(ndgrad.tensor(x.numpy())), t.cdf(x)))
    for i, (a, b) in enumerate(outs):
        _cmp(a, b, f"{name}: output {i}")
    # gradients of all of it with respect to the parameters
    ws = [RNG.normal(size=tuple(b.shape)) for _, b in outs]
    t_loss = sum((b * torch.tensor(w)).sum() for (_, b), w in zip(outs, ws))
    n_loss = sum((a * ndgrad.tensor(w)).sum() for (a, _), w in zip(outs, ws))
    t_g = torch.autograd.grad(t_loss, list(tl.values()))
    n_g = ndgrad.autograd.grad(n_loss, list(nl.values()))
    for k, a, b in zip(tl, n_g, t_g):
        _cmp(a, b, f"{name}: gradient of {k}", rtol=1e-8, atol=1e-10)
    # sampling: shapes, no graph, inside the support
    ndgrad.manual_seed(0)
    s = n.sample((4, 2))
    assert tuple(s.shape) == (4, 2, *n.batch_shape, *n.event_shape)
    assert not s.requires_grad
    assert tuple(n.sample().shape) == (*n.batch_shape, *n.event_shape)
    assert bool(n.support.check(s).all())
    # expand
    big = n.expand((5, *n.batch_shape))
    t_big = t.expand((5, *t.batch_shape))
    assert tuple(big.batch_shape) == tuple(t_big.batch_shape)
    assert tuple(big.sample((2,)).shape) == (2, 5, *n.batch_shape, *n.event_shape)
    _cmp(big.log_prob(ndgrad.tensor(x[0].numpy())), t_big.log_prob(x[0]),
         f"{name}: expanded log_prob")
    _cmp(big.mean, t_big.mean, f"{name}: expanded mean")


def test_mixture_samples_come_from_the_chosen_components():
    """Well separated components: the frequencies of the draws near each component match the
    mixture weights, and the draws' mean and variance match the mixture's."""
    probs = np.array([0.2, 0.5, 0.3])
    loc = np.array([-10.0, 0.0, 10.0])
    n = nd.MixtureSameFamily(nd.Categorical(probs=ndgrad.tensor(probs)),
                             nd.Normal(ndgrad.tensor(loc), ndgrad.tensor([0.5, 1.0, 0.7])))
    ndgrad.manual_seed(3)
    x = n.sample((20000,)).numpy()
    freq = np.array([np.mean(np.abs(x - c) < 5) for c in loc])
    assert np.all(np.abs(freq - probs) < 5 * np.sqrt(probs * (1 - probs) / len(x)))
    assert abs(x.mean() - n.mean.item()) < 5 * math.sqrt(n.variance.item() / len(x))
    # 2-d events: each draw is one component's whole vector
    comp = nd.Independent(nd.Normal(ndgrad.tensor([[-10.0, 10.0], [10.0, -10.0]]),
                                    ndgrad.tensor(0.1, dtype=ndgrad.float64)
                                    .expand(2, 2)), 1)
    mix = nd.MixtureSameFamily(nd.Categorical(probs=ndgrad.tensor([0.5, 0.5])), comp)
    s = mix.sample((100,)).numpy()
    assert np.all(np.sign(s[:, 0]) == -np.sign(s[:, 1]))


@pytest.mark.parametrize("make", [
    lambda lib, m: m.HalfNormal(lib.tensor([1.0, -1.0])),
    lambda lib, m: m.HalfNormal(lib.tensor([1.0])).log_prob(lib.tensor([-0.5])),
    lambda lib, m: m.HalfCauchy(lib.tensor([0.0])),
    lambda lib, m: m.HalfCauchy(lib.tensor([1.0])).log_prob(lib.tensor([-0.5])),
    lambda lib, m: m.Pareto(lib.tensor([1.0]), lib.tensor([-2.0])),
    lambda lib, m: m.Pareto(lib.tensor([-1.0]), lib.tensor([2.0])),
    lambda lib, m: m.Weibull(lib.tensor([1.0]), lib.tensor([0.0])),
    lambda lib, m: m.Weibull(lib.tensor([1.0]), lib.tensor([2.0])).log_prob(lib.tensor([0.0])),
    lambda lib, m: m.Multinomial(3, probs=lib.tensor([0.5, -0.5])),
    lambda lib, m: m.Multinomial(3, probs=lib.tensor([0.5, 0.5]), logits=lib.tensor([0., 1.])),
    lambda lib, m: m.Multinomial(lib.tensor(3), probs=lib.tensor([0.5, 0.5])),
    lambda lib, m: m.Multinomial(3, probs=lib.tensor(0.5)),
    lambda lib, m: m.Multinomial(3, probs=lib.tensor([0.5, 0.5])).log_prob(
        lib.tensor([3.0, 1.0])),
    lambda lib, m: m.NegativeBinomial(lib.tensor([-1.0]), probs=lib.tensor([0.5])),
    lambda lib, m: m.NegativeBinomial(lib.tensor([1.0]), probs=lib.tensor([1.0])),
    lambda lib, m: m.NegativeBinomial(lib.tensor([1.0])),
    lambda lib, m: m.NegativeBinomial(lib.tensor([1.0]), probs=lib.tensor([0.5])).log_prob(
        lib.tensor([1.5])),
    lambda lib, m: m.InverseGamma(lib.tensor([1.0]), lib.tensor([-1.0])),
    lambda lib, m: m.InverseGamma(lib.tensor([-1.0]), lib.tensor([1.0])),
    lambda lib, m: m.Kumaraswamy(lib.tensor([1.0]), lib.tensor([-1.0])),
    lambda lib, m: m.Kumaraswamy(lib.tensor([1.0]), lib.tensor([2.0])).log_prob(
        lib.tensor([1.5])),
    lambda lib, m: m.LogisticNormal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, -1.0])),
    lambda lib, m: m.LogisticNormal(lib.zeros(2), lib.ones(2)).log_prob(
        lib.tensor([0.5, 0.6, 0.1])),
    lambda lib, m: m.MixtureSameFamily(m.Normal(0.0, 1.0), m.Normal(lib.zeros(2), 1.0)),
    lambda lib, m: m.MixtureSameFamily(m.Categorical(lib.ones(2)), "normal"),
    lambda lib, m: m.MixtureSameFamily(m.Categorical(lib.ones(3)), m.Normal(lib.zeros(2), 1.0)),
    lambda lib, m: m.MixtureSameFamily(m.Categorical(lib.ones(3, 2)),
                                       m.Normal(lib.zeros(4, 2), 1.0)),
    lambda lib, m: m.MixtureSameFamily(m.Categorical(lib.ones(2)),
                                       m.Exponential(lib.ones(2))).log_prob(lib.tensor(-1.0)),
])
def test_validation_errors_match_torch(make):
    t = _error(lambda: make(torch, td))
    n = _error(lambda: make(ndgrad, nd))
    assert t is not None
    assert n == t


def test_validate_args_off():
    nd.HalfNormal(-1.0, validate_args=False)
    nd.Pareto(1.0, -1.0, validate_args=False)
    nd.Weibull(-1.0, 1.0, validate_args=False)
    nd.NegativeBinomial(-1.0, probs=1.5, validate_args=False)
    nd.InverseGamma(-1.0, 1.0, validate_args=False)
    nd.Kumaraswamy(-1.0, 1.0, validate_args=False)
    nd.LogisticNormal(ndgrad.zeros(2), ndgrad.tensor([1.0, -1.0]), validate_args=False)
    # outside the support, log_prob without validation gives torch's value
    t = td.HalfNormal(torch.tensor([1.0]), validate_args=False).log_prob(torch.tensor([-0.5]))
    n = nd.HalfNormal(ndgrad.tensor([1.0]), validate_args=False).log_prob(
        ndgrad.tensor([-0.5]))
    _cmp(n, t, "HalfNormal.log_prob outside the support")


def test_exports_and_constraint():
    for name in ("HalfNormal", "HalfCauchy", "Pareto", "Weibull", "Multinomial",
                 "NegativeBinomial", "MixtureSameFamily", "InverseGamma", "Kumaraswamy",
                 "LogisticNormal"):
        assert name in nd.__all__ and issubclass(getattr(nd, name), nd.Distribution)
    c = constraints.MixtureSameFamilyConstraint(constraints.positive)
    tc = td.constraints.MixtureSameFamilyConstraint(td.constraints.positive)
    x = np.array([[1.0, -1.0], [0.0, 2.0]])
    np.testing.assert_array_equal(c.check(ndgrad.tensor(x)).numpy(),
                                  tc.check(torch.tensor(x)).numpy())
    assert repr(c) == repr(tc)
    assert c.event_dim == tc.event_dim and c.is_discrete == tc.is_discrete


def test_kl_divergence_half_normal_and_pareto():
    s1, s2 = _pos(), _pos()
    a1, a2 = _pos(), _pos()
    for make in (lambda lib, m, s, a: m.HalfNormal(lib.tensor(s, requires_grad=True)),
                 lambda lib, m, s, a: m.Pareto(lib.tensor(s, requires_grad=True),
                                               lib.tensor(a, requires_grad=True))):
        tk = td.kl_divergence(make(torch, td, s1, a1), make(torch, td, s2, a2))
        nk = nd.kl_divergence(make(ndgrad, nd, s1, a1), make(ndgrad, nd, s2, a2))
        _cmp(nk, tk, "kl_divergence")
