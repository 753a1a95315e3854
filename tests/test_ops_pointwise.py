"""Pointwise ops at their edges: every elementwise op of torch's OpInfo database on its
*reference* inputs (many more than the sweep's samples, with 0, -0.0, inf, nan, huge and tiny
values, integer extremes, broadcasting and 0-d tensors), forward and gradient against torch;
then hand-picked values where torch's gradient formulas have a convention to follow.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import assert_close, check_values

import ndgrad

pytest.importorskip("expecttest")  # torch's op_db imports it

import opinfo_runner as runner  # noqa: E402
from opinfo_skips import SKIPS, SPECIAL_ALIAS  # noqa: E402

DB = runner.op_db()
# The gamma-function family is checked against mpmath in tests/test_special.py: at its poles
# torch's second derivative is nan where ndgrad's is the limit, +-inf
SPECIAL_FUNCTIONS = {"digamma", "i0", "igamma", "igammac", "lgamma", "mvlgamma", "polygamma"}
# the elementwise ops of the database that ndgrad has (the table's other entries are not yet)
POINTWISE = sorted(
    k for k, op in DB.items()
    if (type(op).__name__ in ("UnaryUfuncInfo", "BinaryUfuncInfo")
        or k in ("addcmul", "addcdiv", "lerp", "clamp"))
    and runner.namespace(k) == "torch" and SKIPS.get(k, SPECIAL_ALIAS) == SPECIAL_ALIAS
    and not k.startswith("__")  # x.__rpow__(y): the same samples as pow, and some with a
    # number for the tensor (torch.Tensor.__rpow__(2.0, x)), which no one writes
    and k.split(".")[0] not in SPECIAL_FUNCTIONS)
INPLACE = sorted(runner.inplace_key(DB[k]) for k in POINTWISE
                 if DB[k].inplace_variant is not None and runner.inplace_key(DB[k]) not in SKIPS)
BY_INPLACE_KEY = {runner.inplace_key(op): op for op in DB.values()}
NO_GRAD_REFERENCE = {"addcmul", "addcdiv", "clamp"}  # torch's reference inputs fail with grad
MAX_NUMEL = 2000  # the reference inputs' big tensors test accuracy over ranges, not edges


def _dtypes(op: object) -> list[torch.dtype]:
    return runner.test_dtypes(op)


@pytest.mark.parametrize("k", POINTWISE)
def test_reference_inputs(k: str) -> None:
    op = DB[k]
    for dtype in _dtypes(op):
        runner.check_op(op, dtype, limit=None, reference=True, max_numel=MAX_NUMEL,
                        variants=False, requires_grad=k not in NO_GRAD_REFERENCE)


@pytest.mark.parametrize("k", INPLACE)
def test_reference_inputs_inplace(k: str) -> None:
    op = BY_INPLACE_KEY[k]
    for dtype in _dtypes(op):
        runner.check_inplace(op, dtype, limit=None, reference=True, max_numel=MAX_NUMEL,
                             requires_grad=op.name not in NO_GRAD_REFERENCE)


# -- gradients at the edges, first and second order ---------------------------------------------
EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, math.inf, -math.inf, math.nan, 1e-300, 3e38]
GRID = np.array(np.meshgrid(EDGES, EDGES)).reshape(2, -1)  # every pair of edge values


def check_edges(fn: object, *arrays: np.ndarray) -> None:
    """``fn(lib, *inputs)`` on torch and ndgrad in float64: the output, one vector-Jacobian
    product and the gradient of that (double backward), with the same random cotangent and
    weights. Unlike check_op's loss, a cotangent does not pass through more ops, whose own
    overflow at these values would decide the comparison."""
    rng = np.random.default_rng(0)
    tin = [torch.tensor(a, requires_grad=True) for a in arrays]
    nin = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    t_out, n_out = fn(torch, *tin), fn(ndgrad, *nin)  # type: ignore[operator]
    assert_close(n_out, t_out, np.float64, "output")
    if not t_out.requires_grad:
        return
    cot = rng.standard_normal(t_out.shape)
    tg = torch.autograd.grad(t_out, tin, torch.tensor(cot), create_graph=True,
                             allow_unused=True)
    ng = ndgrad.autograd.grad(n_out, nin, ndgrad.tensor(cot), create_graph=True,
                              allow_unused=True)
    for i, (n, t) in enumerate(zip(ng, tg)):
        if t is None:
            assert n is None or not np.any(n.numpy()), f"grad {i}: torch has none"
        else:
            assert_close(n, t, np.float64, f"grad of input {i}")
    pairs = [(n, t, rng.standard_normal(t.shape)) for n, t in zip(ng, tg)
             if t is not None and t.requires_grad]
    if not pairs:
        return
    t2 = sum((t * torch.tensor(w)).sum() for _, t, w in pairs)
    tgg = torch.autograd.grad(t2, tin, allow_unused=True)
    if not all(n.requires_grad for n, _, _ in pairs):
        assert all(t is None or not t.abs().sum() for t in tgg), "second derivative missing"
        return
    n2 = sum((n * ndgrad.tensor(w)).sum() for n, _, w in pairs)
    ngg = ndgrad.autograd.grad(n2, nin, allow_unused=True)
    for i, (n, t) in enumerate(zip(ngg, tgg)):
        if t is None:
            assert n is None or not np.any(n.numpy()), f"double grad {i}: torch has none"
        else:
            assert_close(n, t, np.float64, f"double grad of input {i}")


@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp", "logaddexp2", "xlogy",
                                  "copysign", "fmax", "fmin", "nextafter", "maximum", "minimum",
                                  "remainder", "fmod", "float_power", "pow"])
def test_binary_edges(name: str) -> None:
    x, y = GRID
    if name in ("remainder", "fmod"):
        # torch's vectorized kernels go through x / y, and give nan where it overflows
        # (3e38 mod 1e-300); NumPy's, as C's fmod, the exact remainder
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            keep = ~(np.isinf(x / y) & np.isfinite(x) & np.isfinite(y) & (y != 0))
        x, y = x[keep], y[keep]
    check_edges(lambda lib, a, b: getattr(lib, name)(a, b), x, y)


@pytest.mark.parametrize("name", ["asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
                                  "atanh", "sinc", "deg2rad", "rad2deg", "nan_to_num", "sgn",
                                  "angle", "positive", "square", "frac", "exp2", "expm1"])
def test_unary_edges(name: str) -> None:
    values = np.array(EDGES + [2.0, -0.999, 1.000001, 0.9999999])
    check_edges(lambda lib, x: getattr(lib, name)(x), values)


def test_nan_to_num_arguments() -> None:
    values = np.array([math.nan, math.inf, -math.inf, 1.5, -0.0])
    check_values([values], lambda lib, x: lib.nan_to_num(x, nan=2.0, posinf=9.0, neginf=-7.0))
    check_edges(lambda lib, x: lib.nan_to_num(x, posinf=1e39), values)
    x = ndgrad.tensor(values, dtype=ndgrad.float32)
    assert ndgrad.nan_to_num(x, posinf=1e39).tolist()[1] == math.inf  # float32: inf again


def test_round_decimals_edges() -> None:
    values = np.array([0.125, 0.135, -2.5, 2.5, 1234.5678, -0.0, 5e-324, math.inf, math.nan])
    for d in (0, 1, 2, 3, -1, -2, -3):
        check_values([values], lambda lib, x: lib.round(x, decimals=d))  # noqa: B023


def test_frexp_ldexp_round_trip() -> None:
    values = np.array([0.0, -0.0, 1.0, 0.75, -3.5, 1e-310, 1.7e308, math.inf, math.nan])
    check_values([values], lambda lib, x: lib.frexp(x), dtypes=(np.float64,))
    x = ndgrad.tensor(values)
    m, e = ndgrad.frexp(x)
    np.testing.assert_array_equal(ndgrad.ldexp(m, e).numpy(), values)


def test_lerp_tensor_weight_broadcast() -> None:
    check_values([np.zeros((3, 1)), np.arange(4.0), np.array([[0.0], [0.5], [2.0]])],
                 lambda lib, a, b, w: lib.lerp(a, b, w))


def test_addcmul_addcdiv_value_and_dtypes() -> None:
    check_values([np.ones(3), np.arange(3.0), np.array([2.0, -1.0, 0.5])],
                 lambda lib, a, b, c: lib.addcdiv(a, b, c, value=-0.5) + lib.addcmul(a, b, c,
                                                                                     value=3))
    x = ndgrad.tensor([1, 2])
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        x.addcdiv(x, x)
    with pytest.raises(RuntimeError, match="must not be a floating point number"):
        x.addcmul(x, x, value=0.5)


def test_int_shifts_and_bits_match_torch() -> None:
    for dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        info = torch.iinfo(dtype)
        a = torch.tensor([0, 1, 5, info.max, info.min, 100], dtype=dtype).reshape(-1, 1)
        b = torch.tensor([0, 1, 3, info.bits - 1, info.bits, info.bits + 5], dtype=dtype)
        na, nb = ndgrad.tensor(a.numpy()), ndgrad.tensor(b.numpy())
        for op in ("__lshift__", "__rshift__", "__and__", "__or__", "__xor__"):
            got, want = getattr(na, op)(nb), getattr(a, op)(b)
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=f"{op} {dtype}")
        # gcd and lcm without the extremes: where the result overflows, torch's follows C's
        # integer promotion (int8: gcd(127, -128) is -1), and int64's min crashes it (SIGFPE)
        np.testing.assert_array_equal((~na).numpy(), (~a).numpy())
        for op in ("gcd", "lcm"):
            got, want = getattr(na[:3], op)(nb), getattr(a[:3], op)(b)
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=f"{op} {dtype}")
    assert (3 << ndgrad.tensor([1, 2])).tolist() == [6, 12]
    with pytest.raises(RuntimeError, match="integer"):
        ndgrad.tensor([1.0]) << 1


def test_dtype_rules() -> None:
    i, b = ndgrad.tensor([1, 2]), ndgrad.tensor([True, False])
    f32 = ndgrad.tensor([1.0], dtype=ndgrad.float32)
    assert ndgrad.atan2(i, i).dtype == ndgrad.float32  # ints compute in the default float
    assert ndgrad.copysign(i, -1).dtype == ndgrad.float32
    assert ndgrad.float_power(f32, 2).dtype == ndgrad.float64
    assert ndgrad.xlogy(2, f32).dtype == ndgrad.float32  # a number first: a wrapped number
    assert ndgrad.pow(2, i).dtype == ndgrad.int64
    assert ndgrad.logical_and(f32, 0.0).dtype == ndgrad.bool
    assert f32.clone().eq_(1.0).dtype == ndgrad.float32  # in place: self's dtype
    assert ndgrad.signbit(i).dtype == ndgrad.bool and not ndgrad.signbit(b).any()
    with pytest.raises(RuntimeError, match="hypot_cpu.*Long"):
        ndgrad.hypot(i, i)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.clone().sqrt_()
    with pytest.raises(RuntimeError, match="float_power_"):
        f32.clone().float_power_(2)
    with pytest.raises(RuntimeError, match="bool tensor"):
        ndgrad.positive(b)
    with pytest.raises(RuntimeError, match="non-complex"):
        ndgrad.imag(f32)
    with pytest.raises(RuntimeError, match="different dtypes"):
        ndgrad.heaviside(f32, ndgrad.tensor([1.0], dtype=ndgrad.float64))


def test_inplace_without_gradient_keeps_the_graph() -> None:
    """x.eq_(y) on a tensor in the graph: its history gets a zero gradient (as torch), not the
    gradient of the overwritten value."""
    for lib in (torch, ndgrad):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x = a * 2
        x.eq_(4.0)
        assert x.requires_grad
        (g,) = lib.autograd.grad((x * lib.tensor([1.0, 2.0, 3.0])).sum(), a)
        assert g.tolist() == [0.0, 0.0, 0.0]


def test_inplace_records_when_only_the_argument_requires_grad() -> None:
    for lib in (torch, ndgrad):
        w = lib.tensor([0.25, 0.5], requires_grad=True)
        t1, t2 = lib.tensor([1.0, 2.0], requires_grad=True), lib.tensor([3.0, 4.0])
        x = lib.zeros(2)
        x.lerp_(lib.ones(2), w)
        x.addcmul_(t1, t2, value=2)
        g = lib.autograd.grad(x.sum(), [w, t1])
        assert [v.tolist() for v in g] == [[1.0, 1.0], [6.0, 8.0]]
