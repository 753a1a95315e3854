"""Recurrent layers and nn.utils.rnn against torch: RNN/LSTM/GRU and their cells with torch's
weights copied in, forward values and every gradient (double backward too), packed and padded
sequences, errors, and a short training run."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

import ndgrad
from ndgrad import nn
from ndgrad.nn.utils import rnn as nrnn


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """torch's thread pool on a busy 2-core machine made 20 tiny steps take 2-9 s."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TDTYPE = {np.float32: torch.float32, np.float64: torch.float64}
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def close(a, b, dtype=np.float64, what=""):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


def pair(cls: str, *args, dtype=np.float64, **kwargs):
    """The same layer in both libraries, ndgrad's loaded from torch's state_dict."""
    t_mod = getattr(torch.nn, cls)(*args, **kwargs).to(TDTYPE[dtype])
    n_mod = getattr(nn, cls)(*args, **kwargs).to(dtype)
    n_mod.load_state_dict({k: ndgrad.tensor(v.detach().numpy())
                           for k, v in t_mod.state_dict().items()})
    return t_mod, n_mod


def flat(out):
    """(output, h_n) or (output, (h_n, c_n)) as a list of tensors."""
    if isinstance(out, tuple):
        return [t for o in out for t in flat(o)]
    if isinstance(out, nrnn.PackedSequence | trnn.PackedSequence):
        return [out.data]
    return [out]


def loss(outs, lib):
    """A non-uniform weighting of every output, so a missing factor cannot hide."""
    return sum(((o + 1) ** 2).mean() * (k + 1) for k, o in enumerate(outs))


def leaves(arrays, lib):
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def compare(t_mod, n_mod, t_args, n_args, dtype=np.float64, gradgrad=False):
    """Run both modules, compare outputs, then the gradients of every leaf argument and
    parameter (and, with gradgrad, the gradient of the squared first gradients)."""
    t_out, n_out = flat(t_mod(*t_args)), flat(n_mod(*n_args))
    for k, (a, b) in enumerate(zip(n_out, t_out, strict=True)):
        close(a, b, dtype, f"output {k}")
    t_in = [a for a in flat(t_args) if isinstance(a, torch.Tensor) and a.requires_grad]
    n_in = [a for a in flat(n_args) if isinstance(a, ndgrad.Tensor) and a.requires_grad]
    t_in += list(t_mod.parameters())
    n_in += list(n_mod.parameters())
    t_g = torch.autograd.grad(loss(t_out, torch), t_in, create_graph=gradgrad)
    n_g = ndgrad.autograd.grad(loss(n_out, ndgrad), n_in, create_graph=gradgrad)
    for k, (a, b) in enumerate(zip(n_g, t_g, strict=True)):
        close(a, b, dtype, f"gradient {k}")
    if gradgrad:
        t_gg = torch.autograd.grad(sum((g ** 2).sum() for g in t_g), t_in)
        n_gg = ndgrad.autograd.grad(sum((g ** 2).sum() for g in n_g), n_in)
        for k, (a, b) in enumerate(zip(n_gg, t_gg, strict=True)):
            close(a, b, dtype, f"double backward {k}")


CONFIGS = [
    ("LSTM", {}),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=2, num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(bias=False, proj_size=3)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(bias=False)),
    ("RNN", dict(num_layers=2, nonlinearity="relu", bidirectional=True)),
    ("RNN", dict(bias=False, batch_first=True)),
]


def _states(cls, kw, batch, rng, dtype=np.float64):
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    h = rng.normal(size=(layers, batch, kw.get("proj_size") or 4)).astype(dtype)
    c = rng.normal(size=(layers, batch, 4)).astype(dtype)
    return [h, c] if cls == "LSTM" else [h]


