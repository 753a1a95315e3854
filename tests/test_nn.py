"""ndgrad.nn against torch.nn: Module bookkeeping, reprs, state_dicts, and every layer's forward
and gradients with torch's weights copied in through load_state_dict."""

from __future__ import annotations

import copy
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn

TDTYPE = {np.float32: torch.float32, np.float64: torch.float64}
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def to_np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def close(a, b, dtype=np.float64, what=""):
    np.testing.assert_allclose(to_np(a), to_np(b), err_msg=what, **TOL[dtype])


def copy_weights(t_mod: torch.nn.Module, n_mod: nn.Module) -> None:
    """torch -> ndgrad through load_state_dict, as a user would (via .detach().numpy())."""
    sd = {k: ndgrad.from_numpy(v.detach().numpy().copy()) for k, v in t_mod.state_dict().items()}
    result = n_mod.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []


def make_pair(make, dtype=np.float64):
    """The same layer built by ``make(lib.nn)`` in both libraries, ndgrad's with torch's
    weights."""
    t_mod = make(torch.nn).to(TDTYPE[dtype])
    n_mod = make(nn).to(dtype)
    copy_weights(t_mod, n_mod)
    return t_mod, n_mod


def run_both(t_mod, n_mod, x: np.ndarray, dtype=np.float64, grad_input=True, extra=()):
    """Forward both on x, backpropagate the same non-uniform upstream gradient, compare the
    output, the input's gradient and every parameter's gradient."""
    tx = torch.tensor(x, requires_grad=grad_input and x.dtype.kind == "f")
    nx = ndgrad.tensor(x, requires_grad=grad_input and x.dtype.kind == "f")
    t_out = t_mod(tx, *[torch.tensor(e) for e in extra])
    n_out = n_mod(nx, *[ndgrad.tensor(e) for e in extra])
    close(n_out, t_out, dtype, "forward")
    if not t_out.requires_grad:
        return t_out, n_out
    g = np.random.default_rng(1).uniform(-1, 1, size=tuple(t_out.shape)).astype(dtype)
    (t_out * torch.tensor(g)).sum().backward()
    (n_out * ndgrad.tensor(g)).sum().backward()
    if tx.requires_grad:
        close(nx.grad, tx.grad, dtype, "input grad")
    t_params = dict(t_mod.named_parameters())
    for name, p in n_mod.named_parameters():
        if t_params[name].grad is None:
            assert p.grad is None, name
        else:
            close(p.grad, t_params[name].grad, dtype, f"grad of {name}")
    return t_out, n_out


def rand(*shape, dtype=np.float64, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


# -- Parameter --------------------------------------------------------------------------------
def test_parameter_basics():
    t = ndgrad.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert isinstance(p, ndgrad.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    t._data[0] = 5.0  # shares memory with the tensor it wraps
    assert p._data[0] == 5.0
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    # ops on a Parameter give plain Tensors
    assert type(p * 2) is ndgrad.Tensor


def test_parameter_deepcopy_and_pickle():
    p = nn.Parameter(ndgrad.tensor([1.0, 2.0]))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad
    q._data[0] = 9.0
    assert p._data[0] == 1.0
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.tolist() == [1.0, 2.0]


# -- Module registration ------------------------------------------------------------------------
class Net:
    """The same small model class for both libraries: a conv net with every kind of member."""

    @staticmethod
    def build(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = lib.nn.Conv2d(1, 4, 3, padding=1)
                self.bn = lib.nn.BatchNorm2d(4)
                self.register_buffer("scale", lib.ones(1))
                self.register_buffer("cache", lib.zeros(2), persistent=False)
                self.head = lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(4 * 4 * 4, 5))
                self.extra = lib.nn.Parameter(lib.zeros(3))
                self.blocks = lib.nn.ModuleList([lib.nn.Linear(5, 5), lib.nn.ReLU()])
                self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(5, 2), "b": lib.nn.Identity()})

            def forward(self, x):
                x = self.head(self.bn(self.conv(x)).relu() * self.scale)
                for b in self.blocks:
                    x = b(x)
                return self.heads["a"](x)

        return Net()


def test_registration_names_match_torch():
    t, n = Net.build(torch), Net.build(ndgrad)
    assert [k for k, _ in n.named_parameters()] == [k for k, _ in t.named_parameters()]
    assert [k for k, _ in n.named_buffers()] == [k for k, _ in t.named_buffers()]
    assert [k for k, _ in n.named_modules()] == [k for k, _ in t.named_modules()]
    assert [k for k, _ in n.named_children()] == [k for k, _ in t.named_children()]
    assert list(n.state_dict().keys()) == list(t.state_dict().keys())
    assert [k for k, _ in n.named_parameters(prefix="m", recurse=False)] == \
        [k for k, _ in t.named_parameters(prefix="m", recurse=False)]
    assert [k for k, _ in n.bn.named_buffers(prefix="bn")] == \
        [k for k, _ in t.bn.named_buffers(prefix="bn")]
    assert len(list(n.parameters())) == len(list(t.parameters()))
    assert len(list(n.children())) == len(list(t.children()))
    assert len(list(n.modules())) == len(list(t.modules()))
    # non-persistent buffers are buffers but not state
    assert "cache" in dict(n.named_buffers()) and "cache" not in n.state_dict()


