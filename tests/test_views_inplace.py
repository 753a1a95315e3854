"""Views and in-place writes with torch's semantics (issue 16), each case run on torch and on
ndgrad side by side: setitem's value shapes, overlapping writes, views made under no_grad,
the multiple views split/chunk/unbind return, and unsafe_split/unsafe_chunk. Each test failed
before its fix."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad

LIBS = [torch, ndgrad]


def outcome(fn: Any, T: Any) -> Any:
    """fn(T)'s result as plain values (tensors as dtype name, values, requires_grad), or the
    type and message of the exception it raised."""
    try:
        out = fn(T)
    except Exception as e:  # noqa: BLE001 - which error, and its words, are the outcome
        # node names differ (torch's SelectBackward0 is ndgrad's GetItemBackward)
        return type(e).__name__, re.sub(r"Output (\d+) of \w+ is", r"Output \1 of <node> is",
                                        str(e).split("\n")[0])
    return _plain(out)


def _plain(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_plain(u) for u in v]
    if isinstance(v, torch.Tensor | ndgrad.Tensor):
        return str(v.dtype).split(".")[-1], v.detach().numpy().tolist(), v.requires_grad
    return v


def same(fn: Any) -> Any:
    """Run fn on torch and on ndgrad; their outcomes must be equal."""
    t, n = (outcome(fn, T) for T in LIBS)
    np.testing.assert_equal(n, t)
    return n


# -- setitem drops the value's leading size-1 dims ----------------------------------------------
@pytest.mark.parametrize("index, value_shape", [
    ((0, 1), (1,)),         # a 0-d target, a 1-element value
    ((0, 1), (1, 1)),
    ((), (1,)),             # a 0-d tensor, x[()] = v
    (0, (1, 3)),
    (0, (1, 1, 3)),
    (slice(0, 1), (1, 1, 3)),
    ((0, [0, 2]), (1, 2)),  # integer then advanced index
])
def test_setitem_drops_leading_size_one_dims_of_the_value(index, value_shape):
    def run(T):
        x = T.zeros(2, 3) if index != () else T.zeros(())
        v = T.arange(1., 1. + int(np.prod(value_shape))).reshape(value_shape)
        x[index] = v
        return x

    same(run)


def test_setitem_value_with_leading_size_one_dims_gets_its_gradient():
    def run(T):
        a = T.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)
        v = T.tensor([[7., 8., 9.]], requires_grad=True)
        x = a * 2
        x[0] = v
        x[1, 2] = v[:, :1]
        (x * T.arange(6.).reshape(2, 3)).sum().backward()
        return x, a.grad, v.grad

    same(run)


def test_setitem_value_with_more_dims_that_are_not_one_is_refused():
    def run(T):
        x = T.zeros(2, 3)
        x[0] = T.ones(2, 3)

    assert outcome(run, ndgrad)[0] == outcome(run, torch)[0] == "RuntimeError"


# -- writes whose input shares the written-to memory --------------------------------------------
OVERLAPPING_WRITES = {
    # torch refuses these: the value or other operand shares part of the written memory
    "setitem shifted": "x = T.arange(3.); x[:2] = x[1:]",
    "setitem shifted back": "x = T.arange(3.); x[1:] = x[:2]",
    "setitem transposed": "x = T.arange(4.).reshape(2, 2); x[...] = x.t()",
    "setitem advanced full": "x = T.arange(2.); x[[0, 1]] = x",
    "setitem advanced 0-d value": "x = T.arange(3.); x[[0]] = x[1]",
    "setitem int then advanced": "x = T.arange(6.).reshape(2, 3); x[0, [0, 1]] = x[0, 1:]",
    "setitem mask, 2 values": "x = T.arange(3.); x[x > 0] = x[:2]",
    "setitem index is self": "x = T.tensor([0, 1]); x[x] = 5",
    "copy_ transposed": "x = T.arange(4.).reshape(2, 2); x.copy_(x.t())",
    "copy_ shifted": "x = T.arange(3.); x[:2].copy_(x[1:])",
    "add_ its own row": "x = T.arange(6.).reshape(2, 3); x.add_(x[0])",
    "iadd its own row": "x = T.arange(6.).reshape(2, 3); x += x[1]",
    "div_ its own element": "x = T.arange(1., 4.); x.div_(x[0])",
    "int shifted": "x = T.arange(3); x[:2] = x[1:]",
    "addcmul_": "x = T.arange(3.); x[:2].addcmul_(T.ones(2), x[1:])",
    "lerp_": "x = T.arange(3.); x[:2].lerp_(x[1:], 0.5)",
    "clamp_": "x = T.arange(3.); x[:2].clamp_(max=x[1:])",
    "eq_": "x = T.arange(3.); x[:2].eq_(x[1:])",
    "index_copy_ itself": "x = T.arange(3.); x.index_copy_(0, T.tensor([0, 1, 2]), x)",
    "index_add_": "x = T.arange(3.); x.index_add_(0, T.tensor([0, 1]), x[1:])",
    "scatter_": "x = T.arange(3.); x.scatter_(0, T.tensor([0, 1]), x[1:])",
    "put_": "x = T.arange(3.); x.put_(T.tensor([0, 1]), x[1:])",
    "index_put_": "x = T.arange(3.); x.index_put_((T.tensor([0, 1]),), x[1:])",
    "setitem all-ones value onto 1 element": "x = T.ones(1, 1); x[0] = x",
    "setitem broadcast column": "x = T.ones(1, 3); x[:, :1] = x[:, 0]",
    "recorded setitem": "a = T.ones(3, requires_grad=True); x = a * 1; x[:2] = x[1:]",
    "recorded add_": "a = T.ones(2, 2, requires_grad=True); x = a * 1; x.add_(x.t())",
    # torch allows these: the same elements, disjoint memory, a layout it does not check, or
    # an op that reads its operand as one number
    "setitem same elements": "x = T.arange(6.).reshape(2, 3); x[0] = x[0]",
    "setitem all of it": "x = T.arange(3.); x[:] = x",
    "setitem one element from all-ones": "x = T.ones(1, 1); x[0, 0] = x",
    "setitem 1-element into 0-d": "x = T.ones(1); x[0] = x",
    "setitem 0-d value fills": "x = T.ones(1); x[...] = x[0]",
    "setitem with True": "x = T.arange(3.); x[True] = x",
    "setitem other row": "x = T.arange(6.).reshape(2, 3); x[1] = x[0]",
    "setitem broadcast row": "x = T.arange(9.).reshape(3, 3); x[1:] = x[0]",
    "setitem strided": "x = T.arange(4.); x[::2] = x[1::2]",
    "setitem column into row": "x = T.arange(4.).reshape(2, 2); x[0] = x[:, 0]",
    "setitem advanced, other row": "x = T.arange(6.).reshape(2, 3); x[0, [0, 1]] = x[1, 1:]",
    "setitem mask, 1 value": "x = T.arange(3.); x[x > 0] = x[1:2]",
    "setitem bool mask itself": "x = T.tensor([True, False]); x[x] = False",
    "add_ itself": "x = T.arange(3.); x.add_(x)",
    "sub_ a view of all of it": "x = T.arange(3.); x.sub_(x[:])",
    "copy_ itself": "x = T.arange(3.); x.copy_(x.view(3))",
    "fill_ its element": "x = T.arange(3.); x.fill_(x[0])",
    "masked_fill_ its element": "x = T.arange(3.); x.masked_fill_(x > 0, x[0])",
    "index_fill_ its element": "x = T.arange(3.); x.index_fill_(0, T.tensor([0]), x[1])",
    "masked_scatter_": "x = T.arange(3.); x.masked_scatter_(x >= 0, x)",
    "size 0": "x = T.zeros(0); x[:0] = x[0:]",
}


@pytest.mark.parametrize("code", OVERLAPPING_WRITES.values(), ids=OVERLAPPING_WRITES.keys())
def test_overlapping_writes_are_refused_as_torch_refuses_them(code):
    def run(T):
        ns = {"T": T}
        exec(code, ns)
        return ns["x"]

    same(run)


# -- views made under no_grad of a tensor that requires grad ------------------------------------
NO_GRAD_VIEW = """
x = T.tensor([1., 2., 3.], requires_grad=True)
y = x * 2
with T.no_grad():
    v = y[1:]
