"""Indexing against PyTorch: __getitem__/__setitem__, gather/scatter, index_*, masks, sorting."""

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op, check_values, run_both

import ndgrad

# -- __getitem__ -----------------------------------------------------------------------------
# lambdas take (lib, x) so that index tensors are built with the library under test
GETITEM_CASES = [
    ((5,), lambda lib, x: x[2]),
    ((5,), lambda lib, x: x[-1]),
    ((5,), lambda lib, x: x[-5]),
    ((3, 4), lambda lib, x: x[1]),
    ((3, 4), lambda lib, x: x[1, 2]),
    ((3, 4), lambda lib, x: x[-1, -2]),
    ((3, 4), lambda lib, x: x[:, 1]),
    ((3, 4), lambda lib, x: x[1:]),
    ((3, 4), lambda lib, x: x[:, 1:3]),
    ((6, 4), lambda lib, x: x[::2]),
    ((6, 7), lambda lib, x: x[1::3, ::2]),
    ((6, 7), lambda lib, x: x[-4:-1, 5:100]),
    ((6, 7), lambda lib, x: x[4:2]),  # empty
    ((3, 4), lambda lib, x: x[None]),
    ((3, 4), lambda lib, x: x[:, None]),
    ((3, 4), lambda lib, x: x[None, :, None, 1]),
    ((2, 3, 4), lambda lib, x: x[...]),
    ((2, 3, 4), lambda lib, x: x[..., 1]),
    ((2, 3, 4), lambda lib, x: x[0, ...]),
    ((2, 3, 4), lambda lib, x: x[..., None, 1:3]),
    ((2, 3, 4), lambda lib, x: x[1, ..., ::2]),
    ((), lambda lib, x: x[...]),
    ((), lambda lib, x: x[None]),
    ((), lambda lib, x: x[()]),
    ((0, 3), lambda lib, x: x[:, 1]),
    ((2, 3), lambda lib, x: x[True]),
    ((2, 3), lambda lib, x: x[False]),
    # advanced indexing with integer tensors and lists
    ((5, 3), lambda lib, x: x[lib.tensor([0, 2, 4])]),
    ((5, 3), lambda lib, x: x[lib.tensor([4, -1, 0])]),
    ((5, 3), lambda lib, x: x[[1, 3]]),
    ((5, 3), lambda lib, x: x[lib.tensor([1, 1, 1, 3])]),  # repeated: grads accumulate
    ((5, 3), lambda lib, x: x[lib.tensor([[0, 1], [1, 0]])]),
    ((5, 3), lambda lib, x: x[:, lib.tensor([2, 0, 2])]),
    ((5, 3), lambda lib, x: x[lib.tensor([0, 2, 2]), lib.tensor([1, 1, 0])]),
    ((5, 3), lambda lib, x: x[lib.tensor([[0], [2]]), lib.tensor([[1, 2]])]),  # broadcast
    ((5, 3), lambda lib, x: x[lib.tensor([1, 3]), 1:]),
    ((5, 3), lambda lib, x: x[lib.tensor(2)]),  # 0-d index tensor
    ((5, 3), lambda lib, x: x[lib.tensor([], dtype=lib.int64)]),
    ((5, 3), lambda lib, x: x[lib.tensor([1, 2], dtype=lib.int32)]),
    ((2, 5, 3), lambda lib, x: x[:, lib.tensor([0, 4, 4]), :]),
    ((2, 5, 3), lambda lib, x: x[..., lib.tensor([0, 2])]),
    ((2, 5, 3), lambda lib, x: x[1, :, lib.tensor([0, 2, 0])]),
    ((2, 5, 3), lambda lib, x: x[lib.tensor([1, 0]), :, lib.tensor([0, 2])]),  # split: to front
    ((2, 5, 3), lambda lib, x: x[None, lib.tensor([1, 0, 1])]),
    ((2, 5, 3), lambda lib, x: x[lib.tensor([1, 0]), 2, lib.tensor([0, 2])]),
    # torch applies integers before advanced indices (NumPy would move idx's dim to the front)
    ((2, 5, 3), lambda lib, x: x[1, :, lib.tensor([0, 2, 0, 1])]),
    ((2, 5, 3), lambda lib, x: x[lib.tensor([1, 0, 1]), 1:, 2]),
    ((2, 5, 3), lambda lib, x: x[lib.tensor(1), :, lib.tensor([1, 0])]),
    ((2, 5, 3), lambda lib, x: x[:, -1, lib.tensor([[1, 0]])]),
    ((2, 5, 3), lambda lib, x: x[1, x[0, :, 0] > 0, -1]),
    ((2, 5, 3, 2), lambda lib, x: x[0, :, lib.tensor([2, 1]), 1]),
    ((2, 5, 3), lambda lib, x: x[lib.tensor([1, 0]), None, lib.tensor([0, 2])]),
    ((2, 5, 3), lambda lib, x: x[None, lib.tensor([1, 0]), :, lib.tensor([0, 2])]),
    ((2, 5, 3), lambda lib, x: x[True, lib.tensor([1, 0]), 1]),
    ((2, 5, 3), lambda lib, x: x[1, :, True]),
    ((2, 5, 3), lambda lib, x: x[False, 1]),
    ((2, 5, 3), lambda lib, x: x[:, True, lib.tensor([4, 0])]),
    ((2, 5, 3), lambda lib, x: x[..., 1, lib.tensor([2, 2])]),
    # boolean masks
    ((3, 4), lambda lib, x: x[x > 0]),
    ((3, 4), lambda lib, x: x[x > 100]),  # nothing selected
    ((3, 4), lambda lib, x: x[lib.tensor([True, False, True])]),
    ((3, 4), lambda lib, x: x[:, lib.tensor([True, False, True, True])]),
    ((3, 4), lambda lib, x: x[[True, False, True]]),
    ((2, 3, 4), lambda lib, x: x[x[..., 0] > 0]),
    ((2, 3, 4), lambda lib, x: x[x[:, :, 0] < 0, 1:]),
    ((3, 4), lambda lib, x: x[lib.tensor([True, False, True]), lib.tensor([0, 3])]),
    ((3,), lambda lib, x: x[lib.tensor(True)]),
    ((3, 4), lambda lib, x: x[lib.tensor([1, 0, 1], dtype=lib.uint8)]),  # a byte mask
    ((3, 4), lambda lib, x: x[lib.tensor([1, 1]), :][:, lib.tensor([2, 2, 0])]),  # chained
]


@pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8 is now deprecated")
@pytest.mark.parametrize("case", range(len(GETITEM_CASES)))
def test_getitem(case):
    shape, fn = GETITEM_CASES[case]
    check_op([shape], fn)


def test_getitem_repeated_indices_accumulate():
    x = ndgrad.zeros(4, requires_grad=True)
    x[ndgrad.tensor([1, 1, 1, 3])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 3, 0, 1])
    y = ndgrad.zeros(3, 3, requires_grad=True)
    y[[0, 0, 2], [1, 1, 1]].sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 2, 0], [0, 0, 0], [0, 1, 0]])


def test_getitem_views_and_copies():
    x = ndgrad.arange(12.0).reshape(3, 4)
    assert np.shares_memory(x[1].numpy(), x.numpy())
    assert np.shares_memory(x[:, ::2].numpy(), x.numpy())
    assert not np.shares_memory(x[[0, 1]].numpy(), x.numpy())  # advanced indexing copies
    assert not np.shares_memory(x[x > 3].numpy(), x.numpy())


def test_getitem_index_tensor_requires_grad_is_not_differentiated():
    # an index computed from a float tensor (argmax) carries no gradient
    check_op([(4, 5)], lambda x: x[x.argmax(dim=0), (x * 0).long()[0]])


@pytest.mark.parametrize("index,exc,match", [
    (lambda lib: np.s_[::-1], ValueError, "step must be greater than zero"),
    (lambda lib: np.s_[:, 3:0:-1], ValueError, "step must be greater than zero"),
    (lambda lib: np.s_[::0], ValueError, "slice step cannot be zero"),
    (lambda lib: 5, IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda lib: -4, IndexError, "index -4 is out of bounds for dimension 0 with size 3"),
    (lambda lib: np.s_[:, -5], IndexError, "index -5 is out of bounds for dimension 1 with size 4"),
    (lambda lib: lib.tensor([0, 3]), IndexError, "index 3 is out of bounds for dimension 0 with "
                                                 "size 3"),
    (lambda lib: [0, 7], IndexError, "index 7 is out of bounds for dimension 0 with size 3"),
    (lambda lib: np.s_[0, 0, 0], IndexError, "too many indices for tensor of dimension 2"),
    (lambda lib: lib.tensor([True, False]), IndexError, r"The shape of the mask \[2\] at index 0 "
                                                        r"does not match"),
    (lambda lib: lib.tensor([0.0]), IndexError, "tensors used as indices must be long, int, byte "
                                                "or bool tensors"),
    (lambda lib: 1.0, IndexError, "only integers, slices"),
])
def test_getitem_errors(index, exc, match):
    for lib in (torch, ndgrad):
        x = lib.arange(12.0).reshape(3, 4)
        with pytest.raises(exc, match=match):
            x[index(lib)]


# -- __setitem__ -----------------------------------------------------------------------------
def _setitem_fn(index, value_is_input):
    """A lambda ``(lib, x[, v]) -> y`` that writes into a non-leaf copy of x and uses the result."""
    def fn(lib, x, v=None):
        y = x * 1.5  # a non-leaf in the graph
        val = v * 2 if value_is_input else value_is_input is False or 7.0
        y[index(lib)] = val
        return y.exp()
    return fn


