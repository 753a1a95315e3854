"""Autograd semantics against torch: graph walks, .grad accumulation, hooks, retain_graph,
autograd.grad, higher-order gradients, grad modes, custom Functions, gradcheck, anomaly mode."""

import sys
import warnings

import numpy as np
import pytest
import torch
from helpers import assert_close

import ndgrad
from ndgrad.autograd.gradcheck import GradcheckError

LIBS = [torch, ndgrad]


def both(fn):
    return fn(torch), fn(ndgrad)


def compare(n, t, dtype=np.float64):
    """Nested results (tensors, None, numbers, lists) of ndgrad and torch are equal."""
    if isinstance(t, list | tuple):
        assert len(n) == len(t)
        for a, b in zip(n, t):
            compare(a, b, dtype)
    elif isinstance(t, torch.Tensor):
        assert_close(n, t, dtype)
    else:
        assert n == t


# -- graph semantics -----------------------------------------------------------------------------
def test_reused_tensor_accumulates_a_plus_a():
    for lib in LIBS:
        a = lib.tensor(2.0, requires_grad=True)
        b = a + a
        c = b + b
        c.backward()
        assert a.grad.item() == 4.0


def test_diamond_and_shared_subexpressions():
    def run(lib):
        a = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64, requires_grad=True)
        b = a * 3
        c, d = b.exp(), b.sin()
        e = c * d + b * b - (c / (d + 3))
        e.sum().backward()
        return a.grad

    compare(*reversed(both(run)))


def test_leaf_grads_accumulate_over_backward_calls():
    def run(lib):
        a = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        (a * a).sum().backward()
        first = a.grad.clone()
        (a * a * a).sum().backward()
        return first, a.grad

    compare(*reversed(both(run)))


def test_only_leaves_and_retained_tensors_get_grad():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about reading a non-leaf's .grad
        for lib in LIBS:
            a = lib.tensor([2.0, 3.0], requires_grad=True)
            b = a * 2
            c = b * b
            c.retain_grad()
            d = c.sum()
            d.backward()
            assert a.grad.tolist() == [16.0, 24.0]
            assert b.grad is None and d.grad is None
            assert c.grad.tolist() == [1.0, 1.0] and c.retains_grad and not b.retains_grad
            assert not a.retains_grad  # leaves keep grad without retain_grad


def test_retain_grad_accumulates_with_retain_graph():
    def run(lib):
        a = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        b = a * 2
        b.retain_grad()
        c = (b * b).sum()
        c.backward(retain_graph=True)
        c.backward()
        return b.grad, a.grad

    compare(*reversed(both(run)))


