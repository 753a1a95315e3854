"""Functions that combine tensors, against PyTorch: the stack family, block_diag, meshgrid,
cartesian_prod, combinations, tensordot, cdist, trapezoid, searches, index helpers, and the
``*_copy`` forms of view ops."""

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op, check_values, run_both

import ndgrad


# -- stacking ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["hstack", "vstack", "row_stack", "dstack", "column_stack"])
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (2, 3)], [(), ()], [(2, 3, 4)] * 3,
                                    [(2, 1), (2, 1)], [(0,), (0,)]], ids=str)
def test_stack_family(name, shapes):
    check_op(shapes, lambda lib, *xs: getattr(lib, name)(xs))
    check_op(shapes, lambda lib, *xs: getattr(lib, name)(list(xs)))


def test_stack_family_mixed_dtypes():
    t, n = run_both(lambda lib, a, b: lib.hstack([a, b]), np.arange(3), np.ones(2, np.float32))
    assert_close(n, t, np.float32)


@pytest.mark.parametrize("name", ["atleast_1d", "atleast_2d", "atleast_3d"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4)], ids=str)
def test_atleast(name, shape):
    check_op([shape], lambda lib, x: getattr(lib, name)(x))
    check_op([shape, (2,)], lambda lib, x, y: getattr(lib, name)(x, y))
    check_op([shape], lambda lib, x: getattr(lib, name)([x]))


def test_block_diag():
    check_op([(2, 3), (1,), (), (3, 1)], lambda lib, *xs: lib.block_diag(*xs))
    check_op([(2, 0), (0, 3), (2, 2)], lambda lib, *xs: lib.block_diag(*xs))
    t, n = run_both(lambda lib, a, b: lib.block_diag(a, b), np.eye(2, dtype=np.int64),
                    np.ones((1, 2), np.float32))
    assert_close(n, t, np.float32)
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="must have 2 or fewer dimensions. Input 1 has 3"):
            lib.block_diag(lib.zeros(1), lib.zeros(1, 1, 1))


# -- grids and combinations --------------------------------------------------------------------
@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("shapes", [[(3,), (4,)], [(2,), (), (3,)], [(5,)], [(2,), (3,), (0,)]],
                         ids=str)
def test_meshgrid(indexing, shapes):
    check_op(shapes, lambda lib, *xs: lib.meshgrid(*xs, indexing=indexing))
    check_op(shapes, lambda lib, *xs: lib.meshgrid(list(xs), indexing=indexing))


def test_meshgrid_warns_and_errors():
    for lib in (torch, ndgrad):
        with pytest.warns(UserWarning, match="required to pass the indexing argument"):
            lib.meshgrid(lib.zeros(2), lib.zeros(3))
        with pytest.raises(RuntimeError, match="Expected 0D or 1D tensor"):
            lib.meshgrid(lib.zeros(2, 2), indexing="ij")
        with pytest.raises(RuntimeError, match="indexing must be one of"):
            lib.meshgrid(lib.zeros(2), indexing="ji")


def test_cartesian_prod_and_combinations():
    check_op([(3,), (2,), (2,)], lambda lib, *xs: lib.cartesian_prod(*xs))
    check_op([(3,)], lambda lib, x: lib.cartesian_prod(x))
    for r in (0, 1, 2, 3, 5):
        for rep in (False, True):
            check_op([(4,)], lambda lib, x, r=r, rep=rep: lib.combinations(x, r, rep))
    check_op([(0,)], lambda lib, x: lib.combinations(x))
    check_op([(2,)], lambda lib, x: lib.combinations(x, 3))  # longer than the input: none


# -- tensordot, cdist --------------------------------------------------------------------------
@pytest.mark.parametrize("shapes,dims", [
    ([(3, 4, 5), (4, 5, 2)], 2), ([(3, 4), (4, 5)], 1), ([(3, 4), (5, 6)], 0),
    ([(3, 4, 5), (5, 3, 2)], ([0, 2], [1, 0])), ([(3, 4), (4, 3)], ([1], [0])),
    ([(1, 1, 1), (2, 1, 2)], ([0, 1], [2, 0])),  # a size-1 dim broadcasts
    ([(2, 3), (3, 2)], ((0, 1), (1, 0))), ([(), ()], 0),
], ids=str)
def test_tensordot(shapes, dims):
    check_op(shapes, lambda lib, a, b: lib.tensordot(a, b, dims))
    t, n = run_both(lambda lib, a, b: lib.tensordot(a, b, dims),
                    *(np.arange(int(np.prod(s))).reshape(s) for s in shapes))
    assert_close(n, t)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("shapes", [[(4, 3), (5, 3)], [(2, 4, 3), (1, 5, 3)], [(3, 2), (3, 2)]],
                         ids=str)