SETITEM_CASES = [
    # (x shape, value shape or None for a Python number, index)
    ((5,), None, lambda lib: 2),
    ((5,), None, lambda lib: np.s_[1:4]),
    ((3, 4), (4,), lambda lib: 1),
    ((3, 4), (), lambda lib: np.s_[:, 2]),
    ((3, 4), (3,), lambda lib: np.s_[:, 2]),
    ((3, 4), (1,), lambda lib: np.s_[::2]),  # value broadcast
    ((3, 4), (2, 1), lambda lib: np.s_[::2, 1:]),
    ((3, 4), (2, 4), lambda lib: lib.tensor([0, 2])),
    ((3, 4), (2,), lambda lib: (lib.tensor([0, 2]), lib.tensor([3, 1]))),
    ((3, 4), (), lambda lib: lib.tensor([[True, False, True, False]] * 3)),
    ((3, 4), (4,), lambda lib: lib.tensor([True, False, True])),
    ((2, 3, 4), (3, 1), lambda lib: np.s_[1, ..., 1:3]),
    ((2, 3, 4), (1, 4), lambda lib: np.s_[..., 0, :]),
    ((2, 3, 4), (2, 3), lambda lib: np.s_[..., -1]),
    ((2, 3), (1, 1, 3), lambda lib: 0),  # leading size-1 dims of the value are dropped
    ((5,), (3,), lambda lib: lib.tensor([1, 4, 1])),  # repeated: last write wins, v gets grads
    ((2, 5, 3), (4,), lambda lib: (1, slice(None), lib.tensor([0, 2, 0, 1]))),  # ints first
    ((2, 5, 3), (3, 1), lambda lib: (lib.tensor([1, 0, 1]), slice(1, None), 2)),
]


@pytest.mark.parametrize("case", range(len(SETITEM_CASES)))
def test_setitem(case):
    shape, vshape, index = SETITEM_CASES[case]
    if vshape is None:
        check_op([shape], _setitem_fn(index, None))
    else:
        check_op([shape, vshape], _setitem_fn(index, True))


def test_setitem_value_requires_grad_into_plain_tensor():
    # x does not require grad, v does: x joins the graph (as in torch)
    for lib in (torch, ndgrad):
        v = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.zeros(3, 2)
        x[1] = v * 3
        assert x.requires_grad and not x.is_leaf
        (x * lib.tensor([[1.0], [2.0], [3.0]])).sum().backward()
        np.testing.assert_array_equal(np.asarray(v.grad), [6.0, 6.0])


def test_setitem_tensor_value_dtype_and_history():
    check_op([(4, 3), (3,)], lambda lib, x, v: _set(x.sin(), (lib.tensor([3, 0]),), v.exp()))
    check_op([(4, 3), (3,)], lambda lib, x, v: _set(x.sin(), (x[:, 0] > 0,), v.exp()),
             seed=3)
    # an int value into a float tensor and a float64 value into float32
    for lib in (torch, ndgrad):
        x = lib.zeros(3)
        x[0] = lib.tensor(5)
        x[1:] = lib.tensor([1.5, 2.5], dtype=lib.float64)
        assert x.dtype == lib.float32
        np.testing.assert_array_equal(np.asarray(x), [5, 1.5, 2.5])


def _set(y, index, v):
    y[index] = v
    return y * y


def test_setitem_on_leaf_under_no_grad():
    tw = torch.randn(3, 4, requires_grad=True)
    nw = ndgrad.tensor(tw.detach().numpy(), requires_grad=True)
    with torch.no_grad():
        tw[1] = 0.0
        tw[:, 2] = torch.arange(3.0)
    with ndgrad.no_grad():
        nw[1] = 0.0
        nw[:, 2] = ndgrad.arange(3.0)
    assert nw.is_leaf and nw.requires_grad and nw.grad_fn is None
    assert_close(nw, tw)
    (tw * tw).sum().backward()
    (nw * nw).sum().backward()
    assert_close(nw.grad, tw.grad)


def test_setitem_on_leaf_requiring_grad_raises():
    for lib in (torch, ndgrad):
        w = lib.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            w[0] = 1.0


def test_setitem_bumps_version_and_detects_saved():
    for lib in (torch, ndgrad):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        z = y * y  # saves y
        y[0] = 5.0
        with pytest.raises(RuntimeError, match="inplace"):
            z.sum().backward()


def test_setitem_errors():
    for lib in (torch, ndgrad):
        x = lib.zeros(3, 4)
        with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0"):
            x[3] = 1.0
        with pytest.raises(ValueError, match="step must be greater than zero"):
            x[::-1] = 1.0
        with pytest.raises(RuntimeError):
            x[0] = lib.zeros(3)  # shape mismatch
        with pytest.raises(RuntimeError, match="refers to a single memory location"):
            lib.zeros(3, 1).expand(3, 4)[0] = 1.0


# -- gather / scatter / index_* / masks ------------------------------------------------------
IDX = np.array([[0, 2, 2], [1, 0, 0]])  # (2, 3), repeated entries on purpose


@pytest.mark.parametrize("dim,index", [
    (0, np.array([[0, 1, 2, 0], [2, 2, 1, 0]])),
    (1, np.array([[0, 3], [1, 1], [3, 3]])),
    (-1, np.array([[0], [1], [2]])),
    (1, np.array([[0, 3, 3, 3, 2]] * 3)),  # index larger than the input along dim
    (0, np.zeros((0, 4), np.int64)),
])
def test_gather(dim, index):
    check_op([(3, 4)], lambda lib, x: x.gather(dim, lib.tensor(index)))
    check_op([(3, 4)], lambda lib, x: lib.gather(x, dim, lib.tensor(index)))


