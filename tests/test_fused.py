"""The fused primitives (GELU, layer_norm, rms_norm, batch_norm, scaled_dot_product_attention,
embedding, Linear, Adam's update) against torch, on both paths: NumPy (the reference) and the numba
kernels (the ``ndgrad[fast]`` extra; skipped when numba is not installed)."""

from __future__ import annotations

import gc
import math
import warnings
import weakref

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op

import ndgrad
from ndgrad.ops import _numba
from ndgrad.ops._erf import erf


def F(lib):
    return lib.nn.functional


# -- erf and GELU -------------------------------------------------------------------------------
def test_erf_float32_within_1_5_ulp():
    x = np.concatenate([np.linspace(-5, 5, 20001), [0.874999, 0.875, 0.875001, 3.99, 4.0, 4.01],
                        np.logspace(-30, 0.7, 2000), -np.logspace(-30, 0.7, 2000)])
    x = x.astype(np.float32)
    ref = np.array([math.erf(float(v)) for v in x])
    got = erf(x)
    assert got.dtype == np.float32
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    assert (np.abs(got - ref) / ulp).max() <= 1.5
    special = erf(np.array([np.inf, -np.inf, np.nan, 0.0, -0.0] * 60, np.float32))[:5]
    np.testing.assert_array_equal(special[:2], [1, -1])
    assert np.isnan(special[2]) and special[3] == 0 and np.signbit(special[4])
    assert erf(np.ones(300, np.float16)).dtype == np.float16


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(path, approximate):
    check_op([(4, 6)], lambda lib, x: F(lib).gelu(x, approximate=approximate), low=-6, high=6)
    check_op([()], lambda lib, x: F(lib).gelu(x, approximate=approximate))
    check_op([(0, 3)], lambda lib, x: F(lib).gelu(x, approximate=approximate))
    # a transposed (non-contiguous) input takes the NumPy path even with numba
    check_op([(5, 3)], lambda lib, x: F(lib).gelu(x.t(), approximate=approximate))


def test_gelu_large_float32_batch_and_extremes(path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(20000) * 4, [0, -0.0, 1e-30, -40, 40, np.nan]])
    for dt in (np.float32, np.float64):
        xt = torch.tensor(x.astype(dt), requires_grad=True)
        xn = ndgrad.tensor(x.astype(dt), requires_grad=True)
        for approximate in ("none", "tanh"):
            tout = torch.nn.functional.gelu(xt, approximate=approximate)
            nout = F(ndgrad).gelu(xn, approximate=approximate)
            tol = dict(rtol=1e-6, atol=2e-6) if dt == np.float32 else {}
            assert_close(nout, tout, dt, "gelu", **tol)
            tg, = torch.autograd.grad(tout.sum(), xt)
            ng, = ndgrad.autograd.grad(nout.sum(), xn)
            assert_close(ng, tg, dt, "gelu grad", **tol)


# -- layer_norm and rms_norm --------------------------------------------------------------------
@pytest.mark.parametrize("xs, shape", [((2, 3, 8), (8,)), ((4, 6), (6,)), ((2, 3, 4), (3, 4)),
                                       ((5, 3), (3,)), ((0, 4), (4,))])
def test_layer_norm(path, xs, shape):
    check_op([xs, shape, shape], lambda lib, x, w, b: F(lib).layer_norm(x, shape, w, b))
    check_op([xs, shape], lambda lib, x, w: F(lib).layer_norm(x, shape, w, eps=1e-3))
    check_op([xs], lambda lib, x: F(lib).layer_norm(x, shape))


@pytest.mark.parametrize("xs, shape", [((2, 3, 8), (8,)), ((2, 3, 4), (3, 4)), ((0, 4), (4,))])
def test_rms_norm(path, xs, shape):
    check_op([xs, shape], lambda lib, x, w: F(lib).rms_norm(x, shape, w))
    check_op([xs], lambda lib, x: F(lib).rms_norm(x, shape, eps=1e-3))


# -- batch_norm ---------------------------------------------------------------------------------
_BN_SHAPES = [(6, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 4)]


