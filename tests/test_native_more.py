"""torch's remaining top-level forms against torch: nn.grad's conv gradients, the legacy modules
(CrossMapLRN2d, NLLLoss2d, Container), the ATen forms with an integer reduction or native
argument order (kl_div, convolution, embedding_bag, native_dropout, lstm, gru_cell, ...),
binomial, is_inference, get_device, set_flush_denormal, cond and while_loop."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad
from tests.helpers import assert_close, check_op


# -- nn.grad -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_input_and_weight_grads_match_torch(dims: int) -> None:
    x_shape = (2, 4) + (7, 6, 5)[:dims]  # odd sizes with stride 2: the output_padding case
    w_shape = (6, 2) + (3, 2, 3)[:dims]
    opts = dict(stride=2, padding=1, dilation=1, groups=2)
    out = getattr(torch.nn.functional, f"conv{dims}d")(torch.zeros(x_shape), torch.zeros(w_shape),
                                                      **opts)
    g_shape = tuple(out.shape)
    fn_in, fn_w = f"conv{dims}d_input", f"conv{dims}d_weight"
    check_op([w_shape, g_shape], lambda lib, w, g: getattr(lib.nn.grad, fn_in)(x_shape, w, g,
                                                                               **opts),
             dtypes=(np.float64,))
    check_op([x_shape, g_shape], lambda lib, x, g: getattr(lib.nn.grad, fn_w)(x, w_shape, g,
                                                                              **opts),
             dtypes=(np.float64,))
    # the values are backward's: what autograd gives the input and the weight
    x = ndgrad.randn(*x_shape, dtype=ndgrad.float64, requires_grad=True)
    w = ndgrad.randn(*w_shape, dtype=ndgrad.float64, requires_grad=True)
    g = ndgrad.randn(*g_shape, dtype=ndgrad.float64)
    gx, gw = ndgrad.autograd.grad(getattr(ndgrad.nn.functional, f"conv{dims}d")(x, w, **opts),
                                  (x, w), g)
    assert_close(getattr(ndgrad.nn.grad, fn_in)(x.shape, w, g, **opts), gx.numpy())
    assert_close(getattr(ndgrad.nn.grad, fn_w)(x, w.shape, g, **opts), gw.numpy())


def test_conv_grad_module_is_reachable_as_torch_s() -> None:
    assert ndgrad.nn.functional.grad is ndgrad.nn.grad
    check_op([(1, 1, 3), (1, 1, 1), (1, 1, 3)],
             lambda lib, x, w, g: lib.nn.grad.conv1d_input(x.shape, w, g) +
             lib.nn.grad.conv1d_weight(x, w.shape, g).sum())
    with pytest.raises(RuntimeError, match="grad_output of shape"):
        ndgrad.nn.grad.conv2d_input((1, 1, 4, 4), ndgrad.ones(1, 1, 3, 3), ndgrad.ones(1, 1, 3, 3))


# -- legacy modules -------------------------------------------------------------------------
@pytest.mark.parametrize("size,channels", [(3, 5), (2, 6), (5, 8), (4, 3), (7, 2)])
def test_cross_map_lrn2d_values_and_gradients_are_torch_s(size: int, channels: int) -> None:
    # torch's backward is its own (not the derivative of its forward) and cannot be
    # differentiated again: values and first gradients against torch
    check_op([(2, channels, 3, 2)],
             lambda lib, x: lib.nn.CrossMapLRN2d(size, 0.3, 0.75, 1.5)(x), gradgrad=False)


def test_cross_map_lrn2d_double_backward_differentiates_its_backward() -> None:
    m = ndgrad.nn.CrossMapLRN2d(3, 0.5, 0.6, 1.0)
    g = ndgrad.randn(1, 4, 2, 2, dtype=ndgrad.float64)

    def first_grad(x: ndgrad.Tensor) -> ndgrad.Tensor:
        return ndgrad.autograd.grad(m(x), x, g, create_graph=True)[0]

    x = ndgrad.randn(1, 4, 2, 2, dtype=ndgrad.float64, requires_grad=True)
    assert ndgrad.autograd.gradcheck(first_grad, (x,))


def test_cross_map_lrn2d_module_surface() -> None:
    m = ndgrad.nn.CrossMapLRN2d(5, alpha=2e-4)
    assert repr(m) == repr(torch.nn.CrossMapLRN2d(5, alpha=2e-4)).replace("torch", "ndgrad")
    with pytest.raises(ValueError, match="Expected input to be 4D, got 3D"):
        m(ndgrad.ones(1, 2, 3))


def test_nllloss2d_is_nllloss_and_warns() -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
    t = np.random.default_rng(1).integers(0, 3, size=(2, 4, 4))
    values = []
    for lib in (torch, ndgrad):
        with pytest.warns(FutureWarning, match="NLLLoss2d` has been deprecated"):
            loss = lib.nn.NLLLoss2d(reduction="sum")
        assert isinstance(loss, lib.nn.NLLLoss)
        values.append(loss(lib.tensor(x).log_softmax(1), lib.tensor(t)))
    assert_close(values[1], values[0])


def test_container_holds_modules_and_warns() -> None:
    with pytest.warns(FutureWarning, match="nn.Container` is deprecated"):
        c = ndgrad.nn.Container(fc=ndgrad.nn.Linear(2, 3))
    assert [n for n, _ in c.named_parameters()] == ["fc.weight", "fc.bias"]
    with pytest.warns(FutureWarning, match="nn.Container` is deprecated"):
        class Old(ndgrad.nn.Container):
            pass
    assert issubclass(Old, ndgrad.nn.Module)


# -- losses with an integer reduction ---------------------------------------------------------
_SIGNS = np.array([1, -1, 1, -1])


@pytest.mark.parametrize("reduction", [0, 1, 2, 5])
def test_loss_aten_forms_take_torch_s_reduction_enum(reduction: int) -> None:
    r = reduction
    check_op([(4, 3), (4, 3)], lambda lib, x, t: lib.kl_div(x.log_softmax(1), t.softmax(1), r))
    check_op([(4, 3), (4, 3)],
             lambda lib, x, t: lib.kl_div(x, t.log_softmax(1), r, log_target=True))
    check_op([(4, 3), (4, 3), (3,), (3,)],
             lambda lib, x, t, w, pw: lib.binary_cross_entropy_with_logits(
                 x, t.sigmoid(), w, pw.exp(), r), requires_grad=[True, True, False, False])
    check_op([(4, 3), (4, 3), _SIGNS],
             lambda lib, a, b, y: lib.cosine_embedding_loss(a, b, y, 0.2, r))
    check_op([(4,), (4,), _SIGNS],
             lambda lib, a, b, y: lib.margin_ranking_loss(a, b, y, 0.5, r))
    check_op([(4, 3)], lambda lib, x: lib.hinge_embedding_loss(
        x, lib.tensor([[1.0, -1.0, 1.0]]).to(x.dtype), 1.5, r))
    check_op([(4, 3), (4, 3), (4, 3)],
             lambda lib, a, p, n: lib.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True, r))
    check_op([(4, 3), (4, 3)],
             lambda lib, x, t: lib.poisson_nll_loss(x, t.exp(), True, True, 1e-8, r))
    check_op([(4, 3), (4, 3)],
             lambda lib, x, t: lib.poisson_nll_loss(x.exp(), t.exp(), False, False, 1e-8, r))


@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_ctc_loss_aten_form(reduction: int) -> None:
    targets = np.array([[1, 2, 1], [3, 1, 0]])

    def fn(lib, x):  # type: ignore[no-untyped-def]
        return lib.ctc_loss(x.log_softmax(2), lib.tensor(targets), [6, 5], [3, 2], 0, reduction,
                            False)

    check_op([(6, 2, 4)], fn, gradgrad=False)


# -- embedding_bag --------------------------------------------------------------------------
_IDX = np.array([1, 2, 4, 5, 4, 3, 2, 9])
_OFF = np.array([0, 3, 3, 5])
_OFF_LAST = np.array([0, 3, 3, 5, 8])  # include_last_offset: the end of the last bag


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("last,pad", [(False, None), (True, None), (False, 2), (False, -1),
                                      (True, -6)])
def test_embedding_bag_returns_torch_s_four_outputs(mode: int, last: bool,
                                                    pad: int | None) -> None:
    # float32 sum without padding is torch's fast path: its offset2bag is empty
    offsets = _OFF_LAST if last else _OFF
    check_op([(10, 3)], lambda lib, w: lib.embedding_bag(
        w, lib.tensor(_IDX), lib.tensor(offsets), False, mode, False, None, last, pad),
        gradgrad=False)


def test_embedding_bag_per_sample_weights_int32_and_errors() -> None:
    check_op([(10, 3), (8,)], lambda lib, w, psw: lib.embedding_bag(
        w, lib.tensor(_IDX, dtype=lib.int32), lib.tensor(_OFF, dtype=lib.int32), False, 0, False,
        psw, False), gradgrad=False)
    # (values only: torch's CPU gradient with scale_grad_by_freq divides rows by the counts
    # of other rows, e.g. [1, 1, 0.5, 2, 0.5] for counts [1, 2, 1, 2, 1]; ndgrad's
    # F.embedding_bag divides each row by its own count)
    check_op([(10, 3)], lambda lib, w: lib.embedding_bag(
        w, lib.tensor(_IDX, dtype=lib.int32), lib.tensor(_OFF, dtype=lib.int32), True, 1),
        grad=False)
    w = ndgrad.ones(10, 3)
    with pytest.raises(RuntimeError, match="`mode` must be sum, mean, or max"):
        ndgrad.embedding_bag(w, ndgrad.tensor(_IDX), ndgrad.tensor(_OFF), False, 3)
    with pytest.raises(RuntimeError, match="padding_idx must be within the number of embed"):
        ndgrad.embedding_bag(w, ndgrad.tensor(_IDX), ndgrad.tensor(_OFF), False, 0, False,
                             None, False, 10)


# -- convolution ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [
    ((2, 4, 7), (6, 2, 3), [2], [1], [1], False, [0], 2),
    ((1, 2, 5, 6), (4, 2, 3, 2), [1, 2], [1, 0], [2, 1], False, [0, 0], 1),
    ((1, 2, 3, 4, 3), (2, 2, 2, 2, 2), [1], [0], [1], False, [0], 1),
    ((2, 4, 5), (4, 3, 3), [2], [1], [1], True, [1], 2),
    ((1, 2, 3, 4), (2, 3, 3, 2), [2, 1], [1, 0], [1, 2], True, [1, 0], 1),
    ((1, 2, 2, 3, 2), (2, 1, 2, 2, 2), [2], [0], [1], True, [0], 1),
])
def test_convolution_dispatches_by_rank_and_transposed(case: tuple) -> None:
    x_shape, w_shape, stride, padding, dilation, transposed, out_pad, groups = case
    out_ch = w_shape[1] * groups if transposed else w_shape[0]
    check_op([x_shape, w_shape, (out_ch,)], lambda lib, x, w, b: lib.convolution(
        x, w, b, stride, padding, dilation, transposed, out_pad, groups))


def test_convolution_errors() -> None:
    with pytest.raises(RuntimeError, match="weight should have at least three dimensions"):
        ndgrad.convolution(ndgrad.ones(3, 4), ndgrad.ones(3, 4), None, [1], [0], [1], False, [0],
                           1)


# -- dropout ----------------------------------------------------------------------------------
def test_feature_dropout_zeroes_whole_channels() -> None:
    ndgrad.manual_seed(0)
    x = ndgrad.ones(64, 8, 3)
    y = ndgrad.feature_dropout(x, 0.25, True)
    per_channel = y.numpy().reshape(64, 8, 3)
    assert np.all(per_channel.min(2) == per_channel.max(2))  # a channel is kept or dropped
    np.testing.assert_allclose(np.unique(per_channel), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs((per_channel == 0).mean() - 0.25) < 0.06
    assert ndgrad.feature_dropout(x, 0.5, False) is x
    z = ndgrad.ones(4, 3)
    assert ndgrad.feature_dropout_(z, 1.0, True) is z and not z.numpy().any()
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        ndgrad.feature_dropout(ndgrad.ones(3), 0.5, True)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        ndgrad.feature_dropout(x, 1.5, True)


def test_native_dropout_returns_output_and_mask() -> None:
    ndgrad.manual_seed(1)
    x = ndgrad.randn(200, 50, dtype=ndgrad.float64, requires_grad=True)
    out, mask = ndgrad.native_dropout(x, 0.3, True)
    assert mask.dtype == ndgrad.bool and mask.shape == x.shape
    assert abs(mask.numpy().mean() - 0.7) < 0.02
    np.testing.assert_allclose(out.detach().numpy(), x.detach().numpy() * mask.numpy() / 0.7)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), mask.numpy() / 0.7)  # type: ignore[union-attr]
    assert ndgrad.native_dropout(x, 0.3, None)[1].numpy().mean() < 0.8  # None trains
    for lib in (torch, ndgrad):  # evaluation: a copy in the graph, every element kept
        xt = lib.ones(2, 3, requires_grad=True)
        out, mask = lib.native_dropout(xt, 0.5, False)
        assert out is not xt and out.requires_grad and bool(mask.all())
        out, mask = lib.native_dropout(xt, 1.0, True)
        assert not out.detach().numpy().any() and not bool(mask.any())
        with pytest.raises(RuntimeError, match=r"bernoulli_ expects p to be in \[0, 1\]"):
            lib.native_dropout(xt, 1.5, True)


# -- norms, shuffles, grids, splits ------------------------------------------------------------
def test_native_norm_is_torch_s_sparse_norm_on_strided_tensors() -> None:
    x = np.random.default_rng(0).normal(size=(3, 4))
    cases: list[tuple[Any, ...]] = [(), (2,), (1,), (3.0,), (None, [0, 1], False, None)]
    for args in cases:
        expected = torch.native_norm(torch.tensor(x).to_sparse(), *args)
        assert_close(ndgrad.native_norm(ndgrad.tensor(x), *args), expected)
    check_op([(3, 4)], lambda lib, x: lib.native_norm(x) if lib is ndgrad else x.norm())
    out = ndgrad.native_norm(ndgrad.tensor(x), 2, [1], True, ndgrad.float32)
    assert out.shape == (3, 1) and out.dtype == ndgrad.float32


# (no 1-norm: torch's backward of it first imports torch._dynamo, 3 s)
@pytest.mark.parametrize("pow,dim", [(2, 0), (3, 1), (2, -1), (4, 2)])
def test_norm_except_dim(pow: int, dim: int) -> None:
    check_op([(2, 3, 4)], lambda lib, v: lib.norm_except_dim(v, pow, dim))


def test_channel_shuffle_affine_grid_and_unsafe_split() -> None:
    # torch's native_channel_shuffle has no derivative; ndgrad's is F.channel_shuffle's
    check_op([(2, 6, 2, 2)], lambda lib, x: lib.native_channel_shuffle(x, 3), grad=False)
    check_op([(2, 6, 2, 2)], lambda lib, x: (lib.native_channel_shuffle if lib is ndgrad else
                                             lib.nn.functional.channel_shuffle)(x, 3))
    for align in (False, True):
        check_op([(2, 2, 3)],
                 lambda lib, t, a=align: lib.affine_grid_generator(t, [2, 1, 3, 4], a))
        check_op([(1, 3, 4)],
                 lambda lib, t, a=align: lib.affine_grid_generator(t, [1, 1, 2, 3, 2], a))
    check_op([(5, 3)], lambda lib, x: lib.unsafe_split_with_sizes(x, [2, 3]))
    check_op([(3, 5)], lambda lib, x: lib.unsafe_split_with_sizes(x, [1, 0, 4], 1))
    assert isinstance(ndgrad.unsafe_split_with_sizes(ndgrad.ones(3), [1, 2]), tuple)


# -- binomial ---------------------------------------------------------------------------------
def test_binomial_moments_shape_and_dtype() -> None:
    ndgrad.manual_seed(0)
    count = ndgrad.full((20000,), 10.0)
    prob = ndgrad.full((20000,), 0.3)
    draws = ndgrad.binomial(count, prob)
    assert draws.dtype == ndgrad.float32 and draws.shape == (20000,)
    d = draws.numpy()
    assert np.all(d == np.round(d)) and d.min() >= 0 and d.max() <= 10
    assert abs(d.mean() - 3.0) < 0.05 and abs(d.var() - 2.1) < 0.1
    both = ndgrad.binomial(ndgrad.tensor([5.0, 10.0], dtype=ndgrad.float64),
                           ndgrad.tensor([[0.0], [1.0]], dtype=ndgrad.float64))
    assert both.dtype == ndgrad.float64
    np.testing.assert_array_equal(both.numpy(), [[0, 0], [5, 10]])  # broadcast, edge probs
    assert ndgrad.binomial(ndgrad.tensor(5.0), ndgrad.tensor(0.5)).shape == ()


def test_binomial_is_reproducible_from_a_seed_or_generator() -> None:
    c, p = ndgrad.full((50,), 7.0), ndgrad.full((50,), 0.4)
    ndgrad.manual_seed(3)
    a = ndgrad.binomial(c, p)
    ndgrad.manual_seed(3)
    b = ndgrad.binomial(c, p)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    g1, g2 = ndgrad.Generator().manual_seed(5), ndgrad.Generator().manual_seed(5)
    np.testing.assert_array_equal(ndgrad.binomial(c, p, g1).numpy(),
                                  ndgrad.binomial(c, p, generator=g2).numpy())


def test_binomial_has_no_derivative_and_checks_dtypes() -> None:
    for lib in (torch, ndgrad):
        c = lib.tensor([5.0, 10.0], requires_grad=True)
        out = lib.binomial(c, lib.tensor([0.5, 0.1]))
        assert out.requires_grad
        with pytest.raises(RuntimeError, match="derivative for aten::binomial is not impl"):
            out.sum().backward()
        with pytest.raises(ValueError, match="binomial only supports floating-point dtypes "
                                             "for count, got: Long"):
            lib.binomial(lib.tensor([5, 10]), lib.tensor([0.5, 0.1]))
        with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
            lib.binomial(lib.tensor([5.0]), lib.tensor([0.5], dtype=lib.float64))


# -- recurrent layers and cells ---------------------------------------------------------------
def _params(mode: str, layers: int, bidirectional: bool, bias: bool,
            proj: int = 0) -> list[tuple[int, ...]]:
    """The shapes of torch's flat weight list (input size 3, hidden size 4)."""
    gates = {"lstm": 4, "gru": 3}.get(mode, 1)
    directions = 2 if bidirectional else 1
    out = proj or 4
    shapes: list[tuple[int, ...]] = []
    for layer in range(layers):
        for _ in range(directions):
            shapes += [(gates * 4, 3 if layer == 0 else out * directions), (gates * 4, out)]
            shapes += [(gates * 4,), (gates * 4,)] if bias else []
            shapes += [(proj, 4)] if proj else []
    return shapes


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("bias,batch_first,bidirectional", [(True, False, True),
                                                            (False, True, False)])
