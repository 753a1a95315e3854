"""Differences found by running PyTorch's tutorials (pytorch/tutorials) on ndgrad, each
checked against torch with the tutorial's own line or a small form of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
from tests.helpers import assert_close

LIBS = [torch, ndgrad]


# -- torch.f(input=...): examples_tensor/polynomial_tensor.py -------------------------------------

def test_functions_take_input_keyword() -> None:
    # grad_b = torch.matmul(input=grad_y_pred, other=x).sum()
    a, b = np.arange(4.0, dtype=np.float32), np.linspace(-1, 1, 4, dtype=np.float32)
    for fn in (lambda L, x, y: L.matmul(input=x, other=y),
               lambda L, x, y: L.sum(input=x * y),
               lambda L, x, y: L.exp(input=x, out=L.empty(4)),
               lambda L, x, y: L.clamp(input=y, min=0.0),
               lambda L, x, y: L.where(x > 1, input=x, other=y)):
        outs = [fn(L, L.tensor(a), L.tensor(b)) for L in (ndgrad, torch)]
        assert_close(outs[0], outs[1], np.float32)


def test_assigned_grad_message() -> None:
    # examples_autograd/polynomial_autograd.py: a.grad = 0.
    msgs = []
    for L in LIBS:
        w = L.ones(2, requires_grad=True)
        with pytest.raises(TypeError) as e:
            w.grad = 0.0
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


# -- scatter/gather with a 0-d index: basics/transforms_tutorial.py's one-hot ----------------------

def test_scatter_one_hot_with_0d_index() -> None:
    # Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
    outs = [L.zeros(10, dtype=L.float).scatter_(0, L.tensor(3), value=1) for L in LIBS]
    assert_close(outs[1], outs[0], np.float32)


@pytest.mark.parametrize("fn", [
    lambda L, x, s: x.scatter(0, L.tensor(3), s),
    lambda L, x, s: x.scatter(0, L.tensor([3]), s),
    lambda L, x, s: x.scatter(0, L.tensor(3), 2.0, reduce="add"),
    lambda L, x, s: x.scatter_add(0, L.tensor(3), s),
    lambda L, x, s: x.scatter_reduce(0, L.tensor(3), s, "amax"),
    lambda L, x, s: x.gather(0, L.tensor(2)) * s,
    lambda L, x, s: x.index_copy(0, L.tensor(2), s),
])
def test_0d_index_on_vector(fn) -> None:
    outs, grads = [], []
    for L in (torch, ndgrad):
        x = L.tensor([1.0, -2.0, 3.0, 0.5, 4.0], requires_grad=True)
        s = L.tensor(2.5, requires_grad=True)
        out = fn(L, x, s)
        outs.append(out)
        try:  # torch has no derivative for scatter(value, reduce=)
            (out * L.arange(1.0, out.numel() + 1).reshape(out.shape)).sum().backward()
        except RuntimeError as e:
            assert L is torch and "not implemented" in str(e)
            break
        grads.append((x.grad, s.grad))
    out_t, out_nd = outs[0], fn(ndgrad, ndgrad.tensor([1.0, -2.0, 3.0, 0.5, 4.0]),
                                ndgrad.tensor(2.5))
    assert out_nd.shape == out_t.shape
    assert_close(out_nd, out_t, np.float32)
    if len(grads) == 2:
        for g_t, g_nd in zip(*grads):
            assert (g_nd is None) == (g_t is None)
            if g_t is not None:
                assert_close(g_nd, g_t, np.float32)


def test_index_copy_scalar_source_needs_one_index() -> None:
    for L in LIBS:
        with pytest.raises(IndexError, match="index should have one element"):
            L.zeros(3).index_copy(0, L.tensor([2, 1]), L.tensor(1.0))


# -- torch.utils.swap_tensors: recipes/swap_tensors.py --------------------------------------------

def test_swap_tensors() -> None:
    # t1, t2 = arange(2), arange(3); swap_tensors(t1, t2); and a Parameter an optimizer holds
    for L in LIBS:
        t1, t2 = L.arange(2), L.arange(3)
        L.utils.swap_tensors(t1, t2)
        assert t1.tolist() == [0, 1, 2] and t2.tolist() == [0, 1]
        p = L.nn.Parameter(L.ones(2))
        opt = L.optim.SGD([p], lr=0.5)
        L.utils.swap_tensors(p, L.nn.Parameter(L.full((2,), 3.0)))
        (p * p).sum().backward()
        opt.step()
        assert opt.param_groups[0]["params"][0] is p
        assert p.tolist() == [0.0, 0.0] and type(p).__name__ == "Parameter"
        t = L.zeros(2)
        ref = __import__("weakref").ref(t)
        with pytest.raises(RuntimeError, match="weakref"):
            L.utils.swap_tensors(t, L.ones(2))
        del ref


# -- benchmark.Compare: recipes/benchmark.py's tables over threads and environments ----------------

def _measurements(bm):
    out = []
    for i, (threads, env, sub, desc) in enumerate(
            [(1, None, "[1, 1]", "mul/sum"), (1, None, "[1, 1]", "bmm"),
             (1, None, "[64, 64]", "mul/sum"), (2, None, "[1, 1]", "mul/sum"),
             (2, None, "[64, 64]", "bmm"), (1, "env A", None, "[1, 1]"),
             (1, "env B", None, "[1, 1]"), (1, "env B", None, "[64, 64]")]):
        spec = bm.TaskSpec("batched_dot(x, x)", "pass", label="Batched dot" if env is None
                           else "A/B", sub_label=sub, description=desc, env=env,
                           num_threads=threads)
        out.append(bm.Measurement(1000, [(i + 1) * 3.21e-3], spec))
    return out


def test_benchmark_compare_keeps_threads_and_envs() -> None:
    import torch.utils.benchmark as tbm

    import ndgrad.utils.benchmark as nbm
    nd_table, t_table = (str(bm.Compare(_measurements(bm))) for bm in (nbm, tbm))
    assert "2 threads: " in nd_table and "(env A)" in nd_table
    assert nd_table == t_table


# -- once_differentiable: intermediate/custom_function_conv_bn_tutorial.py -------------------------

def _square_fn(L):
    from importlib import import_module
    once = import_module(L.__name__ + ".autograd.function").once_differentiable

    class Square(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            out = 2 * x * grad
            out += 0.0  # in-place: fine, backward runs with grad recording off
            return out, None, None  # extra None gradients are allowed
    return Square


def test_once_differentiable() -> None:
    grads = []
    for L in LIBS:
        x = L.tensor([1.0, -2.0, 3.0], requires_grad=True, dtype=L.float64)
        _square_fn(L).apply(x).sum().backward()
        grads.append(x.grad)
        v = L.tensor([1.0, 3.0, -1.0], requires_grad=True, dtype=L.float64)
        (g,) = L.autograd.grad(_square_fn(L).apply(x), x, grad_outputs=v, create_graph=True)
        assert g.requires_grad
        with pytest.raises(RuntimeError, match="differentiate twice"):
            g.sum().backward()
        assert L.autograd.gradcheck(_square_fn(L).apply, (x,))
    assert_close(grads[1], grads[0])


# -- torch.func results require grad only through outside tensors: jacobians_hessians,
# per_sample_grads -----------------------------------------------------------------------------

def test_func_results_are_detached_from_the_transform() -> None:
    import torch.func as tf

    import ndgrad.func as nf
    x = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    for L, F in ((torch, tf), (ndgrad, nf)):
        f = lambda t: t.sin().sum()  # noqa: E731
        t = L.tensor(x)
        w = L.tensor([1.0, 2.0, 3.0], requires_grad=True)

        def g(u, w=w):  # closes over w, which requires grad
            return (w * u).sum()
        flags = [F.hessian(f)(t).requires_grad, F.jacrev(L.sin)(t).requires_grad,
                 F.grad(f)(t).requires_grad, F.vmap(F.grad(f))(t[None]).requires_grad,
                 F.vjp(L.sin, t)[1](L.ones(3))[0].requires_grad,
                 F.jvp(L.sin, (t,), (L.ones(3),))[1].requires_grad,
                 F.grad(g)(t).requires_grad,
                 F.grad(f)(L.tensor(x, requires_grad=True)).requires_grad]
        assert flags == [False] * 6 + [True, True], (L.__name__, flags)
        assert F.hessian(f)(t).numpy().shape == (3, 3)  # no graph: numpy() works
    # nesting still differentiates through the inner transform
    d2 = nf.grad(nf.grad(lambda t: t.sin().sum()))(ndgrad.tensor(0.5))
    assert abs(d2.item() + np.sin(0.5)) < 1e-6


# -- linspace and the identity affine grid to the bit: intermediate/spatial_transformer_tutorial --

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linspace_is_torchs_to_the_bit(dtype) -> None:
    for start, end in [(-1, 1), (-np.pi, np.pi), (0.5, 3.7), (1e-9, 1e9), (3, -2.5)]:
        for n in [2, 7, 28, 100, 2000, 100003]:
            t = torch.linspace(start, end, n, dtype=getattr(torch, dtype)).numpy()
            nd = ndgrad.linspace(start, end, n, dtype=getattr(ndgrad, dtype)).numpy()
            np.testing.assert_array_equal(nd, t, err_msg=f"{start}, {end}, {n}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stn_identity_grid_gradient(dtype) -> None:
    # the STN tutorial starts fc_loc at the identity: grid points fall on pixel centres,
    # where the bilinear gradient's side depends on the last bit of the coordinate
    r = np.random.default_rng(0)
    x, w = r.random((2, 1, 28, 28)), r.standard_normal((2, 1, 28, 28))
    theta = np.array([[[1.0, 0, 0], [0, 1.0, 0]]] * 2)
    grads = []
    for L in (torch, ndgrad):
        dt = getattr(L, dtype)
        t = L.tensor(theta, dtype=dt, requires_grad=True)
        grid = L.nn.functional.affine_grid(t, [2, 1, 28, 28], align_corners=False)
        out = L.nn.functional.grid_sample(L.tensor(x, dtype=dt), grid, align_corners=False)
        (out * L.tensor(w, dtype=dt)).sum().backward()
        grads.append((grid.detach().numpy(), t.grad.numpy()))
    np.testing.assert_array_equal(grads[1][0], grads[0][0])
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-4 if dtype == "float32" else 1e-9)