def _hx(cls, tensors):
    return tuple(tensors) if cls == "LSTM" else tensors[0]


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=[f"{c}-{k}" for c, k in CONFIGS])
def test_layers_match_torch(cls, kw):
    """Forward and gradients (input, initial states, every weight) equal torch's in float64,
    with and without initial states."""
    rng = np.random.default_rng(0)
    t_mod, n_mod = pair(cls, 3, 4, **kw)
    x = rng.normal(size=(2, 5, 3) if kw.get("batch_first") else (5, 2, 3))
    states = _states(cls, kw, 2, rng)
    tx, *ts = leaves([x, *states], torch)
    nx, *ns = leaves([x, *states], ndgrad)
    compare(t_mod, n_mod, (tx, _hx(cls, ts)), (nx, _hx(cls, ns)))
    compare(t_mod, n_mod, (tx,), (nx,))


@pytest.mark.parametrize("cls,kw", [CONFIGS[2], CONFIGS[4], CONFIGS[6]],
                         ids=["LSTM-proj", "GRU", "RNN-relu"])
def test_double_backward(cls, kw):
    rng = np.random.default_rng(1)
    t_mod, n_mod = pair(cls, 3, 4, **kw)
    x = rng.normal(size=(2, 3, 3))
    states = _states(cls, kw, 2 if kw.get("batch_first") else 3, rng)
    tx, *ts = leaves([x, *states], torch)
    nx, *ns = leaves([x, *states], ndgrad)
    compare(t_mod, n_mod, (tx, _hx(cls, ts)), (nx, _hx(cls, ns)), gradgrad=True)


def test_float32_and_unbatched():
    rng = np.random.default_rng(2)
    for cls in ("LSTM", "GRU", "RNN"):
        t_mod, n_mod = pair(cls, 3, 4, num_layers=2, dtype=np.float32)
        x = rng.normal(size=(6, 2, 3)).astype(np.float32)
        compare(t_mod, n_mod, leaves([x], torch), leaves([x], ndgrad), np.float32)
        # unbatched (L, H_in) input, with a 2-D initial state
        states = [s[:, 0] for s in _states(cls, {"num_layers": 2}, 1, rng, np.float32)]
        tx, *ts = leaves([x[:, 0], *states], torch)
        nx, *ns = leaves([x[:, 0], *states], ndgrad)
        compare(t_mod, n_mod, (tx, _hx(cls, ts)), (nx, _hx(cls, ns)), np.float32)
        out = n_mod(nx)[0]
        assert tuple(out.shape) == (6, 4)


@pytest.mark.parametrize("cls,kw", [CONFIGS[2], CONFIGS[4], CONFIGS[6]],
                         ids=["LSTM-proj", "GRU", "RNN-relu"])
def test_packed_sequences(cls, kw):
    """Unsorted lengths: the layer runs each sequence to its own end, h_n is each sequence's
    last state, and everything comes back in the input's order."""
    rng = np.random.default_rng(3)
    t_mod, n_mod = pair(cls, 3, 4, **kw)
    lengths = [3, 5, 1, 4]
    bf = kw.get("batch_first", False)
    x = rng.normal(size=(4, 5, 3) if bf else (5, 4, 3))
    states = _states(cls, kw, 4, rng)
    tx, *ts = leaves([x, *states], torch)
    nx, *ns = leaves([x, *states], ndgrad)

    def run(lib, utils, xx, hx):
        mod = t_mod if lib is torch else n_mod
        packed = utils.pack_padded_sequence(xx, lengths, batch_first=bf, enforce_sorted=False)
        out, hidden = mod(packed, hx)
        assert isinstance(out, utils.PackedSequence)
        padded, lens = utils.pad_packed_sequence(out, batch_first=bf, padding_value=-0.5,
                                                 total_length=6)
        assert lens.tolist() == lengths
        return padded, hidden

    t_out = flat(run(torch, trnn, tx, _hx(cls, ts)))
    n_out = flat(run(ndgrad, nrnn, nx, _hx(cls, ns)))
    for k, (a, b) in enumerate(zip(n_out, t_out, strict=True)):
        close(a, b, what=f"output {k}")
    t_in, n_in = [tx, *ts, *t_mod.parameters()], [nx, *ns, *n_mod.parameters()]
    t_g = torch.autograd.grad(loss(t_out, torch), t_in)
    n_g = ndgrad.autograd.grad(loss(n_out, ndgrad), n_in)
    for k, (a, b) in enumerate(zip(n_g, t_g, strict=True)):
        close(a, b, what=f"gradient {k}")


