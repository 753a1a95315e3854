"""linalg.ldl_factor, ldl_factor_ex and ldl_solve against torch: the Bunch-Kaufman pivots must be
torch's exactly (LAPACK's sytrf), the packed LD to rounding, on indefinite matrices that need
2x2 blocks, integer matrices full of ties, singular ones, and sizes where LAPACK's blocked
algorithm takes over (70, 130); torch's errors, and no derivative (as torch)."""

import numpy as np
import pytest
import torch

import ndgrad


def symmetric(rng, shape, kind, dtype=np.float64):
    """Random symmetric-ish matrices (only the lower triangle is read) of a kind that exercises
    one part of the pivoting."""
    n = shape[-1]
    if kind == "normal":
        a = rng.standard_normal(shape)
    elif kind == "ties":  # small integers: equal candidates, where the first must win
        a = rng.integers(-2, 3, shape).astype(float)
    elif kind == "zero_diagonal":  # forces 2x2 blocks
        a = rng.standard_normal(shape)
        a[..., range(n), range(n)] = 0
    elif kind == "sparse":  # zero columns: singular D, info > 0
        a = rng.standard_normal(shape) * (rng.random(shape) < 0.3)
    else:
        raise ValueError(kind)
    return a.astype(dtype)


def check_factor(a, **kwargs):
    t = torch.linalg.ldl_factor_ex(torch.tensor(a), **kwargs)
    n = ndgrad.linalg.ldl_factor_ex(ndgrad.tensor(a), **kwargs)
    assert n.pivots.dtype == ndgrad.int32 and n.info.dtype == ndgrad.int32
    np.testing.assert_array_equal(n.pivots.numpy(), t.pivots.numpy())
    np.testing.assert_array_equal(n.info.numpy(), t.info.numpy())
    tol = 1e-9 if a.dtype == np.float64 else 1e-4
    np.testing.assert_allclose(n.LD.numpy(), t.LD.numpy(), rtol=tol, atol=tol)
    return n


