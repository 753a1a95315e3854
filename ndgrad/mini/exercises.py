"""Checks for the exercises at the end of the docs' chapters (solutions: docs/solutions/).

Each ``check_*`` takes what the exercise asks you to write, runs it on random float64 inputs,
and compares it with PyTorch (the reference) or with central differences (what ``gradcheck``
does). It returns quietly when your answer is right and raises ``AssertionError`` saying what
differs when it is not.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from operator import methodcaller
from typing import Any

import numpy as np

from ndgrad.mini.engine import Tensor
from ndgrad.mini.nn import Parameter


def _close(what: str, ours: Any, expected: Any, rtol: float = 1e-7, atol: float = 1e-10) -> None:
    ours, expected = np.asarray(ours, dtype=float), np.asarray(expected, dtype=float)
    assert ours.shape == expected.shape, f"{what}: shape {ours.shape}, expected {expected.shape}"
    if not np.allclose(ours, expected, rtol=rtol, atol=atol):
        worst = np.abs(ours - expected).max()
        raise AssertionError(f"{what} is off by up to {worst:.3g}:\n{ours}\nexpected\n{expected}")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError("this check compares with PyTorch: pip install -e '.[docs]'") from None
    return torch


def _grad_of(fn: Callable[[Any], Any], x: np.ndarray, upstream: Any) -> np.ndarray:
    """d sum(upstream * fn(x)) / dx by torch's autograd."""
    torch = _torch()
    t = torch.tensor(x, requires_grad=True)
    fn(t).backward(torch.tensor(upstream))
    return t.grad.numpy()


def _central_difference(f: Callable[[np.ndarray], float], x: np.ndarray,
                        h: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def check_value_exp(exp: Callable[..., Any]) -> None:
    """Chapter 2: exp(v) for a Value, micrograd style (an out Value and a _backward closure)."""
    from ndgrad.scalar import Value

    for x in (-1.3, 0.0, 0.7):
        v = Value(x)
        y = exp(v * 2) * v  # exp inside a bigger graph: its _backward must use out.grad
        y.backward()
        _close(f"exp(2x) * x at x={x}", y.data, math.exp(2 * x) * x)
        _close(f"its derivative at x={x}", v.grad, math.exp(2 * x) * (2 * x + 1))


def check_value_tanh(tanh: Callable[..., Any]) -> None:
    """Chapter 1: tanh(v) for a Value, built from Value's exp, +, -, / (no new derivative)."""
    from ndgrad.scalar import Value

    for x in (-2.0, -0.3, 0.0, 1.1):
        v = Value(x)
        y = tanh(v)
        assert isinstance(y, Value), f"tanh should return a Value, got {type(y).__name__}"
        y.backward()
        _close(f"tanh({x})", y.data, math.tanh(x))
        _close(f"d tanh/dx at {x}", v.grad, 1 - math.tanh(x) ** 2)


def check_sum_backward(sum_backward: Callable[..., np.ndarray]) -> None:
    """Chapter 4: the gradient of x.sum(dim, keepdim), given the gradient of the result."""
    rng = np.random.default_rng(0)
    cases: list[tuple[tuple[int, ...], Any, bool]] = [
        ((3, 4), 0, False), ((3, 4), 1, True), ((2, 3, 4), -1, False),
        ((2, 3, 4), (0, 2), False), ((2, 3, 4), (0, -1), True)]
    for shape, dim, keepdim in cases:
        x = rng.normal(size=shape)
        g = rng.normal(size=x.sum(axis=dim, keepdims=keepdim).shape)
        expected = _grad_of(methodcaller("sum", dim, keepdim=keepdim), x, g)
        _close(f"sum_backward(grad, {shape}, dim={dim}, keepdim={keepdim})",
               sum_backward(g, shape, dim, keepdim), expected)


def check_tanh_function(Tanh: Any) -> None:  # noqa: N803 (a class)
    """Chapter 3: tanh as a mini.Function; forward, backward and a numeric gradient check."""
    rng = np.random.default_rng(0)
    x_np, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    x = Tensor(x_np, requires_grad=True)
    out = Tanh.apply(x)
    _close("Tanh forward", out.data, np.tanh(x_np))
    out.backward(g)
    _close("Tanh backward", x.grad, _grad_of(lambda t: t.tanh(), x_np, g))
    _close("Tanh backward vs central differences", x.grad,
           _central_difference(lambda a: float((np.tanh(a) * g).sum()), x_np), rtol=1e-5)


BROADCASTS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((5, 3, 4, 2), (3, 1, 2)),
              ((2, 3), ()), ((2, 3), (1, 1)), ((2, 3, 4), (1, 3, 1)), ((0, 3), (3,)),
              ((2, 0, 3), (1, 0, 1))]


