"""PyTorch checkpoints both ways: torch.save files load in ndgrad through the restricted reader,
ndgrad.save(.pt) files load in torch.load(weights_only=True), and hostile or broken files give
one clear error naming the file, with no code from the file ever run."""

from __future__ import annotations

import argparse
import io
import os
import pickle
import struct
import sys
import tarfile
import warnings
import zipfile
from collections import Counter, OrderedDict

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import optim
from ndgrad.serialization._pickler import Global, PersistentId, Pickler, Reduce


def build(lib):
    n = lib.nn
    return n.Sequential(n.Conv2d(1, 4, 3), n.BatchNorm2d(4), n.ReLU(), n.Flatten(),
                        n.Linear(4 * 4 * 4, 3))


def torch_bytes(obj, **kwargs):
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


def craft(obj, storages=None, byteorder=b"little"):
    """A zip checkpoint whose data.pkl is ``obj`` pickled as written (Reduce, Global and
    PersistentId spelled out), with the given storage records: for hand-made bad files."""
    pkl = Pickler(lambda o: o if isinstance(o, Reduce) else None).dumps(obj)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", byteorder)
        for key, data in (storages or {}).items():
            zf.writestr(f"archive/data/{key}", data)
        zf.writestr("archive/version", b"3\n")
    return buf.getvalue()


def tensor_v2(key, numel, offset, size, stride, storage="FloatStorage"):
    pid = PersistentId(("storage", Global("torch", storage), key, "cpu", numel))
    return Reduce(Global("torch._utils", "_rebuild_tensor_v2"),
                  (pid, offset, size, stride, False, OrderedDict()))


def load_bytes(tmp_path, data, name="ckpt.pt"):
    path = tmp_path / name
    path.write_bytes(data)
    return ndgrad.load(path)


# -- torch.save -> ndgrad.load -----------------------------------------------------------------
@pytest.mark.parametrize("name,legacy", [("model.pt", False), ("pytorch_model.bin", False),
                                         ("model.pth", True)])
