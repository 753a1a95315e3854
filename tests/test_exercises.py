"""The docs' exercises: every check passes on its solution (docs/solutions/) and fails on a
plausible wrong answer, so a check can tell a reader that their answer is wrong."""

import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest

import ndgrad
from ndgrad import mini
from ndgrad.mini import exercises
from ndgrad.scalar import Value

DOCS = Path(__file__).resolve().parents[1] / "docs"
SOLUTIONS = sorted((DOCS / "solutions").glob("[0-9][0-9]_*.py"))


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checks_called(path: Path) -> list[str]:
    return re.findall(r"^    (check_\w+)\((\w+)\)", path.read_text(), re.M)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_pass_their_checks(path):
    module = load(path)
    calls = checks_called(path)
    assert calls, f"{path.name} runs no check"
    for check, answer in calls:
        getattr(exercises, check)(getattr(module, answer))


def test_every_check_has_a_solution_and_a_chapter():
    checks = {name for name in dir(exercises) if name.startswith("check_")}
    solved = {check for path in SOLUTIONS for check, _ in checks_called(path)}
    assert solved == checks
    chapters = "".join(p.read_text() for p in DOCS.glob("[0-9][0-9]-*.md"))
    for path in SOLUTIONS:  # each chapter links its solutions
        assert f"(solutions/{path.name})" in chapters, path.name
    assert all(f"`{check}(" in chapters for check in checks)


def wrong_exp(x):
    out = Value(math.exp(x.data), (x,), "exp")

    def _backward():
        x.grad += out.data  # forgot the incoming gradient

    out._backward = _backward
    return out


class WrongTanh(mini.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(np.tanh(x))
        return np.tanh(x)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (1 - out)  # not squared


class NoMomentum:
    def __init__(self, params, lr, momentum):
        self.params, self.lr = list(params), lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            p.data = p.data - self.lr * p.grad


def first_winner_amax(x, grad, dim):  # torch.max(dim)'s rule, not amax's
    onehot = np.moveaxis(np.eye(x.shape[dim])[x.argmax(axis=dim)], -1, dim)
    return np.expand_dims(grad, dim) * onehot


def assigning_gather_backward(grad, dim, index, shape):
    dx = np.zeros(shape)
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    dx[tuple(grids)] = grad  # repeated indices keep one gradient instead of their sum
    return dx


def conv1d_ignoring_stride(x, w, b, stride=1):
    return load(DOCS / "solutions" / "08_conv.py").conv1d(x, w, b, 1)


def mlp_backward_without_mean(x, W1, b1, W2, b2, y):
    grads = load(DOCS / "solutions" / "07_softmax_cross_entropy.py").mlp_backward(
        x, W1, b1, W2, b2, y)
    return tuple(g * x.shape[0] for g in grads)  # the loss is a mean over the batch


def tanh_without_the_2(x):
    e = x.exp()
    return (e - 1) / (e + 1)


class SoftplusWithWrongSign(ndgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0) + (-x.abs()).exp().log1p()

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (-x).sigmoid()


def always_rescaling_hook(max_norm):
    return lambda grad: grad * (max_norm / (grad * grad).sum().sqrt())


def hessian_sum_not_trace(f, x):
    (g,) = ndgrad.autograd.grad(f(x), x, create_graph=True)
    (h,) = ndgrad.autograd.grad(g.sum(), x)  # sums whole rows of the Hessian
    return h.sum().item()


@pytest.mark.parametrize("check, wrong", [
    ("check_value_tanh", tanh_without_the_2),
    ("check_sum_backward", lambda g, shape, dim, keepdim: np.broadcast_to(g, shape)),
    ("check_softplus_function", SoftplusWithWrongSign),
    ("check_clip_hook", always_rescaling_hook),
    ("check_laplacian", hessian_sum_not_trace),
    ("check_value_exp", wrong_exp),
    ("check_tanh_function", WrongTanh),
    ("check_unbroadcast", lambda g, shape: g.reshape(-1, *shape).sum(0) if shape else g.sum()),
    ("check_linear_backward", lambda x, W, b, g: (g @ W, x.T @ g, g.sum(0))),
    ("check_permute_backward", lambda g, dims: g.transpose(dims)),
    ("check_gather_backward", assigning_gather_backward),
    ("check_amax_backward", first_winner_amax),
    ("check_mlp_backward", mlp_backward_without_mean),
    ("check_conv1d", conv1d_ignoring_stride),
    ("check_sgd_momentum", NoMomentum),
    ("check_jvp", lambda x, v: (np.sin(x) * x**2 + x, np.cos(x) * x**2 * v + v)),
])
def test_checks_reject_wrong_answers(check, wrong):
    with pytest.raises((AssertionError, ValueError)):
        getattr(exercises, check)(wrong)