"""
NO_GRAD_VIEW_CASES = {
    # they require grad, and ops on them are recorded, but no gradient flows back through them
    "flags": "r = (v.requires_grad, v.is_leaf, v.grad_fn is None)",
    "an op on it records": "z = v * 3; r = (z.requires_grad, z.grad_fn is not None)",
    "backward through it": "(v * 3).sum().backward(); r = (x.grad, v.grad)",
    "another operand's gradient": "w = T.ones(2, requires_grad=True); (v * w).sum().backward(); "
                                  "r = (w.grad, x.grad)",
    "retain_grad": "v.retain_grad(); (v * 2).sum().backward(); r = v.grad",
    "a view of it": "u = v[0]; r = (u.requires_grad, u.grad_fn is None)",
    # an in-place op on it with grad mode on is refused
    "mul_": "v.mul_(2)",
    "squeeze_": "v.unsqueeze_(0)",
    "an in-place op on a view of it": "u = v[0]; u.mul_(2)",
    "a view of a leaf": "with T.no_grad():\n    b = x[:1]\nb.mul_(2); r = x",
    "its base changed, then used": "y.add_(1); r = v * 1",
    "changed under no_grad, then used": "with T.no_grad():\n    v.add_(1)\nr = v * 1",
    # allowed: both under no_grad, or nothing requires grad
    "both under no_grad": "with T.no_grad():\n    v.add_(1)\nr = y",
    "nothing requires grad": "a = T.ones(2)\nwith T.no_grad():\n    b = a[:1]\nb.mul_(2); r = a",
    "an operand requires grad": "a = T.ones(2)\nw = T.ones((), requires_grad=True)\n"
                                "with T.no_grad():\n    b = a[:1]\nb.mul_(w); r = a",
}


@pytest.mark.parametrize("code", NO_GRAD_VIEW_CASES.values(), ids=NO_GRAD_VIEW_CASES.keys())
def test_views_made_under_no_grad(code):
    def run(T):
        ns = {"T": T}
        exec(NO_GRAD_VIEW + code, ns)
        return ns.get("r")

    same(run)


def test_setitem_on_a_view_made_under_no_grad_is_refused():
    def run(T):
        ns = {"T": T}
        exec(NO_GRAD_VIEW + "v[0] = 5", ns)

    # torch writes through a view of the view it makes (Output 0 of SelectBackward0 is a view
    # of a view which was created in no_grad mode ...), ndgrad into the view itself
    for T in LIBS:
        kind, message = outcome(run, T)
        assert kind == "RuntimeError"
        assert "created in no_grad mode and is being modified inplace" in message


# -- the views split/chunk/unbind return together; unsafe_split/unsafe_chunk --------------------
MULTI = "x = T.arange(6.).reshape(3, 2).requires_grad_()\ny = x * 1\n"
MULTI_OUTPUT_CASES = {
    # refused: an in-place op on one of them while autograd records, or using one after its
    # base changed in place
    "split": "a, b = y.split(2); b.mul_(2)",
    "split with sizes": "a, b = y.split([1, 2]); a.add_(1)",
    "split_with_sizes": "a, b = y.split_with_sizes([1, 2], 1); a.add_(1)",
    "chunk": "a, b = y.chunk(2, 1); b.mul_(2)",
    "unbind": "a, b, c = y.unbind(); c.sub_(1)",
    "unbind, negative dim": "a, b = y.unbind(-1); a.sub_(1)",
    "split of a transposed view": "a, b = y.t().split(1); a.mul_(2)",
    "a view of one": "a, b = y.split(2); a[0].mul_(2)",
    "of a leaf": "a, b = x.split(2); a.mul_(2)",
    "the operand requires grad": "w = T.ones((), requires_grad=True)\n"
                                 "a, b = T.ones(4).split(2); a.mul_(w)",
    "base changed": "a, b = y.split(2); y.mul_(3); r = a * 1",
    "under no_grad": "with T.no_grad():\n    a, b = y.split(2)\na.mul_(2)",
    # allowed: nothing recorded, or torch's single views (tensor_split, hsplit, vsplit)
    "nothing requires grad": "z = T.ones(4); a, b = z.split(2); a.mul_(2); r = z",
    "both under no_grad": "with T.no_grad():\n    a, b = y.split(2)\n    a.mul_(2)\nr = y",
    "tensor_split": "a, b = y.tensor_split(2); b.mul_(2); y.sum().backward(); r = x.grad",
    "vsplit": "a, b, c = y.vsplit(3); b.mul_(2); y.sum().backward(); r = x.grad",
    "hsplit": "a, b = y.hsplit(2); b.mul_(2); y.sum().backward(); r = x.grad",
    "out of place": "a, b = y.split(2); (a * 2).sum().backward(); r = x.grad",
    # unsafe_split/unsafe_chunk: pieces of their own that share y's memory: an in-place op on
    # one changes y's values, not y's version or history
    "unsafe_split": "a, b = y.unsafe_split(2); b.mul_(3)\n"
                    "(a.sum() + (b * T.tensor([1., 2.])).sum()).backward()\n"
                    "r = (y, a, b, x.grad, y._version, b._version)",
    "unsafe_chunk": "a, b = T.unsafe_chunk(y, 2, 1); a.add_(1)\n"
                    "(y * T.arange(6.).reshape(3, 2)).sum().backward(); r = (y, a, x.grad)",
    "unsafe_split is not a view": "a, b = y.unsafe_split(1, 1); y.mul_(2); r = (a, a * 1)",
}


@pytest.mark.parametrize("code", MULTI_OUTPUT_CASES.values(), ids=MULTI_OUTPUT_CASES.keys())
def test_views_returned_together_and_unsafe_split(code):
    def run(T):
        ns = {"T": T}
        exec(MULTI + code, ns)
        return ns.get("r")

    same(run)


# -- writes into an expand()ed tensor ---------------------------------------------------------
EXPANDED_CASES = {
    "zero_": "y = T.zeros(1, 3).expand(2, 3); y.zero_(); r = y",
    "fill_ with a number": "y = T.zeros(1, 3).expand(2, 3); y.fill_(2); r = y",
    "fill_ a bool with a number": "y = T.tensor([[False, True]]).expand(2, 1, 2); y.zero_(); r = y",
    "fill_ with a tensor": "y = T.zeros(1, 3).expand(2, 3); y.fill_(T.tensor(2.))",
    "add_": "y = T.zeros(1, 3).expand(2, 3); y.add_(1)",
    "copy_": "y = T.zeros(1, 3).expand(2, 3); y.copy_(T.ones(2, 3))",
    # a copy onto itself changes nothing (torch's copy_ checks is_same first; x[...] and x[:]
    # are x itself), a copy of a view of it is refused
    "copy_ onto itself": "y = T.zeros(1, 3).expand(2, 3); v = y._version; y.copy_(y); "
                         "r = (y, y._version - v)",
    "setitem ... onto itself": "y = T.zeros(1, 3).expand(2, 3); y[...] = y; r = y",
    "setitem : onto itself": "y = T.zeros(1, 3).expand(2, 3); y[:] = y; r = y",
    "copy_ of a view of itself": "y = T.zeros(1, 3).expand(2, 3); y.copy_(y[:])",
    # a basic index whose view shares no memory is written; others are refused
    "setitem a row": "y = T.zeros(3).expand(2, 3); y[0] = 1; r = y",
    "setitem a column": "y = T.zeros(3).expand(2, 3); y[:, 0] = 1",
}


@pytest.mark.parametrize("code", EXPANDED_CASES.values(), ids=EXPANDED_CASES.keys())
def test_writes_into_an_expanded_tensor(code):
    def run(T):
        ns = {"T": T}
        exec(code, ns)
        return ns.get("r")

    same(run)


# Writes into an expand()ed view while autograd records: fill_/zero_ with a number and a copy
# onto itself rebase the base's history (CopySlices), and a backward through that node is
# refused, as torch cannot write the gradient back into a view whose elements share memory;
# setitem through a basic index whose view shares no memory is an ordinary write into that
# view. Each line runs on its own: the outcome is r and which line raised, with what.
EXPANDED_RECORDED = "a = T.tensor([1., 2., 3.], dtype=T.float64, requires_grad=True)\ny = a * 1\n"
EXPANDED_RECORDED_CASES = {
    "zero_ is recorded": "b = y.expand(2, 3); b.zero_()\n"
                         "r = (y, b, b.requires_grad, b.is_leaf, y._version, b._version)",
    "backward through the base": "b = y.expand(2, 3); b.fill_(2.)\nr = y\n"
                                 "(y * T.tensor([1., 2., 3.], dtype=T.float64)).sum().backward()",
    "backward through the view": "b = y.expand(2, 3); b.zero_()\nr = b\nb.sum().backward()",
    "another view of the base": "c = y[0]; b = y.expand(2, 3); b.zero_()\nr = c * 2\n"
                                "T.autograd.grad(c, a)",
    "create_graph": "b = y.expand(2, 3); b.fill_(1.)\n"
                    "T.autograd.grad(y.sum(), a, create_graph=True)",
    "a column of it": "b = y.expand(2, 3)[:, 0]; b.fill_(4.)\nr = y\nT.autograd.grad(y.sum(), a)",
    "a view of a view": "x = y[1:]; b = x.expand(2, 2); b.zero_()\nr = (y, x, b)\n"
                        "T.autograd.grad(y[0], a)",
    "0-d, expanded": "b = y[0].expand(4); b.fill_(2.)\nr = (y, b)\ny.sum().backward()",
    "float32, dim -1": "z = y.float().reshape(3, 1); b = z.expand(-1, 4); b.fill_(-1)\n"
                       "r = (z, b)\nz.sum().backward()",
    "a backward not through it": "b = y.expand(2, 3); b.zero_()\n"
                                 "t = T.tensor(2., dtype=T.float64, requires_grad=True)\n"
                                 "r = T.autograd.grad((y.detach() * t).sum(), t)",
    "fuzz seed 4383": "v4 = T.maximum(a, a); v5 = v4.expand(2, *v4.shape); v5.zero_()\n"
                      "r = (v4, v5)\nr = T.autograd.grad((a.unbind(0)[0] * a).sum(), [a])",
    "copy_ onto itself": "b = y.expand(2, 3); b.copy_(b)\nr = b\nT.autograd.grad(y.sum(), a)",
    "setitem ... onto itself": "b = y.expand(2, 3); b[...] = b\nr = b\n"
                               "T.autograd.grad(y.sum(), a)",
    "setitem a row": "b = y.expand(2, 3); b[0] = 5.\nr = (y, b)\n"
                     "r = T.autograd.grad((y * y).sum(), a)",
    "setitem a row from a tensor": "t = T.tensor(2., dtype=T.float64, requires_grad=True)\n"
                                   "b = y.expand(2, 3); b[1] = t\nr = (y, b)\n"
                                   "r = T.autograd.grad((y * y).sum(), [a, t])",
    "setitem an element": "b = y.expand(2, 3); b[0, 1] = 5.\nr = T.autograd.grad(y.sum(), a)",
    "setitem a column": "b = y.expand(2, 3); b[:, 0] = 5.",
}


@pytest.mark.parametrize("code", EXPANDED_RECORDED_CASES.values(),
                         ids=EXPANDED_RECORDED_CASES.keys())
def test_writes_into_an_expanded_view_while_recording(code):
    def run(T):
        ns = {"T": T}
        exec(EXPANDED_RECORDED, ns)
        for i, line in enumerate(code.split("\n")):
            try:
                exec(line, ns)
            except RuntimeError as e:
                return _plain(ns.get("r")), i, str(e)
        return _plain(ns.get("r"))

    same(run)


def test_dtype_conversion_of_a_no_grad_view_records_as_torch():
    """``.float()``/``.to(dtype)`` of a view made under no_grad of a tensor that requires grad
    requires grad, as any other op on it (fuzz seed 2969); no gradient reaches the base."""
    for lib in (torch, ndgrad):
        v1 = lib.ones((2, 1), dtype=lib.float64, requires_grad=True)
        with lib.no_grad():
            v4 = v1.unsqueeze(0).movedim(0, -1)
        y = v4.float()
        assert y.requires_grad and v4.to(lib.float32).requires_grad, lib.__name__
        ((v1 * 3).sum() + y.sum() * 2).backward()
        assert v1.grad.tolist() == [[3.0], [3.0]], lib.__name__


def test_inplace_into_an_integer_view_of_a_multi_view_op_is_not_recorded():
    """An int or bool tensor holds no gradient: copying a float that requires grad into one
    (here an unbind view) records nothing and refuses nothing, as torch (fuzz seed 3875)."""
    for lib in (torch, ndgrad):
        v2 = lib.tensor([[0.0, -1.5, 1.5]], requires_grad=True)
        v3 = lib.tensor([[[1, -2, 2]], [[0, 1, 1]]])
        v5 = v3.unbind(0)[0]
        v5.copy_(v2)
        assert v3.tolist() == [[[0, -1, 1]], [[0, 1, 1]]] and not v5.requires_grad
        b = lib.zeros(3, dtype=lib.bool)
        b.copy_(v2[0])
        assert b.tolist() == [False, True, True] and not b.requires_grad
