"""Disagreements with torch that the differential fuzzer (tests/test_fuzz_torch.py) found, each
reduced to a few lines run on torch and on ndgrad (``T`` is the library). Each failed before
its fix: saved inputs confused by array identity, gradients that required grad where torch's
do not, dtypes of einsum over int/bool operands, arithmetic on bool tensors and softmax on
integers that torch refuses."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad


def outcome(fn: Any, lib: Any) -> Any:
    """``fn(lib)`` as plain values: tensors as (dtype, shape, requires_grad, values), an
    exception as its type and message (the messages are torch's)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(lib)
    except Exception as e:  # noqa: BLE001 - which error, and its message, is the outcome
        return type(e).__name__, str(e).replace("ndgrad.", "torch.")
    return _plain(out)


def _plain(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_plain(u) for u in v]
    if isinstance(v, torch.Tensor | ndgrad.Tensor):
        a = v.detach().numpy()
        if a.dtype.kind == "f":  # float32 to 6 places (exp differs in the last bit)
            a = np.round(a, 6 if a.dtype == np.float32 else 10)
        values = [x if x == x else "nan" for x in a.ravel().tolist()]  # nan == nan here
        return str(v.dtype).split(".")[-1], tuple(v.shape), v.requires_grad, values
    return v


def same(fn: Any) -> Any:
    t, n = outcome(fn, torch), outcome(fn, ndgrad)
    assert n == t, f"\n  torch  {t}\n  ndgrad {n}"
    return n


# -- memory-sharing constructors give a new array object -----------------------------------------
@pytest.mark.parametrize("share", [
    lambda T, x: x.detach().requires_grad_(),
    lambda T, x: x.data.requires_grad_(),
    lambda T, x: T.nn.Parameter(x.detach()),
    lambda T, x: T.Tensor(x.detach()).requires_grad_(),
])
def test_a_tensor_sharing_memory_is_a_separate_input_of_backward(share):
    """``x / x.detach().requires_grad_()``: the two leaves share memory, and backward told saved
    inputs apart by array identity, so the second-order gradients were zero (fuzz seed 426)."""
    def fn(T):
        x = T.tensor([0.5, -1.5, 2.0], dtype=T.float64, requires_grad=True)
        y = share(T, x)
        z = x / y
        gx, gy = T.autograd.grad((z * z).sum(), [x, y], create_graph=True)
        (gx.sum() + gy.sum()).backward()
        return x.grad, y.grad
    same(fn)


def test_two_tensors_from_one_ndarray_are_separate_inputs_of_backward():
    def fn(T):
        a = np.array([0.5, -1.5, 2.0])
        x, y = T.from_numpy(a).requires_grad_(), T.from_numpy(a).requires_grad_()
        z = x / y
        gx, gy = T.autograd.grad((z * z).sum(), [x, y], create_graph=True)
        (gx.sum() + gy.sum()).backward()
        return x.grad, y.grad, np.shares_memory(x.detach().numpy(), y.detach().numpy())
    same(fn)


def test_from_numpy_and_detach_still_share_memory():
    def fn(T):
        a = np.zeros(3)
        x = T.from_numpy(a)
        d = x.detach()
        d.add_(1)
        a[0] = 5
        return x, d
    same(fn)


# -- gradients that are constants do not require grad ---------------------------------------
@pytest.mark.parametrize("op", [
    lambda x: x.floor(), lambda x: x.round(), lambda x: x.sign(), lambda x: x.ceil(),
])
def test_gradient_of_a_piecewise_constant_op_does_not_require_grad(op):
    """torch's gradient of floor is zeros_like(grad), not differentiable: a second backward
    through it raises (fuzz seed 660); ndgrad's required grad and ran."""
    def fn(T):
        x = T.tensor([1.0, -2.0, 1.5], dtype=T.float64, requires_grad=True)
        y = op(x)
        (g,) = T.autograd.grad((y * y).sum(), [x], create_graph=True)
        return g, g.grad_fn is None
    same(fn)


def test_cat_gradient_of_a_skipped_1d_empty_input_is_a_constant():
    """``cat([zeros(0), x2d])`` skips the 1-D empty input; its gradient is an empty constant
    that does not require grad under create_graph (fuzz seed 704)."""
    def fn(T):
        e = T.zeros(0, dtype=T.float64, requires_grad=True)
        x = T.tensor([[0.25, 1.0]], dtype=T.float64, requires_grad=True)
        y = T.cat([e, x * 2, e])
        return T.autograd.grad((y * y).sum(), [x, e], create_graph=True)
    same(fn)


# -- einsum's result dtype is torch's ------------------------------------------------------------
@pytest.mark.parametrize("equation,operands", [
    ("i->", [((3,), "bool")]),  # issue 16.8: a count
    ("i,i->i", [((3,), "bool"), ((3,), "int64")]),
    ("ij,j->j", [((2, 3), "bool"), ((3,), "bool")]),  # i summed out of the first: int64
    ("i,j->i", [((2,), "bool"), ((3,), "bool")]),
    ("i,i->", [((3,), "bool"), ((3,), "bool")]),  # bmm refuses bool
    ("i,i->", [((3,), "int64"), ((3,), "bool")]),
    ("ij,j->i", [((2, 3), "float32"), ((3,), "float64")]),  # bmm needs one dtype
    ("jk,ij->ik", [((3, 3), "bool"), ((2, 3), "float64")]),  # ... its operands swapped
    ("...,...->...", [((), "float64"), ((2, 3), "float32")]),  # fuzz seeds 1362, 1500
    ("i,->i", [((3,), "float32"), ((), "float64")]),
    ("i,i->", [((3,), "float32"), ((1,), "float64")]),
    ("i,i->", [((0,), "int64"), ((0,), "bool")]),  # an empty bmm takes the right's dtype
    ("ijk,ji->jk", [((2, 1, 0), "bool"), ((1, 2), "float32")]),
    ("ij,jk,k->", [((2, 3), "float32"), ((3, 2), "float32"), ((2,), "float64")]),
])
def test_einsum_result_dtype_and_errors_are_torchs(equation, operands):
    def fn(T):
        xs = [T.arange(int(np.prod(s))).reshape(s).remainder(3).to(getattr(T, d))
              for s, d in operands]
        return T.einsum(equation, *xs)
    same(fn)


def test_einsum_of_mixed_float_dtypes_differentiates_to_each_input_dtype():
    def fn(T):
        x = T.tensor(2.0, dtype=T.float64, requires_grad=True)
        y = T.tensor([[2.0, -1.0]], requires_grad=True)
        z = T.einsum("...,...->...", x, y)
        (z * z).sum().backward()
        return z, x.grad, y.grad
    same(fn)


# -- arithmetic torch refuses on bool tensors ----------------------------------------------------
@pytest.mark.parametrize("expr", [
    "b - b", "b - 1", "1 - b", "b - f", "f - b", "b - i", "b - True", "-b", "b.neg()", "-z",
    "b.sub(b)", "b.sub_(b)", "b.sub_(1)", "b.neg_()", "T.rsub(b, b)", "e - e", "-e",
    "b ** b", "b ** z", "True ** b", "b % True", "b // True", "b.remainder(b)", "b.abs()",
    "abs(b)", "b.abs_()", "e.abs()", "b.floor()", "b.ceil()", "b.trunc()", "b.round()",
    "b.floor_()", "b.frac()", "i.frac()", "b.relu()", "b.relu_()", "e.relu()",
    "b.lerp(b, 0.5)", "i.lerp(i, 0.5)", "b.addcmul(b, b)", "b.std()", "i.var(0)", "b.norm()",
    "i.norm(p=1)", "b.norm(dtype=T.float32)",
    # what torch computes
    "b + b", "b * b", "b / b", "b ** 2", "b ** True", "b % 2", "b.sign()", "i.relu()",
    "i.floor()", "b.exp()", "b.sum()", "i.addcmul(i, i)",
])
def test_bool_and_int_arithmetic_is_refused_where_torch_refuses(expr):
    """ndgrad computed ``b - b``, ``-b``, ``b.abs()``, ``b.relu()``... where torch refuses with
    these messages (fuzz: TORCH_ONLY_ERRORS had a 'known gap' entry for bool)."""
    def fn(T):
        ns = {"T": T, "b": T.tensor([True, False]), "z": T.tensor(True), "f": T.tensor([1.5, -2.]),
              "i": T.tensor([2, -1]), "e": T.zeros(0, dtype=T.bool)}
        return eval(expr, ns)  # noqa: S307 - the expressions above
    same(fn)


# -- softmax of integers ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
@pytest.mark.parametrize("shape,dim", [((), 0), ((), -1), ((3,), 0), ((2, 3), -1), ((2, 3), 0),
                                       ((0,), 0), ((2, 0), 0), ((0, 3), -1), ((1,), -1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_integers_is_refused_unless_empty(dtype, shape, dim, name):
    """torch has no integer kernel (it names the last-dim one or the general one); an empty
    input comes back empty in its dtype (fuzz seeds 777, 870, 1171)."""
    same(lambda T: getattr(T.ones(shape, dtype=getattr(T, dtype)), name)(dim))


def test_softmax_of_integers_with_a_float_dtype_computes():
    same(lambda T: T.tensor([1, 2, 3]).softmax(-1, dtype=T.float64))


# -- logcumsumexp in float32 -----------------------------------------------------------------
def test_logcumsumexp_float32_accumulates_as_torch():
    """torch's CPU kernel accumulates float32 in float64; NumPy's float32 running logaddexp
    drifted, and backward (a difference of exps of it) was off by 1e-3 at x = 10000 (OpInfo)."""
    x = np.full((5, 5, 5), 10000.0, np.float32)
    g = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    grads = []
    for T in (torch, ndgrad):
        t = T.tensor(x, requires_grad=True)
        y = t.logcumsumexp(0)
        y.backward(T.tensor(g))
        grads.append((y.detach().numpy(), t.grad.numpy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=0, atol=0)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-5, atol=1e-5)


# -- matrix products of bools --------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    "b(2, 2) @ b(2, 2)", "b(2) @ b(2)", "b(0) @ b(0)", "b(2, 2) @ b(2)", "b(2) @ b(2, 2)",
    "b(3, 2, 2) @ b(2, 2)", "b(3, 2, 2) @ b(3, 2, 2)", "b(2, 2).mv(b(2))", "b(2).dot(b(2))",
    "b(0, 2) @ b(2, 2)", "b(2, 0) @ b(0, 2)", "b(2, 2).mm(b(2, 0))",
])
def test_bool_matrix_products_are_refused_as_torch_does(expr):
    """``v3 @ v1`` of bool matrices gave a bool result; torch has no bool kernel (fuzz seed
    432), but an empty product (other than dot) calls none and returns."""
    same(lambda T: eval(expr, {"b": lambda *s: T.ones(s, dtype=T.bool)}))  # noqa: S307


# -- fill_/zero_/copy_ leave a constant zero gradient ----------------------------------------
@pytest.mark.parametrize("overwrite", [
    lambda T, y: y.zero_(), lambda T, y: y.fill_(3.0), lambda T, y: y.copy_(T.ones(2)),
    lambda T, y: y.eq_(1.0),
])
def test_overwritten_history_gets_a_gradient_that_does_not_require_grad(overwrite):
    """torch's FillBackward gives the overwritten history zeros that are not differentiable:
    a second backward through them raises (fuzz seed 1539); ndgrad's where(False, t, v) made
    them depend on the upstream gradient."""
    def fn(T):
        x = T.tensor([1.5, -2.0], dtype=T.float64, requires_grad=True)
        y = x * 2
        overwrite(T, y)
        (g,) = T.autograd.grad((y * y).sum(), [x], create_graph=True)
        return g, g.grad_fn is None
    same(fn)


def test_copy_from_a_tensor_that_requires_grad_passes_it_the_gradient():
    def fn(T):
        x = T.tensor([1.5, -2.0], dtype=T.float64, requires_grad=True)
        s = T.tensor([0.5], dtype=T.float64, requires_grad=True)
        y = (x * 2).copy_(s)
        (y * y).sum().backward()
        return x.grad, s.grad
    same(fn)


# -- a cast to an integer type reads no history ----------------------------------------------
@pytest.mark.parametrize("piece", [
    lambda y: y.split(1)[0], lambda y: y.chunk(2)[1], lambda y: y.unbind(0)[0],
])
@pytest.mark.parametrize("cast", [
    lambda T, v: v.to(T.int64), lambda T, v: v.long(), lambda T, v: v.bool(),
    lambda T, v: v.type(T.int32), lambda T, v: v.double(),
])
def test_casting_a_multi_output_view_after_its_base_changed(piece, cast):
    """A split piece whose base changed in place cannot rebuild its history; torch reads none
    for a cast to an integer or bool type (the result takes no gradient) and refuses only a
    float cast. ndgrad recorded every cast and refused them all (fuzz seed 11865)."""
    def fn(T):
        x = T.tensor([[0.5, 1.0], [2.0, -1.0]], dtype=T.float32, requires_grad=True)
        y = x.cumsum(0)
        v = piece(y)
        y.fill_(1)
        return cast(T, v)
    same(fn)


# -- setitem over the whole tensor is copy_/fill_ into it ------------------------------------
@pytest.mark.parametrize("index", [
    "...", ":", "0:2", "0:5", "::1", ":, 0:3", "..., :", ":, ...", "-2:", "None", "True", "0",
    "1:",
])
@pytest.mark.parametrize("value", ["s", "s.float()", "1.5"])
def test_setitem_of_the_whole_tensor_overwrites_its_history_with_a_constant(index, value):
    """``y[...] = s`` (and whole slices) is torch's copy_/fill_ into y itself: the old history's
    gradient is a zero that does not require grad. ndgrad recorded an IndexPut, whose zeroed
    gradient required grad under create_graph (fuzz seed 9795); an index that makes a view
    (``-2:``, None, True, an int) stays torch's CopySlices."""
    def fn(T):
        x = T.tensor([[1.5, -2.0, 0.5], [1.0, 2.0, -0.5]], dtype=T.float64, requires_grad=True)
        s = T.tensor([0.5, 3.0, -1.0], dtype=T.float64, requires_grad=True)
        y = x * 2
        exec(f"y[{index}] = {value}", {"y": y, "s": s})  # noqa: S102 - the index as written
        return T.autograd.grad((y * y).sum(), [x, s], create_graph=True, allow_unused=True)
    same(fn)


def test_setitem_of_a_whole_0d_tensor_overwrites_its_history_with_a_constant():
    def fn(T):
        x = T.tensor(1.5, dtype=T.float64, requires_grad=True)
        y = x * 2
        y[()] = 4.0
        (g,) = T.autograd.grad((y * y).sum(), [x], create_graph=True)
        return g
    same(fn)


def test_setitem_of_the_whole_tensor_from_its_own_memory_with_leading_ones():
    """``y[...] = x`` where y is x.detach() of shape (1, 2): torch views x as (2,) and expands
    it back, the very same elements, so the copy passes its overlap check (fuzz seed 110)."""
    def fn(T):
        x = T.tensor([[0.0], [2.0]], dtype=T.float64, requires_grad=True).swapaxes(0, -1)
        y = x.detach()
        y[...] = x
        return y
    same(fn)


def test_setitem_into_an_expanded_tensor_from_the_very_memory_it_expands():
    """``e[...] = v`` where e = v.squeeze().expand(2) and v has shape (1, 1): broadcast to e's
    shape, v is e's very elements, so torch's copy_ returns before its overlap check; a value
    from other memory is still refused (fuzz seed 777894)."""
    def fn(T):
        v = T.tensor([[3]], dtype=T.int64)
        e = v.squeeze().expand(2)
        e[...] = v.t()
        return v, e
    same(fn)

    def other(T):
        T.zeros(()).expand(2)[...] = T.tensor([[1.0]])
    same(other)


def test_mean_of_an_empty_tensor_saves_nothing_so_a_second_backward_runs():
    """torch's MeanBackward keeps only sizes, also for an empty input, whose mean is nan: a
    second backward through it runs where ndgrad's nan product had a saved tensor freed (fuzz
    seeds 900536, 905878)."""
    def fn(T):
        x = T.zeros((2, 0), dtype=T.float64, requires_grad=True)
        m = x.mean(1)
        m.sum().backward()
        (g,) = T.autograd.grad((m * m).sum(), [x], create_graph=True)
        return m, g, x.grad, x.mean(), x.mean(0)
    same(fn)


def test_einsum_of_an_expanded_operand_is_row_major_so_view_works():
    """NumPy lays einsum's result out as its operands are, which put an expand()ed operand's
    broadcast dim innermost; torch's result is row-major, so ``.view(-1)`` works (fuzz seed
    904536)."""
    def fn(T):
        a = T.tensor([[-0.5, -1.5, -2.0]], dtype=T.float64)
        b = T.tensor([[-2.0, -1.0, 1.5], [1.0, 2.0, 0.0]], dtype=T.float64).expand(2, 2, 3)
        out = T.einsum("...,...->...", a, b)
        return out.view(-1), out.stride()
    same(fn)


def test_expand_strides_and_a_copy_from_the_elements_an_expand_shows():
    """torch's expand gives a new leading dim of size 1 a contiguous stride (ones(3).expand(1,
    3) has strides (3, 1)), and its copy_/setitem compares strides to let a copy from the very
    same elements through: ``e[0] = v`` for e = v.expand(2, 1, 3) (fuzz seed 1202199)."""
    def strides(T):
        return [T.ones(3).expand(1, 3).stride(), T.ones(3, 1).expand(2, 3, 1).stride(),
                T.tensor(2.0).expand(1, 1).stride(), T.ones(2).expand(4, 1, 2).stride()]
    same(strides)

    def fn(T):
        v = T.tensor([[1.5, -1.0, 0.25]], dtype=T.float64, requires_grad=True) * 2
        e = v.expand(2, *v.shape)
        e[0] = v
        (g,) = T.autograd.grad(e.sum(), [v])
        return e, g
    same(fn)


@pytest.mark.parametrize("make", [
    lambda x: x.diagonal(), lambda x: x.permute(2, 0, 1), lambda x: x[:, :, ::2],
    lambda x: x.transpose(0, 2), lambda x: x.movedim(0, -1)[1:], lambda x: x[0].t(),
    lambda x: x.unsqueeze(1).permute(3, 1, 0, 2), lambda x: x[..., :1].expand(2, 2, 4)])
def test_clone_keeps_torchs_layout_so_reshape_shares_memory_as_torchs(make):
    """clone() lays a permuted or strided tensor out in memory as torch's does (a diagonal's
    copy is column-major), and that decides whether reshape of the copy is a view of it: a
    later write to the copy shows in the reshape, or not, as in torch (fuzz seed 2304580)."""
    def fn(T):
        c = make(T.arange(12.0).reshape(2, 2, 3)).clone()
        r = c.reshape(-1)
        c.fill_(1)
        return c.stride(), r
    same(fn)


def test_prod_of_all_elements_with_two_zeros_has_exactly_zero_gradient():
    """x.prod() with two zeros or more: torch's gradient is zeros (not grad * 0, which an
    infinite upstream gradient, sqrt at 0, makes nan); prod(dim) and create_graph keep the
    product formula, as torch's (fuzz seed 3001655)."""
    def fn(T):
        x = T.tensor([0.0, 2.0, 0.0, 3.0], dtype=T.float64, requires_grad=True)
        x.prod().sqrt().backward()
        (g,) = T.autograd.grad(x.prod().sqrt(), x, create_graph=True)
        y = T.tensor([[0.0, 2.0], [0.0, 3.0]], dtype=T.float64, requires_grad=True)
        y.prod(0).sqrt().sum().backward()
        return x.grad, g, y.grad
    same(fn)


def test_einsum_without_a_sum_keeps_the_sign_of_zero():
    """An einsum that sums nothing is a broadcast product, as torch computes it: NumPy's
    einsum added each product to 0, turning -0.0 into 0.0, and 1 / it into inf (fuzz seeds
    3100461, 3204973)."""
    def fn(T):
        a = T.tensor([[0.0, 1.5], [-0.5, 0.0]], dtype=T.float32, requires_grad=True)
        b = T.tensor([-2.0, 3.0], dtype=T.float32)
        out = T.einsum("...,...->...", a, b)
        (1 / out).sum().backward()
        return T.signbit(out), T.einsum("ij,j->ji", a, b), a.grad
    same(fn)


def test_setitem_of_a_view_made_under_no_grad_records_the_write():
    """``y[...] = v`` where v is a view made under no_grad of a tensor that requires grad: v
    requires grad (torch's rule), so the write is recorded and y requires grad as torch's
    (fuzz seed 4200549)."""
    def fn(T):
        x = T.tensor(-0.5, dtype=T.float64, requires_grad=True)
        with T.no_grad():
            v = x.transpose(0, -1)
        y = T.zeros(2, 3, dtype=T.float64)
        y[...] = v
        z = T.zeros(2, 3, dtype=T.float64)
        z[0] = v
        return y, z
    same(fn)


def test_a_second_backward_through_copy_slices_raises_as_torchs():
    """A base written through its view has a CopySlices history, which torch frees after a
    backward without retain_graph: a second backward through it raises there (ndgrad ran it
    and accumulated the gradient twice, fuzz seed 4202384); with retain_graph it runs."""
    def fn(T):
        x = T.ones(3, dtype=T.float64, requires_grad=True)
        w = T.tensor(2.0, dtype=T.float64, requires_grad=True)
        b = x.clone()
        b[0:1].add_(w)
        b.sum().backward(retain_graph=True)
        b.sum().backward()
        try:
            b.sum().backward()
        except RuntimeError as e:
            return x.grad, w.grad, str(e)[:60]
        return x.grad, w.grad
    assert "backward through the graph a second time" in same(fn)[2]


@pytest.mark.parametrize("write", [
    lambda T, y: y.mul_(2),
    lambda T, y: y.detach().mul_(2),
    lambda T, y: y.exp_(),
])
@pytest.mark.parametrize("op", ["exp_", "tanh_", "sigmoid_", "sqrt_"])
def test_an_inplace_ops_saved_result_is_the_tensor_it_wrote(op, write):
    """exp_, tanh_, ... save the tensor they wrote into, as torch's: a later in-place change of
    it (under no_grad too, or through its detach(), which shares its version counter) makes
    backward raise instead of using the values from before (fuzz seed 4204835)."""
    def fn(T):
        x = T.tensor([0.25, 0.5], dtype=T.float64, requires_grad=True)
        y = x + x
        getattr(y, op)()
        with T.no_grad():
            write(T, y)
        try:
            y.sum().backward()
        except RuntimeError as e:
            return str(e)[:90]
        return x.grad
    assert "modified by an inplace" in same(fn)


def test_an_inplace_ops_saved_result_keeps_second_derivatives():
    """The saved result of exp_ unpacks with exp_'s node as its history, so create_graph
    gradients go through it as torch's."""
    def fn(T):
        x = T.tensor([0.25, -0.5], dtype=T.float64, requires_grad=True)
        y = x * 3
        y.exp_()
        (g,) = T.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        return g, x.grad
    same(fn)


@pytest.mark.parametrize("write", [
    lambda y, v: y.add_(v), lambda y, v: y.mul_(v), lambda y, v: y.copy_(v),
    lambda y, v: y.clamp_(min=v), lambda y, v: y.addcmul_(v, v), lambda y, v: y.__iadd__(v)])
def test_an_inplace_op_with_a_no_grad_view_operand_is_recorded(write):
    """A view made under no_grad of a tensor that requires grad requires grad (torch's rule),
    so an in-place op taking it as an operand records the op (fuzz seed 4307670)."""
    def fn(T):
        x = T.tensor([0.5, -1.0, 2.0], requires_grad=True)
        with T.no_grad():
            v = x.squeeze()
            e = T.zeros(0, requires_grad=True).squeeze()
        y = T.ones(3)
        write(y, v)
        z = T.zeros(0)
        z += e
        return y, z, y.grad_fn is not None
    same(fn)


@pytest.mark.parametrize("make", [
    lambda T: T.cat([T.ones(3, 4).t(), T.ones(3, 4).t()]),
    lambda T: T.stack([T.ones(3, 4).t(), T.ones(3, 4).t()]),
    lambda T: T.ones(1, 3).expand(2, 3).double(),
    lambda T: T.ones(1, 3).expand(2, 3).int(),
    lambda T: T.ones(2, 3, 1).expand(2, 3, 4).to(T.float64),
    lambda T: T.ones(4, 1, 3).expand(4, 2, 3).permute(2, 0, 1).double(),
    lambda T: T.ones(3, 4).t().double(),
    lambda T: T.ones(6)[::2].half(),
])
def test_cat_and_dtype_conversions_lay_out_memory_as_torchs(make):
    """cat/stack write row-major (NumPy kept its inputs' column-major order), and a dtype
    conversion lays its copy out as torch's preserve_format (NumPy's astype kept an expanded
    tensor's odd order): that decides whether a later view() works (fuzz seed 4002883)."""
    def fn(T):
        out = make(T)
        return out.stride(), out.is_contiguous()
    same(fn)


@pytest.mark.parametrize("index", [
    lambda T: T.tensor([0, 2]), lambda T: T.tensor([True, False, True, False]),
    lambda T: [0, 1], lambda T: slice(1, 3), lambda T: 1, lambda T: None])
def test_indexing_and_setitem_free_their_indices_as_torchs(index):
    """torch's IndexBackward and IndexPutBackward save the index tensors, and CopySlices its
    op, so a second backward through x[idx] (advanced) or x[idx] = v raises there; a basic
    x[idx] is a view and runs again (fuzz seed 5002364)."""
    def fn(T):
        x = T.ones(4, dtype=T.float64, requires_grad=True)
        out = []
        z = x.clone()[index(T)].neg()
        y = x.clone()
        if index(T) is not None:
            y[index(T)] = 5.0
        for t in (z, y):
            t.sum().backward()
            try:
                t.sum().backward()
                out.append("ran")
            except RuntimeError as e:
                out.append(str(e)[:50])
        return out, x.grad
    same(fn)


@pytest.mark.parametrize("op", ["mul_", "div_", "pow_", "atan2_", "add_", "sub_", "view"])
def test_an_inplace_op_with_itself_as_operand_refuses_backward_as_torchs(op):
    """y.mul_(y): torch saves the other operand, y itself, which the write then changes, so
    backward raises there (ndgrad kept a copy and ran; fuzz seeds 5107261, 5302641); ops
    that save nothing (add_, sub_) run on both."""
    def fn(T):
        x = T.tensor([0.5, 2.0], dtype=T.float64, requires_grad=True)
        y = x + 1
        if op == "view":
            y.mul_(y.view(2))
        else:
            getattr(y, op)(y)
        try:
            y.sum().backward()
        except RuntimeError as e:
            return str(e)[:60]
        return x.grad
    same(fn)

    def detached(T):  # d.mul_(x) for d = x.detach(): d needs no gradient, x's needs the old d
        x = T.tensor([0.5, 2.0], dtype=T.float64, requires_grad=True)
        d = x.detach()
        getattr(d, op)(x) if op != "view" else d.mul_(x.view(2))
        try:  # div_, pow_, atan2_ save d itself for x's gradient: both refuse
            (g,) = T.autograd.grad(d.sum(), [x])
        except RuntimeError as e:
            return str(e)[:60]
        return d, g
    same(detached)


@pytest.mark.parametrize("write", [
    lambda x, v: v.copy_(x), lambda x, v: v.copy_(x.expand(2, 2, 3)), lambda x, v: v.copy_(v),
    lambda x, v: v.__setitem__(Ellipsis, x), lambda x, v: v[0].copy_(x),
    lambda x, v: v.mT.__setitem__(Ellipsis, v.mT), lambda x, v: v.mT.copy_(v.mT),
    lambda x, v: v[:1].__setitem__(Ellipsis, v[:1]),
    lambda x, v: (lambda t: t.__setitem__(Ellipsis, t))(x[:1, :1].expand(2, 1, 1).mT)])
def test_copy_into_an_expanded_tensor_passes_only_from_its_very_elements(write):
    """torch's copy_ returns early only when src is self's data with self's sizes and strides;
    a src that needs broadcasting meets the overlap check (fuzz seed 6010358), while
    ``v[...] = x`` expands x first and passes, and ``t[...] = t`` passes with t's own strides,
    whatever its size-1 dims' strides are (seed 7216492)."""
    def fn(T):
        x = T.ones(2, 3, dtype=T.bool)
        v = x.expand(2, 2, 3)
        try:
            write(x, v)
        except RuntimeError as e:
            return str(e)[:60]
        return v
    same(fn)


def test_prod_of_a_0d_tensor_passes_the_gradient_through():
    """A 0-d tensor is its own product: torch's gradient is grad itself, 1 even where x is nan
    or 0 (ndgrad's out / x gave nan; fuzz seed 6104397)."""
    def fn(T):
        out = []
        for v in (float("nan"), 0.0, 2.0):
            w = T.tensor(v, requires_grad=True)
            (g,) = T.autograd.grad(w.prod() * 3, [w], create_graph=True)
            out += [w.prod(), w.prod(0, keepdim=True), g]
        return out, T.tensor(3).prod(), T.tensor(2.5).prod(dtype=T.float64)
    same(fn)


@pytest.mark.parametrize("op", [
    lambda x: x.logsumexp(-1), lambda x: x.repeat(2, 1), lambda x: x.tile(2),
    lambda x: x.rot90(), lambda x: x.rot90(3), lambda x: x.roll(1),
    lambda x: x.kthvalue(1).values, lambda x: x.median(0).values, lambda x: x.mode(0).values,
    lambda x: x.quantile(0.5, 0), lambda x: x.nanquantile(0.5)])
def test_composite_results_are_tensors_of_their_own(op):
    """Ops written as other ops that end in a view (squeeze, reshape, transpose) returned a
    view of their temporary, which a no_grad block then made a 'view created in no_grad
    mode' that refused an in-place op with a grad-requiring operand; torch's results are no
    views (fuzz seed 7116425)."""
    def fn(T):
        x = T.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
        w = T.tensor(2.0, requires_grad=True)
        with T.no_grad():
            out = op(x)
        out.add_(w)
        out.sum().backward()
        return out, w.grad, out._base is None
    same(fn)


def test_var_and_std_backward_are_torchs_formula():
    """var's gradient is 2 / (n - correction) * grad * (x - mean) in one formula, as torch's
    var_backward: an infinite upstream gradient gives +-inf (the mean step of the composite
    met inf - inf: nan, fuzz seed 7005698), and x is saved, so changing it in place before
    backward raises as in torch (seeds 5216340, 7017203)."""
    def fn(T):
        v1 = T.tensor([[-1.0], [1.0]], requires_grad=True)
        (v1.std() / T.tensor([0.0, 2.0, 0.0])).sum().backward()
        x = T.tensor([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]], dtype=T.float64, requires_grad=True)
        (g,) = T.autograd.grad(x.var(0).sum(), x, create_graph=True)
        (g2,) = T.autograd.grad(g.pow(2).sum(), x)
        y = x * 1
        v = y.var(1, correction=0)
        y.add_(1)
        try:
            v.sum().backward()
        except RuntimeError as e:
            return v1.grad, g, g2, str(e)[:60]
        return v1.grad, g, g2
    same(fn)


@pytest.mark.parametrize("exponent", [
    lambda T: T.tensor([-1.0, 1.5]), lambda T: T.tensor([0, 2]), lambda T: T.tensor(2.0),
    lambda T: 2.5])
def test_pow_saves_its_result_for_a_tensor_exponent(exponent):
    """torch's pow with a tensor exponent saves its result whichever gradient is needed, so
    changing the result in place refuses backward even when only the base's is asked for;
    ndgrad saved it only for the exponent's (fuzz seeds 7623569, 7712075). A Python exponent
    saves no result: the change is allowed."""
    def fn(T):
        x = T.tensor([0.5, 2.0], dtype=T.float64, requires_grad=True)
        y = x ** exponent(T)
        y.zero_()
        try:
            y.sum().backward()
        except RuntimeError as e:
            return str(e)[:70]
        return x.grad
    same(fn)


@pytest.mark.parametrize("change", [
    lambda x, out: out.detach().mul_(3), lambda x, out: out.mul_(3),
    lambda x, out: x.detach().add_(1)])
def test_logsumexp_saves_its_input_and_result(change):
    """torch's logsumexp_backward is grad * exp(x - result): both are saved, so an in-place
    change of either before backward raises; the composite saved neither and gave the
    gradient of values no longer there (fuzz seed 7634506)."""
    def fn(T):
        x = T.tensor([[-2.0, -1.0, 1.0], [-1.0, 0.5, -1.0]], dtype=T.float64, requires_grad=True)
        out = x.logsumexp(-1)
        change(x, out)
        try:
            out.sum().backward()
        except RuntimeError as e:
            return str(e)[:70]
        return x.grad
    same(fn)


@pytest.mark.parametrize("dtype,dim,keepdim", [
    ("float64", -1, False), ("float64", (0, 1), True), ("float64", 0, False)])
def test_logsumexp_values_and_gradients(dtype, dim, keepdim):
    """The Logsumexp primitive against torch: infinities, nan, huge values, second order,
    empty and integer inputs."""
    def fn(T):
        inf = float("inf")
        out = []
        for data in ([[1.0, -2.0, 3.0], [0.5, 0.25, -1.0]], [[inf, 1.0, 3.0], [-inf, -inf, -inf]],
                     [[float("nan"), 1.0, 3.0], [1e30, 1e30, 0.0]]):
            x = T.tensor(data, dtype=getattr(T, dtype), requires_grad=True)
            y = x.logsumexp(dim, keepdim)
            (g,) = T.autograd.grad((y * y).sum().abs(), x, create_graph=True)
            (g2,) = T.autograd.grad((g * g).sum().abs(), x)
            out += [y, g, g2]
        e = T.zeros(2, 0, requires_grad=True)
        return out, e.logsumexp(1), e.logsumexp(0), T.tensor([1, 2]).logsumexp(0)
    same(fn)


def test_setitem_of_a_0d_tensor_into_an_expanded_tensor_is_a_fill():
    """torch writes ``x[...] = v`` with a 0-d v of another shape by fill_, whose overlap check
    refuses an expand()ed x even when v is its very element (ndgrad took it for a no-op
    copy of the same data: fuzz seed 7792219)."""
    def fn(T):
        v = T.tensor(1.0)
        out = []
        for write in (lambda x: x.__setitem__(Ellipsis, v), lambda x: x.copy_(v.expand(2)),
                      lambda x: x.__setitem__(Ellipsis, v.expand(1))):
            try:
                write(v.expand(2))
                out.append("ok")
            except RuntimeError as e:
                out.append(str(e)[:60])
        return out
    same(fn)


@pytest.mark.parametrize("op", [
    lambda x, y: x * y, lambda x, y: y / x, lambda x, y: x ** y, lambda x, y: x.maximum(y),
    lambda x, y: x.clamp(min=y), lambda x, y: y * x, lambda x, y: x.clamp(max=y.double()),
    lambda x, y: x.atan2(y), lambda x, y: x.hypot(y), lambda x, y: x.fmax(y),
    lambda x, y: ndgrad.einsum("...,...->...", x, y) if isinstance(x, ndgrad.Tensor) else
    torch.einsum("...,...->...", x, y)])
@pytest.mark.parametrize("other", ["0-d float64", "int64", "bool"])
def test_an_operand_cast_for_promotion_is_version_checked_as_itself(op, other):
    """An operand of another dtype is cast to the promoted one before the op, and the op saved
    that copy: changing the operand in place before backward went unseen, where torch, which
    saves the operand itself, refuses (fuzz seeds 7636432, 7841473, 8083586). The copy now
    shares the operand's version counter; hypot saves each input only for its own gradient,
    as torch's, so the change stays legal there."""
    def fn(T):
        x = T.tensor([1.5, -2.0], requires_grad=True)
        y = {"0-d float64": T.tensor(2.0, dtype=T.float64), "int64": T.tensor([2, 3]),
             "bool": T.tensor([True, False])}[other]
        z = op(x, y)
        y.logical_not_() if other == "bool" else y.add_(1)
        try:
            z.sum().backward()
        except RuntimeError as e:
            return str(e)[:80]
        return x.grad
    same(fn)


@pytest.mark.parametrize("op", [
    lambda x, y: x.mul_(y), lambda x, y: x.div_(y), lambda x, y: x.pow_(y),
    lambda x, y: x.clamp_(min=y), lambda x, y: x.__imul__(y), lambda x, y: x.add_(y)])
def test_an_in_place_op_on_a_promoted_self_keeps_its_old_value(op):
    """x.mul_(y) with a y of a wider dtype casts x before the op: that copy holds x's value
    from before the write, which y's gradient needs (torch's original_self), and is not
    stale after it."""
    def fn(T):
        x = T.tensor([1.5, 2.0], requires_grad=True) * 1
        y = T.tensor([2.0, 3.0], dtype=T.float64, requires_grad=True)
        op(x, y)
        x.sum().backward()
        return x, y.grad
    same(fn)


@pytest.mark.parametrize("change", [lambda x, y: x.zero_(), lambda x, y: y.zero_(),
                                    lambda x, y: y.detach().add_(1), lambda x, y: None])
def test_prod_of_a_0d_tensor_saves_its_input_and_result(change):
    """torch's prod saves x and its result for a 0-d x too (whose gradient is grad itself):
    changing either in place before backward raises; ndgrad's 0-d prod was a clone, which
    saves nothing (fuzz seed 8170517)."""
    def fn(T):
        w = T.tensor(2.0, requires_grad=True)
        x = w * 1
        y = x.prod()
        change(x, y)
        try:
            (y * 3).backward()
        except RuntimeError as e:
            return str(e)[:70]
        return w.grad
    same(fn)