def test_retained_grad_stays_in_the_graph_with_create_graph():
    def run(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        b = x * x
        b.retain_grad()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (b * b).sum().backward(create_graph=True)
        (gx,) = lib.autograd.grad(b.grad.sum(), x)
        return b.grad, b.grad.requires_grad, gx

    compare(*reversed(both(run)))


def test_retain_grad_on_a_leaf_without_grad_raises():
    for lib in LIBS:
        with pytest.raises(RuntimeError, match="requires_grad=False"):
            lib.tensor([1.0]).retain_grad()


def test_hooks_on_leaf_and_non_leaf_modify_the_gradient_and_can_be_removed():
    def run(lib):
        a = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        seen = []
        ha = a.register_hook(lambda g: g * 10)
        b = a * 2
        hb = b.register_hook(lambda g: seen.append(g.clone()) or g + 1)
        b.retain_grad()
        (b * b).sum().backward()
        first = (a.grad.clone(), b.grad.clone())
        ha.remove()
        hb.remove()
        a.grad = None
        b = a * 2
        (b * b).sum().backward()
        return first, a.grad, seen

    compare(*reversed(both(run)))


def test_hook_returning_none_keeps_the_gradient_and_hooks_chain():
    def run(lib):
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        calls = []
        a.register_hook(lambda g: calls.append(1))
        a.register_hook(lambda g: g * 2)
        a.register_hook(lambda g: g + 1)
        (a * 3).sum().backward()
        return a.grad, len(calls)

    compare(*reversed(both(run)))


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_gradients_a_hook_kept_are_not_changed_by_later_accumulation(lib):
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    kept_leaf, kept_mid = [], []
    a.register_hook(lambda g: kept_leaf.append(g))
    for _ in range(2):
        b = a + 0.0  # Add passes its gradient through unchanged
        b.register_hook(lambda g: kept_mid.append(g))
        (b * 2).sum().backward()
    a.grad.zero_()  # what zero_grad(set_to_none=False) does
    assert [g.tolist() for g in kept_leaf + kept_mid] == [[2.0, 2.0]] * 4


def test_post_accumulate_grad_hooks_see_and_change_grad_and_can_be_removed():
    """The hook gets the leaf after .grad has its gradient (accumulated), may change .grad,
    is skipped by autograd.grad (no .grad is filled) and stops after remove()."""
    def run(lib):
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([3.0, 4.0], dtype=lib.float64, requires_grad=True)
        seen = []

        def hook(p):
            seen.append(p.grad.clone())
            p.grad.mul_(2)
        handle = a.register_post_accumulate_grad_hook(hook)
        (a * w).sum().backward()
        (a * w).sum().backward()  # accumulates: the hook sees the sum
        (ga,) = lib.autograd.grad((a * w).sum(), a)
        handle.remove()
        (a * w).sum().backward()
        return seen, a.grad, ga

    compare(*reversed(both(run)))


def test_post_accumulate_grad_hooks_run_as_soon_as_the_leaf_is_ready():
    def run(lib):
        order = []
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([3.0, 4.0], dtype=lib.float64, requires_grad=True)
        a.register_post_accumulate_grad_hook(lambda p: order.append("a"))
        w.register_post_accumulate_grad_hook(lambda p: order.append("w"))
        h = a * 2
        h.register_hook(lambda g: order.append("h"))
        (h * w).sum().backward()
        return order

    torch_order, ndgrad_order = both(run)
    assert ndgrad_order == torch_order == ["w", "h", "a"]


def test_post_accumulate_grad_hooks_run_for_backward_inputs_as_torch():
    def run(lib):
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([3.0], dtype=lib.float64, requires_grad=True)
        seen = []
        a.register_post_accumulate_grad_hook(lambda p: seen.append(("a", p.grad.tolist())))
        b.register_post_accumulate_grad_hook(lambda p: seen.append(("b", p.grad.tolist())))
        (a * b).sum().backward(inputs=[a])
        return seen, b.grad

    assert run(ndgrad) == run(torch) == ([("a", [3.0, 3.0])], None)


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_post_accumulate_grad_hook_needs_a_leaf_that_requires_grad(lib):
    a = lib.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (a * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        lib.tensor([1.0]).register_post_accumulate_grad_hook(lambda p: None)


def test_leaf_hooks_apply_in_autograd_grad_and_backward_inputs():
    def run(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        x.register_hook(lambda g: g * 10)
        (gx,) = lib.autograd.grad((x * x).sum(), x)
        (x * 2).sum().backward(inputs=[x])
        return gx, x.grad

    compare(*reversed(both(run)))


@pytest.mark.parametrize("name", ["grad", "backward", "gradcheck", "gradgradcheck"])
def test_autograd_function_signatures_match_torch(name):
    import inspect

    tp = inspect.signature(getattr(torch.autograd, name)).parameters
    np_ = inspect.signature(getattr(ndgrad.autograd, name)).parameters
    assert list(np_) == list(tp)
    for k in tp:
        assert np_[k].kind == tp[k].kind and np_[k].default == tp[k].default, k
    x = ndgrad.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="allow_unused"):
        ndgrad.autograd.grad(x * 2, x, materialize_grads=True, allow_unused=False)
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * 2).sum().backward(inputs=[])


def test_register_hook_needs_requires_grad():
    for lib in LIBS:
        with pytest.raises(RuntimeError, match="require gradient"):
            lib.tensor([1.0]).register_hook(lambda g: g)


def test_backward_with_gradient_for_non_scalar_outputs():
    def run(lib):
        a = lib.tensor([[2.0, 3.0], [1.0, -2.0]], dtype=lib.float64, requires_grad=True)
        b = a * a
        b.backward(lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64))
        c = a.sin()
        c.backward(gradient=lib.ones_like(c))
        return a.grad

    compare(*reversed(both(run)))


def test_retain_graph_allows_a_second_backward_that_accumulates():
    def run(lib):
        a = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        b = (a * a).exp().sum()
        b.backward(retain_graph=True)
        first = a.grad.clone()
        b.backward()
        return first, a.grad

    t, n = both(run)
    compare(n, t)
    assert_close(n[1], n[0] * 2)


