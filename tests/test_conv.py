"""Convolution and pooling against torch.nn.functional: forward, gradients, double backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.nn.functional  # noqa: F401  (ndgrad.nn as an attribute)
from tests.helpers import assert_close, check_op

F32_CONV = dict(rtol=1e-4, atol=1e-4)  # sums of many float32 products


def _tol(**kw):
    return kw


# -- conv2d ----------------------------------------------------------------------------------
CONV2D_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    ((2, 3, 7, 6), (4, 3, 3, 2), dict(stride=2, padding=(1, 2))),
    ((2, 3, 8, 7), (4, 3, 3, 3), dict(stride=(2, 1), dilation=(1, 2))),
    ((2, 3, 8, 7), (4, 3, 2, 3), dict(padding="same", dilation=2)),  # asymmetric 'same'
    ((2, 3, 5, 6), (4, 3, 4, 2), dict(padding="same")),
    ((2, 3, 5, 6), (4, 3, 3, 3), dict(padding="valid")),
    ((2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((1, 6, 5, 5), (6, 1, 3, 3), dict(groups=6, stride=2, padding=1)),  # depthwise
    ((3, 2, 5, 4), (3, 2, 1, 1), {}),  # 1x1
    ((3, 2, 5, 4), (3, 2, 1, 1), dict(stride=2)),
    ((2, 3, 9, 9), (2, 3, 3, 3), dict(stride=3, padding=2, dilation=2)),
    ((5, 16, 3, 3), (8, 16, 3, 3), {}),  # a deep layer: one output pixel, C*K >> L
    ((5, 8, 4, 4), (8, 8, 3, 3), dict(stride=2, padding=1)),
]


@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES)
def test_conv2d(xs, ws, kw):
    check_op([xs, ws, (ws[0],)], lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, **kw),
             **F32_CONV)


@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES[:4])
def test_conv2d_first_order_fast_path(xs, ws, kw):
    # without create_graph the backward runs on the NumPy path only
    check_op([xs, ws, (ws[0],)], lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, **kw),
             gradgrad=False, **F32_CONV)


def test_conv2d_no_bias_unbatched_and_input_without_grad():
    check_op([(3, 6, 5), (2, 3, 3, 3)],
             lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=1), **F32_CONV)
    check_op([(2, 1, 6, 6), (3, 1, 3, 3)],
             lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=1),
             requires_grad=[False, True], **F32_CONV)


def test_conv2d_chained_layout():
    # conv -> relu -> conv: the second conv reads the first one's channels-first output
    check_op([(4, 2, 8, 8), (3, 2, 3, 3), (5, 3, 3, 3)],
             lambda lib, x, w1, w2: lib.nn.functional.conv2d(
                 lib.nn.functional.conv2d(x, w1, padding=1).relu(), w2, stride=2),
             **F32_CONV)


def test_conv2d_graphs_alive_together_keep_their_own_buffers():
    """Two convs of the same shape before one backward: each keeps its own im2col columns
    (the scratch arrays are reused only once nothing refers to them)."""
    check_op([(2, 3, 6, 6), (2, 3, 6, 6), (4, 3, 3, 3)],
             lambda lib, a, b, w: (lib.nn.functional.conv2d(a, w, padding=1)
                                   * lib.nn.functional.conv2d(b, w, padding=1)),
             gradgrad=False, **F32_CONV)
    x = ndgrad.randn(2, 3, 6, 6)
    w = ndgrad.randn(4, 3, 3, 3, requires_grad=True)
    y1 = ndgrad.nn.functional.conv2d(x, w, padding=1)
    kept = y1.numpy(force=True).copy()
    ndgrad.nn.functional.conv2d(x * 2, w, padding=1)  # same shapes: must not touch y1
    np.testing.assert_array_equal(y1.numpy(force=True), kept)


def test_conv2d_errors():
    F = ndgrad.nn.functional
    x, w = ndgrad.randn(2, 3, 5, 5), ndgrad.randn(4, 2, 3, 3)
    with pytest.raises(RuntimeError, match="expected input.* to have 2 channels, but got 3"):
        F.conv2d(x, w)
    with pytest.raises(ValueError, match="not supported for strided"):
        F.conv2d(x, ndgrad.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        F.conv2d(x, ndgrad.randn(4, 3, 7, 7))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.conv2d(x.double(), ndgrad.randn(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match="bias"):
        F.conv2d(x, ndgrad.randn(4, 3, 3, 3), ndgrad.randn(3))


# -- conv1d ----------------------------------------------------------------------------------
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 3, 9), (4, 3, 3), dict(stride=2, padding=1, dilation=2)),
    ((2, 4, 9), (4, 2, 4), dict(padding="same", groups=2)),
    ((3, 9), (4, 3, 3), dict(padding=(1,))),
])
def test_conv1d(xs, ws, kw):
    check_op([xs, ws, (ws[0],)], lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b, **kw),
             **F32_CONV)


# -- conv_transpose --------------------------------------------------------------------------
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((2, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 4, 4), (4, 3, 2, 3), dict(stride=(2, 3), padding=(0, 1), groups=2)),
    ((1, 2, 3, 4), (2, 2, 3, 3), dict(dilation=2, stride=1, output_padding=1)),  # op < dilation
    ((1, 2, 3, 4), (2, 3, 3, 3), dict(stride=3, dilation=2, padding=2, output_padding=2)),
    ((2, 5, 5), (2, 3, 3, 3), dict(stride=2)),  # unbatched
])
def test_conv_transpose2d(xs, ws, kw):
    cout = ws[1] * kw.get("groups", 1)
    check_op([xs, ws, (cout,)],
             lambda lib, x, w, b: lib.nn.functional.conv_transpose2d(x, w, b, **kw), **F32_CONV)


def test_conv_transpose1d():
    check_op([(2, 3, 5), (3, 2, 3), (2,)],
             lambda lib, x, w, b: lib.nn.functional.conv_transpose1d(
                 x, w, b, stride=2, padding=1, output_padding=1), **F32_CONV)


def test_conv_transpose_errors():
    F = ndgrad.nn.functional
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        F.conv_transpose2d(ndgrad.randn(1, 2, 3, 3), ndgrad.randn(2, 2, 3, 3), output_padding=1)
    with pytest.raises(RuntimeError, match="channels"):
        F.conv_transpose2d(ndgrad.randn(1, 3, 3, 3), ndgrad.randn(2, 2, 3, 3))


def test_conv_triple_backward():
    """Third derivatives go through the conv primitives' mutual backward as well."""
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    res = []
    for lib in (torch, ndgrad):
        x = lib.tensor(xa, requires_grad=True)
        w = lib.tensor(wa, requires_grad=True)
        y = lib.nn.functional.conv2d(x, w, stride=2, padding=1)
        (gx,) = lib.autograd.grad((y * y * y).sum(), [x], create_graph=True)
        (gw,) = lib.autograd.grad((gx * gx).sum(), [w], create_graph=True)
        (gx2,) = lib.autograd.grad((gw * gw).sum(), [x])
        res.append(gx2)
    assert_close(res[1], res[0], np.float64, "third order")


