"""ndgrad.distributions against torch.distributions: shapes, log_prob, entropy, moments,
cdf/icdf, kl_divergence and their gradients exactly (float64); sampling by its moments at a
fixed seed; reparameterized gradients by their expectations; validation errors by message."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
import torch.distributions as td
from distribution_checks import Draws, values
from distribution_checks import cmp as _cmp
from distribution_checks import error as _error
from distribution_checks import make as _make_spec

import ndgrad
import ndgrad.distributions as nd
from ndgrad.distributions import constraints

DRAW = Draws(0)
RNG = DRAW.rng
B = DRAW.batch  # batch shape of the parameter sets below
_pos, _real, _prob, _simplex = DRAW.pos, DRAW.real, DRAW.prob, DRAW.simplex

# name: (constructor name, keyword parameters as arrays or numbers)
CASES = {
    "Normal": ("Normal", dict(loc=_real(), scale=_pos())),
    "Normal-scalar": ("Normal", dict(loc=0.3, scale=1.7)),
    "Uniform": ("Uniform", dict(low=-_pos(), high=_pos())),
    "Bernoulli-probs": ("Bernoulli", dict(probs=_prob())),
    "Bernoulli-logits": ("Bernoulli", dict(logits=_real())),
    "Categorical-probs": ("Categorical", dict(probs=_simplex())),
    "Categorical-logits": ("Categorical", dict(logits=_real((*B, 5)))),
    "OneHotCategorical": ("OneHotCategorical", dict(probs=_simplex())),
    "Beta": ("Beta", dict(concentration1=_pos(), concentration0=_pos())),
    "Beta-scalar": ("Beta", dict(concentration1=2.0, concentration0=0.7)),
    "Gamma": ("Gamma", dict(concentration=_pos(), rate=_pos())),
    "Chi2": ("Chi2", dict(df=_pos(lo=1.0, hi=6.0))),
    "Dirichlet": ("Dirichlet", dict(concentration=_pos((*B, 4)))),
    "Exponential": ("Exponential", dict(rate=_pos())),
    "Laplace": ("Laplace", dict(loc=_real(), scale=_pos())),
    "LogNormal": ("LogNormal", dict(loc=_real(), scale=_pos(hi=1.5))),
    "Poisson": ("Poisson", dict(rate=_pos(hi=8.0))),
    "Binomial": ("Binomial", dict(total_count=np.full(B, 7.0), probs=_prob())),
    "Binomial-logits": ("Binomial", dict(total_count=np.full(B, 5.0), logits=_real())),
    "Geometric": ("Geometric", dict(probs=_prob())),
    "Cauchy": ("Cauchy", dict(loc=_real(), scale=_pos())),
    "Gumbel": ("Gumbel", dict(loc=_real(), scale=_pos())),
    "StudentT": ("StudentT", dict(df=_pos(lo=2.5, hi=8.0), loc=_real(), scale=_pos())),
    "RelaxedBernoulli": ("RelaxedBernoulli", dict(temperature=np.array(0.7), probs=_prob())),
    "RelaxedOneHotCategorical": ("RelaxedOneHotCategorical",
                                 dict(temperature=np.array(0.8), probs=_simplex())),
}
INTEGER_PARAMS = {"total_count"}


def _spd(shape=(2, 3, 3)):
    m = RNG.normal(size=shape)
    return m @ np.swapaxes(m, -1, -2) + 3 * np.eye(shape[-1])


MVN_CASES = {
    "MVN-covariance": ("MultivariateNormal", dict(loc=_real((2, 3)), covariance_matrix=_spd())),
    "MVN-precision": ("MultivariateNormal", dict(loc=_real((4, 2, 3)), precision_matrix=_spd())),
    "MVN-scale_tril": ("MultivariateNormal", dict(loc=_real((3,)),
                                                  scale_tril=np.linalg.cholesky(_spd()))),
}
# MultivariateNormal needs ndgrad.linalg (cholesky, solve_triangular)
if hasattr(ndgrad, "linalg"):
    CASES.update(MVN_CASES)


def _make(lib, case, requires_grad=True):
    """The same distribution in torch (lib = torch) or ndgrad, with parameter leaves."""
    return _make_spec(lib, CASES[case], requires_grad,
                      constant=INTEGER_PARAMS | {"temperature"})


def _values(case, t_dist):
    """Points to evaluate log_prob at: torch's own draws."""
    return values(t_dist)


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_torch(case):
    t_dist, t_leaves = _make(torch, case)
    n_dist, n_leaves = _make(ndgrad, case)
    assert tuple(n_dist.batch_shape) == tuple(t_dist.batch_shape)
    assert tuple(n_dist.event_shape) == tuple(t_dist.event_shape)
    assert n_dist.has_rsample == t_dist.has_rsample
    assert set(n_dist.arg_constraints) == set(t_dist.arg_constraints)
    assert repr(n_dist.support) == repr(t_dist.support).replace("torch", "ndgrad")
    for prop in ("mean", "mode", "variance", "stddev"):
        try:
            want = getattr(t_dist, prop)
        except NotImplementedError:
            continue
        _cmp(getattr(n_dist, prop), want, f"{case}.{prop}")
    x = _values(case, t_dist)
    t_lp = t_dist.log_prob(x)
    n_lp = n_dist.log_prob(ndgrad.tensor(x.numpy()))
    _cmp(n_lp, t_lp, f"{case}.log_prob")
    outs = [(n_lp, t_lp)]
    try:
        t_ent = t_dist.entropy()
    except NotImplementedError:
        t_ent = None
    if t_ent is not None:
        n_ent = n_dist.entropy()
        _cmp(n_ent, t_ent, f"{case}.entropy")
        outs.append((n_ent, t_ent))
    for fn in ("cdf",):
        try:
            t_c = getattr(t_dist, fn)(x)
        except NotImplementedError:
            continue
        n_c = getattr(n_dist, fn)(ndgrad.tensor(x.numpy()))
        _cmp(n_c, t_c, f"{case}.{fn}")
        outs.append((n_c, t_c))
        q = torch.tensor(RNG.uniform(0.05, 0.95, tuple(t_dist.batch_shape)))
        try:
            t_q = t_dist.icdf(q)
        except NotImplementedError:
            continue
        _cmp(n_dist.icdf(ndgrad.tensor(q.numpy())), t_q, f"{case}.icdf")
    # gradients of everything above with respect to the parameters
    weights = [RNG.normal(size=tuple(t.shape)) for _, t in outs]
    t_loss = sum((t * torch.tensor(w)).sum() for (_, t), w in zip(outs, weights)
                 if t.requires_grad)
    n_loss = sum((n * ndgrad.tensor(w)).sum() for (n, _), w in zip(outs, weights)
                 if n.requires_grad)
    names = [k for k, v in t_leaves.items() if v.requires_grad]
    if names and isinstance(t_loss, torch.Tensor):
        t_in, n_in = [t_leaves[k] for k in names], [n_leaves[k] for k in names]
        try:
            t_g = torch.autograd.grad(t_loss, t_in, allow_unused=True, retain_graph=True)
        except NotImplementedError as e:  # Gamma.cdf: no derivative in the concentration
            with pytest.raises(NotImplementedError, match=str(e)):
                ndgrad.autograd.grad(n_loss, n_in, allow_unused=True, retain_graph=True)
            return
        n_g = ndgrad.autograd.grad(n_loss, n_in, allow_unused=True)
        for k, a, b in zip(names, n_g, t_g):
            if b is None:
                assert a is None or not np.any(a.numpy()), f"{case}: grad of {k}"
            else:
                # (torch's trigamma, behind digamma's gradient, is good to ~1e-9)
                _cmp(a, b, f"{case}: gradient of {k}", rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("case", sorted(CASES))
def test_sample_shapes_and_expand(case):
    n_dist, _ = _make(ndgrad, case, requires_grad=False)
    ndgrad.manual_seed(0)
    s = n_dist.sample((5, 2))
    assert tuple(s.shape) == (5, 2, *n_dist.batch_shape, *n_dist.event_shape)
    assert not s.requires_grad
    assert bool(n_dist.support.check(s).all()), case
    big = n_dist.expand((4, *n_dist.batch_shape))
    assert tuple(big.batch_shape) == (4, *n_dist.batch_shape)
    assert tuple(big.sample().shape) == (4, *n_dist.batch_shape, *n_dist.event_shape)
    lp = big.log_prob(s[0, 0])
    np.testing.assert_allclose(lp.numpy(), np.broadcast_to(n_dist.log_prob(s[0, 0]).numpy(),
                                                           lp.shape))


# -- sampling: moments at a fixed seed -----------------------------------------------------------
MOMENT_CASES = [*(["MVN-covariance"] if "MVN-covariance" in CASES else []),
                "Normal", "Uniform", "Bernoulli-probs", "Categorical-probs", "Beta", "Gamma",
                "Chi2", "Dirichlet", "Exponential", "Laplace", "LogNormal", "Poisson",
                "Binomial", "Geometric", "Gumbel", "StudentT", "OneHotCategorical"]


@pytest.mark.parametrize("case", MOMENT_CASES)
def test_sample_moments(case):
    """The mean and variance of 20,000 draws agree with the distribution's within 5 standard
    errors (the variance's standard error from the fourth moment of the draws)."""
    n_dist, _ = _make(ndgrad, case, requires_grad=False)
    t_dist, _ = _make(torch, case, requires_grad=False)
    ndgrad.manual_seed(1)
    n = 20000
    x = n_dist.sample((n,)).numpy()
    if case == "Categorical-probs":  # compare the frequencies of the categories
        probs = t_dist.probs.numpy()
        freq = (x[..., None] == np.arange(probs.shape[-1])).mean(0)
        assert np.all(np.abs(freq - probs) < 5 * np.sqrt(probs * (1 - probs) / n))
        return
    mean, var = t_dist.mean.numpy(), t_dist.variance.numpy()
    m = x.mean(0)
    assert np.all(np.abs(m - mean) < 5 * np.sqrt(var / n)), (case, m, mean)
    v = x.var(0)
    m4 = ((x - m) ** 4).mean(0)
    assert np.all(np.abs(v - var) < 5 * np.sqrt(np.maximum(m4 - v**2, 1e-12) / n)), case


def test_seeds_make_draws_reproducible():
    d = nd.Gamma(ndgrad.tensor([0.5, 2.0]), ndgrad.tensor([1.0, 3.0]))
    ndgrad.manual_seed(3)
    a = d.sample((4,))
    ndgrad.manual_seed(3)
    b = d.sample((4,))
    assert np.array_equal(a.numpy(), b.numpy())


# -- reparameterized gradients -------------------------------------------------------------------
def test_rsample_gradients_location_scale():
    """x = loc + scale eps: dx/dloc = 1, dx/dscale = eps = (x - loc) / scale, per draw."""
    for cls in (nd.Normal, nd.Laplace, nd.Cauchy):
        loc = ndgrad.tensor([0.5, -1.0], dtype=ndgrad.float64, requires_grad=True)
        scale = ndgrad.tensor([2.0, 0.5], dtype=ndgrad.float64, requires_grad=True)
        x = cls(loc, scale).rsample((3,))
        gl, gs = ndgrad.autograd.grad(x.sum(), [loc, scale])
        np.testing.assert_allclose(gl.numpy(), [3.0, 3.0])
        eps = (x.detach() - loc.detach()) / scale.detach()
        np.testing.assert_allclose(gs.numpy(), eps.sum(0).numpy(), rtol=1e-12)
    low = ndgrad.tensor([0.0, 1.0], dtype=ndgrad.float64, requires_grad=True)
    high = ndgrad.tensor([2.0, 5.0], dtype=ndgrad.float64, requires_grad=True)
    x = nd.Uniform(low, high).rsample((4,))
    gl, gh = ndgrad.autograd.grad(x.sum(), [low, high])
    u = ((x.detach() - low.detach()) / (high - low).detach()).numpy()
    np.testing.assert_allclose(gh.numpy(), u.sum(0), rtol=1e-12)
    np.testing.assert_allclose(gl.numpy(), (1 - u).sum(0), rtol=1e-12)


def test_gamma_implicit_gradient_per_draw():
    """dx/dalpha = -(dP/dalpha)/(dP/dx) at each draw, against mpmath's incomplete gamma."""
    alpha = ndgrad.tensor([0.3, 1.0, 4.0, 40.0], dtype=ndgrad.float64, requires_grad=True)
    ndgrad.manual_seed(0)
    x = nd.Gamma(alpha, 1.0).rsample()
    (g,) = ndgrad.autograd.grad(x.sum(), [alpha])
    mpmath.mp.dps = 30
    for a, xv, gv in zip(alpha.tolist(), x.tolist(), g.tolist()):
        h = mpmath.mpf("1e-12")
        dp = (mpmath.gammainc(a + h, 0, xv, regularized=True)
              - mpmath.gammainc(a - h, 0, xv, regularized=True)) / (2 * h)
        density = mpmath.mpf(xv) ** (a - 1) * mpmath.exp(-xv) / mpmath.gamma(a)
        assert gv == pytest.approx(float(-dp / density), rel=1e-7)
    # torch's own (approximate) gradient at the same draws agrees to its accuracy
    want = torch._standard_gamma_grad(torch.tensor(alpha.tolist()), torch.tensor(x.tolist()))
    np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=2e-3)


