# %% [markdown]
# # 4. Broadcasting in ndgrad, and why its gradients are sums
#
# Chapter 3 built a tensor engine and met broadcasting on the way. This chapter moves to ndgrad's
# own `Tensor`, which holds a whole NumPy array and makes one graph node per operation on it, as
# `ndgrad.mini` does. Everything from chapters 1 and 2 carries over: each op knows its local
# derivative, `backward()` walks the graph in reverse topological order, and gradients add where a
# value is used more than once. The one new idea is still *broadcasting*, and its gradient is
# chapter 1's `x + x` in disguise: this chapter checks that claim against the scalar engine and
# finds the place in ndgrad's engine where the sum happens.
#
# ## The same engine, one array at a time
#
# `import ndgrad as torch` is meant to work: ndgrad has PyTorch's API. A tensor that
# `requires_grad` is a leaf whose `.grad` is filled in by `backward()`; the result of an op has a
# `grad_fn`, the graph node that will compute its backward.

# %%
import numpy as np

import ndgrad

x = ndgrad.tensor([[0.5, -1.0, 2.0]], requires_grad=True)  # shape (1, 3)
y = (x * x).tanh().sum()
assert y.grad_fn.name() == "SumBackward"
assert y.grad_fn.next_functions[0][0].name() == "TanhBackward"
y.backward()

t = np.tanh(x.detach().numpy() ** 2)
assert np.allclose(x.grad.numpy(), (1 - t**2) * 2 * x.detach().numpy())  # chain rule, per element

# %% [markdown]
# An elementwise op on tensors is the scalar op applied to every element, and its gradient is the
# scalar gradient applied to every element. The Value graph for `y` would have had a node per
# element per op; the tensor graph has three nodes, whatever the size of `x`.
#
# `ndgrad.viz.draw_graph` draws tensor graphs too. A tensor's graph is made of its `grad_fn` nodes,
# as in PyTorch, so the picture has an oval per op (named after ndgrad's op, `MatMulBackward`;
# PyTorch's names differ in detail, such as `MmBackward0` for a matrix product), a box
# per leaf that requires grad, and a box for the result. Here is a linear layer with a ReLU and a
# mean-squared loss:

# %%
from ndgrad.viz import draw_graph

inputs = ndgrad.randn(3, 4)  # needs no gradient, so it is not part of the graph
W = ndgrad.randn(4, 2, requires_grad=True)
bias = ndgrad.zeros(2, requires_grad=True)
loss = ((inputs @ W + bias).relu() ** 2).mean()

dot = draw_graph(loss, params={"W": W, "b": bias})  # params names the leaves
assert "{ W | (4, 2) | float32 | requires_grad=True }" in dot.source
assert all(op in dot.source for op in ("MatMulBackward", "AddBackward", "ReluBackward"))

# %% [markdown]
# ![the graph of ((inputs @ W + b).relu() ** 2).mean()](images/tensor-graph.svg)
#
# ## Broadcasting
#
# Adding a bias to every row of a batch is `(batch, features) + (features,)`. NumPy and PyTorch
# make that work by *broadcasting*: line the shapes up from the right; a dimension of size 1 (or a
# missing one) is stretched to match the other operand, as if the data were repeated along it.

# %%
x = ndgrad.randn(3, 4, requires_grad=True)  # a batch of 3 rows with 4 features
b = ndgrad.zeros(4, requires_grad=True)  # one bias per feature
y = x + b  # b is used once for every row: (3, 4) + (4,) -> (3, 4)
assert y.shape == (3, 4)
assert ndgrad.broadcast_shapes((3, 1, 5), (4, 1)) == (3, 4, 5)

# %% [markdown]
# ## Why the gradient of a broadcast is a sum
#
# Each `b[j]` was used three times, once per row. In chapter 1, a Value used twice got the sum of
# the gradients from both uses (`x + x` gives 2). A broadcast input is the same: its gradient is the
# sum, over the broadcast dimension, of the gradients of all its copies. We can check that by
# building the same computation out of Values, where the "copies" are literally the same Value used
# in three places:

# %%
from ndgrad import Value

xs = x.detach().numpy()
row_weights = np.array([[1.0], [2.0], [3.0]])  # so that the rows' gradients differ

# the tensor version: loss = sum over (i, j) of row_weights[i] * (x[i, j] + b[j])**2
loss = ((x + b) ** 2 * ndgrad.tensor(row_weights)).sum()
loss.backward()
assert b.grad.shape == b.shape  # the gradient has b's shape, (4,), not the output's (3, 4)

# the scalar version: 12 Values for x, 4 for b, and each b[j] used in 3 places
bv = [Value(0.0) for _ in range(4)]
xv = [[Value(float(xs[i, j])) for j in range(4)] for i in range(3)]
loss_v = sum(float(row_weights[i, 0]) * (xv[i][j] + bv[j]) ** 2
             for i in range(3) for j in range(4))