@pytest.mark.parametrize("xs", _BN_SHAPES, ids=["2d", "3d", "4d", "5d"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm(path, xs, training, affine):
    """The fused BatchNorm against torch: output, running stats, gradients of x, weight and
    bias, and double backward; float64 tightly, float32 at check_op's tolerances."""
    c = xs[1]
    rng = np.random.default_rng(1)
    rm0, rv0 = rng.standard_normal(c), rng.random(c) + 0.5
    for dtype in (np.float32, np.float64):
        stats = {}

        def fn(lib, x, *wb, stats=stats, dtype=dtype):
            rm, rv = lib.tensor(rm0.astype(dtype)), lib.tensor(rv0.astype(dtype))
            stats[lib.__name__] = (rm, rv)
            return F(lib).batch_norm(x, rm, rv, *wb, training=training, momentum=0.3,
                                     eps=1e-4)

        check_op([xs, (c,), (c,)] if affine else [xs], fn, dtypes=(dtype,))
        for a, b in zip(stats["ndgrad"], stats["torch"]):
            assert_close(a, b, dtype)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False),
                                   (False, False, True), (False, True, True)])
def test_batch_norm_some_inputs_need_grad(path, training, needs):
    rm, rv = np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.5, 2.0])
    check_op([(4, 3, 2, 3), (3,), (3,)], lambda lib, x, w, b: F(lib).batch_norm(
        x, lib.tensor(rm), lib.tensor(rv), w, b, training=training), requires_grad=needs,
        dtypes=(np.float64,))


def test_batch_norm_edge_inputs(path):
    # non-contiguous input, a broadcast (non-contiguous) upstream gradient from sum, a channel
    # of one element per sample, a large mean in float32
    check_op([(5, 4, 3)], lambda lib, x: F(lib).batch_norm(
        x.transpose(0, 2), None, None, training=True))
    check_op([(5, 4, 3), (4,)], lambda lib, x, w: F(lib).batch_norm(
        x, None, None, w, training=True).sum(1))
    check_op([(5, 1)], lambda lib, x: F(lib).batch_norm(x, None, None, training=True))
    check_op([(8, 2, 16)], lambda lib, x: F(lib).batch_norm(
        x + 100, None, None, training=True), dtypes=(np.float32,), gradgrad=False)
    # an empty batch in evaluation gives an empty output and zero weight gradients
    w = ndgrad.ones(3, requires_grad=True)
    out = F(ndgrad).batch_norm(ndgrad.zeros(0, 3, 4), ndgrad.zeros(3), ndgrad.ones(3), w,
                               training=False)
    assert out.shape == (0, 3, 4)
    out.sum().backward()
    assert np.array_equal(w.grad.numpy(), np.zeros(3))


