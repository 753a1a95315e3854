"""Hooks common to all modules (``nn.modules.module.register_module_*``), ``Tensor.as_subclass``
and ``autograd.graph.allow_mutation_on_saved_tensors``, each run the same
way on torch and ndgrad and compared."""

import warnings

import numpy as np
import pytest
import torch

import ndgrad
import ndgrad.nn.hooks

LIBS = [torch, ndgrad]


@pytest.fixture(autouse=True)
def _unset_global_backward_kind(monkeypatch):
    """Whether global backward hooks are full ones or old-style ones is decided once per
    process and never reset, in torch as here: each test starts with it undecided and leaves
    it so."""
    monkeypatch.setattr(torch.nn.modules.module, "_global_is_full_backward_hook", None)
    monkeypatch.setattr(ndgrad.nn.hooks, "_global_is_full_backward_hook", None)


def _with_global(lib, registrations):
    """Register ``(name, hook, kwargs)`` global hooks; returns their handles."""
    mm = lib.nn.modules.module
    return [getattr(mm, name)(hook, **kw) for name, hook, kw in registrations]


def _values(x):
    """Tensors (in nested lists) as lists, rounded: float32 math differs in the last bits."""
    if x is None:
        return None
    if isinstance(x, tuple | list):
        return [_values(v) for v in x]
    return np.round(np.asarray(x.detach().tolist()), 5).tolist()


def _name(m):
    return type(m).__name__


def _forward_trace(lib):
    trace = []
    handles = _with_global(lib, [
        ("register_module_forward_pre_hook",
         lambda m, args: trace.append(("global pre", _name(m), _values(args))) or (
             (args[0] + 1,) if _name(m) == "Linear" else None), {}),
        ("register_module_forward_pre_hook",  # a single value is wrapped in a tuple
         lambda m, args: args[0] * 2 if _name(m) == "Linear" else None, {}),
        ("register_module_forward_hook",
         lambda m, args, out: trace.append(("global", _name(m), _values(args), _values(out)))
         or (out * 10 if _name(m) == "ReLU" else None), {}),
        ("register_module_forward_hook",
         lambda m, args, kwargs, out: trace.append(("global kwargs", _name(m), kwargs)),
         {"with_kwargs": True}),
    ])
    try:
        lin = lib.nn.Linear(2, 2)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor([[1.0, 2.0], [3.0, -4.0]]))
            lin.bias.fill_(0.5)
        lin.register_forward_pre_hook(lambda m, args: trace.append(("own pre", _values(args))))
        lin.register_forward_hook(lambda m, args, out: trace.append(("own", _values(out))))
        model = lib.nn.Sequential(lin, lib.nn.ReLU())
        x = lib.tensor([[1.0, -1.0]], requires_grad=True)
        y = model(x)
        trace.append(("result", _values(y)))
        y.sum().backward()
        trace.append(("grad", _values(x.grad)))
    finally:
        for h in handles:
            h.remove()
    model(x)  # removed: nothing more is traced
    trace.append(("after remove", _values(model(x))))
    return trace


def test_global_forward_hooks_run_first_and_replace_values():
    assert _forward_trace(ndgrad) == _forward_trace(torch)
    assert not ndgrad.nn.hooks._global_call_hooks  # the fast path is back
    assert not ndgrad.nn.hooks._global_forward_hooks_with_kwargs