loss_v.backward()

assert np.allclose([v.grad for v in bv], b.grad.numpy())
# and by hand: the gradient reaching y = x + b, summed over the rows that b was broadcast along
dy = 2 * (xs + b.detach().numpy()) * row_weights
assert np.allclose(b.grad.numpy(), dy.sum(axis=0))

# %% [markdown]
# A size-1 dimension works the same way, except that the sum keeps that dimension (`keepdim`):

# %%
col = ndgrad.randn(3, 1, requires_grad=True)
row = ndgrad.randn(1, 4, requires_grad=True)
out = col * row  # (3, 1) * (1, 4) -> (3, 4): an outer product
weights = ndgrad.randn(3, 4)
(out * weights).sum().backward()

# d out[i, j] / d col[i, 0] = row[0, j]; sum over j, the dimension col was stretched along
expected_col = (weights.numpy() * row.detach().numpy()).sum(axis=1, keepdims=True)
expected_row = (weights.numpy() * col.detach().numpy()).sum(axis=0, keepdims=True)
assert col.grad.shape == (3, 1) and np.allclose(col.grad.numpy(), expected_col)
assert row.grad.shape == (1, 4) and np.allclose(row.grad.numpy(), expected_row)

# %% [markdown]
# ## Where the sum happens: once, in the engine
#
# Look at `Add` in `ndgrad/ops/elementwise.py`: its backward is `return grad, grad`. It does not
# know about broadcasting at all, and neither does any other op. Instead, the engine remembers the
# shape each input had in forward, and when an op's backward returns a gradient of a bigger
# (broadcast) shape, the engine sums it down to the input's shape before passing it on. That is
# `_to_input` in `ndgrad/autograd/engine.py`, which calls `sum_to` in `ndgrad/_helpers.py` (the
# same function `Tensor.sum_to_size` uses; it works on NumPy arrays and on Tensors alike):

# %%
g = ndgrad.ones(2, 3, 4)
assert g.sum_to_size(3, 1).shape == (3, 1)  # summed over dim 0 (missing) and dim 2 (size 1)
assert (g.sum_to_size(3, 1) == 8).all()  # each entry collects 2 * 4 gradients

from ndgrad._helpers import sum_to

assert sum_to(g, (4,)).shape == (4,)  # summed over the two leading dims
assert sum_to(g.numpy(), (3, 1)).shape == (3, 1)  # the engine usually carries plain arrays

# %% [markdown]
# Doing this once, at the edge between nodes, is why every op in ndgrad can be written as if its
# inputs had the same shape. It is also the mirror image of broadcasting itself: `expand` repeats a
# tensor along dimensions, and its backward (the `Expand` op in `ndgrad/ops/shape.py`) is a sum
# along those dimensions; `sum` reduces along dimensions, and its backward repeats the gradient
# along them. Each is the other's gradient.

# %%
v = ndgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
v.expand(5, 3).sum().backward()  # v repeated 5 times
assert v.grad.tolist() == [5.0, 5.0, 5.0]  # so each element's gradient is summed 5 times

# %% [markdown]
# ## Where this lives in ndgrad
#
# - `ndgrad/autograd/engine.py::run_backward`: the same reverse walk as `Value.backward`, over
#   `grad_fn` nodes, with gradients kept in a dict until they are used. It needs no separate
#   topological sort: nodes are numbered as they are made (`Node._seq`), an op's inputs always
#   exist before it, so running the newest node first is already a topological order.
# - `ndgrad/autograd/engine.py::_to_input`: undoing broadcasting at every edge.
# - `ndgrad/_helpers.py::sum_to`: the sum itself, also behind `Tensor.sum_to_size`.
# - `ndgrad/ops/elementwise.py::Add`: an op that never thinks about broadcasting.
# - `ndgrad/ops/shape.py::Expand` and `ndgrad/ops/reduce.py::Sum`: each other's gradients.
# - `ndgrad/autograd/function.py::Function.apply`: runs an op's forward and records the node with
#   its edges (`Node._edges`: for each input, the node that made it and the input's shape and
#   dtype; `next_functions` shows them as PyTorch does).
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises`; the solution is in
# [solutions/04_broadcasting.py](solutions/04_broadcasting.py). Try first.
#
# 1. **Sum's backward is an expand.** With NumPy only, write `sum_backward(grad, shape, dim,
#    keepdim)`: the gradient of `x.sum(dim, keepdim)` for an `x` of `shape`, given the gradient
#    of the result. `dim` may be a tuple, or negative. Check it with
#    `check_sum_backward(sum_backward)`, which compares with PyTorch.
#
# Next: [5. Matmul's gradient and its two transposes](05-matmul.md).
