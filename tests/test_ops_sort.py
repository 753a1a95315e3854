"""Selection by value against PyTorch: median, mode, quantile, unique, histograms, searches.

(sort, topk and kthvalue are in test_ops_index.py.) Ties matter here: where torch picks an
index among equal values in a way it documents or that follows from its algorithm (median
along a dim, mode, cummax), the index is compared; gradients go where the index points.
"""

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op, check_values, run_both

import ndgrad

NAN = float("nan")


# -- median, nanmedian -----------------------------------------------------------------------
@pytest.mark.parametrize("shape,dim,keepdim", [
    ((7,), 0, False), ((4, 6), 1, False), ((4, 6), 0, True), ((3, 4, 5), -2, False),
    ((), 0, False), ((), -1, True), ((1, 3), 0, False),
])
def test_median_dim(shape, dim, keepdim):
    check_op([shape], lambda x: x.median(dim, keepdim))
    check_op([shape], lambda x: x.nanmedian(dim, keepdim=keepdim))


@pytest.mark.parametrize("shape", [(7,), (4, 6), (2, 3, 4), (), (1,)])
def test_median_all(shape):
    check_op([shape], lambda x: x.median())
    check_op([shape], lambda lib, x: lib.nanmedian(x))


def test_median_ties_indices_and_gradient():
    # torch's median along a dim takes the lower middle of the stable order: equal values
    # keep their positions, so the index is defined (2 here, not 0 or 5)
    values = np.array([[3., 1., 2., 1., 3., 2., 1., 2., 3., 2.],
                       [2., 2., 2., 2., 2., 2., 1., 1., 1., 1.]])
    check_values([values], lambda x: x.median(1))
    # the median of all elements shares its gradient among every tied element
    check_values([values], lambda x: x.median())
    check_values([values], lambda x: x.nanmedian())


def test_median_nan():
    rows = np.array([[1., NAN, 3., NAN, 0.], [2., 1., 4., 3., 5.], [NAN, 2., 1., 0., 3.]])
    check_values([rows], lambda x: x.median(1))  # a row with a NaN: its first NaN
    check_values([rows], lambda x: x.nanmedian(1))
    check_values([rows], lambda x: x.median())
    check_values([rows], lambda x: x.nanmedian())
    check_values([np.full(4, NAN)], lambda x: x.nanmedian())  # all NaN: shared by all


def test_median_integers_empty_and_errors():
    for fn in (lambda lib, x: x.median(), lambda lib, x: x.median(0),
               lambda lib, x: lib.median(x, 1, keepdim=True)):
        t, n = run_both(fn, np.array([[5, 1, 4], [2, 2, 9]]))
        for a, b in zip(n if isinstance(n, tuple) else (n,), t if isinstance(t, tuple) else (t,)):
            assert_close(a, b)
    t, n = run_both(lambda lib, x: x.median(), np.zeros((0, 3), np.float32))
    assert_close(n, t, np.float32)
    t, n = run_both(lambda lib, x: x.median(0), np.zeros((0, 3), np.float32).T)
    assert_close(n.values, t.values, np.float32)
    with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
        ndgrad.zeros(3, 0).median(1)


# -- mode -------------------------------------------------------------------------------------
def test_mode():
    # the smallest of the most frequent values, at its last occurrence
    values = np.array([[1., 1., 2., 2.], [5., 3., 3., 5.], [3., 1., 2., 1.], [4., 4., 4., 0.]])
    check_values([values], lambda x: x.mode())
    check_values([values], lambda x: x.mode(0, keepdim=True))
    check_values([values.reshape(2, 2, 4)], lambda lib, x: lib.mode(x, 1))
    check_op([(3, 5)], lambda x: x.mode(1))  # all distinct: the smallest
    check_op([()], lambda x: x.mode())
    t, n = run_both(lambda lib, x: x.mode(-1), np.array([[3, 1, 2, 1, 3, 2, 1, 2, 3, 2]]))
    assert_close(n.values, t.values)
    assert_close(n.indices, t.indices)
    with pytest.raises(IndexError, match="non-zero size"):
        ndgrad.zeros(3, 0).mode(1)


# -- quantile, nanquantile ----------------------------------------------------------------------
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("shape,dim,keepdim", [
    ((9,), None, False), ((4, 6), 1, False), ((4, 6), 0, True), ((3, 4, 5), None, True),
    ((2, 3, 5), -2, False), ((), None, False), ((1,), 0, True),
])
def test_quantile(interpolation, shape, dim, keepdim):
    check_op([shape], lambda x: x.quantile(0.3, dim, keepdim, interpolation=interpolation))
    check_op([shape, (4,)], lambda lib, x, q: lib.nanquantile(
        x, q.sigmoid(), dim, keepdim, interpolation=interpolation))


def test_quantile_gradient_through_q():
    # linear interpolation depends on q: torch differentiates it, and so do we
    check_values([np.array([0., 1., 4., 9., 16.]), np.array([0.1, 0.5, 0.9])],
                 lambda x, q: x.quantile(q))
    check_values([np.array([[0., 1., 4.], [9., 16., 2.]]), np.array(0.25)],
                 lambda x, q: x.quantile(q, 1, keepdim=True))


