"""Graph-node hooks (``grad_fn.register_hook``/``register_prehook``) and the rules for what a
custom Function's forward returns (an input as it is, a view of one, an input changed in place
with ``ctx.mark_dirty``), and ``ctx.set_materialize_grads``: each checked against torch."""

import numpy as np
import pytest
import torch

import ndgrad

LIBS = [torch, ndgrad]


def _is_view(t):
    return t._base is not None


def _functions(lib):
    class Identity(lib.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            return args

        @staticmethod
        def backward(ctx, *grads):
            return grads

    class Transpose(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.t()

        @staticmethod
        def backward(ctx, g):
            return g.t()

    class DoubleInPlace(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors  # the version check must pass
            return g * 2

    return Identity, Transpose, DoubleInPlace


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_prehook_and_hook_on_a_node_replace_gradients(lib):
    a = lib.tensor([0.0, 1.0, 2.0], requires_grad=True)
    b = a.clone()
    handle = b.grad_fn.register_prehook(lambda g_out: (g_out[0] * 2,))
    b.sum().backward(retain_graph=True)
    assert a.grad.tolist() == [2.0, 2.0, 2.0]
    handle.remove()
    a.grad = None
    b.sum().backward(retain_graph=True)
    assert a.grad.tolist() == [1.0, 1.0, 1.0]
    seen = []

    def post(g_in, g_out):
        seen.append((g_in[0].tolist(), g_out[0].tolist()))
        return (g_out[0] * 3,)

    b.grad_fn.register_hook(post)
    a.grad = None
    (b * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [3.0, 6.0, 9.0]
    assert seen == [([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])]


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_node_hook_sees_gradients_shaped_as_the_inputs(lib):
    # a broadcasting product: the hook sees each input's gradient summed to its shape
    x = lib.ones(3, requires_grad=True)
    w = lib.ones(2, 1, requires_grad=True)
    y = x * w
    shapes = []
    y.grad_fn.register_hook(
        lambda g_in, g_out: shapes.append([tuple(g.shape) for g in g_in] + [tuple(g_out[0].shape)]))
    y.sum().backward()
    assert shapes == [[(3,), (2, 1), (2, 3)]]
    assert x.grad.tolist() == [2.0, 2.0, 2.0] and w.grad.tolist() == [[3.0], [3.0]]


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_hooks_on_a_leaf_accumulator(lib):
    x = lib.ones(3, requires_grad=True)
    acc = (x * 2).grad_fn.next_functions[0][0]
    calls = []
    acc.register_prehook(lambda g_out: (g_out[0] * 10,))
    acc.register_hook(lambda g_in, g_out: calls.append((len(g_in), g_out[0].tolist())))
    (x * 2).sum().backward()
    assert x.grad.tolist() == [20.0, 20.0, 20.0]
    assert calls == [(0, [20.0, 20.0, 20.0])]


def test_node_hook_returning_the_wrong_number_of_gradients_raises():
    x = ndgrad.ones(2, requires_grad=True)
    y = x * x
    y.grad_fn.register_hook(lambda g_in, g_out: (g_out[0], g_out[0], g_out[0]))
    with pytest.raises(RuntimeError, match="incorrect number of values"):
        y.sum().backward()


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_an_input_returned_as_is_is_a_view_that_refuses_in_place(lib):
    Identity, Transpose, _ = _functions(lib)
    x = lib.tensor([-1.0, 2.0], requires_grad=True)
    (a,) = Identity.apply(x)
    assert _is_view(a) and a._base is x and a.grad_fn is not None
    with pytest.raises(RuntimeError, match="created inside a custom Function"):
        a.mul_(3)
    assert x.tolist() == [-1.0, 2.0]  # the input is untouched
    m = lib.ones(2, 3, requires_grad=True)
    b = Transpose.apply(m)  # a view made in forward
    assert _is_view(b) and b._base is m
    with pytest.raises(RuntimeError, match="Output 0 of Transpose is a view"):
        b.add_(1)
    (b * 2).sum().backward()
    assert m.grad.tolist() == [[2.0] * 3] * 2


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_a_custom_view_is_stale_after_its_input_changes(lib):
    Identity, _, _ = _functions(lib)
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    (a,) = Identity.apply(h)
    s = (a * a).sum()
    h.mul_(2)  # the view's values changed behind the graph: backward must not use them
    with pytest.raises(RuntimeError, match="its base or another view of its base has been"):
        s.backward()


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_mark_dirty(lib):
    _, _, DoubleInPlace = _functions(lib)
    x = lib.tensor([1.0, -2.0], requires_grad=True)
    y = x.clone()
    z = DoubleInPlace.apply(y)
    assert z is y and y._version == 2 and y.tolist() == [2.0, -4.0]
    assert type(y.grad_fn).__name__.startswith("DoubleInPlace")
    (z * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used"):
        DoubleInPlace.apply(lib.ones(2, requires_grad=True))
    # a dirty view: the base gets the Function in its history
    x0 = lib.zeros(4, requires_grad=True)
    base = x0.clone()
    DoubleInPlace.apply(base[1:3])
    assert type(base.grad_fn).__name__ == "CopySlices"
    (base * lib.arange(4.0)).sum().backward()
    assert x0.grad.tolist() == [0.0, 2.0, 4.0, 3.0]


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
@pytest.mark.parametrize("materialize", [True, False])
def test_set_materialize_grads(lib, materialize):
    got = []

    class Two(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            got.append(None if g2 is None else np.asarray(g2.detach().numpy()).tolist())
            return g1 if g2 is None else g1 + 2 * g2

    x = lib.ones(2, requires_grad=True)
    p, _ = Two.apply(x)
    p.sum().backward()
    assert got == [[0.0, 0.0] if materialize else None]
    assert x.grad.tolist() == [1.0, 1.0]


def _module_hook_trace(lib):
    """Module backward hooks through a run of cases; returns what the hooks saw and did."""
    trace = []

    def plain(gs):
        return [None if g is None else g.tolist() for g in gs]

    lin = lib.nn.Linear(3, 2)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
        lin.bias.zero_()
    h1 = lin.register_full_backward_hook(
        lambda m, g_in, g_out: trace.append(("full", m is lin, plain(g_in), plain(g_out))))

    def pre(m, g_out):
        trace.append(("pre", plain(g_out)))
        return (g_out[0] * 2,)

    h2 = lin.register_full_backward_pre_hook(pre)
    x = lib.tensor([[1.0, 1.0, 1.0]], requires_grad=True)
    (lin(x) * lib.tensor([[1.0, 3.0]])).sum().backward()
    trace.append(("grads", x.grad.tolist(), lin.weight.grad.tolist()))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        lin(lib.ones(1, 3)).sum().backward()  # the hooks run once the outputs' gradient is in
    h1.remove()
    h2.remove()
    lin.register_full_backward_hook(lambda m, g_in, g_out: (g_in[0] * 0,))
    x.grad = None
    lin(x).sum().backward()
    trace.append(("replaced", x.grad.tolist()))
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and full"):
        lin.register_backward_hook(lambda *a: None)
    relu = lib.nn.ReLU(inplace=True)  # forward gets a view that refuses in-place ops, as torch
    relu.register_full_backward_hook(lambda *a: None)
    with pytest.raises(RuntimeError, match="Output 0 of BackwardHookFunction is a view"):
        relu(x * 1)

    class MulAdd(lib.nn.Module):
        def forward(self, a, k, b):
            return a * b * k, a + b

    m = MulAdd()
    m.register_full_backward_hook(
        lambda mod, g_in, g_out: trace.append(("several", plain(g_in), plain(g_out))))
    p, _ = m(lib.tensor([1.0, 2.0], requires_grad=True), 2.0, lib.tensor([3.0, 4.0]))
    p.sum().backward()
    sig = lib.nn.Sigmoid()  # the old style: hooks on the output's grad_fn
    sig.register_backward_hook(lambda mod, g_in, g_out: trace.append(
        ("old", [tuple(g.shape) for g in g_in if g is not None], plain(g_out))))
    sig(lib.zeros(1, 2, requires_grad=True)).sum().backward()
    return trace


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch warns of its old-style hooks
def test_module_backward_hooks_match_torch():
    assert _module_hook_trace(ndgrad) == _module_hook_trace(torch)


def _forward_hook_trace(lib):
    trace = []

    class Scale(lib.nn.Module):
        def forward(self, x, scale=1.0):
            if scale < 0:
                raise ValueError("negative scale")
            return x * scale

    m = Scale()
    m.register_forward_hook(lambda mod, args, out: trace.append(("plain", out.tolist())))
    m.register_forward_hook(lambda mod, args, kwargs, out: trace.append(
        ("kwargs, first", kwargs, out.tolist())), prepend=True, with_kwargs=True)
    m.register_forward_pre_hook(lambda mod, args, kwargs: (
        (args[0] + 1,), {"scale": kwargs.get("scale", 1.0) * 10}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: trace.append(
        ("always", None if out is None else out.tolist())), always_call=True)
    trace.append(m(lib.ones(2), scale=2.0).tolist())
    with pytest.raises(ValueError, match="negative scale"):
        m(lib.ones(2), scale=-1.0)
    with pytest.raises(RuntimeError, match="must return None or a tuple of"):
        n = Scale()
        n.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
        n(lib.ones(2))
    return trace


def test_forward_hook_options_match_torch():
    assert _forward_hook_trace(ndgrad) == _forward_hook_trace(torch)


def _state_dict_api_trace(lib):
    trace = []

    class Counter(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lib.nn.Linear(2, 2)
            self.count = 3

        def get_extra_state(self):
            return {"count": self.count}

        def set_extra_state(self, state):
            self.count = state["count"]

    m = lib.nn.Sequential(Counter(), lib.nn.BatchNorm1d(2))
    m.register_state_dict_pre_hook(lambda mod, prefix, keep: trace.append(("pre", prefix, keep)))
    m[0].register_state_dict_pre_hook(lambda mod, prefix, keep: trace.append(("pre0", prefix)))
    m.register_state_dict_post_hook(
        lambda mod, sd, prefix, meta: trace.append(("post", prefix, sorted(sd))))
    m[0].register_state_dict_post_hook(
        lambda mod, sd, prefix, meta: trace.append(("post0", prefix, sorted(sd))))
    sd = m.state_dict()
    trace += [list(sd), sd["0._extra_state"]]
    m[0].count = 0
    m.load_state_dict(sd)
    trace.append(m[0].count)
    without = {k: v for k, v in sd.items() if k != "0._extra_state"}
    with pytest.raises(RuntimeError, match='Missing key.*"0._extra_state"'):
        m.load_state_dict(without)

    def forgive(mod, keys):
        trace.append(("load post", type(mod).__name__, list(keys.missing_keys)))
        keys.missing_keys.clear()

    m[0].register_load_state_dict_post_hook(forgive)
    m.register_load_state_dict_post_hook(
        lambda mod, keys: trace.append(("load post, top", list(keys.missing_keys))))
    result = m.load_state_dict(without)
    trace.append((list(result.missing_keys), list(result.unexpected_keys)))
    trace.append(tuple(m.get_buffer("1.running_mean").shape))
    for target in ("1.weight", "1.nope"):
        with pytest.raises(AttributeError) as err:
            m.get_buffer(target)
        trace.append(str(err.value))
    m.set_submodule("0.lin", lib.nn.Identity())
    trace.append(type(m[0].lin).__name__)
    for target, strict in (("0.count", False), ("0.absent", True)):
        with pytest.raises(AttributeError) as err:
            m.set_submodule(target, lib.nn.Identity(), strict=strict)
        trace.append(str(err.value))
    weight = m[1].weight
    assert m.to_empty(device="cpu") is m and m[1].weight is weight
    trace.append(tuple(weight.shape))
    return trace


def test_state_dict_hooks_extra_state_and_submodule_access_match_torch():
    assert _state_dict_api_trace(ndgrad) == _state_dict_api_trace(torch)


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_function_with_setup_context(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(x, scale):
            return x ** 3 * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, scale = inputs
            ctx.save_for_backward(x)
            ctx.scale = scale

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g * ctx.scale, None

    x = lib.tensor([1.0, -2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.tolist() == [2.0, -16.0]
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]


def test_grad_with_batched_grad_outputs_matches_torch():
    rng = np.random.default_rng(0)
    xv, wv = rng.standard_normal(3), rng.standard_normal(2)
    results = []
    for lib in (torch, ndgrad):
        x = lib.tensor(xv, requires_grad=True)
        w = lib.tensor(wv, requires_grad=True)
        y = lib.tanh(x[:, None] * w)
        (jac,) = lib.autograd.grad(y, x, lib.eye(6, dtype=lib.float64).reshape(6, 3, 2),
                                   is_grads_batched=True)
        y = lib.tanh(x[:, None] * w)
        gx, gw = lib.autograd.grad(y, (x, w), lib.ones(4, 3, 2, dtype=lib.float64),
                                   is_grads_batched=True, create_graph=True)
        assert gx.shape == (4, 3) and gw.shape == (4, 2) and gx.requires_grad
        (gx.sum() + gw.sum()).backward()  # through the batched gradients
        results.append((jac.detach().numpy(), gx.detach().numpy(), x.grad.numpy(),
                        w.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def _graph_api_trace(lib):
    trace = []
    register = lib.autograd.graph.register_multi_grad_hook
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0], requires_grad=True)
    c = a * 2
    handle = register((a, b, c), lambda grads: trace.append(
        ("all", [None if g is None else g.tolist() for g in grads])))
    (c * b).sum().backward(retain_graph=True)
    c.sum().backward()  # b takes no part: its gradient is None, and fn still runs once
    handle.remove()
    (a * 3).sum().backward()  # removed: no call
    handle = register((a, b), lambda grad: trace.append(("any", grad.tolist())), mode="any")
    (a * b).sum().backward()
    handle.remove()
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    edge_y = lib.autograd.graph.get_gradient_edge(y)
    trace.append(lib.autograd.grad((y * y).sum(), edge_y)[0].tolist())
    edge_x = lib.autograd.graph.get_gradient_edge(x)
    trace.append([g.tolist() for g in lib.autograd.grad((y * y).sum(), [edge_x, edge_y])])
    with pytest.raises(RuntimeError, match="does not require gradients"):
        lib.autograd.graph.get_gradient_edge(lib.ones(2))
    return trace


def test_multi_grad_hooks_and_gradient_edges_match_torch():
    assert _graph_api_trace(ndgrad) == _graph_api_trace(torch)


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_grad_with_respect_to_a_non_leaf_keeps_its_node(lib):
    # autograd.grad(z, y) reads y's gradient without running y's own node, so what that node
    # saved is still there for a later backward through it (ndgrad ran and freed it)
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    assert lib.autograd.grad((y * y).sum(), y)[0].tolist() == [6.0, 12.0]
    assert lib.autograd.grad((y * 2).sum(), x)[0].tolist() == [6.0, 6.0]


def _retain_grad_trace(lib):
    trace = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: trace.append(("hook before", g.tolist())))
    y.retain_grad()
    y.mul_(3)  # retain_grad moves to the new y; the hook stays with the old one
    y.register_hook(lambda g: trace.append(("hook after", g.tolist())))
    (y * lib.tensor([1.0, 10.0])).sum().backward()
    trace.append(("y.grad", y.grad.tolist(), x.grad.tolist()))
    b = x * 1
    v = b[:1]
    v.retain_grad()
    b.mul_(2)  # v's history is rebuilt over b's new one: its .grad follows
    (v * 5).sum().backward()
    trace.append(("view.grad", v.grad.tolist()))
    return trace


def test_retain_grad_follows_in_place_changes_as_torch():
    assert _retain_grad_trace(ndgrad) == _retain_grad_trace(torch)


def _optimizer_hook_trace(lib):
    trace = []
    p = lib.nn.Parameter(lib.ones(2))
    opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = lib.ones(2)
    opt.step()
    opt.register_state_dict_pre_hook(lambda o: trace.append("state_dict pre"))

    def add_entry(o, sd):
        trace.append(("state_dict post", sorted(sd)))
        sd["extra"] = 1
        return sd

    opt.register_state_dict_post_hook(add_entry)
    opt.register_state_dict_post_hook(lambda o, sd: trace.append("prepended"), prepend=True)
    sd = opt.state_dict()
    trace.append(sorted(sd))

    def convert(o, sd):
        trace.append(("load pre", sorted(sd)))
        sd = {k: v for k, v in sd.items() if k != "extra"}
        sd["param_groups"][0]["lr"] = 0.5
        return sd

    opt.register_load_state_dict_pre_hook(convert)
    opt.register_load_state_dict_post_hook(lambda o: trace.append(("load post",
                                                                   o.param_groups[0]["lr"])))
    opt.load_state_dict(sd)
    handle = opt.register_step_pre_hook(
        lambda o, args, kwargs: trace.append(("step pre", args[0] is o, len(args), kwargs)))
    opt.step()
    handle.remove()
    trace.append(p.tolist())
    return trace


def test_optimizer_hooks_match_torch():
    assert _optimizer_hook_trace(ndgrad) == _optimizer_hook_trace(torch)


def _function_output_kinds_trace(lib):
    trace = []

    class WithCount(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, 5, x * 3

        @staticmethod
        def backward(ctx, g, count_grad, h):
            trace.append(("backward", g.tolist(), count_grad, h.tolist()))
            return g + h

    x = lib.ones(2, requires_grad=True)
    a, count, _ = WithCount.apply(x)
    trace.append(count)
    a.sum().backward()
    trace.append(x.grad.tolist())

    class SavesAnInt(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match="save_for_backward can only save variables, but "
                                        "argument 1 is of type int"):
        SavesAnInt.apply(x)
    return trace


def test_function_outputs_that_are_not_tensors_and_what_may_be_saved_match_torch():
    assert _function_output_kinds_trace(ndgrad) == _function_output_kinds_trace(torch)


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_node_metadata_is_kept_per_node(lib):
    x = lib.ones(2, requires_grad=True)
    y = x * 2
    y.grad_fn.metadata["step"] = 7
    assert y.grad_fn.metadata == {"step": 7}
    assert (x * 3).grad_fn.metadata == {}
