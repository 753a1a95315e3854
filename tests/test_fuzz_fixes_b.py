"""Disagreements with torch that the differential fuzzer (tests/test_fuzz_torch.py) found, each
reduced to a few lines run on torch and on ndgrad (``T`` is the library); the second part of
tests/test_fuzz_fixes.py, whose ``same`` compares the outcomes."""

from __future__ import annotations

import math

import pytest

from tests.test_fuzz_fixes import same


# -- cumprod's first-order gradient with zeros ----------------------------------------------------
@pytest.mark.parametrize("g", [[1.0, float("nan"), 2.0, float("inf"), 1.0],
                               [1.0, 2.0, float("nan"), 4.0, 5.0],
                               [float("-inf"), 2.0, 3.0, 4.0, float("nan")]])
def test_cumprod_gradient_ignores_what_a_zero_cuts_off(g):
    """Outside create_graph torch's cumprod_backward sums, for each x_k, only the gradients its
    derivative reaches (up to the first zero, or the second one for the first zero) and gives
    the elements after the first zero exactly 0: a NaN or infinite gradient beyond a zero does
    not turn them into NaN * 0 = NaN. Under create_graph torch sums the products: NaN."""
    def fn(T):
        x = T.tensor([[2.0, 0.0, 3.0, 0.0, 5.0], [0.5, 1.5, 0.0, -1.0, 2.0]],
                     dtype=T.float64, requires_grad=True)
        gt = T.tensor([g, g[::-1]], dtype=T.float64)
        x.cumprod(1).backward(gt)
        first = x.grad
        (second,) = T.autograd.grad(x.cumprod(1), [x], gt, create_graph=True)
        x.grad = None
        x.t().cumprod(0).backward(gt.t())
        return first, second, x.grad
    same(fn)


def test_prod_double_backward_with_zeros_and_a_nan_gradient():
    """prod's gradient with zeros is grad * (exclusive products), made of cumprods; the second
    backward, through sqrt(0)'s NaN gradient, is torch's 0 between the two zeros, where ndgrad
    gave NaN (fuzz seed 8202609)."""
    def fn(T):
        x = T.tensor([[[-2.0, 1.5, -2.0], [0.0, 1.5, 1.5]], [[0.5, -1.5, 0.0], [0.5, 1.5, -2.0]]],
                     dtype=T.float64, requires_grad=True)
        y = x.prod().sqrt()
        (g,) = T.autograd.grad((y * y).sum(), [x], create_graph=True)
        g.sum().backward()
        return g, x.grad
    same(fn)


# -- softmax of a 0-d tensor ----------------------------------------------------------------------
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_a_0d_tensor_is_a_tensor_of_its_own(op):
    """softmax(x) of a 0-d x was the 0-d view of a 1-d softmax: made under no_grad, it could not
    be changed in place with grad mode on, where torch's (a tensor of its own) can (fuzz seed
    8203855). Values and gradients (0, nan at +-inf and nan) stay torch's."""
    def fn(T):
        x = T.tensor([0.5, float("inf"), float("-inf"), float("nan")], dtype=T.float64,
                     requires_grad=True)
        with T.no_grad():
            y = getattr(x[0], op)(-1)
        y.copy_(x[0] * 2)
        outs = [getattr(x[i], op)(0) for i in range(4)]
        (g,) = T.autograd.grad(sum(outs), [x], create_graph=True)
        g.sum().backward()
        return y, y._base is None, *outs, g, x.grad
    same(fn)


# -- logsumexp over dim=() ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3), (3,), (1,), (), (0,), (2, 0)])
@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_of_no_dims_reduces_all_of_them(shape, dim, keepdim):
    """dim=() is every dim in torch's logsumexp, as in sum (ndgrad reduced none): with keepdim
    the result is all ones in shape; without it torch refuses a tensor with elements and dims
    (its kernel adds the kept-dims max to the 0-d sum in place) and passes a 0-d or empty one."""
    def fn(T):
        x = T.arange(float(max(1, math.prod(shape))))[:math.prod(shape)].reshape(shape)
        x.requires_grad_()
        y = x.logsumexp(dim, keepdim=keepdim)
        y.sum().backward()
        return y, x.grad, T.special.logsumexp(x, dim, keepdim)
    same(fn)


# -- var without degrees of freedom ---------------------------------------------------------------
@pytest.mark.parametrize("x,kw", [(float("nan"), {}), ([1.0, 3.0], {"correction": 2}),
                                  ([1.0, 3.0, 2.0], {"correction": 3}), (2.0, {"dim": 0}),
                                  ([[1.0, 2.0]], {"correction": 2, "keepdim": True}),
                                  ([1.0, 3.0], {"dim": 0, "correction": 2}), ([], {})])
def test_var_gradient_without_degrees_of_freedom(x, kw):
    """torch's var_backward of all of x (no dim, or a 0-d x) with n - correction <= 0 is
    grad * (nan where x is the mean, else inf): +inf for every x off the mean, and for a nan
    x, and a constant in x (the gradient needs no graph). ndgrad gave inf * (x - mean), so
    -inf below the mean and nan for a nan x. Given a dim, torch keeps 2 / 0 * (x - mean)."""
    def fn(T):
        v = T.tensor(x, dtype=T.float64, requires_grad=True)
        y = v.var(**kw)
        (g,) = T.autograd.grad(y, [v], T.full(y.shape, 3.0, dtype=T.float64),
                               create_graph=True)
        y = v.var(**kw)
        y.backward(T.full(y.shape, float("inf"), dtype=T.float64))
        return g, v.grad
    same(fn)


