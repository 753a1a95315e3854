"""Elementwise ops against PyTorch: forward, gradients and double backward (see helpers.py)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from helpers import (
    BROADCAST_PAIRS,
    assert_close,
    assert_same,
    check_op,
    check_values,
    run_both,
)

import ndgrad

EDGE_SHAPES = [(), (1,), (0,), (3, 4), (2, 0, 3), (2, 1, 3)]
F32, F64 = np.float32, np.float64


# -- binary arithmetic, broadcasting -----------------------------------------------------------
BINARY = {
    "add": (lambda x, y: x + y, -2, 2),
    "sub": (lambda x, y: x - y, -2, 2),
    "mul": (lambda x, y: x * y, -2, 2),
    "div": (lambda x, y: x / y, 0.5, 2),
    "div_neg": (lambda x, y: x / -y, 0.5, 2),
    "pow": (lambda x, y: x ** y, 0.5, 2),
    "maximum": (lambda lib, x, y: lib.maximum(x, y), -2, 2),
    "minimum": (lambda lib, x, y: lib.minimum(x, y), -2, 2),
    "remainder": (lambda x, y: x % y, 0.5, 2),
    "fn_add": (lambda lib, x, y: lib.add(x, y, alpha=2.5), -2, 2),
    "fn_sub": (lambda lib, x, y: lib.sub(x, y, alpha=-1.5), -2, 2),
    "fn_mul": (lambda lib, x, y: lib.mul(x, y), -2, 2),
    "fn_div": (lambda lib, x, y: lib.div(x, y), 0.5, 2),
    "fn_pow": (lambda lib, x, y: lib.pow(x, y), 0.5, 2),
    "atan2_like": (lambda x, y: (x * y) / (x * x + y * y), 0.5, 2),
}


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcast(name, shapes):
    fn, low, high = BINARY[name]
    check_op(shapes, fn, low=low, high=high)


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_remainder_negative_operands(shapes):
    # Python/torch semantics: the result has the sign of the divisor
    check_op(shapes, lambda x, y: (x * 3) % -y, low=0.3, high=2)
    check_op(shapes, lambda x, y: (-x * 3) % y, low=0.3, high=2)


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_floor_divide_forward(shapes):
    # torch's floor_divide has no derivative: compare values only
    check_op(shapes, lambda x, y: (x * 3) // y, low=0.3, high=2, grad=False)
    check_op(shapes, lambda x, y: (x * 3) // -y, low=0.3, high=2, grad=False)
    check_op(shapes, lambda lib, x, y: lib.floor_divide(x, y), low=0.3, high=2, grad=False)


def test_pow_negative_base_integer_exponent():
    check_op([(3, 4)], lambda x: x ** 3)
    check_op([(3, 4)], lambda x: x ** 2)
    check_op([(3, 4)], lambda x: x ** -2, low=0.5, high=2)
    check_op([(3, 4)], lambda x: (-x) ** -3, low=0.5, high=2)
    check_op([(3, 4)], lambda x: x ** 0)
    check_op([(3, 4)], lambda x: x ** 1)
    check_op([(3, 4)], lambda x: x ** 0.5, low=0.2, high=2)


def test_pow_at_zero_base():
    # d/dy 0**y is 0 for y >= 0 (torch masks log(0)); d/dx x**y at x=0 for y=2 is 0
    check_values([[0.0, 1.5, 0.0, 2.0], [2.0, 3.0, 0.0, 0.5]], lambda x, y: x ** y,
                 gradgrad=False)
    check_values([[0.0, 1.5, 2.0]], lambda x: x ** 2)
    check_values([[0.0, 1.5, 2.0]], lambda x: 0.0 ** x, gradgrad=False)


# -- Python scalars on either side ------------------------------------------------------------
SCALAR_OPS = {
    "add_int": lambda x: x + 2,
    "radd_int": lambda x: 2 + x,
    "add_float": lambda x: x + 2.5,
    "radd_float": lambda x: 2.5 + x,
    "sub_int": lambda x: x - 3,
    "rsub_int": lambda x: 3 - x,
    "sub_float": lambda x: x - 0.5,
    "rsub_float": lambda x: 0.5 - x,
    "mul_int": lambda x: x * 3,
    "rmul_int": lambda x: -3 * x,
    "mul_float": lambda x: x * 1.5,
    "rmul_float": lambda x: 1.5 * x,
    "div_int": lambda x: x / 4,
    "rdiv_int": lambda x: 4 / x,
    "div_float": lambda x: x / 0.3,
    "rdiv_float": lambda x: 0.3 / x,
    "pow_int": lambda x: x ** 3,
    "rpow_int": lambda x: 2 ** x,
    "pow_float": lambda x: x ** 1.7,
    "rpow_float": lambda x: 1.7 ** x,
    "mod_float": lambda x: x % 0.7,
    "rmod_float": lambda x: 2.3 % x,
    "mod_int": lambda x: x % 2,
    "rmod_int": lambda x: 5 % x,
    "mod_neg": lambda x: x % -0.7,
    "bool_mul": lambda x: x * True,
    "neg": lambda x: -x,
    "pos": lambda x: +x,
}


@pytest.mark.parametrize("shape", [(), (1,), (0,), (3, 4)], ids=str)
@pytest.mark.parametrize("name", list(SCALAR_OPS))
def test_scalar_operand(name, shape):
    # torch has no derivative for remainder(scalar, tensor): compare values only there
    check_op([shape], SCALAR_OPS[name], low=0.5, high=2, grad=not name.startswith("rmod"))


@pytest.mark.parametrize("name", ["floordiv_int", "rfloordiv_int", "floordiv_float",
                                  "rfloordiv_float"])
def test_scalar_floor_divide(name):
    fn = {"floordiv_int": lambda x: x // 2, "rfloordiv_int": lambda x: 7 // x,
          "floordiv_float": lambda x: x // -0.3, "rfloordiv_float": lambda x: 2.5 // x}[name]
    check_op([(3, 4)], fn, low=-2, high=2, grad=False)
    check_op([()], fn, low=0.5, high=2, grad=False)


INT_OPS = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "truediv": lambda x, y: x / y, "floordiv": lambda x, y: x // y,
    "mod": lambda x, y: x % y, "pow": lambda x, y: x ** y.abs(),
    "max": lambda lib, x, y: lib.maximum(x, y), "min": lambda lib, x, y: lib.minimum(x, y),
    "add_s": lambda x, y: x + 3, "rsub_s": lambda x, y: 3 - y, "mul_f": lambda x, y: x * 1.5,
    "div_s": lambda x, y: x / 2, "rdiv_s": lambda x, y: 7 / y, "floordiv_s": lambda x, y: x // 2,
    "rfloordiv_s": lambda x, y: 7 // y, "mod_s": lambda x, y: x % 3, "rmod_s": lambda x, y: 7 % y,
    "pow_s": lambda x, y: x ** 2, "rpow_s": lambda x, y: 2 ** y.abs(),
    "fmod": lambda lib, x, y: lib.fmod(x, y), "trunc_div": lambda x, y: x.div(y,
                                                                               rounding_mode="trunc"),
    "floor_div": lambda x, y: x.div(y, rounding_mode="floor"), "neg": lambda x, y: -x,
    "abs": lambda x, y: x.abs(), "sign": lambda x, y: x.sign(), "square": lambda x, y: x.square(),
}


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
@pytest.mark.parametrize("name", list(INT_OPS))
def test_integer_tensors(name, dtype):
    rng = np.random.default_rng(1)
    lo = 1 if dtype == np.uint8 else -9
    x = rng.integers(lo, 10, size=(3, 5)).astype(dtype)
    y = rng.integers(1, 5, size=(5,)).astype(dtype)
    if dtype != np.uint8:
        y = y * np.where(rng.random(5) < 0.5, -1, 1).astype(dtype)
    fn = INT_OPS[name]
    wants_lib = fn.__code__.co_varnames[0] == "lib"
    t = fn(torch, torch.tensor(x), torch.tensor(y)) if wants_lib else fn(torch.tensor(x),
                                                                          torch.tensor(y))
    n = fn(ndgrad, ndgrad.tensor(x), ndgrad.tensor(y)) if wants_lib else fn(ndgrad.tensor(x),
                                                                             ndgrad.tensor(y))
    assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1], f"{n.dtype} vs {t.dtype}"
    np.testing.assert_allclose(n.numpy(), t.numpy(), rtol=1e-6)


def test_integer_division_by_zero_raises():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ndgrad.tensor([1, 2]) // ndgrad.tensor([1, 0])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ndgrad.tensor([1, 2]) % 0


def test_integer_negative_power_raises_for_a_python_exponent_only():
    with pytest.raises(RuntimeError, match="negative integer powers"):
        ndgrad.tensor([1, 2]) ** -1
    # a tensor exponent is computed, as torch does (issue 16.9)
    assert (ndgrad.tensor([1, 2, -1]) ** ndgrad.tensor([-1, -1, -3])).tolist() == [1, 0, -1]


def test_float_division_by_zero_gives_inf_nan():
    t, n = run_both(lambda lib, x, y: x / y, np.array([1.0, -1.0, 0.0]), np.zeros(3))
    assert_close(n, t)
    t, n = run_both(lambda lib, x, y: x % y, np.array([1.0, -1.0, 0.0]), np.zeros(3))
    assert_close(n, t)
    t, n = run_both(lambda lib, x, y: x // y, np.array([1.0, -1.0, 0.0]), np.zeros(3))
    assert_close(n, t)


# -- unary math --------------------------------------------------------------------------------
UNARY = {
    "neg": (lambda x: x.neg(), -2, 2),
    "abs": (lambda x: x.abs(), -2, 2),
    "abs_op": (lambda x: abs(x), -2, 2),
    "exp": (lambda x: x.exp(), -2, 2),
    "exp2": (lambda x: x.exp2(), -2, 2),
    "log": (lambda x: x.log(), 0.1, 3),
    "log2": (lambda x: x.log2(), 0.1, 3),
    "log10": (lambda x: x.log10(), 0.1, 3),
    "log1p": (lambda x: x.log1p(), -0.5, 2),
    "expm1": (lambda x: x.expm1(), -2, 2),
    "sqrt": (lambda x: x.sqrt(), 0.1, 3),
    "rsqrt": (lambda x: x.rsqrt(), 0.1, 3),
    "square": (lambda x: x.square(), -2, 2),
    "sin": (lambda x: x.sin(), -4, 4),
    "cos": (lambda x: x.cos(), -4, 4),
    "tan": (lambda x: x.tan(), -1.2, 1.2),
    "tanh": (lambda x: x.tanh(), -3, 3),
    "sigmoid": (lambda x: x.sigmoid(), -5, 5),
    "relu": (lambda x: x.relu(), -2, 2),
    "erf": (lambda x: x.erf(), -3, 3),
    "sign": (lambda x: x.sign(), -2, 2),
    "sgn": (lambda x: x.sgn(), -2, 2),
    "reciprocal": (lambda x: x.reciprocal(), 0.5, 2),
    "reciprocal_neg": (lambda x: (-x).reciprocal(), 0.5, 2),
    "floor": (lambda x: x.floor(), -3, 3),
    "ceil": (lambda x: x.ceil(), -3, 3),
    "round": (lambda x: x.round(), -3, 3),
    "round_decimals": (lambda x: x.round(decimals=2), -3, 3),
    "trunc": (lambda x: x.trunc(), -3, 3),
    "frac": (lambda x: x.frac(), -3, 3),
    "fn_exp": (lambda lib, x: lib.exp(x), -2, 2),
    "fn_sigmoid": (lambda lib, x: lib.sigmoid(x), -2, 2),
    "fn_erf": (lambda lib, x: lib.erf(x), -2, 2),
    "fn_sqrt": (lambda lib, x: lib.sqrt(x), 0.1, 2),
    "fn_abs": (lambda lib, x: lib.abs(x), -2, 2),
}


@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name, shape):
    fn, low, high = UNARY[name]
    # torch returns ZeroTensor gradients (which cannot become arrays) for sgn, and for abs of an
    # empty tensor; its relu gradient of an empty tensor requires grad, ndgrad's does not
    grad = name != "sgn" and not (0 in shape and "abs" in name)
    gradgrad = not (0 in shape and name == "relu")
    check_op([shape], fn, low=low, high=high, grad=grad, gradgrad=gradgrad)


def test_sigmoid_extremes():
    check_values([[-800.0, -100.0, -20.0, 0.0, 20.0, 100.0, 800.0]], lambda x: x.sigmoid())
    check_values([[-800.0, -30.0, 0.0, 30.0, 800.0]], lambda x: x.tanh())


def test_exp_log_extremes():
    check_values([[-1000.0, -50.0, 0.0, 50.0]], lambda x: x.exp(), gradgrad=False)
    check_values([[1e-30, 1e-10, 1.0, 1e10]], lambda x: x.log(), dtypes=(F64,))
    check_values([[-1e-10, 0.0, 1e-10, 1e-3]], lambda x: x.log1p(), dtypes=(F64,))
    check_values([[-1e-10, 0.0, 1e-10, 1e-3]], lambda x: x.expm1(), dtypes=(F64,))


def test_special_points_gradients():
    # torch: d|x|/dx at 0 is 0, relu'(0) = 0, sign and rounding have zero gradient
    pts = [[-1.5, -0.5, 0.0, 0.5, 1.5, 2.5]]
    for fn in (lambda x: x.abs(), lambda x: x.relu(), lambda x: x.sign(), lambda x: x.round(),
               lambda x: x.floor(), lambda x: x.ceil(), lambda x: x.trunc()):
        check_values(pts, fn)
    check_values([[0.0, 1.0, 4.0]], lambda x: x.sqrt(), gradgrad=False)


SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 0.5, -0.5, 1.5, -2.5, 88.0, -88.0,
           1e30, -1e30, 1000.0, 8.0, 100.0, 3.0]


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("name", ["neg", "abs", "exp", "exp2", "log", "log2", "log10", "log1p",
                                  "expm1", "sqrt", "rsqrt", "square", "sin", "cos", "tan", "tanh",
                                  "sigmoid", "erf", "sign", "sgn", "reciprocal", "floor", "ceil",
                                  "round", "trunc", "frac", "relu"])
def test_unary_special_values(name, dtype):
    # nan, infinities, signed zeros, subnormals, overflow: the same values as torch (log2(8) is
    # exactly 3, exp2(100) exactly 2**100, sign(nan) is 0)
    x = np.array(SPECIAL, dtype=dtype)
    with np.errstate(all="ignore"):
        t, n = run_both(lambda lib, v: getattr(v, name)(), x)
    a, b = n.numpy(), t.numpy()
    assert a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=2e-7 if dtype == F32 else 1e-15, atol=0,
                               equal_nan=True)
    zero = b == 0
    np.testing.assert_array_equal(np.signbit(a[zero]), np.signbit(b[zero]))


def test_round_half_to_even():
    vals = [[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 1.25, 1.35, -1.35]]
    check_values(vals, lambda x: x.round(), grad=False)
    check_values(vals, lambda x: x.round(decimals=1), grad=False)
    check_values(vals, lambda lib, x: lib.round(x, decimals=1), grad=False)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "sigmoid", "tanh", "erf", "exp2",
                                  "rsqrt", "reciprocal", "expm1", "log1p", "log2", "cos"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_unary_float_functions_of_integers(name, dtype):
    # integer inputs of float functions give the default float dtype, like torch
    x = np.array([1, 2, 3, 1], dtype=dtype)
    t, n = run_both(lambda lib, x: getattr(x, name)(), x)
    assert_close(n, t, np.float32)


@pytest.mark.parametrize("name", ["neg", "abs", "sign", "floor", "ceil", "round", "trunc",
                                  "square", "relu"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_unary_integer_preserving(name, dtype):
    x = np.array([1, 2, 3, 0, 7], dtype=dtype)
    if dtype != np.uint8:
        x = x * np.array([1, -1, 1, 1, -1], dtype=dtype)
    t, n = run_both(lambda lib, x: getattr(x, name)(), x)
    assert_same(n, t, name)


def test_bool_unary():
    x = np.array([True, False, True])
    for name in ("sign", "logical_not", "__invert__"):
        t, n = run_both(lambda lib, x, name=name: getattr(x, name)(), x)
        assert_same(n, t, name)


# -- clamp ---------------------------------------------------------------------------------------
CLAMPS = {
    "both": lambda x: x.clamp(-0.5, 0.7),
    "min": lambda x: x.clamp(min=-0.3),
    "max": lambda x: x.clamp(max=0.4),
    "int_bounds": lambda x: x.clamp(-1, 1),
    "clip": lambda x: x.clip(-0.5, 0.5),
    "fn": lambda lib, x: lib.clamp(x, min=-0.2, max=0.3),
    "fn_clip": lambda lib, x: lib.clip(x, max=0.3),
    "clamp_min": lambda x: x.clamp_min(0.1),
    "clamp_max": lambda x: x.clamp_max(0.1),
    "inverted": lambda x: x.clamp(0.5, -0.5),  # min > max: everything is max
}


@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(CLAMPS))
def test_clamp_scalar_bounds(name, shape):
    check_op([shape], CLAMPS[name])


def test_clamp_at_bounds():
    # bounds are inclusive for the gradient, as in torch
    check_values([[-1.0, -0.5, 0.0, 0.5, 1.0]], lambda x: x.clamp(-0.5, 0.5))
    check_values([[-1.0, -0.5, 0.0, 0.5, 1.0]], lambda x: x.clamp(min=0.5))
    check_values([[-1.0, -0.5, 0.0, 0.5, 1.0]], lambda x: x.clamp(max=-0.5))


@pytest.mark.parametrize("shapes", [[(3, 4), (4,), (3, 1)], [(2, 3), (), (2, 3)],
                                    [(5,), (5,), (5,)], [(2, 3), (3,), ()],
                                    [(0, 2), (2,), (1,)]], ids=str)
def test_clamp_tensor_bounds(shapes):
    check_op(shapes, lambda x, lo, hi: x.clamp(lo - 0.5, hi + 0.5))
    check_op(shapes, lambda x, lo, hi: x.clamp(min=lo))
    check_op(shapes, lambda x, lo, hi: x.clamp(max=hi))
    check_op(shapes, lambda lib, x, lo, hi: lib.clamp(x, lo, hi))  # includes lo > hi
    check_op(shapes, lambda lib, x, lo, hi: lib.clamp(x, lo, hi), requires_grad=[True, False,
                                                                                 True])


def test_clamp_tensor_bounds_ties_and_inverted():
    x = [-1.0, 0.0, 0.5, 1.0, 2.0, 0.0]
    lo = [-1.0, 0.5, 0.5, -2.0, 3.0, 1.0]
    hi = [0.0, -0.5, 0.5, 1.0, 1.0, 0.0]
    check_values([x, lo, hi], lambda x, lo, hi: x.clamp(lo, hi))
    check_values([x, lo, hi], lambda x, lo, hi: x.clamp(min=lo))
    check_values([x, lo, hi], lambda x, lo, hi: x.clamp(max=hi))


def test_clamp_integer_and_nan():
    t, n = run_both(lambda lib, x: x.clamp(-2, 3), np.arange(-5, 6))
    assert_same(n, t)
    t, n = run_both(lambda lib, x: x.clamp(-2.5, 3), np.arange(-5, 6))
    assert_same(n, t)
    t, n = run_both(lambda lib, x: x.clamp(-1.0, 1.0), np.array([np.nan, 2.0, -np.inf],
                                                                 dtype=np.float32))
    assert_close(n, t, np.float32)
    with pytest.raises(RuntimeError, match="At least one"):
        ndgrad.tensor([1.0]).clamp()


# -- maximum / minimum ties --------------------------------------------------------------------
def test_maximum_minimum_ties_split_gradient():
    x = [1.0, 2.0, -1.0, 0.5, 3.0]
    y = [1.0, 1.0, -1.0, 0.7, 3.0]
    for fn in (lambda lib, x, y: lib.maximum(x, y), lambda lib, x, y: lib.minimum(x, y),
               lambda lib, x, y: lib.max(x, y), lambda lib, x, y: lib.min(x, y),
               lambda x, y: x.maximum(y) * x.minimum(y)):
        check_values([x, y], fn)


def test_maximum_nan_propagates():
    t, n = run_both(lambda lib, x, y: lib.maximum(x, y), np.array([np.nan, 1.0, 2.0]),
                    np.array([0.0, np.nan, 1.0]))
    assert_close(n, t)
    t, n = run_both(lambda lib, x, y: lib.minimum(x, y), np.array([np.nan, 1.0, 2.0]),
                    np.array([0.0, np.nan, 1.0]))
    assert_close(n, t)


def test_maximum_mixed_dtypes():
    t, n = run_both(lambda lib, x, y: lib.maximum(x, y), np.array([1, 5, -3]),
                    np.array([2.5, 1.0, 0.0], dtype=np.float32))
    assert_same(n, t)


# -- where, lerp, masked_fill ------------------------------------------------------------------
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_where_broadcast(shapes):
    check_op(shapes, lambda lib, x, y: lib.where(x > y, x, y))
    check_op(shapes, lambda lib, x, y: lib.where(x > 0, y, x * 2))
    check_op(shapes, lambda lib, x, y: lib.where(y > 0.5, x, 0.0))
    check_op(shapes, lambda lib, x, y: lib.where(y > 0.5, -1.5, x))
    check_op(shapes, lambda x, y: x.where(y > 0, y))


def test_where_condition_shapes_and_dtypes():
    check_op([(3, 1), (1, 4)], lambda lib, x, y: lib.where(
        lib.tensor([True, False, True, True]), x, y))
    t, n = run_both(lambda lib, c, x: lib.where(c, x, 2.5), np.array([True, False]),
                    np.array([1, 2]))
    assert_same(n, t)
    t, n = run_both(lambda lib, c, x: lib.where(c, x, 2), np.array([True, False]),
                    np.array([1.0, 2.0], dtype=np.float32))
    assert_same(n, t)
    t, n = run_both(lambda lib, c, x, y: lib.where(c, x, y), np.array([True, False]),
                    np.array([1, 2]), np.array([1.0, 2.0]))
    assert_same(n, t)
    t, n = run_both(lambda lib, c: lib.where(c), np.array([[True, False], [False, True]]))
    for a, b in zip(n, t):
        assert_same(a, b)


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4), (3, 4)], [(3, 4), (4,), ()],
                                    [(), (2, 3), (3,)], [(0, 3), (3,), (1, 3)]], ids=str)
def test_lerp(shapes):
    check_op(shapes, lambda lib, x, y, w: lib.lerp(x, y, w))
    check_op(shapes, lambda x, y, w: x.lerp(y, 0.3))
    check_op(shapes, lambda x, y, w: x.lerp(y, 1.7))


@pytest.mark.parametrize("shape", [(3, 4), (), (0, 2), (2, 1, 3)], ids=str)
def test_masked_fill(shape):
    check_op([shape], lambda x: x.masked_fill(x > 0.3, 0.0))
    check_op([shape], lambda x: x.masked_fill(x > 0.3, -float("inf")).exp())
    check_op([shape], lambda lib, x: lib.masked_fill(x, x < 0, 7))
    check_op([shape, ()], lambda x, v: x.masked_fill(x > 0, v))  # differentiable value
    check_op([shape, ()], lambda x, v: x.masked_fill(x > 0, v), requires_grad=[False, True])


def test_masked_fill_broadcast_mask_and_errors():
    check_op([(3, 4)], lambda lib, x: x.masked_fill(lib.tensor([True, False, False, True]), 2.0))
    with pytest.raises(RuntimeError, match="boolean"):
        ndgrad.zeros(3).masked_fill(ndgrad.tensor([1, 0, 1]), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional"):
        ndgrad.zeros(3).masked_fill(ndgrad.zeros(3) > 0, ndgrad.ones(3))
    t, n = run_both(lambda lib, x: x.masked_fill(x > 1, 2.7), np.array([1, 2, 3]))
    assert_same(n, t)


# -- comparisons and logic ---------------------------------------------------------------------
COMPARE = {
    "eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "lt": lambda x, y: x < y,
    "le": lambda x, y: x <= y, "gt": lambda x, y: x > y, "ge": lambda x, y: x >= y,
    "m_eq": lambda x, y: x.eq(y), "m_ne": lambda x, y: x.ne(y), "m_lt": lambda x, y: x.lt(y),
    "m_le": lambda x, y: x.le(y), "m_gt": lambda x, y: x.gt(y), "m_ge": lambda x, y: x.ge(y),
    "f_eq": lambda lib, x, y: lib.eq(x, y), "f_lt": lambda lib, x, y: lib.lt(x, y),
    "f_ge": lambda lib, x, y: lib.ge(x, y), "f_ne": lambda lib, x, y: lib.ne(x, y),
}


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", list(COMPARE))
def test_comparisons_broadcast(name, shapes):
    # rounded inputs have ties, so == / <= / >= are exercised
    fn = COMPARE[name]
    if fn.__code__.co_varnames[0] == "lib":
        check_op(shapes, lambda lib, x, y: fn(lib, x.round(), y.round()))
    else:
        check_op(shapes, lambda x, y: fn(x.round(), y.round()))


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_scalars_and_dtypes(name):
    op = COMPARE[name]
    x = np.array([-1.0, 0.0, 1.0, 2.0, np.nan], dtype=np.float32)
    i = np.array([-1, 0, 1, 2, 3])
    for fn, arrays in [
        (lambda lib, x: op(x, 1), (x,)), (lambda lib, x: op(x, 1.0), (x,)),
        (lambda lib, x: op(1, x), (x,)), (lambda lib, x: op(0.5, x), (x,)),
        (lambda lib, x: op(x, 0.5), (i,)), (lambda lib, x: op(x, True), (i,)),
        (lambda lib, x, y: op(x, y), (x, i)), (lambda lib, x, y: op(x, y), (i, x.astype(F64))),
        (lambda lib, x: op(x, x), (np.array([True, False]),)),
        (lambda lib, x: op(x, 1), (np.array([0, 1, 255], dtype=np.uint8),)),
        (lambda lib, x: op(x, -1), (np.array([0, 1, 255], dtype=np.uint8),)),
    ]:
        t, n = run_both(fn, *arrays)
        assert_same(n, t, name)


def test_comparison_results_do_not_require_grad():
    x = ndgrad.randn(3, requires_grad=True)
    for out in (x > 0, x == x, x.eq(1.0), x.isnan(), x.logical_not()):
        assert out.dtype == ndgrad.bool and not out.requires_grad and out.grad_fn is None


LOGIC = {
    "and": lambda lib, x, y: lib.logical_and(x, y), "or": lambda lib, x, y: lib.logical_or(x, y),
    "xor": lambda lib, x, y: lib.logical_xor(x, y), "not": lambda lib, x, y: lib.logical_not(x),
    "m_and": lambda lib, x, y: x.logical_and(y), "m_not": lambda lib, x, y: y.logical_not(),
    "bit_and": lambda lib, x, y: (x > 0) & (y > 0), "bit_or": lambda lib, x, y: (x > 0) | (y > 0),
    "bit_xor": lambda lib, x, y: (x > 0) ^ (y > 0), "invert": lambda lib, x, y: ~(x > 0),
}


@pytest.mark.parametrize("name", list(LOGIC))
def test_logical(name):
    fn = LOGIC[name]
    b = np.array([[True, False, True], [False, False, True]])
    f = np.array([0.0, 1.5, -2.0], dtype=np.float32)
    i = np.array([0, 3, -1])
    for x, y in [(b, b[::-1].copy()), (f, b), (i, f), (b, i[None]), (f, f[::-1].copy())]:
        if name.startswith("bit") or name == "invert":
            x, y = x.astype(F32), y.astype(F32)
        t, n = run_both(fn, x, y)
        assert_same(n, t, name)


def test_bitwise_on_integers():
    a, b = np.array([1, 6, -3]), np.array([3, 5, 7])
    for fn in (lambda lib, x, y: x & y, lambda lib, x, y: x | y, lambda lib, x, y: x ^ y,
               lambda lib, x, y: ~x, lambda lib, x, y: x & 2):
        t, n = run_both(fn, a, b)
        assert_same(n, t)
    with pytest.raises(RuntimeError):
        ndgrad.tensor([1.0]) & ndgrad.tensor([1.0])


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
def test_isnan_isinf_isfinite(name):
    x = np.array([0.0, -1.5, np.nan, np.inf, -np.inf, 1e38], dtype=np.float32)
    for arr in (x, x.astype(F64), np.array([1, 2]), np.array([True]), np.zeros((0, 2)),
                np.array(np.nan)):
        t, n = run_both(lambda lib, v: getattr(lib, name)(v), arr)
        assert_same(n, t, name)
        t, n = run_both(lambda lib, v: getattr(v, name)(), arr)
        assert_same(n, t, name)


# -- erf accuracy ------------------------------------------------------------------------------
def test_erf_accuracy_float64():
    # more than one 32768-element chunk, every branch (|x| <= 0.5, <= 4, > 4), both tails
    xs = np.concatenate([np.linspace(-7, 7, 40001), [0.0, -0.0, 1e-300, -1e-300, 1e-20, 1e-8,
                                                     0.5, 0.84375, 0.8437500001, 1.25,
                                                     2.857, 2.8571428, 6, 5.9999, 27, -27,
                                                     1e300, -1e300],
                         np.geomspace(1e-12, 30, 3000), -np.geomspace(1e-12, 30, 3000)])
    got = ndgrad.tensor(xs).erf().numpy()
    ref = np.array([math.erf(v) for v in xs])
    tref = torch.erf(torch.tensor(xs)).numpy()
    # within 2 ulp of libm's erf (and of torch's) everywhere, exact zero at zero
    np.testing.assert_allclose(got, ref, rtol=5e-16, atol=0)
    np.testing.assert_allclose(got, tref, rtol=5e-16, atol=0)
    assert np.mean(got == ref) > 0.5  # most values correctly rounded
    for v in (np.array([-0.0]), np.full(300, -0.0)):  # erf(-0) is -0, tiny and vector paths
        assert np.signbit(ndgrad.tensor(v).erf().numpy()).all()


@pytest.mark.parametrize("shape", [(), (5,), (300,), (3, 200)], ids=str)
def test_erf_shapes_and_branches(shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) * np.where(rng.random(shape) < 0.5, 0.3, 3.0)
    got = ndgrad.tensor(x).erf().numpy()
    np.testing.assert_allclose(got, np.vectorize(math.erf)(x), rtol=5e-16, atol=0)
    assert got.shape == x.shape
    small = x * 0.1  # every |x| <= 0.5: the one-formula path
    np.testing.assert_allclose(ndgrad.tensor(small).erf().numpy(), np.vectorize(math.erf)(small),
                               rtol=5e-16, atol=0)


def test_erf_special_values_and_dtypes():
    x = np.array([0.0, np.inf, -np.inf, np.nan, 1.0, 4.5, -30.0, 0.2], dtype=F32)
    for dt in (F32, F64):
        for arr in (x.astype(dt), np.tile(x, 100).astype(dt)):  # math.erf and vector paths
            t, n = run_both(lambda lib, v: lib.erf(v), arr)
            assert_close(n, t, dt)
            assert n.dtype == (ndgrad.float32 if dt == F32 else ndgrad.float64)
    xs = np.linspace(-6, 6, 5001).astype(F32)
    t, n = run_both(lambda lib, v: v.erf(), xs)
    np.testing.assert_allclose(n.numpy(), t.numpy(), rtol=2e-7, atol=1e-7)
    h = ndgrad.tensor(np.array([0.5, -2.0], dtype=np.float16)).erf()
    assert h.dtype == ndgrad.float16
    np.testing.assert_allclose(h.numpy(), [math.erf(0.5), math.erf(-2.0)], rtol=1e-3)


def test_erf_gradients_in_tails():
    check_values([[-6.0, -3.0, -1e-5, 0.0, 1e-5, 0.5, 3.0, 6.0]], lambda x: x.erf())


# -- hypothesis: random broadcastable shapes ---------------------------------------------------
def test_binary_ops_random_broadcast_shapes():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis.extra.numpy import mutually_broadcastable_shapes

    ops = [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y,
           lambda x, y: x / (y * y + 0.5), lambda lib, x, y: lib.maximum(x, y),
           lambda lib, x, y: lib.where(x > y, x * y, y)]

    @hypothesis.settings(max_examples=40, deadline=None, derandomize=True)
    @hypothesis.given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                           min_side=0, max_side=3),
                      op=hypothesis.strategies.sampled_from(ops))
    def run(shapes, op):
        check_op(shapes.input_shapes, op, dtypes=(F64,))

    run()


def test_broadcast_mismatch_error():
    msg = r"size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dim"
    with pytest.raises(RuntimeError, match=msg):
        ndgrad.zeros(2, 3) + ndgrad.zeros(4)
    with pytest.raises(RuntimeError, match=msg):
        ndgrad.maximum(ndgrad.zeros(2, 3), ndgrad.zeros(5, 4))
    with pytest.raises(RuntimeError, match="must match"):
        ndgrad.where(ndgrad.zeros(2, 3) > 0, ndgrad.zeros(3), ndgrad.zeros(2))
    with pytest.raises(RuntimeError, match="must match"):
        ndgrad.zeros(2, 3, requires_grad=True) * ndgrad.zeros(2)


@pytest.mark.parametrize("make", [
    lambda r: r.standard_normal((64, 8, 28, 28)).astype(np.float32),  # C order, chunked
    lambda r: r.standard_normal((16, 64, 14, 14)).astype(np.float32).transpose(1, 0, 2, 3),
    lambda r: r.standard_normal((64, 8, 28, 28)).astype(np.float32)[:, :, ::2, ::-1],
    lambda r: r.standard_normal((70000,)),  # float64, a partial last chunk
])
def test_relu_of_large_arrays_matches_torch_and_keeps_the_memory_layout(make):
    """relu of big and permuted arrays (NumPy's clip loop, see ops/elementwise.py::_relu)."""
    arr = make(np.random.default_rng(0))
    arr[(0,) * (arr.ndim - 1) + (slice(0, 3),)] = [np.nan, -0.0, np.inf]
    x = ndgrad.tensor(arr, requires_grad=True)
    out = x.relu()
    tx = torch.tensor(np.ascontiguousarray(arr), requires_grad=True)
    expected = torch.relu(tx)
    assert np.array_equal(out.detach().numpy(), expected.detach().numpy(), equal_nan=True)
    from ndgrad.ops.elementwise import _relu

    assert _relu(arr).strides == np.maximum(arr, 0).strides  # conv outputs: channels first
    out.sum().backward()
    expected.sum().backward()
    assert np.array_equal(x.grad.numpy(), tx.grad.numpy())


def test_relu_gradient_at_nan_zero_and_negative_zero_matches_torch():
    vals = [float("nan"), -1.0, 0.0, -0.0, 2.0]
    for lib in (torch, ndgrad):
        x = lib.tensor(vals, requires_grad=True)
        x.relu().sum().backward()
        if lib is torch:
            expected = x.grad.numpy()
        else:
            assert np.array_equal(x.grad.numpy(), expected)  # [1, 0, 0, 0, 1]


@pytest.mark.parametrize("call", [
    lambda lib, x, y, z: x.add(-0.5, y), lambda lib, x, y, z: x.sub(2, y),
    lambda lib, x, y, z: lib.add(x, 3, y), lambda lib, x, y, z: x.clone().add_(-0.5, y),
    lambda lib, x, y, z: x.clone().sub_(0.25, y), lambda lib, x, y, z: x.addcmul(0.5, y, z),
    lambda lib, x, y, z: x.addcdiv(-2, y, z), lambda lib, x, y, z: lib.addcdiv(x, 3, y, z),
    lambda lib, x, y, z: x.clone().addcmul_(0.5, y, z),
    lambda lib, x, y, z: x.clone().addcdiv_(1.5, y, z)])
def test_deprecated_number_first_overloads_as_torch(call):
    # old optimizers and examples write p.data.add_(-lr, grad), exp_avg_sq.addcmul_(1 - b, g, g)
    x, y, z = (np.random.RandomState(i).uniform(0.5, 2, (2, 3)).astype(F32) for i in range(3))
    with pytest.warns(UserWarning, match="This overload of .* is deprecated"):
        ours = call(ndgrad, *(ndgrad.tensor(a) for a in (x, y, z)))
    with warnings.catch_warnings():  # torch warns once a process
        warnings.simplefilter("ignore")
        theirs = call(torch, *(torch.tensor(a) for a in (x, y, z)))
    assert_same(ours, theirs, rtol=1e-6)