def check_unbroadcast(unbroadcast: Callable[[np.ndarray, tuple[int, ...]], np.ndarray]) -> None:
    """Chapter 3: sum a gradient of a broadcast shape down to the input's shape."""
    rng = np.random.default_rng(0)
    for big, small in BROADCASTS:
        g = rng.normal(size=big)
        expected = _grad_of(methodcaller("expand", big), np.zeros(small), g)
        _close(f"unbroadcast(grad of shape {big}, {small})", unbroadcast(g, small), expected)


def check_linear_backward(linear_backward: Callable[..., tuple[np.ndarray, ...]]) -> None:
    """Chapter 5: (dx, dW, db) for y = x @ W.T + b, given dL/dy."""
    torch = _torch()
    rng = np.random.default_rng(0)
    x, W, b, g = (rng.normal(size=s) for s in [(4, 3), (5, 3), (5,), (4, 5)])
    ts = [torch.tensor(a, requires_grad=True) for a in (x, W, b)]
    torch.nn.functional.linear(*ts).backward(torch.tensor(g))
    for name, ours, t in zip(("dx", "dW", "db"), linear_backward(x, W, b, g), ts):
        _close(name, ours, t.grad.numpy())


def check_permute_backward(permute_backward: Callable[[np.ndarray, tuple[int, ...]],
                                                      np.ndarray]) -> None:
    """Chapter 6: the gradient of x.permute(dims), given the gradient of the result."""
    rng = np.random.default_rng(0)
    for dims in [*itertools.permutations(range(3)), (3, 1, 0, 2), (1, 2, 3, 0)]:
        x = rng.normal(size=(2, 3, 4, 5)[:len(dims)])
        g = rng.normal(size=x.transpose(dims).shape)
        expected = _grad_of(methodcaller("permute", *dims), x, g)
        _close(f"permute_backward(grad, {dims})", permute_backward(g, dims), expected)


def check_gather_backward(gather_backward: Callable[..., np.ndarray]) -> None:
    """Chapter 6: gradient of torch.gather(x, dim, index), given the result's gradient."""
    torch = _torch()
    rng = np.random.default_rng(0)
    for shape, dim, index_shape in [((3, 4), 1, (3, 6)), ((3, 4), 0, (5, 4)),
                                    ((2, 3, 4), -1, (2, 3, 2)), ((2, 3, 4), 1, (2, 1, 4))]:
        x = rng.normal(size=shape)
        index = rng.integers(0, shape[dim], size=index_shape)  # repeats: gradients must add
        g = rng.normal(size=index_shape)
        expected = _grad_of(methodcaller("gather", dim, torch.from_numpy(index)), x, g)
        _close(f"gather_backward(grad, dim={dim}, index {index_shape}, {shape})",
               gather_backward(g, dim, index, shape), expected)


