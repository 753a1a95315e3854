"""ndgrad.special and the special-function Tensor methods against torch (values over wide
ranges and at the edges, gradients and double backward) and, where torch's own numbers are
off (its Bessel and Airy functions, trigamma), against mpmath."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

import ndgrad
from tests.helpers import check_op, check_values

RNG = np.random.default_rng(0)
EDGES = np.array([0.0, -0.0, 1.0, 2.0, -1.0, -2.0, -3.0, 0.5, -0.5, 1e-300, -1e-300, 1e300,
                  -1e300, 1e-8, 30.0, -30.0, math.inf, -math.inf, math.nan])
WIDE = np.concatenate([RNG.uniform(-60, 60, 400), RNG.uniform(-5, 5, 400),
                       10.0 ** RNG.uniform(-8, 8, 200), -(10.0 ** RNG.uniform(-8, 3, 200))])
UNIT = np.concatenate([RNG.uniform(-1, 1, 400), 1 - 10.0 ** RNG.uniform(-15, -1, 50),
                       -1 + 10.0 ** RNG.uniform(-15, -1, 50), [0.0, 1.0, -1.0, 0.7, -0.7]])
PROB = np.concatenate([RNG.uniform(0, 1, 400), 10.0 ** RNG.uniform(-300, -1, 50),
                       1 - 10.0 ** RNG.uniform(-15, -1, 50), [0.0, 1.0, 0.5, 2.0, -1.0]])

# (name, torch function, ndgrad function, inputs, float64 rtol against torch)
UNARY = [
    ("lgamma", torch.lgamma, ndgrad.lgamma, WIDE, 1e-13),
    ("gammaln", torch.special.gammaln, ndgrad.special.gammaln, WIDE, 1e-13),
    ("digamma", torch.digamma, ndgrad.digamma, WIDE, 1e-11),
    ("psi", torch.special.psi, ndgrad.special.psi, WIDE, 1e-11),
    ("erfc", torch.erfc, ndgrad.erfc, WIDE, 1e-14),
    ("erfcx", torch.special.erfcx, ndgrad.special.erfcx, WIDE, 1e-13),
    ("erfinv", torch.erfinv, ndgrad.erfinv, UNIT, 1e-14),
    ("ndtr", torch.special.ndtr, ndgrad.special.ndtr, WIDE, 1e-9),
    ("ndtri", torch.special.ndtri, ndgrad.special.ndtri, PROB, 1e-14),
    ("log_ndtr", torch.special.log_ndtr, ndgrad.special.log_ndtr, WIDE, 1e-12),
    ("i0", torch.i0, ndgrad.i0, WIDE, 1e-14),
    ("i0e", torch.special.i0e, ndgrad.special.i0e, WIDE, 1e-14),
    ("i1", torch.special.i1, ndgrad.special.i1, WIDE, 1e-14),
    ("i1e", torch.special.i1e, ndgrad.special.i1e, WIDE, 1e-14),
    ("modified_bessel_k0", torch.special.modified_bessel_k0, ndgrad.special.modified_bessel_k0,
     WIDE, 1e-14),
    ("modified_bessel_k1", torch.special.modified_bessel_k1, ndgrad.special.modified_bessel_k1,
     WIDE, 1e-14),
    ("scaled_modified_bessel_k0", torch.special.scaled_modified_bessel_k0,
     ndgrad.special.scaled_modified_bessel_k0, WIDE, 1e-14),
    ("scaled_modified_bessel_k1", torch.special.scaled_modified_bessel_k1,
     ndgrad.special.scaled_modified_bessel_k1, WIDE, 1e-14),
    ("spherical_bessel_j0", torch.special.spherical_bessel_j0,
     ndgrad.special.spherical_bessel_j0, WIDE, 1e-14),
    ("entr", torch.special.entr, ndgrad.special.entr, WIDE, 1e-15),
    ("sinc", torch.sinc, ndgrad.sinc, WIDE, 1e-12),
    ("expit", torch.special.expit, ndgrad.special.expit, WIDE, 1e-15),
    ("logit", torch.logit, ndgrad.logit, PROB, 1e-14),
]


def _compare(t_out: torch.Tensor, n_out: ndgrad.Tensor, rtol: float, atol: float,
             x: np.ndarray | None = None, name: str = "") -> None:
    assert str(n_out.dtype).split(".")[1] == str(t_out.dtype).split(".")[1]
    want = t_out.numpy().copy()
    if name in ("i0", "i1"):  # torch answers nan at +-inf, where I0 -> inf and I1 -> +-inf
        inf = np.isinf(x)
        want[inf] = np.abs(x[inf]) if name == "i0" else x[inf]
    np.testing.assert_allclose(n_out.numpy(), want, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name,tfn,nfn,values,rtol", UNARY, ids=[u[0] for u in UNARY])
def test_unary_values_match_torch(name, tfn, nfn, values, rtol):
    """Forward values over wide ranges and at the edges (0, -0, the negative integers,
    +-inf, nan), in float64 and float32."""
    # torch's ndtr is (1 + erf(x/sqrt 2))/2, 0 below -8.3 (2e-17 absolute); ndgrad's is
    # erfc(-x/sqrt 2)/2, accurate in the tail (checked against mpmath below)
    atol = 1e-16 if name == "ndtr" else 1e-300
    for v in (values, EDGES):
        x = v.astype(np.float64)
        _compare(tfn(torch.tensor(x)), nfn(ndgrad.tensor(x)), rtol, atol, x, name)
        with np.errstate(over="ignore"):
            x32 = x.astype(np.float32)
        # torch computes float32 in float32, ndgrad in float64 then rounds: a few float32 ulps
        t32, n32 = tfn(torch.tensor(x32)), nfn(ndgrad.tensor(x32))
        _compare(t32, n32, 2e-5 if name not in ("sinc", "digamma", "psi") else 1e-3,
                 1e-7 if name == "ndtr" else 1e-30, x32, name)


def test_integer_inputs_become_the_default_float():
    for tfn, nfn in [(torch.lgamma, ndgrad.lgamma), (torch.special.ndtri, ndgrad.special.ndtri),
                     (torch.special.bessel_j0, ndgrad.special.bessel_j0),
                     (torch.sinc, ndgrad.sinc), (torch.logit, ndgrad.logit)]:
        x = np.array([0, 1, 2, 3])
        _compare(tfn(torch.tensor(x)), nfn(ndgrad.tensor(x)), 1e-6, 1e-7)


def _mp_reference(fn, xs):
    mpmath.mp.dps = 30
    return np.array([float(fn(mpmath.mpf(float(v)))) for v in xs])


@pytest.mark.parametrize("name,mpfn", [
    ("bessel_j0", lambda v: mpmath.besselj(0, v)), ("bessel_j1", lambda v: mpmath.besselj(1, v)),
    ("bessel_y0", lambda v: mpmath.bessely(0, v)), ("bessel_y1", lambda v: mpmath.bessely(1, v)),
    ("airy_ai", mpmath.airyai)])
def test_bessel_and_airy_against_mpmath(name, mpfn):
    """torch's J0/J1/Y0/Y1/Ai read several of Cephes' denominators without their leading 1
    (up to 1e-5 off near x = 5): these are checked against mpmath to 1e-12 (absolute, for
    oscillating functions, relative to max(|f|, 0.01))."""
    lo = -30.0 if name in ("bessel_j0", "bessel_j1", "airy_ai") else 1e-3
    xs = np.concatenate([RNG.uniform(lo, 30.0, 150), [2.0, 2.09, 4.99, 5.0, 5.01, 8.0]])
    if name == "airy_ai":
        xs = np.concatenate([xs, [-2.09, 50.0, 103.0]])
    got = getattr(ndgrad.special, name)(ndgrad.tensor(xs)).numpy()
    ref = _mp_reference(mpfn, xs)
    np.testing.assert_array_less(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-2), 1e-12)
    # and torch agrees to its own (lesser) accuracy
    t = getattr(torch.special, name)(torch.tensor(xs)).numpy()
    np.testing.assert_allclose(got, t, rtol=1e-3, atol=1e-4)


def test_bessel_and_airy_edges():
    x = np.array([0.0, -0.0, -1.0, math.inf, -math.inf, math.nan])
    for name in ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "spherical_bessel_j0",
                 "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
                 "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
                 "airy_ai"]:
        got = getattr(ndgrad.special, name)(ndgrad.tensor(x)).numpy()
        want = getattr(torch.special, name)(torch.tensor(x)).numpy()
        if name in ("modified_bessel_i0", "modified_bessel_i1", "airy_ai"):
            # torch answers nan at +-inf; the limits are I0(+-inf) = inf, I1(+-inf) = +-inf,
            # Ai(inf) = 0 (and Ai(-inf), an oscillation, nan)
            want[3:5] = {"modified_bessel_i0": [math.inf, math.inf],
                         "modified_bessel_i1": [math.inf, -math.inf],
                         "airy_ai": [0.0, math.nan]}[name]
        np.testing.assert_allclose(got, want, rtol=1e-15, err_msg=name)


def test_ndtr_tail_against_mpmath():
    """To the accuracy x / sqrt(2) allows: its rounding moves ndtr(x) by ~x^2 1e-16."""
    xs = np.array([-38.0, -20.0, -10.0, -5.0, -1.0, 0.0, 3.0, 8.0])
    got = ndgrad.special.ndtr(ndgrad.tensor(xs)).numpy()
    np.testing.assert_allclose(got, _mp_reference(mpmath.ncdf, xs), rtol=1e-13)


def test_trigamma_and_polygamma_against_mpmath():
    """polygamma(1, x) is computed from the Hurwitz zeta function (torch's trigamma is good
    to ~5e-10 only)."""
    xs = np.concatenate([RNG.uniform(-20, 20, 100), 10.0 ** RNG.uniform(-5, 5, 50),
                         -123.99999999 + RNG.uniform(0, 1e-9, 5)])
    for n in (1, 2, 3, 6):
        got = ndgrad.polygamma(n, ndgrad.tensor(xs)).numpy()
        ref = _mp_reference(lambda v, n=n: mpmath.polygamma(n, v), xs)
        np.testing.assert_allclose(got, ref, rtol=1e-12)
        far = np.abs(xs - np.round(xs)) > 1e-4  # (torch is 1e-6 off next to the poles)
        want = torch.polygamma(n, torch.tensor(xs[far])).numpy()
        np.testing.assert_allclose(got[far], want, rtol=1e-9)


def test_polygamma_zeta_mvlgamma_values():
    x = np.concatenate([WIDE, EDGES[np.isfinite(EDGES) & (np.abs(EDGES) < 1e100)]])
    for n in (0, 1, 2, 3, 4):
        # torch's trigamma rounds pi x in sin(pi x)^2: finite (1e28) at the poles x = -30, ...,
        # and 1e-8 off within 1e-6 of them (ndgrad's is checked against mpmath above)
        xn = x[(x > 0) | (np.abs(x - np.round(x)) > 1e-4)] if n == 1 else x
        _compare(torch.polygamma(n, torch.tensor(xn)), ndgrad.polygamma(n, ndgrad.tensor(xn)),
                 1e-9, 1e-300)
    assert np.all(np.isinf(ndgrad.polygamma(1, ndgrad.tensor([-30.0, -1.0, 0.0])).numpy()))
    # the limits at +inf (torch: nan for n >= 2) and at the far negative integers
    far = ndgrad.tensor([math.inf, -1e300, 1e300])
    assert ndgrad.polygamma(0, far).tolist()[:1] == [math.inf]
    for n in (1, 2, 3):
        got = ndgrad.polygamma(n, far).tolist()
        assert got[0] == 0 and math.isinf(got[1]) and abs(got[2]) < 1e-299
    s = np.array([1.0, 1.5, 2.0, 3.0, 7.5, 0.5, 20.0, math.inf, math.nan, 2.0, 3.0, 2.5])
    q = np.array([1.0, 2.0, -1.5, -2.0, 0.3, 1.0, 1e-3, 2.0, 1.0, 0.0, 1e5, -2.5])
    _compare(torch.special.zeta(torch.tensor(s), torch.tensor(q)),
             ndgrad.special.zeta(ndgrad.tensor(s), ndgrad.tensor(q)), 1e-13, 1e-300)
    _compare(torch.special.zeta(2.0, torch.tensor(q)), ndgrad.special.zeta(2.0, ndgrad.tensor(q)),
             1e-13, 1e-300)
    for p in (1, 2, 5):
        x = RNG.uniform(p, p + 10, 20)
        _compare(torch.mvlgamma(torch.tensor(x), p), ndgrad.mvlgamma(ndgrad.tensor(x), p),
                 1e-13, 0)
        _compare(torch.special.multigammaln(torch.tensor(x), p),
                 ndgrad.special.multigammaln(ndgrad.tensor(x), p), 1e-13, 0)


def test_incomplete_gamma_values():
    """Every method's region: series, continued fraction, small x, and Temme's expansion for
    large a near x = a (a up to 1e6); and the edges (0, inf, nan, negative)."""
    a = np.concatenate([10.0 ** RNG.uniform(-3, 4, 300), RNG.uniform(20, 300, 100),
                        10.0 ** RNG.uniform(3, 6, 50)])
    x = np.concatenate([a[:300] * 10.0 ** RNG.uniform(-1, 1, 300), RNG.uniform(10, 400, 100),
                        a[400:] * (1 + RNG.normal(0, 1, 50) / np.sqrt(a[400:]))])
    edge_a = np.array([0.0, 0.0, 1.0, 1.0, math.inf, math.inf, 2.0, -1.0, math.nan, 1.0, 3.0])
    edge_x = np.array([1.0, 0.0, 0.0, math.inf, math.inf, 3.0, math.inf, 1.0, 1.0, math.nan, -1.0])
    for lo, hi in ((a, x), (edge_a, edge_x)):
        ta, tx, na, nx = torch.tensor(lo), torch.tensor(hi), ndgrad.tensor(lo), ndgrad.tensor(hi)
        # torch's Temme branch computes log1p(s) - s directly, which cancels: 2e-9 apart there
        _compare(torch.igamma(ta, tx), ndgrad.igamma(na, nx), 1e-8, 1e-300)
        _compare(torch.igammac(ta, tx), ndgrad.igammac(na, nx), 1e-8, 1e-300)
        _compare(torch.special.gammainc(ta, tx), ndgrad.special.gammainc(na, nx), 1e-8, 1e-300)
    # against mpmath at points of each region
    pts = [(0.5, 0.2), (3.0, 10.0), (50.0, 45.0), (1000.0, 1010.0), (1e5, 1e5 + 300.0),
           (0.01, 2.0), (30.0, 1.0)]
    mpmath.mp.dps = 30
    for av, xv in pts:
        p = ndgrad.igamma(ndgrad.tensor([av], dtype=ndgrad.float64),
                          ndgrad.tensor([xv], dtype=ndgrad.float64)).item()
        q = ndgrad.igammac(ndgrad.tensor([av], dtype=ndgrad.float64),
                           ndgrad.tensor([xv], dtype=ndgrad.float64)).item()
        assert p == pytest.approx(float(mpmath.gammainc(av, 0, xv, regularized=True)),
                                  rel=1e-13)
        assert q == pytest.approx(float(mpmath.gammainc(av, xv, mpmath.inf, regularized=True)),
                                  rel=1e-13)


def test_xlogy_xlog1py_values():
    x = np.array([0.0, 0.0, 0.0, 1.0, 2.0, -1.5, 0.0, 3.0, math.nan])
    y = np.array([0.0, math.nan, -1.0, 0.0, 3.0, 2.0, math.inf, -2.0, 1.0])
    for name in ("xlogy", "xlog1py"):
        tfn, nfn = getattr(torch.special, name), getattr(ndgrad.special, name)
        _compare(tfn(torch.tensor(x), torch.tensor(y)), nfn(ndgrad.tensor(x), ndgrad.tensor(y)),
                 1e-15, 0)
        _compare(tfn(2.0, torch.tensor(y)), nfn(2.0, ndgrad.tensor(y)), 1e-15, 0)
        _compare(tfn(torch.tensor(x), 3.0), nfn(ndgrad.tensor(x), 3.0), 1e-15, 0)
    _compare(torch.xlogy(torch.tensor([0, 2]), torch.tensor([0, 3])),
             ndgrad.xlogy(ndgrad.tensor([0, 2]), ndgrad.tensor([0, 3])), 1e-6, 0)


def test_orthogonal_polynomials():
    x = np.concatenate([RNG.uniform(-1.5, 1.5, 60), [-1.0, 1.0, 0.0, 0.5]])
    n = np.array([-1, 0, 1, 2, 3, 5, 7, 9, 12, 30])
    xx, nn = np.meshgrid(x, n)
    for name in ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
                 "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
                 "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
                 "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
                 "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"]:
        tfn, nfn = getattr(torch.special, name), getattr(ndgrad.special, name)
        xs = (xx + 1) / 2 if name.startswith("shifted") else xx
        _compare(tfn(torch.tensor(xs), torch.tensor(nn.astype(np.float64))),
                 nfn(ndgrad.tensor(xs), ndgrad.tensor(nn.astype(np.float64))), 1e-9, 1e-9)
        _compare(tfn(torch.tensor(xs), 4), nfn(ndgrad.tensor(xs), 4), 1e-9, 1e-9)
        out = nfn(ndgrad.tensor(xs.astype(np.float32)), 3)
        assert out.dtype == ndgrad.float32 and not out.requires_grad


# -- gradients and double backward ---------------------------------------------------------------
SHAPES = [((3, 4),), ((2, 1, 3),)]


@pytest.mark.parametrize("fn,low,high", [
    (lambda x: x.lgamma(), -3.7, 6.0),
    (lambda x: x.digamma(), 0.2, 6.0),
    (lambda lib, x: lib.special.gammaln(x), 0.3, 30.0),
    (lambda x: x.erfc(), -3.0, 3.0),
    (lambda lib, x: lib.special.erfcx(x), -2.0, 8.0),
    (lambda x: x.erfinv(), -0.95, 0.95),
    (lambda lib, x: lib.special.ndtr(x), -5.0, 5.0),
    (lambda lib, x: lib.special.ndtri(x), 0.02, 0.98),
    (lambda lib, x: lib.special.log_ndtr(x), -20.0, 5.0),
    (lambda x: x.i0(), -4.0, 4.0),
    (lambda lib, x: lib.special.i0e(x), -12.0, 12.0),
    (lambda lib, x: lib.special.i1(x), -4.0, 4.0),
    (lambda lib, x: lib.special.i1e(x), -12.0, 12.0),
    (lambda lib, x: lib.special.entr(x), 0.1, 3.0),
    (lambda x: x.sinc(), -3.0, 3.0),
    (lambda x: x.logit(), 0.05, 0.95),
    (lambda x: x.logit(0.2), 0.0, 1.0),
    (lambda lib, x: lib.special.expit(x), -4.0, 4.0),
    (lambda x: x.mvlgamma(3), 1.2, 5.0),
])
def test_unary_gradients(fn, low, high):
    for (shape,) in SHAPES:
        check_op([shape], fn, low=low, high=high, dtypes=(np.float32,))
        # torch's trigamma (digamma's derivative) is good to ~5e-10 relative
        check_op([shape], fn, low=low, high=high, dtypes=(np.float64,), rtol=1e-8, atol=1e-10)


def test_polygamma_gradients():
    for n in (1, 2, 3):
        check_op([(3, 4)], lambda lib, x, n=n: lib.polygamma(n, x), low=0.3, high=5.0,
                 dtypes=(np.float64,), rtol=1e-8, atol=1e-10)
        check_op([(3, 4)], lambda x, n=n: x.polygamma(n), low=-2.7, high=-0.3,
                 dtypes=(np.float64,), rtol=1e-8, atol=1e-10)


def test_binary_gradients():
    check_op([(3, 4), (4,)], lambda lib, x, y: lib.special.xlogy(x, y), low=0.2, high=3.0)
    check_op([(3, 4), (3, 1)], lambda lib, x, y: lib.special.xlog1py(x, y), low=0.2, high=3.0)
    check_values([np.array([0.0, 0.0, 1.5]), np.array([2.0, 0.5, 2.0])],
                 lambda lib, x, y: lib.xlogy(x, y))
    # gradient in the second argument only, as torch
    for name in ("igamma", "igammac"):
        check_op([(3, 4), (3, 4)], lambda lib, a, x, name=name: getattr(lib, name)(a, x),
                 low=0.5, high=4.0, requires_grad=[False, True])
    check_op([(3, 4), (3, 4)], lambda lib, x, q: lib.special.zeta(x + 2.0, q), low=0.5, high=3.0,
             requires_grad=[False, True])


def test_missing_derivatives_raise_as_in_torch():
    a = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    x = ndgrad.tensor([0.5, 1.5])
    with pytest.raises(RuntimeError, match="the derivative for 'igamma: input' is not "
                                           "implemented"):
        ndgrad.igamma(a, x).sum().backward()
    with pytest.raises(RuntimeError, match="'igammac: input'"):
        ndgrad.igammac(a, x).sum().backward()
    with pytest.raises(RuntimeError, match="the derivative for 'zeta' is not implemented"):
        ndgrad.special.zeta(a + 1.0, x).sum().backward()


def test_functions_torch_does_not_differentiate():
    x = ndgrad.tensor([0.5, 1.5], requires_grad=True)
    tx = torch.tensor([0.5, 1.5], requires_grad=True)
    for name in ["bessel_j0", "bessel_y1", "modified_bessel_k0", "airy_ai",
                 "spherical_bessel_j0"]:
        assert not getattr(ndgrad.special, name)(x).requires_grad
        assert not getattr(torch.special, name)(tx).requires_grad


def test_argument_errors_and_inplace_forms():
    x = ndgrad.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="polygamma\\(n, x\\) does not support negative n"):
        x.polygamma(-1)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        x.mvlgamma(0)
    with pytest.raises(TypeError, match="must be int"):
        ndgrad.special.polygamma(1.5, x)
    for name, args in [("lgamma", ()), ("digamma", ()), ("polygamma", (2,)), ("erfc", ()),
                       ("erfinv", ()), ("i0", ()), ("sinc", ()), ("logit", (0.1,)),
                       ("mvlgamma", (1,))]:
        base = np.array([0.25, 0.5, 0.75])
        t, n = torch.tensor(base), ndgrad.tensor(base)
        assert getattr(n, name + "_")(*args) is n
        getattr(t, name + "_")(*args)
        np.testing.assert_allclose(n.numpy(), t.numpy(), rtol=1e-9)
    for name in ("xlogy", "igamma", "igammac"):
        t, n = torch.tensor([0.5, 2.0]), ndgrad.tensor([0.5, 2.0])
        getattr(t, name + "_")(torch.tensor([3.0, 0.5]))
        getattr(n, name + "_")(ndgrad.tensor([3.0, 0.5]))
        np.testing.assert_allclose(n.numpy(), t.numpy(), rtol=1e-5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ndgrad.tensor([1, 2]).lgamma_()


def test_aliases_and_reductions():
    x = np.array([[0.3, -1.2, 2.0], [4.0, 0.0, -0.5]])
    t, n = torch.tensor(x), ndgrad.tensor(x)
    pairs = [(torch.special.softmax(t, 1), ndgrad.special.softmax(n, 1)),
             (torch.special.log_softmax(t, 0), ndgrad.special.log_softmax(n, 0)),
             (torch.special.logsumexp(t, 1, keepdim=True),
              ndgrad.special.logsumexp(n, 1, keepdim=True)),
             (torch.special.round(t, decimals=1), ndgrad.special.round(n, decimals=1)),
             (torch.special.exp2(t), ndgrad.special.exp2(n)),
             (torch.special.expm1(t), ndgrad.special.expm1(n)),
             (torch.special.erf(t), ndgrad.special.erf(n)),
             (torch.special.log1p(t.abs()), ndgrad.special.log1p(n.abs()))]
    for tv, nv in pairs:
        _compare(tv, nv, 1e-12, 1e-15)
    out = ndgrad.empty(0, dtype=ndgrad.float64)
    res = ndgrad.special.erfcx(n, out=out)
    assert res is out and out.shape == (2, 3)


def test_special_is_an_attribute_after_a_bare_import():
    import subprocess
    import sys
    code = "import ndgrad; print(ndgrad.special.gammaln(ndgrad.tensor([5.0])).item())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert float(out) == pytest.approx(math.log(24.0))
