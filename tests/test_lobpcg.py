"""ndgrad.lobpcg against torch.lobpcg and numpy.linalg.eigh. Started from the same X, both run
the same iteration (same step counts, eigenvalues equal to rounding); eigenvectors are compared
up to sign (LAPACK's eigh may flip a Ritz vector's sign). Gradients go through torch's formula
and are compared through sign-free functions of the eigenvectors."""

import numpy as np
import pytest
import torch

import ndgrad

M = 12


def spd(m=M, seed=0, spectrum=None):
    """A symmetric positive-definite matrix with well separated eigenvalues 1..m."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    ev = np.arange(1.0, m + 1) if spectrum is None else spectrum
    return (q * ev) @ q.T


def start(n, m=M, seed=1):
    return np.random.default_rng(seed).standard_normal((m, n))


def both(A, **kw):
    """(ndgrad's E, X), (torch's E, X) for the same arguments (arrays become tensors)."""
    nd = ndgrad.lobpcg(**{"A": ndgrad.tensor(A)}, **{
        k: ndgrad.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()})
    th = torch.lobpcg(torch.tensor(A), **{
        k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()})
    return [t.numpy() for t in nd], [t.numpy() for t in th]


def assert_same_up_to_sign(X, Y, **tol):
    signs = np.sign((X * Y).sum(-2, keepdims=True))
    np.testing.assert_allclose(X * signs, Y, **tol)


@pytest.mark.parametrize("method", ["ortho", "basic"])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_same_iteration_as_torch(method, largest, k):
    A = spd()
    (E, X), (Et, Xt) = both(A, X=start(k), largest=largest, method=method)
    np.testing.assert_allclose(E, Et, rtol=1e-12)
    assert_same_up_to_sign(X, Xt, atol=1e-7)
    ev, vecs = np.linalg.eigh(A)
    want = ev[::-1][:k] if largest else ev[:k]
    np.testing.assert_allclose(E, want, rtol=1e-12)
    want_vecs = vecs[:, ::-1][:, :k] if largest else vecs[:, :k]
    assert_same_up_to_sign(X, want_vecs, atol=1e-7)


def test_random_start_k_and_n():
    A = spd(15, seed=3)
    ndgrad.manual_seed(0)
    E, X = ndgrad.lobpcg(ndgrad.tensor(A), k=2, n=4)
    assert E.shape == (2,) and X.shape == (15, 2)
    np.testing.assert_allclose(E.numpy(), [15.0, 14.0], rtol=1e-10)
    np.testing.assert_allclose(X.numpy().T @ X.numpy(), np.eye(2), atol=1e-10)
    E1, _ = ndgrad.lobpcg(ndgrad.tensor(A))  # k defaults to 1
    np.testing.assert_allclose(E1.numpy(), [15.0], rtol=1e-10)


def test_generalized_problem():
    A = spd()
    rng = np.random.default_rng(5)
    B = rng.standard_normal((M, M))
    B = B @ B.T + M * np.eye(M)
    (E, X), (Et, Xt) = both(A, B=B, X=start(2), largest=False)
    np.testing.assert_allclose(E, Et, rtol=1e-10)
    L = np.linalg.cholesky(B)
    Li = np.linalg.inv(L)
    np.testing.assert_allclose(E, np.linalg.eigvalsh(Li @ A @ Li.T)[:2], rtol=1e-10)
    np.testing.assert_allclose(X.T @ B @ X, np.eye(2), atol=1e-10)  # B-orthonormal
    np.testing.assert_allclose(A @ X, B @ X * E, atol=1e-6)


def test_preconditioner_and_float32():
    A = spd()
    iK = np.diag(1 / np.diag(A))
    (E, X), (Et, _) = both(A, X=start(2), iK=iK)
    np.testing.assert_allclose(E, Et, rtol=1e-10)
    E32, X32 = ndgrad.lobpcg(ndgrad.tensor(A.astype(np.float32)), X=ndgrad.tensor(
        start(2).astype(np.float32)))
    assert E32.dtype == ndgrad.float32 and X32.dtype == ndgrad.float32
    np.testing.assert_allclose(E32.numpy(), [12.0, 11.0], rtol=1e-4)


def test_batched():
    A = np.stack([spd(seed=0), spd(seed=1, spectrum=np.arange(2.0, 2 * M + 1, 2))])
    X = np.stack([start(2, seed=2), start(2, seed=3)])
    (E, V), (Et, _) = both(A, X=X)
    assert E.shape == (2, 2) and V.shape == (2, M, 2)
    np.testing.assert_allclose(E, Et, rtol=1e-10)
    np.testing.assert_allclose(E, [[12.0, 11.0], [24.0, 22.0]], rtol=1e-10)


def test_tracker_sees_the_worker_and_can_stop_it():
    steps, theirs = [], []
    A = spd()

    def track(worker):
        steps.append((worker.ivars["istep"], worker.ivars["converged_count"]))
        assert worker.X.shape == (M, 2) and "rerr" in worker.tvars

    ndgrad.lobpcg(ndgrad.tensor(A), X=ndgrad.tensor(start(2)), tracker=track)
    torch.lobpcg(torch.tensor(A), X=torch.tensor(start(2)),
                 tracker=lambda w: theirs.append((w.ivars["istep"], w.ivars["converged_count"])))
    assert steps == theirs and steps[-1][1] >= 2

    def stop(worker):
        worker.bvars["force_stop"] = True

    count = []
    ndgrad.lobpcg(ndgrad.tensor(A), X=ndgrad.tensor(start(2)),
                  tracker=lambda w: (count.append(1), stop(w)))
    assert len(count) == 1


def test_niter_and_ortho_params():
    A = spd()
    (E, _), (Et, _) = both(A, X=start(2), niter=3, ortho_iparams={"ortho_i_max": 2},
                           ortho_fparams={"ortho_tol": 1e-10},
                           ortho_bparams={"ortho_use_drop": True})
    np.testing.assert_allclose(E, Et, rtol=1e-8)


def test_errors():
    A = ndgrad.tensor(spd(6))
    with pytest.raises(ValueError, match=r"smaller than 3 x the number of requested eigenpairs"):
        ndgrad.lobpcg(A, k=3)
    with pytest.raises(AssertionError, match="A must be square"):
        ndgrad.lobpcg(ndgrad.zeros(6, 5, dtype=ndgrad.float64))
    with pytest.raises(AssertionError, match="same shape"):
        ndgrad.lobpcg(A, B=ndgrad.eye(5, dtype=ndgrad.float64))


def sign_free(lib, E, X, C):
    """Depends on X only through X X^T and X**2, so the sign of an eigenvector does not
    matter; weights every eigenvalue differently."""
    w = lib.arange(1, E.shape[-1] + 1, dtype=E.dtype)
    return (E * w).sum() + ((X @ X.mT) * C).sum() + (X**2 * C[:, :X.shape[-1]]).sum()


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_gradient_matches_torch(k, largest):
    A, X0 = spd(), start(k, seed=k)
    C = np.random.default_rng(9).standard_normal((M, M))
    grads = []
    for lib in (ndgrad, torch):
        a = lib.tensor(A, requires_grad=True)
        E, X = lib.lobpcg(a, X=lib.tensor(X0), largest=largest)
        sign_free(lib, E, X, lib.tensor(C)).backward()
        grads.append(a.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(grads[0], grads[0].T, atol=1e-12)  # symmetrized, as torch


def test_eigenvalue_gradient_is_u_ut():
    A = spd()
    a = ndgrad.tensor(A, requires_grad=True)
    E, _ = ndgrad.lobpcg(a, X=ndgrad.tensor(start(1)))
    E.sum().backward()
    u = np.linalg.eigh(A)[1][:, -1:]
    # to the eigenvector's accuracy: the residual test stops at tol = sqrt(eps) ~ 1.5e-8
    np.testing.assert_allclose(a.grad.numpy(), u @ u.T, atol=1e-7)


def test_double_backward_matches_torch():
    A, X0 = spd(), start(2)
    C = np.random.default_rng(4).standard_normal((M, M))
    out = []
    for lib in (ndgrad, torch):
        a = lib.tensor(A, requires_grad=True)
        E, X = lib.lobpcg(a, X=lib.tensor(X0))
        (g,) = lib.autograd.grad(sign_free(lib, E, X, lib.tensor(C)), a, create_graph=True)
        (g * lib.tensor(C)).sum().backward()
        out.append(a.grad.numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5, atol=1e-6)


def test_backward_limits_as_torch():
    A = spd()
    B = ndgrad.eye(M, dtype=ndgrad.float64, requires_grad=True)
    E, _ = ndgrad.lobpcg(ndgrad.tensor(A), X=ndgrad.tensor(start(1)), B=B)
    with pytest.raises(ValueError, match="B != I"):
        E.sum().backward()
    idx = np.nonzero(A)
    sA = ndgrad.sparse_coo_tensor(np.array(idx), A[idx], A.shape, requires_grad=True)
    E, _ = ndgrad.lobpcg(sA, X=ndgrad.tensor(start(1)))
    np.testing.assert_allclose(E.detach().numpy(), [12.0], rtol=1e-10)  # sparse A: forward ok
    with pytest.raises(ValueError, match="sparse"):
        E.sum().backward()
