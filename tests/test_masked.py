"""ndgrad.masked against torch.masked: values, dtypes, gradients and second order over dims,
keepdim, broadcast masks, fully masked-out slices, 0-d and size-0 inputs, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op

import ndgrad

RNG = np.random.default_rng(7)
# (3, 4) masks: random, broadcast from one row, a fully masked-out row and column, all kept
MASKS = {
    "random": RNG.random((3, 4)) > 0.4,
    "row": np.array([True, False, True, True]),
    "empty_row": np.array([[True, False, True, True], [False] * 4, [True, True, False, True]]),
    "all": np.ones((3, 4), bool),
}
REDUCTIONS = ["sum", "prod", "amax", "amin", "mean", "norm", "var", "std", "logsumexp"]
DIMS = [None, 0, -1, (0, 1), (1,), ()]


def _call(lib, name, x, m, dim, keepdim):
    fn = getattr(lib.masked, name)
    if name == "norm":
        return fn(x, 2.0, dim, keepdim=keepdim, mask=m)
    return fn(x, dim, keepdim=keepdim, mask=m)


NO_IDENTITY = ("amax", "amin", "logsumexp", "mean", "var", "std")  # inf or nan when all masked


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions(name, dim, mask, keepdim):
    check_op([(3, 4), MASKS[mask]], lambda lib, x, m: _call(lib, name, x, m, dim, keepdim),
             grad=not (mask == "empty_row" and name in NO_IDENTITY))


@pytest.mark.parametrize("name", REDUCTIONS)
def test_fully_masked_slices(name):
    """Sum gives 0, prod 1, amax -inf, amin inf, mean/var/std nan where nothing is kept:
    forward values and a plain-sum gradient (masked-out elements get no gradient)."""
    check_op([(3, 4), MASKS["empty_row"]], lambda lib, x, m: _call(lib, name, x, m, 1, False),
             grad=False)
    x = RNG.standard_normal((3, 4))
    outs = []
    for lib in (torch, ndgrad):
        t = lib.tensor(x, requires_grad=True)
        out = _call(lib, name, t, lib.tensor(MASKS["empty_row"]), 1, False)
        out[[0, 2]].sum().backward()
        outs.append(t.grad)
    assert_close(outs[1], outs[0])


@pytest.mark.parametrize("dim", [None, 0, -1], ids=str)
@pytest.mark.parametrize("shape,mask", [((), np.array(True)), ((), np.array(False)),
                                        ((0, 3), np.ones((0, 3), bool)),
                                        ((1, 1), np.array([[True]]))], ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_edge_shapes(name, shape, mask, dim):
    """0-d inputs (dim 0 and -1 are allowed), size-0 and size-1 dims."""
    if name in ("amax", "amin") and 0 in shape:
        pytest.skip("torch refuses amax/amin of an empty tensor")
    check_op([shape, mask], lambda lib, x, m: _call(lib, name, x, m, dim, False),
             grad=bool(mask.all()) or name not in NO_IDENTITY)


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin", "cumsum", "cumprod"])
def test_normalizations(name, dim, mask):
    grad = not (mask == "empty_row" and name in ("softmax", "log_softmax", "softmin"))
    check_op([(3, 4), MASKS[mask]],
             lambda lib, x, m: getattr(lib.masked, name)(x, dim, mask=m), grad=grad)


@pytest.mark.parametrize("dim", [0, 1])
@pytest.mark.parametrize("mask", ["random", "row", "all"])
@pytest.mark.parametrize("ord", [1.0, 2.0, 3.0, float("inf"), float("-inf"), 0.0])
def test_norm_and_normalize(ord, mask, dim):
    check_op([(3, 4), MASKS[mask]],
             lambda lib, x, m: lib.masked.norm(x, ord, dim, keepdim=True, mask=m))
    check_op([(3, 4), MASKS[mask]],
             lambda lib, x, m: lib.masked.normalize(x, ord, dim, eps=1e-3, mask=m))


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("mask", ["random", "row", "empty_row", "all"])
@pytest.mark.parametrize("kw", [dict(unbiased=False), dict(correction=0), dict(correction=2),
                                dict(unbiased=True)], ids=str)
def test_var_std_corrections(kw, mask, name):
    check_op([(3, 4), MASKS[mask]],
             lambda lib, x, m: getattr(lib.masked, name)(x, 1, mask=m, **kw),
             grad=mask != "empty_row")


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("mask", ["random", "row", "all"])
def test_median(dim, mask, keepdim):
    check_op([(3, 4), MASKS[mask]],
             lambda lib, x, m: lib.masked.median(x, dim, keepdim=keepdim, mask=m))


def test_median_fully_masked_is_nan_and_integer_input_refuses_it():
    x = np.arange(12.0).reshape(3, 4)
    m = MASKS["empty_row"]
    out = ndgrad.masked.median(ndgrad.tensor(x), 1, mask=ndgrad.tensor(m))
    assert_close(out, torch.masked.median(torch.tensor(x), 1, mask=torch.tensor(m)))
    xi = np.arange(12).reshape(3, 4)
    with pytest.raises(ValueError, match="no fully masked out rows"):
        ndgrad.masked.median(ndgrad.tensor(xi), 1, mask=ndgrad.tensor(m))
    kept = ndgrad.masked.median(ndgrad.tensor(xi), 1, mask=ndgrad.tensor(MASKS["row"]))
    assert_close(kept, torch.masked.median(torch.tensor(xi), 1, mask=torch.tensor(MASKS["row"])))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_argmax_argmin(name, dim):
    """Indices in the input's dtype, as torch.masked's (unless dtype= says otherwise)."""
    x = RNG.standard_normal((3, 4))
    for mask in ("random", "row", "all"):
        for dtype in (None, "int64"):
            t_kw = {} if dtype is None else dict(dtype=getattr(torch, dtype))
            n_kw = {} if dtype is None else dict(dtype=getattr(ndgrad, dtype))
            t = getattr(torch.masked, name)(torch.tensor(x), dim, keepdim=dim is not None,
                                            mask=torch.tensor(MASKS[mask]), **t_kw)
            n = getattr(ndgrad.masked, name)(ndgrad.tensor(x), dim, keepdim=dim is not None,
                                             mask=ndgrad.tensor(MASKS[mask]), **n_kw)
            assert_close(n, t)


@pytest.mark.parametrize("masks", [(None, None), ("random", None), ("row", "random"),
                                   ("empty_row", "empty_row")], ids=str)
def test_logaddexp(masks):
    mi, mo = (None if k is None else MASKS[k] for k in masks)
    grad = masks != ("empty_row", "empty_row")

    def fn(lib, x, y):
        kw = {}
        if mi is not None:
            kw["input_mask"] = lib.tensor(mi)
        if mo is not None:
            kw["other_mask"] = lib.tensor(mo)
        return lib.masked.logaddexp(x, y, **kw)

    check_op([(3, 4), (3, 4)], fn, grad=grad)


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "uint8"])
@pytest.mark.parametrize("name", ["sum", "prod", "amax", "amin", "cumsum", "cumprod"])
def test_integer_inputs_keep_torch_dtypes(name, dtype):
    """sum and prod promote small integers and bool to int64; amax/amin use the dtype's
    extremes as identity; cumsum/cumprod keep the input's dtype."""
    if dtype == "bool" and name in ("amax", "amin", "cumsum", "cumprod"):
        pytest.skip("torch refuses bool here (no identity of amax/amin, no bool cumsum)")
    x = RNG.integers(0, 3, (3, 4)).astype(np.dtype(dtype))
    m = MASKS["random"]
    t = getattr(torch.masked, name)(torch.tensor(x), 1, mask=torch.tensor(m))
    n = getattr(ndgrad.masked, name)(ndgrad.tensor(x), 1, mask=ndgrad.tensor(m))
    assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    np.testing.assert_array_equal(n.numpy(), t.numpy())


