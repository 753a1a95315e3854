"""einops' functions on ndgrad tensors against the same calls on torch's: values, shapes and
gradients (ndgrad/_einops.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad

einops = pytest.importorskip("einops")

CALLS = [
    lambda t: einops.rearrange(t, "b c (h p) w -> b (h w) (p c)", p=2),
    lambda t: einops.rearrange(t, "b c h w -> (b c) h w"),
    lambda t: einops.reduce(t, "b c h w -> b c", "mean"),
    lambda t: einops.reduce(t, "b c (h h2) (w w2) -> b c h w", "max", h2=2, w2=2),
    lambda t: einops.reduce(t, "b c h w -> c", "sum"),
    lambda t: einops.reduce(t, "b c h w -> b h w", "prod"),
    lambda t: einops.repeat(t[0, 0], "h w -> k h w", k=3),
    lambda t: einops.repeat(t[0, 0, 0], "w -> (w k)", k=2),
    lambda t: einops.einsum(t, t, "b c h w, b c h w -> b c"),
    lambda t: einops.pack([t, t[..., :2]], "b c h *")[0],
    lambda t: einops.unpack(t.reshape(2, 3, 24), [(4, 3), (2, 6)], "b c *")[1],
]


@pytest.mark.parametrize("call", CALLS)
def test_einops_on_ndgrad_as_on_torch(call):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 6))
    out, grads = {}, {}
    for lib in (torch, ndgrad):
        t = lib.tensor(x, requires_grad=True)
        y = call(t)
        (y * lib.arange(y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        out[lib], grads[lib] = y, t.grad
    assert isinstance(out[ndgrad], ndgrad.Tensor) and tuple(out[ndgrad].shape) == \
        tuple(out[torch].shape)
    np.testing.assert_allclose(out[ndgrad].detach().numpy(), out[torch].detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads[ndgrad].numpy(), grads[torch].numpy(), rtol=1e-12,
                               atol=1e-12)


def test_einops_errors_and_layers():
    with pytest.raises(einops.EinopsError, match="Shape mismatch|can't divide"):
        einops.rearrange(ndgrad.zeros(2, 5), "b (h p) -> b h p", p=2)
    backend = einops._backends.get_backend(ndgrad.zeros(1))
    assert backend.framework_name == "ndgrad"
    with pytest.raises(NotImplementedError, match="torch modules"):
        backend.layers()