# -- prod of one element along the dim, with zeros -------------------------------------------------
@pytest.mark.parametrize("x,dim", [([[0.0], [2.0]], 1), ([[0.0, 1.0]], 0), ([0.0], 0),
                                   ([-0.0], None), ([[0.0], [2.0]], 0), ([2.0], None)])
def test_prod_of_one_element_with_zeros_passes_the_gradient_through(x, dim):
    """Where x has a zero, torch's prod_safe_zeros_backward returns the gradient itself when
    the dim has one element: under create_graph it is not a function of x (requires_grad
    False, and a backward through it alone raises). ndgrad built the product of the others
    (none) from x, so it required grad. Without zeros, torch's grad * (out / x) still is."""
    def fn(T):
        v = T.tensor(x, dtype=T.float64, requires_grad=True)
        y = v.prod() if dim is None else v.prod(dim)
        (g,) = T.autograd.grad(y, [v], T.full(y.shape, float("inf"), dtype=T.float64),
                               create_graph=True)
        y = v.prod() if dim is None else v.prod(dim, keepdim=True)
        y.backward(T.full(y.shape, float("nan"), dtype=T.float64))
        return g, v.grad
    same(fn)


# -- sigmoid's second derivative ------------------------------------------------------------------
@pytest.mark.parametrize("g", [float("inf"), float("-inf"), 2.0, float("nan")])
def test_sigmoid_second_derivative_with_an_infinite_gradient(g):
    """torch differentiates sigmoid's gradient as sigmoid_backward, d/d out = gg * grad *
    (1 - 2 out), one product: +-inf for an infinite grad. ndgrad's product rule through
    grad * out * (1 - out) added inf and -inf: nan. Third order goes through it again."""
    def fn(T):
        x = T.tensor([2.0, -1.0, 0.0, 30.0], dtype=T.float64, requires_grad=True)
        (gx,) = T.autograd.grad(x.sigmoid(), [x], T.full((4,), g, dtype=T.float64),
                                create_graph=True)
        (gg,) = T.autograd.grad((gx * gx).sum(), [x], create_graph=True)
        gg.sum().backward()
        return gx, gg, x.grad
    same(fn)


# -- a view rebuilt over a base whose elements share memory ---------------------------------------
@pytest.mark.parametrize("view", ["w[0]", "w[:, 1]", "w.t()", "w[0, :2]", "w.diagonal()"])
def test_a_view_rebuilt_over_an_expanded_base_splits_the_gradient(view):
    """w = x.expand(2, 3).detach().requires_grad_() is a leaf whose rows are one memory; after
    x changes in place, torch rebuilds the history of a view of w as as_strided of w, whose
    gradient is split among the elements of w sharing each position (0.5 each for w[0]).
    ndgrad replayed the view (select), giving the gradient to w[0] only (fuzz seed 8276303).
    Before any in-place change both give the view's own gradient."""
    def fn(T):
        x = T.tensor([1.0, 2.0, 3.0], dtype=T.float64)
        w = x.expand(2, 3).detach().requires_grad_()
        v = eval(view)
        (before,) = T.autograd.grad(v.sum(), [w])
        x.mul_(2)
        (g,) = T.autograd.grad((v * T.arange(1.0, v.numel() + 1).reshape(v.shape)).sum(), [w])
        return before, g
    same(fn)


# -- gradients that are constants: cat's 1-D empty inputs, as_strided with no elements ----------
def test_cat_of_only_empty_inputs_gives_each_a_constant_gradient():
    """torch's cat backward gives every 1-D empty input a fresh zeros(0), also when all inputs
    are such (the forward then keeps them): ndgrad sliced the gradient for them, so a double
    backward reached and freed the inputs' history, and a later backward through it raised
    where torch's runs (fuzz seed 8298176)."""
    def fn(T):
        x = T.zeros((0,), dtype=T.float32, requires_grad=True)
        y = x / x
        z = T.cat([y, x])
        gs = T.autograd.grad((z * z).sum(), [y, x], create_graph=True)
        (gx,) = T.autograd.grad((z * z).sum(), [x], create_graph=True)
        gx.sum().backward()
        y.sum().backward()
        return [g.requires_grad for g in gs], gx, x.grad
    same(fn)


@pytest.mark.parametrize("shape,size", [((0,), (0,)), ((2, 0), (0,)), ((3,), (0,)), ((3,), (2,))])
def test_as_strided_gradient_with_no_elements_is_a_constant(shape, size):
    """torch's as_strided_backward returns zeros, not a function of the gradient, where the
    input or the view has no elements."""
    def fn(T):
        x = T.ones(shape, dtype=T.float64, requires_grad=True)
        w = x * x
        (gw,) = T.autograd.grad((w.as_strided(size, (1,), 0) ** 2).sum(), [w], create_graph=True)
        return gw, gw.grad_fn is None
    same(fn)


def test_a_view_of_an_empty_base_is_rebuilt_as_torchs_as_strided():
    """v = w[1:] of an empty w, changed in place, is rebuilt by torch as as_strided of w, whose
    gradient is a constant: the double backward does not reach w's history, which a later
    backward still runs through (ndgrad's replayed slice reached and freed it, seed 8273790)."""
    def fn(T):
        x = T.zeros((0,), dtype=T.float64, requires_grad=True)
        w = x * x
        v = w[1:]
        v.sub_(1)
        (g,) = T.autograd.grad((v * v).sum(), [x], create_graph=True)
        g.sum().backward()
        (g2,) = T.autograd.grad((w * w).sum(), [x], create_graph=True)
        g2.sum().backward()
        return g, g2, x.grad
    same(fn)