def test_dtype_argument():
    x, m = RNG.standard_normal((3, 4)).astype(np.float32), MASKS["random"]
    for name, args in [("sum", (1,)), ("mean", (1,)), ("softmax", (1,)), ("cumsum", (0,)),
                       ("var", (1,)), ("norm", (2.0, 1)), ("log_softmax", (0,))]:
        t = getattr(torch.masked, name)(torch.tensor(x), *args, dtype=torch.float64,
                                        mask=torch.tensor(m))
        n = getattr(ndgrad.masked, name)(ndgrad.tensor(x), *args, dtype=ndgrad.float64,
                                         mask=ndgrad.tensor(m))
        assert_close(n, t, np.float32, name)


def test_no_mask_is_the_plain_reduction():
    check_op([(2, 3, 4)], lambda lib, x: (lib.masked.sum(x, (0, 2)), lib.masked.mean(x, 1),
                                          lib.masked.var(x, (0, 1)), lib.masked.amax(x),
                                          lib.masked.softmax(x, -1), lib.masked.prod(x, (1, 2))))


def test_prod_second_order_with_size_one_dims():
    """Prod's gradient over a dim of size 1 is part of the graph under create_graph (with
    torch's second derivative), with and without zeros."""
    x = RNG.standard_normal((3, 1))
    x[0, 0] = 0.0
    check_op([x, np.ones((3, 1), bool)],
             lambda lib, x, m: lib.masked.prod(x, 1, mask=m) * x.sum(), dtypes=(np.float64,))
    xt = torch.tensor(x, requires_grad=True)
    xn = ndgrad.tensor(x, requires_grad=True)
    gt, = torch.autograd.grad(xt.prod(1).square().sum(), xt, create_graph=True)
    gn, = ndgrad.autograd.grad(xn.prod(1).square().sum(), xn, create_graph=True)
    assert gn.requires_grad and gt.requires_grad
    assert_close(ndgrad.autograd.grad(gn.sum(), xn)[0], torch.autograd.grad(gt.sum(), xt)[0])


def test_errors_like_torch():
    x, m = ndgrad.randn(3, 4), ndgrad.ones(3, 4, dtype=ndgrad.bool)
    with pytest.raises(IndexError, match="broadcastable mask"):
        ndgrad.masked.sum(x, 0, mask=ndgrad.ones(2, 3, 4, dtype=ndgrad.bool))
    with pytest.raises(IndexError, match="Dimension out of range"):
        ndgrad.masked.sum(x, 2, mask=m)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        ndgrad.masked.amax(x, (1, -1), mask=m)
    with pytest.raises(ValueError, match="mean\\(\\): Could not infer output dtype"):
        ndgrad.masked.mean(ndgrad.ones(3, dtype=ndgrad.int64), mask=ndgrad.ones(3).bool())
    with pytest.raises(ValueError, match="Only one of unbiased and correction"):
        ndgrad.masked.var(x, 1, True, correction=1, mask=m)


def test_reachable_after_bare_import():
    import subprocess
    import sys
    code = "import ndgrad; print(ndgrad.masked.sum(ndgrad.ones(2), mask=ndgrad.ones(2).bool()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "2." in out
