"""dtype inference and type promotion, always compared with what torch itself returns."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import ndgrad

NAMES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]
VALUES = {"bool": [True, False, True]}  # every other dtype: [1, 2, 3]


def make(lib, name, shape=(3,)):
    vals = VALUES.get(name, [1, 2, 3])
    data = vals[0] if shape == () else vals[:shape[0]]
    return lib.tensor(data, dtype=getattr(lib, name))


def dname(t):
    """'float32' for torch.float32, ndgrad.float32 and tensors of those dtypes."""
    return str(getattr(t, "dtype", t)).split(".")[1]


def outcome(fn, lib, *args):
    """('ok', dtype name, values) or ('error', exception type name)."""
    try:
        out = fn(lib, *args)
    except (RuntimeError, TypeError, ValueError, OverflowError) as e:
        return ("error", type(e).__name__)
    return ("ok", dname(out), np.asarray(out.tolist(), dtype=np.float64))


BINARY = {
    "add": lambda lib, a, b: a + b, "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b, "truediv": lambda lib, a, b: a / b,
    "floordiv": lambda lib, a, b: a // b, "mod": lambda lib, a, b: a % b,
    "pow": lambda lib, a, b: a ** b, "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: lib.minimum(a, b), "eq": lambda lib, a, b: a == b,
    "lt": lambda lib, a, b: a < b, "ge": lambda lib, a, b: a >= b,
    "where": lambda lib, a, b: lib.where(lib.tensor([True, False, True]), a, b),
    "add_alpha": lambda lib, a, b: lib.add(a, b, alpha=2),
    "cat": lambda lib, a, b: lib.cat([a, b]),
    "fmod": lambda lib, a, b: lib.fmod(a, b),
    "logical_and": lambda lib, a, b: lib.logical_and(a, b),
}

TENSOR_PAIRS = list(itertools.product(NAMES, NAMES))


def _compare(name, fn, *args_builders):
    t = outcome(fn, torch, *(b(torch) for b in args_builders))
    n = outcome(fn, ndgrad, *(b(ndgrad) for b in args_builders))
    if t[0] == "error":
        # torch refuses (bool - bool, int ** negative, ...): ndgrad may refuse or compute
        return
    assert n[0] == "ok", f"{name}: ndgrad raised {n[1]}, torch gives {t[1]}"
    assert n[1] == t[1], f"{name}: ndgrad dtype {n[1]}, torch {t[1]}"
    np.testing.assert_allclose(n[2], t[2], rtol=1e-3, err_msg=name)


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("shapes", [((3,), (3,)), ((), (3,)), ((3,), ()), ((), ())], ids=str)
def test_tensor_tensor_promotion(op, shapes):
    """Every pair of dtypes, dimensioned and 0-dim tensors on each side, as torch promotes."""
    fn = BINARY[op]
    for a, b in TENSOR_PAIRS:
        _compare(f"{op}({a}{list(shapes[0])}, {b}{list(shapes[1])})", fn,
                 lambda lib, a=a: make(lib, a, shapes[0]), lambda lib, b=b: make(lib, b, shapes[1]))


SCALARS = [2, -1, 2.5, True, 0, 300, -3.5, 1e10, False]


@pytest.mark.parametrize("op", [o for o in BINARY if o not in ("cat", "where", "add_alpha")])
def test_tensor_scalar_promotion(op):
    """Python numbers on either side never upcast a tensor of their own category."""
    fn = BINARY[op]
    for a, s in itertools.product(NAMES, SCALARS):
        if op in ("truediv", "floordiv", "mod", "fmod") and s in (0, False):
            continue
        if op == "maximum" or op == "minimum" or op == "logical_and":
            continue  # torch takes tensors only there
        _compare(f"{op}({a}, {s!r})", fn, lambda lib, a=a: make(lib, a),
                 lambda lib, s=s: s)
        if op in ("fmod",):
            continue
        _compare(f"{op}({s!r}, {a})", lambda lib, x, y: fn(lib, y, x),
                 lambda lib, a=a: make(lib, a), lambda lib, s=s: s)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "tanh", "sigmoid", "erf", "abs",
                                  "neg", "floor", "sign", "relu", "square", "reciprocal", "exp2",
                                  "mean", "sum", "prod", "cumsum", "amax", "argmax", "var",
                                  "logsumexp", "norm", "all", "any", "clamp", "isnan",
                                  "logical_not", "round", "trunc", "ceil"])
def test_unary_and_reduction_dtypes(name):
    extra = {"cumsum": (0,), "logsumexp": (0,), "clamp": (0, 2)}.get(name, ())
    for a in NAMES:
        _compare(f"{name}({a})", lambda lib, x: getattr(x, name)(*extra), lambda lib, a=a: make(
            lib, a, (3,)))


def test_result_type_and_promote_types_match_torch():
    for a, b in TENSOR_PAIRS:
        ta, tb = getattr(torch, a), getattr(torch, b)
        na, nb = getattr(ndgrad, a), getattr(ndgrad, b)
        assert dname(ndgrad.promote_types(na, nb)) == dname(torch.promote_types(ta, tb)), (a, b)
        for sa, sb in [((3,), (3,)), ((), (3,)), ((3,), ()), ((), ())]:
            t = torch.result_type(make(torch, a, sa), make(torch, b, sb))
            n = ndgrad.result_type(make(ndgrad, a, sa), make(ndgrad, b, sb))
            assert dname(n) == dname(t), f"result_type({a}{list(sa)}, {b}{list(sb)}): {n} vs {t}"
        for s in SCALARS:
            t, n = torch.result_type(make(torch, a), s), ndgrad.result_type(make(ndgrad, a), s)
            assert dname(n) == dname(t), f"result_type({a}, {s!r}): {n} vs {t}"


# -- the rules named in the issue, spelled out --------------------------------------------------
def test_promotion_rules_from_the_issue():
    f32 = ndgrad.ones(3)
    assert (f32 * 2.5).dtype == ndgrad.float32  # a Python float never upcasts float32
    assert (2.5 + f32).dtype == ndgrad.float32
    ints = ndgrad.tensor([1, 2])
    assert (ints * 2.5).dtype == ndgrad.float32  # int tensor * Python float: default float
    assert (ints / ints).dtype == ndgrad.float32  # int / int is a float division
    assert (ints + f32[:2]).dtype == ndgrad.float32
    assert (f32 + ndgrad.ones(3, dtype=ndgrad.float64)).dtype == ndgrad.float64
    assert (ndgrad.tensor(1.0, dtype=ndgrad.float64) + f32).dtype == ndgrad.float32  # 0-dim
    u8 = ndgrad.tensor([1, 2], dtype=ndgrad.uint8)
    assert (u8 + 5).dtype == ndgrad.uint8
    assert (ndgrad.tensor([True, False]) + 1).dtype == ndgrad.int64
    assert (f32 > 0).dtype == ndgrad.bool and (ints == ints).dtype == ndgrad.bool
    assert ndgrad.tensor([1, 2]).dtype == ndgrad.int64
    assert ndgrad.tensor([1.0]).dtype == ndgrad.float32
    assert ndgrad.tensor(np.zeros(2)).dtype == ndgrad.float64
    assert ndgrad.tensor(True).dtype == ndgrad.bool


CREATION = {
    "ints": lambda lib: lib.tensor([1, 2]),
    "floats": lambda lib: lib.tensor([1.0]),
    "mixed": lambda lib: lib.tensor([1, 2.5]),
    "bool": lambda lib: lib.tensor(True),
    "bools": lambda lib: lib.tensor([True, False]),
    "bool_int": lambda lib: lib.tensor([True, 2]),
    "int": lambda lib: lib.tensor(3),
    "float": lambda lib: lib.tensor(3.5),
    "empty": lambda lib: lib.tensor([]),
    "nested": lambda lib: lib.tensor([[1, 2], [3, 4]]),
    "np_f64": lambda lib: lib.tensor(np.zeros(2)),
    "np_f32": lambda lib: lib.tensor(np.zeros(2, np.float32)),
    "np_i32": lambda lib: lib.tensor(np.arange(3, dtype=np.int32)),
    "np_u8": lambda lib: lib.tensor(np.arange(3, dtype=np.uint8)),
    "np_bool": lambda lib: lib.tensor(np.array([True])),
    "np_scalar_f64": lambda lib: lib.tensor(np.float64(1.5)),
    "np_scalar_f32": lambda lib: lib.tensor(np.float32(1.5)),
    "np_scalar_i64": lambda lib: lib.tensor(np.int64(3)),
    "dtype_arg": lambda lib: lib.tensor([1, 2], dtype=lib.float64),
    "dtype_arg_int": lambda lib: lib.tensor([1.7, -2.7], dtype=lib.int32),
    "dtype_bool": lambda lib: lib.tensor([0.0, 2.0], dtype=lib.bool),
    "zeros": lambda lib: lib.zeros(2),
    "ones_int": lambda lib: lib.ones(2, dtype=lib.int64),
    "arange_int": lambda lib: lib.arange(5),
    "arange_float": lambda lib: lib.arange(0, 1, 0.25),
    "arange_float_end": lambda lib: lib.arange(5.0),
    "full_int": lambda lib: lib.full((2,), 3),
    "full_float": lambda lib: lib.full((2,), 3.0),
    "full_bool": lambda lib: lib.full((2,), True),
    "linspace": lambda lib: lib.linspace(0, 1, 5),
    "eye": lambda lib: lib.eye(2),
    "randint": lambda lib: lib.randint(0, 5, (3,)),
    "zeros_like_int": lambda lib: lib.zeros_like(lib.tensor([1, 2])),
    "rand_like": lambda lib: lib.rand_like(lib.ones(2, dtype=lib.float64)),
    "full_like": lambda lib: lib.full_like(lib.tensor([1, 2]), 2.7),
}


@pytest.mark.parametrize("name", list(CREATION))
def test_creation_dtypes(name):
    t, n = CREATION[name](torch), CREATION[name](ndgrad)
    assert dname(n) == dname(t), f"{name}: {n.dtype} vs torch {t.dtype}"
    assert tuple(n.shape) == tuple(t.shape)
    if "rand" not in name:
        np.testing.assert_array_equal(np.asarray(n.tolist()), np.asarray(t.tolist()))


CONVERSIONS = ["float", "double", "half", "long", "int", "bool", "byte"]


@pytest.mark.parametrize("conv", CONVERSIONS)
def test_conversions(conv):
    for a in NAMES:
        t, n = getattr(make(torch, a), conv)(), getattr(make(ndgrad, a), conv)()
        assert dname(n) == dname(t), f"{a}.{conv}(): {n.dtype} vs {t.dtype}"
    for target in ("float32", "int64", "bool", "float16"):
        t = make(torch, "float64").to(getattr(torch, target))
        n = make(ndgrad, "float64").to(getattr(ndgrad, target))
        assert dname(n) == dname(t)
    assert make(ndgrad, "int32").to(float).dtype == ndgrad.float64  # torch: Python float
    assert make(ndgrad, "int32").to(int).dtype == ndgrad.int64
    assert make(ndgrad, "int32").type_as(ndgrad.zeros(1)).dtype == ndgrad.float32


def test_dtype_objects():
    assert ndgrad.float32 == ndgrad.float and ndgrad.float64 == ndgrad.double
    assert ndgrad.int64 == ndgrad.long and ndgrad.float16 == ndgrad.half
    assert ndgrad.bool != ndgrad.uint8
    assert repr(ndgrad.float32) == "ndgrad.float32"
    assert ndgrad.float32.is_floating_point and not ndgrad.int64.is_floating_point
    assert ndgrad.float32.itemsize == 4 and ndgrad.int16.itemsize == 2
    assert len({ndgrad.float32, ndgrad.float, ndgrad.float64}) == 2
    assert ndgrad.get_default_dtype() == ndgrad.float32


def test_set_default_dtype():
    try:
        ndgrad.set_default_dtype(ndgrad.float64)
        assert ndgrad.tensor([1.5]).dtype == ndgrad.float64
        assert (ndgrad.tensor([1, 2]) * 0.5).dtype == ndgrad.float64
        assert (ndgrad.tensor([1, 2]) / 2).dtype == ndgrad.float64
        assert ndgrad.zeros(2).dtype == ndgrad.float64
        assert (ndgrad.ones(2, dtype=ndgrad.float32) * 2.5).dtype == ndgrad.float32
        with pytest.raises(TypeError):
            ndgrad.set_default_dtype(ndgrad.int64)
    finally:
        ndgrad.set_default_dtype(ndgrad.float32)
    assert ndgrad.tensor([1.5]).dtype == ndgrad.float32


def test_gradient_dtype_follows_the_leaf():
    # a float32 leaf mixed with float64 computes in float64, but its .grad is float32 (torch)
    for lib in (torch, ndgrad):
        x = lib.ones(3, requires_grad=True)
        y = lib.ones(3, dtype=lib.float64, requires_grad=True)
        (x * y * 2).sum().backward()
        assert dname(x.grad) == "float32" and dname(y.grad) == "float64"
        z = lib.tensor(2.0, dtype=lib.float64, requires_grad=True)
        (x * z).sum().backward()  # 0-dim float64 with float32: the product is float32
        assert dname(z.grad) == "float64" and dname(x.grad) == "float32"
        h = lib.ones(2, dtype=lib.float16, requires_grad=True)
        (h.float() * 3).sum().backward()
        assert dname(h.grad) == "float16"
    x = ndgrad.ones(3, requires_grad=True)
    g, = ndgrad.autograd.grad((x.double() ** 2).sum(), [x])
    assert g.dtype == ndgrad.float32


def test_requires_grad_needs_floats():
    for name in ("int64", "int32", "bool", "uint8"):
        with pytest.raises(RuntimeError, match="floating point"):
            make(ndgrad, name).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        ndgrad.tensor([1, 2], requires_grad=True)


def test_inplace_keeps_dtype_and_refuses_float_into_int():
    for lib in (torch, ndgrad):
        a = lib.ones(3)
        a += lib.ones(3, dtype=lib.float64)  # float64 result cast back into float32
        assert dname(a) == "float32"
        i = lib.tensor([1, 2])
        i *= 2
        assert dname(i) == "int64"
        with pytest.raises(RuntimeError):
            i += 1.5  # float result can't be cast into an int tensor
        with pytest.raises(RuntimeError):
            i.mul_(lib.ones(2))
        b = lib.tensor([1, 2], dtype=lib.uint8)
        b.add_(3)
        assert dname(b) == "uint8"


FLOATS = ["float16", "float32", "float64", "bfloat16", "complex64", "complex128"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_matches_torch(name):
    """Every field, its Python type and the repr; a complex dtype gives its real part's."""
    t, n = torch.finfo(getattr(torch, name)), ndgrad.finfo(getattr(ndgrad, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert (getattr(n, field), type(getattr(n, field))) == \
            (getattr(t, field), type(getattr(t, field))), field
    assert repr(n) == repr(t)


def test_finfo_default_follows_the_default_dtype():
    assert ndgrad.finfo().dtype == "float32"
    ndgrad.set_default_dtype(ndgrad.float64)
    try:
        assert ndgrad.finfo().eps == torch.finfo(torch.float64).eps
    finally:
        ndgrad.set_default_dtype(ndgrad.float32)


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_torch(name):
    t, n = torch.iinfo(getattr(torch, name)), ndgrad.iinfo(getattr(ndgrad, name))
    assert (n.bits, n.min, n.max, n.dtype, repr(n)) == (t.bits, t.min, t.max, t.dtype, repr(t))


@pytest.mark.parametrize("call, words", [
    (lambda lib: lib.finfo(lib.int32), "floating point"),
    (lambda lib: lib.iinfo(lib.float32), "integer"),
    (lambda lib: lib.iinfo(lib.bool), "not supported"),
    (lambda lib: lib.finfo("float32"), "must be"),
])
def test_finfo_and_iinfo_errors_match_torch(call, words):
    for lib in (torch, ndgrad):
        with pytest.raises(TypeError, match=words):
            call(lib)