def test_state_dict_values_are_detached_and_shared():
    n = Net.build(ndgrad)
    sd = n.state_dict()
    assert not sd["conv.weight"].requires_grad
    assert np.shares_memory(sd["conv.weight"]._data, n.conv.weight._data)  # as PyTorch
    assert sd["bn.num_batches_tracked"].dtype == ndgrad.int64
    assert sd["bn.num_batches_tracked"].shape == ()
    assert all(v.requires_grad for v in n.state_dict(keep_vars=True).values()
               if isinstance(v, nn.Parameter))


def test_forward_and_load_from_torch():
    t, n = Net.build(torch).double(), Net.build(ndgrad).double()
    copy_weights(t, n)
    run_both(t, n, rand(2, 1, 4, 4))
    for (k, a), (_, b) in zip(n.state_dict().items(), t.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


def test_getattr_setattr_delattr_dir():
    n = Net.build(ndgrad)
    assert isinstance(n.extra, nn.Parameter) and isinstance(n.scale, ndgrad.Tensor)
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        n.nope  # noqa: B018
    with pytest.raises(TypeError, match="cannot assign 'ndgrad.Tensor' as parameter 'extra'"):
        n.extra = ndgrad.zeros(3)
    with pytest.raises(TypeError, match="as child module 'conv'"):
        n.conv = 3
    n.scale = ndgrad.full((1,), 2.0)  # a Tensor assigned to a buffer name replaces the buffer
    assert n.state_dict()["scale"].item() == 2.0
    n.extra = None
    assert "extra" not in dict(n.named_parameters())
    d = dir(n)
    assert {"conv", "bn", "scale", "head", "forward"} <= set(d)
    del n.conv
    assert "conv" not in dict(n.named_children())
    with pytest.raises(AttributeError):
        n.conv  # noqa: B018
    n.conv = nn.Linear(2, 2)  # re-registered as a module
    assert "conv.weight" in n.state_dict()
    n.plain = 5  # ordinary attributes still work
    assert n.plain == 5 and "plain" not in n.state_dict()
    # a parameter re-assigned as a module moves registries
    n.head = nn.Parameter(ndgrad.zeros(1))
    assert "head" in dict(n.named_parameters()) and "head" not in dict(n.named_children())


def test_assign_before_init_raises():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ndgrad.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", ndgrad.zeros(1))
    with pytest.raises(TypeError, match="buffer 'x'"):
        m.register_buffer("x", 3)
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.register_parameter("w", ndgrad.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("c", 3)
    w = ndgrad.zeros(2, requires_grad=True) * 2
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("w", _nonleaf_parameter(w))
    m.register_parameter("b", None)
    assert list(m.named_parameters()) == [] and m.b is None
    m.add_module("sub", None)
    assert list(m.children()) == []
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        m(1)


def _nonleaf_parameter(t):
    p = nn.Parameter(ndgrad.zeros(1))
    p.grad_fn = t.grad_fn
    return p


def test_buffer_class_and_register_buffer_persistent():
    m = nn.Module()
    m.b = nn.Buffer(ndgrad.ones(2), persistent=False)
    m.c = nn.Buffer(ndgrad.ones(2))
    assert [k for k, _ in m.named_buffers()] == ["b", "c"]
    assert list(m.state_dict()) == ["c"]
    assert type(m.b) is ndgrad.Tensor


def test_weight_tying_counts_once():
    def build(lib):
        emb = lib.nn.Embedding(10, 4)
        m = lib.nn.Sequential(emb, lib.nn.Linear(4, 10, bias=False))
        m[1].weight = emb.weight
        return m

    t, n = build(torch), build(ndgrad)
    assert len(list(n.parameters())) == len(list(t.parameters())) == 1
    assert [k for k, _ in n.named_parameters()] == [k for k, _ in t.named_parameters()]
    assert [k for k, _ in n.named_parameters(remove_duplicate=False)] == \
        [k for k, _ in t.named_parameters(remove_duplicate=False)]
    assert list(n.state_dict()) == list(t.state_dict())  # both names are saved
    copy_weights(t, n)
    x = np.array([[1, 2, 3], [4, 5, 6]])
    t_out = t(torch.tensor(x))
    n_out = n(ndgrad.tensor(x))
    close(n_out, t_out, np.float32)
    t_out.square().mean().backward()
    n_out.square().mean().backward()
    close(n[0].weight.grad, t[0].weight.grad, np.float32)  # both uses accumulate
    # an optimizer sees the tied parameter once
    opt = ndgrad.optim.SGD(n.parameters(), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 1


def test_shared_submodule_named_modules():
    def build(lib):
        shared = lib.nn.Linear(2, 2)
        return lib.nn.Sequential(shared, lib.nn.ReLU(), shared)

    t, n = build(torch), build(ndgrad)
    assert [k for k, _ in n.named_modules()] == [k for k, _ in t.named_modules()]
    assert [k for k, _ in n.named_modules(remove_duplicate=False)] == \
        [k for k, _ in t.named_modules(remove_duplicate=False)]
    assert list(n.state_dict()) == list(t.state_dict())
    assert [k for k, _ in n.named_children()] == [k for k, _ in t.named_children()]


def test_train_eval():
    n = Net.build(ndgrad)
    assert n.training and n.bn.training
    assert n.eval() is n
    assert not any(m.training for m in n.modules())
    n.train()
    assert all(m.training for m in n.modules())
    n.blocks.train(False)
    assert n.training and not n.blocks[0].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        n.train("yes")


def test_zero_grad_and_requires_grad_():
    n = nn.Linear(3, 2)
    n(ndgrad.ones(1, 3)).sum().backward()
    assert n.weight.grad is not None
    n.zero_grad(set_to_none=False)
    assert n.weight.grad is not None and not n.weight.grad._data.any()
    n.zero_grad()
    assert n.weight.grad is None and n.bias.grad is None
    assert n.requires_grad_(False) is n
    assert not n.weight.requires_grad
    n.requires_grad_()
    assert n.weight.requires_grad


def test_apply_order_and_init():
    seen = []
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]

    def init(mod):
        if isinstance(mod, nn.Linear):
            nn.init.zeros_(mod.weight)

    m.apply(init)
    assert not m[0].weight._data.any() and not m[1][1].weight._data.any()


def test_to_float_double_keeps_objects():
    n = Net.build(ndgrad)
    w = n.conv.weight
    opt = ndgrad.optim.SGD(n.parameters(), lr=0.1)
    assert n.double() is n
    assert n.conv.weight is w and w.dtype == ndgrad.float64
    assert n.bn.running_mean.dtype == ndgrad.float64
    assert n.bn.num_batches_tracked.dtype == ndgrad.int64  # integers are not cast
    assert any(p is w for p in opt.param_groups[0]["params"])
    n.float()
    assert w.dtype == ndgrad.float32
    assert n.to("cpu") is n and n.to(ndgrad.device("cpu")) is n and n.cpu() is n
    n.to(dtype=ndgrad.float64)
    assert w.dtype == ndgrad.float64
    n.to("cpu", ndgrad.float32)
    assert w.dtype == ndgrad.float32
    with pytest.raises(RuntimeError, match="CPU only"):
        n.to("cuda")
    with pytest.raises(TypeError, match="floating point"):
        n.to(ndgrad.int64)


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    out = m(ndgrad.ones(1, 2))
    assert calls == ["pre"] and not out._data.any()
    h1.remove()
    h2.remove()
    assert m(ndgrad.ones(1, 2))._data.any() and calls == ["pre"]
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    assert np.allclose(m(ndgrad.ones(1, 2)).numpy(force=True), m.bias.numpy(force=True))


def test_get_submodule_and_parameter():
    n = Net.build(ndgrad)
    assert n.get_submodule("head.1") is n.head[1]
    assert n.get_parameter("head.1.weight") is n.head[1].weight
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        n.get_submodule("head.nope")


# -- load_state_dict ----------------------------------------------------------------------------
def _error(fn):
    with pytest.raises(RuntimeError) as e:
        fn()
    return str(e.value).replace("torch.Size", "Size").replace("ndgrad.Size", "Size")


def test_load_state_dict_errors_match_torch():
    t, n = Net.build(torch), Net.build(ndgrad)
    sd_t = t.state_dict()
    del sd_t["bn.running_var"], sd_t["head.1.bias"]
    sd_t["extra_key"] = torch.zeros(1)
    sd_t["bn.foo"] = torch.zeros(1)
    sd_t["conv.weight"] = torch.zeros(4, 1, 2, 2)
    sd_n = {k: ndgrad.from_numpy(v.numpy().copy()) for k, v in sd_t.items()}
    msg_t = _error(lambda: t.load_state_dict(sd_t))
    msg_n = _error(lambda: n.load_state_dict(sd_n))
    assert msg_n == msg_t.replace("Error(s) in loading state_dict for Net",
                                  "Error(s) in loading state_dict for Net")
    assert msg_n.startswith("Error(s) in loading state_dict for Net:\n\tMissing key(s) in "
                            "state_dict: \"bn.running_var\", \"head.1.bias\". ")
    assert "size mismatch for conv.weight: copying a param with shape Size([4, 1, 2, 2]) " \
           "from checkpoint, the shape in current model is Size([4, 1, 3, 3])." in msg_n
    # strict=False: only shape errors raise; the rest is reported
    del sd_t["conv.weight"], sd_n["conv.weight"]
    rt = t.load_state_dict(sd_t, strict=False)
    rn = n.load_state_dict(sd_n, strict=False)
    assert rn.missing_keys == rt.missing_keys and rn.unexpected_keys == rt.unexpected_keys
    assert repr(rn) == repr(rt).replace("_IncompatibleKeys", "IncompatibleKeys") or \
        rn.missing_keys == rt.missing_keys
    full = {k: ndgrad.from_numpy(v.numpy().copy()) for k, v in t.state_dict().items()}
    ok = n.load_state_dict(full)
    assert repr(ok) == "<All keys matched successfully>"
    assert ok == ([], [])
    with pytest.raises(TypeError, match="dict-like"):
        n.load_state_dict([1, 2])
    bad = dict(full, **{"conv.bias": "not a tensor"})
    assert "expected ndgrad.Tensor or Tensor-like object" in _error(lambda: n.load_state_dict(bad))


def test_load_state_dict_copies_in_place():
    n = nn.Linear(3, 2)
    w, arr = n.weight, n.weight._data
    v0 = w._version
    new = {"weight": ndgrad.ones(2, 3, dtype=ndgrad.float64), "bias": np.zeros(2)}
    n.load_state_dict(new)
    assert n.weight is w and n.weight._data is arr  # same Parameter, same array
    assert arr.dtype == np.float32 and (arr == 1).all()  # cast to the parameter's dtype
    assert w._version > v0
    new["weight"]._data[...] = 5  # no aliasing with the source
    assert (arr == 1).all()
    # torch tensors load directly too
    n.load_state_dict({"weight": torch.full((2, 3), 2.0), "bias": torch.zeros(2)})
    assert (arr == 2).all()


def test_load_state_dict_assign():
    n = nn.Linear(3, 2)
    n.weight.requires_grad_(False)
    w = ndgrad.ones(2, 3, dtype=ndgrad.float64)
    n.load_state_dict({"weight": w, "bias": ndgrad.zeros(2)}, assign=True)
    assert isinstance(n.weight, nn.Parameter) and np.shares_memory(n.weight._data, w._data)
    assert n.weight.dtype == ndgrad.float64 and not n.weight.requires_grad
    bn = nn.BatchNorm1d(2)
    sd = {k: v.clone() for k, v in bn.state_dict().items()}
    bn.load_state_dict(sd, assign=True)
    assert bn.running_mean._data is sd["running_mean"]._data


def test_batchnorm_loads_without_num_batches_tracked():
    n = nn.BatchNorm1d(3)
    sd = {k: v for k, v in n.state_dict().items() if k != "num_batches_tracked"}
    assert n.load_state_dict(sd).missing_keys == []


# -- reprs --------------------------------------------------------------------------------------
def _all_layers(lib):
    nn_ = lib.nn
    return nn_.Sequential(OrderedDict([
        ("features", nn_.Sequential(
            nn_.Conv2d(1, 8, 3, padding="same"), nn_.Conv2d(8, 8, (3, 5), stride=2, padding=(1, 2),
                                                            dilation=1, groups=2, bias=False),
            nn_.Conv1d(2, 3, 3, padding_mode="reflect", padding=1),
            nn_.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1),
            nn_.ConvTranspose1d(2, 3, 3), nn_.MaxPool2d(2), nn_.MaxPool2d(3, 2, 1, ceil_mode=True),
            nn_.AvgPool2d(2), nn_.AvgPool1d(3), nn_.MaxPool1d(2), nn_.AdaptiveAvgPool2d((1, 1)),
            nn_.AdaptiveAvgPool1d(4), nn_.BatchNorm2d(8), nn_.BatchNorm1d(3, affine=False,
                                                                          momentum=None),
            nn_.LayerNorm([3, 4], bias=False), nn_.GroupNorm(2, 4),
            nn_.GroupNorm(2, 4, affine=False),
            nn_.Dropout(), nn_.Dropout2d(0.2), nn_.Embedding(10, 3, padding_idx=0),
            nn_.Embedding(5, 2, max_norm=1.0), nn_.Flatten(), nn_.Unflatten(1, (2, 3)),
            nn_.Identity())),
        ("acts", nn_.ModuleList([
            nn_.ReLU(), nn_.ReLU(True), nn_.LeakyReLU(), nn_.LeakyReLU(0.2, True), nn_.GELU(),
            nn_.GELU("tanh"), nn_.SiLU(), nn_.Tanh(), nn_.Sigmoid(), nn_.Softmax(dim=1),
            nn_.Softmax(), nn_.LogSoftmax(1), nn_.ELU(), nn_.Softplus(), nn_.Mish(),
            nn_.Hardtanh(), nn_.ReLU6(), nn_.PReLU(), nn_.Softmin(1)])),
        ("same", nn_.ModuleList([nn_.Linear(2, 2) for _ in range(3)] + [nn_.ReLU()])),
        ("losses", nn_.ModuleDict({
            "ce": nn_.CrossEntropyLoss(), "mse": nn_.MSELoss(), "nll": nn_.NLLLoss(),
            "bce": nn_.BCEWithLogitsLoss(), "l1": nn_.L1Loss(), "bce2": nn_.BCELoss(),
            "sl1": nn_.SmoothL1Loss(), "hub": nn_.HuberLoss(), "kl": nn_.KLDivLoss()})),
        ("empty", nn_.ModuleList()),
    ]))


def test_repr_matches_torch():
    assert repr(_all_layers(ndgrad)) == repr(_all_layers(torch))


def test_state_dict_keys_match_torch_for_all_layers():
    t, n = _all_layers(torch), _all_layers(ndgrad)
    assert list(n.state_dict()) == list(t.state_dict())
    for (k, a), (_, b) in zip(n.state_dict().items(), t.state_dict().items()):
        assert tuple(a.shape) == tuple(b.shape), k
        assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1], k
    copy_weights(t, n)  # every layer loads torch's weights