@pytest.mark.parametrize("cls,kw", [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu")),
                                    ("LSTMCell", {}), ("LSTMCell", dict(bias=False)),
                                    ("GRUCell", {}), ("GRUCell", dict(bias=False))])
def test_cells(cls, kw):
    rng = np.random.default_rng(4)
    t_mod, n_mod = pair(cls, 3, 4, **kw)
    x = rng.normal(size=(2, 3))
    states = [rng.normal(size=(2, 4)) for _ in range(2 if cls == "LSTMCell" else 1)]
    tx, *ts = leaves([x, *states], torch)
    nx, *ns = leaves([x, *states], ndgrad)
    hx = (lambda s: tuple(s)) if cls == "LSTMCell" else (lambda s: s[0])
    compare(t_mod, n_mod, (tx, hx(ts)), (nx, hx(ns)), gradgrad=True)
    compare(t_mod, n_mod, (tx,), (nx,))
    # unbatched: a 1-D input and 1-D states
    compare(t_mod, n_mod, (tx[0], hx([s[1] for s in ts])), (nx[0], hx([s[1] for s in ns])))
    # a loop of steps, as users write it
    t_h, n_h = hx(ts), hx(ns)
    for _ in range(3):
        t_h, n_h = t_mod(tx, t_h), n_mod(nx, n_h)
    close(flat(n_h)[0], flat(t_h)[0], what="three steps")


def test_one_state_tensor_passed_twice():
    """LSTMCell(x, (s, s)): s gets the sum of both gradients, also under create_graph."""
    t_mod, n_mod = pair("LSTMCell", 3, 4)
    x, s = np.random.default_rng(5).normal(size=(2, 2, 4))[:, :, :3], np.ones((2, 4)) * 0.3
    ts, ns = leaves([s], torch)[0], leaves([s], ndgrad)[0]
    compare(t_mod, n_mod, (torch.tensor(x[0]), (ts, ts)), (ndgrad.tensor(x[0]), (ns, ns)),
            gradgrad=True)