@pytest.mark.parametrize("cls,params,mean_fn", [
    ("Gamma", dict(concentration=[0.4, 2.5], rate=[1.5, 0.7]), lambda p: p[0] / p[1]),
    ("Beta", dict(concentration1=[0.6, 3.0], concentration0=[2.0, 1.2]),
     lambda p: p[0] / (p[0] + p[1])),
    ("Chi2", dict(df=[1.5, 6.0]), lambda p: p[0]),
])
def test_reparameterized_gradients_are_unbiased(cls, params, mean_fn):
    """The average gradient of rsample().mean() is the gradient of the mean: d/dtheta E[x]."""
    leaves = [ndgrad.tensor(v, dtype=ndgrad.float64, requires_grad=True)
              for v in params.values()]
    ndgrad.manual_seed(2)
    x = getattr(nd, cls)(*leaves).rsample((40000,))
    got = ndgrad.autograd.grad(x.mean(0).sum(), leaves)
    t_leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
                for v in params.values()]
    want = torch.autograd.grad(mean_fn(t_leaves).sum(), t_leaves)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=0.05, atol=0.01)


def test_dirichlet_rsample_gradient_is_unbiased():
    conc = ndgrad.tensor([0.5, 1.5, 3.0], dtype=ndgrad.float64, requires_grad=True)
    ndgrad.manual_seed(4)
    x = nd.Dirichlet(conc).rsample((40000,))
    w = ndgrad.tensor([1.0, -2.0, 0.5], dtype=ndgrad.float64)
    (g,) = ndgrad.autograd.grad((x.mean(0) * w).sum(), [conc])
    tc = torch.tensor(conc.tolist(), dtype=torch.float64, requires_grad=True)
    (want,) = torch.autograd.grad((tc / tc.sum() * torch.tensor(w.tolist())).sum(), [tc])
    np.testing.assert_allclose(g.numpy(), want.numpy(), atol=0.01)


