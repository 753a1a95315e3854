"""Complex tensors (complex64, complex128): creation, printing, type promotion, and gradients
against torch's (the engine carries them conjugated and converts at the edges: .grad,
autograd.grad, backward(gradient), hooks, users' Functions; see ndgrad/ops/complex.py)."""

import numpy as np
import pytest
import torch
from helpers import check_complex_op

import ndgrad

rng = np.random.default_rng(0)
Z = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
W = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
X = rng.standard_normal((3, 4))


def test_creation_and_dtypes():
    assert ndgrad.tensor([1 + 2j]).dtype == ndgrad.complex64  # Python complex: the default
    assert ndgrad.tensor(np.array([1j])).dtype == ndgrad.complex128
    assert ndgrad.cfloat is ndgrad.complex64 and ndgrad.cdouble is ndgrad.complex128
    assert ndgrad.complex64.is_complex and not ndgrad.complex64.is_floating_point
    assert ndgrad.complex128.to_real() == ndgrad.float64
    z = ndgrad.tensor([1 + 2j], requires_grad=True)
    assert z.requires_grad and z.is_complex() and ndgrad.is_complex(z)
    assert not ndgrad.tensor([1.0]).is_complex()


@pytest.mark.parametrize("a,b", [
    (np.float32, np.complex64), (np.float64, np.complex64), (np.complex64, np.complex128),
    (np.int64, np.complex64), (np.bool_, np.complex128)])
def test_promotion(a, b):
    ta, tb = torch.ones(2, dtype=getattr(torch, np.dtype(a).name if a != np.bool_ else "bool")), \
        torch.ones(2, dtype=getattr(torch, np.dtype(b).name))
    na, nb = ndgrad.ones(2, dtype=a), ndgrad.ones(2, dtype=b)
    for t, n in (((ta + tb), (na + nb)), ((ta * 1j), (na * 1j)), ((tb * 2.5), (nb * 2.5))):
        assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    zero_dim = torch.tensor(1j, dtype=torch.complex128)
    assert str((na + ndgrad.tensor(1j, dtype=ndgrad.complex128)).dtype).split(".")[1] == \
        str((ta + zero_dim).dtype).split(".")[1]


def test_printing_as_torch():
    for v in ([1 + 2j, 3.5 - 1j], [[1 + 2j, 3 - 1j], [0.25j, 1]], 1 + 2j, [1e-5 + 3j, 2e6j]):
        assert repr(ndgrad.tensor(v)) == repr(torch.tensor(v))
    assert repr(ndgrad.tensor([1j], dtype=ndgrad.complex128)).endswith(
        "dtype=ndgrad.complex128)")


OPS = {
    "arithmetic": ([Z, W], lambda lib, z, w: (z * w - w / (z + 2)) ** 2 + 3j * z - 1),
    "real_times_complex": ([X, Z], lambda lib, x, z: x * z + x / z),
    "holomorphic": ([Z], lambda lib, z: z.exp() + z.log() + z.sqrt() + z.sin() + z.tanh()),
    "reductions": ([Z], lambda lib, z: [z.sum(0), z.mean(1), z.cumsum(0), z.prod(1)]),
    "shape": ([Z], lambda lib, z: [z.T, z.reshape(4, 3), z[1:, ::2], z.flip(0),
                                   lib.cat([z, z], 0)]),
    "matmul": ([Z, W], lambda lib, z, w: z @ w.mT),
    "abs_angle_sgn": ([Z], lambda lib, z: [z.abs(), z.angle(), z.sgn()]),
    "parts": ([Z], lambda lib, z: [z.real, z.imag, z.conj(), lib.view_as_real(z)]),
    "build": ([X, X[::-1].copy()], lambda lib, a, b: [lib.complex(a, b), lib.polar(a.abs(), b),
                                                      lib.view_as_complex(lib.stack([a, b], -1))]),
    "real_losses": ([Z], lambda lib, z: [z.abs().square().sum(), z.var(), z.norm(),
                                         lib.linalg.vector_norm(z, 3)]),
    "to_complex": ([X], lambda lib, x: x.to(lib.complex128) * (1 + 2j)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradients_against_torch(name):
    arrays, fn = OPS[name]
    check_complex_op(arrays, fn)


def test_complex_output_needs_a_gradient():
    z = ndgrad.tensor(Z, requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar outputs"):
        (z * 2).sum().backward()


def test_leaf_grad_hooks_and_retain_grad_see_torchs_convention():
    def run(lib):
        z = lib.tensor(Z, requires_grad=True)
        seen = []
        y = z * (2 - 1j)
        y.retain_grad()
        y.register_hook(lambda g: seen.append(g.detach().clone()))
        loss = (y.abs() ** 2).sum()
        loss.backward()
        loss2 = (z * 1j).real.sum()
        loss2.backward()  # accumulates into z.grad
        return z.grad, y.grad, seen[0]

    for a, b in zip(run(ndgrad), run(torch)):
        np.testing.assert_allclose(a.numpy(), b.resolve_conj().numpy(), atol=1e-12)


def test_backward_with_a_complex_gradient():
    g = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    out = []
    for lib in (ndgrad, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * (1 + 2j)
        y.backward(lib.tensor(g))
        out.append(x.grad.numpy())
    np.testing.assert_allclose(out[0], out[1])


def test_user_function_sees_torchs_convention():
    def make(lib):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, z):
                ctx.save_for_backward(z)
                return z * z

            @staticmethod
            def backward(ctx, grad):  # torch's convention: grad * conj(dz^2/dz)
                (z,) = ctx.saved_tensors
                return grad * (2 * z).conj()

        z = lib.tensor(Z, requires_grad=True)
        (Square.apply(z) * 1j).abs().sum().backward()
        return z.grad

    np.testing.assert_allclose(make(ndgrad).numpy(), make(torch).numpy(), atol=1e-12)


def test_imag_of_real_raises():
    with pytest.raises(RuntimeError, match="imag is not implemented"):
        _ = ndgrad.tensor([1.0]).imag
    x = ndgrad.tensor([1.0])
    assert x.real is x and x.conj() is x
