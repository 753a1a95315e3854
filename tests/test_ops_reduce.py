"""Reductions against PyTorch: values, dtypes, gradients (ties, zeros) and double backward."""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op, check_values, run_both
from helpers import assert_same as assert_same_exactly

import ndgrad

F32, F64 = np.float32, np.float64
INF = float("inf")

# (shape, dim) cases: None, int, negative, tuple, and edge shapes (0-d, size-1, size-0)
DIMS = [
    ((3, 4, 5), None), ((3, 4, 5), 0), ((3, 4, 5), -1), ((3, 4, 5), 1), ((3, 4, 5), (0, 2)),
    ((3, 4, 5), (-1, -3)), ((3, 4, 5), (0, 1, 2)), ((3, 4, 5), ()), ((), None), ((), 0),
    ((), -1), ((1,), 0), ((1, 1), (0, 1)), ((7,), 0), ((2, 0, 3), 2), ((2, 0, 3), -2),
    ((2, 0, 3), None), ((0,), 0),
]


def ids(case):
    return f"{case[0]}-dim{case[1]}"


# reductions add in a different order than torch: the same dtype, values equal up to rounding
assert_same = functools.partial(assert_same_exactly, rtol=1e-6)


def _dim_kw(dim):
    return {} if dim is None else {"dim": dim}


# -- sum / mean ----------------------------------------------------------------------------------
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("case", DIMS, ids=ids)
def test_sum_mean(case, keepdim):
    shape, dim = case
    kw = _dim_kw(dim)
    if dim is not None or keepdim:
        kw["keepdim"] = keepdim
        if dim is None:
            kw["dim"] = None
    check_op([shape], lambda x: x.sum(**kw))
    check_op([shape], lambda lib, x: lib.sum(x, **kw))
    if 0 not in shape:  # torch's mean of nothing is nan, its gradient too: checked below
        check_op([shape], lambda x: x.mean(**kw))
        check_op([shape], lambda lib, x: lib.mean(x, **kw))


def test_sum_mean_special():
    check_op([(3, 4)], lambda x: x.sum(1, dtype=ndgrad.float64 if isinstance(x, ndgrad.Tensor)
                                       else torch.float64))
    check_op([(3, 4)], lambda x: x.sum((0, 1), True) * x.mean([1], True))
    check_op([(3, 4)], lambda x: x.sum(dim=[-1]))
    t, n = run_both(lambda lib, x: x.mean(), np.zeros((0, 3), F32))
    assert_close(n, t, F32)
    t, n = run_both(lambda lib, x: x.mean(0), np.zeros((0, 3), F32))
    assert_close(n, t, F32)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_, np.int16])
def test_sum_prod_cumsum_of_integers_give_int64(dtype):
    x = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    for fn in (lambda lib, x: x.sum(), lambda lib, x: x.sum(0), lambda lib, x: x.sum((0, 1), True),
               lambda lib, x: lib.sum(x, 1), lambda lib, x: x.prod(), lambda lib, x: x.prod(1),
               lambda lib, x: x.cumsum(1), lambda lib, x: x.cumprod(0),
               lambda lib, x: x.count_nonzero()):
        t, n = run_both(fn, x)
        assert_same(n, t)
    with pytest.raises(RuntimeError, match="mean"):
        ndgrad.tensor(x).mean()


def test_sum_with_dtype_of_integers():
    t, n = run_both(lambda lib, x: x.sum(dtype=lib.float32), np.arange(5))
    assert_same(n, t)
    t, n = run_both(lambda lib, x: x.mean(dtype=lib.float64), np.arange(5))
    assert_same(n, t)
    t, n = run_both(lambda lib, x: x.sum(dtype=lib.int32), np.arange(5))
    assert_same(n, t)


def test_dim_errors():
    x = ndgrad.zeros(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.amax(-3)
    with pytest.raises(RuntimeError, match="multiple times"):
        x.sum((0, -2))


# -- prod ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((5,), 0),
                                       ((), 0), ((1,), 0), ((3, 1), 1), ((2, 0), 1),
                                       ((2, 0), 0)], ids=str)