def test_second_derivative_of_gamma_draws_raises_as_torch():
    a = ndgrad.tensor([2.0], requires_grad=True)
    x = nd.Gamma(a, 1.0).rsample()
    (g,) = ndgrad.autograd.grad(x.sum(), [a], create_graph=True)
    with pytest.raises(RuntimeError, match="_standard_gamma_grad"):
        g.sum().backward()


def test_straight_through_and_relaxed_rsample():
    probs = ndgrad.tensor([0.2, 0.5, 0.3], dtype=ndgrad.float64, requires_grad=True)
    s = nd.OneHotCategoricalStraightThrough(probs=probs).rsample((6,))
    assert set(s.sum(-1).tolist()) == {1.0}
    (g,) = ndgrad.autograd.grad((s * ndgrad.tensor([1.0, 2.0, 3.0])).sum(), [probs])
    assert np.all(np.isfinite(g.numpy()))
    t = nd.RelaxedOneHotCategorical(ndgrad.tensor(0.5), probs=probs).rsample((5,))
    np.testing.assert_allclose(t.sum(-1).detach().numpy(), 1.0, rtol=1e-12)
    (g,) = ndgrad.autograd.grad(t[:, 0].sum(), [probs])
    assert np.any(g.numpy() != 0)


# -- kl_divergence -------------------------------------------------------------------------------
KL_PAIRS = [("Normal", "Normal"), ("Normal", "Laplace"), ("Normal", "Gumbel"),
            ("Bernoulli-probs", "Bernoulli-logits"), ("Bernoulli-probs", "Poisson"),
            ("Categorical-probs", "Categorical-probs"), ("OneHotCategorical", "OneHotCategorical"),
            ("Beta", "Beta"), ("Beta", "Normal"), ("Beta", "Uniform"), ("Gamma", "Gamma"),
            ("Gamma", "Exponential"), ("Gamma", "Normal"), ("Dirichlet", "Dirichlet"),
            ("Exponential", "Exponential"), ("Exponential", "Gamma"), ("Exponential", "Normal"),
            ("Exponential", "Gumbel"), ("Laplace", "Laplace"), ("Laplace", "Normal"),
            ("Poisson", "Poisson"), ("Uniform", "Uniform"), ("Uniform", "Normal"),
            ("Uniform", "Gumbel"), ("Geometric", "Geometric"), ("Binomial", "Binomial"),
            ("Cauchy", "Cauchy"), ("Gumbel", "Gumbel"), ("LogNormal", "LogNormal"),
            ("Normal", "Uniform"), ("Gamma", "Uniform"), ("Poisson", "Binomial"),
            ("Chi2", "Chi2"), ("Chi2", "Exponential"),
            *([("MVN-covariance", "MVN-scale_tril"), ("MVN-precision", "MVN-covariance")]
              if "MVN-covariance" in CASES else [])]