def test_torch_weights_load_into_the_same_ndgrad_model(tmp_path, name, legacy):
    torch.manual_seed(0)
    t = build(torch)
    t(torch.randn(2, 1, 6, 6))  # train mode: BatchNorm's running stats move
    path = tmp_path / name
    torch.save(t.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    sd = ndgrad.load(path)
    assert isinstance(sd, OrderedDict) and list(sd) == list(t.state_dict())
    m = build(ndgrad)
    m.load_state_dict(sd)
    m.eval()
    t.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(m(ndgrad.tensor(x)).numpy(force=True),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_torch_optimizer_state_resumes_in_ndgrad(tmp_path):
    torch.manual_seed(0)
    t = torch.nn.Linear(3, 2)
    topt = torch.optim.Adam(t.parameters(), lr=0.01, betas=(0.8, 0.95))
    x = torch.randn(4, 3)
    for _ in range(3):
        topt.zero_grad()
        t(x).pow(2).mean().backward()
        topt.step()
    path = tmp_path / "ckpt.pth"
    torch.save({"model": t.state_dict(), "optimizer": topt.state_dict(), "epoch": 3}, path)
    ck = ndgrad.load(path)
    assert ck["epoch"] == 3 and list(ck["optimizer"]["state"]) == [0, 1]
    assert ck["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.95)
    m = ndgrad.nn.Linear(3, 2)
    m.load_state_dict(ck["model"])
    opt = optim.Adam(m.parameters())
    opt.load_state_dict(ck["optimizer"])
    xn = ndgrad.tensor(x.numpy())
    for _ in range(2):  # both continue from the same state
        topt.zero_grad()
        t(x).pow(2).mean().backward()
        topt.step()
        opt.zero_grad()
        m(xn).pow(2).mean().backward()
        opt.step()
    np.testing.assert_allclose(m.weight.numpy(force=True), t.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_nested_containers_and_values(tmp_path, legacy, protocol):
    obj = {"od": OrderedDict(b=1, a=[1.5, None, True]), "tuple": (1, "two", (3,)),
           "big": 2 ** 70, "neg": -(2 ** 40), "text": "hé", "bytes": b"\x00\xff", "empty": b"",
           "set": {1, 2}, "frozen": frozenset({3}), "complex": 1 + 2j, "counter": Counter(a=2),
           "array": np.arange(6, dtype=np.int16).reshape(2, 3),
           "farray": np.ones((2, 2), order="F"),
           "scalar": np.float64(2.5), "bool_scalar": np.bool_(True), "size": torch.Size([2, 3]),
           "dtype": torch.float64, "tensor": torch.arange(3), 7: "int key"}
    back = load_bytes(tmp_path, torch_bytes(obj, pickle_protocol=protocol,
                                            _use_new_zipfile_serialization=not legacy))
    assert type(back) is dict and type(back["od"]) is OrderedDict
    assert back["od"] == obj["od"] and list(back["od"]) == ["b", "a"]
    for k in ("tuple", "big", "neg", "text", "bytes", "empty", "set", "frozen", "complex",
              "counter", 7):
        assert back[k] == obj[k] and type(back[k]) is type(obj[k]), k
    for k in ("array", "farray", "scalar", "bool_scalar"):
        assert type(back[k]) is type(obj[k]) and back[k].dtype == obj[k].dtype, k
        np.testing.assert_array_equal(back[k], obj[k])
    assert back["array"].flags.writeable
    assert isinstance(back["size"], ndgrad.Size) and back["size"] == (2, 3)
    assert back["dtype"] == ndgrad.float64
    assert back["tensor"].tolist() == [0, 1, 2] and back["tensor"].dtype == ndgrad.int64


@pytest.mark.parametrize("legacy", [False, True])
def test_views_share_one_storage(tmp_path, legacy):
    base = torch.arange(12.0)
    obj = {"base": base, "slice": base[2:5], "step": base[::3], "t": base.view(3, 4).t(),
           "expanded": base[:1].expand(4, 2), "empty": base[12:], "scalar": base[5]}
    back = load_bytes(tmp_path, torch_bytes(obj, _use_new_zipfile_serialization=not legacy))
    for k, v in obj.items():
        assert back[k].shape == v.shape, k
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
    back["base"].mul_(10)  # as in torch: the views see it...
    assert back["slice"].tolist() == [20.0, 30.0, 40.0] and back["t"][1, 2].item() == 90.0
    assert back["slice"]._version == back["base"]._version == 1  # ...and so does autograd
    with pytest.raises(RuntimeError):  # an expanded tensor stays read-only, as ndgrad's own
        back["expanded"].add_(1)


def test_dtypes_flags_and_parameters(tmp_path):
    names = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]
    obj = {n: torch.tensor([1, 0, 3]).to(getattr(torch, n)) for n in names}
    obj[torch.float16] = "a dtype as a key"
    obj["grad"] = torch.ones(2, requires_grad=True)
    obj["param"] = torch.nn.Parameter(torch.ones(2))
    obj["frozen"] = torch.nn.Parameter(torch.ones(2), requires_grad=False)
    obj["zero_d"] = torch.tensor(3.5)
    obj["size0"] = torch.zeros(0, 3)
    back = load_bytes(tmp_path, torch_bytes(obj))
    for n in names:
        assert back[n].dtype == getattr(ndgrad, n), n
        np.testing.assert_array_equal(back[n].numpy(), obj[n].numpy())
    assert back[ndgrad.float16] == "a dtype as a key"
    assert back["grad"].requires_grad and back["grad"].is_leaf
    assert isinstance(back["param"], ndgrad.nn.Parameter) and back["param"].requires_grad
    assert isinstance(back["frozen"], ndgrad.nn.Parameter) and not back["frozen"].requires_grad
    assert back["zero_d"].shape == () and back["zero_d"].item() == 3.5
    assert back["size0"].shape == (0, 3)


def test_big_endian_storages(tmp_path):
    data = torch_bytes({"w": torch.arange(4.0), "i": torch.arange(3)})
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in src.infolist():
            record = src.read(info)
            if info.filename.endswith("byteorder"):
                record = b"big"
            elif "/data/" in info.filename:  # data/0 holds floats, data/1 int64s
                itemsize = 4 if info.filename.endswith("/0") else 8
                record = np.frombuffer(record, f"<u{itemsize}").astype(f">u{itemsize}").tobytes()
            zf.writestr(info.filename, record)
    back = load_bytes(tmp_path, buf.getvalue())
    assert back["w"].tolist() == [0.0, 1.0, 2.0, 3.0] and back["i"].tolist() == [0, 1, 2]


def test_user_allowed_globals(tmp_path):
    data = torch_bytes({"args": argparse.Namespace(lr=0.1), "w": torch.ones(1)})
    with pytest.raises(pickle.UnpicklingError, match="argparse.Namespace.*add_safe_globals"):
        load_bytes(tmp_path, data)
    with ndgrad.serialization.safe_globals([argparse.Namespace]):
        back = load_bytes(tmp_path, data)
        assert argparse.Namespace in ndgrad.serialization.get_safe_globals()
    assert back["args"].lr == 0.1 and ndgrad.serialization.get_safe_globals() == []
    ndgrad.serialization.add_safe_globals([argparse.Namespace])
    try:
        assert load_bytes(tmp_path, data)["args"].lr == 0.1
    finally:
        ndgrad.serialization.clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError):
        load_bytes(tmp_path, data)


def test_nothing_uses_pickle_load_or_torch(tmp_path, monkeypatch):
    data = torch_bytes({"w": torch.ones(2), "a": np.ones(2)})
    legacy = torch_bytes({"w": torch.ones(2)}, _use_new_zipfile_serialization=False)

    def forbidden(*args, **kwargs):
        raise AssertionError("ndgrad used pickle's unpickler")

    for name in ("load", "loads", "Unpickler", "_Unpickler", "_load", "_loads"):
        monkeypatch.setattr(pickle, name, forbidden, raising=False)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    assert load_bytes(tmp_path, data)["w"].tolist() == [1.0, 1.0]
    assert load_bytes(tmp_path, legacy)["w"].tolist() == [1.0, 1.0]
    ndgrad.save({"w": ndgrad.ones(1)}, tmp_path / "out.pt")


# -- ndgrad.save(.pt) -> torch.load(weights_only=True) -----------------------------------------
def test_ndgrad_model_loads_into_torch(tmp_path):
    m = build(ndgrad)
    m(ndgrad.randn(2, 1, 6, 6))
    path = tmp_path / "model.pt"
    ndgrad.save(m.state_dict(), path)
    assert zipfile.is_zipfile(path)
    t = build(torch)
    t.load_state_dict(torch.load(path, weights_only=True))  # strict: every key and shape
    m.eval()
    t.eval()
    x = np.random.default_rng(1).standard_normal((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(m(ndgrad.tensor(x)).numpy(force=True),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert t[1].num_batches_tracked.item() == 1
    mapped = torch.load(path, weights_only=True, mmap=True)  # records are 64-byte aligned
    np.testing.assert_array_equal(mapped["4.bias"].numpy(), m[4].bias.numpy(force=True))


def test_ndgrad_checkpoint_reads_in_torch(tmp_path):
    m = ndgrad.nn.Linear(3, 2)
    opt = optim.Adam(m.parameters(), lr=0.01)
    m(ndgrad.ones(1, 3)).sum().backward()
    opt.step()
    x = ndgrad.arange(6.0)
    ckpt = {"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
            "best": float("inf"), "big": -(2 ** 80), "history": [0.5, 0.25], "note": "hé",
            "flags": (True, None), "od": OrderedDict(z=1), "x": x, "same_x": x.detach(),
            "param": m.weight, "ints": ndgrad.tensor([1, 2]), "mask": ndgrad.tensor([True]),
            "empty": ndgrad.zeros(0, 3), "scalar": ndgrad.tensor(2.0),
            "transposed": ndgrad.arange(6.0).reshape(2, 3).t(), "dtype": ndgrad.float64,
            "size": ndgrad.Size([1, 2]), "grad": ndgrad.ones(2, requires_grad=True)}
    path = tmp_path / "ckpt.pth"
    ndgrad.save(ckpt, path)
    back = torch.load(path, weights_only=True)
    for k in ("epoch", "best", "big", "history", "note", "flags"):
        assert back[k] == ckpt[k], k
    assert type(back["od"]) is OrderedDict and type(back["flags"]) is tuple
    for k in ("x", "ints", "mask", "empty", "scalar", "transposed", "param"):
        assert tuple(back[k].shape) == tuple(ckpt[k].shape), k
        np.testing.assert_array_equal(back[k].detach().numpy(), ckpt[k].numpy(force=True))
    assert back["x"].untyped_storage().data_ptr() == back["same_x"].untyped_storage().data_ptr()
    assert isinstance(back["param"], torch.nn.Parameter) and back["grad"].requires_grad
    assert back["dtype"] is torch.float64 and back["size"] == torch.Size([1, 2])
    assert back["optimizer"]["param_groups"][0]["lr"] == 0.01
    t = torch.nn.Linear(3, 2)
    t.load_state_dict(back["model"])
    topt = torch.optim.Adam(t.parameters())
    topt.load_state_dict(back["optimizer"])
    assert topt.state_dict()["state"][0]["exp_avg"].shape == (2, 3)


def test_numpy_in_torch_format(tmp_path):
    """NumPy arrays are pickled as NumPy pickles itself: torch reads them once allowed, as it
    does for its own files; ndgrad reads them back as arrays."""
    obj = {"a": np.arange(4.0).reshape(2, 2), "s": np.int64(7)}
    path = tmp_path / "np.pt"
    ndgrad.save(obj, path)
    reconstruct, scalar = np.empty(0).__reduce__()[0], np.int64(0).__reduce__()[0]
    with torch.serialization.safe_globals([reconstruct, scalar, np.ndarray, np.dtype,
                                           type(np.dtype("f8")), type(np.dtype("i8"))]):
        back = torch.load(path, weights_only=True)
    np.testing.assert_array_equal(back["a"], obj["a"])
    assert back["s"] == 7


@pytest.mark.parametrize("target", ["x.pt", "x.safetensors", "x.ckpt", "stream", "stream-pt"])
def test_round_trips_keep_types(tmp_path, target):
    obj = {"array": np.arange(6, dtype=np.int32).reshape(2, 3), "f32": np.ones(2, np.float32),
           "np_scalar": np.float32(1.5), "list": [1, 2.5, "s", None, True], "tuple": (1, (2,)),
           "dict": {"k": 1}, "od": OrderedDict(b=2, a=1), 3: "int key", "tensor": ndgrad.ones(2)}
    if target.startswith("stream"):
        buf = io.BytesIO()
        ndgrad.save(obj, buf, format="torch" if target == "stream-pt" else None)
        assert zipfile.is_zipfile(io.BytesIO(buf.getvalue())) == (target == "stream-pt")
        buf.seek(0)
        back = ndgrad.load(buf)
    else:
        ndgrad.save(obj, tmp_path / target)
        assert zipfile.is_zipfile(tmp_path / target) == (target != "x.safetensors")
        back = ndgrad.load(tmp_path / target)
    for k in ("array", "f32", "np_scalar"):
        assert type(back[k]) is type(obj[k]) and back[k].dtype == obj[k].dtype, k
        np.testing.assert_array_equal(back[k], obj[k])
    for k in ("list", "tuple", "dict", "od", 3):
        assert back[k] == obj[k] and type(back[k]) is type(obj[k]), k
    assert isinstance(back["tensor"], ndgrad.Tensor) and back["tensor"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", ["m.pt", "m.safetensors"])
def test_whole_modules_are_refused(tmp_path, name):
    with pytest.raises(TypeError, match="state_dict"):
        ndgrad.save(ndgrad.nn.Linear(2, 2), tmp_path / name)
    with pytest.raises(TypeError, match="lambda|function"):
        ndgrad.save({"f": lambda: 1}, tmp_path / name)
    with pytest.raises(ValueError, match="format"):
        ndgrad.save({}, tmp_path / name, format="pickle")
    assert not (tmp_path / name).exists()


# -- hostile and broken files ------------------------------------------------------------------
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("legacy", [False, True])
def test_os_system_via_reduce_never_runs(tmp_path, legacy):
    marker = tmp_path / "pwned"
    data = torch_bytes({"w": torch.ones(1), "x": _Evil(marker)},
                       _use_new_zipfile_serialization=not legacy)
    with pytest.raises(pickle.UnpicklingError, match=r"evil.pt.*system"):
        load_bytes(tmp_path, data, "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"system"):  # even when asked to trust it
        with ndgrad.serialization.safe_globals([os.system]):
            load_bytes(tmp_path, data, "evil.pt")
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    pickle.dumps(_Evil("/tmp/ndgrad-pwned-plain"), protocol=2),  # a plain pickle
    pickle.dumps(_Evil("/tmp/ndgrad-pwned-p4"), protocol=4),  # STACK_GLOBAL
    b"\x80\x02cbuiltins\neval\nX\x05\x00\x00\x001 + 1\x85R.",  # eval("1 + 1")
    b"\x80\x02cbuiltins\ngetattr\n.",  # getattr: a way to reach any attribute
    b"\x80\x02ccollections\ndefaultdict\n)R.",  # a class torch does not allow either
    pickle.dumps(np.array([1, "a"], dtype=object), protocol=2),  # object arrays
])
def test_unknown_globals_are_refused(tmp_path, payload):
    with pytest.raises(pickle.UnpicklingError, match="hostile.pt"):
        load_bytes(tmp_path, _zip_with(payload), "hostile.pt")
    assert not os.path.exists("/tmp/ndgrad-pwned-plain")
    assert not os.path.exists("/tmp/ndgrad-pwned-p4")


def _zip_with(pkl, extra=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        for k, v in (extra or {}).items():
            zf.writestr(k, v)
    return buf.getvalue()


@pytest.mark.parametrize("payload,message", [
    # BUILD on a plain dict would call into dict's attributes
    (b"\x80\x02}q\x00}q\x01b.", "BUILD"),
    # APPEND into something that is not a list
    (b"\x80\x02}q\x00K\x01a.", "APPEND"),
    # REDUCE of an object no GLOBAL named (a string)
    (b"\x80\x02X\x01\x00\x00\x00a)R.", "REDUCE"),
    # a persistent id that is not a storage
    (b"\x80\x02X\x01\x00\x00\x00aQ.", "persistent id"),
])
def test_disallowed_pickle_operations(tmp_path, payload, message):
    with pytest.raises((pickle.UnpicklingError, RuntimeError), match=f"bad.pt.*{message}"):
        load_bytes(tmp_path, _zip_with(payload), "bad.pt")


@pytest.mark.parametrize("case", ["short_storage", "long_storage", "missing_storage",
                                  "out_of_bounds", "negative_stride", "bad_size",
                                  "requires_grad_int", "truncated_zip", "truncated_pickle",
                                  "garbage_pickle", "no_data_pkl", "wrong_magic",
                                  "legacy_truncated", "bfloat16", "uint16", "quantized",
                                  "whole_module", "torchscript", "tar", "unbuilt_array"])
def test_bad_files_give_one_clear_error_naming_the_file(tmp_path, case):
    good = torch_bytes({"w": torch.arange(4.0)})
    refused = case in ("bfloat16", "uint16", "quantized", "whole_module", "torchscript", "tar")
    if case == "short_storage":
        data = craft(tensor_v2("0", 4, 0, (4,), (1,)), {"0": b"\x00" * 12})
    elif case == "long_storage":
        data = craft(tensor_v2("0", 4, 0, (4,), (1,)), {"0": b"\x00" * 20})
    elif case == "missing_storage":
        data = craft(tensor_v2("0", 4, 0, (4,), (1,)))
    elif case == "out_of_bounds":
        data = craft(tensor_v2("0", 4, 2, (2, 2), (2, 1)), {"0": b"\x00" * 16})
    elif case == "negative_stride":
        data = craft(tensor_v2("0", 4, 3, (4,), (-1,)), {"0": b"\x00" * 16})
    elif case == "bad_size":
        data = craft(tensor_v2("0", 4, 0, (4, "x"), (1, 1)), {"0": b"\x00" * 16})
    elif case == "requires_grad_int":
        pid = PersistentId(("storage", Global("torch", "LongStorage"), "0", "cpu", 1))
        data = craft(Reduce(Global("torch._utils", "_rebuild_tensor_v2"),
                            (pid, 0, (1,), (1,), True, OrderedDict())), {"0": b"\x00" * 8})
    elif case == "truncated_zip":
        data = good[:len(good) // 2]
    elif case == "truncated_pickle":
        pkl = zipfile.ZipFile(io.BytesIO(good)).read("archive/data.pkl")
        data = _zip_with(pkl[:-10])
    elif case == "garbage_pickle":
        data = _zip_with(b"\x80\x02" + bytes(range(200, 256)) * 3)
    elif case == "no_data_pkl":
        data = _only_other_records()
    elif case == "wrong_magic":
        data = pickle.dumps(np.arange(3), protocol=2) + b"rest"  # (not compared elementwise)
    elif case == "legacy_truncated":
        data = torch_bytes({"w": torch.arange(100.0)}, _use_new_zipfile_serialization=False)
        data = data[:-40]
    elif case == "bfloat16":
        data = torch_bytes({"w": torch.ones(2, dtype=torch.bfloat16)})
    elif case == "uint16":
        data = torch_bytes({"w": torch.ones(2, dtype=torch.uint16)})
    elif case == "quantized":
        with warnings.catch_warnings():  # torch deprecates quantized tensors
            warnings.simplefilter("ignore")
            q = torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.qint8)
        data = torch_bytes({"w": q})
    elif case == "whole_module":
        data = torch_bytes(torch.nn.Linear(2, 2))
    elif case == "torchscript":
        buf = io.BytesIO()
        with warnings.catch_warnings():  # torch deprecates TorchScript
            warnings.simplefilter("ignore")
            torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buf)
        data = buf.getvalue()
    elif case == "tar":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("pickle")
            info.size = 3
            tf.addfile(info, io.BytesIO(b"abc"))
        data = buf.getvalue()
    else:  # a numpy array whose BUILD (its data) never comes
        data = _zip_with(b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
                         b"K\x00\x85C\x01b\x87R.")
    kind = pickle.UnpicklingError if refused else RuntimeError
    with pytest.raises(kind, match="bad-file.pt") as info:
        load_bytes(tmp_path, data, "bad-file.pt")
    assert not isinstance(info.value, RecursionError | KeyError | IndexError)
    hints = {"short_storage": "12 bytes", "long_storage": "20 bytes",
             "missing_storage": "missing", "out_of_bounds": "reaches element",
             "bfloat16": "bfloat16", "uint16": "uint16", "quantized": "quantized",
             "whole_module": "state_dict", "torchscript": "TorchScript", "tar": "0.4",
             "truncated_zip": "zip", "wrong_magic": "magic", "requires_grad_int": "gradients"}
    if case in hints:
        assert hints[case] in str(info.value)


def _only_other_records():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/other", b"x")
    return buf.getvalue()


def test_deeply_nested_pickles_load_without_recursion(tmp_path):
    depth = 100_000
    pkl = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."  # [[[...]]] built iteratively
    back = load_bytes(tmp_path, _zip_with(pkl))
    for _ in range(10):
        back = back[0]
    assert isinstance(back, list)


def test_deep_tuple_as_a_key_is_an_error_not_a_crash(tmp_path):
    """Hashing a tuple nested 10^6 deep recurses in C and kills the process; the reader refuses
    tuples deeper than Python's own pickler can write."""
    depth = 1_000_000
    pkl = b"\x80\x02}" + b")" + b"\x85" * depth + b"K\x01s."  # {((((),),...),): 1}
    with pytest.raises(RuntimeError, match="deep.pt.*nested more than"):
        load_bytes(tmp_path, _zip_with(pkl), "deep.pt")
    shallow = b"\x80\x02}" + b")" + b"\x85" * 900 + b"K\x01s."
    assert len(load_bytes(tmp_path, _zip_with(shallow))) == 1


def test_expanded_tensor_costs_no_memory(tmp_path):
    """A tensor of 10^12 elements over a 4-byte storage (stride 0) loads as a view: a file
    cannot make ndgrad allocate more than the storages it holds."""
    data = craft(tensor_v2("0", 1, 0, (10 ** 6, 10 ** 6), (0, 0)),
                 {"0": struct.pack("<f", 2.0)})
    t = load_bytes(tmp_path, data)
    assert t.shape == (10 ** 6, 10 ** 6) and t[123, 456].item() == 2.0


def test_ndgrad_saves_views_in_one_storage_as_torch(tmp_path):
    """A base and its views are written as one storage, each at its offset and strides, so
    torch.load (and ndgrad.load) gives back tensors that share memory, in a file that holds
    the base's bytes once."""
    files = {}
    for lib in (torch, ndgrad):
        base = lib.arange(24.0)
        obj = {"base": base, "step": base[2:9:2], "t": base.view(4, 6).t()[1:],
               "same": base.detach(), "expanded": base[3:4].expand(3, 2), "scalar": base[5],
               "empty": base[:0], "other": lib.ones(2)}
        files[lib] = tmp_path / f"{lib.__name__}.pt"
        lib.save(obj, files[lib])
    with zipfile.ZipFile(files[ndgrad]) as zf:  # two storages: the base's and "other"'s
        assert sorted(n for n in zf.namelist() if "/data/" in n) == ["archive/data/0",
                                                                       "archive/data/1"]
    ours, theirs = (torch.load(files[lib], weights_only=True) for lib in (ndgrad, torch))
    for k, v in theirs.items():
        assert (ours[k].storage_offset(), ours[k].stride(), ours[k].tolist()) == \
            (v.storage_offset(), v.stride(), v.tolist()), k
    ptr = ours["base"].untyped_storage().data_ptr()
    assert all(ours[k].untyped_storage().data_ptr() == ptr for k in ("step", "t", "same"))
    back = ndgrad.load(files[ndgrad])
    back["base"].mul_(10)  # ndgrad reads them back sharing memory, as torch does
    assert back["step"].tolist() == [20.0, 40.0, 60.0, 80.0] and back["same"][5].item() == 50
