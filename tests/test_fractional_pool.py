"""Fractional max pooling (F.fractional_max_pool2d/3d, nn.FractionalMaxPool2d/3d) against
torch with the same _random_samples: windows, outputs, indices and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad

RNG = np.random.default_rng(0)


def _run(lib, x, samples, dims, **kw):
    """Output, indices and input gradient for d out = out's index + 1."""
    xt = lib.tensor(x, requires_grad=True)
    pool = getattr(lib.nn.functional, f"fractional_max_pool{dims}d")
    out, idx = pool(xt, return_indices=True, _random_samples=lib.tensor(samples), **kw)
    out.backward(lib.tensor(np.arange(1.0, out.numel() + 1).reshape(tuple(out.shape))
                            .astype(x.dtype)))
    return out.detach().numpy(), idx.numpy(), xt.grad.numpy()


def _compare(x, samples, dims, **kw):
    for t, n in zip(_run(torch, x, samples, dims, **kw), _run(ndgrad, x, samples, dims, **kw),
                    strict=True):
        np.testing.assert_array_equal(n, t)  # max picks values: exact, in any float type


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [dict(kernel_size=2, output_size=(4, 3)),
                                dict(kernel_size=(3, 2), output_ratio=(0.5, 0.7)),
                                dict(kernel_size=2, output_size=1),
                                dict(kernel_size=1, output_size=(9, 7))])
def test_fractional_max_pool2d(dtype, kw):
    x = RNG.standard_normal((2, 3, 9, 7)).astype(dtype)
    samples = RNG.random((2, 3, 2)).astype(dtype)
    samples[0, 0] = (0.0, 0.9999)  # the extremes of the draw
    _compare(x, samples, 2, **kw)


@pytest.mark.parametrize("kw", [dict(kernel_size=2, output_size=(3, 4, 2)),
                                dict(kernel_size=(2, 1, 3), output_ratio=0.5)])
def test_fractional_max_pool3d(kw):
    x = RNG.standard_normal((2, 2, 6, 8, 7))
    _compare(x, RNG.random((2, 2, 3)), 3, **kw)


def test_unbatched():
    _compare(RNG.standard_normal((3, 8, 8)), RNG.random((1, 3, 2)), 2, kernel_size=3,
             output_size=5)
    _compare(RNG.standard_normal((2, 5, 5, 5)), RNG.random((1, 2, 3)), 3, kernel_size=2,
             output_size=3)


@pytest.mark.parametrize("dims", [2, 3])
def test_module_with_fixed_samples(dims):
    x = RNG.standard_normal((2, 3) + (7,) * dims)
    samples = RNG.random((2, 3, dims))
    outs = []
    for lib in (torch, ndgrad):
        cls = getattr(lib.nn, f"FractionalMaxPool{dims}d")
        m = cls(2, output_ratio=0.6, _random_samples=lib.tensor(samples))
        assert list(m.state_dict()) == ["_random_samples"]
        assert repr(m) == f"FractionalMaxPool{dims}d()"
        outs.append(m(lib.tensor(x)).numpy())
    np.testing.assert_array_equal(outs[1], outs[0])
    assert outs[1].shape == (2, 3) + (4,) * dims


def test_random_samples_drawn_when_absent():
    """Without samples each call draws its own, within the windows' reach."""
    m = ndgrad.nn.FractionalMaxPool2d(2, output_size=4, return_indices=True)
    x = ndgrad.randn(1, 1, 8, 8)
    out, idx = m(x)
    assert out.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(out.numpy().reshape(-1), x.numpy().reshape(-1)[
        idx.numpy().reshape(-1)])


@pytest.mark.parametrize("kwargs, msg", [
    (dict(kernel_size=2), "requires specifying either an output size, or a pooling ratio"),
    (dict(kernel_size=2, output_size=3, output_ratio=0.5), "only one of output_size"),
    (dict(kernel_size=2, output_ratio=1.5), "output_ratio must be between 0 and 1"),
])
def test_module_errors(kwargs, msg):
    for lib in (torch, ndgrad):
        with pytest.raises(ValueError, match=msg):
            lib.nn.FractionalMaxPool2d(**kwargs)


def test_pool_too_large():
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="pool width 3 too large relative to input width"):
            lib.nn.functional.fractional_max_pool2d(lib.zeros(1, 1, 4, 4), 3, output_size=(2, 3),
                                                    _random_samples=lib.rand(1, 1, 2))
        with pytest.raises(RuntimeError, match=r"3d_out\(\): pool time 3 too large relative"):
            lib.nn.functional.fractional_max_pool3d(lib.zeros(1, 1, 4, 4, 4), 3,
                                                    output_size=(3, 2, 2),
                                                    _random_samples=lib.rand(1, 1, 3))
