"""ndgrad.save / ndgrad.load: safetensors files, both ways with PyTorch, atomic, never pickle."""

from __future__ import annotations

import io
import json
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from safetensors.torch import load_file as torch_load_file
from safetensors.torch import save_file as torch_save_file

import ndgrad
from ndgrad import nn, optim


def build(lib):
    n = lib.nn
    return n.Sequential(n.Conv2d(1, 4, 3), n.BatchNorm2d(4), n.ReLU(), n.Flatten(),
                        n.Linear(4 * 4 * 4, 3))


def _train_a_bit(model):
    model(ndgrad.randn(2, 1, 6, 6)).sum().backward()  # also updates BatchNorm's buffers


def test_model_state_dict_round_trip(tmp_path):
    m = build(ndgrad)
    _train_a_bit(m)
    path = tmp_path / "model.safetensors"
    ndgrad.save(m.state_dict(), path)
    sd = ndgrad.load(path)
    assert list(sd) == list(m.state_dict())  # order kept
    for k, v in m.state_dict().items():
        assert isinstance(sd[k], ndgrad.Tensor) and sd[k].dtype == v.dtype
        np.testing.assert_array_equal(sd[k].numpy(), v.numpy())
    assert sd["1.num_batches_tracked"].item() == 1 and sd["1.num_batches_tracked"].shape == ()
    m2 = build(ndgrad)
    m2.load_state_dict(sd)
    x = ndgrad.randn(2, 1, 6, 6)
    m.eval()
    m2.eval()
    np.testing.assert_array_equal(m(x).numpy(force=True), m2(x).numpy(force=True))
    sd["0.weight"]._data[...] = 0  # loaded arrays are writable and not shared with the model
    assert m2[0].weight._data.any()