@pytest.mark.parametrize("second", ["backward", "grad"])
@pytest.mark.parametrize("graph", ["mul", "exp_mul"])  # saves inputs only / an output too
def test_second_backward_without_retain_graph_raises(second, graph):
    for lib in LIBS:
        a = lib.tensor([2.0, 3.0], requires_grad=True)
        b = (a * a).sum() if graph == "mul" else (a.exp() * a).sum()
        b.backward()
        with pytest.raises(RuntimeError, match="second time") as info:
            b.backward() if second == "backward" else lib.autograd.grad(b, a)
        assert "retain_graph=True" in str(info.value)


# -- autograd.grad -------------------------------------------------------------------------------
def test_grad_with_grad_outputs_and_several_inputs():
    def run(lib):
        x = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([1.0, 5.0], dtype=lib.float64, requires_grad=True)
        z = x * y + x.exp()
        g = lib.autograd.grad(z, [x, y], grad_outputs=lib.tensor([1.0, -2.0], dtype=lib.float64))
        return g, x.grad, y.grad  # grad() leaves .grad alone

    compare(*reversed(both(run)))


def test_grad_of_several_outputs_and_wrt_a_non_leaf():
    def run(lib):
        x = lib.tensor([0.5, 3.0], dtype=lib.float64, requires_grad=True)
        h = x * x
        outs = [(h * 2).sum(), h.sin().sum()]
        return lib.autograd.grad(outs, [x, h])

    compare(*reversed(both(run)))


def test_grad_allow_unused_and_materialize_grads():
    for lib in LIBS:
        x = lib.tensor([2.0, 3.0], requires_grad=True)
        y = lib.tensor([1.0, 5.0], requires_grad=True)
        z = (x * 2).sum()
        with pytest.raises(RuntimeError, match="allow_unused=True"):
            lib.autograd.grad(z, [x, y], retain_graph=True)
        gx, gy = lib.autograd.grad(z, [x, y], allow_unused=True, retain_graph=True)
        assert gx.tolist() == [2.0, 2.0] and gy is None
        gx, gy = lib.autograd.grad(z, [x, y], materialize_grads=True)
        assert gy.tolist() == [0.0, 0.0]


def test_grad_errors():
    for lib in LIBS:
        x = lib.tensor([0.5, 3.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.autograd.grad(x.sum(), lib.tensor([1.0]))
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.autograd.grad(lib.tensor([1.0]).sum(), x)
        with pytest.raises(RuntimeError, match="only for scalar outputs"):
            lib.autograd.grad(x * 2, x)


def test_backward_inputs_restricts_accumulation():
    def run(lib):
        x = lib.tensor([0.5, 3.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([1.5, 3.0], dtype=lib.float64, requires_grad=True)
        (x * w).sum().backward(inputs=[w])
        return x.grad, w.grad

    compare(*reversed(both(run)))


# -- higher-order gradients ------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [lambda x: x ** 3, lambda x: x.sin(), lambda x: x.exp() * x,
                                lambda x: x.tanh(), lambda x: x.sigmoid() * x ** 2,
                                lambda x: (x * x + 1).sqrt().log()])
def test_derivatives_up_to_third_order(fn):
    def run(lib):
        x = lib.tensor([0.5, -1.2, 2.0], dtype=lib.float64, requires_grad=True)
        out, derivs = fn(x).sum(), []
        for _ in range(3):
            (g,) = lib.autograd.grad(out, x, create_graph=True)
            derivs.append(g)
            out = g.sum()
        return derivs

    t, n = both(run)
    compare(n, t)
    assert all(g.requires_grad for g in n)


def test_second_derivative_of_x_cubed_is_6x():
    x = ndgrad.tensor([0.5, -1.0, 2.0], dtype=ndgrad.float64, requires_grad=True)
    (g,) = ndgrad.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (h,) = ndgrad.autograd.grad(g.sum(), x)
    assert np.allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    assert np.allclose(h.numpy(), 6 * x.detach().numpy())
    assert not h.requires_grad  # create_graph=False records nothing


def test_backward_create_graph_then_differentiate_the_gradient():
    def run(lib):
        x = lib.tensor([0.5, 3.0], dtype=lib.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        x.grad = None
        g.sum().backward()
        return g, x.grad, g.requires_grad

    compare(*reversed(both(run)))


def test_hessian_vector_product_of_a_small_mlp_matches_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(5, 4), (4, 6), (6,), (6, 1), (5, 1)]]
    vecs = [rng.standard_normal(s) for s in [(4, 6), (6,), (6, 1)]]

    def run(lib):
        x, w1, b1, w2, y = [lib.tensor(a, requires_grad=i in (1, 2, 3))
                            for i, a in enumerate(arrays)]
        params = [w1, b1, w2]
        h = (x @ w1 + b1).tanh()
        loss = ((h @ w2 - y) ** 2).mean() + (w1 * w1).sum() * 0.01
        grads = lib.autograd.grad(loss, params, create_graph=True)
        gv = sum((g * lib.tensor(v)).sum() for g, v in zip(grads, vecs))
        return lib.autograd.grad(gv, params)

    compare(*reversed(both(run)))


def test_gradient_of_a_gradient_wrt_another_input():
    def run(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([0.5, -1.0], dtype=lib.float64, requires_grad=True)
        (gx,) = lib.autograd.grad((x * x * y.exp()).sum(), x, create_graph=True)
        return lib.autograd.grad(gx.sum(), [x, y])

    compare(*reversed(both(run)))


# -- grad modes --------------------------------------------------------------------------------
def _records(lib, x):
    y = x * 2
    return y.requires_grad, y.grad_fn is not None


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "set_grad_enabled_false"])
def test_modes_record_nothing_as_context_managers_and_decorators(lib, mode):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    make = {"no_grad": lib.no_grad, "inference_mode": lib.inference_mode,
            "set_grad_enabled_false": lambda: lib.set_grad_enabled(False)}[mode]
    with make():
        assert _records(lib, x) == (False, False) and not lib.is_grad_enabled()
    assert lib.is_grad_enabled()

    @make()
    def f(x):
        return _records(lib, x), lib.is_grad_enabled()

    assert lib.is_grad_enabled()  # decorating does not switch the mode
    assert f(x) == ((False, False), False)
    assert lib.is_grad_enabled() and _records(lib, x) == (True, True)