def test_prod_dim(shape, dim, keepdim):
    check_op([shape], lambda x: x.prod(dim, keepdim=keepdim), low=0.5, high=1.5)
    check_op([shape], lambda x: (-x).prod(dim, keepdim), low=0.5, high=1.5)
    check_op([shape], lambda lib, x: lib.prod(x, dim=dim, keepdim=keepdim), low=-1.5, high=1.5)


@pytest.mark.parametrize("shape", [(3, 4), (), (1,), (6,), (0, 3)], ids=str)
def test_prod_all(shape):
    check_op([shape], lambda x: x.prod(), low=0.5, high=1.5)
    check_op([shape], lambda lib, x: lib.prod(x), low=-1.5, high=1.5)


ZERO_ROWS = [
    [[1.5, 0.0, 2.0, -0.5]],  # one zero
    [[0.0, 1.5, -2.0, 0.7]],  # zero first
    [[1.5, -2.0, 0.7, 0.0]],  # zero last
    [[1.5, 0.0, 2.0, 0.0]],  # two zeros
    [[0.0, 0.0, 0.0, 0.0]],  # all zeros
    [[1.5, 0.0, 2.0, -0.5], [0.5, -1.5, 1.2, 2.0], [0.0, 1.1, 0.0, 3.0]],  # mixed rows
]


@pytest.mark.parametrize("rows", ZERO_ROWS, ids=str)
def test_prod_with_zeros(rows):
    # first derivatives exact with zeros, and the double backward too (torch's is exact)
    check_values([rows], lambda x: x.prod(-1))
    check_values([rows], lambda x: x.prod(0, keepdim=True))
    check_values([rows], lambda x: x.prod())
    check_values([rows], lambda x: (x * 2).prod(1) * x.sum())


@pytest.mark.parametrize("rows", ZERO_ROWS, ids=str)
def test_cumprod_with_zeros(rows):
    check_values([rows], lambda x: x.cumprod(-1))
    check_values([rows], lambda x: x.cumprod(0))
    check_values([rows], lambda lib, x: lib.cumprod(x * x.sum(), dim=1))
    check_values([rows], lambda x: x.flip(-1).cumprod(-1))


@pytest.mark.parametrize("shape,dim", [((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((5,), 0),
                                       ((), 0), ((1,), 0), ((0, 3), 1), ((3, 0), 1)], ids=str)
def test_cumsum_cumprod(shape, dim):
    check_op([shape], lambda x: x.cumsum(dim))
    check_op([shape], lambda lib, x: lib.cumsum(x, dim=dim))
    check_op([shape], lambda x: x.cumprod(dim), low=0.5, high=1.5)
    check_op([shape], lambda lib, x: lib.cumprod(x, dim), low=-1.5, high=1.5)


def test_cumsum_dtype():
    check_op([(3, 4)], lambda lib, x: x.cumsum(0, dtype=lib.float64))
    t, n = run_both(lambda lib, x: x.cumsum(0, dtype=lib.float32), np.arange(4))
    assert_same(n, t)


# -- max / min / amax / amin / argmax / argmin ------------------------------------------------
def tied(shape, seed=0):
    """Values with many ties: small integers plus a little structure."""
    rng = np.random.default_rng(seed)
    return rng.integers(-2, 3, size=shape).astype(F64)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (5,), (), (1, 1)], ids=str)
def test_full_max_min_split_ties(shape):
    for v in (tied(shape), tied(shape, 1), np.ones(shape)):
        check_values([v], lambda x: x.max())
        check_values([v], lambda x: x.min())
        check_values([v], lambda lib, x: lib.max(x))
        check_values([v], lambda x: x.amax())
        check_values([v], lambda x: x.amin())
    check_op([shape], lambda x: x.max())
    check_op([shape], lambda x: x.min() * x.max())


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("case", [c for c in DIMS if 0 not in c[0] or c[1] not in (None, -2,
                                                                                      (), 0)],
                         ids=ids)