def test_batch_norm_empty_batch_in_training(path):
    """torch normalizes an empty batch to an empty output and leaves the running stats."""
    rm, rv = ndgrad.zeros(3), ndgrad.ones(3)
    x, w = ndgrad.zeros(0, 3, 4, requires_grad=True), ndgrad.ones(3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by the empty batch's size
        out = F(ndgrad).batch_norm(x, rm, rv, w, training=True)
        out.sum().backward()
    assert out.shape == (0, 3, 4) and x.grad.shape == (0, 3, 4)
    assert np.array_equal(w.grad.numpy(), np.zeros(3))
    assert np.array_equal(rm.numpy(), np.zeros(3)) and np.array_equal(rv.numpy(), np.ones(3))


@pytest.mark.parametrize("xs", [(2, 3, 5), (3, 2, 3, 4), (2, 2, 2, 3, 2)])
def test_instance_norm(path, xs):
    """instance_norm runs on the fused BatchNorm over (1, N * C, *spatial): values,
    gradients, double backward and running stats against torch."""
    c = xs[1]
    for dtype in (np.float32, np.float64):
        stats = {}

        def fn(lib, x, w, b, stats=stats, dtype=dtype):
            rm, rv = lib.zeros(c, dtype=x.dtype), lib.ones(c, dtype=x.dtype)
            stats[lib.__name__] = (rm, rv)
            return F(lib).instance_norm(x, rm, rv, w, b, momentum=0.2)

        check_op([xs, (c,), (c,)], fn, dtypes=(dtype,))
        for a, b in zip(stats["ndgrad"], stats["torch"]):
            assert_close(a, b, dtype)
    check_op([xs], lambda lib, x: F(lib).instance_norm(x))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F(ndgrad).instance_norm(ndgrad.randn(2, 3, 1))


def test_rms_norm_module_and_errors():
    torch.manual_seed(0)
    tm = torch.nn.RMSNorm((3, 4))
    nm = ndgrad.nn.RMSNorm((3, 4))
    assert repr(nm) == repr(tm)
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    assert_close(nm(ndgrad.tensor(x)), tm(torch.tensor(x)), np.float32)
    assert ndgrad.nn.RMSNorm(4, elementwise_affine=False).weight is None
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F(ndgrad).rms_norm(ndgrad.randn(2, 3), (4,))


# -- attention ----------------------------------------------------------------------------------
def _sdpa(**kw):
    return lambda lib, q, k, v: F(lib).scaled_dot_product_attention(q, k, v, **kw)


@pytest.mark.parametrize("lq, lk", [(5, 6), (6, 5), (1, 4)])
def test_sdpa_causal_and_scale(path, lq, lk):
    qkv = [(2, 3, lq, 4), (2, 3, lk, 4), (2, 3, lk, 7)]
    check_op(qkv, _sdpa(is_causal=True))
    check_op(qkv, _sdpa(scale=0.3))


def test_sdpa_masks(path):
    qkv = [(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7)]
    keep = np.random.default_rng(0).random((2, 1, 5, 6)) > 0.4
    keep[0, 0, 1] = False  # a query that may see no key: zeros and zero gradients
    check_op(qkv, lambda lib, q, k, v: F(lib).scaled_dot_product_attention(
        q, k, v, attn_mask=lib.tensor(keep)))
    # a float mask is added to the scores and gets a gradient, as in torch
    check_op(qkv + [(5, 6)], lambda lib, q, k, v, m: F(lib).scaled_dot_product_attention(
        q, k, v, attn_mask=m))
    check_op(qkv + [(2, 1, 1, 6)], lambda lib, q, k, v, m: F(lib).scaled_dot_product_attention(
        q, k, v, attn_mask=m))


def test_sdpa_shapes_and_gqa(path):
    check_op([(5, 4), (6, 4), (6, 7)], _sdpa(is_causal=True))
    check_op([(3, 1, 5, 4), (1, 2, 6, 4), (1, 2, 6, 7)], _sdpa())
    check_op([(2, 4, 5, 4), (2, 2, 6, 4), (2, 2, 6, 7)], _sdpa(enable_gqa=True))
    check_op([(2, 4, 5, 4), (2, 2, 6, 4), (2, 2, 6, 7), (4, 5, 6)],
             lambda lib, q, k, v, m: F(lib).scaled_dot_product_attention(q, k, v, attn_mask=m,
                                                                         enable_gqa=True))
    with pytest.raises(RuntimeError, match="multiple"):
        F(ndgrad).scaled_dot_product_attention(ndgrad.randn(1, 3, 2, 4), ndgrad.randn(1, 2, 2, 4),
                                               ndgrad.randn(1, 2, 2, 4), enable_gqa=True)
    with pytest.raises(RuntimeError, match="same dtype"):
        F(ndgrad).scaled_dot_product_attention(ndgrad.randn(2, 4), ndgrad.randn(2, 4).double(),
                                               ndgrad.randn(2, 4))


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "full"])
@pytest.mark.parametrize("qkv", [
    [(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7)], [(2, 3, 6, 4), (2, 3, 5, 4), (2, 3, 5, 4)],
    [(3, 40, 8), (3, 37, 8), (3, 37, 8)], [(5, 4), (6, 4), (6, 7)], [(1, 1, 1, 1)] * 3])
def test_sdpa_first_order_gradients(path, causal, qkv):
    """Gradients without create_graph, which take backward's array path (check_op's default
    create_graph takes the differentiable one): fewer or more queries than keys, 2-d to 4-d."""
    check_op(qkv, _sdpa(is_causal=causal), gradgrad=False)


def test_sdpa_first_order_gradients_with_masks(path):
    """The array path with a mask the kernels do not make themselves (bool, float with its own
    gradient), and scales of 0 and below (the softmax kernel finds the largest scaled score
    from the row's largest or smallest score); a key row of -inf masks a query row whole."""
    qkv = [(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7)]
    keep = np.random.default_rng(0).random((2, 1, 5, 6)) > 0.4
    keep[0, 0, 1] = False
    check_op(qkv, lambda lib, q, k, v: F(lib).scaled_dot_product_attention(
        q, k, v, attn_mask=lib.tensor(keep)), gradgrad=False)
    check_op(qkv + [(5, 6)], lambda lib, q, k, v, m: F(lib).scaled_dot_product_attention(
        q, k, v, attn_mask=m), gradgrad=False)
    check_op(qkv, _sdpa(is_causal=True, scale=0.0), gradgrad=False)
    for causal in (False, True):
        check_op(qkv, _sdpa(is_causal=causal, scale=-0.7), gradgrad=False, low=-3, high=3)
        check_op(qkv, _sdpa(is_causal=causal, scale=-0.7), grad=False, low=30, high=60)
    for lib in (ndgrad, torch):  # every score of query 0 is -inf: zeros, as torch gives
        q = lib.ones(1, 3, 2)
        q[0, 0] = float("-inf")
        out = F(lib).scaled_dot_product_attention(q, lib.ones(1, 4, 2), lib.ones(1, 4, 2))
        assert out[0, 1:].eq(1).all() and out[0, 0].eq(0).all()


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_with_empty_heads(path, causal):
    """E = 0: every score is 0 (an empty sum), so the weights are uniform over the keys the
    query may see; the default scale 1 / sqrt(0) must not turn them into nan."""
    check_op([(2, 3, 0), (2, 4, 0), (2, 4, 5)], _sdpa(is_causal=causal), gradgrad=False)