def test_functional_rnns_match_torch(mode: str, bias: bool, batch_first: bool,
                                     bidirectional: bool) -> None:
    directions = 2 if bidirectional else 1
    x_shape = (2, 5, 3) if batch_first else (5, 2, 3)
    states = [(2 * directions, 2, 4)] * (2 if mode == "lstm" else 1)

    def fn(lib, x, *rest):  # type: ignore[no-untyped-def]
        hx = tuple(rest[:2]) if mode == "lstm" else rest[0]
        params = list(rest[len(states):])
        return getattr(lib, mode)(x, hx, params, bias, 2, 0.0, False, bidirectional,
                                  batch_first)

    check_op([x_shape, *states, *_params(mode, 2, bidirectional, bias)], fn, low=-1, high=1,
             gradgrad=mode == "gru" and bias)


def test_lstm_packed_data_form_with_projections() -> None:
    x = torch.randn(4, 3, 3, dtype=torch.float64)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, [4, 3, 2])
    data, sizes = packed.data.numpy(), packed.batch_sizes.numpy()

    def fn(lib, d, h, c, *params):  # type: ignore[no-untyped-def]
        return lib.lstm(d, lib.tensor(sizes), (h, c), list(params), True, 1, 0.0, False, False)

    check_op([data, (1, 3, 2), (1, 3, 4), *_params("lstm", 1, False, True, proj=2)], fn,
             dtypes=(np.float64,), gradgrad=False)
    check_op([data, (2, 3, 4), *_params("gru", 1, True, False)],
             lambda lib, d, h, *p: lib.gru(d, lib.tensor(sizes), h, list(p), False, 1, 0.0,
                                           False, True), dtypes=(np.float64,), gradgrad=False)