def test_amax_amin(case, keepdim):
    shape, dim = case
    kw = _dim_kw(dim)
    kw["keepdim"] = keepdim
    if dim is None:
        kw.pop("keepdim")
        if keepdim:
            return
    check_op([shape], lambda x: x.amax(**kw))
    check_op([shape], lambda lib, x: lib.amin(x, **kw))
    if 0 not in shape:
        check_values([tied(shape)], lambda x: x.amax(**kw))  # ties share the gradient evenly
        check_values([tied(shape)], lambda x: x.amin(**kw))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((5,), 0),
                                       ((), 0), ((), -1), ((1,), 0), ((3, 1), 1),
                                       ((2, 0), 0)], ids=str)
def test_max_min_dim(shape, dim, keepdim):
    # (values, indices) named tuples; with ties, the gradient goes to the returned index
    for v in [None, tied(shape), np.ones(shape)]:
        for name in ("max", "min"):
            def fn(x, name=name):
                out = getattr(x, name)(dim, keepdim=keepdim)
                return out.values, out.indices
            if v is None:
                check_op([shape], fn)
            else:
                check_values([v], fn)
    check_op([shape], lambda lib, x: lib.max(x, dim, keepdim)[0] * 2)
    check_op([shape], lambda lib, x: lib.min(x, dim=dim, keepdim=keepdim)[1])


def test_max_named_tuple():
    out = ndgrad.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1)
    assert type(out).__name__ == "max" or hasattr(out, "values")
    values, indices = out
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert out.values is values and out.indices is indices and out[0] is values
    assert indices.dtype == ndgrad.int64
    v, i = ndgrad.tensor([3, 1, 3]).min(0)
    assert v.dtype == ndgrad.int64 and v.item() == 1 and i.item() == 1


def test_max_min_with_nan():
    x = np.array([[1.0, np.nan, 3.0], [2.0, 0.0, -1.0]])
    for fn in (lambda lib, x: x.max(), lambda lib, x: x.min(), lambda lib, x: x.amax(1),
               lambda lib, x: x.max(1)[0], lambda lib, x: x.max(1)[1], lambda lib, x: x.argmax(1),
               lambda lib, x: x.argmin(1), lambda lib, x: x.min(1)[1]):
        t, n = run_both(fn, x)
        assert_close(n, t)


def test_nan_max_gradient():
    # full max/min send the gradient to the nans, split evenly (torch's evenly_distribute)
    x = [[1.0, np.nan, 3.0, np.nan]]
    with np.errstate(all="ignore"):
        for fn in (lambda x: x.max(), lambda x: x.min(), lambda lib, x: lib.max(x) * 2):
            check_values([x], fn, gradgrad=False)


def test_max_empty_errors():
    with pytest.raises(RuntimeError, match="numel"):
        ndgrad.zeros(0).max()
    with pytest.raises((RuntimeError, IndexError), match="non-zero size|numel"):
        ndgrad.zeros(0, 3).amax(0)
    with pytest.raises((RuntimeError, IndexError)):
        ndgrad.zeros(0, 3).argmax()
    with pytest.raises((RuntimeError, IndexError)):
        ndgrad.zeros(0, 3).max(0)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name):
    for arr in (tied((3, 4)), tied((2, 3, 4), 2), np.arange(5.0), np.array(2.0), tied((1, 1)),
                np.array([3, 1, 3, 0]), np.array([1, 0, 1], dtype=np.uint8)):
        for args, kw in [((), {}), ((0,), {}), ((-1,), {}), ((0,), {"keepdim": True}),
                         ((None,), {"keepdim": True}), ((), {"dim": -1})]:
            t, n = run_both(lambda lib, x, a=args, k=kw: getattr(lib, name)(x, *a, **k), arr)
            assert_same(n, t, f"{name}{args}{kw}")
            t, n = run_both(lambda lib, x, a=args, k=kw: getattr(x, name)(*a, **k), arr)
            assert_same(n, t, f"{name}{args}{kw}")


