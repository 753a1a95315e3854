"""nn.EmbeddingBag and F.embedding_bag against torch (same weights, float64): every mode,
2-D input or 1-D input with offsets, per_sample_weights, padding_idx, include_last_offset,
empty bags, from_pretrained and state_dicts, with gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad

V, D = 7, 4
TOL = dict(rtol=1e-10, atol=1e-12)


def _run(lib, weight, inp, offsets=None, psw=None, **kw):
    """Output and the gradients of weight (and per_sample_weights) for d out = out's index+1."""
    w = lib.tensor(weight, requires_grad=True)
    p = None if psw is None else lib.tensor(psw, requires_grad=True)
    out = lib.nn.functional.embedding_bag(lib.tensor(inp), w,
                                          None if offsets is None else lib.tensor(offsets),
                                          per_sample_weights=p, **kw)
    out.backward(lib.tensor(np.arange(1.0, out.numel() + 1).reshape(tuple(out.shape))))
    return [out.detach().numpy(), w.grad.numpy()] + ([] if p is None else [p.grad.numpy()])


def _compare(*args, **kw):
    for t, n in zip(_run(torch, *args, **kw), _run(ndgrad, *args, **kw), strict=True):
        np.testing.assert_allclose(n, t, **TOL)


WEIGHT = np.random.default_rng(0).standard_normal((V, D))
FLAT = np.array([1, 2, 2, 4, 0, 6, 3, 5, 5, 1])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_bags_from_offsets(mode, padding_idx):
    """An empty bag (offsets 4, 4) and one made only of padding give zeros, as torch."""
    offsets = np.array([0, 3, 4, 4, 7])
    _compare(WEIGHT, FLAT, offsets, mode=mode, padding_idx=padding_idx)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_bags_from_2d_input(mode):
    _compare(WEIGHT, FLAT.reshape(2, 5), mode=mode, padding_idx=5)
    _compare(WEIGHT, np.zeros((0, 5), np.int64), mode=mode)  # no bags


def test_include_last_offset_and_per_sample_weights():
    offsets = np.array([0, 2, 2, 6, 10])
    psw = np.random.default_rng(1).standard_normal(FLAT.shape)
    _compare(WEIGHT, FLAT, offsets, mode="sum", include_last_offset=True)
    _compare(WEIGHT, FLAT, offsets, psw, mode="sum", include_last_offset=True, padding_idx=1)
    _compare(WEIGHT, FLAT.reshape(2, 5), None, psw.reshape(2, 5), mode="sum")


def test_module_matches_torch_and_state_dict():
    torch.manual_seed(0)
    tm = torch.nn.EmbeddingBag(V, D, mode="max", padding_idx=3).double()
    nm = ndgrad.nn.EmbeddingBag(V, D, mode="max", padding_idx=3)
    assert not nm.weight.detach().numpy()[3].any()
    nm.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    assert repr(nm) == repr(tm)
    offsets = np.array([0, 4, 9])
    to = tm(torch.tensor(FLAT), torch.tensor(offsets))
    no = nm(ndgrad.tensor(FLAT), ndgrad.tensor(offsets))
    to.sum().backward()
    no.sum().backward()
    np.testing.assert_allclose(no.detach().numpy(), to.detach().numpy(), **TOL)
    np.testing.assert_allclose(nm.weight.grad.numpy(), tm.weight.grad.numpy(), **TOL)
    back = torch.nn.EmbeddingBag(V, D, mode="max", padding_idx=3).double()
    back.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in nm.state_dict().items()})
    np.testing.assert_array_equal(back.weight.detach().numpy(), tm.weight.detach().numpy())


@pytest.mark.parametrize("freeze", [True, False])
def test_from_pretrained(freeze):
    bags = [lib.nn.EmbeddingBag.from_pretrained(lib.tensor(WEIGHT), freeze=freeze, mode="sum",
                                                include_last_offset=True)
            for lib in (torch, ndgrad)]
    assert bags[1].weight.requires_grad == bags[0].weight.requires_grad == (not freeze)
    outs = [b(lib.tensor(FLAT), lib.tensor([0, 5, 10])).detach().numpy()
            for b, lib in zip(bags, (torch, ndgrad))]
    np.testing.assert_allclose(outs[1], outs[0], **TOL)
    assert outs[1].shape == (2, D)


@pytest.mark.parametrize("kwargs, err, msg", [
    (dict(mode="max", per_sample_weights=True), NotImplementedError, "only supported for mode"),
    (dict(mode="prod"), ValueError, "mode has to be one of sum, mean or max"),
    (dict(offsets=None), ValueError, "offsets has to be a 1D Tensor but got None"),
])
def test_errors(kwargs, err, msg):
    for lib in (torch, ndgrad):
        offsets = kwargs.get("offsets", lib.tensor([0, 3]))
        psw = lib.ones(len(FLAT), dtype=lib.float64) if kwargs.get("per_sample_weights") \
            else None
        with pytest.raises(err, match=msg):
            lib.nn.functional.embedding_bag(lib.tensor(FLAT), lib.tensor(WEIGHT), offsets,
                                            mode=kwargs.get("mode", "mean"),
                                            per_sample_weights=psw)
