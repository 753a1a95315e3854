"""ndgrad.nn.init: each initialiser's sample statistics against its formula, and torch's."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn
from ndgrad.nn import init


def param(*shape, dtype=ndgrad.float32):
    return nn.Parameter(ndgrad.empty(*shape, dtype=dtype))


@pytest.mark.parametrize("name,param_", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                         ("tanh", None), ("relu", None), ("leaky_relu", None),
                                         ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_torch(name, param_):
    assert init.calculate_gain(name, param_) == torch.nn.init.calculate_gain(name, param_)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (6, 2, 5), (2, 3, 1, 1, 4)])
def test_fan_in_and_fan_out_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(ndgrad.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fan_needs_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(ndgrad.empty(5))


def _check_uniform(arr, low, high):
    arr = np.asarray(arr, dtype=np.float64)
    width = high - low
    assert low <= arr.min() and arr.max() <= high
    assert arr.min() < low + 0.01 * width and arr.max() > high - 0.01 * width
    assert abs(arr.mean() - (low + high) / 2) < 0.01 * width
    assert abs(arr.std() - width / math.sqrt(12)) < 0.01 * width


def _check_normal(arr, mean, std):
    arr = np.asarray(arr, dtype=np.float64)
    assert abs(arr.mean() - mean) < 0.02 * std
    assert abs(arr.std() - std) < 0.02 * std
    # a normal, not a uniform: about 4.6% of samples lie beyond 2 std
    assert 0.04 < (np.abs(arr - mean) > 2 * std).mean() < 0.052


def test_uniform_and_normal():
    w = param(300, 200)
    assert init.uniform_(w, -0.5, 1.5) is w
    _check_uniform(w._data, -0.5, 1.5)
    init.normal_(w, 2.0, 0.3)
    _check_normal(w._data, 2.0, 0.3)
    assert w.dtype == ndgrad.float32 and w.requires_grad and w.grad_fn is None
    w64 = param(300, 200, dtype=ndgrad.float64)
    init.uniform_(w64)
    _check_uniform(w64._data, 0.0, 1.0)
    assert w64.dtype == ndgrad.float64


def test_constants():
    w = param(4, 5)
    init.constant_(w, 0.3)
    assert np.allclose(w._data, 0.3)
    init.ones_(w)
    assert (w._data == 1).all()
    init.zeros_(w)
    assert not w._data.any()
    e = param(3, 4)
    init.eye_(e)
    assert (e._data == np.eye(3, 4)).all()
    d = param(4, 2, 3, 3)
    init.dirac_(d, groups=2)
    assert (d._data == torch.nn.init.dirac_(torch.empty(4, 2, 3, 3), groups=2).numpy()).all()


def test_xavier():
    w = param(300, 500)
    init.xavier_uniform_(w, gain=2.0)
    a = 2.0 * math.sqrt(6.0 / 800)
    _check_uniform(w._data, -a, a)
    init.xavier_normal_(w, gain=0.5)
    _check_normal(w._data, 0.0, 0.5 * math.sqrt(2.0 / 800))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", math.sqrt(5)),
                                            ("leaky_relu", 0.1), ("tanh", 0)])
def test_kaiming(mode, nonlinearity, a):
    w = param(200, 30, 3, 3)
    fan = 30 * 9 if mode == "fan_in" else 200 * 9
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    _check_uniform(w._data, -math.sqrt(3) * std, math.sqrt(3) * std)
    init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    _check_normal(w._data, 0.0, std)


def test_kaiming_bad_mode():
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(param(3, 3), mode="fan_avg")


def test_kaiming_zero_element_warns():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(param(0, 3))


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 0.2, 0.0, 1.0),
                                          (0.0, 1.0, 1.0, 1.5), (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal(mean, std, a, b):
    w = param(400, 250)
    init.trunc_normal_(w, mean, std, a, b)
    arr = w._data.astype(np.float64)
    assert a <= arr.min() and arr.max() <= b
    ref = torch.nn.init.trunc_normal_(torch.empty(400, 250, dtype=torch.float64), mean, std, a,
                                      b).numpy()
    # same distribution as torch's: moments close to torch's sample, and quantiles close to the
    # exact ones of N(mean, std) truncated to [a, b] (one sample's noise, not two)
    assert abs(arr.mean() - ref.mean()) < 0.02 * std
    assert abs(arr.std() - ref.std()) < 0.02 * std
    qs = [0.05, 0.25, 0.5, 0.75, 0.95]
    nd = statistics.NormalDist(mean, std)
    lo, hi = nd.cdf(a), nd.cdf(b)
    exact = [nd.inv_cdf(lo + q * (hi - lo)) for q in qs]
    np.testing.assert_allclose(np.quantile(arr, qs), exact, atol=0.02 * std)
    np.testing.assert_allclose(np.quantile(ref, qs), exact, atol=0.03 * std)  # torch's, looser


def test_trunc_normal_far_mean_warns():
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(param(10, 10), mean=5.0, std=1.0, a=-1.0, b=1.0)


def test_orthogonal():
    w = param(6, 10)
    init.orthogonal_(w, gain=2.0)
    np.testing.assert_allclose(w._data @ w._data.T, 4 * np.eye(6), atol=1e-5)
    w2 = param(10, 2, 3)
    init.orthogonal_(w2)
    flat = w2._data.reshape(10, 6).astype(np.float64)
    np.testing.assert_allclose(flat.T @ flat, np.eye(6), atol=1e-5)


def test_init_records_no_graph_and_bumps_version():
    w = param(3, 3)
    v = w._version
    x = ndgrad.ones(3, 3, requires_grad=True)
    y = x * w  # w saved for backward
    init.normal_(w)
    assert w.grad_fn is None and w.requires_grad and w._version > v
    with pytest.raises(RuntimeError):
        y.sum().backward()  # w changed in place after it was saved


def test_generator_and_seed_reproducible():
    ndgrad.manual_seed(7)
    a = init.normal_(param(4, 4))._data.copy()
    ndgrad.manual_seed(7)
    b = init.normal_(param(4, 4))._data.copy()
    assert (a == b).all()
    g = np.random.default_rng(3)
    c = init.uniform_(param(4, 4), generator=g)._data.copy()
    d = init.uniform_(param(4, 4), generator=np.random.default_rng(3))._data
    assert (c == d).all()
