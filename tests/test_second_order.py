"""Second derivatives of fused ops whose first gradient is partly constant in their inputs
(bias gradients, nll_loss, prelu, ...): under create_graph=True torch keeps those gradients in
the graph (with a zero second derivative), and so must ndgrad (ndgrad.ops.base.Anchor).

Each case differentiates, in float64, a weighted sum of every first gradient torch keeps in
the graph, then each of those gradients alone, and compares with torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad
from tests.helpers import assert_close


def _grads(lib: Any, fn: Callable[..., Any], arrays: list[np.ndarray], cot_seed: int = 1,
           ) -> tuple[list[Any], list[Any], Any]:
    """(leaves, first gradients under create_graph, output) of fn(lib, *leaves)."""
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *leaves)
    cot = np.random.default_rng(cot_seed).standard_normal(tuple(out.shape))
    grads = lib.autograd.grad(out, leaves, lib.tensor(cot), create_graph=True,
                              allow_unused=True)
    return leaves, list(grads), out


def check_second_order(fn: Callable[..., Any], shapes: list[Any], seed: int = 0) -> None:
    """fn's first gradients are in the graph where torch's are, and their derivatives (together
    and one by one) equal torch's."""
    rng = np.random.default_rng(seed)
    arrays = [s if isinstance(s, np.ndarray) else rng.uniform(-2, 2, s) for s in shapes]
    t_leaves, t_grads, t_out = _grads(torch, fn, arrays)
    n_leaves, n_grads, n_out = _grads(ndgrad, fn, arrays)
    assert_close(n_out, t_out, what="output")
    sel = []
    for i, (n, t) in enumerate(zip(n_grads, t_grads)):
        if t is None:
            continue
        assert_close(n, t, what=f"gradient of input {i}")
        assert n.requires_grad == t.requires_grad, f"gradient of input {i}: requires_grad"
        if t.requires_grad:
            sel.append(i)
    assert sel, "torch keeps no first gradient in the graph: nothing to check"
    ws = [rng.standard_normal(tuple(t_grads[i].shape)) for i in sel]
    for group in [sel] + [[i] for i in sel]:
        t2 = sum((t_grads[i] * torch.from_numpy(ws[sel.index(i)])).sum() for i in group)
        n2 = sum((n_grads[i] * ndgrad.tensor(ws[sel.index(i)])).sum() for i in group)
        tgg = torch.autograd.grad(t2, t_leaves, retain_graph=True, allow_unused=True)
        ngg = ndgrad.autograd.grad(n2, n_leaves, retain_graph=True, allow_unused=True)
        for j, (n, t) in enumerate(zip(ngg, tgg)):
            t = torch.zeros(arrays[j].shape, dtype=torch.float64) if t is None else t
            n = ndgrad.zeros(arrays[j].shape, dtype=ndgrad.float64) if n is None else n
            assert_close(n, t, what=f"second order of gradients {group}, input {j}")


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_bias(dims: int) -> None:
    conv = f"conv{dims}d"
    check_second_order(lambda lib, x, w, b: getattr(lib.nn.functional, conv)(x, w, b, padding=1),
                       [(2, 3) + (4,) * dims, (4, 3) + (2,) * dims, (4,)])


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_transpose_bias(dims: int) -> None:
    conv = f"conv_transpose{dims}d"
    check_second_order(
        lambda lib, x, w, b: getattr(lib.nn.functional, conv)(x, w, b, stride=2, groups=1),
        [(2, 3) + (3,) * dims, (3, 4) + (2,) * dims, (4,)])


def test_layer_norm() -> None:
    # (torch's own double backward fails with a bias and no weight: not compared)
    check_second_order(lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (3, 4), w, b),
                       [(2, 3, 4), (3, 4), (3, 4)])


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(training: bool) -> None:
    mean, var = np.linspace(-1, 1, 3), np.linspace(0.5, 2, 3)

    def fn(lib: Any, x: Any, w: Any, b: Any) -> Any:
        return lib.nn.functional.batch_norm(x, lib.tensor(mean), lib.tensor(var), w, b,
                                            training=training)
    check_second_order(fn, [(4, 3, 5), (3,), (3,)])


