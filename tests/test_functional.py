"""ndgrad.nn.functional against torch.nn.functional: forward, gradients, double backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.nn.functional  # noqa: F401  (ndgrad.nn as an attribute)
from tests.helpers import assert_close, check_op

NF = ndgrad.nn.functional


def F(lib):
    return lib.nn.functional


def idx(*values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# -- linear ----------------------------------------------------------------------------------
@pytest.mark.parametrize("xs", [(5, 4), (2, 3, 4), (4,)])
def test_linear(xs):
    check_op([xs, (3, 4), (3,)], lambda lib, x, w, b: F(lib).linear(x, w, b))
    check_op([xs, (3, 4)], lambda lib, x, w: F(lib).linear(x, w))
    check_op([xs, (3, 4), (3,)], lambda lib, x, w, b: F(lib).linear(x, w, b), gradgrad=False)
    for rg in ([True, False, False], [False, True, False], [False, False, True]):
        check_op([xs, (3, 4), (3,)], lambda lib, x, w, b: F(lib).linear(x, w, b),
                 requires_grad=rg)  # backward skips what is not needed


def test_linear_input_without_grad_and_errors():
    check_op([(5, 4), (3, 4), (3,)], lambda lib, x, w, b: F(lib).linear(x, w, b),
             requires_grad=[False, True, True])
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(5x4 "
                                           r"and 3x2\)"):
        NF.linear(ndgrad.randn(5, 4), ndgrad.randn(2, 3))


# -- activations -----------------------------------------------------------------------------
ACTIVATIONS = {
    "relu": lambda lib, x: F(lib).relu(x),
    "relu6": lambda lib, x: F(lib).relu6(x * 4),
    "leaky_relu": lambda lib, x: F(lib).leaky_relu(x, 0.2),
    "elu": lambda lib, x: F(lib).elu(x, alpha=1.5),
    "selu": lambda lib, x: F(lib).selu(x),
    "celu": lambda lib, x: F(lib).celu(x, alpha=0.5),  # torch's 1/alpha is a float: keep exact
    "gelu": lambda lib, x: F(lib).gelu(x),
    "gelu_tanh": lambda lib, x: F(lib).gelu(x, approximate="tanh"),
    "silu": lambda lib, x: F(lib).silu(x),
    "softplus": lambda lib, x: F(lib).softplus(x),
    "softplus_beta": lambda lib, x: F(lib).softplus(x * 10, beta=2, threshold=5),
    "mish": lambda lib, x: F(lib).mish(x),
    "hardtanh": lambda lib, x: F(lib).hardtanh(x, -0.5, 1.0),
    "hardswish": lambda lib, x: F(lib).hardswish(x * 4),
    "sigmoid": lambda lib, x: F(lib).sigmoid(x),
    "tanh": lambda lib, x: F(lib).tanh(x),
    "logsigmoid": lambda lib, x: F(lib).logsigmoid(x * 30),
    "softsign": lambda lib, x: F(lib).softsign(x),
    "tanhshrink": lambda lib, x: F(lib).tanhshrink(x),
    "glu": lambda lib, x: F(lib).glu(x, -1),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(name):
    check_op([(4, 6)], ACTIVATIONS[name])


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "elu", "hardtanh", "softplus",
                                  "gelu", "silu", "mish", "celu", "hardswish"])
def test_activation_at_kinks_and_extremes(name):
    # exact kinks (0, the hardtanh bounds) and values where exp would overflow; first order
    # only: at a kink torch's second derivatives are arbitrary (elu's is 0 at x = 0 though its
    # first uses the x <= 0 branch) and mish's is nan at 800, where ours is finite
    x = np.array([[0.0, -0.5, 1.0, 6.0, 1.5], [-1.0, 0.25, -800.0, 800.0, 30.0]])
    for dtype in (np.float32, np.float64):
        check_op([x.astype(dtype)], ACTIVATIONS[name], dtypes=(dtype,), gradgrad=False)


PIECEWISE = {
    "relu": lambda lib, x: F(lib).relu(x),
    "relu6": lambda lib, x: F(lib).relu6(x),
    "hardtanh": lambda lib, x: F(lib).hardtanh(x, -0.0, 1.0),
    "hardsigmoid": lambda lib, x: F(lib).hardsigmoid(x),
    "leaky_relu": lambda lib, x: F(lib).leaky_relu(x, 0.1),
    "elu": lambda lib, x: F(lib).elu(x, alpha=1.5),
    "celu": lambda lib, x: F(lib).celu(x, alpha=0.5),
    "selu": lambda lib, x: F(lib).selu(x),
    "hardswish": lambda lib, x: F(lib).hardswish(x),
    "clamp": lambda lib, x: x.clamp(-1.0, 0.0),
    "clamp_min": lambda lib, x: x.clamp(min=0.0),
    "clamp_max": lambda lib, x: x.clamp(max=-0.0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", PIECEWISE)
def test_piecewise_activations_at_nan_signed_zero_and_inf(name, dtype):
    # Values, signs of zeros (relu(-0.0) is -0.0: a value equal to a bound is kept) and
    # gradients all agree with torch. At nan, torch's vectorized kernels and its scalar loop for
    # the last few elements disagree (hardtanh's gradient is 0 in one, 1 in the other); we
    # follow the vectorized one, which tensors take, so only the first 64 elements are compared.
    vals = np.array([np.nan, -0.0, 0.0, -1.0, 1.0, 6.0, 7.0, -3.0, 3.0, 100.0, -100.0, np.inf,
                     -np.inf, 0.5, -0.5, 2.0], dtype=dtype)
    vals = np.tile(vals, 8)
    got = []
    for lib in (torch, ndgrad):
        x = lib.tensor(vals, requires_grad=True)
        with np.errstate(all="ignore"):
            out = PIECEWISE[name](lib, x)
            out.sum().backward()
        got.append((out.detach().numpy()[:64], x.grad.numpy()[:64]))
    (t_out, t_grad), (n_out, n_grad) = got
    rtol = 5e-5 if dtype == np.float32 else 1e-7  # torch rounds 1/6 (hardsigmoid), 1/alpha (celu)
    for a, b in ((n_out, t_out), (n_grad, t_grad)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-30, equal_nan=True)
        zero = b == 0
        np.testing.assert_array_equal(np.signbit(a[zero]), np.signbit(b[zero]))


def test_prelu_threshold_pairwise_distance():
    check_op([(4, 3, 5), (3,)], lambda lib, x, w: F(lib).prelu(x, w))
    check_op([(4, 3), (1,)], lambda lib, x, w: F(lib).prelu(x, w))
    check_op([(4, 6)], lambda lib, x: F(lib).threshold(x, 0.3, -2.0))
    check_op([(4, 6), (4, 6)], lambda lib, a, b: F(lib).pairwise_distance(a, b))
    check_op([(4, 6), (4, 6)], lambda lib, a, b: F(lib).pairwise_distance(a, b, p=1.0,
                                                                          keepdim=True))


def test_hardsigmoid():
    # torch's backward multiplies by 1/6 rounded to float32
    check_op([(4, 6)], lambda lib, x: F(lib).hardsigmoid(x * 4), dtypes=(np.float32,),
             gradgrad=False)
    check_op([(4, 6)], lambda lib, x: F(lib).hardsigmoid(x * 4), dtypes=(np.float64,),
             rtol=1e-7, atol=1e-9, gradgrad=False)  # torch has no double backward for it
    check_op([np.array([-3.0, 3.0, 0.0, -4.0, 4.0])], lambda lib, x: F(lib).hardsigmoid(x),
             dtypes=(np.float64,), rtol=1e-7, atol=1e-9, gradgrad=False)


def test_inplace_activations():
    for fn in (lambda lib, x: F(lib).relu(x * 1, inplace=True),
               lambda lib, x: F(lib).leaky_relu(x * 1, 0.1, inplace=True),
               lambda lib, x: F(lib).elu(x * 1, inplace=True),
               lambda lib, x: F(lib).hardtanh(x * 1, inplace=True),
               lambda lib, x: F(lib).silu(x * 1, inplace=True)):
        check_op([(3, 4)], fn)
    x = ndgrad.tensor([-1.0, 2.0])
    assert NF.relu(x, inplace=True) is x and x.tolist() == [0.0, 2.0]
    with pytest.raises(RuntimeError, match="approximate"):
        NF.gelu(x, approximate="fast")


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(dim):
    check_op([(3, 5, 4)], lambda lib, x: F(lib).softmax(x * 3, dim))
    check_op([(3, 5, 4)], lambda lib, x: F(lib).log_softmax(x * 3, dim))
    check_op([(3, 5, 4)], lambda lib, x: F(lib).softmin(x, dim))
    check_op([(3, 5, 4)], lambda lib, x: x.softmax(dim))
    check_op([(3, 5, 4)], lambda lib, x: x.log_softmax(dim))


def test_softmax_stability_dtype_and_default_dim():
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]])
    check_op([x], lambda lib, x: F(lib).log_softmax(x, 1), dtypes=(np.float64,))
    check_op([x], lambda lib, x: F(lib).softmax(x, 1), dtypes=(np.float64,))
    out = NF.log_softmax(ndgrad.tensor(x), 1)
    assert np.isfinite(out.numpy()).all()
    check_op([(3, 4)], lambda lib, x: F(lib).softmax(x, 1, dtype=lib.float64),
             dtypes=(np.float32,))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        nd = NF.softmax(ndgrad.tensor(x))
    with pytest.warns(UserWarning):
        tt = torch.nn.functional.softmax(torch.tensor(x))
    assert_close(nd, tt)
    check_op([()], lambda lib, x: F(lib).softmax(x, 0))
    with pytest.raises(RuntimeError, match="not implemented for"):
        NF.softmax(ndgrad.tensor([1, 2]), 0)


# -- dropout ---------------------------------------------------------------------------------
def test_dropout_statistics_and_scaling():
    x = ndgrad.ones(200, 500, requires_grad=True)
    y = NF.dropout(x, 0.3)
    kept = y.numpy(force=True) != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.numpy(force=True)[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy(force=True), rtol=1e-6)
    assert y.dtype == ndgrad.float32


def test_dropout_modes_and_seed():
    x = ndgrad.randn(4, 5)
    assert NF.dropout(x, 0.5, training=False) is x
    assert NF.dropout(x, 0.0) is x
    assert not NF.dropout(x, 1.0).numpy().any()
    ndgrad.manual_seed(3)
    a = NF.dropout(x, 0.5)
    ndgrad.manual_seed(3)
    b = NF.dropout(x, 0.5)
    assert np.array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="between 0 and 1"):
        NF.dropout(x, 1.5)
    z = ndgrad.ones(50, 40, 2, 2)
    d = NF.dropout2d(z, 0.5).numpy()
    per_channel = d.reshape(50, 40, 4)
    assert (per_channel.min(2) == per_channel.max(2)).all()  # whole channels kept or dropped
    assert set(np.unique(d)) <= {0.0, 2.0}


# -- normalization ---------------------------------------------------------------------------
@pytest.mark.parametrize("xs", [(6, 3), (4, 3, 5), (4, 3, 2, 5)])
def test_batch_norm_training_updates_running_stats(xs):
    c = xs[1]
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        rm0, rv0 = rng.standard_normal(c).astype(dtype), rng.random(c).astype(dtype) + 0.5
        stats = {}

        def fn(lib, x, w, b, rm0=rm0, rv0=rv0, stats=stats):
            rm, rv = lib.tensor(rm0.copy()), lib.tensor(rv0.copy())
            out = F(lib).batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, eps=1e-3)
            stats[lib.__name__] = (rm, rv)
            return out

        check_op([xs, (c,), (c,)], fn, dtypes=(dtype,))
        for a, b in zip(stats["ndgrad"], stats["torch"]):
            assert_close(a, b, dtype)


def test_batch_norm_eval_and_no_affine():
    rm, rv = np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.5, 2.0])
    check_op([(4, 3, 5), (3,), (3,)], lambda lib, x, w, b: F(lib).batch_norm(
        x, lib.tensor(rm), lib.tensor(rv), w, b, training=False), dtypes=(np.float64,))
    check_op([(4, 3, 5)], lambda lib, x: F(lib).batch_norm(x, None, None, training=True))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        NF.batch_norm(ndgrad.randn(1, 3), None, None, training=True)


def test_batch_norm_running_stats_in_place():
    """forward writes the running stats in place and bumps their versions, as torch's; stats
    that require grad are refused, as by torch (it cannot differentiate through them)."""
    rm, rv = ndgrad.zeros(3), ndgrad.ones(3)
    data = rm._data
    NF.batch_norm(ndgrad.randn(4, 3, 2), rm, rv, training=True)
    assert rm._data is data and rm._version == 1 and rv._version == 1
    assert rm.abs().sum().item() > 0
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument "
                                           "'running_mean'"):
        NF.batch_norm(ndgrad.randn(4, 3), ndgrad.zeros(3, requires_grad=True), rv)
    with ndgrad.no_grad():  # allowed without grad mode, as in torch
        NF.batch_norm(ndgrad.randn(4, 3), ndgrad.zeros(3, requires_grad=True), rv)
    with pytest.raises(ValueError, match="eps must be positive during training"):
        NF.batch_norm(ndgrad.randn(4, 3), rm, rv, training=True, eps=0.0)
    with pytest.raises(ValueError, match="eps must be non-negative"):
        NF.batch_norm(ndgrad.randn(4, 3), rm, rv, eps=-1.0)


@pytest.mark.parametrize("xs,shape", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((2, 3, 4), (4,))])
def test_layer_norm(xs, shape):
    check_op([xs, shape, shape], lambda lib, x, w, b: F(lib).layer_norm(x, shape, w, b))
    check_op([xs], lambda lib, x: F(lib).layer_norm(x, shape, eps=1e-3))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        NF.layer_norm(ndgrad.randn(2, 3), (4,))


def test_group_norm_instance_norm():
    check_op([(2, 6, 4, 3), (6,), (6,)], lambda lib, x, w, b: F(lib).group_norm(x, 3, w, b))
    check_op([(2, 6, 5)], lambda lib, x: F(lib).group_norm(x, 2, eps=1e-3))
    check_op([(2, 3, 4, 5)], lambda lib, x: F(lib).instance_norm(x))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        NF.group_norm(ndgrad.randn(2, 6, 4), 4)


def test_normalize_cosine_similarity():
    check_op([(4, 5)], lambda lib, x: F(lib).normalize(x))
    check_op([(4, 5, 3)], lambda lib, x: F(lib).normalize(x, p=1.0, dim=-1))
    check_op([(4, 5)], lambda lib, x: F(lib).normalize(x, p=3.0, dim=0))
    zero = np.zeros((2, 3))
    zero[1] = [1.0, 2.0, 2.0]
    # a zero row: torch's double backward is nan there, its first backward finite
    check_op([zero], lambda lib, x: F(lib).normalize(x, dim=1), dtypes=(np.float64,),
             gradgrad=False)
    check_op([(4, 5), (4, 5)], lambda lib, a, b: F(lib).cosine_similarity(a, b))
    check_op([(4, 5), (1, 5)], lambda lib, a, b: F(lib).cosine_similarity(a, b, dim=-1))
    check_op([(3, 4, 2), (3, 4, 2)], lambda lib, a, b: F(lib).cosine_similarity(a, b, 0))


# -- embedding, one_hot, pad -----------------------------------------------------------------
def test_embedding():
    ids = idx(1, 3, 3, 0, 4, 1)
    check_op([(5, 3), ids], lambda lib, w, i: F(lib).embedding(i, w))
    check_op([(5, 3), ids.reshape(2, 3)], lambda lib, w, i: F(lib).embedding(i, w))
    check_op([(5, 3), ids], lambda lib, w, i: F(lib).embedding(i, w, padding_idx=3))
    check_op([(5, 3), ids], lambda lib, w, i: F(lib).embedding(i, w, padding_idx=-1))
    # torch's double backward ignores scale_grad_by_freq: compare first order only
    check_op([(5, 3), ids], lambda lib, w, i: F(lib).embedding(i, w, scale_grad_by_freq=True),
             gradgrad=False)
    with pytest.raises(IndexError, match="index out of range"):
        NF.embedding(ndgrad.tensor([5]), ndgrad.randn(5, 3))
    with pytest.raises(RuntimeError, match="Long, Int"):
        NF.embedding(ndgrad.tensor([1.0]), ndgrad.randn(5, 3))


def test_embedding_max_norm_renormalizes_in_place():
    w = np.random.default_rng(0).standard_normal((5, 4)) * 3
    nw, tw = ndgrad.tensor(w), torch.tensor(w)
    ids = [0, 2, 2]
    out_n = NF.embedding(ndgrad.tensor(ids), nw, max_norm=1.0)
    out_t = torch.nn.functional.embedding(torch.tensor(ids), tw, max_norm=1.0)
    assert_close(out_n, out_t, rtol=1e-6, atol=1e-7)
    assert_close(nw, tw, rtol=1e-6, atol=1e-7)


def test_one_hot():
    t = torch.tensor([[0, 2], [1, 4]])
    n = ndgrad.tensor([[0, 2], [1, 4]])
    assert_close(NF.one_hot(n), torch.nn.functional.one_hot(t))
    assert_close(NF.one_hot(n, 7), torch.nn.functional.one_hot(t, 7))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        NF.one_hot(n, 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        NF.one_hot(ndgrad.tensor([-1]), 3)
    with pytest.raises(RuntimeError, match="LongTensor"):
        NF.one_hot(ndgrad.tensor([1.0]), 3)


@pytest.mark.parametrize("pads,mode", [
    ((1, 2), "constant"), ((1, 0, 2, 3), "constant"), ((-1, 2, 0, -2), "constant"),
    ((3, 1, 2, 0, 1, 1, 0, 1), "constant"),
    ((1, 2), "reflect"), ((2, 1, 1, 2), "reflect"), ((1, 2), "replicate"),
    ((2, 2, 1, 3), "replicate"), ((1, 2), "circular"), ((2, 1, 3, 0), "circular"),
])
def test_pad(pads, mode):
    shape = (3, 4, 5) if len(pads) == 2 and mode != "constant" else (2, 3, 4, 5)
    check_op([shape], lambda lib, x: F(lib).pad(x, pads, mode=mode))


def test_pad_value_and_errors():
    check_op([(2, 3)], lambda lib, x: F(lib).pad(x, (1, 1, 2, 0), value=-3.5))
    with pytest.raises(RuntimeError, match="divisible by 2"):
        NF.pad(ndgrad.randn(2, 3), (1,))
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        NF.pad(ndgrad.randn(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D"):
        NF.pad(ndgrad.randn(1, 2, 3, 3), (1, 0), mode="reflect")


# -- attention -------------------------------------------------------------------------------
def test_scaled_dot_product_attention():
    q, k, v = (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)

    def sdpa(**kw):
        return lambda lib, q, k, v: F(lib).scaled_dot_product_attention(q, k, v, **kw)

    check_op([q, k, v], sdpa())
    check_op([q, k, v], sdpa(scale=0.3))
    check_op([q, q, (2, 3, 4, 7)], sdpa(is_causal=True))
    check_op([q, k, v, (4, 6)],
             lambda lib, q, k, v, m: F(lib).scaled_dot_product_attention(q, k, v, attn_mask=m))
    mask = np.random.default_rng(1).random((4, 6)) > 0.3
    mask[:, 0] = True  # every query sees at least one key
    check_op([q, k, v, mask],
             lambda lib, q, k, v, m: F(lib).scaled_dot_product_attention(q, k, v, attn_mask=m))


def test_sdpa_gqa_and_dropout():
    # torch's fused CPU kernel has no double backward here
    check_op([(1, 4, 3, 5), (1, 2, 6, 5), (1, 2, 6, 5)],
             lambda lib, q, k, v: F(lib).scaled_dot_product_attention(q, k, v, enable_gqa=True),
             gradgrad=False)
    q = ndgrad.randn(2, 8, 5)
    out = NF.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert out.shape == (2, 8, 5)
    with pytest.raises(RuntimeError, match="is_causal"):
        NF.scaled_dot_product_attention(q, q, q, attn_mask=ndgrad.ones(8, 8), is_causal=True)


# -- cross entropy and nll -------------------------------------------------------------------
CE_CASES = [
    ((6, 5), idx(0, 4, 2, 2, 1, 3), {}),
    ((6, 5), idx(0, 4, 2, 2, 1, 3), dict(reduction="sum")),
    ((6, 5), idx(0, 4, 2, 2, 1, 3), dict(reduction="none")),
    ((6, 5), idx(0, 4, -100, 2, 1, -100), {}),
    ((6, 5), idx(0, 4, 2, 2, 1, 3), dict(ignore_index=2, reduction="sum")),
    ((6, 5), idx(0, 4, 2, 2, 1, 3), dict(label_smoothing=0.2)),
    ((6, 5), idx(0, 4, 7, 2, 1, 7), dict(label_smoothing=0.1, ignore_index=7)),
    ((6, 5), idx(0, 4, 7, 2, 1, 7), dict(label_smoothing=0.3, ignore_index=7,
                                         reduction="none")),
    ((2, 5, 3), idx(0, 4, 2, 1, 1, 3).reshape(2, 3), {}),
    ((2, 5, 3, 2), np.arange(12).reshape(2, 3, 2) % 5, dict(reduction="none")),
    ((5,), np.array(3), {}),
]
WEIGHT = np.array([0.5, 2.0, 1.0, 1.5, 0.25])


@pytest.mark.parametrize("xs,target,kw", CE_CASES)
def test_cross_entropy(xs, target, kw):
    def fn(lib, x, t):
        return F(lib).cross_entropy(x * 2, t, **kw)

    check_op([xs, target], fn)
    check_op([xs, target], fn, gradgrad=False)  # the NumPy backward


@pytest.mark.parametrize("xs,target,kw", CE_CASES)
def test_cross_entropy_weighted(xs, target, kw):
    def fn(lib, x, t):
        w = lib.tensor(WEIGHT, dtype=x.dtype)
        return F(lib).cross_entropy(x * 2, t, weight=w, **kw)

    check_op([xs, target], fn)
    check_op([xs, target], fn, gradgrad=False)


@pytest.mark.parametrize("kw", [{}, dict(reduction="sum"), dict(reduction="none"),
                                dict(label_smoothing=0.25)])
def test_cross_entropy_probability_targets(kw):
    probs = np.random.default_rng(2).dirichlet(np.ones(5), size=(4, 3)).transpose(0, 2, 1)

    def fn(lib, x, p):
        return F(lib).cross_entropy(x, p, **kw)

    check_op([(4, 5, 3), probs], fn)
    check_op([(4, 5), probs[:, :, 0]],
             lambda lib, x, p: F(lib).cross_entropy(x, p, weight=lib.tensor(
                 WEIGHT, dtype=x.dtype), **kw))


def test_cross_entropy_stable_for_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [0.0, 5e3, 5e3]])
    check_op([x, idx(2, 0)], lambda lib, x, t: F(lib).cross_entropy(x, t),
             dtypes=(np.float64,))
    check_op([x.astype(np.float32), idx(2, 0)], lambda lib, x, t: F(lib).cross_entropy(x, t),
             dtypes=(np.float32,), gradgrad=False)


def test_cross_entropy_errors_and_legacy_reduction():
    x = ndgrad.randn(3, 4)
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        NF.cross_entropy(x, ndgrad.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match="batch_size"):
        NF.cross_entropy(x, ndgrad.tensor([0, 1]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        NF.cross_entropy(x, ndgrad.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(RuntimeError, match="label_smoothing"):
        NF.cross_entropy(x, ndgrad.tensor([0, 1, 2]), label_smoothing=1.5)
    check_op([(3, 4), idx(0, 3, 1)],
             lambda lib, x, t: F(lib).cross_entropy(x, t, size_average=False))
    check_op([(3, 4), idx(0, 3, 1)],
             lambda lib, x, t: F(lib).cross_entropy(x, t, reduce=False))
    # the legacy flags warn as torch's functions do, naming the reduction they mean
    for kw, meant in (({"size_average": False}, "sum"), ({"reduce": False}, "none"),
                      ({"size_average": True}, "mean")):
        for lib in (torch, ndgrad):
            with pytest.warns(UserWarning, match=f"please use reduction='{meant}' instead"):
                F(lib).mse_loss(lib.ones(2), lib.zeros(2), **kw)


def test_cross_entropy_all_targets_ignored():
    # mean over no targets: nan loss, zero gradient, as torch; no NumPy warning
    check_op([(3, 4), idx(-100, -100, -100)], lambda lib, x, t: F(lib).cross_entropy(x, t))
    check_op([(3, 4), idx(-100, -100, -100)], lambda lib, x, t: F(lib).cross_entropy(x, t),
             gradgrad=False)


def test_cross_entropy_grad_is_softmax_minus_onehot():
    x = ndgrad.randn(8, 10, requires_grad=True)
    t = ndgrad.randint(0, 10, (8,))
    NF.cross_entropy(x, t).backward()
    p = NF.softmax(x.detach(), 1).numpy()
    p[np.arange(8), t.numpy()] -= 1
    np.testing.assert_allclose(x.grad.numpy(), p / 8, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("xs,target,kw", [
    ((6, 5), idx(0, 4, 2, 2, 1, 3), {}),
    ((6, 5), idx(0, 4, 2, 2, 1, 3), dict(weight="w", reduction="sum")),
    ((6, 5), idx(0, -100, 2, 2, 1, 3), dict(weight="w")),
    ((6, 5), idx(0, 4, 2, 2, 1, 3), dict(ignore_index=2, reduction="none")),
    ((2, 5, 3), idx(0, 4, 2, 1, 1, 3).reshape(2, 3), dict(weight="w")),
    ((5,), np.array(1), {}),
    # every target ignored: the mean is nan, the gradient exactly 0 (torch skips those rows)
    ((4, 3), idx(1, 1, 1, 1), dict(ignore_index=1)),
    ((0, 3), idx(), dict(reduction="sum")),
])
def test_nll_loss(xs, target, kw):
    def fn(lib, x, t):
        args = dict(kw)
        if args.get("weight") == "w":
            args["weight"] = lib.tensor(WEIGHT, dtype=x.dtype)
        return F(lib).nll_loss(F(lib).log_softmax(x, 1 if x.ndim > 1 else 0), t, **args)

    check_op([xs, target], fn)


# -- regression and binary losses ------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_losses(reduction):
    r = dict(reduction=reduction)
    check_op([(4, 5), (4, 5)], lambda lib, x, y: F(lib).mse_loss(x, y, **r))
    check_op([(4, 5), (4, 5)], lambda lib, x, y: F(lib).l1_loss(x, y, **r))
    check_op([(4, 5), (4, 5)], lambda lib, x, y: F(lib).smooth_l1_loss(x, y, beta=0.7, **r))
    check_op([(4, 5), (4, 5)], lambda lib, x, y: F(lib).smooth_l1_loss(x, y, beta=0.0, **r))
    check_op([(4, 5), (4, 5)], lambda lib, x, y: F(lib).huber_loss(x, y, delta=0.6, **r))
    check_op([(4, 5), (4, 5), (4, 5)],
             lambda lib, x, y, w: F(lib).mse_loss(x, y, weight=w.abs(), **r))
    check_op([(4, 5), (4, 5), (4, 5)],
             lambda lib, x, y, w: F(lib).huber_loss(x, y, weight=w.abs(), **r))
    check_op([(4, 5), (4, 5), (4, 5)],
             lambda lib, x, y, w: F(lib).l1_loss(x, y, weight=w.abs(), **r))


def test_pointwise_losses_broadcast_warning():
    with pytest.warns(UserWarning, match="target size"):
        NF.mse_loss(ndgrad.randn(3, 1), ndgrad.randn(3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    def fn(lib, x, t):
        return F(lib).binary_cross_entropy(x.sigmoid(), t.sigmoid(), reduction=reduction)

    check_op([(4, 5), (4, 5)], fn)
    check_op([(4, 5), (4, 5), (4, 5)], lambda lib, x, t, w: F(lib).binary_cross_entropy(
        x.sigmoid(), t.sigmoid(), weight=w, reduction=reduction),
        requires_grad=[True, True, False])  # torch has no gradient for weight


def test_binary_cross_entropy_edges():
    x = np.array([0.0, 1.0, 0.5, 1e-30, 1.0 - 1e-12])
    t = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    check_op([x, t], lambda lib, x, t: F(lib).binary_cross_entropy(x, t, reduction="none"),
             dtypes=(np.float64,), requires_grad=[True, False], gradgrad=False)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        NF.binary_cross_entropy(ndgrad.tensor([1.5]), ndgrad.tensor([1.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction):
    r = dict(reduction=reduction)
    check_op([(4, 5), (4, 5)], lambda lib, x, t: F(lib).binary_cross_entropy_with_logits(
        x * 5, t.sigmoid(), **r))
    check_op([(4, 5), (4, 5), (5,), (4, 5)],
             lambda lib, x, t, pw, w: F(lib).binary_cross_entropy_with_logits(
                 x * 5, t.sigmoid(), weight=w, pos_weight=pw.abs(), **r),
             requires_grad=[True, True, False, False])  # torch: no grad for the weights


def test_binary_cross_entropy_with_logits_is_stable():
    x = np.array([-800.0, -50.0, 0.0, 50.0, 800.0])
    t = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    check_op([x, t], lambda lib, x, t: F(lib).binary_cross_entropy_with_logits(
        x, t, reduction="none"), dtypes=(np.float64,))
    check_op([x.astype(np.float32), t.astype(np.float32)],
             lambda lib, x, t: F(lib).binary_cross_entropy_with_logits(x, t),
             dtypes=(np.float32,), gradgrad=False)


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
def test_kl_div(reduction):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op([(4, 5), (4, 5)], lambda lib, x, t: F(lib).kl_div(
            F(lib).log_softmax(x, 1), F(lib).softmax(t, 1), reduction=reduction))
        check_op([(4, 5), (4, 5)], lambda lib, x, t: F(lib).kl_div(
            F(lib).log_softmax(x, 1), F(lib).log_softmax(t, 1), reduction=reduction,
            log_target=True))
        t0 = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])  # zeros in the target: 0 log 0 = 0
        check_op([(2, 3), t0], lambda lib, x, t: F(lib).kl_div(x, t, reduction=reduction),
                 requires_grad=[True, False])


def test_cosine_embedding_loss():
    y = np.array([1.0, -1.0, 1.0, -1.0])
    check_op([(4, 5), (4, 5), y], lambda lib, a, b, t: F(lib).cosine_embedding_loss(
        a, b, t, margin=0.1), requires_grad=[True, True, False])


@pytest.mark.parametrize("x_dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("p_dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("which", ["weight", "weight+bias", "running"])
def test_batch_norm_mixed_dtypes_as_torch(x_dtype, p_dtype, which):
    """A parameter or running stat of another dtype than the input: torch's CPU rule (float32
    ones with a 16-bit input are allowed) and its messages."""
    def outcome(lib):
        x = lib.ones(4, 3, 5, dtype=getattr(lib, x_dtype)) * lib.arange(5.0).to(
            getattr(lib, x_dtype))
        p = lib.ones(3, dtype=getattr(lib, p_dtype))
        stats = (p.clone() * 0, p.clone()) if which == "running" else (None, None)
        bias = lib.zeros(3, dtype=x.dtype) if which == "weight+bias" else None
        try:
            y = lib.nn.functional.batch_norm(x, *stats, weight=None if which == "running" else p,
                                             bias=bias, training=True)
            return str(y.dtype).split(".")[-1]
        except RuntimeError as e:
            return str(e)
    assert outcome(ndgrad) == outcome(torch)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_backward_selects_the_gradient_bit_for_bit(dtype):
    """ReLU's backward keeps the gradient where the output is positive and puts +0.0 elsewhere,
    infinities and nan included (not inf * 0 = nan), as torch's threshold_backward; the same
    bits as np.where, for contiguous and strided gradients."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 8)).astype(dtype)
    g = rng.standard_normal((6, 8)).astype(dtype)
    g[0, :4] = [np.inf, -np.inf, np.nan, -0.0]
    x[0, :4] = [-1, -1, -1, 1]
    for xs, gs in ((x, g), (x.T, g.T), (x[:, ::3], g[:, ::3])):
        t = torch.tensor(xs, requires_grad=True)
        torch.relu(t).backward(torch.tensor(gs))
        n = ndgrad.tensor(xs, requires_grad=True)
        ndgrad.relu(n).backward(ndgrad.tensor(gs))
        assert n.grad.numpy().dtype == dtype
        assert np.array_equal(np.ascontiguousarray(n.grad.numpy()).view(np.uint8),
                              np.ascontiguousarray(t.grad.numpy()).view(np.uint8))