def test_functional_rnn_dropout_and_errors() -> None:
    ndgrad.manual_seed(0)
    x, h = ndgrad.randn(5, 2, 3), ndgrad.zeros(2, 2, 4)
    params = [ndgrad.randn(*s) for s in _params("gru", 2, False, True)]
    plain = ndgrad.gru(x, h, params, True, 2, 0.0, False, False, False)[0]
    evaluated = ndgrad.gru(x, h, params, True, 2, 0.9, False, False, False)[0]
    trained = ndgrad.gru(x, h, params, True, 2, 0.9, True, False, False)[0]
    np.testing.assert_array_equal(plain.numpy(), evaluated.numpy())  # train=False: no dropout
    assert not np.allclose(plain.numpy(), trained.numpy())
    with pytest.raises(RuntimeError, match="lstm expects two hidden states"):
        ndgrad.lstm(x, (h,), params, True, 2, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match="expected 8 parameter tensors"):
        ndgrad.gru(x, h, params[:-1], True, 2, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match="Expected hidden"):
        ndgrad.gru(x, ndgrad.zeros(1, 2, 4), params, True, 2, 0.0, False, False, False)


@pytest.mark.parametrize("cell,gates", [("rnn_tanh_cell", 1), ("rnn_relu_cell", 1),
                                        ("gru_cell", 3), ("lstm_cell", 4)])