def test_ndgrad_file_loads_into_torch(tmp_path):
    m = build(ndgrad)
    _train_a_bit(m)
    path = str(tmp_path / "to_torch.safetensors")
    ndgrad.save(m.state_dict(), path)
    t = build(torch)
    t.load_state_dict(torch_load_file(path))  # strict: every key and shape matches
    m.eval()
    t.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(m(ndgrad.tensor(x)).numpy(force=True),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert t[1].num_batches_tracked.item() == 1


def test_torch_file_loads_into_ndgrad(tmp_path):
    t = build(torch)
    t.train()
    t(torch.randn(2, 1, 6, 6))
    path = tmp_path / "from_torch.safetensors"
    torch_save_file(t.state_dict(), str(path))
    sd = ndgrad.load(path)
    m = build(ndgrad)
    assert m.load_state_dict(sd).missing_keys == []
    m.eval()
    t.eval()
    x = np.random.default_rng(1).standard_normal((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(m(ndgrad.tensor(x)).numpy(force=True),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_optimizer_state_dict_round_trip(tmp_path):
    m = build(ndgrad)
    opt = optim.Adam([dict(params=list(m.parameters())[:2], lr=0.01),
                      dict(params=list(m.parameters())[2:])], lr=0.001, betas=(0.8, 0.95))
    for _ in range(3):
        opt.zero_grad()
        _train_a_bit(m)
        opt.step()
    path = tmp_path / "opt.safetensors"
    ndgrad.save(opt.state_dict(), path)
    loaded = ndgrad.load(path)
    original = opt.state_dict()
    assert list(loaded["state"]) == list(original["state"])  # integer ids stay integers
    assert all(isinstance(k, int) for k in loaded["state"])
    assert loaded["param_groups"] == original["param_groups"]  # betas stay a tuple
    assert isinstance(loaded["param_groups"][0]["betas"], tuple)
    for pid, state in original["state"].items():
        for k, v in state.items():
            assert loaded["state"][pid][k].dtype == v.dtype
            np.testing.assert_array_equal(loaded["state"][pid][k].numpy(), v.numpy())
    opt2 = optim.Adam(build(ndgrad).parameters())
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt2.load_state_dict(loaded)
    m3 = build(ndgrad)
    opt3 = optim.Adam([dict(params=list(m3.parameters())[:2]),
                       dict(params=list(m3.parameters())[2:])])
    opt3.load_state_dict(loaded)
    assert opt3.param_groups[0]["lr"] == 0.01


def test_training_checkpoint_with_plain_values(tmp_path):
    m = nn.Linear(2, 2)
    opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, 2)
    ckpt = {"model": m.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": 3, "best": float("inf"),
            "history": [0.5, 0.25], "note": "hello", "flags": (True, None),
            "array": np.arange(3)}
    path = tmp_path / "ckpt.safetensors"
    ndgrad.save(ckpt, path)
    back = ndgrad.load(path)
    assert back["epoch"] == 3 and back["best"] == float("inf") and back["note"] == "hello"
    assert back["history"] == [0.5, 0.25] and back["flags"] == (True, None)
    assert back["array"].tolist() == [0, 1, 2]
    assert back["scheduler"]["last_epoch"] == sched.state_dict()["last_epoch"]
    m2 = nn.Linear(2, 2)
    m2.load_state_dict(back["model"])
    np.testing.assert_array_equal(m2.weight._data, m.weight._data)
    # the file is an ordinary safetensors file: torch sees every tensor under readable names
    names = set(torch_load_file(str(path)))
    assert {"model.weight", "model.bias", "array"} <= names


def test_key_collisions_stay_distinct(tmp_path):
    obj = {"a.b": ndgrad.tensor([1.0]), "a": {"b": ndgrad.tensor([2.0])}}
    path = tmp_path / "c.safetensors"
    ndgrad.save(obj, path)
    back = ndgrad.load(path)
    assert back["a.b"].tolist() == [1.0] and back["a"]["b"].tolist() == [2.0]


def test_dtypes_and_shapes(tmp_path):
    obj = {"f64": ndgrad.randn(2, 3, dtype=ndgrad.float64), "f16": ndgrad.ones(2).half(),
           "i32": ndgrad.arange(4, dtype=ndgrad.int32), "b": ndgrad.tensor([True, False]),
           "u8": ndgrad.tensor([1, 2], dtype=ndgrad.uint8), "scalar": ndgrad.tensor(3.5),
           "empty": ndgrad.zeros(0, 3), "noncontig": ndgrad.randn(3, 4).t()}
    path = tmp_path / "d.safetensors"
    ndgrad.save(obj, path)
    back = ndgrad.load(path)
    for k, v in obj.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())


def test_file_objects():
    buf = io.BytesIO()
    ndgrad.save({"w": ndgrad.ones(2)}, buf)
    buf.seek(0)
    assert ndgrad.load(buf)["w"].tolist() == [1.0, 1.0]


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    ndgrad.save({"w": ndgrad.ones(2)}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        ndgrad.save({"w": ndgrad.zeros(5)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind
    ndgrad.save({"w": ndgrad.zeros(5)}, path)
    assert ndgrad.load(path)["w"].shape == (5,)


def test_saved_file_mode_follows_umask(tmp_path):
    path = tmp_path / "m.safetensors"
    ndgrad.save({"w": ndgrad.ones(1)}, path)
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == 0o666 & ~mask


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="never pickles"):
        ndgrad.save({"f": lambda: 1}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="dict keys"):
        ndgrad.save({(1, 2): ndgrad.ones(1)}, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("damage", ["truncate_body", "truncate_header", "empty", "garbage",
                                    "bad_json"])
def test_corrupt_files_name_the_file(tmp_path, damage):
    path = tmp_path / "bad.safetensors"
    ndgrad.save({"w": ndgrad.ones(100)}, path)
    data = path.read_bytes()
    if damage == "truncate_body":
        data = data[:-50]
    elif damage == "truncate_header":
        data = data[:20]
    elif damage == "empty":
        data = b""
    elif damage == "garbage":
        data = b"this is not a checkpoint at all" * 3
    else:
        n = int.from_bytes(data[:8], "little")
        data = data[:8] + b"{" * n + data[8 + n:]
    path.write_bytes(data)
    with pytest.raises(RuntimeError, match="bad.safetensors"):
        ndgrad.load(path)


def test_damaged_structure_metadata(tmp_path):
    path = tmp_path / "s.safetensors"
    torch_save_file({"w": torch.ones(1)}, str(path), metadata={"ndgrad.structure": "{oops"})
    with pytest.raises(RuntimeError, match="s.safetensors.*structure"):
        ndgrad.load(path)


def test_plain_pickles_are_refused(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": 1}, protocol=2))
    with pytest.raises(RuntimeError, match="model.pkl.*not a torch.save checkpoint"):
        ndgrad.load(path)


@pytest.mark.parametrize("where", ["header", "structure"])
def test_deeply_nested_json_names_the_file(tmp_path, where):
    """Issue 16.10: a deeply nested JSON header or structure record was a bare RecursionError."""
    path = tmp_path / "deep.safetensors"
    deep = "[" * 100_000 + "]" * 100_000
    if where == "structure":
        torch_save_file({"w": torch.ones(1)}, str(path), metadata={"ndgrad.structure": deep})
    else:
        header = ('{"__metadata__": {"x": ' + deep + '}}').encode()
        path.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(RuntimeError, match="deep.safetensors.*nested too deeply"):
        ndgrad.load(path)


def test_header_that_lies_about_sizes(tmp_path):
    path = tmp_path / "lie.safetensors"
    ndgrad.save({"w": ndgrad.ones(4)}, path)
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    header["w"]["data_offsets"] = [0, 64]  # more bytes than the body holds
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + n:])
    with pytest.raises(RuntimeError, match="lie.safetensors"):
        ndgrad.load(path)


def test_missing_file_and_bad_map_location(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        ndgrad.load(tmp_path / "nope.safetensors")
    ndgrad.save({"w": ndgrad.ones(1)}, tmp_path / "a.safetensors")
    assert ndgrad.load(tmp_path / "a.safetensors", map_location="cpu")["w"].item() == 1.0
    with pytest.raises(RuntimeError, match="CPU only"):
        ndgrad.load(tmp_path / "a.safetensors", map_location="cuda:0")


def test_metadata_is_json_and_format_pt(tmp_path):
    path = tmp_path / "m.safetensors"
    ndgrad.save(OrderedDict(w=ndgrad.ones(1)), path)
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    assert meta["format"] == "pt"
    json.loads(meta["ndgrad.structure"])