def _other(case):
    """A second parameter set of the same family (different values)."""
    name, params = CASES[case]
    out = {}
    for k, v in params.items():
        if k in INTEGER_PARAMS:
            out[k] = v
        elif k in ("covariance_matrix", "precision_matrix"):
            out[k] = v * 1.7  # (still symmetric positive definite)
        elif isinstance(v, np.ndarray) and k == "probs":
            out[k] = _simplex(v.shape) if name in ("Categorical", "OneHotCategorical") else (
                _prob(v.shape))
        elif isinstance(v, np.ndarray):
            out[k] = v * RNG.uniform(0.7, 1.3, v.shape)
        else:
            out[k] = v
    return out


@pytest.mark.parametrize("pc,qc", KL_PAIRS, ids=[f"{p}|{q}" for p, q in KL_PAIRS])
def test_kl_divergence_against_torch(pc, qc, monkeypatch):
    if pc == qc or pc.split("-")[0] == qc.split("-")[0]:
        monkeypatch.setitem(CASES, "_q", (CASES[qc][0], _other(qc)))
        qc = "_q"
    tp, tpl = _make(torch, pc)
    tq, tql = _make(torch, qc)
    npd, npl = _make(ndgrad, pc)
    nq, nql = _make(ndgrad, qc)
    tk = td.kl_divergence(tp, tq)
    nk = nd.kl_divergence(npd, nq)
    _cmp(nk, tk, f"KL({pc} || {qc})")
    leaves = [(k, a, b) for (k, a), b in zip({**{"p" + k: v for k, v in npl.items()},
                                               **{"q" + k: v for k, v in nql.items()}}.items(),
                                              [*tpl.values(), *tql.values()])
              if b.requires_grad]
    finite = torch.isfinite(tk)
    if leaves and tk.requires_grad and bool(finite.all()):
        w = RNG.normal(size=tuple(tk.shape))
        tg = torch.autograd.grad((tk * torch.tensor(w)).sum(), [b for _, _, b in leaves],
                                 allow_unused=True)
        ng = ndgrad.autograd.grad((nk * ndgrad.tensor(w)).sum(), [a for _, a, _ in leaves],
                                  allow_unused=True)
        for (k, _, _), a, b in zip(leaves, ng, tg):
            if b is not None:
                _cmp(a, b, f"KL({pc} || {qc}) gradient of {k}", rtol=1e-8, atol=1e-10)


