"""The graph is freed by reference counting alone (no cycles: checked with the garbage collector
off), saved tensors are released by backward unless retain_graph=True, and a training loop
does not grow memory."""

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import ndgrad
from ndgrad.autograd.function import Node


@pytest.fixture
def no_gc():
    """Run with the cyclic garbage collector off: only reference counting frees objects."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def live(cls):
    return sum(isinstance(o, cls) for o in gc.get_objects())


def test_intermediates_and_nodes_die_with_the_output(no_gc):
    x = ndgrad.randn(3, requires_grad=True)
    h = x * 2
    y = h.exp()
    z = (y * h).sum()
    refs = [weakref.ref(o) for o in (h, y, h.grad_fn, y.grad_fn, z.grad_fn)]
    del h, y
    assert all(r() is not None for r in refs[2:])  # the graph still needs its nodes
    del z
    assert [r() for r in refs] == [None] * len(refs)
    assert x.grad is None and x.requires_grad  # the leaf itself is untouched


def test_a_node_does_not_keep_its_output_alive(no_gc):
    x = ndgrad.randn(3, requires_grad=True)
    y = x.exp()  # Exp saves its output for backward, as an array, not as the tensor
    z = y.sum()
    ry, node = weakref.ref(y), y.grad_fn
    del y
    assert ry() is None
    z.backward()
    assert np.allclose(x.grad.numpy(), np.exp(x.detach().numpy()))
    assert node is z.grad_fn.next_functions[0][0]


def test_backward_releases_saved_tensors_unless_retain_graph(no_gc):
    for retain in (False, True):
        x = ndgrad.randn(4, requires_grad=True)
        a = x * 3  # saved by the Mul below (each factor is saved for the other's gradient)
        out = (a * a).sum()
        ra = weakref.ref(a)
        del a
        assert ra() is not None
        out.backward(retain_graph=retain)
        assert (ra() is not None) == retain
        if retain:
            out.backward()  # still possible, and now the graph is released
            assert ra() is None
        with pytest.raises(RuntimeError, match="second time"):
            out.backward()


def test_autograd_grad_releases_too(no_gc):
    x = ndgrad.randn(4, requires_grad=True)
    a = x.sin()
    out = (a * a).sum()
    ra = weakref.ref(a)
    del a
    ndgrad.autograd.grad(out, x)
    assert ra() is None


def test_no_reference_cycles_in_a_graph(no_gc):
    """Everything a forward + backward (+ a double backward) made is freed without the
    collector: gc.collect() finds nothing to collect."""
    gc.collect()
    w = ndgrad.randn(4, 3, requires_grad=True)
    x = ndgrad.randn(5, 4)
    for _ in range(3):
        h = (x @ w).tanh()
        y = h.sigmoid() * h.exp()
        h.retain_grad()
        h.register_hook(lambda g: g * 1)
        loss = (y ** 2).mean()
        (g,) = ndgrad.autograd.grad(loss, w, create_graph=True)
        (g * g).sum().backward()
        del h, y, loss, g
    w.grad = None
    assert gc.collect() == 0


def test_leaf_accumulator_is_shared_and_freed(no_gc):
    x = ndgrad.randn(3, requires_grad=True)
    a, b = x * 2, x * 3
    acc = a.grad_fn.next_functions[0][0]
    assert acc is b.grad_fn.next_functions[0][0]  # one AccumulateGrad per leaf
    racc = weakref.ref(acc)
    del a, b, acc
    assert racc() is None


def _train(steps, record_at=()):
    ndgrad.manual_seed(0)
    w1 = ndgrad.randn(4, 16, requires_grad=True)
    b1 = ndgrad.zeros(16, requires_grad=True)
    w2 = ndgrad.randn(16, 1, requires_grad=True)
    params = [w1, b1, w2]
    x, y = ndgrad.randn(32, 4), ndgrad.randn(32, 1)
    samples, losses = {}, []
    for step in range(steps):
        h = (x @ w1 + b1).relu()
        loss = ((h @ w2 - y) ** 2).mean()
        loss.backward()
        with ndgrad.no_grad():
            for p in params:
                p -= 0.01 * p.grad
                p.grad = None
        losses.append(loss.item())
        if step in record_at:
            samples[step] = (live(ndgrad.Tensor), live(Node),
                             tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing()
                             else None)
    return samples, losses


def test_training_loop_keeps_live_objects_constant(no_gc):
    samples, losses = _train(300, record_at=(20, 150, 299))
    assert losses[-1] < losses[0]  # it does train
    counts = {k: v[:2] for k, v in samples.items()}
    assert counts[20] == counts[150] == counts[299], counts


def test_training_loop_memory_does_not_grow(no_gc):
    _train(1500)  # fill NumPy's and the interpreter's free lists and caches first
    tracemalloc.start()
    try:
        samples, _ = _train(400, record_at=(100, 399))
    finally:
        tracemalloc.stop()
    grown = samples[399][2] - samples[100][2]
    # a graph kept per step would add ~7 KB a step (2 MB here); allow ~300 B a step of noise
    assert grown < 100_000, f"memory grew by {grown} bytes over 300 steps"
