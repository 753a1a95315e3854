"""Issue 16's snippets, each run on torch and ndgrad: the ways ndgrad silently disagreed with
torch (stale views, copies where torch copies, masks that turned inf into nan, unchecked
in-place changes, dtypes). Each test failed before its fix."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F

import ndgrad
import ndgrad.nn.functional as nd_F

LIBS = [(torch, torch_F), (ndgrad, nd_F)]


def outcome(fn: Any, lib: Any, F: Any) -> Any:
    """fn's result as NumPy values and dtype names (tensors) or plain values, or the exception
    type it raised."""
    try:
        out = fn(lib, F)
    except Exception as e:  # noqa: BLE001 - which error is part of the outcome
        return type(e).__name__
    return _plain(out)


def _plain(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_plain(u) for u in v]
    if isinstance(v, torch.Tensor | ndgrad.Tensor):
        return str(v.dtype).split(".")[-1], v.detach().numpy().tolist()
    return v


def same(fn: Any) -> Any:
    t, n = (outcome(fn, lib, F) for lib, F in LIBS)
    np.testing.assert_equal(n, t)  # nan == nan here
    return n


# -- 16.1: a view after an in-place change to its base ------------------------------------------
def test_view_sees_in_place_change_of_its_base_in_its_gradient():
    def mul(T, F):
        x = T.tensor([1., 2.], requires_grad=True)
        y = x * 1
        v = y[0]
        y.mul_(3)
        v.backward()
        return x.grad

    def setitem(T, F):
        x = T.tensor([1., 2.], requires_grad=True)
        y = x * 1
        w = y.view(2)
        y[0] = 10
        w.sum().backward()
        return x.grad

    assert same(mul) == ("float32", [3.0, 0.0])
    assert same(setitem) == ("float32", [0.0, 1.0])


# -- 16.2 / 16.3: copies where torch copies -----------------------------------------------------
def test_repeat_copies():
    def source_changes(T, F):
        x = T.zeros(1, 3)
        y = x.repeat(4, 1)
        x.add_(1)
        return y.sum()

    def result_changes(T, F):
        s = T.zeros(2, 3)
        s.repeat(1, 1).add_(1)
        return s

    def setitem(T, F):
        y = T.zeros(1, 3).repeat(4, 1)
        y[0] = 5
        return y

    assert same(source_changes) == ("float32", 0.0)
    same(result_changes)
    same(setitem)


@pytest.mark.parametrize("call", [
    lambda T, F, x: F.pad(x, (0, 0)), lambda T, F, x: x.expand(2, 3),
    lambda T, F, x: T.broadcast_to(x, (2, 3)), lambda T, F, x: x.swapaxes(1, 1),
    lambda T, F, x: x.transpose(0, 0), lambda T, F, x: x[0].t(), lambda T, F, x: x.sum().t(),
    lambda T, F, x: x.permute(0, 1), lambda T, F, x: x.view(2, 3),
])
def test_no_op_calls_return_a_new_tensor(call):
    def run(T, F):
        x = T.zeros(2, 3)
        r = call(T, F, x)
        return r is x

    assert same(run) is False


# -- 16.4: zero-gradient masks keep an infinite gradient from becoming nan ---------------------
@pytest.mark.parametrize("op", [
    lambda T, F, x: x.clamp(min=0), lambda T, F, x: x.clamp(min=T.tensor(0.)),
    lambda T, F, x: x.clamp(0, 10), lambda T, F, x: x.clamp_min(0), lambda T, F, x: x.relu(),
    lambda T, F, x: F.relu(x), lambda T, F, x: F.relu6(x), lambda T, F, x: F.hardtanh(x, 0., 9.),
    lambda T, F, x: F.threshold(x, 0., 0.),
    lambda T, F, x: T.maximum(x, T.tensor(0.)), lambda T, F, x: -T.minimum(-x, T.tensor(0.)),
    lambda T, F, x: x.floor() + x.clamp(min=0), lambda T, F, x: x.round() + x.clamp(min=0),
    lambda T, F, x: x.ceil() + x.clamp(min=0), lambda T, F, x: x.trunc() + x.clamp(min=0),
    lambda T, F, x: x.sign() + x.clamp(min=0),
])
def test_sqrt_of_a_clamp_has_no_nan_gradient(op):
    def run(T, F):
        x = T.tensor([-1., 4.], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # 1 / sqrt(0) in sqrt's backward
            op(T, F, x).sqrt().sum().backward()
        return x.grad

    assert not np.isnan(same(run)[1]).any()


def test_maximum_and_minimum_gradients_at_ties_and_nan():
    def run(T, F):
        x = T.tensor([1., 2., float("nan"), 3.], requires_grad=True)
        y = T.tensor([1., 5., 0., float("nan")], requires_grad=True)
        T.maximum(x, y).sum().backward()
        gx, gy = x.grad, y.grad
        x.grad = y.grad = None
        T.minimum(x, y).sum().backward()
        return gx, gy, x.grad, y.grad

    same(run)


def test_floor_gradient_is_zero_even_under_create_graph():
    def run(T, F):
        x = T.tensor([1.5, -2.5], requires_grad=True)
        (g,) = T.autograd.grad((x.floor() * x).sum(), x, create_graph=True)
        (h,) = T.autograd.grad(g.sum(), x)
        return g, h

    same(run)


# -- 16.6: in-place change to a max/amax/amin output ---------------------------------------------
@pytest.mark.parametrize("snippet", ["max", "amin", "amax", "amax_keepdim"])
def test_in_place_change_to_a_max_output_is_caught(snippet):
    def run(T, F):
        x = T.tensor([[1., 3.]], requires_grad=True)
        if snippet == "max":
            m = x.max()
            m.mul_(3)
        elif snippet == "amax_keepdim":
            m = x.amax(1, keepdim=True)
            m += 1
        else:
            m = getattr(x, snippet)(1)
            m += 1
        m.sum().backward()
        return x.grad

    assert same(run) == "RuntimeError"


# -- 16.7: 0-d results are arrays ----------------------------------------------------------------
def test_zero_d_results_accept_item_assignment():
    def setitem(T, F):
        x = T.tensor(2., requires_grad=True)
        v = x.clone()
        v[...] = .5
        v.backward()
        return x.grad

    same(setitem)
    same(lambda T, F: (~T.tensor(True)).fill_(True))


# -- 16.8: threshold, relu6, hardtanh keep nan and int dtypes; einsum counts bools ----------------
def test_threshold_keeps_nan():
    assert same(lambda T, F: F.threshold(T.tensor([float("nan"), 1., -1.]), 0., 5.))[1][0] != 5


@pytest.mark.parametrize("name", ["relu6", "hardtanh", "threshold", "relu"])
def test_clamping_activations_keep_int_dtype(name):
    def run(T, F):
        x = T.tensor([-3, 2, 8])
        return F.threshold(x, 0, 5) if name == "threshold" else getattr(F, name)(x)

    assert same(run)[0] == "int64"


def test_einsum_sums_bools_to_a_count():
    same(lambda T, F: T.einsum("i->", T.tensor([True, True, False])))


# -- 16.9 -------------------------------------------------------------------------------------
def test_in_place_through_expand_and_index_views():
    def expand(T, F):
        x = T.zeros(1, 2, 1)
        return x.expand(1, 2, 1).add_(1), x

    def int_index(T, F):
        i = T.tensor([1, 2])
        i[0].mul_(T.tensor(1.5))
        return i

    same(expand)
    assert same(int_index) == "RuntimeError"


def test_einsum_saves_only_what_backward_needs():
    def run(T, F):
        a = T.tensor([[1., 2.]], requires_grad=True)
        d = a * 1
        c = T.einsum("ij,jk->ik", d, T.ones(2, 3))
        d.add_(1)  # d is not needed: only the constant's gradient would use it
        c.sum().backward()
        return a.grad

    same(run)


def test_mT_of_a_zero_d_tensor_warns():
    assert torch.tensor(2.).mT.item() == 2.0  # torch warns once per process: not checked
    with pytest.warns(UserWarning):
        assert ndgrad.tensor(2.).mT.item() == 2.0


def test_integer_to_negative_integer_tensor_power():
    def run(T, F):
        a = T.tensor([0, 2, -2, 1, -1, 3, -3])
        return (T.tensor(2) ** T.tensor([-1, -2, 1]), a ** T.tensor(-1), a ** T.tensor(-2),
                T.tensor([[-1], [1], [2]], dtype=T.int32) ** T.tensor([-3, -2, 0, 2]))

    same(run)
    assert same(lambda T, F: T.tensor([2]) ** -1) == "RuntimeError"  # a Python exponent


@pytest.mark.parametrize("op", [
    "sum(1)", "sum(0)", "std(1)", "var(0)", "amin(1)", "amax(0)", "softmax(0)",
    "log_softmax(1)", "cumsum(0)", "cumprod(1)", "cummax(0)[0]", "logcumsumexp(0)",
    "logsumexp(1)", "mean(2)"])
def test_reductions_and_scans_of_permuted_inputs_are_contiguous(op):
    """torch allocates these results contiguous, so ``.view(-1)`` works on them (fuzz seed
    1727: ``x.mT.var(0).view(-1)`` raised on ndgrad); NumPy's follow the input's layout."""
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    for lib in (torch, ndgrad):
        y = eval(f"t.{op}", {"t": lib.tensor(x).permute(2, 0, 1)})  # noqa: S307
        assert y.is_contiguous(), (lib.__name__, op)
        y.view(-1)


def test_a_gradient_reduced_to_0_d_is_an_array():
    """The engine's broadcast reduction to a 0-d input gave a NumPy scalar, and the setitem
    backward behind that input then failed to write into it (fuzz seed 4701)."""
    for lib in (torch, ndgrad):
        v1 = lib.tensor([[1.0], [-0.5]], requires_grad=True)
        v2 = v1.sum()
        v2[v2 > 0] = 0
        (g,) = lib.autograd.grad(lib.maximum(v2, v1).sum(), [v1])
        assert g.tolist() == [[1.0], [0.0]], lib.__name__


def test_a_second_backward_through_mean_works_as_torch():
    """torch's MeanBackward keeps only sizes, so a backward after the graph was freed passes
    through it; ndgrad's mean divided by a saved constant and refused (fuzz seed 3896)."""
    for lib in (torch, ndgrad):
        x = lib.tensor([1.0, 2.0, 4.0], requires_grad=True)
        m = x.mean()
        (m * m).backward()
        m.backward()
        assert np.allclose(x.grad.numpy(), 2 * 7 / 3 / 3 + 1 / 3), lib.__name__