def _always_call_trace(lib):
    trace = []

    class Fails(lib.nn.Module):
        def forward(self, x, fail="forward"):
            if fail == "forward":
                raise ValueError("forward failed")
            return x + 1

    def hook(tag):
        return lambda m, args, out: trace.append((tag, _values(args), _values(out)))

    def failing_hook(m, args, out):
        trace.append("failing hook")
        raise KeyError("hook failed")

    handles = _with_global(lib, [
        ("register_module_forward_hook", hook("global always"), {"always_call": True}),
        ("register_module_forward_hook", hook("global"), {}),
        # with_kwargs, but on the error path torch passes (module, args, output) to it
        ("register_module_forward_hook", lambda m, *a: trace.append(("global kw", len(a))),
         {"always_call": True, "with_kwargs": True}),
    ])
    try:
        m = Fails()
        m.register_forward_hook(hook("own always"), always_call=True)
        m.register_forward_hook(lambda m, args, kwargs, out: trace.append(
            ("own always kwargs", kwargs, _values(out))), always_call=True, with_kwargs=True)
        with pytest.raises(ValueError, match="forward failed"):
            m(lib.ones(1))
        # a forward hook fails after forward: the always_call hooks that ran are not run again
        n = Fails()
        n.register_forward_hook(failing_hook)
        n.register_forward_hook(hook("own always, after the failing one"), always_call=True)
        with pytest.raises(KeyError, match="hook failed"):
            n(lib.ones(1), fail="no")
        # a failing always_call hook on the error path only warns
        k = Fails()
        k.register_forward_hook(lambda *a: 1 / 0, always_call=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(ValueError, match="forward failed"):
                k(lib.ones(1))
        trace.append([str(w.message).split(":")[0] for w in caught])
    finally:
        for h in handles:
            h.remove()
    return trace


def test_global_always_call_forward_hook_runs_when_the_call_raises():
    assert _always_call_trace(ndgrad) == _always_call_trace(torch)


def _backward_trace(lib):
    trace = []

    def grads(g):
        return _values(list(g))

    handles = _with_global(lib, [
        ("register_module_full_backward_pre_hook",
         lambda m, go: trace.append(("global pre", _name(m), grads(go))) or (
             tuple(g * 2 for g in go) if _name(m) == "Linear" else None), {}),
        ("register_module_full_backward_hook",
         lambda m, gi, go: trace.append(("global", _name(m), grads(gi), grads(go))) or (
             tuple(None if g is None else g + 1 for g in gi) if _name(m) == "Tanh" else None),
         {}),
    ])
    try:
        lin = lib.nn.Linear(2, 2)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor([[0.5, -1.0], [2.0, 0.25]]))
            lin.bias.zero_()
        lin.register_full_backward_pre_hook(lambda m, go: trace.append(("own pre", grads(go))))
        lin.register_full_backward_hook(lambda m, gi, go: trace.append(("own", grads(gi))))
        model = lib.nn.Sequential(lin, lib.nn.Tanh())
        x = lib.tensor([[0.5, -1.0]], requires_grad=True)
        (model(x) * lib.tensor([[1.0, 3.0]])).sum().backward()
        trace.append(("x.grad", _values(x.grad), "weight.grad", _values(lin.weight.grad)))
        with lib.no_grad():  # no graph, no backward hooks
            model(x)
        # mixing the two kinds of global backward hooks is refused
        with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks"):
            lib.nn.modules.module.register_module_backward_hook(lambda *a: None)
    finally:
        for h in handles:
            h.remove()
    return trace


def test_global_full_backward_hooks_run_first_and_replace_gradients():
    assert _backward_trace(ndgrad) == _backward_trace(torch)


def _old_style_backward_trace(lib):
    trace = []
    mm = lib.nn.modules.module
    handle = mm.register_module_backward_hook(
        lambda m, gi, go: trace.append((_name(m), _values(list(go)))))
    try:
        x = lib.tensor([[0.5, -1.0]], requires_grad=True)
        act = lib.nn.Tanh()  # alive until backward: torch's hook holds it weakly
        (act(x) * lib.tensor([[1.0, 3.0]])).sum().backward()
        with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks"):
            mm.register_module_full_backward_hook(lambda *a: None)
    finally:
        handle.remove()
    return trace


@pytest.mark.filterwarnings("ignore:Using a non-full backward hook")
def test_global_old_style_backward_hook():
    assert _old_style_backward_trace(ndgrad) == _old_style_backward_trace(torch)