def test_gather_3d_smaller_index():
    index = np.array([[[1], [0]], [[2], [2]]])  # (2, 2, 1) into (2, 3, 4) along dim 1
    check_op([(2, 3, 4)], lambda lib, x: x.gather(1, lib.tensor(index)))


@pytest.mark.parametrize("dim,index", [
    (0, np.array([[0, 1, 2, 0], [2, 3, 1, 0]])),  # distinct positions per column
    (1, np.array([[0, 3], [1, 2], [3, 0]])),
    (-1, np.array([[2], [0], [1], [3]])),
    (0, np.zeros((0, 4), np.int64)),
])
def test_scatter_src(dim, index):
    src = index.shape
    check_op([(4, 4), src], lambda lib, x, s: x.scatter(dim, lib.tensor(index), s))
    check_op([(4, 4), src], lambda lib, x, s: lib.scatter(x, dim, lib.tensor(index), src=s))
    # a larger src: only src[:index.shape] is read (forward only: torch's backward rejects it)
    big = tuple(n + 1 for n in src)
    check_op([(4, 4), big], lambda lib, x, s: x.scatter(dim, lib.tensor(index), s), grad=False)


def test_scatter_value():
    index = np.array([[0, 1, 2, 0], [2, 3, 1, 0]])
    check_op([(4, 4)], lambda lib, x: x.scatter(0, lib.tensor(index), 2.5))
    check_op([(4, 4)], lambda lib, x: x.scatter(0, lib.tensor(index), value=-1.0))


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("dim", [0, 1])
def test_scatter_add(dim):
    index = np.array([[0, 1, 1], [3, 1, 1]])  # repeated targets accumulate
    check_op([(4, 4), (2, 3)], lambda lib, x, s: x.scatter_add(dim, lib.tensor(index), s))
    check_op([(4, 4), (2, 3)], lambda lib, x, s: lib.scatter_add(x, dim, lib.tensor(index), s))
    check_op([(4, 4), (3, 4)], lambda lib, x, s: x.scatter_add(dim, lib.tensor(index), s),
             grad=False)
    # torch has no derivative for scatter(reduce=...): forward only
    check_op([(4, 4), (2, 3)],
             lambda lib, x, s: x.scatter(dim, lib.tensor(index), s, reduce="add"), grad=False)


def test_scatter_inplace():
    index = np.array([[0, 1, 1], [3, 1, 1]])
    check_op([(4, 4), (2, 3)],
             lambda lib, x, s: (x * 1).scatter_add_(0, lib.tensor(index), s).exp())
    check_op([(4, 4), (1, 3)],
             lambda lib, x, s: (x * 1).scatter_(1, lib.tensor([[0, 2, 1]]), s).exp())


@pytest.mark.parametrize("dim,index", [(0, [2, 0, 2]), (1, [3, 3]), (-1, [0]), (0, []),
                                       (1, np.array(2))])
def test_index_select(dim, index):
    idx = np.asarray(index, dtype=np.int64)
    check_op([(3, 4)], lambda lib, x: x.index_select(dim, lib.tensor(idx)))
    check_op([(3, 4)], lambda lib, x: lib.index_select(x, dim, lib.tensor(idx)))


@pytest.mark.parametrize("dim,index,src", [(0, [2, 0, 2], (3, 4)), (1, [3, 3], (3, 2)),
                                           (-1, [1], (3, 1))])
def test_index_add(dim, index, src):
    idx = np.asarray(index, dtype=np.int64)
    check_op([(3, 4), src], lambda lib, x, s: x.index_add(dim, lib.tensor(idx), s))
    check_op([(3, 4), src], lambda lib, x, s: x.index_add(dim, lib.tensor(idx), s, alpha=-2.0))
    check_op([(3, 4), src], lambda lib, x, s: lib.index_add(x, dim, lib.tensor(idx), s))


@pytest.mark.parametrize("shapes", [[(3, 4)], [(3, 4), (4,)], [(4,), (3, 4)], [(3, 1), (1, 4)],
                                    [()], [(0, 4)]])
def test_masked_select(shapes):
    if len(shapes) == 1:
        check_op(shapes, lambda lib, x: x.masked_select(x > 0))
        check_op(shapes, lambda lib, x: lib.masked_select(x, x < 0.5))
    else:
        check_op(shapes, lambda x, m: x.masked_select(m > 0), requires_grad=[True, False])


@pytest.mark.parametrize("shapes", [[(3, 4)], [(3, 4), (4,)], [(3, 4), (3, 1)], [()]])
def test_masked_fill(shapes):
    if len(shapes) == 1:
        check_op(shapes, lambda x: x.masked_fill(x > 0, -1.0))
        check_op(shapes, lambda lib, x: lib.masked_fill(x, x < 0.5, float("-inf")).exp())
    else:
        check_op(shapes, lambda x, m: x.masked_fill(m > 0, 3.0), requires_grad=[True, False])
        # a 0-d tensor value is differentiable
        check_op([shapes[0], ()], lambda x, v: x.masked_fill(x > 0, v))