def test_functional_cells_match_torch(cell: str, gates: int) -> None:
    n_states = 2 if cell == "lstm_cell" else 1

    def fn(lib, x, *rest):  # type: ignore[no-untyped-def]
        hx = tuple(rest[:2]) if n_states == 2 else rest[0]
        return getattr(lib, cell)(x, hx, *rest[n_states:])

    states = [(3, 5)] * n_states
    weights = [(gates * 5, 4), (gates * 5, 5)]
    check_op([(3, 4), *states, *weights, (gates * 5,), (gates * 5,)], fn, low=-1, high=1)
    check_op([(3, 4), *states, *weights], fn, low=-1, high=1, gradgrad=False)
    check_op([(3, 4), *states, *weights, (gates * 5,)], fn, low=-1, high=1, gradgrad=False)


def test_functional_cell_errors_are_torch_s() -> None:
    x, h = ndgrad.ones(4, 3), ndgrad.ones(4, 5)
    w1, w2 = ndgrad.ones(20, 3), ndgrad.ones(20, 5)
    with pytest.raises(RuntimeError, match="lstm_cell expects two hidden states"):
        ndgrad.lstm_cell(x, (h,), w1, w2)
    with pytest.raises(RuntimeError, match=r"weight_ih first dim must be 3 \* hidden_size = 15"):
        ndgrad.gru_cell(x, h, w1, w2)
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 4"):
        ndgrad.rnn_tanh_cell(x, h[:, :4], w1[:5], w2[:5])
    with pytest.raises(RuntimeError, match="Input batch size 4 doesn't match hidden0 batch"):
        ndgrad.rnn_tanh_cell(x, h[:2], w1[:5], w2[:5])
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 2 expected"):
        ndgrad.rnn_tanh_cell(x[:, :2], h, w1[:5], w2[:5])
    with pytest.raises(IndexError, match="Dimension out of range"):
        ndgrad.rnn_tanh_cell(x[0], h[0], w1[:5], w2[:5])


