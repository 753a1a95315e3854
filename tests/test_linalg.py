"""ndgrad.linalg and the matrix ops against torch: values, gradients and second derivatives
(float32 and float64), batches and empty batches, singular inputs, and torch's error messages.

Decompositions whose factors are defined only up to sign or phase (svd, eigh, eig) are compared
through gauge-invariant functions of their outputs (|U|, U Vh, V diag(L) V^-1), as torch's own
tests do.
"""

import math

import numpy as np
import pytest
import torch
from helpers import check_complex_op, check_op

import ndgrad


def spd(lib, x):
    """A symmetric positive-definite matrix from any square x."""
    n = x.shape[-1]
    return x @ x.mT + n * lib.eye(n, dtype=x.dtype)


def shift(lib, x, k=4.0):
    """x + k I: well away from singular for the small random x of these tests."""
    return x + k * lib.eye(x.shape[-1], dtype=x.dtype)


INF = math.inf
CASES = {
    "inv": ([(3, 4, 4)], lambda lib, x: lib.linalg.inv(shift(lib, x))),
    "inv_ex": ([(4, 4)], lambda lib, x: lib.linalg.inv_ex(shift(lib, x))),
    "inverse": ([(4, 4)], lambda lib, x: shift(lib, x).inverse()),
    "det": ([(3, 4, 4)], lambda lib, x: lib.linalg.det(x)),
    "det_method": ([(3, 3)], lambda lib, x: x.det()),
    "det_empty": ([(0, 0)], lambda lib, x: lib.linalg.det(x)),
    "det_empty_batch": ([(0, 3, 3)], lambda lib, x: lib.linalg.det(x)),
    "slogdet": ([(3, 4, 4)], lambda lib, x: lib.linalg.slogdet(x)),
    "slogdet_top": ([(4, 4)], lambda lib, x: lib.slogdet(x)),
    "logdet": ([(2, 4, 4)], lambda lib, x: lib.logdet(spd(lib, x))),
    "solve": ([(2, 4, 4), (4, 3)], lambda lib, a, b: lib.linalg.solve(shift(lib, a), b)),
    "solve_vector": ([(2, 4, 4), (2, 4)], lambda lib, a, b: lib.linalg.solve(shift(lib, a), b)),
    "solve_broadcast": ([(2, 1, 3, 3), (4, 3, 2)],
                        lambda lib, a, b: lib.linalg.solve(shift(lib, a), b)),
    "solve_right": ([(4, 4), (3, 4)],
                    lambda lib, a, b: lib.linalg.solve(shift(lib, a), b, left=False)),
    "solve_ex": ([(4, 4), (4,)], lambda lib, a, b: lib.linalg.solve_ex(shift(lib, a), b)),
    "solve_triangular": ([(4, 4), (2, 4, 3)],
                         lambda lib, a, b: lib.linalg.solve_triangular(shift(lib, a), b,
                                                                       upper=True)),
    "solve_triangular_right_unit": ([(4, 4), (3, 4)], lambda lib, a, b: lib.linalg.solve_triangular(
        a, b, upper=False, left=False, unitriangular=True)),
    "triangular_solve": ([(4, 2), (4, 4)], lambda lib, b, a: lib.triangular_solve(
        b, shift(lib, a), transpose=True)),
    "cholesky": ([(2, 4, 4)], lambda lib, x: lib.linalg.cholesky(spd(lib, x))),
    "cholesky_upper": ([(4, 4)], lambda lib, x: lib.linalg.cholesky(spd(lib, x), upper=True)),
    "cholesky_ex": ([(4, 4)], lambda lib, x: lib.linalg.cholesky_ex(spd(lib, x))),
    "cholesky_legacy": ([(3, 3)], lambda lib, x: lib.cholesky(spd(lib, x), upper=True)),
    "cholesky_solve": ([(4, 2), (4, 4)],
                       lambda lib, b, c: lib.cholesky_solve(b, shift(lib, c.tril()))),
    "cholesky_solve_full_upper": ([(2, 4, 2), (4, 4)],
                                  lambda lib, b, c: lib.cholesky_solve(b, shift(lib, c), True)),
    "cholesky_inverse": ([(4, 4)], lambda lib, c: lib.cholesky_inverse(shift(lib, c))),
    "qr": ([(5, 3)], lambda lib, x: lib.linalg.qr(x)),
    "qr_wide": ([(2, 3, 5)], lambda lib, x: lib.linalg.qr(x)),
    "qr_complete_wide": ([(3, 5)], lambda lib, x: lib.linalg.qr(x, mode="complete")),
    "qr_legacy": ([(4, 3)], lambda lib, x: lib.qr(x)),
    "svd_reconstruct": ([(2, 5, 3)], lambda lib, x: (lambda u, s, vh: (u * s.unsqueeze(-2)) @ vh)(
        *lib.linalg.svd(x, full_matrices=False))),
    "svd_abs": ([(5, 3)], lambda lib, x: [t.abs() for t in lib.linalg.svd(x, False)]),
    "svd_abs_wide": ([(3, 5)], lambda lib, x: [t.abs() for t in lib.linalg.svd(x, False)]),
    "svd_full": ([(4, 3)], lambda lib, x: (lambda u, s, vh: u[:, :3] @ vh)(*lib.linalg.svd(x))),
    "svd_legacy": ([(5, 3)], lambda lib, x: [t.abs() for t in lib.svd(x)]),
    "svdvals": ([(3, 5)], lambda lib, x: lib.linalg.svdvals(x)),
    "eigh": ([(2, 4, 4)], lambda lib, x: [t.abs() for t in lib.linalg.eigh(x + x.mT)]),
    "eigh_upper": ([(4, 4)], lambda lib, x: [t.abs() for t in lib.linalg.eigh(x, UPLO="U")]),
    "eigvalsh": ([(4, 4)], lambda lib, x: lib.linalg.eigvalsh(x + x.mT)),
    "lu_factor": ([(2, 4, 4)], lambda lib, x: lib.linalg.lu_factor(x)),
    "lu_factor_tall": ([(5, 3)], lambda lib, x: lib.linalg.lu_factor_ex(x)),
    "lu_factor_wide": ([(3, 5)], lambda lib, x: lib.linalg.lu_factor(x)),
    "lu": ([(4, 4)], lambda lib, x: lib.linalg.lu(x)),
    "lu_tall": ([(5, 3)], lambda lib, x: lib.linalg.lu(x)),
    "lu_wide": ([(2, 3, 5)], lambda lib, x: lib.linalg.lu(x)),
    "lu_legacy": ([(4, 4)], lambda lib, x: lib.lu(x, get_infos=True)),
    "lu_unpack": ([(5, 3)], lambda lib, x: lib.lu_unpack(*lib.linalg.lu_factor(x))),
    "lu_solve": ([(4, 4), (4, 2)], lambda lib, a, b: lib.linalg.lu_solve(
        *lib.linalg.lu_factor(a), b)),
    "lu_solve_adjoint": ([(4, 4), (4, 2)], lambda lib, a, b: lib.linalg.lu_solve(
        *lib.linalg.lu_factor(a), b, adjoint=True)),
    "lu_solve_right": ([(4, 4), (2, 4)], lambda lib, a, b: lib.linalg.lu_solve(
        *lib.linalg.lu_factor(a), b, left=False)),
    "lu_solve_right_adjoint": ([(4, 4), (2, 4)], lambda lib, a, b: lib.linalg.lu_solve(
        *lib.linalg.lu_factor(a), b, left=False, adjoint=True)),
    "lu_solve_legacy": ([(4, 2), (4, 4)], lambda lib, b, a: lib.lu_solve(
        b, *lib.linalg.lu_factor(a))),
    "pinv": ([(2, 5, 3)], lambda lib, x: lib.linalg.pinv(x)),
    "pinv_wide": ([(3, 5)], lambda lib, x: lib.linalg.pinv(x)),
    "pinv_hermitian": ([(4, 4)], lambda lib, x: lib.linalg.pinv(x + x.mT, hermitian=True)),
    "pinv_rank_deficient": ([(4, 2), (2, 4)], lambda lib, a, b: lib.linalg.pinv(a @ b)),
    "pinverse": ([(3, 5)], lambda lib, x: lib.pinverse(x)),
    "matrix_exp": ([(2, 3, 3)], lambda lib, x: lib.linalg.matrix_exp(x)),
    "matrix_exp_big": ([(4, 4)], lambda lib, x: lib.matrix_exp(3 * x)),
    "matrix_power": ([(3, 3)], lambda lib, x: [lib.linalg.matrix_power(shift(lib, x), n)
                                               for n in (0, 1, 2, 3, 5, 6, -2)]),
    "lstsq": ([(5, 3), (5, 2)], lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelsd")),
    "lstsq_vector": ([(2, 5, 3), (2, 5)], lambda lib, a, b: lib.linalg.lstsq(a, b)[0]),
    "lstsq_wide": ([(3, 5), (3, 2)], lambda lib, a, b: lib.linalg.lstsq(a, b)),
    "householder_product": ([(5, 3), (3,)],
                            lambda lib, a, t: lib.linalg.householder_product(a, t)),
    "orgqr": ([(2, 4, 4), (2, 2)], lambda lib, a, t: lib.orgqr(a, t)),
    "ormqr": ([(5, 3), (3,), (5, 2)], lambda lib, a, t, c: [
        lib.ormqr(a, t, c), lib.ormqr(a, t, c, transpose=True),
        lib.ormqr(a, t, c.mT, left=False), lib.ormqr(a, t, c.mT, left=False, transpose=True)]),
    "vector_norm": ([(3, 4)], lambda lib, x: [lib.linalg.vector_norm(x, o)
                                              for o in (2, 1, 0.5, 3, INF, -INF, -1, 0)]),
    "vector_norm_dims": ([(2, 3, 4)], lambda lib, x: lib.linalg.vector_norm(
        x, 3, dim=(0, -1), keepdim=True, dtype=lib.float64)),
    "matrix_norm": ([(2, 3, 4)], lambda lib, x: [lib.linalg.matrix_norm(x, o) for o in (
        "fro", "nuc", 2, -2, 1, -1, INF, -INF)]),
    "matrix_norm_dims": ([(2, 3, 4)], lambda lib, x: [lib.linalg.matrix_norm(
        x, o, dim=(0, 2), keepdim=k) for o in ("fro", "nuc", 2, 1, INF) for k in (True, False)]),
    "norm": ([(3, 4)], lambda lib, x: [lib.linalg.norm(x), lib.linalg.norm(x, 2),
                                       lib.linalg.norm(x, "nuc"), lib.linalg.norm(x, 3, dim=1),
                                       lib.linalg.norm(x, -INF, dim=(1, 0))]),
    "norm_top_nuc": ([(2, 3, 4)], lambda lib, x: [
        lib.norm(x[0], "nuc"), x.norm("nuc", dim=(0, 2), keepdim=True), x.norm(p="nuc", dim=(2, 1)),
        lib.norm(x, "fro", dim=(0, 1))]),
    "cond": ([(2, 4, 4)], lambda lib, x: [lib.linalg.cond(x), lib.linalg.cond(x, -2)]),
    "cross": ([(5, 3), (1, 3)], lambda lib, a, b: lib.linalg.cross(a, b)),
    "cross_top": ([(3, 5), (3, 5)], lambda lib, a, b: lib.cross(a, b, dim=0)),
    "multi_dot": ([(3,), (3, 4), (4, 5), (5, 2), (2,)], lambda lib, *xs: lib.linalg.multi_dot(xs)),
    "chain_matmul": ([(2, 3), (3, 4), (4, 2)], lambda lib, *xs: lib.chain_matmul(*xs)),
    "vecdot": ([(2, 3), (3,)], lambda lib, a, b: lib.linalg.vecdot(a, b)),
    "vander": ([(2, 4)], lambda lib, x: lib.linalg.vander(x, N=5)),
    "tensorinv": ([(4, 6, 8, 3)], lambda lib, x: lib.linalg.tensorinv(x, ind=2)),
    "tensorsolve": ([(2, 3, 6), (2, 3)], lambda lib, a, b: lib.linalg.tensorsolve(a, b)),
    "tensorsolve_dims": ([(6, 2, 3), (2, 3)],
                         lambda lib, a, b: lib.linalg.tensorsolve(a, b, dims=(0,))),
    "addmm": ([(3,), (2, 4), (4, 3)], lambda lib, i, a, b: [
        lib.addmm(i, a, b), lib.addmm(i, a, b, beta=0.2, alpha=0.6), lib.addmm(i, a, b, beta=0)]),
    "addmv": ([(2,), (2, 4), (4,)], lambda lib, i, a, b: lib.addmv(i, a, b, beta=0.5, alpha=2)),
    "addr": ([(2, 4), (2,), (4,)], lambda lib, i, a, b: i.addr(a, b)),
    "baddbmm": ([(2, 3, 4), (2, 3, 5), (2, 5, 4)],
                lambda lib, i, a, b: lib.baddbmm(i, a, b, alpha=0.3)),
    "addbmm": ([(3, 4), (2, 3, 5), (2, 5, 4)], lambda lib, i, a, b: lib.addbmm(i, a, b)),
    "inner": ([(2, 3), (4, 3)], lambda lib, a, b: lib.inner(a, b)),
    "inner_scalar": ([(), (2, 3)], lambda lib, a, b: lib.inner(a, b)),
    "vdot": ([(4,), (4,)], lambda lib, a, b: lib.vdot(a, b)),
    "ger": ([(3,), (4,)], lambda lib, a, b: lib.ger(a, b)),
    "trace": ([(3, 4)], lambda lib, a: lib.trace(a)),
    "diagonal": ([(2, 3, 4)], lambda lib, a: lib.linalg.diagonal(a, offset=1, dim1=0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch(name):
    shapes, fn = CASES[name]
    check_op(shapes, fn)


def test_cond_other_norms_forward():
    # torch's own backward fails for these (it fills its inverse in place), so values only
    for p in (1, -1, INF, -INF, "fro", "nuc"):
        check_op([(2, 4, 4)], lambda lib, x, p=p: lib.linalg.cond(x, p), grad=False)


def test_norm_matrix_orders_refused_as_torch():
    for lib in (torch, ndgrad):
        x = lib.ones(2, 3, 4)
        with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
            lib.norm(x, "fro", dim=(0, 1, 2))
        with pytest.raises(RuntimeError, match="Order bad not supported"):
            lib.norm(x[0], "bad")


def test_matrix_exp_float32_is_accurate_normwise():
    # the OpInfo sweep compares float32 normwise: torch's own float32 result is off by 5e-2
    # here (at entries of 0.1); ndgrad's computes in float64 and rounds once
    x = np.random.default_rng(0).uniform(-9, 9, (2, 5, 5)).astype(np.float32)
    exact = torch.matrix_exp(torch.tensor(x, dtype=torch.float64)).numpy()
    got = ndgrad.matrix_exp(ndgrad.tensor(x))
    assert got.dtype == ndgrad.float32
    assert np.abs(got.numpy() - exact).max() <= 2e-7 * np.abs(exact).max()


def test_in_place_products():
    check_op([(2, 3), (2, 4), (4, 3)], lambda i, a, b: i.clone().addmm_(a, b, beta=0.5))
    check_op([(2, 3), (2,), (3,)], lambda i, a, b: i.clone().addr_(a, b, alpha=2))


def test_eig_against_torch():
    a = np.random.default_rng(0).standard_normal((2, 4, 4))

    def gauge_free(lib, x):  # eigenvalues, |V|, and V diag(L) V^-1 (= x)
        w, v = lib.linalg.eig(x)
        return [w, v.abs(), (v * w.unsqueeze(-2)) @ lib.linalg.inv(v)]

    check_complex_op([a], gauge_free)
    check_complex_op([a[0]], lambda lib, x: lib.linalg.eigvals(x))


def test_eig_gauge_dependent_loss_raises():
    # a rotation: complex eigenvectors, whose phase Re(V).sum() depends on (torch raises too)
    x = ndgrad.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=ndgrad.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="e\\^\\{i phi\\}"):
        ndgrad.linalg.eig(x)[1].real.sum().backward()
    ndgrad.linalg.eig(x)[1].abs().sum().backward()  # invariant: fine


def test_eig_dtype():
    x = ndgrad.tensor(np.diag([1.0, 2.0]).astype(np.float32))
    w, v = ndgrad.linalg.eig(x)  # real eigenvalues still come back complex, as torch's
    assert w.dtype == ndgrad.complex64 and v.dtype == ndgrad.complex64


def test_holomorphic_ops_on_complex_matrices():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    check_complex_op([a], lambda lib, x: lib.linalg.inv(x))
    check_complex_op([a], lambda lib, x: lib.linalg.det(x))
    check_complex_op([a[0], b], lambda lib, x, y: lib.linalg.solve(x, y))
    check_complex_op([a[0]], lambda lib, x: lib.linalg.matrix_exp(x))


def test_complex_input_to_real_only_function_raises():
    z = ndgrad.tensor(np.eye(2) * (1 + 1j))
    with pytest.raises(NotImplementedError, match="complex matrices are not supported"):
        ndgrad.linalg.cholesky(z)


# -- singular and degenerate inputs ------------------------------------------------------------
SINGULAR = [np.array([[1.0, 2.0], [2.0, 4.0]]),
            np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),
            np.zeros((2, 2))]


@pytest.mark.parametrize("a", SINGULAR, ids=["rank1", "rank2", "zero"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_det_gradient_at_singular_matrices(a, create_graph):
    # torch: det * A^-T from the LU solve without create_graph (0 when det is 0), the adjugate
    # (differentiable) with it
    t, n = torch.tensor(a, requires_grad=True), ndgrad.tensor(a, requires_grad=True)
    tdet, ndet = torch.linalg.det(t), ndgrad.linalg.det(n)
    (gt,) = torch.autograd.grad(tdet, t, create_graph=create_graph)
    (gn,) = ndgrad.autograd.grad(ndet, n, create_graph=create_graph)
    if not create_graph and ndet.item() == 0 and tdet.item() != 0:
        # torch's LU (MKL) left a pivot of rounding size on some CPUs: its det is ~1e-16, not
        # 0, and det * A^-T then comes out near the adjugate. NumPy's LAPACK finds det = 0
        # exactly, and the same rule gives 0.
        assert abs(tdet.item()) < 1e-12
        np.testing.assert_array_equal(gn.numpy(), np.zeros_like(a))
    else:
        np.testing.assert_allclose(gn.detach().numpy(), gt.detach().numpy(), atol=1e-12)
    if create_graph and a.any():  # (at 0 the SVD has repeated singular values: torch gives nan)
        w = np.random.default_rng(0).standard_normal(a.shape)
        (ht,) = torch.autograd.grad((gt * torch.tensor(w)).sum(), t)
        (hn,) = ndgrad.autograd.grad((gn * ndgrad.tensor(w)).sum(), n)
        np.testing.assert_allclose(hn.numpy(), ht.numpy(), atol=1e-12)


def test_singular_ex_variants_report_info():
    a = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 4.0]]])
    for fn in (lambda lib, x: lib.linalg.inv_ex(x), lambda lib, x: lib.linalg.lu_factor_ex(x),
               lambda lib, x: lib.linalg.solve_ex(x, lib.ones(2, 2, dtype=x.dtype)),
               lambda lib, x: lib.linalg.cholesky_ex(x)):
        t, n = fn(torch, torch.tensor(a)), fn(ndgrad, ndgrad.tensor(a))
        for tt, nn in zip(t, n):
            np.testing.assert_array_equal(nn.numpy(), tt.numpy())


