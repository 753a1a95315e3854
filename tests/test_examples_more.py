"""What pytorch/examples programs (word_language_model, time_sequence_prediction, vae, ...) ask
of the library, checked against torch in small, fast pieces."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import ndgrad


def test_onnx_imports_and_export_raises_clearly():
    # word_language_model/main.py imports torch.onnx at the top and exports only on request
    onnx = importlib.import_module("ndgrad.onnx")
    assert ndgrad.onnx is onnx and onnx.is_in_onnx_export() is torch.onnx.is_in_onnx_export()
    with pytest.raises(RuntimeError, match="cannot export to ONNX"):
        onnx.export(ndgrad.nn.Linear(2, 1), (ndgrad.ones(1, 2),), "m.onnx")


def test_save_to_an_open_pt_file_is_read_by_torch(tmp_path):
    # with open(args.save, 'wb') as f: torch.save(model.state_dict(), f)
    model = ndgrad.nn.LSTM(3, 4, 2)
    with open(tmp_path / "model.pt", "wb") as f:
        ndgrad.save(model.state_dict(), f)
    theirs = torch.nn.LSTM(3, 4, 2)
    theirs.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(theirs.state_dict()[k].numpy(), v.numpy())
    with open(tmp_path / "model.pt", "rb") as f:
        back = ndgrad.load(f)
    assert back.keys() == model.state_dict().keys()
    data = np.arange(6.0).reshape(2, 3)
    with open(tmp_path / "arrays.bin", "wb") as f:  # a numpy array, as generate_sine_wave.py
        ndgrad.save(data, f)
    np.testing.assert_array_equal(ndgrad.load(tmp_path / "arrays.bin"), data)


# -- sparse COO, as gcn/main.py builds and uses it ---------------------------------------------
def _gcn_graph(lib, feats, edges):
    features = lib.tensor(feats)
    scale = 1 / lib.sum(features, dim=1)
    scale[scale == float("inf")] = 0
    features = lib.diag(scale).to_sparse() @ features
    v = feats.shape[0]
    adj = lib.sparse_coo_tensor(edges.T, lib.ones(len(edges)), (v, v), dtype=lib.int64,
                                check_invariants=True)
    adj = lib.eye(v) + adj
    degree = lib.diag(lib.sqrt(1 / lib.sum(adj, dim=1))).to_sparse()
    return features.to_sparse(), (degree @ adj @ degree).to_sparse()


def test_gcn_graph_convolution_as_torch():
    rs = np.random.RandomState(0)
    feats = (rs.rand(7, 5) < 0.4).astype(np.float32)
    feats[2] = 0  # a node without features: 1/0 -> inf -> 0
    edges = np.array([[0, 1], [1, 2], [3, 4], [4, 3], [5, 6], [0, 1]], np.int32)  # a duplicate
    kernel = rs.randn(5, 3).astype(np.float32)
    grads, outs = [], []
    for lib in (torch, ndgrad):
        features, adj = _gcn_graph(lib, feats, edges)
        assert features.is_sparse and adj.layout == lib.sparse_coo and adj.shape == (7, 7)
        w = lib.tensor(kernel, requires_grad=True)
        out = lib.spmm(adj, lib.mm(features, w))
        assert not out.is_sparse
        (out * out).sum().backward()
        outs.append(out.detach().numpy())
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sparse_dim", [None, 1])
def test_sparse_accessors_as_torch(sparse_dim):
    x = np.array([[0, 1.5, 0], [0, 0, 0], [2, 0, -1]], np.float32)
    args = () if sparse_dim is None else (sparse_dim,)
    t, n = torch.tensor(x).to_sparse(*args), ndgrad.tensor(x).to_sparse(*args)
    assert (n.sparse_dim(), n.dense_dim(), n._nnz(), n.is_coalesced()) == \
        (t.sparse_dim(), t.dense_dim(), t._nnz(), t.is_coalesced())
    np.testing.assert_array_equal(n.indices().numpy(), t.indices().numpy())
    np.testing.assert_array_equal(n.values().numpy(), t.values().numpy())
    np.testing.assert_array_equal(n.to_dense().numpy(), x)
    assert n.to_sparse(*args) is n and not n.to_dense().is_sparse
    assert "layout=ndgrad.sparse_coo" in repr(n) and "nnz=" in repr(n)


def test_sparse_coo_tensor_values_get_gradients_and_errors_match_torch():
    for lib in (torch, ndgrad):
        v = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        s = lib.sparse_coo_tensor(lib.tensor([[0, 1, 2], [2, 0, 1]]), v, (3, 3),
                                  check_invariants=True)
        (s @ lib.arange(9.0).reshape(3, 3)).sum().backward()
        assert v.grad.tolist() == [21.0, 3.0, 12.0]
    x = ndgrad.ones(2, 2)
    for call, msg in [(x.indices, "indices expected sparse coordinate tensor layout"),
                      (x.coalesce, "coalesce expected sparse")]:
        with pytest.raises(RuntimeError, match=msg):
            call()
    with pytest.raises(RuntimeError, match="must have same nnz"):
        ndgrad.sparse_coo_tensor([[0, 1]], [1.0, 2.0, 3.0], (3,))
    with pytest.raises(RuntimeError, match="for dim 0, size is 3 but found index 5"):
        ndgrad.sparse_coo_tensor([[0, 5]], [1.0, 2.0], (3,))
    assert ndgrad.sparse_coo_tensor([[0, 2]], [1, 2]).shape == (3,)  # size from the indices
    assert ndgrad.sparse_coo_tensor([[0, 2]], [1, 2]).dtype == ndgrad.int64
    assert ndgrad.sparse.sum(x.to_sparse(), 1).is_sparse and x.sparse_dim() == 0
