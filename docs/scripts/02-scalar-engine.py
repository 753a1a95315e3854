# %% [markdown]
# # 2. The scalar engine, and training a tiny network
#
# Chapter 1 used `Value` as a black box. This chapter opens it: how an operation records itself,
# how `backward()` orders the work, two traps a naive engine falls into, and then a small neural
# network, built from nothing but Values, trained by gradient descent.
#
# `Value` follows the API of Andrej Karpathy's [micrograd](https://github.com/karpathy/micrograd),
# so his lessons run on ndgrad unchanged. Keep `ndgrad/scalar.py` open beside this page.
#
# ## An operation is a result plus local derivatives
#
# Each method of `Value` computes its result and, right away, the derivative of that result with
# respect to each input. `tanh`, for example, returns `t = tanh(x)` with the local derivative
# `1 - t*t`. Nothing else is needed: subtraction, negation and division are *composites*, built
# from `+`, `*` and `**`, so they get their derivatives for free:

# %%
from ndgrad import Value

a, b = Value(6.0), Value(4.0)
q = a / b  # is a * b**-1: two recorded ops
assert q._op == "*"
assert q._prev[1]._op == "**-1"
q.backward()
assert a.grad == 1 / 4 and b.grad == -6 / 4**2

# %% [markdown]
# You can add your own operation in micrograd's style: make the output Value with its inputs and
# give it a `_backward` function that applies the chain rule. Here is `sin`:

# %%
import math


def sin(x: Value) -> Value:
    out = Value(math.sin(x.data), (x,), "sin")
    def _backward():
        x.grad += math.cos(x.data) * out.grad  # local derivative times the incoming gradient
    out._backward = _backward
    return out


x = Value(0.3)
y = sin(x * 2)
y.backward()
assert abs(x.grad - 2 * math.cos(0.6)) < 1e-15

# %% [markdown]
# ## Backward: an order, then the chain rule
#
# `Value.backward()` does three things:
#
# 1. **Put the graph in topological order**: every Value after all the Values it was computed
#    from. `_topological_order()` does a depth-first walk with an explicit stack. The textbook
#    version is recursive and dies with `RecursionError` on a graph deeper than Python's recursion
#    limit (`sys.getrecursionlimit()`, 1,000 by default); a language model's graph is far deeper
#    than that.
# 2. **Set the output's gradient to 1** (`dy/dy = 1`) and the gradient of every interior Value to 0.
# 3. **Walk the order backwards**, calling `_backward()` on each Value, which adds
#    `local * out.grad` to each of its inputs' `.grad`.

# %%
x = Value(0.5)
y = x
for _ in range(10_000):  # 20,000 ops deep
    y = y * 0.9999 + 0.001

y.backward()
assert abs(x.grad - 0.9999**10_000) < 1e-12

order = y._topological_order()
assert len(order) == 1 + 4 * 10_000  # x, then per step: two constants and two results
position = {v: i for i, v in enumerate(order)}
assert all(position[child] < position[v] for v in order for child in v._prev)
assert order[-1] is y

# %% [markdown]
# ### The trap of the second backward
#
# Leaves (Values that no op made: inputs and weights) *accumulate* gradients across calls, as in
# PyTorch, which is why training loops zero them before each backward. But what about the interior
# Values? If they also kept last call's gradient, the second call would start from a stale value
# and pass it on again. micrograd has exactly this problem: `zero_grad()` only zeroes the
# parameters, so calling `backward()` twice on the same graph over-counts. ndgrad resets interior
# gradients at the start of every `backward()` (step 2 above), so zeroing the leaves is enough:

# %%
w = Value(-0.7)
hidden = (w * 2.0).tanh()
loss = hidden * hidden + hidden

loss.backward()
first = w.grad
w.grad = 0.0  # zero the leaf only, as zero_grad() does
loss.backward()
assert w.grad == first  # same answer; interior `hidden` did not carry the old gradient over

loss.backward()  # without zeroing, the leaf accumulates
assert w.grad == 2 * first