def test_singular_raises_linalg_error():
    a = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 4.0]]])
    for fn in (lambda lib, x: lib.linalg.inv(x), lambda lib, x: lib.linalg.solve(x, x),
               lambda lib, x: lib.linalg.cholesky(x), lambda lib, x: lib.linalg.lu_factor(x)):
        with pytest.raises(RuntimeError) as t:
            fn(torch, torch.tensor(a))
        with pytest.raises(RuntimeError) as n:
            fn(ndgrad, ndgrad.tensor(a))
        assert str(n.value) == str(t.value).split("\n")[0]
        linalg_error = isinstance(t.value, torch.linalg.LinAlgError)
        assert isinstance(n.value, ndgrad.linalg.LinAlgError) == linalg_error
    assert issubclass(ndgrad.linalg.LinAlgError, RuntimeError)


def test_singular_triangular_solve_gives_inf_like_torch():
    a, b = np.array([[1.0, 2.0], [0.0, 0.0]]), np.ones((2, 1))
    t = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b), upper=True)
    n = ndgrad.linalg.solve_triangular(ndgrad.tensor(a), ndgrad.tensor(b), upper=True)
    np.testing.assert_array_equal(n.numpy(), t.numpy())


def test_rank_deficient_lstsq_and_rank():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 3))
    b = rng.standard_normal((5, 2))
    for driver in (None, "gelsd", "gelss"):
        t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        n = ndgrad.linalg.lstsq(ndgrad.tensor(a), ndgrad.tensor(b), driver=driver)
        np.testing.assert_allclose(n.solution.numpy(), t.solution.numpy(), atol=1e-10)
        assert int(n.rank) == int(t.rank) == 2 and n.residuals.shape == t.residuals.shape
    for kw in ({}, {"hermitian": True}, {"atol": 1.0}, {"rtol": 0.5}):
        x = a @ a.T if kw.get("hermitian") else a
        assert int(ndgrad.linalg.matrix_rank(ndgrad.tensor(x), **kw)) == \
            int(torch.linalg.matrix_rank(torch.tensor(x), **kw))


