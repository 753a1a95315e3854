# %% [markdown]
# # 3. A tensor engine from scratch
#
# Chapter 2's `Value` makes one graph node per number. A network multiplies arrays of a million
# numbers at a time, so a real engine makes one node per operation on a whole array. This chapter
# builds that engine twice: first in about forty lines, to see every moving part, then as
# `ndgrad.mini`, the same design finished (about 500 lines: broadcasting, matmul, convolution,
# modules and optimizers). The rest of the course uses `ndgrad.mini` to explain an idea and then
# shows the same idea in ndgrad itself, which is `ndgrad.mini` made fast and complete.
#
# ## A tensor is an array, its inputs, and a closure
#
# A `Value` stored its local derivatives as numbers. For arrays that would be wasteful (the local
# derivative of an elementwise product is a whole array, of a matrix product a four-dimensional
# one), so each op stores a *closure* instead: a small function that takes the gradient of the
# op's output and returns the gradient of each input. The closure captures whatever it needs from
# the forward pass, here the input arrays.

# %%
import numpy as np


class Tiny:
    """An array, the tensors it was computed from, and how to send a gradient back to them."""
    def __init__(self, data, parents=(), backward_fn=None):
        self.data = np.asarray(data, dtype=float)
        self.grad = None
        self.parents = parents  # the inputs of the op that made this tensor
        self.backward_fn = backward_fn  # gradient of self -> one gradient per parent
    def __add__(self, other):
        return Tiny(self.data + other.data, (self, other), lambda g: (g, g))
    def __mul__(self, other):
        x, y = self.data, other.data  # captured by the closure below
        return Tiny(x * y, (self, other), lambda g: (g * y, g * x))
    def sum(self):
        shape = self.data.shape  # every element contributed once: send g back to each
        return Tiny(self.data.sum(), (self,), lambda g: (np.broadcast_to(g, shape),))



# %% [markdown]
# Backward is chapter 2's walk. Put the tensors in topological order (each after its inputs), then
# go through them in reverse with a dictionary of gradients not yet passed on. When a tensor's turn
# comes, every tensor that used it has already sent its share, so its gradient is complete; a leaf
# (a tensor no op made) keeps it in `.grad`:
#
# ![the graph of (x * w + x).sum() in topological order; backward visits it in reverse](images/topological-order.svg)

# %%
def topological_order(out):
    order, visited = [], set()
    def visit(t):  # recursive for brevity; ndgrad.mini uses an explicit stack, as chapter 2 did
        if t not in visited:
            visited.add(t)
            for parent in t.parents:
                visit(parent)
            order.append(t)
    visit(out)
    return order


def backward(out):
    grads = {out: np.ones_like(out.data)}  # d out / d out = 1
    for t in reversed(topological_order(out)):
        g = grads.pop(t)
        if t.backward_fn is None:  # a leaf
            t.grad = g
            continue
        for parent, parent_grad in zip(t.parents, t.backward_fn(g)):
            grads[parent] = grads[parent] + parent_grad if parent in grads else parent_grad


x = Tiny([1.0, 2.0, 3.0])
w = Tiny([0.5, -1.0, 2.0])
loss = (x * w + x).sum()  # x is used twice: its gradients add
backward(loss)
assert x.grad.tolist() == [1.5, 0.0, 3.0]  # w + 1
assert w.grad.tolist() == [1.0, 2.0, 3.0]  # x

# %% [markdown]
# ## Broadcasting breaks it, once, at the edge
#
# Multiply a batch of rows by one row of weights, `(2, 3) * (3,)`, and NumPy broadcasts the
# weights over the batch. The closure `lambda g: (g * y, g * x)` returns a gradient of the
# output's shape `(2, 3)` for both inputs, and the weights end up with a gradient of the wrong
# shape:

# %%
batch = Tiny([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
weights = Tiny([0.5, -1.0, 2.0])
backward((batch * weights).sum())
assert weights.grad.shape == (2, 3)  # wrong: the weights have shape (3,)


# %% [markdown]
# The weights were used once per row, and a value used twice gets the sum of its gradients
# (chapter 1), so the right gradient is the sum over the rows. In general: sum over the dimensions
# that broadcasting added on the left, and over the dimensions of size 1 that it stretched. Rather
# than teach every op about this, do it once, where a gradient crosses from an op to its input:
#
# ![broadcasting copies b along the rows; backward sums the copies' gradients](images/broadcast-sum.svg)

# %%
def sum_to(grad, shape):
    while grad.ndim > len(shape):  # dims added on the left
        grad = grad.sum(axis=0)
    for dim, size in enumerate(shape):
        if size == 1 and grad.shape[dim] != 1:  # size-1 dims that were stretched
            grad = grad.sum(axis=dim, keepdims=True)
    return grad


def backward(out):
    grads = {out: np.ones_like(out.data)}
    for t in reversed(topological_order(out)):
        g = grads.pop(t)
        if t.backward_fn is None:
            t.grad = g
            continue
        for parent, parent_grad in zip(t.parents, t.backward_fn(g)):
            parent_grad = sum_to(parent_grad, parent.data.shape)  # the only new line
            grads[parent] = grads[parent] + parent_grad if parent in grads else parent_grad


backward((batch * weights).sum())
assert weights.grad.tolist() == [5.0, 7.0, 9.0]  # the rows of batch, summed
assert sum_to(np.ones((4, 2, 3)), (2, 1)).tolist() == [[12.0], [12.0]]

# %% [markdown]
# Chapter 4 shows that ndgrad's engine does exactly this, in exactly this place.
#
# ## `ndgrad.mini`: the same engine, finished
#
# `ndgrad/mini/engine.py` is `Tiny` grown up. Its `Tensor` has `requires_grad` (constants such as
# a batch of images stay out of the graph), more ops, and an iterative topological sort, but the
# same three parts: `data`, `grad`, and an op's inputs with a backward closure. It has PyTorch's
# names, so the same code runs on it and on ndgrad, and the gradients agree:

# %%
import ndgrad
from ndgrad import mini

rng = np.random.default_rng(0)
x_np, w_np = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))