def test_cdist(p, shapes):
    check_op(shapes, lambda lib, a, b: lib.cdist(a, b, p), gradgrad=False)


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist",
                                  "use_mm_for_euclid_dist_if_necessary"])
def test_cdist_euclid_modes_and_zero_distance(mode):
    check_op([(30, 3), (27, 3)], lambda lib, a, b: lib.cdist(a, b, compute_mode=mode),
             gradgrad=False, rtol=1e-3, atol=1e-4)
    # equal rows: distance 0, where torch's gradient is 0 (not nan)
    x = np.array([[0.0, 1.0], [2.0, 2.0], [0.0, 1.0]])
    for p in (0.5, 1.0, 2.0, 3.0, float("inf")):
        check_values([x, x[::-1].copy()], lambda lib, a, b, p=p: lib.cdist(a, b, p, mode),
                     gradgrad=False)


def test_cdist_errors():
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="same number of columns"):
            lib.cdist(lib.zeros(2, 3), lib.zeros(2, 4))
        with pytest.raises(RuntimeError, match="non-negative p"):
            lib.cdist(lib.zeros(2, 3), lib.zeros(2, 3), -1)


# -- trapezoid ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda lib, y, x: lib.trapezoid(y), lambda lib, y, x: lib.trapezoid(y, dx=0.5, dim=0),
    lambda lib, y, x: lib.trapezoid(y, x[0]), lambda lib, y, x: lib.trapezoid(y, x),
    lambda lib, y, x: lib.trapz(y, x), lambda lib, y, x: lib.trapz(y, dx=2.0),
    lambda lib, y, x: lib.cumulative_trapezoid(y), lambda lib, y, x: lib.cumulative_trapezoid(
        y, x[0]), lambda lib, y, x: lib.cumulative_trapezoid(y, dx=3.0, dim=0),
    lambda lib, y, x: lib.cumulative_trapezoid(y, x),
], ids=range(10))
def test_trapezoid(fn):
    check_op([(3, 5), (3, 5)], fn)
    check_op([(3, 1), (3, 1)], fn)


def test_trapezoid_edges():
    check_op([(3, 0)], lambda lib, y: lib.trapezoid(y))
    check_op([(3, 0)], lambda lib, y: lib.cumulative_trapezoid(y))
    t, n = run_both(lambda lib, y: lib.trapezoid(y), np.arange(5))
    assert_close(n, t)


# -- searching -------------------------------------------------------------------------------------
SEQ = np.array([1.0, 2.0, 2.0, 3.0, 5.0])


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_bucketize(right):
    vals = np.array([[0.0, 2.0, 2.5], [5.0, 6.0, 1.0]])
    for fn in (lambda lib, s, v: lib.searchsorted(s, v, right=right),
               lambda lib, s, v: lib.searchsorted(s, v, side="right" if right else "left"),
               lambda lib, s, v: lib.searchsorted(s, v, right=right, out_int32=True),
               lambda lib, s, v: lib.bucketize(v, s, right=right),
               lambda lib, s, v: lib.searchsorted(s, 2.0, right=right),
               lambda lib, s, v: lib.bucketize(2.0, s, right=right)):
        t, n = run_both(fn, SEQ, vals)
        assert_close(n, t)
    # one sorted row per row of values; rows with ties, and a sorter
    seq = np.array([[1, 3, 3, 7], [0, 0, 0, 1], [2, 4, 6, 8]])
    vals = np.array([[3, 0, 8], [0, 1, 2], [5, 2, 9]])
    t, n = run_both(lambda lib, s, v: lib.searchsorted(s, v, right=right), seq, vals)
    assert_close(n, t)
    perm = np.array([[2, 0, 1, 3], [3, 1, 0, 2], [1, 3, 0, 2]])
    shuffled = np.take_along_axis(seq, np.argsort(perm, 1), 1)  # sorted by perm
    t, n = run_both(lambda lib, s, v, p: lib.searchsorted(s, v, right=right, sorter=p),
                    shuffled, vals, perm)
    assert_close(n, t)


def test_searchsorted_errors():
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="side can only be 'left' or 'right'"):
            lib.searchsorted(lib.zeros(3), lib.zeros(2), side="middle")
        with pytest.raises(RuntimeError, match="first N-1 dimensions of boundaries"):
            lib.searchsorted(lib.zeros(2, 3), lib.zeros(3, 2))
        with pytest.raises(RuntimeError, match="boundaries tensor must be 1 dimension"):
            lib.bucketize(lib.zeros(3), lib.zeros(2, 2))