def test_geqrf_matches_lapack():
    a = np.random.default_rng(0).standard_normal((2, 5, 3))
    t, n = torch.geqrf(torch.tensor(a)), ndgrad.geqrf(ndgrad.tensor(a))
    for tt, nn in zip(t, n):
        np.testing.assert_allclose(nn.numpy(), tt.numpy(), atol=1e-12)


def test_eigh_repeated_eigenvalues():
    # eigenvalues alone are differentiable at repeated eigenvalues; eigenvectors are not (torch
    # gives inf/nan there too)
    x = ndgrad.tensor(np.eye(3), requires_grad=True)
    (g,) = ndgrad.autograd.grad(ndgrad.linalg.eigvalsh(x).square().sum(), x)
    np.testing.assert_allclose(g.numpy(), 2 * np.eye(3))


# -- errors, as torch words them -----------------------------------------------------------------
ERRORS = [
    lambda lib: lib.linalg.inv(lib.ones(2, 2, dtype=lib.int64)),
    lambda lib: lib.linalg.inv(lib.ones(2, 3)),
    lambda lib: lib.linalg.inv(lib.ones(3)),
    lambda lib: lib.linalg.det(lib.ones(2, 3)),
    lambda lib: lib.linalg.solve(lib.eye(3), lib.ones(2)),
    lambda lib: lib.linalg.solve(lib.eye(3), lib.ones(3, dtype=lib.float64)),
    lambda lib: lib.linalg.eigh(lib.ones(2, 3)),
    lambda lib: lib.linalg.svd(lib.ones(3)),
    lambda lib: lib.linalg.qr(lib.ones(3, 3), mode="foo"),
    lambda lib: lib.linalg.matrix_power(lib.ones(2, 3), 2),
    lambda lib: lib.linalg.matrix_power(lib.ones(2, 2, dtype=lib.int64), -1),
    lambda lib: lib.linalg.cross(lib.ones(2, 4), lib.ones(2, 4)),
    lambda lib: lib.linalg.vector_norm(lib.ones(3, dtype=lib.int64)),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3), ord=3),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3)),
    lambda lib: lib.linalg.norm(lib.ones(3), ord="fro"),
    lambda lib: lib.linalg.norm(lib.ones(2, 2, 2), ord=2),
    lambda lib: lib.linalg.lstsq(lib.ones(3, 2), lib.ones(2, 2)),
    lambda lib: lib.linalg.multi_dot([lib.ones(2, 2)]),
    lambda lib: lib.linalg.multi_dot([lib.ones(2, 3), lib.ones(4, 2)]),
    lambda lib: lib.linalg.tensorinv(lib.ones(2, 3), ind=1),
    lambda lib: lib.linalg.householder_product(lib.ones(2, 3), lib.ones(2)),
    lambda lib: lib.linalg.inv([[1.0, 2.0], [3.0, 4.0]]),
    lambda lib: lib.inner(lib.ones(2, 3), lib.ones(2)),
    lambda lib: lib.trace(lib.ones(3)),
    lambda lib: lib.addmm(lib.ones(2, 2), lib.ones(2), lib.ones(2, 2)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    with pytest.raises((RuntimeError, TypeError)) as t:
        ERRORS[i](torch)
    with pytest.raises((RuntimeError, TypeError)) as n:
        ERRORS[i](ndgrad)
    assert isinstance(n.value, TypeError) == isinstance(t.value, TypeError)
    assert str(n.value) == str(t.value).split("\n")[0]


def test_namespace():
    # reachable after a bare import, with torch.linalg's names
    import subprocess
    import sys
    code = "import ndgrad; print(ndgrad.linalg.det, ndgrad.fft.fft, ndgrad.complex64)"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    skip = ("common_notes", "ldl_factor", "ldl_factor_ex", "ldl_solve")
    missing = [n for n in dir(torch.linalg)
               if not n.startswith("_") and n not in skip and not hasattr(ndgrad.linalg, n)]
    assert not missing