def test_kl_independent_transformed_and_errors():
    loc, scale = _real((4, 3)), _pos((4, 3))
    p_t = td.Independent(td.Normal(torch.tensor(loc), torch.tensor(scale)), 1)
    q_t = td.Independent(td.Normal(torch.tensor(loc * 0.5), torch.tensor(scale * 2)), 1)
    p_n = nd.Independent(nd.Normal(ndgrad.tensor(loc), ndgrad.tensor(scale)), 1)
    q_n = nd.Independent(nd.Normal(ndgrad.tensor(loc * 0.5), ndgrad.tensor(scale * 2)), 1)
    _cmp(nd.kl_divergence(p_n, q_n), td.kl_divergence(p_t, q_t), "KL(Independent)")
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p "
                                                  "type Poisson and q type Normal"):
        nd.kl_divergence(nd.Poisson(2.0), nd.Normal(0.0, 1.0))

    class MyNormal(nd.Normal):
        pass

    _cmp(nd.kl_divergence(MyNormal(0.0, 1.0), nd.Normal(1.0, 2.0)),
         td.kl_divergence(td.Normal(0.0, 1.0), td.Normal(1.0, 2.0)), "KL of a subclass")

    @nd.register_kl(MyNormal, nd.Normal)
    def _kl_mine(p, q):
        return ndgrad.tensor(42.0)

    assert nd.kl_divergence(MyNormal(0.0, 1.0), nd.Normal(1.0, 2.0)).item() == 42.0