def _registration_trace(lib):
    trace = []

    def seen(kind, replace=None):
        def hook(module, name, value):
            own = isinstance(value, lib.Tensor) and _name(module) == "Net"  # (Linear's: random)
            trace.append((kind, _name(module), name, _name(value), _values(value if own
                                                                         else None)))
            return replace(name, value) if replace else None
        return hook

    handles = _with_global(lib, [
        ("register_module_parameter_registration_hook", seen("param", lambda n, v: (
            lib.nn.Parameter(lib.zeros(1)) if n == "scale" else None)), {}),
        ("register_module_buffer_registration_hook", seen("buffer", lambda n, v: (
            v * 2 if n == "doubled" else None)), {}),
        ("register_module_module_registration_hook", seen("module", lambda n, v: (
            lib.nn.Identity() if n == "act" else None)), {}),
    ])
    try:
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = lib.nn.Parameter(lib.ones(1))
                self.register_parameter("missing", None)  # None: no hook
                self.register_buffer("doubled", lib.ones(2))
                self.kept = lib.nn.Buffer(lib.ones(1), persistent=False)
                self.act = lib.nn.ReLU()
                self.add_module("head", lib.nn.Linear(1, 1, bias=False))
                self.head = None  # None in place of a submodule: the hook sees it

        net = Net()
        trace.append(("state", _values(net.scale), _values(net.doubled), _name(net.act),
                      sorted(net.state_dict()), net.head))
    finally:
        for h in handles:
            h.remove()
    lib.nn.Linear(1, 1)  # removed: nothing more is traced
    return trace


def test_global_registration_hooks_see_and_replace_values():
    assert _registration_trace(ndgrad) == _registration_trace(torch)


def test_import_path_is_torchs():
    mm = ndgrad.nn.modules.module
    assert mm.Module is ndgrad.nn.Module is ndgrad.nn.modules.Module
    assert mm._global_forward_hooks is ndgrad.nn.hooks._global_forward_hooks
    handle = mm.register_module_full_backward_pre_hook(lambda m, go: None)
    assert list(mm._global_backward_pre_hooks) == [handle.id]
    handle.remove()
    assert mm._global_is_full_backward_hook is None
    for name in dir(torch.nn.modules.module):
        if name.startswith("register_module_"):
            assert callable(getattr(mm, name)), name


# -- Tensor.as_subclass ------------------------------------------------------------------------