# -- max pooling -----------------------------------------------------------------------------
POOL_CASES = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 9, 7), dict(kernel_size=2)),  # odd size: last row/col dropped
    ((2, 3, 9, 10), dict(kernel_size=3)),  # tiles of 3x3: an odd number of tournament leaves
    ((2, 3, 8, 9), dict(kernel_size=(2, 3))),
    ((1, 1, 4, 4), dict(kernel_size=1)),
    ((2, 3, 8, 8), dict(kernel_size=3, stride=2)),  # overlapping windows
    ((2, 3, 8, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 9, 9), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1))),
    ((2, 3, 8, 7), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((2, 3, 7, 7), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ((3, 6, 6), dict(kernel_size=2)),  # unbatched
]


@pytest.mark.parametrize("xs,kw", POOL_CASES)
def test_max_pool2d(xs, kw):
    check_op([xs], lambda lib, x: lib.nn.functional.max_pool2d(x, **kw))
    check_op([xs], lambda lib, x: lib.nn.functional.max_pool2d(x, **kw), gradgrad=False)


@pytest.mark.parametrize("xs,kw", POOL_CASES)
def test_max_pool2d_return_indices(xs, kw):
    check_op([xs], lambda lib, x: lib.nn.functional.max_pool2d(x, return_indices=True, **kw))


def _tied_input(shape, seed=0):
    """Mostly zeros (blank image regions: whole windows tie), some repeated values."""
    rng = np.random.default_rng(seed)
    x = np.zeros(shape)
    x[..., 2:4, 1:5] = rng.integers(0, 3, size=x[..., 2:4, 1:5].shape)  # ties inside windows
    return x


@pytest.mark.parametrize("xs,kw", POOL_CASES)
def test_max_pool2d_ties_go_to_first_max(xs, kw):
    for dtype in (np.float32, np.float64):
        x = _tied_input(xs).astype(dtype)
        check_op([x], lambda lib, x: lib.nn.functional.max_pool2d(x, return_indices=True, **kw),
                 dtypes=(dtype,))
        check_op([x], lambda lib, x: lib.nn.functional.max_pool2d(x, **kw), dtypes=(dtype,),
                 gradgrad=False)


def test_conv_relu_pool_on_blank_image_matches_torch():
    """The MNIST case: a conv on blank regions makes whole pooling windows tie exactly."""
    rng = np.random.default_rng(1)
    x = np.zeros((4, 1, 12, 12), dtype=np.float32)
    x[:, :, 4:8, 3:9] = rng.random((4, 1, 4, 6), dtype=np.float32)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)

    def net(lib, x, w, b):
        F = lib.nn.functional
        return F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2)

    check_op([x, w, b], net, dtypes=(np.float32,), requires_grad=[False, True, True],
             gradgrad=False, **F32_CONV)