# -- containers ---------------------------------------------------------------------------------
def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"]
    assert list(s[::2]) == [a, c]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s[3]
    s.append(nn.Tanh())
    assert len(s) == 4 and list(s._modules) == ["0", "1", "2", "3"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and s[1] is c
    s.insert(1, b)
    assert s[1] is b and len(s) == 4
    s[0] = nn.Identity()
    assert isinstance(s[0], nn.Identity)
    s2 = s + nn.Sequential(nn.ReLU())
    assert len(s2) == 5
    assert s.pop(-1).__class__ is nn.Tanh and len(s) == 3
    s.extend([nn.ReLU()])
    assert len(s) == 4
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is named[0]
    x = ndgrad.randn(4, 2)
    out = nn.Sequential(a, b, c)(x)
    assert out.shape == (4, 1)
    assert "0" not in dir(s)


def test_modulelist_moduledict():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(ml) == 3 and isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 2
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "Linear", "Linear", "ReLU",
                                             "Tanh"]
    del ml[0]
    assert isinstance(ml[0], nn.Linear) and list(ml._modules)[0] == "0"
    ml[-1] = nn.Sigmoid()
    assert isinstance(ml[5 - 1], nn.Sigmoid)
    assert len(list(ml.parameters())) == 6
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(3)
    ml += [nn.ReLU()]
    assert len(ml) == 6
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md.update([("b", nn.ReLU())])
    md["c"] = nn.Tanh()
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert isinstance(md.pop("b"), nn.ReLU) and list(md) == ["a", "c"]
    assert [k for k, _ in md.items()] == ["a", "c"] and len(list(md.values())) == 2
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    with pytest.raises(ValueError, match="has length 1"):
        md.update([("x",)])
    md.clear()
    assert len(md) == 0