MIXED = [("float32", "float64"), ("float64", "float32"), ("float16", "float32"),
         ("float32", "float16"), ("float64", "float16")]
MIXED_LOSSES = [
    lambda F, x, t: F.huber_loss(x, t, reduction="none", delta=0.5),
    lambda F, x, t: F.huber_loss(x, t),
    lambda F, x, t: F.soft_margin_loss(x, t, reduction="none"),
    lambda F, x, t: F.soft_margin_loss(x, t, reduction="sum"),
    lambda F, x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
    lambda F, x, t: F.binary_cross_entropy_with_logits(x, t),
    lambda F, x, t: F.binary_cross_entropy_with_logits(
        x, t, weight=t * 2, pos_weight=t[0] + 0.5, reduction="none"),
]


@pytest.mark.parametrize("dtypes", MIXED)
@pytest.mark.parametrize("loss", MIXED_LOSSES)
def test_losses_with_input_and_target_of_two_dtypes(loss, dtypes):
    """Which dtype the loss has (and its rounding) when input and target differ, as torch."""
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))
    out, grads = {}, {}
    for lib in (torch, ndgrad):
        xi = lib.tensor(x, dtype=getattr(lib, dtypes[0]), requires_grad=True)
        ti = lib.tensor(t, dtype=getattr(lib, dtypes[1]))
        y = loss(F(lib), xi, ti)
        try:
            y.sum().backward()
        except RuntimeError as e:  # torch's huber backward refuses two dtypes ("Found dtype")
            assert lib is torch and "Found dtype" in str(e)
        out[lib], grads[lib] = y, xi.grad
    assert out[ndgrad].dtype == getattr(ndgrad, str(out[torch].dtype).split(".")[1])
    tol = 1e-2 if "float16" in dtypes else 1e-6  # each side rounds in the smaller dtype
    assert grads[torch] is None or grads[ndgrad].dtype == getattr(ndgrad, dtypes[0])
    for mine, theirs in ((out[ndgrad].detach(), out[torch].detach()),
                         (grads[ndgrad], grads[torch])):
        if theirs is None:
            continue
        np.testing.assert_allclose(mine.numpy().astype(np.float64),
                                   theirs.numpy().astype(np.float64), rtol=tol, atol=tol)
