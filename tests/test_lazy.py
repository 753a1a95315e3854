"""Lazy layers: parameters sized by the first input, as torch's LazyModuleMixin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn

CASES = [
    ("LazyLinear", (3,), (4, 5)),
    ("LazyLinear", (2, False), (2, 3, 7)),
    ("LazyConv1d", (4, 3), (2, 3, 9)),
    ("LazyConv1d", (4, 3), (3, 9)),  # unbatched
    ("LazyConv2d", (6, 3), {"stride": 2, "padding": 1, "groups": 2}, (2, 4, 7, 7)),
    ("LazyConvTranspose1d", (4, 3), (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), {"stride": 2}, (2, 3, 4, 4)),
    ("LazyBatchNorm1d", (), (5, 3)),
    ("LazyBatchNorm2d", (), {"affine": False}, (4, 3, 2, 2)),
    ("LazyBatchNorm3d", (), {"track_running_stats": False}, (2, 3, 2, 2, 2)),
]


def _build(lib, name, args, kwargs):
    return getattr(lib.nn, name)(*args, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_lazy_modules_become_their_class_and_match_torch(case):
    name, args, *rest = case
    kwargs, shape = (rest[0], rest[1]) if len(rest) == 2 else ({}, rest[0])
    ours, theirs = _build(ndgrad, name, args, kwargs), _build(torch, name, args, kwargs)
    assert repr(ours).split("(")[0] == repr(theirs).split("(")[0] == name
    assert ours.has_uninitialized_params() and theirs.has_uninitialized_params()
    x = np.random.default_rng(0).standard_normal(shape)
    out = ours(ndgrad.tensor(x, dtype=ndgrad.float64).float())
    with torch.no_grad():
        theirs(torch.tensor(x, dtype=torch.float32))
    assert type(ours).__name__ == type(theirs).__name__ == name.removeprefix("Lazy")
    assert repr(ours) == repr(theirs)
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in
                                                                  sd.items()}
    ours.load_state_dict({k: ndgrad.tensor(v) for k, v in sd.items()})
    out = ours(ndgrad.tensor(x, dtype=ndgrad.float32))
    with torch.no_grad():
        expected = theirs(torch.tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(out.detach().numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)


def test_default_init_follows_the_ordinary_layer():
    ndgrad.manual_seed(0)
    lazy = nn.LazyLinear(200)
    lazy(ndgrad.ones(1, 50))
    bound = 1 / np.sqrt(50)
    w = lazy.weight.detach().numpy()
    assert w.shape == (200, 50) and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    bn = nn.LazyBatchNorm1d()
    bn(ndgrad.ones(4, 3))
    assert bn.weight.tolist() == [1.0] * 3 and bn.num_batches_tracked.item() == 1


def test_uninitialized_parameters_as_torch():
    for lib in (ndgrad, torch):
        m = lib.nn.LazyLinear(3)
        assert isinstance(m.weight, lib.nn.UninitializedParameter)
        assert isinstance(m.weight, lib.nn.Parameter) and repr(m.weight) == \
            "<UninitializedParameter>"
        with pytest.raises(RuntimeError, match="uninitialized parameter"):
            m.weight.shape  # noqa: B018
        opt = lib.optim.SGD(m.parameters(), lr=0.1)  # before the first call, as torch allows
        w = m.weight
        m(lib.ones(2, 4)).sum().backward()
        assert m.weight is w and type(w) is lib.nn.Parameter and w.shape == (3, 4)
        before = w.detach().clone()
        opt.step()
        assert not lib.equal(before, w.detach())
        assert not hasattr(m, "_initialize_hook") and type(m) is lib.nn.Linear


def test_load_state_dict_materializes():
    src = nn.Linear(6, 2, dtype=ndgrad.float64)
    lazy = nn.LazyLinear(2, dtype=ndgrad.float64)
    lazy.load_state_dict(src.state_dict())
    assert lazy.weight.shape == (2, 6) and lazy.in_features == 0
    x = ndgrad.randn(3, 6, dtype=ndgrad.float64)
    assert ndgrad.allclose(lazy(x), src(x)) and type(lazy) is nn.Linear
    with pytest.raises(ndgrad.DeviceUnavailableError):
        nn.LazyLinear(2, device="cuda")


@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("LazyLinear", (3,), {}, (2, 4)),  # .double() before the first forward: float64 weights
    ("LazyBatchNorm1d", (), {}, (4, 3)),
    ("LazyConv3d", (4, 2), {}, (1, 3, 4, 4, 4)),
    ("LazyConv3d", (4, 3), {"groups": 2, "bias": False}, (4, 5, 5, 5)),
    ("LazyConvTranspose3d", (4, 2), {"stride": 2}, (1, 3, 3, 3, 3)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 5)),
    ("LazyInstanceNorm2d", (), {"affine": False, "track_running_stats": False}, (3, 4, 4)),
    ("LazyInstanceNorm3d", (), {"momentum": None}, (2, 2, 3, 3, 3)),
])
def test_more_lazy_modules_become_their_eager_class_as_torch(name, args, kwargs, shape):
    """(Each made float64 with .double() while still lazy: the parameters take that dtype.)"""
    import numpy as np
    import torch
    x = np.random.default_rng(0).standard_normal(shape)
    seen = []
    for lib in (torch, ndgrad):
        m = getattr(lib.nn, name)(*args, **kwargs).double()
        y = m(lib.tensor(x))
        assert all(p.dtype == lib.float64 for p in m.parameters())
        seen.append((type(m).__name__, tuple(y.shape),
                     {k: tuple(v.shape) for k, v in m.state_dict().items()},
                     getattr(m, "num_features", None), getattr(m, "in_channels", None)))
    assert seen[0] == seen[1]