def _as_subclass_trace(lib):
    class Sub(lib.Tensor):
        def __init__(self, *args, **kwargs):
            raise AssertionError("as_subclass runs no __init__")

    trace = []
    a = lib.ones(3, requires_grad=True)
    s = a.as_subclass(Sub)
    trace.append((type(s) is Sub, s.requires_grad, s.grad_fn is not None, s.is_leaf,
                  s._base is a, s is a))
    # an alias in the graph: gradients flow back through it, through a non-leaf too
    b = a * 2
    (b.as_subclass(Sub) * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    (s * 3).sum().backward()
    trace.append(_values(a.grad))
    # shared memory and version counter
    x = lib.ones(2)
    y = x.as_subclass(Sub)
    y.add_(1)
    trace.append((_values(x), x._version, y._version, y.requires_grad, y.is_leaf))
    with lib.no_grad():  # made under no_grad: requires grad (its base does), no history
        w = a.as_subclass(Sub)
    trace.append((w.requires_grad, w.grad_fn, w.is_leaf))
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        a.as_subclass(Sub).mul_(2)
    p = lib.nn.Parameter(lib.ones(2))
    q = p.as_subclass(lib.Tensor)
    trace.append((type(q).__name__, q.requires_grad, q.is_leaf, q is p))
    trace.append(_values(lib.tensor(3.0).as_subclass(Sub)))
    trace.append(_values(lib.arange(4).as_subclass(Sub)))
    for bad in (int, object):
        with pytest.raises(TypeError, match="does not inherit from Tensor"):
            x.as_subclass(bad)
    return trace


def test_as_subclass_is_an_alias_in_the_graph():
    assert _as_subclass_trace(ndgrad) == _as_subclass_trace(torch)


# -- autograd.graph.allow_mutation_on_saved_tensors --------------------------------------------


def _mutation_trace(lib):
    trace = []
    with lib.autograd.graph.allow_mutation_on_saved_tensors() as state:
        assert not state.cloned
        # torch's example: a saved non-leaf changed in place
        a = lib.tensor([[0.5, 1.0, 2.0], [3.0, -1.0, 0.25]], requires_grad=True)
        b = a.clone()
        out = (b ** 2).sum()
        b.sin_()
        out.backward()
        trace.append(("clone", _values(a.grad), _values(b)))
        # a saved leaf changed under no_grad, twice, and saved twice by one op
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (w * w).sum()
        with lib.no_grad():
            w.mul_(3)
            w.add_(1)
        y.backward()
        trace.append(("leaf", _values(w.grad)))
        # an op's saved output (exp saves its result), changed in place
        x = lib.tensor([0.1, 0.2], requires_grad=True)
        z = x.exp()
        s = (z * lib.tensor([1.0, 2.0])).sum()
        z.add_(1)
        z.zero_()
        s.backward()
        trace.append(("output", _values(x.grad)))
        # the whole tensor through setitem, copy_ and out=
        p = lib.tensor([1.0, 2.0], requires_grad=True)
        q = p * 1
        r = (q * q * q).sum()
        q[...] = 7.0
        q.copy_(lib.tensor([4.0, 5.0]))
        with lib.no_grad():
            lib.add(lib.ones(2), lib.ones(2), out=q)
        r.backward()
        trace.append(("setitem, copy_, out=", _values(p.grad)))
        # a saved slice, and another slice of its base changed: nothing to copy
        base = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        v = base * 1
        head = v[:2]
        loss = (head * head).sum()
        v[2:].mul_(10)
        loss.backward()
        trace.append(("other slice", _values(base.grad)))
        kept = lib.tensor([1.0], requires_grad=True) * 2
        late = (kept * kept).sum()
    with pytest.raises(AssertionError, match="outside of the 'allow_mutation_on_saved_tensors'"):
        late.backward()  # backward belongs inside the block that recorded the graph
    with lib.autograd.graph.allow_mutation_on_saved_tensors():
        with pytest.raises(RuntimeError, match="cannot be nested"):
            with lib.autograd.graph.allow_mutation_on_saved_tensors():
                pass
    return trace


def test_allow_mutation_on_saved_tensors_uses_the_values_saved():
    assert _mutation_trace(ndgrad) == _mutation_trace(torch)
    # outside the block, the same change is refused at backward, as in torch
    for lib in LIBS:
        b = lib.ones(2, requires_grad=True).clone()
        out = (b ** 2).sum()
        b.sin_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.backward()


def test_allow_mutation_copies_a_saved_tensor_changed_through_a_view():
    """A write through a view (``d[0, 1] = 5``, ``d[1].mul_(2)``) changes the saved ``d``
    too. torch copies a saved tensor only when the write starts at its data pointer, so there
    it would backpropagate through the new values; ndgrad compares memory and gives the
    gradient of the values saved, as torch's does without the writes."""
    def loss(lib, d):
        return (d.exp() * d).sum()

    c = ndgrad.tensor([[0.5, 1.0, 2.0], [3.0, -1.0, 0.25]], requires_grad=True)
    with ndgrad.autograd.graph.allow_mutation_on_saved_tensors():
        d = c * 1
        out = loss(ndgrad, d)
        d[0, 1] = 5.0
        d[1].mul_(2)
        out.backward()
    ref = torch.tensor([[0.5, 1.0, 2.0], [3.0, -1.0, 0.25]], requires_grad=True)
    loss(torch, ref * 1).backward()
    assert _values(c.grad) == _values(ref.grad)


def test_allow_mutation_refuses_a_change_it_did_not_see():
    """A write no in-place op announced (here NumPy's, through .numpy()'s array, counted with
    increment_version as an optimizer's step is) cannot be undone: backward refuses it, as it
    does outside the block."""
    with ndgrad.autograd.graph.allow_mutation_on_saved_tensors():
        w = ndgrad.ones(2, requires_grad=True)
        y = (w * w).sum()
        w.detach().numpy()[:] = 3.0
        ndgrad.autograd.graph.increment_version(w)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()
    assert ndgrad.autograd.inplace.before_write is None  # off again: in-place ops cost nothing