# -- small ones --------------------------------------------------------------------------------
def test_is_inference_follows_torch_s_rules() -> None:
    results = []
    for lib in (torch, ndgrad):
        x = lib.randn(4, 3)
        with lib.inference_mode():
            a, y = lib.ones(2), x * 2
            view, detached = x.view(-1), x.detach()  # views of a normal tensor stay normal
            with lib.inference_mode(False):
                inner = lib.ones(1)
        with lib.no_grad():
            plain = lib.ones(1)
        results.append([a.is_inference(), y.is_inference(), view.is_inference(),
                        detached.is_inference(), inner.is_inference(), plain.is_inference(),
                        (a * 2).is_inference(), a.clone().is_inference(),
                        a.view(-1).is_inference(), a[0].is_inference(),
                        a.detach().is_inference(), lib.is_inference(a), lib.is_inference(x)])
    assert results[1] == results[0]
    with pytest.raises(TypeError, match="must be Tensor, not int"):
        ndgrad.is_inference(3)  # type: ignore[arg-type]


def test_get_device_and_set_flush_denormal() -> None:
    assert ndgrad.get_device(ndgrad.ones(2)) == torch.get_device(torch.ones(2)) == -1
    with pytest.raises(TypeError, match="must be Tensor, not int"):
        ndgrad.get_device(3)  # type: ignore[arg-type]
    assert ndgrad.set_flush_denormal(True) is False  # NumPy cannot flush denormals
    assert ndgrad.set_flush_denormal(False) is False
    tiny = ndgrad.tensor([1e-310], dtype=ndgrad.float64)
    assert tiny.item() != 0.0  # denormals kept