def test_deepcopy_module_is_independent():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    m2 = copy.deepcopy(m)
    m2[0].weight._data[...] = 0
    assert m[0].weight._data.any()
    assert isinstance(m2[0].weight, nn.Parameter)
    assert list(m2.state_dict()) == list(m.state_dict())


# -- default initialisation ----------------------------------------------------------------------
def test_default_init_distributions():
    ndgrad.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.numpy(force=True)
    assert w.dtype == np.float32 and w.shape == (300, 400)
    assert -bound <= w.min() < -0.99 * bound and 0.99 * bound < w.max() <= bound
    assert abs(w.mean()) < 0.01 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    b = lin.bias.numpy(force=True)
    assert -bound <= b.min() and b.max() <= bound and b.std() > 0.4 * bound
    conv = nn.Conv2d(16, 32, 3)
    cb = 1 / math.sqrt(16 * 9)
    cw = conv.weight.numpy(force=True)
    assert -cb <= cw.min() and cw.max() <= cb
    assert abs(cw.std() - cb / math.sqrt(3)) < 0.03 * cb
    ct = nn.ConvTranspose2d(16, 32, 3)  # fan_in of the (in, out/groups, k, k) weight: 32 * 9
    assert np.abs(ct.weight.numpy(force=True)).max() <= 1 / math.sqrt(32 * 9)
    emb = nn.Embedding(1000, 50, padding_idx=3)
    e = emb.weight.numpy(force=True)
    assert abs(e.std() - 1) < 0.02 and abs(e.mean()) < 0.02 and not e[3].any()
    bn = nn.BatchNorm2d(5)
    assert (bn.weight.numpy(force=True) == 1).all() and not bn.bias.numpy(force=True).any()
    assert not bn.running_mean._data.any() and (bn.running_var._data == 1).all()
    ln = nn.LayerNorm(4)
    assert (ln.weight._data == 1).all() and not ln.bias._data.any()
    gn = nn.GroupNorm(2, 4)
    assert (gn.weight._data == 1).all() and not gn.bias._data.any()
    assert (nn.PReLU(3).weight._data == 0.25).all()