def test_bare_decorators():
    for lib in LIBS:
        x = lib.tensor([1.0], requires_grad=True)

        @lib.no_grad
        def f(x):
            return x * 2

        @lib.inference_mode
        def g(x):
            return x * 2

        assert not f(x).requires_grad and not g(x).requires_grad
        assert lib.is_grad_enabled()


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_enable_grad_inside_no_grad_and_nesting(lib):
    x = lib.tensor([1.0], requires_grad=True)
    with lib.no_grad():
        with lib.enable_grad():
            assert _records(lib, x) == (True, True)
        with lib.set_grad_enabled(True):
            assert _records(lib, x) == (True, True)
        assert not lib.is_grad_enabled()

        @lib.enable_grad()
        def f(x):
            return _records(lib, x)

        assert f(x) == (True, True) and not lib.is_grad_enabled()
    with lib.inference_mode(False):
        assert _records(lib, x) == (True, True)
    assert lib.is_grad_enabled()


def test_set_grad_enabled_as_a_function_and_exception_safety():
    for lib in LIBS:
        x = lib.tensor([1.0], requires_grad=True)
        lib.set_grad_enabled(False)
        try:
            assert _records(lib, x) == (False, False)
        finally:
            lib.set_grad_enabled(True)
        with pytest.raises(ValueError):
            with lib.no_grad():
                raise ValueError
        assert lib.is_grad_enabled()


def test_reused_mode_instance_restores_the_outer_mode():
    ng = ndgrad.no_grad()
    with ng:
        with ng:
            pass
        assert not ndgrad.is_grad_enabled()
    assert ndgrad.is_grad_enabled()  # (torch 2.x leaves grad disabled here; ndgrad keeps a stack)


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_no_grad_decorated_generator(lib):
    x = lib.tensor([1.0], requires_grad=True)

    @lib.no_grad()
    def gen():
        for k in range(3):
            yield x * k, lib.is_grad_enabled()
            assert not lib.is_grad_enabled()  # the mode comes back at each resumption

    outs = []
    for y, on in gen():
        outs.append((y.requires_grad, on, lib.is_grad_enabled()))
    assert outs == [(False, False, True)] * 3