# -- sort / topk / kthvalue / argsort --------------------------------------------------------
TIES = np.array([[3.0, 1.0, 3.0, 2.0, 1.0, 3.0], [0.5, 0.5, 0.5, -1.0, 2.0, -1.0]])


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort(dim, descending):
    check_op([(4, 5)], lambda x: x.sort(dim, descending))
    check_op([(4, 5)], lambda lib, x: lib.sort(x, dim=dim, descending=descending))
    check_op([(3, 4, 5)], lambda x: x.sort(dim=dim, descending=descending).values)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_stable_ties(descending):
    for dtype in (np.float32, np.float64):
        x = TIES.astype(dtype)
        check_op([x], lambda x: x.sort(stable=True, descending=descending))
        check_op([x], lambda lib, x: lib.sort(x, dim=1, descending=descending, stable=True))
        check_op([x], lambda x: x.argsort(dim=1, descending=descending, stable=True),
                 grad=False)
        # gradients follow the returned indices
        check_op([x.T.copy()], lambda x: x.sort(dim=0, descending=descending, stable=True).values)


def test_sort_named_tuple_and_ints():
    v, i = ndgrad.tensor([3, 1, 2]).sort()
    assert v.tolist() == [1, 2, 3] and i.tolist() == [1, 2, 0] and v.dtype == ndgrad.int64
    out = ndgrad.tensor([[2.0, 1.0]]).sort(descending=True)
    assert out.values.tolist() == [[2.0, 1.0]] and out.indices.dtype == ndgrad.int64
    u = ndgrad.tensor([0, 255, 3], dtype=ndgrad.uint8).sort(descending=True)
    assert u.values.tolist() == [255, 3, 0] and u.values.dtype == ndgrad.uint8
    b = ndgrad.tensor([True, False, True]).sort(stable=True)
    assert b.values.tolist() == [False, True, True] and b.indices.tolist() == [1, 0, 2]


def test_sort_nan_is_largest():
    for descending in (False, True):
        t = torch.tensor([1.0, float("nan"), -1.0, 2.0]).sort(descending=descending)
        n = ndgrad.tensor([1.0, float("nan"), -1.0, 2.0]).sort(descending=descending)
        assert_close(n.values, t.values)
        assert_close(n.indices, t.indices)


@pytest.mark.parametrize("shape,dim", [((), 0), ((0,), 0), ((1,), 0), ((3, 0), 1)])
def test_sort_edge_shapes(shape, dim):
    check_op([shape], lambda x: x.sort(dim))
    check_op([shape], lambda x: x.argsort(dim))


@pytest.mark.parametrize("k,dim,largest", [(1, -1, True), (3, -1, True), (2, 0, False),
                                           (5, 1, False), (0, 1, True), (4, 0, True)])
def test_topk(k, dim, largest):
    check_op([(4, 5)], lambda x: x.topk(k, dim, largest))
    check_op([(4, 5)], lambda lib, x: lib.topk(x, k, dim=dim, largest=largest))


def test_topk_ties_values():
    for lib in (torch, ndgrad):
        v = lib.tensor([1.0, 3.0, 3.0, 2.0]).topk(2).values
        np.testing.assert_array_equal(np.asarray(v), [3.0, 3.0])


@pytest.mark.parametrize("k,dim,keepdim", [(1, -1, False), (3, 1, True), (4, 0, False),
                                           (2, 0, True)])
def test_kthvalue(k, dim, keepdim):
    check_op([(4, 5)], lambda x: x.kthvalue(k, dim, keepdim))
    check_op([(4, 5)], lambda lib, x: lib.kthvalue(x, k, dim=dim, keepdim=keepdim))


def test_kthvalue_ties_values():
    t = torch.tensor(TIES).kthvalue(3, dim=1).values
    n = ndgrad.tensor(TIES).kthvalue(3, dim=1).values
    assert_close(n, t)


@pytest.mark.parametrize("dim,descending", [(0, False), (1, True), (-1, False)])
def test_argsort(dim, descending):
    check_op([(4, 5)], lambda x: x.argsort(dim, descending))
    check_op([(4, 5)], lambda lib, x: lib.argsort(x, dim=dim, descending=descending))