def model(x, w):
    return ((x @ w.T).tanh() * 2.0 + 1.0).sum(1).mean()  # one lambda, two libraries


x, w = mini.Tensor(x_np), mini.Tensor(w_np, requires_grad=True)
out = model(x, w)
out.backward()
assert x.grad is None and w.grad.shape == (5, 3)  # x is a constant

w_real = ndgrad.tensor(w_np, requires_grad=True)
out_real = model(ndgrad.tensor(x_np), w_real)
out_real.backward()
assert np.isclose(out.item(), out_real.item())
assert np.allclose(w.grad, w_real.grad.numpy())


# %% [markdown]
# Everything else in `ndgrad.mini` is built the same way. Composites such as `x - y`
# (`x + (-y)`), `mean` (a `sum` and a multiply), `softmax` and `cross_entropy` are written with
# other ops and need no backward of their own; `tests/test_mini.py` checks every op, forward and
# gradient, against PyTorch.
#
# ## The same closure, written as a class
#
# A closure is convenient but anonymous. PyTorch and ndgrad write each op as a class instead, a
# `Function` with a `forward(ctx, ...)` that computes the result from plain arrays and a
# `backward(ctx, grad)` that returns one gradient per input. `ctx` holds what backward needs: what
# the closure would have captured. `mini.Function.apply` turns the pair back into a closure, so
# the two forms are one idea:

# %%
class Cube(mini.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)  # the closure would have captured x
        return x**3
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad * 3 * x**2

t = mini.Tensor([1.0, -2.0], requires_grad=True)
Cube.apply(t).sum().backward()
assert t.grad.tolist() == [3.0, 12.0]

# %% [markdown]
# Chapter 11 writes the same class for ndgrad with `ndgrad.autograd.Function`, where `apply`
# does more (it records which inputs need gradients, and checks that a saved value was not
# modified in place before backward uses it; chapter 13).
#
# ## No reference cycles
#
# Notice what the closures capture: the input arrays (and for `exp`, the output's *array*), never
# the output tensor itself. If `out`'s closure held `out`, each graph would be a reference cycle,
# freed only when Python's cycle collector next runs. Without one, a graph disappears the moment
# the last tensor that leads to it is gone:

# %%
import weakref

x = mini.Tensor([1.0, 2.0], requires_grad=True)
y = (x * 3.0).exp()
alive = weakref.ref(y)
del y
assert alive() is None  # freed at once, by reference counting

# %% [markdown]
# The same rule governs ndgrad's engine, where forgetting it would keep every activation of every
# training step alive until the collector ran.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/mini/engine.py::Tensor`: data, grad, `_parents`, `_backward`; each op a few lines.
# - `ndgrad/mini/engine.py::Tensor.backward`: the walk, with interior gradients in a dict.
# - `ndgrad/mini/engine.py::Tensor._topological_order`: the same walk as `Value`'s, with a stack.
# - `ndgrad/mini/engine.py::sum_to`: undoing broadcasting, once, at each edge.
# - `ndgrad/mini/engine.py::make`: an op's result joins the graph only if an input needs a
#   gradient.
# - `ndgrad/mini/engine.py::Function`: the class form of a closure, with `ctx`.
#
# ## Exercises
#
# Checks live in `ndgrad.mini.exercises`; solutions are in
# [solutions/03_tensor_engine.py](solutions/03_tensor_engine.py). Try first.
#
# 1. **`tanh` as a Function.** Write `class Tanh(mini.Function)` whose backward uses the saved
#    output (`1 - tanh(x)**2`). Check it with `check_tanh_function(Tanh)`, which compares it
#    with PyTorch's `tanh` and runs `gradcheck` on it.
# 2. **Unbroadcast.** Without looking at `sum_to`, write `unbroadcast(grad, shape)` that sums a
#    NumPy gradient down to `shape`. `check_unbroadcast(unbroadcast)` tries it on the shapes of
#    every broadcast in the test suite, size-1 and size-0 dimensions and scalars included.
#
# Next: [4. Broadcasting in ndgrad, and why its gradients are sums](04-broadcasting.md).