@pytest.mark.parametrize("interp", ["linear", "nearest", "midpoint"])
def test_quantile_nan_and_ties(interp):
    x = np.array([[1., NAN, 3., 0.], [2., 2., 2., 5.], [NAN, NAN, NAN, NAN]])
    check_values([x], lambda x: x.quantile(0.5, 1, interpolation=interp))
    check_values([x], lambda x: x.nanquantile(0.4, 1, interpolation=interp))
    check_values([x[1:2]], lambda x: x.quantile(0.5))  # tied: the gradient goes where gathered


@pytest.mark.parametrize("call,exc,match", [
    (lambda lib: lib.zeros(0).quantile(0.5), RuntimeError, "input tensor must be non-empty"),
    (lambda lib: lib.arange(4).quantile(0.5), RuntimeError, "either float or double"),
    (lambda lib: lib.zeros(3).quantile(1.5), RuntimeError, r"q must be in the range \[0, 1\]"),
    (lambda lib: lib.zeros(3).quantile(lib.tensor([0.5, 2.0])), RuntimeError,
     r"q values must be in the range \[0, 1\]"),
    (lambda lib: lib.zeros(3).quantile(lib.zeros(2, 2)), RuntimeError, "scalar or 1D"),
    (lambda lib: lib.zeros(3).quantile(lib.zeros(2, dtype=lib.float64)), RuntimeError,
     "same dtype"),
    (lambda lib: lib.zeros(3).quantile(0.5, interpolation="cubic"), RuntimeError,
     "interpolation must be one of"),
])
def test_quantile_errors(call, exc, match):
    for lib in (torch, ndgrad):
        with pytest.raises(exc, match=match):
            call(lib)


# -- unique, unique_consecutive -----------------------------------------------------------------
UNIQUE_INPUTS = [
    np.array([3, 1, 2, 1, 3, 0]),
    np.array([[1, 2], [1, 2], [0, 5], [1, 2]]),
    np.array([3., 1., NAN, 1., NAN]),  # each NaN is its own value
    np.array(4),
    np.zeros((0, 3)),
    np.array([[True, False], [True, True]]),
]


@pytest.mark.parametrize("x", UNIQUE_INPUTS, ids=range(len(UNIQUE_INPUTS)))
@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("sorted_", [True, False])
def test_unique(x, dim, sorted_):
    if dim is not None and x.dtype.kind == "f" and np.isnan(x).any():
        return  # torch's unique over slices sorts them with NaN unordered: its result is arbitrary
    if dim is not None and x.ndim == 0:
        for lib in (torch, ndgrad):
            with pytest.raises(IndexError, match="has no dimensions"):
                lib.tensor(x).unique(dim=dim)
        return
    if dim is not None and x.size == 0 and x.shape[dim]:
        for lib in (torch, ndgrad):
            with pytest.raises(RuntimeError, match="0 sized dimensions, and they aren't selected"):
                lib.tensor(x).unique(dim=dim)
        return
    t, n = run_both(lambda lib, a: lib.unique(a, sorted=sorted_, return_inverse=True,
                                               return_counts=True, dim=dim), x)
    for a, b in zip(n, t):
        assert_close(a, b)
    t, n = run_both(lambda lib, a: a.unique(dim=dim), x)
    assert_close(n, t)


@pytest.mark.parametrize("x", UNIQUE_INPUTS + [np.array([1, 1, 2, 2, 3, 1, 1, 2])],
                         ids=range(len(UNIQUE_INPUTS) + 1))
@pytest.mark.parametrize("dim", [None, 0, -1])
def test_unique_consecutive(x, dim):
    if dim is not None and x.ndim == 0:
        for lib in (torch, ndgrad):
            with pytest.raises(IndexError, match="has no dimensions"):
                lib.unique_consecutive(lib.tensor(x), dim=dim)
        return
    if dim is not None and x.size == 0 and x.shape[dim]:
        for lib in (torch, ndgrad):
            with pytest.raises(RuntimeError, match="0 sized dimensions, and they aren't selected"):
                lib.unique_consecutive(lib.tensor(x), dim=dim)
        return
    t, n = run_both(lambda lib, a: lib.unique_consecutive(a, return_inverse=True,
                                                           return_counts=True, dim=dim), x)
    for a, b in zip(n, t):
        assert_close(a, b)
    t, n = run_both(lambda lib, a: a.unique_consecutive(dim=dim), x)
    assert_close(n, t)


# -- histc, bincount ------------------------------------------------------------------------
@pytest.mark.parametrize("x,kw", [
    (np.array([1., 2., 1.]), dict(bins=4, min=0, max=3)),
    (np.array([0., 0.5, 1., 1.5, 2., 3.]), dict(bins=3, min=0, max=3)),  # max: the last bin
    (np.array([-1., 0.5, 7.]), dict(bins=2, min=0, max=1)),  # outside: ignored
    (np.array([2., 2.]), dict(bins=4)),  # all equal: [min - 1, max + 1]
    (np.array([]), dict(bins=5)),
    (np.random.default_rng(0).standard_normal((4, 5)), dict(bins=7)),
    (np.array([0.1, 0.2, 0.3, 0.7]), dict(bins=10, min=0, max=1)),
])
def test_histc(x, kw):
    for dt in (np.float32, np.float64):
        t, n = run_both(lambda lib, a: lib.histc(a, **kw), x.astype(dt))
        assert_close(n, t, dt)