def test_no_grad_results_are_leaves_and_backward_is_not_recorded():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    with ndgrad.no_grad():
        y = (x * x).exp().sum()
    assert y.is_leaf and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    (g,) = ndgrad.autograd.grad((x * x).sum(), x)  # create_graph=False: nothing recorded
    assert not g.requires_grad and g.grad_fn is None


def test_100k_op_chain_backward_without_recursion_error():
    limit = sys.getrecursionlimit()
    x = ndgrad.tensor(1.0, dtype=ndgrad.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert sys.getrecursionlimit() == limit
    assert np.isclose(x.grad.item(), 1.00001 ** 100_000)
    del y  # freeing a 100k-deep graph must not recurse either


# -- custom Functions -----------------------------------------------------------------------------
def make_muladd(lib):
    class MulAdd(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, scale, shift=0.0):
            ctx.save_for_backward(x, y)
            ctx.scale = scale
            ctx.forward_needs = ctx.needs_input_grad
            return x * y * scale + shift, x - y

        @staticmethod
        def backward(ctx, g1, g2):
            x, y = ctx.saved_tensors
            gx = g1 * y * ctx.scale + g2 if ctx.needs_input_grad[0] else None
            gy = g1 * x * ctx.scale - g2 if ctx.needs_input_grad[1] else None
            return gx, gy, None, None

    return MulAdd


def test_function_multiple_inputs_outputs_and_non_tensor_args():
    def run(lib):
        MulAdd = make_muladd(lib)
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([3.0, -1.0], dtype=lib.float64, requires_grad=True)
        a, b = MulAdd.apply(x, y, 2.0, 1.0)
        (a * a + b * 3).sum().backward()
        return a, b, x.grad, y.grad, a.requires_grad, b.requires_grad, a.grad_fn.name()

    compare(*reversed(both(run)))


def test_function_needs_input_grad_and_unused_outputs():
    def run(lib):
        MulAdd = make_muladd(lib)
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([3.0, -1.0], dtype=lib.float64)
        a, b = MulAdd.apply(x, y, 2.0)
        b.sum().backward()  # the first output gets no gradient: backward sees zeros
        return x.grad, y.grad, tuple(a.grad_fn.needs_input_grad), tuple(a.grad_fn.forward_needs)

    compare(*reversed(both(run)))


def test_function_without_grad_inputs_or_under_no_grad_records_nothing():
    for lib in LIBS:
        MulAdd = make_muladd(lib)
        a, _ = MulAdd.apply(lib.tensor([1.0]), lib.tensor([2.0]), 1.0)
        assert not a.requires_grad and a.grad_fn is None
        with lib.no_grad():
            a, _ = MulAdd.apply(lib.tensor([1.0], requires_grad=True), lib.tensor([2.0]), 1.0)
        assert not a.requires_grad


def test_function_saving_its_output_supports_double_backward():
    def run(lib):
        class Exp(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                r = x.exp()
                ctx.save_for_backward(r)
                return r

            @staticmethod
            def backward(ctx, g):
                (r,) = ctx.saved_tensors
                return g * r

        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = Exp.apply(x * 3)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        return y, g, lib.autograd.grad(g.sum(), x)

    compare(*reversed(both(run)))


def test_function_mark_non_differentiable_and_saved_intermediates():
    def run(lib):
        class MaxWithIndex(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                i = x.argmax()
                ctx.mark_non_differentiable(i)
                ctx.save_for_backward(x, i, x * 2)  # input, an int tensor, an intermediate
                return x.max(), i

            @staticmethod
            def backward(ctx, g, gi):
                x, i, x2 = ctx.saved_tensors
                out = lib.zeros_like(x)
                out[i] = g * x2[i] / 2
                return out

        x = lib.tensor([1.0, 5.0, 2.0], dtype=lib.float64, requires_grad=True)
        v, i = MaxWithIndex.apply(x)
        v.backward()
        return v, i, i.requires_grad, x.grad

    compare(*reversed(both(run)))


def test_function_errors():
    for lib in LIBS:
        class TooMany(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g, g

        class WrongShape(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g[:1]

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="incorrect number of gradients"):
            TooMany.apply(x).sum().backward()
        with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
            WrongShape.apply(x).sum().backward()
        y = x * 1

        class Saves(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * ctx.saved_tensors[0]

        z = Saves.apply(y)
        y.add_(1)
        with pytest.raises(RuntimeError, match="inplace"):
            z.sum().backward()


# -- gradcheck / gradgradcheck --------------------------------------------------------------------
def make_bad(lib):
    class BadFirst(lib.autograd.Function):  # d(x^2) = 2x, backward says 3x
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * g * x

    class BadSecond(lib.autograd.Function):  # right first derivative, built from a detached x
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * g * x * x.detach()

    return BadFirst, BadSecond


def test_gradcheck_passes_on_correct_ops():
    x = ndgrad.randn(3, dtype=ndgrad.float64, requires_grad=True)
    y = ndgrad.randn(2, 3, dtype=ndgrad.float64, requires_grad=True)
    w = ndgrad.randn(3, 4, dtype=ndgrad.float64, requires_grad=True)
    ga = ndgrad.autograd
    assert ga.gradcheck(lambda a, b: (a * b).sin(), (x, y))
    assert ga.gradcheck(lambda a, m: ((a @ m).tanh(), a.exp().sum()), [x, w])
    assert ga.gradcheck(lambda a, k: a * k, (x, 3.0))  # non-tensor inputs pass through
    assert ga.gradcheck(lambda a: a.sigmoid(), x, eps=1e-6, atol=1e-5, rtol=1e-3)
    assert ga.gradgradcheck(lambda a, b: (a * b).sin(), (x, y))
    assert ga.gradgradcheck(lambda a, m: (a @ m).tanh(), (x, w))
    assert ga.gradgradcheck(lambda a: a ** 3, (x,), ndgrad.ones(3, dtype=ndgrad.float64))


def test_gradcheck_rejects_a_wrong_backward():
    for lib in LIBS:
        BadFirst, _ = make_bad(lib)
        x = lib.randn(3, dtype=lib.float64, requires_grad=True)
        with pytest.raises(RuntimeError, match="Jacobian mismatch") as info:
            lib.autograd.gradcheck(BadFirst.apply, (x,))
        assert type(info.value).__name__ == "GradcheckError"
        assert lib.autograd.gradcheck(BadFirst.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="output 0 with respect to input 0"):
        ndgrad.autograd.gradcheck(make_bad(ndgrad)[0].apply, (ndgrad.randn(
            2, dtype=ndgrad.float64, requires_grad=True),))


def test_gradgradcheck_rejects_a_wrong_second_derivative():
    for lib in LIBS:
        _, BadSecond = make_bad(lib)
        x = lib.randn(3, dtype=lib.float64, requires_grad=True)
        assert lib.autograd.gradcheck(BadSecond.apply, (x,))  # first derivative is right
        with pytest.raises(RuntimeError, match="Jacobian mismatch"):
            lib.autograd.gradgradcheck(BadSecond.apply, (x,))
        assert lib.autograd.gradgradcheck(BadSecond.apply, (x,), raise_exception=False) is False


def test_gradcheck_warns_on_float32_and_needs_an_input_requiring_grad():
    x = ndgrad.randn(2, requires_grad=True)
    with pytest.warns(UserWarning, match="double precision"):
        assert ndgrad.autograd.gradcheck(lambda a: a * 2, (x,), eps=1e-2, atol=1e-2, rtol=1e-2)
    with pytest.raises(ValueError, match="requires_grad=True"):
        ndgrad.autograd.gradcheck(lambda a: a * 2, (ndgrad.randn(2, dtype=ndgrad.float64),))


# -- anomaly mode ------------------------------------------------------------------------------
def test_detect_anomaly_names_the_op_and_shows_the_forward_line():
    x = ndgrad.tensor([0.0, 1.0], requires_grad=True)
    with ndgrad.autograd.detect_anomaly():
        assert ndgrad.is_anomaly_enabled()
        y = x.sqrt() * 0  # FORWARD-LINE-SQRT: d/dx sqrt at 0 is inf, times 0 gives nan
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
    assert not ndgrad.is_anomaly_enabled()
    msg = str(info.value)
    assert "SqrtBackward" in msg and "nan" in msg
    assert __file__ in msg and "FORWARD-LINE-SQRT" in msg


def test_detect_anomaly_with_a_custom_function_returning_nan():
    class NanGrad(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    with ndgrad.autograd.detect_anomaly():
        y = NanGrad.apply(x)  # FORWARD-LINE-CUSTOM
        with pytest.raises(RuntimeError, match="NanGradBackward") as info:
            (y * 3).sum().backward()
    assert "FORWARD-LINE-CUSTOM" in str(info.value)
    # without anomaly mode the nan just flows into .grad, as in torch
    y = NanGrad.apply(x)
    y.sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_set_detect_anomaly_and_check_nan_false():
    x = ndgrad.tensor([0.0], requires_grad=True)
    ndgrad.autograd.set_detect_anomaly(True)
    try:
        assert ndgrad.is_anomaly_enabled()
    finally:
        ndgrad.autograd.set_detect_anomaly(False)
    assert not ndgrad.is_anomaly_enabled()
    with ndgrad.autograd.detect_anomaly(check_nan=False):
        (x.sqrt() * 0).sum().backward()  # no check: the nan reaches .grad
    assert np.isnan(x.grad.item())


def test_first_gradient_is_adopted_without_a_copy_unless_something_else_holds_it():
    """AccumulateGrad takes over a gradient array nothing else refers to (no copy), and copies
    one a hook kept, so later accumulation cannot change what the hook holds."""
    import weakref

    from ndgrad.ops.base import Primitive

    made = []

    class Twice(Primitive):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            g = grad * 2
            made.append(weakref.ref(g))
            return g

    x = ndgrad.randn(3, requires_grad=True)
    Twice.apply(x).sum().backward()
    assert made[-1]() is x.grad._data  # adopted
    x.grad = None
    kept = []
    x.register_hook(kept.append)
    Twice.apply(x).sum().backward()
    assert made[-1]() is kept[0]._data and made[-1]() is not x.grad._data  # copied


def test_a_shared_node_runs_after_every_branch_has_sent_its_gradient():
    """The engine runs nodes newest first: a node shared by a long and a short branch, and a
    root that another root depends on, must still see every gradient before running."""

    def grad_of_x(lib):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        a = x * 2
        b = a
        for _ in range(50):  # a long branch
            b = (b * 1.01).tanh()
        c = a * 3  # a short branch, made after the long one
        y = b + c
        z = y * y  # a second root that depends on the first
        lib.autograd.backward([y.sum(), z.sum()])
        return x.grad.detach().numpy()

    t, n = both(grad_of_x)
    np.testing.assert_allclose(n, t, rtol=1e-12)


def test_leaf_hooks_run_in_torchs_order():
    """Leaves with hooks run in the order their gradients complete (newest op first), as torch."""
    orders = []
    for lib in (torch, ndgrad):
        a, b, c = (lib.tensor([v], requires_grad=True) for v in (1.0, 2.0, 3.0))
        order: list[str] = []
        for name, t in (("a", a), ("b", b), ("c", c)):
            t.register_hook(lambda g, n=name, seen=order: seen.append(n))
        (a * 1 + (b * 2 + c * 3) * 4).sum().backward()
        orders.append(order)
    assert orders[0] == orders[1] == ["c", "b", "a"]


def test_hooked_leaf_runs_as_soon_as_its_gradient_is_complete():
    """As torch's AccumulateGrad: a leaf with hooks runs (hooks, then .grad) when its last
    gradient arrives, not after the rest of the graph; what a later hook sees says when."""
    logs = []
    for lib in (torch, ndgrad):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        log: list = []
        a.register_hook(lambda g, log=log: log.append("a"))
        b.register_hook(lambda g, log=log: log.append("b"))
        y = a * 2  # made first: its backward runs last
        y.register_hook(lambda g, b=b, log=log: log.append(("y", b.grad is not None)))
        ((y * b).sum() + (b * b).sum()).backward()  # b's last gradient comes before y's node
        logs.append(log)
        np.testing.assert_allclose(b.grad.numpy(), [8.0, 12.0])
    assert logs[0] == logs[1] == ["b", ("y", True), "a"]


def test_summed_zero_dim_gradients_stay_float64():
    """Two 0-d gradients reaching one node add up to a NumPy scalar; it must stay an array,
    or a backward formula sees a Python-like number and promotes as torch does for numbers
    (an int mask count then became float32, rounding a float64 second derivative)."""
    x = ndgrad.tensor(np.array(0.3), requires_grad=True)
    a, b = x.min(), x.max()
    (ga,) = ndgrad.autograd.grad(a * b * b, [a], create_graph=True)  # b^2
    (g2,) = ndgrad.autograd.grad(ga, [x])  # 2b
    assert g2.dtype == ndgrad.float64 and g2.item() == 0.6