def test_init_reproducible_with_manual_seed():
    ndgrad.manual_seed(123)
    a = nn.Linear(5, 5).weight.numpy(force=True).copy()
    ndgrad.manual_seed(123)
    b = nn.Linear(5, 5).weight.numpy(force=True)
    assert (a == b).all()


def test_dtype_factory_kwarg():
    lin = nn.Linear(2, 3, dtype=ndgrad.float64)
    assert lin.weight.dtype == ndgrad.float64 and lin.bias.dtype == ndgrad.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        nn.Linear(2, 3, device="cuda")
    assert nn.Conv2d(1, 1, 1, device="cpu").weight.dtype == ndgrad.float32


# -- layers against torch --------------------------------------------------------------------------
DTYPES = [np.float64, np.float32]

LAYERS = [
    ("linear", lambda n: n.Linear(5, 3), (4, 5)),
    ("linear_nobias", lambda n: n.Linear(5, 3, bias=False), (2, 3, 5)),
    ("linear_1d_input", lambda n: n.Linear(5, 3), (5,)),
    ("conv1d", lambda n: n.Conv1d(2, 3, 3, stride=2, padding=1), (2, 2, 9)),
    ("conv1d_reflect", lambda n: n.Conv1d(2, 3, 3, padding=1, padding_mode="reflect"),
     (2, 2, 7)),
    ("conv2d", lambda n: n.Conv2d(2, 4, 3), (2, 2, 6, 6)),
    ("conv2d_same", lambda n: n.Conv2d(2, 4, (3, 4), padding="same", dilation=(1, 2)),
     (2, 2, 7, 8)),
    ("conv2d_strided_groups", lambda n: n.Conv2d(4, 6, 3, stride=2, padding=1, groups=2,
                                                 bias=False), (2, 4, 7, 7)),
    ("conv2d_valid", lambda n: n.Conv2d(1, 2, 2, padding="valid"), (1, 1, 5, 5)),
    ("conv2d_circular", lambda n: n.Conv2d(2, 3, 3, padding=1, padding_mode="circular"),
     (2, 2, 5, 5)),
    ("conv_transpose2d", lambda n: n.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                     output_padding=1), (2, 3, 4, 4)),
    ("conv_transpose2d_groups", lambda n: n.ConvTranspose2d(4, 2, 2, stride=2, groups=2),
     (1, 4, 3, 3)),
    ("conv_transpose1d", lambda n: n.ConvTranspose1d(2, 3, 3, stride=2), (2, 2, 5)),
    ("maxpool2d", lambda n: n.MaxPool2d(2), (2, 3, 6, 6)),
    ("maxpool2d_pad", lambda n: n.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
     (2, 2, 7, 7)),
    ("maxpool1d", lambda n: n.MaxPool1d(2), (2, 3, 8)),
    ("avgpool2d", lambda n: n.AvgPool2d(2), (2, 3, 6, 6)),
    ("avgpool2d_pad", lambda n: n.AvgPool2d(3, 2, 1, count_include_pad=False), (1, 2, 7, 7)),
    ("avgpool1d", lambda n: n.AvgPool1d(3, 2), (2, 2, 9)),
    ("adaptive_avgpool2d", lambda n: n.AdaptiveAvgPool2d((2, 3)), (2, 3, 5, 7)),
    ("adaptive_avgpool2d_one", lambda n: n.AdaptiveAvgPool2d(1), (2, 3, 4, 4)),
    ("adaptive_avgpool1d", lambda n: n.AdaptiveAvgPool1d(3), (2, 3, 7)),
    ("layernorm", lambda n: n.LayerNorm(6), (3, 4, 6)),
    ("layernorm_2d", lambda n: n.LayerNorm((4, 6), elementwise_affine=True, bias=False),
     (3, 4, 6)),
    ("layernorm_noaffine", lambda n: n.LayerNorm(6, elementwise_affine=False), (3, 6)),
    ("groupnorm", lambda n: n.GroupNorm(2, 6), (3, 6, 4, 2)),
    ("groupnorm_noaffine", lambda n: n.GroupNorm(3, 6, affine=False), (3, 6, 5)),
    ("flatten", lambda n: n.Flatten(), (2, 3, 4, 5)),
    ("flatten_range", lambda n: n.Flatten(0, 2), (2, 3, 4, 5)),
    ("unflatten", lambda n: n.Unflatten(1, (3, 4)), (2, 12, 5)),
    ("identity", lambda n: n.Identity(3, foo=1), (2, 3)),
    ("relu", lambda n: n.ReLU(), (3, 7)),
    ("leaky_relu", lambda n: n.LeakyReLU(0.2), (3, 7)),
    ("gelu", lambda n: n.GELU(), (3, 7)),
    ("gelu_tanh", lambda n: n.GELU(approximate="tanh"), (3, 7)),
    ("silu", lambda n: n.SiLU(), (3, 7)),
    ("tanh", lambda n: n.Tanh(), (3, 7)),
    ("sigmoid", lambda n: n.Sigmoid(), (3, 7)),
    ("softmax", lambda n: n.Softmax(dim=1), (3, 7)),
    ("softmax_neg_dim", lambda n: n.Softmax(dim=-1), (2, 3, 7)),
    ("log_softmax", lambda n: n.LogSoftmax(dim=1), (3, 7, 2)),
    ("softmin", lambda n: n.Softmin(dim=0), (3, 7)),
    ("elu", lambda n: n.ELU(0.5), (3, 7)),
    ("softplus", lambda n: n.Softplus(beta=2, threshold=3), (3, 7)),
    ("mish", lambda n: n.Mish(), (3, 7)),
    ("hardtanh", lambda n: n.Hardtanh(-0.5, 1.5), (3, 7)),
    ("relu6", lambda n: n.ReLU6(), (3, 7)),
    ("prelu", lambda n: n.PReLU(3), (2, 3, 4)),
    ("dropout_eval", lambda n: n.Dropout(0.3).eval(), (3, 7)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name,make,shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(name, make, shape, dtype):
    t_mod, n_mod = make_pair(make, dtype)
    scale = 6.0 if "relu6" in name else 2.0
    run_both(t_mod, n_mod, rand(*shape, dtype=dtype, low=-scale, high=scale), dtype)


def test_layer_in_place_activation():
    for make in (lambda n: n.ReLU(inplace=True), lambda n: n.LeakyReLU(0.1, inplace=True)):
        t_mod, n_mod = make(torch.nn), make(nn)
        x = rand(3, 4)
        tx, nx = torch.tensor(x), ndgrad.tensor(x)
        t_out, n_out = t_mod(tx), n_mod(nx)
        close(n_out, t_out)
        close(nx, tx)  # the input itself was changed


def test_softmax_implicit_dim_warns_like_torch():
    x = rand(3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        n_out = nn.Softmax()(ndgrad.tensor(x))
    with pytest.warns(UserWarning):
        t_out = torch.nn.Softmax()(torch.tensor(x))
    close(n_out, t_out)


def test_conv_transpose_output_size():
    t_mod, n_mod = make_pair(lambda n: n.ConvTranspose2d(2, 3, 3, stride=2), np.float64)
    x = rand(1, 2, 4, 4)
    for size in ([9, 9], [10, 10], (1, 3, 10, 9)):
        t_out = t_mod(torch.tensor(x), output_size=size)
        n_out = n_mod(ndgrad.tensor(x), output_size=size)
        close(n_out, t_out)
    with pytest.raises(ValueError, match="requested an output size of"):
        n_mod(ndgrad.tensor(x), output_size=[12, 12])


def test_conv_argument_errors_match_torch():
    for kwargs, err in [(dict(groups=0), "groups must be a positive integer"),
                        (dict(groups=2), "in_channels must be divisible by groups"),
                        (dict(padding="full"), "Invalid padding string 'full'"),
                        (dict(padding="same", stride=2), "padding='same' is not supported"),
                        (dict(padding_mode="mirror"), "padding_mode must be one of")]:
        with pytest.raises(ValueError, match=err):
            nn.Conv2d(3, 4, 3, **kwargs)
        with pytest.raises(ValueError, match=err):
            torch.nn.Conv2d(3, 4, 3, **kwargs)
    with pytest.raises(ValueError, match="Only \"zeros\" padding mode"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match=r"num_channels \(5\) must be divisible by num_groups"):
        nn.GroupNorm(2, 5)
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(ndgrad.zeros(2, 3))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(ndgrad.zeros(2, 3, 4, 5))


def test_maxpool_return_indices():
    t_mod, n_mod = make_pair(lambda n: n.MaxPool2d(2, return_indices=True))
    x = rand(1, 2, 4, 4)
    (to, ti), (no, ni) = t_mod(torch.tensor(x)), n_mod(ndgrad.tensor(x))
    close(no, to)
    assert (ni.numpy() == ti.numpy()).all()


def test_maxpool_ties_send_gradient_to_first_max():
    # blank MNIST regions make whole windows tie; the gradient goes to one element per window
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = 1.0
    t_mod, n_mod = make_pair(lambda n: n.MaxPool2d(2))
    run_both(t_mod, n_mod, x)


# -- BatchNorm: running statistics over several steps --------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("make,shape", [
    (lambda n: n.BatchNorm1d(4), (8, 4)),
    (lambda n: n.BatchNorm1d(4, momentum=0.3), (6, 4, 3)),
    (lambda n: n.BatchNorm2d(3), (4, 3, 5, 5)),
    (lambda n: n.BatchNorm2d(3, momentum=None), (4, 3, 2, 2)),
    (lambda n: n.BatchNorm2d(3, affine=False), (4, 3, 2, 2)),
    (lambda n: n.BatchNorm2d(3, track_running_stats=False), (4, 3, 2, 2)),
    (lambda n: n.BatchNorm2d(3, bias=False), (4, 3, 2, 2)),
], ids=["bn1d", "bn1d_3d_momentum", "bn2d", "bn2d_cumulative", "bn2d_noaffine",
        "bn2d_nostats", "bn2d_nobias"])