def test_sdpa_heads_split_from_one_projection(path):
    """q, k, v as GPT makes them: views of one (B, T, 3C) array, heads transposed out of it."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 3 * 16)).astype(np.float32)
    g = rng.standard_normal((2, 4, 9, 4)).astype(np.float32)

    def run(lib):
        t = lib.tensor(x, requires_grad=True)
        q, k, v = (a.view(2, 9, 4, 4).transpose(1, 2) for a in t.split(16, dim=2))
        out = F(lib).scaled_dot_product_attention(q, k, v, is_causal=True)
        out.backward(lib.tensor(g))
        return out, t.grad

    (no, ng), (to, tg) = run(ndgrad), run(torch)
    assert_close(no, to, np.float32)
    assert_close(ng, tg, np.float32)


def test_sdpa_gradients_are_laid_out_as_their_inputs(path):
    """dq, dk, dv of heads split off by view().transpose() are (B, T, h, d) in memory, as the
    inputs are, so the view's backward needs no copy; broadcast inputs get plain results."""
    t = ndgrad.randn(2, 5, 3 * 8, requires_grad=True)
    q, k, v = (a.view(2, 5, 2, 4).transpose(1, 2) for a in t.split(8, dim=2))
    grads = []
    for a in (q, k, v):
        a.register_hook(lambda g: grads.append(g))
    F(ndgrad).scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    assert len(grads) == 3
    for g in grads:
        assert g.shape == (2, 2, 5, 4) and g.numpy().transpose(0, 2, 1, 3).flags.c_contiguous
    q1 = ndgrad.randn(1, 5, 4, requires_grad=True)  # broadcast against k's and v's batch of 3
    k3, v3 = ndgrad.randn(3, 5, 4, requires_grad=True), ndgrad.randn(3, 5, 4, requires_grad=True)
    F(ndgrad).scaled_dot_product_attention(q1, k3, v3).sum().backward()
    assert q1.grad.shape == (1, 5, 4)


def test_sdpa_dropout_is_softmax_times_dropout_mask(path):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, 5, 4)).astype(np.float64) for _ in range(3))
    g = rng.standard_normal((2, 3, 5, 4))
    ndgrad.manual_seed(7)
    nq, nk, nv = (ndgrad.tensor(a, requires_grad=True) for a in (q, k, v))
    out = F(ndgrad).scaled_dot_product_attention(nq, nk, nv, dropout_p=0.3, is_causal=True)
    out.backward(ndgrad.tensor(g))
    ndgrad.manual_seed(7)  # the same draws: dropout's mask of the (2, 3, 5, 5) weights
    keep = F(ndgrad).dropout(ndgrad.ones(2, 3, 5, 5, dtype=ndgrad.float64), 0.3).numpy()
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    mask = torch.ones(5, 5, dtype=torch.bool).tril()
    scores = (tq @ tk.mT / 2).masked_fill(~mask, float("-inf"))
    ref = (scores.softmax(-1) * torch.tensor(keep)) @ tv
    ref.backward(torch.tensor(g))
    assert_close(out, ref)
    for n, t in ((nq, tq), (nk, tk), (nv, tv)):
        assert_close(n.grad, t.grad)


# -- embedding and linear -----------------------------------------------------------------------
def test_embedding_backward_sums_repeated_rows():
    ids = np.array([[1, 3, 3, 0], [2, 3, 1, 1]])
    for kw in ({}, {"padding_idx": 3}, {"scale_grad_by_freq": True}):
        # torch's double backward ignores scale_grad_by_freq; ndgrad's keeps the factor
        check_op([(5, 3)], lambda lib, w, kw=kw: F(lib).embedding(lib.tensor(ids), w, **kw),
                 gradgrad=not kw.get("scale_grad_by_freq"))
    check_op([(6, 3)], lambda lib, w: F(lib).embedding(lib.tensor(np.arange(6)[::-1].copy()), w))
    check_op([(5, 3)], lambda lib, w: F(lib).embedding(lib.tensor(2), w))
    check_op([(5, 3)], lambda lib, w: F(lib).embedding(lib.tensor(np.zeros((0, 2), np.int64)), w),
             gradgrad=False)