@pytest.mark.parametrize("fn,exc,match", [
    (lambda lib, x: x.gather(2, lib.tensor([[0]])), IndexError, "Dimension out of range"),
    (lambda lib, x: x.gather(0, lib.tensor([0])), RuntimeError,
     "Index tensor must have the same number of dimensions as input tensor"),
    (lambda lib, x: x.gather(0, lib.tensor([[5]])), RuntimeError, "index 5 is out of bounds"),
    (lambda lib, x: x.gather(0, lib.tensor([[0.0]])), RuntimeError, "Expected dtype int32/int64"),
    (lambda lib, x: x.scatter(0, lib.tensor([[9]]), 1.0), RuntimeError,
     "index 9 is out of bounds"),
    (lambda lib, x: x.index_select(0, lib.tensor([3])), IndexError, "index out of range in self"),
    (lambda lib, x: x.index_select(0, lib.tensor([-1])), IndexError, "index out of range in self"),
    (lambda lib, x: x.gather(0, lib.tensor([[-1]])), RuntimeError, "index -1 is out of bounds"),
    (lambda lib, x: x.gather(1, lib.zeros(4, 1, dtype=lib.int64)), RuntimeError,
     r"Size does not match at dimension 0 expected index \[4, 1\] to be no larger than self"),
    (lambda lib, x: x.scatter(0, lib.zeros(2, 2, dtype=lib.int64), lib.ones(1, 1)), RuntimeError,
     r"to be no larger size than src \[1, 1\]"),
    (lambda lib, x: x.scatter(0, lib.tensor([0]), lib.ones(1)), RuntimeError,
     "Index tensor must have the same number of dimensions as self tensor"),
    (lambda lib, x: x.scatter_add(0, lib.tensor([[5]]), lib.ones(1, 1)), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda lib, x: x.index_add(0, lib.tensor([5]), lib.ones(1, 4)), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda lib, x: x.index_add(0, lib.tensor([0]), lib.ones(1, 3)), RuntimeError,
     "source tensor shape must match self tensor shape"),
    (lambda lib, x: x.index_add(0, lib.tensor([0, 1]), lib.ones(1, 4)), RuntimeError,
     r"Number of indices \(2\) should be equal to source.size\(dim\)"),
    (lambda lib, x: x.index_select(0, lib.tensor([[0]])), IndexError, "Index is supposed to be"),
    (lambda lib, x: x.topk(5), RuntimeError, "selected index k out of range"),
    (lambda lib, x: x.kthvalue(0), RuntimeError, r"kthvalue\(\): selected number k out of range"),
    (lambda lib, x: x.kthvalue(5), RuntimeError, r"kthvalue\(\): selected number k out of range"),
    (lambda lib, x: x.masked_fill(lib.tensor([1, 0, 1, 0]), 0.0), RuntimeError,
     "masked_fill_ only supports boolean masks"),
    (lambda lib, x: x.masked_select(lib.tensor([True, False])), RuntimeError,
     r"The size of tensor a \(2\) must match the size of tensor b \(4\)"),
    (lambda lib, x: x.sort(2), IndexError, "Dimension out of range"),
])
def test_index_op_errors(fn, exc, match):
    for lib in (torch, ndgrad):
        x = lib.zeros(3, 4)
        with pytest.raises(exc, match=match):
            fn(lib, x)


def test_setitem_plain_tensors_and_views():
    # no graph: values are written straight into the array, through views too
    for lib in (torch, ndgrad):
        x = lib.zeros(3, 4)
        for i in range(3):
            x[i] = lib.arange(4.0) * i
        x.t()[1, 2] = -1.0  # writes x[2, 1]
        x[1][x[1] > 1] = 9.0
        x[[0, 0], [3, 3]] = lib.tensor([5.0, 5.0])
        x[..., -1:] += 1
        y = lib.zeros(2, dtype=lib.int64)
        y[0] = 2.7  # float into int truncates, as in torch
        if lib is torch:
            expect_x, expect_y = x.numpy().copy(), y.numpy().copy()
    np.testing.assert_array_equal(x.numpy(), expect_x)
    np.testing.assert_array_equal(y.numpy(), expect_y)
    assert x._version > 0


# -- 0-d inputs, empty and smaller indices -----------------------------------------------------
ZERO_D_CASES = [
    lambda lib, x: x.gather(0, lib.tensor(0)),
    lambda lib, x: x.gather(0, lib.tensor([0, 0])),
    lambda lib, x: x.scatter(0, lib.tensor(0), x * 3),
    lambda lib, x: x.scatter(0, lib.tensor([0]), 2.5),
    lambda lib, x: x.scatter_add(0, lib.tensor([0, 0]), x.expand(2) * lib.tensor([1.0, 2.0],
                                                                                   dtype=x.dtype)),
    lambda lib, x: x.index_add(0, lib.tensor([0]), x * 2),
    lambda lib, x: x.index_add(0, lib.tensor(0), x.exp(), alpha=3),
    lambda lib, x: x.index_fill(0, lib.tensor([0]), -1.5),
    lambda lib, x: x.index_fill(0, lib.tensor(0), x * 4),
    lambda lib, x: x.index_copy(0, lib.tensor([0]), x.sin()),
    lambda lib, x: x.index_select(0, lib.tensor([0])),
    lambda lib, x: x.take(lib.tensor([0, 0, -1])),
    lambda lib, x: x.put(lib.tensor([0]), x * 5),
    lambda lib, x: x.scatter_reduce(0, lib.tensor([0, 0]), x.expand(2) * 2, "prod"),
    lambda lib, x: x.index_reduce(0, lib.tensor([0]), x.cos(), "amax", include_self=False),
]