def test_instance_norm() -> None:
    check_second_order(lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b),
                       [(2, 3, 5), (3,), (3,)])


def test_native_forms() -> None:
    check_second_order(lambda lib, x, w, b: lib.native_layer_norm(x, (4,), w, b, 1e-5)[0],
                       [(3, 4), (4,), (4,)])
    check_second_order(
        lambda lib, x, w, b: lib.native_batch_norm(x, w, b, None, None, True, 0.1, 1e-5)[0],
        [(4, 3), (3,), (3,)])


@pytest.mark.parametrize("weight_grad", [True, False])
def test_prelu(weight_grad: bool) -> None:
    """With a constant weight, the input's gradient (grad * w where x <= 0) is constant in x."""
    if weight_grad:
        check_second_order(lambda lib, x, w: lib.nn.functional.prelu(x, w), [(2, 3, 4), (3,)])
    else:
        w = np.array([0.25, -0.5, 2.0])
        check_second_order(lambda lib, x: lib.nn.functional.prelu(x, lib.tensor(w)), [(2, 3, 4)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction: str) -> None:
    target, weight = np.array([0, 2, 1, 2]), np.array([0.5, 1.0, 2.0])

    def fn(lib: Any, x: Any) -> Any:
        return lib.nn.functional.nll_loss(x, lib.tensor(target), lib.tensor(weight),
                                          reduction=reduction, ignore_index=1)
    check_second_order(fn, [(4, 3)])


def test_grid_sample_nearest() -> None:
    """Nearest sampling is piecewise constant in the grid: its gradient there is zeros that
    stay in the graph."""
    check_second_order(
        lambda lib, x, g: lib.nn.functional.grid_sample(x, g, mode="nearest",
                                                        align_corners=False),
        [(1, 2, 3, 4), (1, 2, 3, 2)])


def test_relu_third_order() -> None:
    """relu's second derivative (zeros in x) is itself in the graph, as torch's."""
    def fn(lib: Any, x: Any) -> Any:
        (g,) = lib.autograd.grad(lib.relu(x).square().sum(), x, create_graph=True)
        return g
    check_second_order(fn, [(5,)])


@pytest.mark.parametrize("pads", [(-1, -2), (-1, 2), (0, -1, 1, -1)])
def test_replicate_pad_negative(pads: tuple[int, ...]) -> None:
    """A crop (all pads <= 0) is a new tensor whose gradient stays in the graph, as torch's."""
    check_second_order(lambda lib, x: lib.nn.functional.pad(x, pads, mode="replicate"),
                       [(2, 3, 5)])


def _node_names(out: Any) -> set[str]:
    """The names of every node in out's graph."""
    names, stack, seen = set(), [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.add(node.name())
        stack.extend(n for n, _ in node.next_functions)
    return names


@pytest.mark.parametrize("fn", [
    lambda F, x, w: F.batch_norm(x, None, None, w, w * 2, training=True),
    lambda F, x, w: F.batch_norm(x, ndgrad.zeros(3), ndgrad.ones(3), w, w * 2),
    lambda F, x, w: F.instance_norm(x, weight=w, bias=w * 2),
    lambda F, x, w: F.prelu(x, w),
    lambda F, x, w: F.prelu(x, w.detach()),
    lambda F, x, w: F.nll_loss(x[:, :, 0], ndgrad.tensor([0, 2]), w, ignore_index=1),
], ids=["batch_norm", "batch_norm eval", "instance_norm", "prelu", "prelu constant weight",
        "nll_loss"])
def test_forward_ties_nothing(fn: Callable[..., Any]) -> None:
    """The ties above are made in backward, when it builds a graph (ops.base.anchor): the
    forward of a first-order step records no Anchor node (nor the copy it makes)."""
    x = ndgrad.randn(2, 3, 4, requires_grad=True)
    w = ndgrad.rand(3, requires_grad=True)
    names = _node_names(fn(ndgrad.nn.functional, x, w))
    assert names and not any("Anchor" in n for n in names), names