def test_max_pool2d_channels_first_input_and_infinite_gradients():
    """A conv output (channels-first memory, odd size) into the tiling fast path, and an
    upstream gradient with inf, which must reach only the chosen inputs (no 0 * inf = nan)."""
    rng = np.random.default_rng(2)
    x = _tied_input((3, 4, 7, 9)).astype(np.float32)
    w = rng.standard_normal((4, 4, 1, 1)).astype(np.float32)
    g = rng.standard_normal((3, 4, 3, 4)).astype(np.float32)
    g[0, 1, 1, 2], g[2, 3, 0, 0] = np.inf, -np.inf
    res = []
    for lib in (torch, ndgrad):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.max_pool2d(lib.nn.functional.conv2d(xt, lib.tensor(w)), 2)
        (gx,) = lib.autograd.grad(y, [xt], lib.tensor(g))
        res.append((y, gx))
    assert_close(res[1][0], res[0][0], np.float32, "output", **F32_CONV)
    assert_close(res[1][1], res[0][1], np.float32, "grad", **F32_CONV)
    grad_nd = res[1][1].numpy()
    assert not np.isnan(grad_nd).any()


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2)])
def test_max_pool2d_huge_finite_gradients(kw):
    """Huge finite gradients (their sum overflows) each reach exactly their window's first
    maximum, through the tiles' two-way split (g - g * mask) and the general path alike."""
    rng = np.random.default_rng(3)
    x = _tied_input((2, 3, 8, 8)).astype(np.float32)
    out_hw = 4 if kw["kernel_size"] == 2 else 3
    g = np.full((2, 3, out_hw, out_hw), 3e38, np.float32) * rng.choice([-1, 1], (2, 3, 1, 1))
    res = []
    for lib in (torch, ndgrad):
        xt = lib.tensor(x, requires_grad=True)
        (gx,) = lib.autograd.grad(lib.nn.functional.max_pool2d(xt, **kw), [xt],
                                  lib.tensor(g.astype(np.float32)))
        res.append(gx.numpy())
    np.testing.assert_array_equal(res[1], res[0])


@pytest.mark.parametrize("xs,kw", [
    ((2, 3, 9), dict(kernel_size=2)),
    ((2, 3, 9), dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)),
    ((3, 8), dict(kernel_size=3, stride=1, dilation=2)),
])
def test_max_pool1d(xs, kw):
    check_op([xs], lambda lib, x: lib.nn.functional.max_pool1d(x, return_indices=True, **kw))
    check_op([_tied_input(xs)], lambda lib, x: lib.nn.functional.max_pool1d(x, **kw),
             dtypes=(np.float64,))


def test_max_pool_errors():
    F = ndgrad.nn.functional
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(ndgrad.randn(1, 1, 5, 5), 2, padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(ndgrad.randn(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="3D .* 4D"):
        F.max_pool2d(ndgrad.randn(2, 2), 2)


# -- average pooling -------------------------------------------------------------------------
@pytest.mark.parametrize("xs,kw", [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((2, 3, 8, 7), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((2, 3, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 3, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                        count_include_pad=False)),
    ((2, 3, 6, 6), dict(kernel_size=(2, 3), stride=(1, 2), divisor_override=5)),
    ((3, 6, 6), dict(kernel_size=2)),
])
def test_avg_pool2d(xs, kw):
    check_op([xs], lambda lib, x: lib.nn.functional.avg_pool2d(x, **kw))


def test_avg_pool1d():
    check_op([(2, 3, 9)], lambda lib, x: lib.nn.functional.avg_pool1d(
        x, 3, stride=2, padding=1, count_include_pad=False))


@pytest.mark.parametrize("xs,out", [
    ((2, 3, 8, 8), 1), ((2, 3, 8, 8), (2, 4)), ((2, 3, 7, 5), (3, 2)), ((2, 3, 5, 7), (None, 3)),
    ((3, 5, 5), 4), ((2, 3, 4, 4), (6, 5)),
])
def test_adaptive_avg_pool2d(xs, out):
    check_op([xs], lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, out))


def test_adaptive_avg_pool1d():
    check_op([(2, 3, 7)], lambda lib, x: lib.nn.functional.adaptive_avg_pool1d(x, 3))


def test_pool_keeps_graph_small_and_float32():
    x = ndgrad.randn(2, 3, 8, 8, requires_grad=True)
    y = ndgrad.nn.functional.max_pool2d(x, 2)
    assert y.dtype == ndgrad.float32 and y.grad_fn is not None
    y.sum().backward()
    assert x.grad.dtype == ndgrad.float32
    assert float(x.grad.sum()) == pytest.approx(2 * 3 * 4 * 4)  # one 1 per window