# -- Independent, transforms, TransformedDistribution ---------------------------------------------
def test_independent():
    loc, scale = _real((4, 3)), _pos((4, 3))
    t = td.Independent(td.Normal(torch.tensor(loc), torch.tensor(scale)), 1)
    n = nd.Independent(nd.Normal(ndgrad.tensor(loc), ndgrad.tensor(scale)), 1)
    assert tuple(n.batch_shape) == (4,) and tuple(n.event_shape) == (3,)
    x = t.sample((2,))
    _cmp(n.log_prob(ndgrad.tensor(x.numpy())), t.log_prob(x), "Independent.log_prob")
    _cmp(n.entropy(), t.entropy(), "Independent.entropy")
    assert repr(n.support) == repr(t.support)
    with pytest.raises(ValueError, match="Expected reinterpreted_batch_ndims <= "):
        nd.Independent(nd.Normal(0.0, 1.0), 1)


TRANSFORMS = [
    ("ExpTransform", (), _real((3, 2))),
    ("SigmoidTransform", (), _real((3, 2))),
    ("TanhTransform", (), _real((3, 2))),
    ("SoftplusTransform", (), _real((3, 2))),
    ("AffineTransform", (0.5, -2.0), _real((3, 2))),
    ("PowerTransform", (2.5,), _pos((3, 2))),
    ("StickBreakingTransform", (), _real((3, 4))),
    ("SoftmaxTransform", (), _real((3, 4))),
    ("LowerCholeskyTransform", (), _real((2, 3, 3))),
]


