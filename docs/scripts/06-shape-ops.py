# %% [markdown]
# # 6. The backward of shape ops, indexing, max and mean
#
# Ops that move numbers around without changing them (reshape, permute, indexing) are most of
# what a model's code does between the matmuls, and each needs a backward. The rule for all of
# them is the one from chapter 1: an element's gradient is the sum of the gradients of every
# place it ended up. A reshape or a permute puts each element in exactly one place, so backward
# just moves the gradient back. Indexing can use an element several times, or not at all, so
# backward must add into zeros. Reductions (`mean`, `max`) end the chapter.
#
# ## Reshape and permute: move the gradient back
#
# `reshape` keeps the elements in order and changes only the shape, so its backward reshapes the
# gradient to the input's shape. `permute(dims)` sends input dimension `dims[i]` to output
# position `i`; to undo it, send each dimension back, which is the inverse permutation,
# `np.argsort(dims)`:

# %%
import numpy as np

import ndgrad
from ndgrad import mini

x = mini.Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
g = np.random.default_rng(0).normal(size=(4, 2, 3))
x.permute(2, 0, 1).backward(g)  # (2, 3, 4) -> (4, 2, 3)
assert x.grad.shape == (2, 3, 4)
assert np.array_equal(x.grad, g.transpose(np.argsort((2, 0, 1))))  # the inverse permutation
assert np.array_equal(x.grad, g.transpose(1, 2, 0))  # which is (1, 2, 0) here

# %% [markdown]
# `transpose(a, b)` and `.T` are permutes, `flatten` and `view` are reshapes; none of them needs a
# backward of its own in `ndgrad.mini`, and ndgrad's `Tensor.transpose` and `Tensor.flatten` are
# built on its `Permute` and `Reshape` primitives in the same way.
#
# ## Indexing: add into zeros
#
# `x[index]` picks elements. Its backward starts from zeros of the input's shape and *adds* each
# output gradient to the element it came from. Assignment would be wrong as soon as an index
# repeats, because the repeated element was used twice and must get both gradients:

# %%
x = mini.Tensor([10.0, 20.0, 30.0], requires_grad=True)
picked = x[np.array([0, 2, 0])]  # x[0] is used twice
picked.backward(np.array([1.0, 2.0, 4.0]))
assert x.grad.tolist() == [5.0, 0.0, 2.0]  # x[0] gets 1 + 4; x[1] was not used

wrong = np.zeros(3)
wrong[np.array([0, 2, 0])] = np.array([1.0, 2.0, 4.0])  # assignment: the last write wins
assert wrong.tolist() == [4.0, 0.0, 2.0]
right = np.zeros(3)
np.add.at(right, np.array([0, 2, 0]), np.array([1.0, 2.0, 4.0]))  # mini's getitem backward
assert right.tolist() == x.grad.tolist()

# %% [markdown]
# `torch.gather(x, dim, index)` is indexing along one dimension (for a matrix and `dim=1`,
# `out[i, j] = x[i, index[i, j]]`): it is how cross-entropy picks each row's right class. Its
# backward is the same scatter-add, which PyTorch exposes as `scatter_add`:

# %%
xr = ndgrad.randn(2, 4, dtype=ndgrad.float64, requires_grad=True)
index = ndgrad.tensor([[3, 3, 0], [1, 2, 1]])
out = xr.gather(1, index)
gr = ndgrad.randn(2, 3, dtype=ndgrad.float64)
out.backward(gr)
assert out.grad_fn.name() == "GatherBackward"
expected = ndgrad.zeros(2, 4, dtype=ndgrad.float64).scatter_add(1, index, gr)
assert np.allclose(xr.grad.numpy(), expected.numpy())

# %% [markdown]
# ## Mean spreads, max picks
#
# `mean` is a sum times `1 / n`, so every element gets `g / n`. `amax` (the largest value along a
# dim) is a choice, and its derivative belongs to the element that won: nudge any other element a
# little and the max does not move. When several elements tie, PyTorch's `amax` (and `max()`
# without a dim) split the gradient evenly between them, while `max(dim)` returns an index and
# sends it all to that one element. `ndgrad.mini` follows `amax`:

# %%
x = mini.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
x.amax(dim=1).sum().backward()
assert x.grad.tolist() == [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]

y = mini.Tensor(np.ones((2, 3)), requires_grad=True)
y.mean().backward()
assert np.allclose(y.grad, 1 / 6)

xt = ndgrad.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
xt.amax(dim=1).sum().backward()
assert np.allclose(xt.grad.numpy(), x.grad)  # the same rule in ndgrad
xt.grad = None
values, indices = xt.max(dim=1)
values.sum().backward()
assert indices.tolist() == [1, 0]
assert xt.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]  # all to the returned index

# %% [markdown]
# Both answers are valid subgradients (at a tie, the max has no derivative in the usual sense);
# what matters is that ndgrad gives PyTorch's answer for each, and `tests/test_ops_reduce.py`
# checks it.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/mini/engine.py::Tensor.reshape`, `ndgrad/mini/engine.py::Tensor.permute`,
#   `ndgrad/mini/engine.py::Tensor.__getitem__`, `ndgrad/mini/engine.py::Tensor.amax`: the
#   small versions, a closure each.
# - `ndgrad/ops/shape.py::Reshape`, `ndgrad/ops/shape.py::Permute`: the same two formulas.
# - `ndgrad/ops/index.py::GetItem` and `ndgrad/ops/index.py::IndexAddZeros`: indexing, and its
#   backward as an op of its own (so that it can be differentiated again, chapter 14).
# - `ndgrad/ops/index.py::Gather` and `ndgrad/ops/index.py::ScatterAdd`: each other's gradients.
# - `ndgrad/ops/reduce.py::Amax`: ties share the gradient.
#
# ## Exercises
#
# Checks live in `ndgrad.mini.exercises`; solutions are in
# [solutions/06_shape_ops.py](solutions/06_shape_ops.py). Try first.
#
# 1. **Permute.** Write `permute_backward(grad, dims)` (NumPy arrays in and out) and check it with
#    `check_permute_backward(permute_backward)`, against PyTorch for every permutation of three
#    dims and two of four.
# 2. **Gather.** Write `gather_backward(grad, dim, index, input_shape)` for
#    `torch.gather(x, dim, index)`. The indices repeat. `check_gather_backward(gather_backward)`.
# 3. **Max with ties.** Write `amax_backward(x, grad, dim)`, the gradient of `x.amax(dim)` with
#    ties sharing evenly. `check_amax_backward(amax_backward)` uses small integers, so most rows
#    tie.
#
# Next: [7. Softmax, log-softmax and cross-entropy](07-softmax-cross-entropy.md).
