# %% [markdown]
# # 1. Derivatives and the chain rule, on one number
#
# Training a neural network means asking, for every number that we are allowed to change, "if I
# nudge this a little, how much does the loss move?" That question is a derivative. This chapter
# computes derivatives two ways, by nudging and by the chain rule, and shows that `ndgrad.Value`
# does the second automatically.
#
# Every code block in this chapter runs, in order, as part of ndgrad's test suite
# (`tests/test_docs.py`). Paste them into a Python prompt and follow along.
#
# ## The derivative, measured
#
# The derivative of `f` at `x` is the slope of `f` there: `(f(x + h) - f(x)) / h` as `h` shrinks.
# We cannot make `h` zero on a computer, but we can measure the slope on both sides at once. This
# *central difference* cancels the error that comes from the curvature of `f`, so its error shrinks
# like `h**2` instead of `h`:

# %%
def f(x):
    return 3 * x**2 - 4 * x + 5


def central_difference(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


slope = central_difference(f, 3.0)
# by hand: d/dx (3x^2 - 4x + 5) = 6x - 4, which is 14 at x = 3
assert abs(slope - 14.0) < 1e-8

one_sided = (f(3.0 + 1e-5) - f(3.0)) / 1e-5
assert abs(one_sided - 14.0) > 100 * abs(slope - 14.0)  # the one-sided slope is far worse

# %% [markdown]
# Measuring works for any function, but it costs two evaluations of `f` for every input. A network
# with a million weights would need two million forward passes for one step of training. We need
# something better.
#
# ## The derivative, computed
#
# `ndgrad.Value` wraps one number. Every operation on Values records what it did, and
# `backward()` walks that record backwards to compute the derivative of the result with respect to
# every Value it was computed from. The result lands in `.grad`:

# %%
from ndgrad import Value

x = Value(3.0)
y = f(x)  # the same Python function: Values support +, -, *, /, ** with numbers on either side
assert y.data == 20.0
y.backward()
assert x.grad == 14.0  # exactly 6 * 3 - 4, with no h anywhere

# %% [markdown]
# ## The chain rule
#
# How did `backward()` know? Each operation knows only its own *local* derivative. For
# `out = a * b` those are `d out / d a = b` and `d out / d b = a`; for `out = tanh(a)` it is
# `1 - tanh(a)**2`. A Value stores its inputs in `_prev` and those local derivatives in
# `_local_grads`:

# %%
a, b = Value(2.0), Value(-3.0)
c = a * b
assert c._op == "*"
assert c._prev == (a, b)
assert c._local_grads == (-3.0, 2.0)  # (b, a)

# %% [markdown]
# Composed operations multiply their local derivatives: that is the chain rule. For a single
# neuron `y = tanh(w * x + b)`, the derivative with respect to `w` is
#
#     dy/dw = dy/dz * dz/dw = (1 - tanh(z)**2) * x,   where z = w * x + b
#
# %%
import math

w, x, b = Value(0.5), Value(-1.5), Value(0.25)
z = w * x + b
y = z.tanh()
y.backward()

t = math.tanh(z.data)
assert abs(w.grad - (1 - t**2) * x.data) < 1e-15
assert abs(x.grad - (1 - t**2) * w.data) < 1e-15
assert abs(b.grad - (1 - t**2)) < 1e-15
assert z.grad == 1 - t**2  # interior Values get their gradient too

# %% [markdown]
# `backward()` visits the Values from `y` back to the inputs, and at each one passes its gradient
# on: `input.grad += local_grad * out.grad`. Because it goes in reverse order, `out.grad` is
# complete (it already holds every path from `y` to `out`) by the time it is passed on.
#
# ## When a value is used twice, gradients add
#
# Why `+=` and not `=`? When `x` feeds into `y` along two paths, nudging `x` moves `y` along both,
# and the two effects add up. The simplest case is `x + x`, whose derivative is 2:

# %%
x = Value(3.0)
(x + x).backward()
assert x.grad == 2.0

x = Value(3.0)
y = x * x + x  # two paths through x * x, and one more through + x: dy/dx = 2x + 1
y.backward()
assert x.grad == 7.0


# %% [markdown]
# ## Checking the engine against the measurement
#
# The central difference is slow but needs no cleverness, which makes it the perfect referee for
# the fast method. Here is a function that uses every kind of operation, with its gradient checked
# both ways. (Chapter 11 does the same for tensors with `ndgrad.autograd.gradcheck`.)

# %%
def g(x, y):
    return ((x * y).tanh() + (x / y).exp() - (y**2 + 1).log()) * x.sigmoid() - (2 - x).relu()


x, y = Value(0.6), Value(-1.4)
g(x, y).backward()

dx = central_difference(lambda v: g(Value(v), Value(-1.4)).data, 0.6)
dy = central_difference(lambda v: g(Value(0.6), Value(v)).data, -1.4)
assert abs(x.grad - dx) < 1e-8
assert abs(y.grad - dy) < 1e-8

# %% [markdown]
# One `backward()` gave both derivatives for the price of about one more forward pass. That is
# reverse-mode automatic differentiation, also called backpropagation: the cost of all the
# derivatives of one output is a small constant times the cost of computing the output, however
# many inputs there are.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/scalar.py::Value`: the whole scalar engine, in one short class. Read it now.
# - `ndgrad/scalar.py::Value.__mul__`: an op computes its result and its local derivatives.
# - `ndgrad/scalar.py::Value._backward`: the chain rule for one op, `child.grad += local * self.grad`.
# - `ndgrad/scalar.py::Value.backward`: the walk over the whole graph, in reverse order.
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises` (`from ndgrad.mini.exercises import check_value_tanh`);
# the solution is in [solutions/01_derivatives.py](solutions/01_derivatives.py). Try first.
#
# 1. **A derivative for free.** `Value` has `tanh`, but write your own `tanh(x)` using only
#    `exp`, `+`, `-`, `*` and `/` on Values: `tanh(x) = (e^2x - 1) / (e^2x + 1)`. You write no
#    derivative, and `backward()` still finds one. Check it with `check_value_tanh(tanh)`, which
#    compares value and slope with `math.tanh` at four points.
#
# Next: [2. The scalar engine, and training a tiny network](02-scalar-engine.md).
