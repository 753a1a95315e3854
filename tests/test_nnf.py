"""nn.functional against torch: second derivatives of piecewise ops (issue 11.4), F.pad's
repeating modes (issue 11.3), and the modules that sit on the functions (issue 12.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad

RNG = np.random.default_rng(0)


def _both(fn, *arrays):
    """fn on ndgrad and on torch tensors made from the same float64 arrays (requiring grad)."""
    nd = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    th = [torch.tensor(a, requires_grad=True) for a in arrays]
    return (nd, fn(ndgrad, *nd)), (th, fn(torch, *th))


PIECEWISE = {
    "relu": lambda lib, x: lib.nn.functional.relu(x),
    "relu6": lambda lib, x: lib.nn.functional.relu6(x * 4),
    "leaky_relu": lambda lib, x: lib.nn.functional.leaky_relu(x, 0.2),
    "hardtanh": lambda lib, x: lib.nn.functional.hardtanh(x, -0.5, 0.5),
    "threshold": lambda lib, x: lib.nn.functional.threshold(x, 0.1, -3.0),
    "max_pool2d": lambda lib, x: lib.nn.functional.max_pool2d(x, 2),
    "avg_pool2d": lambda lib, x: lib.nn.functional.avg_pool2d(x, 2, 1, 1),
    "max_pool1d": lambda lib, x: lib.nn.functional.max_pool1d(x.flatten(2), 3),
    "pad_reflect": lambda lib, x: lib.nn.functional.pad(x, (2, 1, 1, 3), mode="reflect"),
}


@pytest.mark.parametrize("name", sorted(PIECEWISE))
def test_gradient_stays_in_graph(name: str) -> None:
    """Under create_graph the first gradient requires grad, and a second backward gives
    torch's (zero) second derivative instead of raising."""
    x = RNG.standard_normal((2, 3, 4, 4))
    results = []
    for inputs, y in _both(PIECEWISE[name], x):
        lib = ndgrad if isinstance(y, ndgrad.Tensor) else torch
        w = lib.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)))
        (g,) = lib.autograd.grad((y * w).sum(), inputs, create_graph=True)
        assert g.requires_grad
        (gg,) = lib.autograd.grad((g * g.detach()).sum(), inputs)
        results.append((g.detach().numpy(), gg.numpy()))
    (g_nd, gg_nd), (g_th, gg_th) = results
    np.testing.assert_allclose(g_nd, g_th, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(gg_nd, gg_th)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", [(1, 2), (2, 0, 1, 1), (1, 1, 0, 2, 2, 1), (-1, 2, 1, -2)])
def test_pad_modes(mode: str, pads: tuple[int, ...]) -> None:
    """Values and gradients of F.pad's repeating modes, negative pads (crops) included."""
    if mode == "reflect" and min(pads) < 0:
        pytest.skip("torch's reflect pad takes no negative pads")
    x = RNG.standard_normal((2, 3, 4, 5, 3)[: 2 + len(pads) // 2])
    (nd_in, y_nd), (th_in, y_th) = _both(
        lambda lib, t: lib.nn.functional.pad(t, pads, mode=mode), x)
    np.testing.assert_allclose(y_nd.detach().numpy(), y_th.detach().numpy(), rtol=0, atol=0)
    w = RNG.standard_normal(tuple(y_th.shape))
    (y_nd * ndgrad.tensor(w)).sum().backward()
    (y_th * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(nd_in[0].grad.numpy(), th_in[0].grad.numpy(), rtol=1e-12,
                               atol=1e-12)


def test_pad_mode_errors() -> None:
    x = ndgrad.zeros(1, 2, 3)
    with pytest.raises((ValueError, RuntimeError, NotImplementedError)):
        ndgrad.nn.functional.pad(x, (3, 3), mode="reflect")  # pad >= the dim's size
