"""Linear algebra against PyTorch: every torch.matmul case, mm bmm dot outer mv, einsum."""

import numpy as np
import pytest
import torch
from helpers import check_op

import ndgrad

MATMUL_SHAPES = [
    ((3,), (3,)),  # dot
    ((3,), (3, 4)),  # vector @ matrix
    ((3, 4), (4,)),  # matrix @ vector
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4,)),  # batched @ vector
    ((4,), (2, 4, 5)),  # vector @ batched
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),  # batched @ matrix
    ((3, 4), (2, 4, 5)),  # matrix @ batched
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batches
    ((1, 3, 4), (6, 4, 2)),
    ((3, 1, 2, 3), (1, 4, 3, 2)),
    ((1, 1), (1, 1)),
    ((1,), (1,)),
    ((0, 3), (3, 4)),  # size-0 dims
    ((3, 0), (0, 4)),
    ((0,), (0,)),
    ((2, 0, 3), (3, 5)),
    ((1, 3, 4), (0, 4, 5)),
    ((0,), (0, 3)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul(shapes):
    check_op(shapes, lambda x, y: x @ y)
    check_op(shapes, lambda lib, x, y: lib.matmul(x, y))
    check_op(shapes, lambda x, y: x.matmul(y))


def test_matmul_one_side_requires_grad():
    check_op([(3, 4), (4, 5)], lambda x, y: x @ y, requires_grad=[True, False])
    check_op([(2, 3, 4), (4,)], lambda x, y: x @ y, requires_grad=[False, True])


def test_rmatmul_and_ints():
    a = np.arange(6).reshape(2, 3)
    b = np.arange(3)
    out = ndgrad.tensor(a) @ ndgrad.tensor(b)
    assert out.dtype == ndgrad.int64
    assert out.tolist() == (torch.tensor(a) @ torch.tensor(b)).tolist()
    x = ndgrad.tensor(np.ones((3, 2)))
    r = a.astype(np.float64) @ x  # ndarray @ Tensor defers to Tensor.__rmatmul__
    assert isinstance(r, ndgrad.Tensor) and r.shape == (2, 2)
    np.testing.assert_allclose(r.numpy(), a @ np.ones((3, 2)))


@pytest.mark.parametrize("fn,shapes", [
    (lambda lib, x, y: lib.mm(x, y), [(3, 4), (4, 2)]),
    (lambda lib, x, y: x.mm(y), [(0, 4), (4, 2)]),
    (lambda lib, x, y: lib.bmm(x, y), [(2, 3, 4), (2, 4, 5)]),
    (lambda lib, x, y: x.bmm(y), [(1, 1, 4), (1, 4, 1)]),
    (lambda lib, x, y: lib.dot(x, y), [(5,), (5,)]),
    (lambda lib, x, y: x.dot(y), [(0,), (0,)]),
    (lambda lib, x, y: lib.outer(x, y), [(3,), (4,)]),
    (lambda lib, x, y: x.outer(y), [(1,), (0,)]),
    (lambda lib, x, y: x.ger(y), [(2,), (3,)]),
    (lambda lib, x, y: lib.mv(x, y), [(3, 4), (4,)]),
    (lambda lib, x, y: x.mv(y), [(2, 1), (1,)]),
])
def test_products(fn, shapes):
    check_op(shapes, fn)


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,match", [
    (lambda lib: lib.zeros(64, 784) @ lib.zeros(100, 10),
     r"mat1 and mat2 shapes cannot be multiplied \(64x784 and 100x10\)"),
    (lambda lib: lib.zeros(3) @ lib.zeros(4),
     r"inconsistent tensor size, expected tensor \[3\] and src \[4\]"),
    (lambda lib: lib.zeros(3) @ lib.zeros(4, 5),
     r"mat1 and mat2 shapes cannot be multiplied \(1x3 and 4x5\)"),
    (lambda lib: lib.zeros(2, 3) @ lib.zeros(4),
     r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    (lambda lib: lib.zeros(2, 2, 3) @ lib.zeros(4),
     r"size mismatch, got input \(4\), mat \(4x3\), vec \(4\)"),
    (lambda lib: lib.zeros(2, 3, 4) @ lib.zeros(5, 6),
     r"mat1 and mat2 shapes cannot be multiplied \(6x4 and 5x6\)"),
    (lambda lib: lib.zeros(2, 2, 3) @ lib.zeros(2, 4, 5),
     r"Expected size for first two dimensions of batch2 tensor to be: \[2, 3\] but got: \[2, 4\]"),
    (lambda lib: lib.zeros(4) @ lib.zeros(2, 3, 5),
     r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: \[2, 3\]"),
    (lambda lib: lib.zeros(2, 1, 3, 4) @ lib.zeros(5, 5, 2),
     r"batch2 tensor to be: \[10, 4\] but got: \[10, 5\]"),
    (lambda lib: lib.zeros(2, 3, 4) @ lib.zeros(3, 4, 5),
     r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton "
     r"dimension 0"),
    (lambda lib: lib.zeros(2, 2, 3, 4) @ lib.zeros(3, 4, 5),
     r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton "
     r"dimension 1"),
    (lambda lib: lib.zeros(()) @ lib.zeros(3),
     r"both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    (lambda lib: lib.zeros(2, 3) @ lib.zeros(3, 2, dtype=lib.float64),
     "expected m1 and m2 to have the same dtype"),
    (lambda lib: lib.mm(lib.zeros(2, 3), lib.zeros(4, 5)),
     r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (lambda lib: lib.mm(lib.zeros(2, 3, 1), lib.zeros(1, 5)), "self must be a matrix"),
    (lambda lib: lib.mm(lib.zeros(2, 3), lib.zeros(3)), "mat2 must be a matrix"),
    (lambda lib: lib.bmm(lib.zeros(3, 4), lib.zeros(4, 5)), "batch1 must be a 3D tensor"),
    (lambda lib: lib.bmm(lib.zeros(2, 3, 4), lib.zeros(4, 5)), "batch2 must be a 3D tensor"),
    (lambda lib: lib.bmm(lib.zeros(2, 3, 4), lib.zeros(3, 4, 5)),
     r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: \[3, 4\]"),
    (lambda lib: lib.bmm(lib.zeros(2, 3, 4), lib.zeros(2, 5, 5)),
     r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: \[2, 5\]"),
    (lambda lib: lib.dot(lib.zeros(3, 1), lib.zeros(3)), "1D tensors expected, but got 2D and 1D"),
    (lambda lib: lib.dot(lib.zeros(3), lib.zeros(4)), "inconsistent tensor size"),
    (lambda lib: lib.dot(lib.zeros(3, dtype=lib.float64), lib.zeros(3)),
     "dot : expected both vectors to have same dtype"),
    (lambda lib: lib.mv(lib.zeros(2, 3), lib.zeros(4)),
     r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    (lambda lib: lib.mv(lib.zeros(3), lib.zeros(3)), r"vector \+ matrix @ vector expected"),
    (lambda lib: lib.outer(lib.zeros(2, 2), lib.zeros(3)), "outer: Expected 1-D argument self"),
])
def test_errors(fn, match):
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match=match):
            fn(lib)


# -- einsum ----------------------------------------------------------------------------------
EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(5,), (5,)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),  # implicit output
    ("ba", [(3, 4)]),  # implicit output sorts the letters: a transpose
    ("ij,k->i", [(3, 4), (5,)]),  # k summed in one operand only
    ("ij,k->ik", [(3, 4), (5,)]),
    ("ijk,ik->j", [(2, 3, 4), (2, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),  # three operands
    ("i,i,i->i", [(4,), (4,), (4,)]),
    ("ij,ij->ij", [(1, 3), (4, 3)]),  # size-1 dim broadcast
    ("ij,jk->ik", [(0, 4), (4, 5)]),  # size 0
    ("ij,jk->ik", [(3, 0), (0, 5)]),
    ("i,->i", [(3,), ()]),  # a 0-d operand
    ("->", [()]),
    # ellipsis
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),  # broadcast batch dims, implicit output
    ("...i,...i->...", [(2, 3, 4), (3, 4)]),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("i...->...", [(3, 4)]),
    ("i...", [(3, 4, 2)]),  # implicit: '...' dims first
    ("...->...", [(2, 3)]),
    ("...ij->...ji", [(3, 4)]),  # '...' standing for no dims
    ("i...j,j...->i...", [(2, 3, 4), (4, 3)]),
    ("...,...->...", [(3, 1), (1, 4)]),
    # repeated subscripts (diagonals)
    ("ii->i", [(4, 4)]),
    ("ii->", [(4, 4)]),
    ("ii", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("iji->ij", [(3, 2, 3)]),
    ("iii->i", [(3, 3, 3)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("ij,ii->j", [(3, 4), (3, 3)]),
    ("bii->bi", [(2, 3, 3)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("iijj->ij", [(2, 2, 3, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES)
def test_einsum(eq, shapes):
    check_op(shapes, lambda lib, *xs: lib.einsum(eq, *xs))


def test_einsum_forms():
    # operands as a list, spaces in the equation, one operand not requiring grad
    check_op([(3, 4), (4, 5)], lambda lib, x, y: lib.einsum("ij, jk -> ik", [x, y]))
    check_op([(3, 4), (4, 5)], lambda lib, x, y: lib.einsum("ij,jk->ik", x, y),
             requires_grad=[False, True])
    check_op([(3, 4), (3, 4)], lambda lib, x, y: lib.einsum("ij,ij->i", x.exp(), y * x))


@pytest.mark.parametrize("eq,shapes,match", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "einsum"),
    ("ij,jk", [(2, 3)], "einsum"),
    ("ij->ij", [(2, 3), (3,)], "einsum"),
    ("ijk->ij", [(2, 3)], "einsum"),
    ("i->ii", [(2,)], "einsum"),
    ("i,i->i", [(2,), (3,)], "einsum"),
    ("i->j", [(2,)], "einsum"),
])
def test_einsum_errors(eq, shapes, match):
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match=match):
            lib.einsum(eq, *(lib.zeros(s) for s in shapes))


def test_einsum_large_operands():
    # big operands take NumPy's optimized (BLAS) path: same numbers
    check_op([(2, 2, 40, 64), (2, 2, 48, 64)],
             lambda lib, q, k: lib.einsum("bhqd,bhkd->bhqk", q, k))