def test_batchnorm_train_and_eval(make, shape, dtype):
    t_mod, n_mod = make_pair(make, dtype)
    for step in range(4):
        x = rand(*shape, dtype=dtype, seed=step, low=-1 + step, high=3)
        for p in list(t_mod.parameters()) + list(n_mod.parameters()):
            p.grad = None
        run_both(t_mod, n_mod, x, dtype)
    t_sd, n_sd = t_mod.state_dict(), n_mod.state_dict()
    assert list(n_sd) == list(t_sd)
    for k in t_sd:
        np.testing.assert_allclose(n_sd[k].numpy(), t_sd[k].numpy(), err_msg=k, **TOL[dtype])
    if "num_batches_tracked" in n_sd:
        assert n_sd["num_batches_tracked"].item() == 4
    t_mod.eval()
    n_mod.eval()
    run_both(t_mod, n_mod, rand(*shape, dtype=dtype, seed=9), dtype)
    assert n_sd.get("num_batches_tracked", ndgrad.tensor(4)).item() == 4  # eval does not count


def test_batchnorm_reset_running_stats():
    bn = nn.BatchNorm1d(2)
    bn(ndgrad.randn(4, 2))
    bn.reset_running_stats()
    assert not bn.running_mean._data.any() and bn.num_batches_tracked.item() == 0


