"""The fast paths added for word_language_model's transformer step (bench/transformer.py),
against torch: log_softmax's compiled loops over the last dim (both paths: NumPy, the reference,
and numba), cross_entropy's row max for wide rows, and add_ with alpha writing into the tensor's
own memory; then a few training steps of the example's model in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op

import ndgrad
from ndgrad.ops import _numba


def F(lib):
    return lib.nn.functional


# -- log_softmax --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 7), (3, 5, 100), (2, 3, 1), (1, 16)])
def test_log_softmax_last_dim(path, shape):
    check_op([shape], lambda lib, x: F(lib).log_softmax(x, dim=-1), low=-5, high=5,
             gradgrad=False)  # first order on arrays: the compiled backward
    check_op([shape], lambda lib, x: F(lib).log_softmax(x, dim=-1))  # create_graph: Tensors


def test_log_softmax_other_dims_and_layouts(path):
    check_op([(3, 5, 6)], lambda lib, x: F(lib).log_softmax(x, dim=1), gradgrad=False)
    check_op([(5, 3)], lambda lib, x: F(lib).log_softmax(x.t(), dim=-1), gradgrad=False)
    check_op([(0, 4)], lambda lib, x: F(lib).log_softmax(x, dim=-1), gradgrad=False)
    check_op([()], lambda lib, x: F(lib).log_softmax(x, dim=0), gradgrad=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_vocabulary_rows_with_nll(path, dtype):
    """Rows of 10k, as the decoder of a language model gives them, then NLLLoss."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 5, 10000)) * 4).astype(dtype)
    y = rng.integers(0, 10000, 15)
    outs = {}
    for lib in (torch, ndgrad):
        xt = lib.tensor(x, requires_grad=True)
        out = F(lib).log_softmax(xt, dim=-1)
        loss = F(lib).nll_loss(out.view(-1, 10000), lib.tensor(y))
        loss.backward()
        outs[lib.__name__] = (out, loss, xt.grad)
    tol = dict(rtol=1e-5, atol=2e-6) if dtype == np.float32 else {}
    for n, t, what in zip(outs["ndgrad"], outs["torch"], ("out", "loss", "grad"), strict=True):
        assert_close(n, t, dtype, what, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_extreme_rows(path, dtype):
    """-inf entries, a row all -inf, a row with nan, +inf, huge and tiny logits: torch's nan
    and -inf in the same places, and the same values elsewhere."""
    x = np.array([[0.0, -np.inf, 1.0, 2.0] * 5,
                  [-np.inf] * 20,
                  [1.0, np.nan] + [0.0] * 18,
                  [np.inf] + [0.0] * 19,
                  [3e38, -3e38] * 10,
                  [1e-30] * 20], dtype)
    tout = torch.log_softmax(torch.tensor(x), -1)
    nout = F(ndgrad).log_softmax(ndgrad.tensor(x), -1)
    np.testing.assert_allclose(nout.numpy(), tout.numpy(), rtol=1e-6)
    g = np.linspace(-1, 1, x.size).reshape(x.shape).astype(dtype)
    # gradients of the rows whose outputs are finite
    tg = torch.tensor(x[[0, 4, 5]], requires_grad=True)
    torch.log_softmax(tg, -1).backward(torch.tensor(g[[0, 4, 5]]))
    ng = ndgrad.tensor(x[[0, 4, 5]], requires_grad=True)
    F(ndgrad).log_softmax(ng, -1).backward(ndgrad.tensor(g[[0, 4, 5]]))
    np.testing.assert_allclose(ng.grad.numpy(), tg.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_log_softmax_compiled_path_matches_numpy_path():
    if not _numba.available():
        pytest.skip("numba is not installed")
    x = np.random.default_rng(1).standard_normal((40, 3000)) * 3
    g = np.random.default_rng(2).standard_normal((40, 3000))
    res = []
    for on in (False, True):
        with _numba.enabled(on):
            xt = ndgrad.tensor(x, requires_grad=True)
            F(ndgrad).log_softmax(xt, -1).backward(ndgrad.tensor(g))
            res.append((F(ndgrad).log_softmax(xt, -1).detach().numpy(), xt.grad.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=0, atol=1e-13)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=0, atol=1e-13)


# -- cross_entropy: the row max of wide and of narrow rows ---------------------------------------
@pytest.mark.parametrize("c", [5, 63, 64, 65, 1000])
def test_cross_entropy_row_max_both_layouts(path, c):
    m = 6
    target = np.random.default_rng(0).integers(0, c, m)
    check_op([(m, c)], lambda lib, x: F(lib).cross_entropy(x * 8, lib.tensor(target)),
             gradgrad=False)
    check_op([(m, c)], lambda lib, x: F(lib).cross_entropy(x, lib.tensor(target),
                                                           reduction="none", label_smoothing=0.1))
    # a transposed (non-contiguous) input: the row max reads along strides
    check_op([(c, m)], lambda lib, x: F(lib).cross_entropy(x.t(), lib.tensor(target)),
             gradgrad=False)


# -- add_ with alpha -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_alpha_in_place_same_bits_and_version(dtype):
    """ndgrad's p + (g * alpha), rounded twice as before the fast path; torch fuses it into one
    multiply-add (rounded once), so it agrees to rounding."""
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal((2, 50, 30)).astype(dtype)
    for lib in (torch, ndgrad):
        w = lib.nn.Parameter(lib.tensor(p.copy()))
        w.grad = lib.tensor(g)
        data = w.data
        v0 = data._version
        out = data.add_(w.grad, alpha=-20.0)
        assert out is data and data._version == v0 + 1
        if lib is ndgrad:
            np.testing.assert_array_equal(w.detach().numpy(), p + g * dtype(-20.0))
        else:
            np.testing.assert_allclose(w.detach().numpy(), p + g * dtype(-20.0), rtol=1e-6)
    # broadcasting other, into a view of a larger tensor
    base = ndgrad.tensor(p.copy())
    base[1:].add_(ndgrad.tensor(g[0, 0]), alpha=0.5)
    want = p.copy()
    want[1:] += g[0, 0] * dtype(0.5)
    np.testing.assert_array_equal(base.numpy(), want)


def test_add_alpha_in_place_errors_and_graph():
    x = ndgrad.arange(10.0)
    with pytest.raises(RuntimeError, match="single memory location"):
        x[1:].add_(x[:-1], alpha=2.0)  # partly overlapping input, as torch refuses
    with pytest.raises(RuntimeError, match="leaf Variable"):
        ndgrad.ones(3, requires_grad=True).add_(ndgrad.ones(3), alpha=2.0)
    # recorded: d/dy of (x * 1).add_(y, alpha=3) is 3, and the other dtype falls back
    for lib in (torch, ndgrad):
        xs, y = lib.ones(4, requires_grad=True), lib.ones(4, requires_grad=True)
        (xs * 1).add_(y, alpha=3.0).sum().backward()
        assert y.grad.tolist() == [3.0] * 4 and xs.grad.tolist() == [1.0] * 4
    a = ndgrad.ones(3, dtype=ndgrad.float64)
    a.add_(ndgrad.ones(3, dtype=ndgrad.float32), alpha=2.0)
    assert a.tolist() == [3.0] * 3 and a.dtype == ndgrad.float64


# -- the example's model, a few steps ------------------------------------------------------------
def _model(lib, ntoken=300, ninp=16, nhead=2, nhid=32, nlayers=2):
    nn = lib.nn

    class TransformerModel(nn.Transformer):
        """pytorch/examples' word_language_model TransformerModel (dropout off)."""

        def __init__(self):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                             num_encoder_layers=nlayers, dropout=0.0)
            pe = lib.zeros(64, ninp)
            position = lib.arange(0, 64, dtype=lib.float).unsqueeze(1)
            div = lib.exp(lib.arange(0, ninp, 2).float() * (-math.log(10000.0) / ninp))
            pe[:, 0::2] = lib.sin(position * div)
            pe[:, 1::2] = lib.cos(position * div)
            self.register_buffer("pe", pe.unsqueeze(1))
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.decoder = nn.Linear(ninp, ntoken)

        def forward(self, src):
            mask = lib.log(lib.tril(lib.ones(len(src), len(src))))
            x = self.input_emb(src) * math.sqrt(ninp) + self.pe[:len(src)]
            return F(lib).log_softmax(self.decoder(self.encoder(x, mask=mask)), dim=-1)

    return TransformerModel()


def test_word_language_model_steps_match_torch(path):
    torch.manual_seed(0)
    ref = _model(torch).double()
    state = {k: v.detach().numpy().copy() for k, v in ref.state_dict().items()}
    model = _model(ndgrad).double()
    model.load_state_dict({k: ndgrad.tensor(v) for k, v in state.items()})
    data = np.random.default_rng(0).integers(0, 300, (3, 9, 4))
    for batch in data:
        losses, grads = [], []
        for lib, m in ((torch, ref), (ndgrad, model)):
            out = m(lib.tensor(batch[:-1]))
            loss = lib.nn.NLLLoss()(out.view(-1, 300), lib.tensor(batch[1:].reshape(-1)))
            m.zero_grad()
            loss.backward()
            lib.nn.utils.clip_grad_norm_(m.parameters(), 0.25)
            grads.append([p.grad.numpy().copy() for p in m.parameters()])
            for p in m.parameters():
                p.data.add_(p.grad, alpha=-20.0)
            losses.append(float(loss.item()))
        assert abs(losses[0] - losses[1]) < 1e-12
        for a, b in zip(*grads, strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