@pytest.mark.parametrize("name,args,x", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_transforms(name, args, x):
    tt = getattr(td.transforms, name)(*args)
    nt = getattr(nd.transforms, name)(*args)
    tx, nx = torch.tensor(x, requires_grad=True), ndgrad.tensor(x, requires_grad=True)
    ty, ny = tt(tx), nt(nx)
    _cmp(ny, ty, f"{name} forward")
    _cmp(nt.inv(ny), tt.inv(ty), f"{name} inverse")
    if name not in ("SoftmaxTransform", "LowerCholeskyTransform"):  # (torch has no log-det)
        tj, nj = tt.log_abs_det_jacobian(tx, ty), nt.log_abs_det_jacobian(nx, ny)
        _cmp(nj, tj, f"{name} log_abs_det_jacobian")
        (tg,) = torch.autograd.grad(ty.sum() + tj.sum(), [tx])
        (ng,) = ndgrad.autograd.grad(ny.sum() + nj.sum(), [nx])
        _cmp(ng, tg, f"{name} gradient", rtol=1e-9)
    assert repr(nt.domain) == repr(tt.domain) and repr(nt.codomain) == repr(tt.codomain)
    assert nt.bijective == tt.bijective
    assert tuple(nt.forward_shape(x.shape)) == tuple(tt.forward_shape(x.shape))


def test_transformed_distribution_and_caching():
    base_loc, base_scale = _real((2, 3)), _pos((2, 3))
    tts = [td.transforms.AffineTransform(1.0, 2.0), td.transforms.SigmoidTransform()]
    nts = [nd.transforms.AffineTransform(1.0, 2.0), nd.transforms.SigmoidTransform()]
    t = td.TransformedDistribution(td.Normal(torch.tensor(base_loc), torch.tensor(base_scale)),
                                   tts)
    n = nd.TransformedDistribution(nd.Normal(ndgrad.tensor(base_loc),
                                             ndgrad.tensor(base_scale)), nts)
    x = t.sample((3,))
    _cmp(n.log_prob(ndgrad.tensor(x.numpy())), t.log_prob(x), "TransformedDistribution")
    _cmp(n.cdf(ndgrad.tensor(x.numpy())), t.cdf(x), "TransformedDistribution.cdf")
    q = torch.tensor(RNG.uniform(0.1, 0.9, (2, 3)))
    _cmp(n.icdf(ndgrad.tensor(q.numpy())), t.icdf(q), "TransformedDistribution.icdf")
    # a decreasing transform flips the cdf
    t2 = td.TransformedDistribution(td.Exponential(torch.tensor(2.0)),
                                    td.transforms.AffineTransform(0.0, -1.0))
    n2 = nd.TransformedDistribution(nd.Exponential(ndgrad.tensor(2.0)),
                                    nd.transforms.AffineTransform(0.0, -1.0))
    v = torch.tensor([-0.3, -2.0])
    _cmp(n2.cdf(ndgrad.tensor(v.numpy())), t2.cdf(v), "cdf of a decreasing transform")
    # the cache gives back the exact pre-image
    ct = nd.transforms.ExpTransform().with_cache(1)
    a = ndgrad.tensor([1.0, 2.0])
    y = ct(a)
    assert ct.inv(y) is a
    with pytest.raises(ValueError, match="transforms must be a Transform or list"):
        nd.TransformedDistribution(nd.Normal(0.0, 1.0), "exp")


# -- validation and errors -------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda lib, m: m.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, -1.0])),
    lambda lib, m: m.Normal(0.0, 0.0),
    lambda lib, m: m.Bernoulli(probs=lib.tensor([0.5, 1.5])),
    lambda lib, m: m.Bernoulli(probs=0.3, logits=0.1),
    lambda lib, m: m.Categorical(probs=lib.tensor(0.5)),
    lambda lib, m: m.Categorical(probs=lib.tensor([0.5, -0.5])),
    lambda lib, m: m.Dirichlet(lib.tensor([1.0, -2.0])),
    lambda lib, m: m.Uniform(lib.tensor([0.0]), lib.tensor([0.0])),
    lambda lib, m: m.Gamma(lib.tensor([1.0]), lib.tensor([-1.0])),
    lambda lib, m: m.Normal(0.0, 1.0).log_prob(lib.tensor([1.0]).reshape(1, 1, 1))
    if False else m.Normal(lib.zeros(3), 1.0).log_prob(lib.zeros(2)),
    lambda lib, m: m.Exponential(1.0).log_prob(lib.tensor([-1.0])),
    lambda lib, m: m.Dirichlet(lib.ones(3)).log_prob(lib.tensor([0.2, 0.2, 0.2])),
    lambda lib, m: m.Categorical(logits=lib.zeros(3)).log_prob(lib.tensor([3])),
    lambda lib, m: m.Normal(0.0, 1.0).log_prob(0.5),
    lambda lib, m: m.Independent(m.Normal(0.0, 1.0), 1),
    lambda lib, m: m.Geometric(probs=lib.tensor([0.0, 0.5])),
    lambda lib, m: m.Poisson(lib.tensor([-1.0])),
    lambda lib, m: m.Binomial(lib.tensor([2.5]), probs=lib.tensor([0.5])),
])
def test_validation_errors_match_torch(make):
    t = _error(lambda: make(torch, td))
    n = _error(lambda: make(ndgrad, nd))
    assert t is not None
    assert n == t