# -- Dropout ---------------------------------------------------------------------------------------
def test_dropout_train_statistics_and_gradient():
    ndgrad.manual_seed(0)
    d = nn.Dropout(0.25)
    x = ndgrad.ones(200, 100, requires_grad=True)
    out = d(x)
    o = out.numpy(force=True)
    kept = o != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(o[kept], 1 / 0.75, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), o)  # the gradient uses the same mask
    d.eval()
    assert d(x) is x or (d(x).numpy(force=True) == 1).all()
    assert (nn.Dropout(0.0)(x).numpy(force=True) == 1).all()


def test_dropout2d_zeroes_whole_channels():
    ndgrad.manual_seed(0)
    out = nn.Dropout2d(0.5)(ndgrad.ones(8, 16, 3, 3)).numpy()
    per_channel = out.reshape(8, 16, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()


# -- Embedding --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_embedding(dtype):
    t_mod, n_mod = make_pair(lambda n: n.Embedding(10, 4, padding_idx=2), dtype)
    idx = np.array([[1, 2, 3], [2, 9, 1]])
    run_both(t_mod, n_mod, idx, dtype)
    assert not n_mod.weight.grad._data[2].any()  # the padding row gets no gradient


def test_embedding_from_pretrained():
    w = ndgrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad
    assert e(ndgrad.tensor([1])).tolist() == [[3.0, 4.0]]
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)
    assert nn.Embedding(3, 2, padding_idx=-1).padding_idx == 2


# -- losses ---------------------------------------------------------------------------------------
def _loss_pair(make, dtype=np.float64):
    return make(torch.nn), make(nn)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name,make,shape,target", [
    ("ce", lambda n: n.CrossEntropyLoss(), (5, 4), lambda d: np.array([0, 3, 1, 1, 2])),
    ("ce_sum_smooth", lambda n: n.CrossEntropyLoss(reduction="sum", label_smoothing=0.1),
     (5, 4), lambda d: np.array([0, 3, 1, 1, 2])),
    ("ce_ignore", lambda n: n.CrossEntropyLoss(ignore_index=1), (5, 4),
     lambda d: np.array([0, 3, 1, 1, 2])),
    ("ce_none_dims", lambda n: n.CrossEntropyLoss(reduction="none"), (2, 4, 3),
     lambda d: np.array([[0, 3, 1], [1, 2, 0]])),
    ("ce_probs", lambda n: n.CrossEntropyLoss(), (3, 4),
     lambda d: np.random.default_rng(5).dirichlet(np.ones(4), 3).astype(d)),
    ("nll", lambda n: n.NLLLoss(), (5, 4), lambda d: np.array([0, 3, 1, 1, 2])),
    ("mse", lambda n: n.MSELoss(), (3, 4), lambda d: rand(3, 4, dtype=d, seed=3)),
    ("mse_sum", lambda n: n.MSELoss(reduction="sum"), (3, 4), lambda d: rand(3, 4, dtype=d,
                                                                             seed=3)),
    ("l1", lambda n: n.L1Loss(), (3, 4), lambda d: rand(3, 4, dtype=d, seed=3)),
    ("smooth_l1", lambda n: n.SmoothL1Loss(beta=0.5), (3, 4), lambda d: rand(3, 4, dtype=d,
                                                                             seed=3)),
    ("huber", lambda n: n.HuberLoss(delta=0.7), (3, 4), lambda d: rand(3, 4, dtype=d, seed=3)),
    ("bce_logits", lambda n: n.BCEWithLogitsLoss(), (3, 4),
     lambda d: rand(3, 4, dtype=d, seed=3, low=0, high=1)),
    ("bce", lambda n: n.BCELoss(), (3, 4), lambda d: rand(3, 4, dtype=d, seed=3, low=0, high=1)),
])
def test_loss_matches_torch(name, make, shape, target, dtype):
    t_mod, n_mod = _loss_pair(make, dtype)
    x = rand(*shape, dtype=dtype)
    if name == "nll":
        x = np.log(np.exp(x) / np.exp(x).sum(1, keepdims=True)).astype(dtype)
    if name == "bce":
        x = rand(*shape, dtype=dtype, low=0.05, high=0.95)
    run_both(t_mod, n_mod, x, dtype, extra=(target(dtype),))


