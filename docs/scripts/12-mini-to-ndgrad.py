# %% [markdown]
# # 12. From the mini engine to ndgrad
#
# `ndgrad.mini` (chapter 3) and ndgrad compute the same gradients: `tests/test_mini.py` checks the
# first against PyTorch op by op, and the rest of ndgrad's tests check the second. This chapter
# goes through the mini engine part by part and shows each part's full-size counterpart in
# ndgrad, what it does differently, and why. Keep `ndgrad/mini/engine.py` and
# `ndgrad/autograd/engine.py` open side by side.
#
# | `ndgrad.mini` | ndgrad | why ndgrad differs |
# | --- | --- | --- |
# | a closure per op, `_parents` | a node per op (`grad_fn`, a `Function` instance) with an edge per input | a node can be named, inspected, hooked and freed |
# | a topological sort, then a walk | one walk, newest node first, from a heap | no separate pass over the graph |
# | `sum_to` at each edge | the same, at each edge, plus a dtype check | one place for broadcasting, as in mini |
# | `t.grad = ...` at a leaf | an `AccumulateGrad` node per leaf | one place for a leaf's hooks, and one add per backward |
# | closures keep arrays alive | saved values freed after use | memory: a step's activations go as soon as backward is past them |
# | no checks | version counters on every tensor | a value changed in place after it was saved is caught |
# | float64 only | PyTorch's dtypes and promotion | float32 halves memory and speeds up BLAS |
# | composites for everything | a few fused primitives (linear, cross-entropy, conv) | speed and numerical safety |
#
# ## A node per op, and its edges
#
# Where a mini tensor keeps its inputs (`_parents`) and a closure, an ndgrad tensor made by an op
# keeps `grad_fn`, the op's node: an instance of the op's `Function` class, which is also the
# `ctx` that forward saved into (chapter 3's `mini.Function` is the same idea). For each input it
# keeps an *edge*: the node that made that input, and the shape and dtype the input had, which is
# what undoing broadcasting needs. `next_functions` shows the edges as PyTorch does:

# %%
import numpy as np

import ndgrad
from ndgrad import mini

x_np = np.random.default_rng(0).normal(size=(4, 3))
w = ndgrad.randn(3, requires_grad=True)
y = (ndgrad.tensor(x_np) * w).tanh().sum()
assert y.grad_fn.name() == "SumBackward"
tanh_node = y.grad_fn.next_functions[0][0]
mul_node = tanh_node.next_functions[0][0]
assert (tanh_node.name(), mul_node.name()) == ("TanhBackward", "MulBackward")
assert mul_node.next_functions[0] == (None, 0)  # the data needs no gradient: no edge

wm = mini.Tensor(w.detach().numpy(), requires_grad=True)
ym = (mini.Tensor(x_np) * wm).tanh().sum()
assert [t._op for t in ym._topological_order()] == ["", "mul", "tanh", "sum"]  # the same graph

# %% [markdown]
# ## No topological sort: a heap of sequence numbers
#
# The mini engine sorts the whole graph before the walk. ndgrad never sorts. Each node gets a
# *sequence number* when it is made, and an op's inputs always exist before the op, so any node
# that sends a gradient to another was made after it. Running the newest node first is therefore
# a topological order. The engine keeps only the frontier of the walk in a heap ordered by
# sequence number (PyTorch's engine does the same with its `sequence_nr`). Hooks on the
# intermediate tensors show the order, newest first:

# %%
order = []
a = ndgrad.tensor([1.0, 2.0], requires_grad=True)
b = a * 2  # made first
c = b.exp()  # second
d = b * c  # third: uses b directly and through c
for name, t in (("b", b), ("c", c), ("d", d)):
    t.register_hook(lambda grad, name=name: order.append(name))

d.sum().backward()
assert order == ["d", "c", "b"]  # b's gradient is complete only after c's node has run

# %% [markdown]
# ## Broadcasting undone at the edge, as in mini
#
# The mini engine calls `sum_to(parent_grad, parent.shape)` in its walk; ndgrad's walk does the
# same in `_to_input`, using the shape recorded on the edge, and also casts the gradient to the
# input's dtype when they differ. `Add`'s backward is `return grad, grad` in both engines.
#
# ## A leaf's gradient goes through AccumulateGrad
#
# In mini, a leaf is simply a tensor without a closure, and the walk adds to its `.grad`. In
# ndgrad (and PyTorch), the edge from an op to a leaf that requires grad points at an
# `AccumulateGrad` node, one per leaf, shared by every op that uses the leaf. The engine sums what
# reaches it and runs it last, so `.grad` is touched once per backward, after the leaf's hooks:

# %%
w2 = ndgrad.tensor([1.0, 2.0], requires_grad=True)
out = w2 * 3 + w2 * 4  # two uses of one leaf
acc1 = out.grad_fn.next_functions[0][0].next_functions[0][0]
acc2 = out.grad_fn.next_functions[1][0].next_functions[0][0]
assert acc1.name() == "AccumulateGrad" and acc1 is acc2 and acc1.variable is w2
out.sum().backward()
assert w2.grad.tolist() == [7.0, 7.0]

# %% [markdown]
# ## Saved values: freed after use, and checked
#
# A mini closure keeps its arrays for as long as the graph lives. An ndgrad node keeps what
# forward saved (`ctx.save_for_backward`) only until its backward has run, then drops it unless
# `retain_graph=True`; a second backward through it raises (chapter 13). Each saved tensor's
# *version* is recorded too, and compared when backward unpacks it, so an in-place change in
# between raises an error instead of giving a wrong gradient (chapter 13). The mini engine has no
# in-place ops, so it needs neither. Both engines keep the rule that a node never holds its own
# output: a mini closure captures the output's array, an ndgrad node wraps the saved array in a
# fresh tensor when asked for it (chapter 14).
#
# ## Arrays in backward, and the rest
#
# Backward in the mini engine always runs on NumPy arrays. ndgrad's does too, normally; under
# `create_graph=True` the same formulas run on Tensors and are recorded, which gives gradients of
# gradients (chapter 14). The rest of the table is speed and breadth: dtypes with PyTorch's
# promotion rules, fused primitives where a composite would be slow or inaccurate (chapters 5, 7
# and 8), `no_grad` and hooks (chapter 13), and the whole of PyTorch's API for tensors, modules,
# optimizers and data.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/mini/engine.py::Tensor.backward`: the walk this chapter started from.
# - `ndgrad/autograd/engine.py::run_backward`: the walk, with the heap, `retain_graph` and
#   `create_graph`.
# - `ndgrad/autograd/engine.py::_to_input`: broadcasting undone (and dtype cast) at each edge.
# - `ndgrad/autograd/function.py::Node`: edges, the sequence number, hooks.
# - `ndgrad/autograd/function.py::Function.apply`: runs forward and records the node.
# - `ndgrad/autograd/function.py::AccumulateGrad`: a leaf's node.
#
# Next: [13. What real frameworks add](13-real-frameworks.md).
