"""torch.nn odds and ends real scripts import: BatchNorm fusion, clip aliases, skip_init,
stateless.functional_call, nn.modules.utils, nn.attention, init.sparse_ and init's old names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ndgrad

SHAPES = {"conv": (4, 3, 3, 3), "conv_transpose": (3, 4, 3, 3), "linear": (4, 5)}


@pytest.mark.parametrize("kind", ["conv", "conv_transpose", "linear"])
def test_fused_batchnorm_matches_torch(kind):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(SHAPES[kind])] + [rng.standard_normal(4) for _ in range(4)] \
        + [np.abs(rng.standard_normal(4)) + 0.5]
    x = rng.standard_normal((2, 5) if kind == "linear" else (2, 3, 5, 5))
    results = []
    for lib in (torch, ndgrad):
        nn = lib.nn
        layer = {"conv": nn.Conv2d(3, 4, 3), "conv_transpose": nn.ConvTranspose2d(3, 4, 3),
                 "linear": nn.Linear(5, 4)}[kind].double()
        bn = (nn.BatchNorm1d(4) if kind == "linear" else nn.BatchNorm2d(4)).double()
        targets = [layer.weight, layer.bias, bn.weight, bn.bias, bn.running_mean,
                   bn.running_var]
        with lib.no_grad():  # the same weights and running stats in both libraries
            for t, v in zip(targets, values, strict=True):
                t.copy_(lib.tensor(v))
        layer.eval()
        bn.eval()
        if kind == "linear":
            fused = nn.utils.fuse_linear_bn_eval(layer, bn)
        else:
            fused = nn.utils.fuse_conv_bn_eval(layer, bn, transpose=kind == "conv_transpose")
        out = fused(lib.tensor(x)).detach().numpy()
        np.testing.assert_allclose(out, bn(layer(lib.tensor(x))).detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        results.append(out)
        assert fused is not layer and isinstance(fused.weight, nn.Parameter)
        with pytest.raises(AssertionError, match="eval"):
            nn.utils.fuse_conv_bn_eval(layer.train(), bn)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10)


def test_clip_aliases_skip_init_and_stateless():
    for lib in (torch, ndgrad):
        p = lib.nn.Parameter(lib.ones(4))
        p.grad = lib.full((4,), 3.0)
        with pytest.warns(FutureWarning, match="deprecated"):
            total = lib.nn.utils.clip_grad_norm([p], 1.0)
        assert abs(float(total) - 6.0) < 1e-6 and abs(float(p.grad.norm()) - 1.0) < 1e-5
        p.grad = lib.full((4,), 3.0)
        lib.nn.utils.clip_grads_with_norm_([p], 2.0, lib.tensor(6.0))
        assert abs(float(p.grad.norm()) - 2.0) < 1e-5
        m = lib.nn.utils.skip_init(lib.nn.Linear, 3, 2)
        assert isinstance(m, lib.nn.Linear) and m.weight.shape == (2, 3)
        with pytest.raises(RuntimeError, match="device"):
            lib.nn.utils.skip_init(lib.nn.ReLU)
    lin = ndgrad.nn.Linear(2, 1)
    with pytest.warns(FutureWarning):
        out = ndgrad.nn.utils.stateless.functional_call(
            lin, {"weight": ndgrad.ones(1, 2), "bias": ndgrad.zeros(1)}, (ndgrad.ones(1, 2),))
    assert out.tolist() == [[2.0]]


def test_modules_utils_and_attention_as_torch():
    from torch.nn.modules import utils as tu

    from ndgrad.nn.modules import utils as nu
    for name in ("_single", "_pair", "_triple", "_quadruple"):
        for v in (3, (1, 2), [4, 5, 6]):
            assert getattr(nu, name)(v) == getattr(tu, name)(v)
    assert nu._ntuple(5)(1) == tu._ntuple(5)(1)
    assert nu._reverse_repeat_tuple((1, 2), 2) == tu._reverse_repeat_tuple((1, 2), 2)
    assert nu._list_with_default([None, 3], [1, 2, 5, 6]) == \
        tu._list_with_default([None, 3], [1, 2, 5, 6])
    with pytest.raises(ValueError, match="at least 3"):
        nu._list_with_default([None, 3], [1, 2])
    import torch.nn.attention as ta

    import ndgrad.nn.attention as na
    assert {n: int(m) for n, m in na.SDPBackend.__members__.items()} == \
        {n: int(m) for n, m in ta.SDPBackend.__members__.items()}
    q = ndgrad.randn(1, 2, 3, 4)
    with na.sdpa_kernel([na.SDPBackend.MATH]), na.sdpa_kernel(na.SDPBackend.FLASH_ATTENTION):
        out = ndgrad.nn.functional.scaled_dot_product_attention(q, q, q)
    assert out.shape == (1, 2, 3, 4)
    with pytest.raises(AssertionError, match="SDPBackend"), na.sdpa_kernel("math"):
        pass


def test_init_sparse_and_old_names():
    for lib in (torch, ndgrad):
        w = lib.empty(10, 4)
        lib.nn.init.sparse_(w, 0.25, std=0.5)
        assert ((w == 0).sum(0) == 3).all()  # ceil(0.25 * 10) zeros in every column
        with pytest.raises(ValueError, match="2 dimensions"):
            lib.nn.init.sparse_(lib.empty(2, 2, 2), 0.5)
        for name in ("uniform", "normal", "xavier_uniform", "kaiming_normal", "orthogonal"):
            with pytest.warns(FutureWarning, match=f"nn.init.{name}_"):
                getattr(lib.nn.init, name)(lib.empty(3, 3))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert (lib.nn.init.constant(lib.empty(2), 0.5) == 0.5).all()


def test_conv_weight_memory_format_and_batchnorm_replacement_as_torch():
    for lib in (torch, ndgrad):
        nn = lib.nn
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ConvTranspose2d(4, 2, 2),
                              nn.Conv3d(1, 2, 2))
        before = model[0].weight.detach().clone()
        out = nn.utils.convert_conv2d_weight_memory_format(model, lib.channels_last)
        assert out is model
        assert model[0].weight.is_contiguous(memory_format=lib.channels_last)
        assert model[2].weight.is_contiguous(memory_format=lib.channels_last)
        assert (model[0].weight == before).all() and isinstance(model[0].weight, nn.Parameter)
        nn.utils.convert_conv3d_weight_memory_format(model, lib.channels_last_3d)
        assert model[3].weight.is_contiguous(memory_format=lib.channels_last_3d)
        assert lib.func.replace_all_batch_norm_modules_(model) is model
        bn = model[1]
        assert (bn.running_mean, bn.running_var, bn.num_batches_tracked,
                bn.track_running_stats) == (None, None, None, False)
        assert hasattr(lib.nn, "attention")


def test_linearize_as_torch():
    x = np.random.default_rng(9).standard_normal(4)
    t = np.random.default_rng(10).standard_normal(4)
    got = []
    for lib in (torch, ndgrad):
        out, jvp_fn = lib.func.linearize(lambda v, lib=lib: (v.sin() * v).sum(), lib.tensor(x))
        got.append((out.detach().numpy(), jvp_fn(lib.tensor(t)).detach().numpy()))
    for a, b in zip(got[1], got[0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
