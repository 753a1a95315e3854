"""svd_lowrank and pca_lowrank against torch. The sketch is random (ndgrad's stream is not
torch's), and singular vectors are defined up to sign: so values are compared through U V^T and
S on matrices of rank at most q, where the randomized SVD is exact, with gradients; elsewhere
against NumPy's full SVD, which enough power iterations converge to."""

import numpy as np
import pytest
import torch
from helpers import check_op

import ndgrad


def gauge_free(usv):
    U, S, V = usv
    return [U @ V.mT, S]


@pytest.mark.parametrize("m,n,k", [(5, 4, 2), (3, 6, 2), (4, 4, 1)])
def test_svd_lowrank_exact_rank(m, n, k):
    check_op([(m, k), (n, k)], lambda lib, a, b: gauge_free(lib.svd_lowrank(a @ b.mT, q=k)),
             gradgrad=False)


def test_svd_lowrank_batched_with_mean():
    # A - M has rank k; M broadcasts over the batch
    check_op([(2, 5, 2), (2, 3, 2), (5, 3)], lambda lib, a, b, m: gauge_free(
        lib.svd_lowrank(a @ b.mT + m, q=2, niter=1, M=m)), gradgrad=False)


@pytest.mark.parametrize("center", [True, False])
def test_pca_lowrank_exact_rank(center):
    check_op([(6, 2), (4, 2)], lambda lib, a, b: gauge_free(
        lib.pca_lowrank(a @ b.mT, q=2, center=center)), gradgrad=False)


def test_pca_lowrank_default_q_and_centering():
    x = np.random.default_rng(0).standard_normal((7, 3))
    U, S, V = ndgrad.pca_lowrank(ndgrad.tensor(x))
    assert U.shape == (7, 3) and S.shape == (3,) and V.shape == (3, 3)  # q = min(6, m, n)
    np.testing.assert_allclose(S.numpy(), np.linalg.svd(x - x.mean(0), compute_uv=False))


def test_converges_to_the_top_singular_values():
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.standard_normal((40, 20)))
    v, _ = np.linalg.qr(rng.standard_normal((30, 20)))
    s = 2.0 ** -np.arange(20)  # a decaying spectrum: full rank, so the sketch is not exact
    a = (u * s) @ v.T
    ndgrad.manual_seed(0)
    U, S, V = ndgrad.svd_lowrank(ndgrad.tensor(a), q=8, niter=4)
    np.testing.assert_allclose(S.numpy()[:4], s[:4], rtol=1e-6)
    resid = np.linalg.norm(a - (U.numpy() * S.numpy()) @ V.numpy().T, 2)
    assert resid < 4 * s[8]  # near the best rank-8 error s[8]
    np.testing.assert_allclose(U.numpy().T @ U.numpy(), np.eye(8), atol=1e-12)


def test_reproducible_under_the_seed_and_float32():
    a = ndgrad.tensor(np.random.default_rng(2).standard_normal((6, 5)).astype(np.float32))
    ndgrad.manual_seed(3)
    first = ndgrad.svd_lowrank(a, q=3)
    ndgrad.manual_seed(3)
    second = ndgrad.svd_lowrank(a, q=3)
    assert all(x.dtype == ndgrad.float32 for x in first)
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


@pytest.mark.parametrize("kwargs,message", [
    (dict(q=4), r"q\(=4\) must be non-negative integer and not greater than min\(m, n\)=3"),
    (dict(q=-1), r"q\(=-1\) must be non-negative"),
    (dict(niter=-1), r"niter\(=-1\) must be non-negative integer"),
])
def test_pca_lowrank_errors_as_torch(kwargs, message):
    for lib in (torch, ndgrad):
        with pytest.raises(ValueError, match=message):
            lib.pca_lowrank(lib.ones(5, 3), **kwargs)
