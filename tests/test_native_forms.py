"""torch's top-level ATen forms of nn ops (native_layer_norm, grid_sampler_2d, constant_pad_nd,
...) and the creation functions scalar_tensor, empty_strided, empty_permuted, against torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import ndgrad
from tests.helpers import assert_close, check_op


def test_constant_pad_nd_pads_and_crops() -> None:
    check_op([(2, 3, 4)], lambda lib, x: lib.constant_pad_nd(x, (1, -1, 2, 0), 0.5))


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_grid_sampler_2d_uses_torch_codes(mode: int, padding: int) -> None:
    check_op([(1, 2, 4, 5), (1, 3, 2, 2)],
             lambda lib, x, g: lib.grid_sampler_2d(x, g * 0.6, mode, padding, False),
             dtypes=(np.float64,), gradgrad=False)


def test_grid_sampler_3d_and_errors() -> None:
    check_op([(1, 2, 3, 3, 3), (1, 2, 2, 2, 3)],
             lambda lib, x, g: lib.grid_sampler_3d(x, g * 0.6, 0, 0, True), dtypes=(np.float64,),
             gradgrad=False)
    with pytest.raises(RuntimeError, match="interpolation_mode"):
        ndgrad.grid_sampler_2d(ndgrad.zeros(1, 1, 2, 2), ndgrad.zeros(1, 1, 1, 2), 5, 0, False)
    with pytest.raises(RuntimeError, match="expected 4D input"):
        ndgrad.grid_sampler_2d(ndgrad.zeros(1, 2, 2), ndgrad.zeros(1, 1, 1, 2), 0, 0, False)


def test_native_layer_norm_returns_stats_outside_the_graph() -> None:
    x = ndgrad.randn(2, 3, 4, requires_grad=True)
    _, mean, rstd = ndgrad.native_layer_norm(x, (3, 4), None, None, 1e-5)
    assert not mean.requires_grad and not rstd.requires_grad  # as torch's
    check_op([(2, 3, 4), (3, 4), (3, 4)],
             lambda lib, x, w, b: lib.native_layer_norm(x, (3, 4), w, b, 1e-5), gradgrad=False)


def test_native_group_norm_returns_differentiable_stats() -> None:
    check_op([(2, 6, 5), (6,), (6,)],
             lambda lib, x, w, b: lib.native_group_norm(x, w, b, 2, 6, 5, 3, 1e-5),
             gradgrad=False)


@pytest.mark.parametrize("training", [True, False])
def test_native_batch_norm_returns_stats_and_updates_running(training: bool) -> None:
    x = np.random.default_rng(0).normal(size=(4, 3, 5))
    outs, running = [], []
    for lib in (torch, ndgrad):
        rm, rv = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        xt = lib.tensor(x, requires_grad=True)
        out = lib.native_batch_norm(xt, lib.ones(3, dtype=lib.float64), None, rm, rv, training,
                                    0.1, 1e-5)
        out[0].square().sum().backward()
        outs.append([*out, xt.grad])
        running.append((rm, rv))
    for n, t in zip(outs[1], outs[0]):
        assert_close(n, t)
    for n, t in zip(running[1], running[0]):
        assert_close(n, t)


def test_scalar_tensor_empty_strided_empty_permuted() -> None:
    assert_close(ndgrad.scalar_tensor(-5), torch.scalar_tensor(-5), np.float32)
    assert ndgrad.scalar_tensor(2, dtype=ndgrad.int64).dtype == ndgrad.int64
    for size, stride in [((), ()), ((2, 3), (1, 2)), ((0, 3), (3, 1)), ((4,), (2,))]:
        n, t = ndgrad.empty_strided(size, stride), torch.empty_strided(size, stride)
        assert (tuple(n.shape), n.stride(), n.dtype.name) == (
            tuple(t.shape), t.stride(), str(t.dtype).removeprefix("torch."))
    for size, order in [((2, 3, 4, 5), (0, 2, 3, 1)), ((2, 3), (1, 0)), ((), ())]:
        n, t = ndgrad.empty_permuted(size, order), torch.empty_permuted(size, order)
        assert (tuple(n.shape), n.stride()) == (tuple(t.shape), t.stride())
    with pytest.raises(RuntimeError, match="permutation"):
        ndgrad.empty_permuted((2, 3), (0, 0))
    with pytest.raises(RuntimeError, match="length of strides"):
        ndgrad.empty_strided((2, 3), (1,))


@pytest.mark.parametrize("name, args", [
    ("select_copy", (1, 2)), ("slice_copy", (1, 1, 4, 2)), ("slice_copy", (0,)),
    ("detach_copy", ()),
])
def test_copy_forms_are_new_memory(name: str, args: tuple[int, ...]) -> None:
    a = np.arange(12.0).reshape(3, 4)
    ours = getattr(ndgrad, name)(ndgrad.tensor(a), *args)
    theirs = getattr(torch, name)(torch.tensor(a), *args)
    assert_close(ours, theirs)
    assert not np.shares_memory(ours.numpy(), a)
    z = np.array([[1.0, 2.0], [3.0, -1.0]])
    assert_close(ndgrad.view_as_complex_copy(ndgrad.tensor(z)),
                 torch.view_as_complex_copy(torch.tensor(z)))
    assert_close(ndgrad.view_as_real_copy(ndgrad.tensor([1 + 2j])),
                 torch.view_as_real_copy(torch.tensor([1 + 2j])))


def test_from_file_maps_a_file_as_torch(tmp_path: Any) -> None:
    path = tmp_path / "data.bin"
    np.arange(6, dtype=np.float32).tofile(path)
    for lib in (torch, ndgrad):
        assert lib.from_file(str(path), size=4).tolist() == [0.0, 1.0, 2.0, 3.0]
        assert lib.from_file(str(path), size=0).shape == (0,)
        assert lib.from_file(str(path), size=2, dtype=lib.float64).dtype == lib.float64
        private = lib.from_file(str(path), shared=False, size=2)
        private[0] = 9.0  # a private copy of the pages: the file keeps 0
        assert np.fromfile(path, np.float32)[0] == 0.0
        with pytest.raises(RuntimeError, match="is smaller than the required mapping size"):
            lib.from_file(str(path), size=10)
        with pytest.raises(RuntimeError, match="unable to open file"):
            lib.from_file(str(tmp_path / "missing.bin"), size=2)
        new = tmp_path / f"new_{lib.__name__}.bin"
        shared = lib.from_file(str(new), shared=True, size=3)  # created, zeros
        assert shared.tolist() == [0.0, 0.0, 0.0] and new.stat().st_size == 12
        shared[1] = 7.0
        del shared
        assert np.fromfile(new, np.float32).tolist() == [0.0, 7.0, 0.0]


def test_small_top_level_names() -> None:
    assert ndgrad.GradScaler is ndgrad.amp.GradScaler
    assert ndgrad.wait(ndgrad.fork(lambda x: x + 1, 2)) == torch.wait(torch.jit.fork(
        lambda x: x + 1, 2)) == 3
    assert torch.from_dlpack(ndgrad.to_dlpack(ndgrad.arange(3.0))).tolist() == [0.0, 1.0, 2.0]
    assert ndgrad.get_device_module() is ndgrad.cpu
    assert ndgrad.get_device_module("cuda") is ndgrad.cuda
    with pytest.raises(RuntimeError, match="does not have a corresponding module"):
        ndgrad.get_device_module("meta")
    ndgrad.set_anomaly_enabled(True, check_nan=False)
    try:
        assert ndgrad.is_anomaly_enabled() and not ndgrad.is_anomaly_check_nan_enabled()
    finally:
        ndgrad.set_anomaly_enabled(False)
    assert not ndgrad.is_anomaly_enabled()
    assert ndgrad.init_num_threads() is None and ndgrad.compiled_with_cxx11_abi() is False