# -- var / std -----------------------------------------------------------------------------------
VAR_KW = [{}, {"unbiased": False}, {"unbiased": True}, {"correction": 0}, {"correction": 2},
          {"keepdim": True}, {"correction": 0, "keepdim": True}]


@pytest.mark.parametrize("kw", VAR_KW, ids=str)
@pytest.mark.parametrize("shape,dim", [((3, 4), None), ((3, 4), 0), ((3, 4), -1),
                                       ((2, 3, 4), (0, 2)), ((6,), 0), ((2, 3, 4), [1])],
                         ids=str)
def test_var_std(shape, dim, kw):
    kw = dict(kw)
    if dim is None and "keepdim" in kw:
        return
    check_op([shape], lambda x: x.var(dim, **kw) if dim is not None else x.var(**kw))
    check_op([shape], lambda x: x.std(dim, **kw) if dim is not None else x.std(**kw))
    check_op([shape], lambda lib, x: lib.var(x, dim, **kw) if dim is not None else
             lib.var(x, **kw))
    check_op([shape], lambda lib, x: lib.std(x, dim=dim, **kw))


def _dof_warnings(fn) -> list[str]:
    """The start of each "degrees of freedom" warning that fn() gives."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        fn()
    return [str(w.message)[:38] for w in caught if "degrees of freedom" in str(w.message)]


def test_var_degenerate():
    # too few elements for the correction: inf or nan, as in torch (and no exception), and the
    # same "degrees of freedom is <= 0" UserWarning exactly when torch gives it
    for arr, kw in [(np.array([1.5]), {}), (np.array([1.0, 2.0]), {"correction": 2}),
                    (np.array([1.5]), {"unbiased": False}), (np.zeros((0, 2)), {"dim": 0}),
                    (np.ones((3, 2)), {"dim": 1})]:
        for name in ("var", "std"):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")  # compared below
                t, n = run_both(lambda lib, x, k=kw, m=name: getattr(x, m)(**k), arr)
            assert_close(n, t)
            said = {lib.__name__: _dof_warnings(
                lambda lib=lib, a=arr, k=kw, m=name: getattr(lib.tensor(a), m)(**k))
                for lib in (torch, ndgrad)}
            assert said["ndgrad"] == said["torch"], (arr.shape, kw, said)
    (said,) = _dof_warnings(lambda: ndgrad.tensor([1.5]).std())
    assert said.startswith("std(): degrees of freedom is <= 0")


# -- logsumexp -----------------------------------------------------------------------------------
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [((3, 4), 0), ((3, 4), -1), ((2, 3, 4), (0, 2)), ((5,), 0),
                                       ((), 0), ((1,), 0), ((2, 3), (0, 1))], ids=str)
def test_logsumexp(shape, dim, keepdim):
    check_op([shape], lambda x: x.logsumexp(dim, keepdim))
    check_op([shape], lambda lib, x: lib.logsumexp(x * 50, dim=dim, keepdim=keepdim))


def test_logsumexp_extremes():
    rows = [[1000.0, 1000.0, -1000.0], [-INF, 0.0, 1.0], [-1000.0, -1001.0, -1002.0],
            [-INF, 3.0, -INF]]
    check_values([rows], lambda x: x.logsumexp(1))
    check_values([rows], lambda x: x.logsumexp(0))
    with np.errstate(all="ignore"):  # rows of -inf: result -inf, gradients nan (as torch)
        for rows2 in ([[-INF, -INF], [0.0, 1.0]], [[INF, 0.0], [1.0, INF]]):
            check_values([rows2], lambda x: x.logsumexp(1), gradgrad=False)
    t, n = run_both(lambda lib, x: x.logsumexp(1), np.zeros((2, 0)))
    assert_close(n, t)
    t, n = run_both(lambda lib, x: x.logsumexp(0), np.arange(4))
    assert_close(n, t, F32)


# -- norm ----------------------------------------------------------------------------------------
NORM_P = [2, "fro", 1, INF, -INF, 3, 1.5, 0.5, 0, 2.5, -1]


@pytest.mark.parametrize("p", NORM_P, ids=str)
@pytest.mark.parametrize("shape,dim,keepdim", [((3, 4), None, False), ((3, 4), 1, False),
                                               ((3, 4), 0, True), ((2, 3, 4), (0, 2), False),
                                               ((5,), None, False), ((), None, False),
                                               ((2, 3), -1, True)], ids=str)
def test_norm(p, shape, dim, keepdim):
    if p == "fro" and isinstance(dim, int):
        dim = (dim,)
    kw = {"p": p, "keepdim": keepdim} if dim is None else {"p": p, "dim": dim, "keepdim": keepdim}
    if dim is None and keepdim:
        return
    check_op([shape], lambda x: x.norm(**kw))
    check_op([shape], lambda lib, x: lib.norm(x, **kw))


@pytest.mark.parametrize("p", NORM_P, ids=str)
def test_norm_at_zero_and_ties(p):
    # torch: the gradient of a norm at an all-zero vector is 0 (not nan)
    vals = [[0.0, 0.0, 0.0], [1.0, -2.0, 0.0], [-1.0, 1.0, 0.5], [0.0, 3.0, -3.0]]
    dims = (1,) if p == "fro" else 1
    check_values([vals], lambda x: x.norm(p, dim=dims), gradgrad=p not in (0.5, -1))
    check_values([[0.0, 0.0]], lambda x: x.norm(p), gradgrad=p not in (0.5, -1))


def test_norm_integer_input_and_dtype():
    t, n = run_both(lambda lib, x: x.float().norm(), np.arange(4))
    assert_close(n, t, F32)
    check_op([(3, 4)], lambda lib, x: x.norm(dtype=lib.float64))


# -- all / any -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any(name):
    arrays = [np.array([[True, False], [True, True]]), np.array([[1.0, 0.0], [2.0, -1.0]]),
              np.array([[3, 0, 1]]), np.zeros((0, 2)), np.array(True), np.array([np.nan]),
              np.array([[1, 2]], dtype=np.uint8)]
    for arr in arrays:
        for args, kw in [((), {}), ((0,), {}), ((-1,), {"keepdim": True}), ((), {"dim": 0})]:
            if arr.ndim == 0 and args == (-1,):
                continue
            t, n = run_both(lambda lib, x, a=args, k=kw: getattr(x, name)(*a, **k), arr)
            assert_same(n, t, f"{name}{args}{kw} of {arr.dtype}")
            t, n = run_both(lambda lib, x, a=args, k=kw: getattr(lib, name)(x, *a, **k), arr)
            assert_same(n, t, f"{name}{args}{kw} of {arr.dtype}")


def test_reductions_of_int_do_not_require_grad():
    x = ndgrad.randn(3, 4, requires_grad=True)
    assert not x.argmax().requires_grad and x.max(1).indices.dtype == ndgrad.int64
    assert not x.all().requires_grad and not (x > 0).sum().requires_grad


def test_norm_formula_large_values():
    x = np.array([1e20, 3e20], dtype=F64)
    t, n = run_both(lambda lib, x: x.norm(), x)
    assert_close(n, t)
    assert math.isfinite(n.item())


# -- NaN-ignoring reductions, var_mean/std_mean, aminmax -------------------------------------
NAN = float("nan")
WITH_NAN = np.array([[1.0, NAN, 3.0, -2.0], [NAN, NAN, NAN, NAN], [0.5, 2.0, NAN, 4.0]])


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 1), False),
                                         (-1, False)])
def test_nansum_nanmean(dim, keepdim):
    check_values([WITH_NAN], lambda x: x.nansum(dim, keepdim))
    check_values([WITH_NAN], lambda lib, x: lib.nanmean(x, dim, keepdim))
    check_op([(3, 4)], lambda x: x.nansum(dim, keepdim=keepdim))  # no NaN: sum, mean
    check_op([(3, 4)], lambda x: x.nanmean(dim, keepdim=keepdim))


def test_nansum_integers_and_errors():
    t, n = run_both(lambda lib, x: x.nansum(0), np.array([[1, 2], [3, 4]], np.int32))
    assert_same_exactly(n, t)
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="nanmean"):
            lib.tensor([1, 2]).nanmean()


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.var_mean(x), lambda lib, x: lib.std_mean(x, 1),
    lambda lib, x: lib.var_mean(x, 0, keepdim=True), lambda lib, x: lib.std_mean(x, False),
    lambda lib, x: lib.var_mean(x, (0, 1), correction=0),
    lambda lib, x: lib.std_mean(x, dim=1, unbiased=False, keepdim=True),
    lambda lib, x: lib.var_mean(x, axis=0, keepdims=True),
], ids=range(7))
def test_var_mean_std_mean(fn):
    check_op([(4, 5)], fn)
    check_op([()], lambda lib, x: lib.std_mean(x, correction=0))


@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (-1, True)])
def test_aminmax(dim, keepdim):
    check_op([(3, 4)], lambda lib, x: lib.aminmax(x, dim=dim, keepdim=keepdim))
    ties = np.array([[1.0, 3.0, 3.0, 1.0], [2.0, 2.0, 2.0, 2.0]])  # the gradient is shared
    check_values([ties], lambda x: x.aminmax(dim=dim, keepdim=keepdim))
    out = ndgrad.tensor([3, 1, 2]).aminmax()
    assert out.min.item() == 1 and out.max.item() == 3 and out._fields == ("min", "max")
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="cannot compute aminmax over an empty dimension"):
            lib.zeros(2, 0).aminmax()
        with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
            lib.zeros(2, 0).aminmax(dim=1)
    check_op([(2, 0)], lambda x: x.aminmax(dim=0))
    check_op([()], lambda x: x.aminmax(dim=0, keepdim=True))


# -- cummax/cummin, logcumsumexp, diff -----------------------------------------------------------
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin(name):
    check_op([(6,)], lambda x: getattr(x, name)(0))
    check_op([(3, 4, 5)], lambda lib, x: getattr(lib, name)(x, dim=-2))
    check_op([()], lambda x: getattr(x, name)(0))
    check_op([(2, 0)], lambda x: getattr(x, name)(1))
    # ties: torch's index is the last position that reached the running extreme, and the
    # gradient goes there; a NaN wins from its first occurrence on
    ties = np.array([[3.0, 1.0, 3.0, 2.0, 3.0, 0.0], [1.0, NAN, 5.0, NAN, -1.0, 1.0]])
    check_values([ties], lambda x: getattr(x, name)(1))
    t, n = run_both(lambda lib, x: getattr(x, name)(0), np.array([3, 1, 2, 1, 3, 2, 1]))
    assert_same_exactly(n.indices, t.indices)
    assert_same_exactly(n.values, t.values)
    t, n = run_both(lambda lib, x: getattr(x, name)(0), np.array([True, False, True]))
    assert_same_exactly(n.indices, t.indices)


@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -2),
                                       ((), 0), ((0, 3), 1)])
def test_logcumsumexp(shape, dim):
    check_op([shape], lambda x: x.logcumsumexp(dim))


def test_logcumsumexp_extremes():
    big = np.array([[1000.0, -1000.0, 1000.0, 0.0], [-INF, -INF, 2.0, -INF]])
    check_values([big], lambda lib, x: lib.logcumsumexp(x, 1), gradgrad=False)
    for lib in (torch, ndgrad):
        with pytest.raises(NotImplementedError, match="logcumsumexp_out_cpu.*'Long'"):
            lib.arange(4).logcumsumexp(0)


@pytest.mark.parametrize("fn", [
    lambda lib, x: x.diff(), lambda lib, x: lib.diff(x, 2, 0), lambda lib, x: x.diff(n=5),
    lambda lib, x: x.diff(0, dim=1), lambda lib, x: x.diff(dim=0, prepend=x[:1] * 2),
    lambda lib, x: x.diff(1, 1, append=x[:, :2], prepend=x[:, 3:]),
    lambda lib, x: x.diff(3, 0, append=x),
], ids=range(7))
def test_diff(fn):
    check_op([(4, 5)], fn)


def test_diff_bool_int_and_errors():
    for x, kw in [(np.array([True, False, False, True]), {}), (np.array([1, 4, 9, 16]), {}),
                  (np.array([[True, False], [True, True]]), dict(dim=0))]:
        t, n = run_both(lambda lib, a, kw=kw: a.diff(**kw), x)
        assert_same_exactly(n, t)
    t = torch.tensor([True, False]).diff(prepend=torch.tensor([1]))
    n = ndgrad.tensor([True, False]).diff(prepend=ndgrad.tensor([1]))
    assert_same_exactly(n, t)
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="at least one-dimensional"):
            lib.tensor(1.0).diff()
        with pytest.raises(RuntimeError, match="order must be non-negative"):
            lib.zeros(3).diff(-1)
        with pytest.raises(RuntimeError, match="same dimension as input"):
            lib.zeros(3).diff(prepend=lib.zeros(1, 1))
        with pytest.raises(RuntimeError, match="match that of input except along"):
            lib.zeros(3, 2).diff(dim=0, prepend=lib.zeros(1, 3))


# -- cov, corrcoef, renorm, dist, in-place cumulative ops ---------------------------------------
@pytest.mark.filterwarnings("ignore:cov.*degrees of freedom")
@pytest.mark.parametrize("shape", [(3, 5), (5,), (1, 4), (2, 2)])
def test_cov_corrcoef(shape):
    check_op([shape], lambda lib, x: lib.cov(x))
    check_op([shape], lambda lib, x: x.cov(correction=0))
    check_op([shape], lambda lib, x: lib.corrcoef(x))
    fw = np.arange(1, shape[-1] + 1)
    aw = np.linspace(0.5, 2.0, shape[-1])
    check_op([shape, fw, aw], lambda lib, x, f, a: x.cov(fweights=f, aweights=a),
             requires_grad=[True, False, False])
    check_op([shape, aw], lambda lib, x, a: lib.cov(x, correction=2, aweights=a),
             requires_grad=[True, False])


def test_cov_errors_and_degenerate():
    t, n = run_both(lambda lib, x: lib.cov(x), np.arange(6).reshape(2, 3))  # integers: float
    assert_close(n, t, F32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, n = run_both(lambda lib, x: lib.cov(x), np.ones((2, 1)))  # one observation: nan
    assert_close(n, t)
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="two or fewer dimensions"):
            lib.cov(lib.zeros(2, 2, 2))
        with pytest.raises(RuntimeError, match="fweights to have integral dtype"):
            lib.cov(lib.zeros(2, 3), fweights=lib.ones(3))


@pytest.mark.parametrize("p,dim,maxnorm", [(2, 0, 1.0), (1, 1, 2.5), (3.0, -1, 0.5),
                                           (float("inf"), 0, 1.5), (2, 1, 100.0)])
def test_renorm_and_dist(p, dim, maxnorm):
    check_op([(3, 4)], lambda x: x.renorm(p, dim, maxnorm))
    check_op([(2, 3, 4)], lambda lib, x: lib.renorm(x, p, dim, maxnorm))
    check_op([(3, 4)], lambda x: (x * 1).renorm_(p, dim, maxnorm))
    check_op([(3, 4), (4,)], lambda lib, x, y: lib.dist(x, y, p))
    check_op([(3, 4), (3, 4)], lambda x, y: x.dist(y))


def test_inplace_cumulative():
    check_op([(3, 4)], lambda x: (x * 1).cumsum_(1))
    check_op([(3, 4)], lambda x: (x * 1).cumprod_(0))