def test_parameters_state_dict_and_init():
    t_mod = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    n_mod = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    assert [(k, tuple(v.shape)) for k, v in n_mod.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t_mod.state_dict().items()]
    assert n_mod._flat_weights_names == t_mod._flat_weights_names
    assert [[tuple(p.shape) for p in ps] for ps in n_mod.all_weights] == \
        [[tuple(p.shape) for p in ps] for ps in t_mod.all_weights]
    # ndgrad -> torch
    t_mod.load_state_dict({k: torch.tensor(v.numpy()) for k, v in n_mod.state_dict().items()})
    for (k, a), b in zip(n_mod.state_dict().items(), t_mod.state_dict().values(), strict=True):
        close(a, b, np.float32, k)
    # init: U(-1/sqrt(hidden), 1/sqrt(hidden)) for every weight and bias
    bound = 1 / np.sqrt(5)
    w = np.concatenate([p.detach().numpy().ravel() for p in nn.GRU(8, 5).parameters()])
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound
    assert n_mod.flatten_parameters() is None
    for make in (lambda m: m.nn.LSTM(4, 5, proj_size=3, num_layers=2, batch_first=True,
                                  dropout=0.5, bidirectional=True),
                 lambda m: m.nn.RNN(4, 5, nonlinearity="relu", bias=False),
                 lambda m: m.nn.GRU(4, 5), lambda m: m.nn.RNNCell(3, 4, nonlinearity="relu"),
                 lambda m: m.nn.LSTMCell(3, 4, bias=False), lambda m: m.nn.GRUCell(3, 4)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert repr(make(ndgrad)) == repr(make(torch))


def test_dropout_between_layers():
    t_mod, n_mod = pair("LSTM", 3, 4, num_layers=3, dropout=0.5)
    x = np.random.default_rng(6).normal(size=(5, 2, 3))
    t_mod.eval()
    n_mod.eval()  # no dropout in evaluation: equal to torch's
    compare(t_mod, n_mod, leaves([x], torch), leaves([x], ndgrad))
    n_mod.train()
    out_a, out_b = n_mod(ndgrad.tensor(x))[0], n_mod(ndgrad.tensor(x))[0]
    assert not np.allclose(out_a.detach().numpy(), out_b.detach().numpy())  # new masks
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


def _error(fn):
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


@pytest.mark.parametrize("call", [
    lambda m: m.nn.LSTM(3, 4)(m.randn(5, 2, 2)),
    lambda m: m.nn.LSTM(3, 4)(m.randn(5, 2, 3).double()),
    lambda m: m.nn.LSTM(3, 4)(m.randn(4, 5, 2, 3)),
    lambda m: m.nn.LSTM(3, 4, 2)(m.randn(5, 2, 3), (m.randn(2, 3, 4), m.randn(2, 2, 4))),
    lambda m: m.nn.LSTM(3, 4)(m.randn(5, 2, 3), (m.randn(2, 4), m.randn(2, 4))),
    lambda m: m.nn.LSTM(3, 4, 2)(m.randn(5, 2, 3), (m.randn(2, 2, 4), m.randn(2, 2, 5))),
    lambda m: m.nn.GRU(3, 4)(m.randn(5, 2, 3), m.randn(1, 3, 4)),
    lambda m: m.nn.GRU(3, 4)(m.randn(5, 3), m.randn(1, 1, 4)),
    lambda m: m.nn.RNN(3, 4)(m.randn(0, 2, 3)),
    lambda m: m.nn.GRU(3, 4, proj_size=2),
    lambda m: m.nn.RNN(3, 4, nonlinearity="gelu"),
    lambda m: m.nn.LSTM(3, 4, proj_size=4),
    lambda m: m.nn.LSTM(3, 4, dropout=1.5),
    lambda m: m.nn.LSTM(0, 4),
    lambda m: m.nn.LSTMCell(3, 4)(m.randn(2, 3), (m.randn(3, 4), m.randn(2, 4))),
    lambda m: m.nn.LSTMCell(3, 4)(m.randn(2, 3), (m.randn(2, 4), m.randn(2, 5))),
    lambda m: m.nn.GRUCell(3, 4)(m.randn(2, 2)),
    lambda m: m.nn.RNNCell(3, 4)(m.randn(2, 2, 3)),
])
def test_errors_match_torch(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_kind, t_msg = _error(lambda: call(torch))
        n_kind, n_msg = _error(lambda: call(ndgrad))
    assert n_kind is t_kind and t_kind is not AttributeError
    assert n_msg == t_msg.replace("torch.", "ndgrad.")


def test_training_run_matches_torch():
    """Twenty SGD steps of an LSTM + Linear regressor: the same losses as torch's."""
    rng = np.random.default_rng(7)
    xs, ys = rng.normal(size=(20, 6, 3, 2)), rng.normal(size=(20, 3, 1))
    losses = {}
    t_lstm, n_lstm = pair("LSTM", 2, 5, num_layers=2, batch_first=True)
    t_head, n_head = pair("Linear", 5, 1)
    for lib, lstm, head in ((torch, t_lstm, t_head), (ndgrad, n_lstm, n_head)):
        params = [*lstm.parameters(), *head.parameters()]
        opt = lib.optim.SGD(params, lr=0.1, momentum=0.9)
        out = []
        for x, y in zip(xs, ys, strict=True):
            seq, (h, _) = lstm(lib.tensor(x.transpose(1, 0, 2)))
            loss_ = lib.nn.functional.mse_loss(head(seq[:, -1] + h[-1]), lib.tensor(y))
            opt.zero_grad()
            loss_.backward()
            opt.step()
            out.append(loss_.item())
        losses[lib.__name__] = out
    np.testing.assert_allclose(losses["ndgrad"], losses["torch"], rtol=1e-9)


def test_graph_rules():
    lstm = nn.LSTM(3, 4)
    x = ndgrad.randn(5, 2, 3, requires_grad=True)
    out, (h, c) = lstm(x)
    (out.sum() + c.sum()).backward(retain_graph=True)
    first = x.grad.numpy().copy()
    (out.sum() + c.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.sum().backward()
    with ndgrad.no_grad():
        out, (h, c) = lstm(x)
    assert not out.requires_grad and out.grad_fn is None


# -- nn.utils.rnn ------------------------------------------------------------------------------
def test_pad_sequence_and_friends():
    rng = np.random.default_rng(8)
    arrays = [rng.normal(size=(n, 2)) for n in (3, 5, 1)]
    t_seqs, n_seqs = leaves(arrays, torch), leaves(arrays, ndgrad)
    for kw in ({}, dict(batch_first=True, padding_value=-1.0),
               dict(padding_side="left", batch_first=True)):
        t_pad, n_pad = trnn.pad_sequence(t_seqs, **kw), nrnn.pad_sequence(n_seqs, **kw)
        close(n_pad, t_pad, what=str(kw))
        g = rng.normal(size=tuple(t_pad.shape))
        t_gr = torch.autograd.grad((t_pad * torch.tensor(g)).sum(), t_seqs)
        n_gr = ndgrad.autograd.grad((n_pad * ndgrad.tensor(g)).sum(), n_seqs)
        for a, b in zip(n_gr, t_gr, strict=True):
            close(a, b)
    close(nrnn.pad_sequence(ndgrad.tensor(arrays[1][None])),
          trnn.pad_sequence(torch.tensor(arrays[1][None])))
    for enforce in (False,):
        t_p = trnn.pack_sequence(t_seqs, enforce_sorted=enforce)
        n_p = nrnn.pack_sequence(n_seqs, enforce_sorted=enforce)
        close(n_p.data, t_p.data)
        assert n_p.batch_sizes.tolist() == t_p.batch_sizes.tolist()
        assert n_p.sorted_indices.tolist() == t_p.sorted_indices.tolist()
        assert n_p.unsorted_indices.tolist() == t_p.unsorted_indices.tolist()
        assert n_p.batch_sizes.dtype == ndgrad.int64
        for a, b in zip(nrnn.unpack_sequence(n_p), trnn.unpack_sequence(t_p), strict=True):
            close(a, b)
    sorted_seqs = [n_seqs[1], n_seqs[0], n_seqs[2]]
    packed = nrnn.pack_sequence(sorted_seqs)
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    padded, lens = nrnn.pad_packed_sequence(packed, batch_first=True)
    for a, b in zip(nrnn.unpad_sequence(padded, lens, batch_first=True), sorted_seqs,
                    strict=True):
        close(a, b)
    assert isinstance(packed.double(), nrnn.PackedSequence)
    assert packed.to(ndgrad.float32).data.dtype == ndgrad.float32


@pytest.mark.parametrize("call", [
    lambda m, u: u.pack_padded_sequence(m.zeros(5, 3, 2), [3, 4, 2]),
    lambda m, u: u.pack_padded_sequence(m.zeros(5, 3, 2), [3, 2, 0]),
    lambda m, u: u.pack_padded_sequence(m.zeros(5, 3, 2), [3, 2]),
    lambda m, u: u.pad_sequence([]),
    lambda m, u: u.pad_sequence([m.zeros(3)], padding_side="middle"),
    lambda m, u: u.pad_packed_sequence(u.pack_sequence([m.zeros(3)]), total_length=2),
])
def test_utils_errors_match_torch(call):
    t_kind, t_msg = _error(lambda: call(torch, trnn))
    n_kind, n_msg = _error(lambda: call(ndgrad, nrnn))
    assert (n_kind, n_msg) == (t_kind, t_msg)


def test_utils_errors_of_our_own():
    with pytest.raises(RuntimeError, match="every sequence must have the same trailing dims"):
        nrnn.pad_sequence([ndgrad.zeros(3, 2), ndgrad.zeros(2, 3)])
    with pytest.raises(RuntimeError, match="longer than the padded sequences"):
        nrnn.pack_padded_sequence(ndgrad.zeros(5, 3, 2), [6, 2, 1])