def test_linear_on_3d_and_strided_inputs():
    check_op([(2, 3, 4), (5, 4), (5,)], lambda lib, x, w, b: F(lib).linear(x, w, b))
    check_op([(4, 3, 2), (5, 4)], lambda lib, x, w: F(lib).linear(x.permute(2, 1, 0), w))
    check_op([(4,), (5, 4)], lambda lib, x, w: F(lib).linear(x, w))


# -- optimizers (Adam, SGD) ------------------------------------------------------------------------
def _step_both(name, kw, dtype, shapes, lr, steps):
    """ndgrad's and torch's optimizer ``name`` over the same parameters and random gradients:
    (ndgrad optimizer, torch optimizer, pairs of parameters) after ``steps`` steps."""
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    np_params = [ndgrad.tensor(a.copy(), requires_grad=True) for a in init]
    t_params = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    nopt = getattr(ndgrad.optim, name)(np_params, lr=lr, **kw)
    topt = getattr(torch.optim, name)(t_params, lr=lr, **kw)
    for _ in range(steps):
        grads = [rng.standard_normal(a.shape).astype(dtype) for a in init]
        for p, q, g in zip(np_params, t_params, grads):
            p.grad, q.grad = ndgrad.tensor(g), torch.tensor(g)
        nopt.step()
        topt.step()
    return nopt, topt, list(zip(np_params, t_params))


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls, kw", [
    ("AdamW", {"weight_decay": 0.1, "betas": (0.9, 0.99)}),
    ("Adam", {"weight_decay": 0.05, "amsgrad": True}),
    ("Adam", {"maximize": True, "betas": (0.3, 0.9)}),
])
def test_adam_update_matches_torch(path, dtype, cls, kw):
    nopt, topt, pairs = _step_both(cls, kw, dtype, ((4, 3), (3,)), 0.01, 20)
    for p, q in pairs:
        assert_close(p, q, dtype, "parameter", **_tol(dtype))
        for key in ("exp_avg", "exp_avg_sq"):
            assert_close(nopt.state[p][key], topt.state[q][key], dtype, key, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [
    {},
    {"momentum": 0.9, "nesterov": True},
    {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05},
    {"momentum": 0.5, "weight_decay": 0.1, "maximize": True, "nesterov": True},
    {"weight_decay": 0.1, "maximize": True},
])
def test_sgd_update_matches_torch(path, dtype, kw):
    nopt, topt, pairs = _step_both("SGD", kw, dtype, ((4, 3), (3,), ()), 0.05, 10)
    for p, q in pairs:
        assert_close(p, q, dtype, "parameter", **_tol(dtype))
        if kw.get("momentum"):
            assert_close(nopt.state[p]["momentum_buffer"], topt.state[q]["momentum_buffer"],
                         dtype, "momentum_buffer", **_tol(dtype))


# -- memory -------------------------------------------------------------------------------------
def test_backward_frees_activations_while_the_loss_lives():
    """A node must not keep what forward saved once backward has run: the loss of a training
    step usually stays alive until the next step's replaces it."""
    x = ndgrad.randn(50, 50, requires_grad=True)
    hidden = F(ndgrad).gelu(x * 2)
    ref = weakref.ref(hidden._data)
    loss = F(ndgrad).layer_norm(hidden, (50,)).exp().sum()
    del hidden
    loss.backward()
    gc.collect()
    assert ref() is None
    assert loss.item()


def test_numba_asked_for_512_bit_vectors_only_on_avx512(monkeypatch):
    """The 512-bit request is made for AVX-512 CPUs alone, and never over the user's setting."""
    if not _numba.available():
        pytest.skip("numba is not installed (pip install ndgrad[fast])")
    from numba.core import codegen, config

    monkeypatch.setattr(config, "CPU_FEATURES", None)
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    monkeypatch.setattr(codegen, "get_host_cpu_features", lambda: "+avx2,+fma")
    _numba._prefer_512_bit_vectors()
    assert config.CPU_FEATURES is None
    monkeypatch.setattr(codegen, "get_host_cpu_features", lambda: "+avx2,+avx512f")
    monkeypatch.setenv("NUMBA_CPU_FEATURES", "+avx2")
    _numba._prefer_512_bit_vectors()
    assert config.CPU_FEATURES is None
    monkeypatch.delenv("NUMBA_CPU_FEATURES")
    _numba._prefer_512_bit_vectors()
    assert config.CPU_FEATURES == "+avx2,+avx512f,-prefer-256-bit"
