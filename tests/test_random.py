"""Random sampling with torch's API: generators, samplers, in-place fills, *_like and new_*.

Streams differ from torch's; distributions must not: each sampler is checked at a fixed seed
on 20,000 draws against its distribution's mean and variance (within 6 standard errors, so a
correct sampler passes at every seed and a wrong parameter fails), and argument errors against
torch's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ndgrad

N = 20_000


def moments_ok(x, mean, var):
    x = np.asarray(x, dtype=np.float64).ravel()
    se_mean = math.sqrt(var / x.size)
    assert abs(x.mean() - mean) < 6 * se_mean, (x.mean(), mean)
    # the sample variance's standard error, with a generous kurtosis allowance
    assert abs(x.var() - var) < 6 * var * math.sqrt(6 / x.size), (x.var(), var)


def test_generators():
    g = ndgrad.Generator()
    assert g.device == ndgrad.device("cpu")
    a = ndgrad.rand(5, generator=g.manual_seed(7))
    assert g.initial_seed() == 7
    state = g.get_state()
    b = ndgrad.rand(5, generator=g)
    g.set_state(state)
    assert ndgrad.equal(ndgrad.rand(5, generator=g), b)
    assert ndgrad.equal(ndgrad.rand(5, generator=ndgrad.Generator().manual_seed(7)), a)
    s = g.seed()
    assert g.initial_seed() == s and 0 <= s < 2**64
    with pytest.raises(ndgrad.DeviceUnavailableError):
        ndgrad.Generator(device="cuda")
    with pytest.raises(TypeError):
        g.manual_seed(1.5)
    g.manual_seed(-1)  # wraps, as torch's
    with pytest.raises(TypeError, match="Generator"):
        ndgrad.rand(2, generator=42)


def test_global_generator_and_manual_seed():
    g = ndgrad.manual_seed(3)
    assert g is ndgrad.default_generator and ndgrad.initial_seed() == 3
    a = ndgrad.randn(4)
    ndgrad.manual_seed(3)
    assert ndgrad.equal(ndgrad.randn(4), a)
    state = ndgrad.get_rng_state()
    with ndgrad.random.fork_rng():
        ndgrad.rand(10)
    assert ndgrad.get_rng_state() == state
    x = ndgrad.rand(3)
    ndgrad.set_rng_state(state)
    assert ndgrad.equal(ndgrad.rand(3), x)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_rand_randn_dtypes_and_keywords(dtype):
    d = getattr(ndgrad, dtype)
    g = ndgrad.Generator().manual_seed(0)
    u = ndgrad.rand(N, generator=g, dtype=d, requires_grad=True, device="cpu")
    assert u.dtype == d and u.requires_grad and u.is_leaf
    x = u.detach().numpy()
    assert (x >= 0).all() and (x < 1).all()
    moments_ok(x, 0.5, 1 / 12)
    z = ndgrad.randn(100, 200, generator=g, dtype=d)
    assert z.shape == (100, 200) and z.dtype == d
    moments_ok(z.numpy(), 0.0, 1.0)
    with pytest.raises(RuntimeError, match="floating point"):
        ndgrad.rand(2, dtype=ndgrad.int64)


def test_like_functions_take_torchs_keywords():
    x = ndgrad.zeros(3, 4, dtype=ndgrad.float64)
    g = ndgrad.Generator().manual_seed(1)
    for fn in (ndgrad.rand_like, ndgrad.randn_like):
        y = fn(x, generator=g, requires_grad=True, memory_format=None)
        assert y.shape == x.shape and y.dtype == ndgrad.float64 and y.requires_grad
        assert fn(x, dtype=ndgrad.float32).dtype == ndgrad.float32
    r = ndgrad.randint_like(x, 10, generator=g)
    assert r.dtype == ndgrad.float64 and r.min() >= 0 and r.max() < 10
    r = ndgrad.randint_like(x.long(), 3, 5)
    assert r.dtype == ndgrad.int64 and set(r.unique().tolist()) <= {3, 4}
    for fn in (ndgrad.zeros_like, ndgrad.ones_like, ndgrad.empty_like):
        y = fn(x, dtype=ndgrad.int32, memory_format=None, layout=ndgrad.strided)
        assert y.shape == x.shape and y.dtype == ndgrad.int32
    assert ndgrad.full_like(x, 7, requires_grad=True).requires_grad


def test_new_methods_as_torch():
    for lib in (ndgrad, torch):
        x = lib.ones(2, dtype=lib.float64)
        assert x.new_zeros(2, 3).shape == (2, 3) and x.new_zeros((2, 3)).dtype == lib.float64
        assert x.new_ones([4], dtype=lib.int32).dtype == lib.int32
        assert x.new_full((2,), 3).tolist() == [3.0, 3.0]
        assert x.new_empty(0).shape == (0,) and x.new_empty(2, requires_grad=True).requires_grad
        t = x.new_tensor([1, 2])
        assert t.dtype == lib.float64 and t.tolist() == [1.0, 2.0] and not t.requires_grad
        assert x.new_tensor([1, 2], dtype=lib.int64).dtype == lib.int64


def test_randint_forms():
    g = ndgrad.Generator().manual_seed(2)
    a = ndgrad.randint(10, (N,), generator=g)
    assert a.dtype == ndgrad.int64 and a.min() == 0 and a.max() == 9
    moments_ok(a.numpy(), 4.5, (10**2 - 1) / 12)
    b = ndgrad.randint(-3, 3, (5, 4), generator=g, dtype=ndgrad.float32)
    assert b.dtype == ndgrad.float32 and b.min() >= -3 and b.max() < 3
    assert ndgrad.randint(low=1, high=2, size=(3,)).tolist() == [1, 1, 1]
    with pytest.raises(RuntimeError, match="from=5 >= to=3"):
        ndgrad.randint(5, 3, (2,))


def test_randperm():
    g = ndgrad.Generator().manual_seed(3)
    p = ndgrad.randperm(50, generator=g)
    assert p.dtype == ndgrad.int64 and sorted(p.tolist()) == list(range(50))
    assert ndgrad.randperm(5, dtype=ndgrad.float64).dtype == ndgrad.float64
    assert ndgrad.randperm(0).shape == (0,)
    # each position is uniform over 0..n-1
    first = np.array([ndgrad.randperm(4, generator=g)[0].item() for _ in range(4000)])
    assert np.abs(np.bincount(first, minlength=4) / 4000 - 0.25).max() < 0.03
    with pytest.raises(RuntimeError, match="negative dimension"):
        ndgrad.randperm(-1)


def test_normal_overloads():
    g = ndgrad.Generator().manual_seed(4)
    a = ndgrad.normal(2.0, 3.0, (N,), generator=g)
    assert a.dtype == ndgrad.float32
    moments_ok(a.numpy(), 2.0, 9.0)
    assert ndgrad.normal(0.0, 1.0, size=(2,), dtype=ndgrad.float64).dtype == ndgrad.float64
    mean = ndgrad.full((N,), -1.0, dtype=ndgrad.float64)
    moments_ok(ndgrad.normal(mean, 0.5, generator=g).numpy(), -1.0, 0.25)
    moments_ok(ndgrad.normal(1.0, ndgrad.full((N,), 2.0), generator=g).numpy(), 1.0, 4.0)
    both = ndgrad.normal(ndgrad.zeros(N // 2, 1), ndgrad.tensor([1.0, 4.0]), generator=g)
    assert both.shape == (N // 2, 2)
    moments_ok(both[:, 1].numpy(), 0.0, 16.0)
    assert ndgrad.normal(ndgrad.ones(3), ndgrad.ones(3, dtype=ndgrad.float64)).dtype == \
        ndgrad.float32  # as torch's: the mean's dtype
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        ndgrad.normal(ndgrad.ones(1), ndgrad.tensor([-1.0]))
    with pytest.raises(RuntimeError, match="must match"):
        ndgrad.normal(ndgrad.ones(3), ndgrad.ones(2))
    with pytest.raises(TypeError, match="size"):
        ndgrad.normal(2.0, 3.0)


def test_samplers_have_zero_gradient_as_torch():
    for lib in (ndgrad, torch):
        m = lib.zeros(3, requires_grad=True)
        s = lib.ones(3, requires_grad=True)
        p = lib.full((3,), 0.5, requires_grad=True)
        r = lib.full((3,), 2.0, requires_grad=True)
        out = lib.normal(m, s).sum() + lib.bernoulli(p).sum() + lib.poisson(r).sum()
        out.backward()
        assert [t.grad.tolist() for t in (m, s, p, r)] == [[0.0] * 3] * 4
    assert not ndgrad.bernoulli(ndgrad.full((2,), 0.5)).requires_grad


def test_bernoulli_and_poisson():
    g = ndgrad.Generator().manual_seed(5)
    p = ndgrad.full((N,), 0.3, dtype=ndgrad.float64)
    b = ndgrad.bernoulli(p, generator=g)
    assert b.dtype == ndgrad.float64 and set(np.unique(b.numpy())) <= {0.0, 1.0}
    moments_ok(b.numpy(), 0.3, 0.21)
    moments_ok(ndgrad.bernoulli(ndgrad.zeros(N), 0.8, generator=g).numpy(), 0.8, 0.16)
    moments_ok(p.bernoulli(generator=g).numpy(), 0.3, 0.21)
    edges = ndgrad.bernoulli(ndgrad.tensor([0.0, 1.0] * 50))
    assert edges.tolist() == [0.0, 1.0] * 50
    for lib in (ndgrad, torch):
        with pytest.raises(RuntimeError, match="p_in >= 0"):
            lib.bernoulli(lib.tensor([1.5]))
        with pytest.raises(NotImplementedError):
            lib.bernoulli(lib.ones(2, dtype=lib.int64))
        with pytest.raises(RuntimeError, match="non-negative"):
            lib.poisson(lib.tensor([-1.0]))
    rate = ndgrad.full((N,), 4.5)
    c = ndgrad.poisson(rate, generator=g)
    assert c.dtype == ndgrad.float32
    moments_ok(c.numpy(), 4.5, 4.5)


def fill(method, *args, dtype=ndgrad.float64, **kwargs):
    x = ndgrad.empty(N, dtype=dtype)
    out = getattr(x, method)(*args, generator=ndgrad.Generator().manual_seed(6), **kwargs)
    assert out is x and x._version == 1
    return x.numpy()


def test_in_place_fills_follow_their_distributions():
    moments_ok(fill("uniform_", -2, 4), 1.0, 3.0)
    moments_ok(fill("uniform_", **{"from": -2, "to": 4}), 1.0, 3.0)
    moments_ok(fill("normal_", 3.0, 0.5), 3.0, 0.25)
    moments_ok(fill("exponential_", 2.0), 0.5, 0.25)
    geo = fill("geometric_", 0.25)
    assert geo.min() == 1
    moments_ok(geo, 4.0, 0.75 / 0.0625)
    logn = fill("log_normal_", 0.1, 0.4)
    moments_ok(np.log(logn), 0.1, 0.16)
    cauchy = fill("cauchy_", 1.0, 2.0)
    q1, q2, q3 = np.quantile(cauchy, [0.25, 0.5, 0.75])  # quartiles at median -+ sigma
    assert abs(q2 - 1.0) < 0.08 and abs(q1 + 1.0) < 0.12 and abs(q3 - 3.0) < 0.12
    moments_ok(fill("bernoulli_", 0.25), 0.25, 0.1875)
    probs = ndgrad.tensor([0.0, 1.0, 0.5] * (N // 3) + [0.5] * (N % 3), dtype=ndgrad.float64)
    b = fill("bernoulli_", probs)
    assert (b[0:-3:3] == 0).all() and (b[1:-3:3] == 1).all()
    moments_ok(b[2::3], 0.5, 0.25)
    assert ndgrad.ones(2, 3).bernoulli_(ndgrad.tensor([0.0, 1.0, 0.0])).tolist() == \
        [[0.0, 1.0, 0.0]] * 2


def test_random_fill_ranges_as_torch():
    r = fill("random_", 3, 7, dtype=ndgrad.int64)
    assert r.min() == 3 and r.max() == 6
    moments_ok(r, 4.5, (4**2 - 1) / 12)
    r = fill("random_", 5, dtype=ndgrad.int32)
    assert r.min() == 0 and r.max() == 4
    r = fill("random_", dtype=ndgrad.float32)
    assert r.max() <= 2**24 and r.max() > 2**23 and (r == np.round(r)).all()
    r = fill("random_", dtype=ndgrad.uint8)
    assert r.min() == 0 and r.max() == 255
    assert set(np.unique(fill("random_", dtype=ndgrad.bool))) == {False, True}
    assert set(np.unique(fill("random_", **{"to": 2}, dtype=ndgrad.int8))) == {0, 1}


def test_fill_errors_as_torch():
    for lib in (ndgrad, torch):
        env = {"x": lib.zeros(3)}
        for code, words in [("x.uniform_(2, 1)", "from=2 > to=1"), ("x.normal_(0, -1)", "std"),
                            ("x.exponential_(-1)", "lambda > 0.0"), ("x.geometric_(0)", "(0, 1)"),
                            ("x.bernoulli_(1.5)", "[0, 1]"),
                            ("x.random_(3, 3)", "from=3 >= to=3")]:
            with pytest.raises(RuntimeError, match=words.replace("(", r"\(").replace(")", r"\)")
                               .replace("[", r"\[").replace("]", r"\]")):
                eval(code, env)
        with pytest.raises(RuntimeError, match="out of bounds"):
            lib.zeros(3, dtype=lib.uint8).random_(300)


def test_fills_and_autograd_as_torch():
    for lib in (ndgrad, torch):
        w = lib.zeros(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable"):
            w.uniform_()
        with lib.no_grad():
            w.normal_()
        assert w.requires_grad and w.is_leaf
        y = w * 2
        y.normal_()  # the old value of y is overwritten: zero gradient flows to w
        (y * 3).sum().backward()
        assert w.grad.tolist() == [0.0, 0.0] and y.requires_grad


def test_multinomial_distribution():
    g = ndgrad.Generator().manual_seed(8)
    w = ndgrad.tensor([1.0, 0.0, 3.0])
    s = ndgrad.multinomial(w, N, replacement=True, generator=g)
    freq = np.bincount(s.numpy(), minlength=3) / N
    assert freq[1] == 0 and abs(freq[2] - 0.75) < 0.02


def test_out_on_samplers():
    o = ndgrad.empty(0, dtype=ndgrad.float64)
    assert ndgrad.rand(3, 2, out=o) is o and o.shape == (3, 2) and o.dtype == ndgrad.float64
    assert ndgrad.normal(0.0, 1.0, (4,), out=o) is o and o.shape == (4,)
    i = ndgrad.empty(0, dtype=ndgrad.int64)
    assert ndgrad.randperm(6, out=i) is i and sorted(i.tolist()) == list(range(6))
    assert ndgrad.randint(4, (5,), out=i) is i and i.shape == (5,)