def test_cond_runs_the_chosen_branch() -> None:
    x = ndgrad.randn(3, requires_grad=True)
    out = ndgrad.cond(x.sum() > 0, lambda t: t.cos(), lambda t: t.sin(), (x,))
    expected = x.cos() if x.sum() > 0 else x.sin()
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy())
    assert ndgrad.cond(ndgrad.tensor(0.0), lambda t: t + 1, lambda t: t - 1, [x]).requires_grad
    assert ndgrad.cond(x.shape[0] > 4, lambda: 1, lambda: 2) == 2  # a Python constant
    nested = ndgrad.cond(ndgrad.tensor(True), lambda d: d["a"] * 2, lambda d: d["a"],
                         ({"a": x},))
    (g,) = ndgrad.autograd.grad(nested.sum(), x)
    np.testing.assert_array_equal(g.numpy(), [2, 2, 2])


@pytest.mark.parametrize("args,match", [
    ((ndgrad.tensor([True, False]), "x"), "Expected pred to be bool or single-element tensor"),
    (("a", "x"), "Expected pred to be bool or tensor, but got a"),
    ((ndgrad.tensor(True), "x1"), "only consists of tensor leaves"),
    ((ndgrad.tensor(True), "bare"), "only consists of tensor leaves"),
    ((ndgrad.tensor(True), "alias"), "aliasing"),
])
def test_cond_errors_are_torch_s(args: tuple, match: str) -> None:
    x = ndgrad.ones(3)
    pred, which = args
    operands = {"x": (x,), "x1": (x, 1), "bare": x, "alias": (x,)}[which]
    true_fn = (lambda t: t[:2]) if which == "alias" else (lambda t, *_: t.cos())
    with pytest.raises(RuntimeError, match=match):
        ndgrad.cond(pred, true_fn, lambda t, *_: t.sin(), operands)