def test_validate_args_off_and_default():
    nd.Normal(0.0, -1.0, validate_args=False)  # no error
    assert nd.Distribution._validate_args is True
    nd.Distribution.set_default_validate_args(False)
    try:
        nd.Normal(0.0, -1.0)
    finally:
        nd.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        nd.Normal(0.0, -1.0)


def test_constraints():
    x = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0, math.nan]])
    pairs = [(constraints.real, td.constraints.real),
             (constraints.positive, td.constraints.positive),
             (constraints.nonnegative, td.constraints.nonnegative),
             (constraints.unit_interval, td.constraints.unit_interval),
             (constraints.boolean, td.constraints.boolean),
             (constraints.nonnegative_integer, td.constraints.nonnegative_integer),
             (constraints.interval(-0.5, 1.0), td.constraints.interval(-0.5, 1.0)),
             (constraints.half_open_interval(0.0, 1.0),
              td.constraints.half_open_interval(0.0, 1.0)),
             (constraints.greater_than(0.5), td.constraints.greater_than(0.5)),
             (constraints.less_than(0.5), td.constraints.less_than(0.5)),
             (constraints.integer_interval(0, 1), td.constraints.integer_interval(0, 1)),
             (constraints.real_vector, td.constraints.real_vector),
             (constraints.simplex, td.constraints.simplex),
             (constraints.one_hot, td.constraints.one_hot)]
    for n, t in pairs:
        assert repr(n) == repr(t)
        assert n.event_dim == t.event_dim and n.is_discrete == t.is_discrete
        np.testing.assert_array_equal(n.check(ndgrad.tensor(x)).numpy(),
                                      t.check(torch.tensor(x)).numpy(), err_msg=repr(n))
    m = RNG.normal(size=(2, 3, 3))
    spd = m @ m.transpose(0, 2, 1) + np.eye(3)
    for c, v in [("lower_cholesky", np.linalg.cholesky(spd)), ("lower_cholesky", m),
                 ("positive_definite", spd), ("positive_definite", m),
                 ("symmetric", spd), ("lower_triangular", np.tril(m))]:
        np.testing.assert_array_equal(getattr(constraints, c).check(ndgrad.tensor(v)).numpy(),
                                      getattr(td.constraints, c).check(torch.tensor(v)).numpy())
    assert constraints.is_dependent(nd.Binomial.support)
    with pytest.raises(ValueError, match="Cannot determine validity of dependent constraint"):
        constraints.dependent.check(ndgrad.tensor(1.0))


def test_enumerate_support():
    for case in ("Bernoulli-probs", "Categorical-probs", "OneHotCategorical", "Binomial"):
        t, _ = _make(torch, case, requires_grad=False)
        n, _ = _make(ndgrad, case, requires_grad=False)
        for expand in (True, False):
            _cmp(n.enumerate_support(expand), t.enumerate_support(expand), case)


def test_perplexity_and_repr():
    t = td.Categorical(probs=torch.tensor([0.2, 0.3, 0.5]))
    n = nd.Categorical(probs=ndgrad.tensor([0.2, 0.3, 0.5]))
    _cmp(n.perplexity(), t.perplexity(), "perplexity")
    assert repr(nd.Normal(0.0, 1.0)) == repr(td.Normal(0.0, 1.0))
    assert repr(nd.Categorical(probs=ndgrad.ones(3))) == "Categorical(probs: ndgrad.Size([3]))"


def test_biject_to_and_transform_to():
    x = _real((4, 3))
    for c_name, args in [("real", ()), ("positive", ()), ("nonnegative", ()),
                         ("greater_than", (1.5,)), ("less_than", (-2.0,)),
                         ("interval", (-1.0, 3.0)), ("unit_interval", ()), ("simplex", ()),
                         ("real_vector", ())]:
        nc, tc = getattr(constraints, c_name), getattr(td.constraints, c_name)
        if args:
            nc, tc = nc(*args), tc(*args)
        for n_reg, t_reg in [(nd.biject_to, td.biject_to), (nd.transform_to, td.transform_to)]:
            ny, ty = n_reg(nc)(ndgrad.tensor(x)), t_reg(tc)(torch.tensor(x))
            _cmp(ny, ty, f"{c_name}")
            assert bool(nc.check(ny).all())
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean constraints"):
        nd.biject_to(constraints.boolean)