@pytest.mark.parametrize("kind", ["normal", "ties", "zero_diagonal", "sparse"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_factor_matches_torch(kind, dtype):
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5, 8):
        check_factor(symmetric(rng, (6, n, n), kind, dtype))


@pytest.mark.parametrize("n", [70, 130])
def test_factor_large_matches_torch(n):
    # above LAPACK's block size sytrf factors panels (lasyf): the pivots must not change
    rng = np.random.default_rng(n)
    check_factor(symmetric(rng, (n, n), "normal"))
    check_factor(symmetric(rng, (n, n), "zero_diagonal", np.float32))


@pytest.mark.parametrize("shape", [(0, 0), (0, 3, 3), (2, 0, 0), (1, 1), (2, 3, 4, 4)])
def test_factor_shapes(shape):
    n = check_factor(symmetric(np.random.default_rng(1), shape, "normal"))
    assert n.LD.shape == shape and n.pivots.shape == shape[:-1] and n.info.shape == shape[:-2]


def test_factor_reads_the_lower_triangle_only_and_hermitian_is_the_same():
    a = symmetric(np.random.default_rng(2), (3, 5, 5), "zero_diagonal")
    garbage = np.tril(a) + np.triu(np.full_like(a, 7.0), 1)
    ld = check_factor(garbage).LD.numpy()
    np.testing.assert_array_equal(ld, np.tril(ld))
    np.testing.assert_array_equal(ld, ndgrad.linalg.ldl_factor(ndgrad.tensor(a),
                                                               hermitian=True).LD.numpy())


def test_singular_raises_unless_ex():
    a = np.zeros((2, 3, 3))
    a[1] = np.eye(3)
    n = check_factor(a)
    assert n.info.tolist() == [1, 0]
    with pytest.raises(ndgrad.linalg.LinAlgError, match=r"\(Batch element 0\): D\[1,1\] is 0"):
        ndgrad.linalg.ldl_factor(ndgrad.tensor(a))
    with pytest.raises(RuntimeError, match=r"ldl_factor_ex: \(Batch element 0\)"):
        ndgrad.linalg.ldl_factor_ex(ndgrad.tensor(a), check_errors=True)


def solve_both(ld, piv, b, **kwargs):
    t = torch.linalg.ldl_solve(torch.tensor(ld), torch.tensor(piv), torch.tensor(b), **kwargs)
    n = ndgrad.linalg.ldl_solve(ndgrad.tensor(ld), ndgrad.tensor(piv), ndgrad.tensor(b), **kwargs)
    return n.numpy(), t.numpy()


@pytest.mark.parametrize("kind", ["normal", "ties", "zero_diagonal"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_solve_matches_torch(kind, dtype):
    rng = np.random.default_rng(3)
    for n in (1, 2, 4, 7):
        a = symmetric(rng, (5, n, n), kind, dtype)
        a[..., range(n), range(n)] += (kind == "ties")  # ties: fewer singular matrices
        ld, piv, info = torch.linalg.ldl_factor_ex(torch.tensor(a))
        ok = info.numpy() == 0
        ld, piv = ld.numpy()[ok], piv.numpy()[ok]
        b = rng.standard_normal(ld.shape[:-1] + (3,)).astype(dtype)
        got, want = solve_both(ld, piv, b, hermitian=kind == "ties")
        tol = 1e-8 if dtype == np.float64 else 2e-3
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
        # and it solves the system of the lower triangle's symmetric matrix
        full = np.tril(a[ok]) + np.swapaxes(np.tril(a[ok], -1), -1, -2)
        np.testing.assert_allclose(full @ got, b, rtol=tol * 10, atol=tol * 10)


def test_solve_broadcasts_batches_and_takes_int64_pivots():
    rng = np.random.default_rng(4)
    a = symmetric(rng, (2, 4, 4), "zero_diagonal")
    ld, piv = (x.numpy() for x in torch.linalg.ldl_factor(torch.tensor(a)))
    got, want = solve_both(ld, piv.astype(np.int64), rng.standard_normal((2, 4, 3)))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    b = rng.standard_normal((5, 1, 4, 3))  # torch crashes on this one: compare with NumPy
    full = np.tril(a) + np.swapaxes(np.tril(a, -1), -1, -2)
    x = ndgrad.linalg.ldl_solve(ndgrad.tensor(ld), ndgrad.tensor(piv), ndgrad.tensor(b))
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(full, b), rtol=1e-9, atol=1e-9)
    for shape in [(0, 0), (2, 0, 0)]:  # empty systems
        got, want = solve_both(np.zeros(shape), np.zeros(shape[:-1], np.int32),
                               np.ones(shape[:-1] + (2,)))
        assert got.shape == want.shape


def test_no_derivative_as_torch():
    a = symmetric(np.random.default_rng(5), (3, 3), "normal")
    for lib in (torch, ndgrad):
        x = lib.tensor(a, requires_grad=True)
        ld, piv = lib.linalg.ldl_factor(x)
        assert ld.requires_grad
        with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not"):
            ld.sum().backward()
        b = lib.ones(3, 2, dtype=lib.float64, requires_grad=True)
        out = lib.linalg.ldl_solve(ld.detach(), piv, b)
        with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_solve is not"):
            out.sum().backward()


ERRORS = [
    (lambda lib: lib.linalg.ldl_factor(lib.ones(3)), "must have at least 2 dimensions"),
    (lambda lib: lib.linalg.ldl_factor(lib.ones(3, 4)), "3 by 4 matrices"),
    (lambda lib: lib.linalg.ldl_factor_ex(lib.ones(3, 3, dtype=lib.int64)),
     "Expected a floating point or complex tensor as input. Got Long"),
    (lambda lib: lib.linalg.ldl_factor(lib.ones(2, 2, dtype=lib.float16)),
     "not implemented for 'Half'"),
    (lambda lib: lib.linalg.ldl_solve(lib.eye(3), lib.ones(3), lib.ones(3, 2)),
     "Expected pivots to be integers. Got Float"),
    (lambda lib: lib.linalg.ldl_solve(lib.eye(3), lib.ones(2, dtype=lib.int32), lib.ones(3, 2)),
     r"pivots with shape \[2\] instead"),
    (lambda lib: lib.linalg.ldl_solve(lib.eye(3), lib.ones(3, dtype=lib.int32), lib.ones(4, 2)),
     "each A matrix is 3 by 3 but each b matrix is 4 by 2"),
    (lambda lib: lib.linalg.ldl_solve(lib.eye(3), lib.ones(3, dtype=lib.int32),
                                      lib.ones(3, 2, dtype=lib.float64)), "same dtype"),
    (lambda lib: lib.linalg.ldl_solve(lib.eye(3)[0], lib.ones(3, dtype=lib.int32),
                                      lib.ones(3, 2)), "must have at least 2 dimensions"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_as_torch(i):
    fn, message = ERRORS[i]
    for lib in (torch, ndgrad):
        with pytest.raises((RuntimeError, NotImplementedError), match=message):
            fn(lib)