def check_amax_backward(amax_backward: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> None:
    """Chapter 6: gradient of x.amax(dim), where tied maxima share the gradient evenly."""
    rng = np.random.default_rng(0)
    for shape, dim in [((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1)]:
        x = rng.integers(0, 3, size=shape).astype(float)  # small integers: many ties
        g = rng.normal(size=np.delete(np.array(shape), dim))
        expected = _grad_of(methodcaller("amax", dim), x, g)
        _close(f"amax_backward(x, grad, dim={dim}) with ties in\n{x}\n",
               amax_backward(x, g, dim), expected)


def check_mlp_backward(mlp_backward: Callable[..., tuple[np.ndarray, ...]]) -> None:
    """Chapter 7: hand-written gradients of cross_entropy(relu(x W1^T + b1) W2^T + b2, y)."""
    torch = _torch()
    rng = np.random.default_rng(0)
    x, W1, b1, W2, b2 = (rng.normal(size=s) for s in [(8, 5), (6, 5), (6,), (3, 6), (3,)])
    y = rng.integers(0, 3, size=8)
    ts = [torch.tensor(a, requires_grad=True) for a in (W1, b1, W2, b2)]
    F = torch.nn.functional
    F.cross_entropy(F.linear(F.linear(torch.tensor(x), ts[0], ts[1]).relu(), ts[2], ts[3]),
                    torch.from_numpy(y)).backward()
    for name, ours, t in zip(("dW1", "db1", "dW2", "db2"), mlp_backward(x, W1, b1, W2, b2, y), ts):
        _close(name, ours, t.grad.numpy())


def check_conv1d(conv1d: Callable[..., Tensor]) -> None:
    """Chapter 8: conv1d(x (N, C, L), w (O, C, K), b (O,), stride) from mini ops."""
    torch = _torch()
    rng = np.random.default_rng(0)
    for (n, c, length), (o, k), stride in [((2, 3, 10), (4, 3), 1), ((1, 2, 9), (3, 4), 2),
                                           ((3, 1, 5), (2, 5), 1)]:
        arrays = [rng.normal(size=s) for s in [(n, c, length), (o, c, k), (o,)]]
        ours = [Tensor(a, requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        out = conv1d(*ours, stride)
        ref = torch.nn.functional.conv1d(*theirs, stride=stride)
        _close(f"conv1d forward, stride {stride}", out.data, ref.detach().numpy())
        g = rng.normal(size=tuple(ref.shape))
        out.backward(g)
        ref.backward(torch.tensor(g))
        for name, a, t in zip(("x", "w", "b"), ours, theirs):
            _close(f"conv1d gradient of {name}, stride {stride}", a.grad, t.grad.numpy())


def check_sgd_momentum(SGDMomentum: Any) -> None:  # noqa: N803 (a class)
    """Chapter 9: SGDMomentum(params, lr, momentum) with step() and zero_grad(), 5 steps."""
    torch = _torch()
    w0 = np.random.default_rng(0).normal(size=(3, 2))
    w, t = Parameter(w0.copy()), torch.tensor(w0.copy(), requires_grad=True)
    ours, theirs = SGDMomentum([w], lr=0.1, momentum=0.9), torch.optim.SGD([t], 0.1, 0.9)
    for step in range(5):
        for p, opt in ((w, ours), (t, theirs)):
            opt.zero_grad()
            ((p * p).tanh() + p * 0.5).sum().backward()
            opt.step()
        _close(f"the weights after step {step + 1}", w.data, t.detach().numpy())


def check_jvp(jvp: Callable[..., tuple[np.ndarray, np.ndarray]]) -> None:
    """Chapter 15: jvp(x, v) -> (f(x), J v) for f(x) = sin(x) * x**2 + x, elementwise."""
    rng = np.random.default_rng(0)
    x, v = rng.normal(size=5), rng.normal(size=5)
    value, tangent = jvp(x, v)
    _close("f(x)", value, np.sin(x) * x**2 + x)
    _close("J v", tangent, _grad_of(lambda t: t.sin() * t**2 + t, x, v))  # J is diagonal


def check_softplus_function(Softplus: Any) -> None:  # noqa: N803 (a class)
    """Chapter 11: softplus as an ndgrad.autograd.Function, by gradcheck and against torch."""
    import ndgrad
    from ndgrad.autograd import gradcheck

    torch = _torch()
    x_np = np.random.default_rng(0).normal(size=(3, 4)) * 3
    x = ndgrad.tensor(x_np, requires_grad=True)
    out = Softplus.apply(x)
    _close("Softplus forward", out.detach().numpy(),
           torch.nn.functional.softplus(torch.tensor(x_np)).numpy())
    assert gradcheck(Softplus.apply, (x,), raise_exception=False), \
        "Softplus's backward disagrees with central differences (gradcheck)"


def check_clip_hook(clip_hook: Callable[[float], Callable[..., Any]]) -> None:
    """Chapter 13: clip_hook(max_norm) makes a hook that scales a gradient down to max_norm."""
    import ndgrad

    for scale, max_norm in [(1.0, 10.0), (5.0, 1.0), (0.1, 0.5)]:
        w = ndgrad.tensor([1.0, -2.0, 3.0], dtype=ndgrad.float64, requires_grad=True)
        handle = w.register_hook(clip_hook(max_norm))
        (w * w * scale).sum().backward()
        handle.remove()
        grad = 2 * scale * np.array([1.0, -2.0, 3.0])
        norm = np.linalg.norm(grad)
        expected = grad if norm <= max_norm else grad * (max_norm / norm)
        assert w.grad is not None, "the hook must return a gradient or None, not remove it"
        _close(f"the clipped gradient (norm {norm:.3g}, max_norm {max_norm})",
               w.grad.numpy(), expected)


def check_laplacian(laplacian: Callable[..., Any]) -> None:
    """Chapter 14: laplacian(f, x), the sum of f's second derivatives d2f/dx_i^2 at x."""
    import ndgrad

    torch = _torch()
    x_np = np.random.default_rng(0).normal(size=4)

    def f(x: Any) -> Any:  # runs on ndgrad and on torch tensors alike
        return (x.sin() * x * x).sum() + (x[0] * x[1] * x[2]).exp()

    ours = laplacian(f, ndgrad.tensor(x_np, requires_grad=True))
    hessian = torch.autograd.functional.hessian(f, torch.tensor(x_np))
    _close("the Laplacian", float(ours), float(hessian.diagonal().sum()))