@pytest.mark.parametrize("fn", ZERO_D_CASES, ids=range(len(ZERO_D_CASES)))
def test_index_ops_on_0d(fn):
    check_op([()], fn)


def test_nonzero_and_argwhere_of_0d():
    for v in (2.0, 0.0):
        t, n = run_both(lambda lib, x: x.nonzero(), np.array(v))
        assert_close(n, t)
        t, n = run_both(lambda lib, x: lib.argwhere(x), np.array(v))
        assert_close(n, t)
        t, n = run_both(lambda lib, x: x.nonzero(as_tuple=True), np.array(v))
        assert len(n) == len(t) == 1
        assert_close(n[0], t[0])


@pytest.mark.parametrize("fn", [
    lambda lib, x: x.gather(0, lib.zeros(2, 0, dtype=lib.int64)),  # empty: no checks
    lambda lib, x: x.scatter(1, lib.zeros(3, 0, dtype=lib.int64), 1.0),
    lambda lib, x: x.scatter(0, lib.tensor([[1], [0]]), x[:2, :1] * 2),  # smaller than self
    lambda lib, x: x.scatter_add(1, lib.tensor([[2, 2], [0, 1]]), x[1:3, 2:4] * 3),
    lambda lib, x: x.gather(1, lib.tensor([[4, 0, 4]])),
], ids=range(5))
def test_gather_scatter_index_smaller_or_empty(fn):
    check_op([(4, 5)], fn)


# -- scatter_reduce and index_reduce -------------------------------------------------------------
REDUCES = ["sum", "prod", "mean", "amax", "amin"]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce(reduce, include_self):
    index = np.array([[0, 1, 1], [3, 1, 1], [0, 0, 2]])  # repeated targets, and untouched ones
    for dim in (0, 1, -1):
        check_op([(4, 4), (3, 3)], lambda lib, x, s, dim=dim: x.scatter_reduce(
            dim, lib.tensor(index), s, reduce, include_self=include_self))
    # a src larger than the index: only its first part is read (forward only: torch's
    # backward rejects that shape)
    check_op([(4, 4), (3, 4)], lambda lib, x, s: x.scatter_reduce(
        1, lib.tensor(index), s, reduce, include_self=include_self), grad=False)
    t, n = run_both(lambda lib, x, s: lib.scatter_reduce(x, 0, lib.tensor(index), s, reduce,
                                                         include_self=include_self),
                    np.arange(16).reshape(4, 4), np.arange(9).reshape(3, 3) - 4)
    assert_close(n, t)  # integers: mean rounds down as torch's does


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["prod", "amax", "amin"])
def test_scatter_reduce_zeros_and_ties(reduce, include_self):
    # prod: a single zero in a group and two zeros in a group; amax/amin: tied values
    x = np.array([[1.0, 0.0, 2.0], [3.0, 3.0, -1.0]])
    src = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [2.0, 3.0, 2.0]])
    index = np.array([[0, 1, 0], [1, 1, 0], [0, 0, 1]])
    fn = lambda lib, a, s: a.scatter_reduce(0, lib.tensor(index), s, reduce,  # noqa: E731
                                            include_self=include_self)
    check_values([x, src], fn, gradgrad=reduce != "prod")


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
def test_index_reduce(reduce, include_self):
    idx = np.array([2, 0, 2, 1])
    check_op([(3, 4), (4, 4)], lambda lib, x, s: x.index_reduce(
        0, lib.tensor(idx), s, reduce, include_self=include_self))
    check_op([(3, 4), (3, 4)], lambda lib, x, s: lib.index_reduce(
        x, 1, lib.tensor(idx), s, reduce, include_self=include_self))
    check_op([(3, 4), (3, 4)], lambda lib, x, s: (x * 1).index_reduce_(
        -1, lib.tensor(idx), s, reduce, include_self=include_self))


def test_scatter_reduce_errors():
    with pytest.raises(RuntimeError, match="reduce argument must be either sum, prod, mean"):
        ndgrad.zeros(3).scatter_reduce(0, ndgrad.tensor([0]), ndgrad.zeros(1), "max")
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="Expected reduce to be one of prod, mean"):
            lib.zeros(3).index_reduce(0, lib.tensor([0]), lib.zeros(1), "sum")
        with pytest.raises(RuntimeError, match="self.dtype to be equal to src.dtype"):
            lib.zeros(3).scatter_reduce(0, lib.tensor([0]), lib.zeros(1, dtype=lib.float64),
                                        "sum")