def test_isin():
    for a, b, kw in [(np.array([1, 2, 3, 4]), np.array([2, 4, 6]), {}),
                     (np.array([[1.0, 2.5], [3.0, 2.5]]), np.array([2.5]), dict(invert=True)),
                     (np.array([1, 2, 3]), np.array(2), {}),
                     (np.array([1, 2, 3]), np.array([1, 3]), dict(assume_unique=True))]:
        t, n = run_both(lambda lib, x, y, kw=kw: lib.isin(x, y, **kw), a, b)
        assert_close(n, t)
    t, n = (lib.isin(lib.tensor([1, 5]), 5) for lib in (torch, ndgrad))
    assert_close(n, t)


# -- index helpers ----------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(3, 3), (4, 3, 1), (3, 5, -1), (0, 2), (3, 4, -5), (2, 2, 5)])
def test_tril_triu_indices(args):
    for name in ("tril_indices", "triu_indices"):
        t = getattr(torch, name)(*args)
        n = getattr(ndgrad, name)(*args)
        assert_close(n, t)
        t = getattr(torch, name)(*args, dtype=torch.int32)
        n = getattr(ndgrad, name)(*args, dtype=ndgrad.int32)
        assert_close(n, t)


def test_unravel_index():
    for idx, shape in [(np.array([0, 5, 11, -1]), (3, 4)), (np.array(7), (2, 2, 2)),
                       (np.array([[3]]), 4)]:
        t = torch.unravel_index(torch.tensor(idx), shape)
        n = ndgrad.unravel_index(ndgrad.tensor(idx), shape)
        for a, b in zip(n, t):
            assert_close(a, b)
    t, n = (lib.unravel_index(lib.tensor([12, -13]), (3, 4)) for lib in (torch, ndgrad))
    for a, b in zip(n, t):  # out of range: torch's arithmetic wraps them around
        assert_close(a, b)


# -- *_copy ---------------------------------------------------------------------------------------
COPY_CASES = [
    ((2, 1), lambda lib, x: lib.expand_copy(x, (3, 2, 4))),
    ((2, 3, 4), lambda lib, x: lib.permute_copy(x, (2, 0, 1))),
    ((2, 3, 4), lambda lib, x: lib.view_copy(x, (6, 4))),
    ((2, 3), lambda lib, x: lib.t_copy(x)),
    ((2, 3, 4), lambda lib, x: lib.transpose_copy(x, 0, 2)),
    ((2, 3), lambda lib, x: lib.unsqueeze_copy(x, 1)),
    ((2, 1, 3), lambda lib, x: lib.squeeze_copy(x, 1)),
    ((3, 3), lambda lib, x: lib.diagonal_copy(x, 1)),
    ((3, 2), lambda lib, x: lib.unbind_copy(x, 1)),
    ((5, 2), lambda lib, x: lib.split_with_sizes_copy(x, [2, 3])),
    ((5, 2), lambda lib, x: lib.split_copy(x, 2)),
    ((7,), lambda lib, x: lib.unfold_copy(x, 0, 3, 2)),
    ((2, 3), lambda lib, x: lib.alias_copy(x)),
]


@pytest.mark.parametrize("case", COPY_CASES, ids=range(len(COPY_CASES)))
def test_copy_variants(case):
    shape, fn = case
    check_op([shape], fn)
    x = ndgrad.zeros(shape)
    outs = fn(ndgrad, x)
    for o in outs if isinstance(outs, tuple) else (outs,):
        assert not np.shares_memory(o.numpy(), x.numpy()) and o.is_contiguous()


# -- gradient ----------------------------------------------------------------------------------
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("kw", [{}, dict(spacing=0.5), dict(dim=1), dict(dim=(0, -1)),
                                dict(spacing=[2.0, 3.0]), dict(spacing=None)], ids=str)
def test_gradient(edge_order, kw):
    check_op([(4, 5)], lambda lib, x: lib.gradient(x, edge_order=edge_order, **kw))


def test_gradient_with_coordinates():
    coords = np.array([0.0, 1.0, 3.0, 4.0, 7.0])
    for order in (1, 2):
        check_op([(5,), coords], lambda lib, f, c, o=order: lib.gradient(
            f, spacing=(c,), edge_order=o), requires_grad=[True, False])
        check_op([(3, 5), coords], lambda lib, f, c, o=order: lib.gradient(
            f, spacing=[c], dim=1, edge_order=o), requires_grad=[True, False])
    t, n = run_both(lambda lib, f: lib.gradient(f), np.array([1, 2, 4, 8]))
    assert_close(n[0], t[0], np.float32)
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="at least edge_order"):
            lib.gradient(lib.zeros(2), edge_order=2)
