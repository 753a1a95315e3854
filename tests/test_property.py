"""Property test: binary ops on random broadcastable shape pairs match PyTorch, values and grads.

Hypothesis draws two mutually broadcastable shapes (0-d, size-1 and size-0 dims included) and a
dtype; both libraries get the same inputs, and check_op compares the output, the gradients of a
non-uniform loss, and (float64) the double backward.
"""

import numpy as np
import pytest
from helpers import check_op
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

OPS = {
    "add": (lambda x, y: x + y, {}),
    "sub": (lambda x, y: x - y, {}),
    "mul": (lambda x, y: x * y, {}),
    "div": (lambda x, y: x / y, dict(low=0.5, high=2.0)),  # keep the divisor away from 0
    "maximum": (lambda lib, x, y: lib.maximum(x, y), {}),
    "minimum": (lambda lib, x, y: lib.minimum(x, y), {}),
    "pow": (lambda x, y: x ** y, dict(low=0.5, high=2.0)),  # positive base
}

shape_pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0,
                                            max_side=3)


@pytest.mark.parametrize("name", list(OPS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes=shape_pairs, dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16), swap=st.booleans())
def test_binary_op_matches_torch(name, shapes, dtype, seed, swap):
    fn, bounds = OPS[name]
    a, b = shapes.input_shapes
    pair = [b, a] if swap else [a, b]
    check_op(pair, fn, dtypes=(dtype,), seed=seed, **bounds)


@settings(max_examples=30, deadline=None)
@given(shapes=shape_pairs, seed=st.integers(0, 2**16), scalar=st.floats(-3, 3, width=32))
def test_ops_with_python_scalar(shapes, seed, scalar):
    shape = shapes.input_shapes[0]
    check_op([shape], lambda x: (x * scalar - scalar) / 3.0 + x ** 2, seed=seed)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@settings(max_examples=30, deadline=None)
@given(shapes=shape_pairs, seed=st.integers(0, 2**16))
def test_maximum_minimum_ties(name, shapes, seed):
    # values on a coarse grid so that many pairs tie: torch splits the gradient evenly there
    rng = np.random.default_rng(seed)
    a, b = (np.asarray(np.round(rng.uniform(-1, 1, s) * 2) / 2) for s in shapes.input_shapes)
    fn, _ = OPS[name]
    check_op([a, b], fn, dtypes=(np.float64,))