# %% [markdown]
# PyTorch's leaves accumulate in the same way, but PyTorch (and ndgrad's tensor engine) would not
# have run that second `backward()` at all: they free the graph's saved values after the first
# one, and a second call on the same graph raises an error unless the first asked to keep them
# with `retain_graph=True` (chapter 13). `Value` keeps its tiny graph, so calling twice is allowed.
#
# ## Pictures of the graph
#
# `ndgrad.viz.draw_graph` turns a graph into a [Graphviz](https://graphviz.org) drawing: a box per
# Value (its label, data and grad) and an oval per op, with arrows in the direction of the forward
# pass. It returns a `graphviz.Digraph` (install the Python package with `pip install graphviz`).
# Its `.source` is the DOT text; to get a picture, install the `dot` program
# (`apt-get install graphviz` or `brew install graphviz`) and call `.render("neuron")`, or just
# display the object in Jupyter.

# %%
from ndgrad.viz import draw_graph

x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
n = x1 * w1 + x2 * w2 + b
n.label = "n"
o = n.tanh()
o.label = "o"
o.backward()

dot = draw_graph(o)
assert "{ o | data 0.7071 | grad 1 }" in dot.source
assert "{ w1 | data -3 | grad 1 }" in dot.source  # do/dw1 = (1 - o**2) * x1 = 0.5 * 2
assert "tanh" in dot.source

# %% [markdown]
# ![the neuron o = tanh(x1*w1 + x2*w2 + b)](images/neuron.svg)
#
# ## A tiny neural network
#
# `ndgrad/scalar.py` also has micrograd's small neural network library, about 70 lines on top of
# `Value`:
#
# - `Neuron(nin)` holds `nin` weights (random in [-1, 1]) and a bias, and computes
#   `relu(w . x + b)`, or just `w . x + b` with `nonlin=False`;
# - `Layer(nin, nout)` is `nout` neurons that see the same inputs;
# - `MLP(nin, [sizes...])` stacks layers, with ReLU between them and a linear last layer;
# - all three have `parameters()` (the list of weight and bias Values) and `zero_grad()`.
#
# The whole of training is five lines in a loop: forward, zero the gradients, backward, and two
# lines that move every parameter a little *against* its gradient, which lowers the loss.

# %%
import random

from ndgrad.scalar import MLP

random.seed(0)
model = MLP(3, [4, 4, 1])
assert len(model.parameters()) == 4 * (3 + 1) + 4 * (4 + 1) + 1 * (4 + 1)  # 41

xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]  # the targets

for step in range(200):
    loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys)) / len(xs)  # mean squared error
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= 0.05 * p.grad  # gradient descent with learning rate 0.05
    if step == 0:
        first_loss = loss.data

print(f"loss {first_loss:.3f} -> {loss.data:.4f}")
assert first_loss > 0.5 and loss.data < 0.05
assert all((model(x).data > 0) == (y > 0) for x, y in zip(xs, ys))  # every sign is right
assert len(loss._topological_order()) == 405

# %% [markdown]
# Each step builds a graph of 405 Values (the last line counts them) and throws it away. That is
# exactly what PyTorch does too, only with tensors: one node per operation on a whole array instead
# of one per number. Chapter 3 makes that jump.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/scalar.py::Value._topological_order`: the iterative depth-first walk.
# - `ndgrad/scalar.py::Value.backward`: reset interior gradients, seed the output with 1, walk back.
# - `ndgrad/scalar.py::Value.tanh`, `ndgrad/scalar.py::Value.sigmoid`: ops whose local
#   derivative reuses their own output.
# - `ndgrad/scalar.py::Neuron`, `ndgrad/scalar.py::Layer`, `ndgrad/scalar.py::MLP`: the network.
# - `ndgrad/viz.py::draw_graph`: the drawings.
#
# ## Exercises
#
# Checks live in `ndgrad.mini.exercises`; the solution is in
# [solutions/02_scalar_engine.py](solutions/02_scalar_engine.py). Try first.
#
# 1. **`exp` in micrograd's style.** Write `exp(x: Value) -> Value` the way `sin` was written
#    above: an output Value with `(x,)` as its inputs and a `_backward` closure. Check it with
#    `check_value_exp(exp)`, which uses it inside a bigger expression (so a closure that forgets
#    `out.grad` fails) and compares with the derivative worked out by hand.
#
# Next: [3. A tensor engine from scratch](03-tensor-engine.md).