def test_while_loop_carries_values_and_gradients() -> None:
    out = ndgrad.while_loop(lambda i, x: i.sum() < 3, lambda i, x: (i + 1, x.sin()),
                            (ndgrad.zeros(1), ndgrad.ones(2)))
    assert isinstance(out, tuple)
    np.testing.assert_allclose(out[1].numpy(), np.sin(np.sin(np.sin(np.ones(2)))), rtol=1e-6)
    count, y = ndgrad.while_loop(lambda i, x: 2 * i < x.shape[0], lambda i, x: (i + 1, x + i),
                                 (0, ndgrad.ones(4)))
    assert count == 2 and y.numpy().tolist() == [2.0] * 4  # torch's docstring example
    d = ndgrad.while_loop(lambda d: d["i"].sum() < 3, lambda d: {"i": d["i"] + 1},
                          ({"i": ndgrad.zeros(1)},))
    assert d["i"].item() == 3.0  # the body's structure
    x = ndgrad.ones(2, requires_grad=True)
    _, y = ndgrad.while_loop(lambda i, v: i.sum() < 3, lambda i, v: (i + 1, v * 2),
                             (ndgrad.zeros(1), x))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8, 8])  # type: ignore[union-attr]
    start = (ndgrad.full((1,), 5.0), ndgrad.ones(2))
    kept = ndgrad.while_loop(lambda i, x: i.sum() < 3, lambda i, x: (i + 1, x.sin()), start)
    assert kept[0] is not start[0] and kept[0].item() == 5.0  # no step: copies


@pytest.mark.parametrize("body,carried,match", [
    (lambda i, x: (i + 1, x[:1] + 1), None, "same metadata"),
    (lambda i, x: (i + 1, x.double()), None, "same metadata"),
    (lambda i, x: (i + 1,), None, "same number of outputs"),
    (lambda i, x: (i + 1, x), None, "aliasing"),
    (lambda i, x: (i + 1, x), (ndgrad.zeros(1), 2.0), "tensor or int leaves"),
])
def test_while_loop_errors_are_torch_s(body: object, carried: object, match: str) -> None:
    carried = carried or (ndgrad.zeros(1), ndgrad.ones(2))
    with pytest.raises(RuntimeError, match=match):
        ndgrad.while_loop(lambda i, x: i.sum() < 3, body, carried)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="scalar tensor or a bool"):
        ndgrad.while_loop(lambda i: i < 3, lambda i: (i + 1,), (ndgrad.zeros(2),))


def test_no_warnings_from_the_aten_forms() -> None:
    x = ndgrad.randn(3, 4).log_softmax(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ndgrad.kl_div(x, x.exp(), 1)  # F.kl_div's 'mean' warning is F's, not the ATen form's
        ndgrad.affine_grid_generator(ndgrad.randn(1, 2, 3), [1, 1, 2, 2], False)
