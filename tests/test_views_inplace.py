"""Views and in-place writes with torch's semantics (issue 16), each case run on torch and on
ndgrad side by side: setitem's value shapes, overlapping writes, views made under no_grad,
the multiple views split/chunk/unbind return, and unsafe_split/unsafe_chunk. Each test failed
before its fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import ndgrad

LIBS = [torch, ndgrad]


def outcome(fn: Any, T: Any) -> Any:
    """fn(T)'s result as plain values (tensors as dtype name, values, requires_grad), or the
    type and message of the exception it raised."""
    try:
        out = fn(T)
    except Exception as e:  # noqa: BLE001 - which error, and its words, are the outcome
        return type(e).__name__, str(e).split("\n")[0]
    return _plain(out)


def _plain(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_plain(u) for u in v]
    if isinstance(v, torch.Tensor | ndgrad.Tensor):
        return str(v.dtype).split(".")[-1], v.detach().numpy().tolist(), v.requires_grad
    return v


def same(fn: Any) -> Any:
    """Run fn on torch and on ndgrad; their outcomes must be equal."""
    t, n = (outcome(fn, T) for T in LIBS)
    np.testing.assert_equal(n, t)
    return n


# -- setitem drops the value's leading size-1 dims ----------------------------------------------
@pytest.mark.parametrize("index, value_shape", [
    ((0, 1), (1,)),         # a 0-d target, a 1-element value
    ((0, 1), (1, 1)),
    ((), (1,)),             # a 0-d tensor, x[()] = v
    (0, (1, 3)),
    (0, (1, 1, 3)),
    (slice(0, 1), (1, 1, 3)),
    ((0, [0, 2]), (1, 2)),  # integer then advanced index
])
def test_setitem_drops_leading_size_one_dims_of_the_value(index, value_shape):
    def run(T):
        x = T.zeros(2, 3) if index != () else T.zeros(())
        v = T.arange(1., 1. + int(np.prod(value_shape))).reshape(value_shape)
        x[index] = v
        return x

    same(run)


def test_setitem_value_with_leading_size_one_dims_gets_its_gradient():
    def run(T):
        a = T.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)
        v = T.tensor([[7., 8., 9.]], requires_grad=True)
        x = a * 2
        x[0] = v
        x[1, 2] = v[:, :1]
        (x * T.arange(6.).reshape(2, 3)).sum().backward()
        return x, a.grad, v.grad

    same(run)


def test_setitem_value_with_more_dims_that_are_not_one_is_refused():
    def run(T):
        x = T.zeros(2, 3)
        x[0] = T.ones(2, 3)

    assert outcome(run, ndgrad)[0] == outcome(run, torch)[0] == "RuntimeError"