def test_weighted_losses_keep_weight_buffers():
    w = np.array([1.0, 2.0, 0.5, 1.0])

    def make(n, lib):
        return n.CrossEntropyLoss(weight=lib.tensor(w))

    t_mod, n_mod = make(torch.nn, torch), make(nn, ndgrad)
    assert list(n_mod.state_dict()) == list(t_mod.state_dict()) == ["weight"]
    run_both(t_mod, n_mod, rand(5, 4), extra=(np.array([0, 3, 1, 1, 2]),))
    pos = np.array([1.0, 3.0, 0.5])
    t_mod = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos))
    n_mod = nn.BCEWithLogitsLoss(pos_weight=ndgrad.tensor(pos))
    assert list(n_mod.state_dict()) == list(t_mod.state_dict()) == ["pos_weight"]
    run_both(t_mod, n_mod, rand(2, 3), extra=(rand(2, 3, seed=2, low=0, high=1),))
    t_mod = torch.nn.NLLLoss(weight=torch.tensor(w), reduction="sum")
    n_mod = nn.NLLLoss(weight=ndgrad.tensor(w), reduction="sum")
    run_both(t_mod, n_mod, rand(5, 4), extra=(np.array([0, 3, 1, 1, 2]),))


def test_legacy_reduction_flags():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.CrossEntropyLoss(reduce=False).reduction == "none"


# -- a whole model: a few SGD steps agree with torch --------------------------------------------
def test_small_cnn_training_steps_match_torch():
    def build(lib):
        n_ = lib.nn
        return n_.Sequential(n_.Conv2d(1, 4, 3, padding=1), n_.BatchNorm2d(4), n_.ReLU(),
                             n_.MaxPool2d(2), n_.Flatten(), n_.Linear(4 * 4 * 4, 3))

    t, n = build(torch).double(), build(ndgrad).double()
    copy_weights(t, n)
    t_opt = torch.optim.SGD(t.parameters(), lr=0.1, momentum=0.9)
    n_opt = ndgrad.optim.SGD(n.parameters(), lr=0.1, momentum=0.9)
    for step in range(5):
        x = rand(6, 1, 8, 8, seed=step)
        y = np.random.default_rng(step).integers(0, 3, 6)
        t_loss = torch.nn.functional.cross_entropy(t(torch.tensor(x)), torch.tensor(y))
        n_loss = ndgrad.nn.functional.cross_entropy(n(ndgrad.tensor(x)), ndgrad.tensor(y))
        assert abs(t_loss.item() - n_loss.item()) < 1e-9
        t_opt.zero_grad()
        n_opt.zero_grad()
        t_loss.backward()
        n_loss.backward()
        t_opt.step()
        n_opt.step()
    for (k, a), (_, b) in zip(n.state_dict().items(), t.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10, err_msg=k)


def test_parameter_list_and_dict_match_torch():
    for_lib = {}
    for lib in (torch, ndgrad):
        pl = lib.nn.ParameterList([lib.nn.Parameter(lib.zeros(2, 3)), lib.zeros(3), 5])
        pd = lib.nn.ParameterDict({"a": lib.nn.Parameter(lib.zeros(2, 3)),
                                   "b": lib.zeros(3, dtype=lib.float64)})
        m = lib.nn.Module()
        m.pl, m.pd = pl, pd
        for_lib[lib.__name__] = (repr(m), list(m.state_dict()),
                                 [k for k, _ in m.named_parameters()])
    t_repr, t_keys, t_names = for_lib["torch"]
    n_repr, n_keys, n_names = for_lib["ndgrad"]
    assert n_repr == t_repr.replace("torch.", "ndgrad.")
    assert n_keys == t_keys and n_names == t_names
    pl = nn.ParameterList([ndgrad.ones(2)])
    assert isinstance(pl[0], nn.Parameter) and len(pl) == 1 and len(pl[0:1]) == 1
    pl.append(ndgrad.zeros(1))
    assert len(list(pl.parameters())) == 2
    with pytest.raises(RuntimeError, match="should not be called"):
        pl(1)
    pd = nn.ParameterDict({"w": ndgrad.ones(1)})
    assert "w" in pd and list(pd.keys()) == ["w"] and isinstance(pd["w"], nn.Parameter)
    assert pd.pop("w") is not None and len(pd) == 0