def test_bincount():
    x = np.array([0, 1, 1, 3, 7])
    for fn in (lambda lib, a: lib.bincount(a), lambda lib, a: a.bincount(minlength=10),
               lambda lib, a: a.bincount(minlength=2)):
        t, n = run_both(fn, x)
        assert_close(n, t)
    for w in (np.arange(5.0), np.arange(5.0).astype(np.float32), np.arange(5)):
        t = torch.tensor(x).bincount(torch.tensor(w))
        n = ndgrad.tensor(x).bincount(ndgrad.tensor(w))
        assert_close(n, t, w.dtype if w.dtype.kind == "f" else np.float64)
    t, n = run_both(lambda lib, a: a.bincount(), np.zeros(0, np.int64))
    assert_close(n, t)
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="1-d non-negative integral"):
            lib.tensor([1, -1]).bincount()
        with pytest.raises(NotImplementedError, match="bincount_cpu"):
            lib.tensor([1.0]).bincount()


def test_msort():
    check_op([(4, 3)], lambda lib, x: lib.msort(x))
    check_op([(5,)], lambda x: x.msort())


# -- histogram, histogramdd ----------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(bins=4), dict(bins=3, range=(0.0, 2.0)),
                                dict(bins=5, density=True), dict(bins=2, weight=True),
                                dict(bins=np.array([-2.0, -0.5, 0.0, 3.0])),
                                dict(bins=np.array([1.0, -1.0]))])  # decreasing: all outside
def test_histogram(kw):
    rng = np.random.default_rng(1)
    for dt in (np.float32, np.float64):
        x = rng.standard_normal((4, 5)).astype(dt)
        w = rng.uniform(0, 2, (4, 5)).astype(dt)
        t_kw = {k: torch.tensor(v.astype(dt)) if isinstance(v, np.ndarray) else v
                for k, v in kw.items()}
        n_kw = {k: ndgrad.tensor(v.astype(dt)) if isinstance(v, np.ndarray) else v
                for k, v in kw.items()}
        if kw.get("weight"):
            t_kw["weight"], n_kw["weight"] = torch.tensor(w), ndgrad.tensor(w)
        t = torch.histogram(torch.tensor(x), **t_kw)
        n = ndgrad.tensor(x).histogram(**n_kw)
        assert_close(n.hist, t.hist, dt)
        assert_close(n.bin_edges, t.bin_edges, dt)


def test_histogramdd():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((20, 3))
    for bins, kw in [(4, {}), ([2, 3, 4], dict(density=True)),
                     ([2, 2, 2], dict(range=[-1.0, 1.0, -2.0, 2.0, 0.0, 1.0])),
                     ([np.array([-3.0, 0.0, 3.0])] * 3, {}), (3, dict(weight=True))]:
        t_bins = [torch.tensor(b) for b in bins] if isinstance(bins, list) and isinstance(
            bins[0], np.ndarray) else bins
        n_bins = [ndgrad.tensor(b) for b in bins] if isinstance(bins, list) and isinstance(
            bins[0], np.ndarray) else bins
        t_kw, n_kw = dict(kw), dict(kw)
        if kw.get("weight"):
            t_kw["weight"], n_kw["weight"] = torch.ones(20) * 2, ndgrad.ones(20) * 2
            t_kw["weight"] = t_kw["weight"].double()
            n_kw["weight"] = n_kw["weight"].double()
        t = torch.histogramdd(torch.tensor(x), t_bins, **t_kw)
        n = ndgrad.histogramdd(ndgrad.tensor(x), n_bins, **n_kw)
        assert_close(n.hist, t.hist)
        for a, b in zip(n.bin_edges, t.bin_edges):
            assert_close(a, b)


# -- topk edge cases, sort with NaN -------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda x: x.topk(0), lambda x: x.topk(5, dim=1), lambda x: x.topk(2, largest=False),
    lambda x: x.topk(3, 0, sorted=False), lambda x: x.topk(1, -2, False, True),
    lambda x: x[0, 0].topk(1), lambda x: x[:, :0].topk(0, 1),
], ids=range(7))
def test_topk_edges(fn):
    check_op([(3, 5)], fn)


def test_topk_and_sort_with_nan():
    x = np.array([[1.0, NAN, 0.0, NAN, 3.0], [2.0, -1.0, NAN, 2.0, 0.5]])
    # NaN is the largest: it comes first (torch orders tied numbers in topk as it likes)
    check_values([x[:, 1:]], lambda x: x.topk(3))
    check_values([x], lambda x: x.topk(2, largest=False))
    check_values([x], lambda x: x.sort(descending=True, stable=True))
    check_values([x], lambda x: x.sort(stable=True))
    check_values([x], lambda lib, x: lib.argsort(x, dim=0, descending=True))