# -- take, put, index_put, index_copy, select/slice scatters, masked_scatter ------------------
@pytest.mark.parametrize("fn", [
    lambda lib, x, s: x.take(lib.tensor([[0, 11], [-1, 5]])),
    lambda lib, x, s: lib.take(x, lib.tensor([3, 3, 3])),
    lambda lib, x, s: x.take_along_dim(lib.tensor([[0], [2], [1]]), 1),
    lambda lib, x, s: lib.take_along_dim(x, lib.tensor([[0, -1, 2, 2]]), 0),  # broadcast rows
    lambda lib, x, s: x.take_along_dim(lib.tensor([5, 0, 11])),  # dim None: flattened
    lambda lib, x, s: x.put(lib.tensor([0, 5, -1]), s[0, :3]),
    lambda lib, x, s: x.put(lib.tensor([[1, 1], [4, 1]]), s[:2, :2], accumulate=True),
    lambda lib, x, s: (x * 1).put_(lib.tensor([2, 2]), s[0, :2] * 3),
    lambda lib, x, s: x.index_put((lib.tensor([0, 2, 0]), lib.tensor([1, 1, 1])), s[0, :3]),
    lambda lib, x, s: x.index_put((lib.tensor([0, 2, 0]),), s[:3], accumulate=True),
    lambda lib, x, s: x.index_put((lib.tensor([2, 2]), lib.tensor([3, 3])), s[0, 0],
                                  accumulate=True),
    lambda lib, x, s: lib.index_put(x, (lib.tensor([[True, False, True, False]] * 3),),
                                    s[0, :2].sum(), accumulate=True),
    lambda lib, x, s: (x * 1).index_put_((lib.tensor([1]),), s[:1]),
    lambda lib, x, s: x.index_copy(1, lib.tensor([3, 0]), s[:, :2]),
    lambda lib, x, s: lib.index_copy(x, 0, lib.tensor([2]), s[1:2]),
    lambda lib, x, s: (x * 1).index_copy_(0, lib.tensor([0, 1]), s[:2]),
    lambda lib, x, s: x.select(1, -1),
    lambda lib, x, s: lib.select(x, 0, 2),
    lambda lib, x, s: x.select_scatter(s[0], 0, 1),
    lambda lib, x, s: lib.select_scatter(x, s[:, 0], 1, -2),
    lambda lib, x, s: x.slice_scatter(s[:, :2], 1, 1, 4, 2),
    lambda lib, x, s: lib.slice_scatter(x, s[1:], start=1),
    lambda lib, x, s: x.slice_scatter(s[:, :0], dim=1, start=5),
    lambda lib, x, s: x.masked_scatter(x > 0, s),
    lambda lib, x, s: x[0].masked_scatter(x > 0, s * 2),  # self broadcast with the mask
    lambda lib, x, s: (x * 1).masked_scatter_(lib.tensor([True, False, True, True]), s),
], ids=range(26))
def test_take_put_and_scatters(fn):
    check_op([(3, 4), (3, 4)], fn)


def test_index_fill_repeated_index_tensor_value():
    # the value's gradient sums each filled slice once, however often it is indexed
    check_op([(3, 4), ()], lambda lib, x, v: x.index_fill(1, lib.tensor([0, 2, 0, 0]), v))


def test_take_put_errors():
    for lib in (torch, ndgrad):
        with pytest.raises(IndexError, match="out of range: tried to access index 12"):
            lib.zeros(3, 4).take(lib.tensor([12]))
        with pytest.raises(IndexError, match="Expected source and index to have the same"):
            lib.zeros(3, 4).put(lib.tensor([0, 1]), lib.zeros(3))
        with pytest.raises(IndexError, match=r"select\(\): index 4 out of range"):
            lib.zeros(3, 4).select(1, 4)
        with pytest.raises(RuntimeError, match="expected src to have a size equal to the slice"):
            lib.zeros(3, 4).select_scatter(lib.zeros(3), 0, 0)
        with pytest.raises(RuntimeError, match="same number of dimensions"):
            lib.zeros(3, 4).take_along_dim(lib.tensor([0]), 0)


def test_nonzero_static():
    x = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    for kw in (dict(size=5), dict(size=2), dict(size=0), dict(size=4, fill_value=7)):
        t, n = run_both(lambda lib, a, kw=kw: a.nonzero_static(**kw), x)
        assert_close(n, t)


# -- ranges and sequences inside indexes -------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda lib, x: x[range(3), lib.tensor([1, 0, 3])],
    lambda lib, x: x[[0, 2], ...],
    lambda lib, x: x[(0, 2), 1:],
    lambda lib, x: x[range(1, 3)],
    lambda lib, x: x[:, range(0, 4, 2)],
    lambda lib, x: x[[]],
    lambda lib, x: x[[[0, 1], [2, 2]], [3]],
], ids=range(7))
def test_getitem_ranges_and_sequences(fn):
    check_op([(3, 4)], fn)


def test_setitem_ranges_and_sequences():
    for lib in (torch, ndgrad):
        x = lib.zeros(3, 4)
        x[range(3), lib.tensor([1, 0, 3])] = 5.0
        x[[0, 2], ...] += 1
        x[(1,), 2:] = lib.tensor([7.0, 8.0])
        if lib is torch:
            expected = x.numpy().copy()
    np.testing.assert_array_equal(x.numpy(), expected)
    # with gradients: the written values' gradient, and the overwritten elements' zeros
    check_op([(3, 4), (3,)], lambda lib, x, v: _set_range(x, v))


def _set_range(x, v):
    y = x * 1
    y[range(3), [2, 2, 0]] = v
    return y
