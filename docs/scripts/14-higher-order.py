# %% [markdown]
# # 14. Higher-order gradients
#
# A gradient is itself a function of the inputs, so it has a gradient too. Second derivatives
# measure curvature: they drive Newton's method, they say how sharp a minimum is, and they appear
# whenever a loss contains a gradient (gradient penalties in GANs, meta-learning such as MAML,
# physics-informed networks). This chapter shows how ndgrad differentiates its own backward pass,
# and how to get Hessian-vector products without ever building a Hessian.
#
# ## Why the scalar engine cannot do this
#
# In `ndgrad/scalar.py`, an op's local derivatives are plain floats computed in forward, and
# `backward()` adds floats into `.grad`. The gradient has no graph behind it, so there is nothing
# to call `backward()` on:

# %%
from ndgrad import Value

x = Value(2.0)
(x**3).backward()
assert x.grad == 12.0 and isinstance(x.grad, float)  # a number: its history is gone

# %% [markdown]
# ## Backward, built from differentiable ops
#
# ndgrad's tensor ops are different. Each `backward` in `ndgrad/ops` is one formula, and almost
# every one can run on two kinds of values. `Mul`'s backward is `grad * y`. With plain NumPy arrays that is one
# NumPy multiply; with Tensors it is a `Mul` again, recorded in the graph. The engine chooses:
#
# - Normally (`create_graph=False`) nothing will differentiate the gradients, so
#   `run_backward` in `ndgrad/autograd/engine.py` passes NumPy arrays, and
#   `ctx.saved_like(grad)` gives arrays too. An op marks that its formula allows this with `array_backward = True`: it
#   uses only what arrays and Tensors share (operators, `.reshape`, `.sum(dims)`, `.mT`) and other
#   primitives' `apply`, which returns arrays when given arrays. This keeps the backward pass fast.
#   The few formulas that call Tensor methods arrays lack (`narrow`, `masked_fill`, `flip`...)
#   set `array_backward = False` and always get Tensors; the code below lists them.
# - With `create_graph=True` the same formula gets Tensors with recording on, so the backward
#   computation is recorded like any forward computation. The gradients it returns have a
#   `grad_fn`, and can be differentiated again:

# %%
import numpy as np

import ndgrad
from ndgrad.autograd import grad

x = ndgrad.tensor(2.0, dtype=ndgrad.float64, requires_grad=True)
y = x**3
(dy,) = grad(y, x, create_graph=True)  # 3 x^2, with a graph behind it
assert dy.item() == 12.0 and dy.grad_fn is not None
(d2y,) = grad(dy, x, create_graph=True)  # 6 x
assert d2y.item() == 12.0
(d3y,) = grad(d2y, x)  # 6
assert d3y.item() == 6.0

from ndgrad.ops.base import Primitive


def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


# linear algebra (ndgrad/ops/solve.py, decomp.py) and z / |z|, arg z (complex.py) are written
# in Tensor ops throughout: their formulas need tril, diagonal, masked_fill, ...
elsewhere = ("ndgrad.ops.solve", "ndgrad.ops.decomp", "ndgrad.ops.complex")
tensor_only = sorted({op.__name__ for op in subclasses(Primitive)
                      if not op.array_backward and op.__module__ not in elsewhere})
assert tensor_only == [
    "Cdist", "Cumprod", "Einsum", "Norm", "Prod", "Sample", "ScatterReduce"]  # others: arrays

# %% [markdown]
# `ndgrad.autograd.grad(outputs, inputs)` returns the gradients instead of adding them to `.grad`,
# which is what you want when the gradient is part of a computation. `y.backward(create_graph=True)`
# also works, and leaves differentiable gradients in `.grad`.
#
# ## Ops that reuse their output
#
# `tanh`'s derivative is written in terms of its own output, `1 - tanh(x)**2`, so its forward
# saves the output. For second derivatives, that saved output must still be connected to the graph
# (its derivative matters), but the node must not hold a reference to its own output, or the graph
# would contain a reference cycle. ndgrad does what PyTorch's saved variables do: the node keeps
# only the output's array (a `SavedOutput` record), and when backward asks for it, `unpack` in
# `ndgrad/autograd/saved.py` wraps it in a fresh Tensor whose `grad_fn` is the node itself.

# %%
t = ndgrad.tensor([0.3, -1.2, 2.0], dtype=ndgrad.float64, requires_grad=True)
(g,) = grad(t.tanh().sum(), t, create_graph=True)  # 1 - tanh^2
(h,) = grad(g.sum(), t)  # d/dt (1 - tanh^2) = -2 tanh (1 - tanh^2)
th = np.tanh(t.detach().numpy())
assert np.allclose(g.detach().numpy(), 1 - th**2)
assert np.allclose(h.numpy(), -2 * th * (1 - th**2))

# %% [markdown]
# ## Hessian-vector products
#
# For a function of `n` parameters, the Hessian `H` (all second derivatives) has `n**2` entries:
# for a network with a million weights, a trillion. But many algorithms only need `H @ v` for some
# vector `v`, and that costs about two backward passes, because
#
#     H @ v = d/dw (grad f(w) . v)
#
# The gradient `g = grad f(w)` is computed with `create_graph=True`; then `g . v` is one number,
# and its gradient with respect to `w` is `H @ v`. Take
# `f(w) = 1/2 w.A w + sum(sin(w))` with a symmetric `A`, whose Hessian is
# `A + diag(-sin(w))`:

# %%
ndgrad.manual_seed(0)
n = 4
M = np.random.default_rng(0).normal(size=(n, n))
A_np = M @ M.T + n * np.eye(n)  # symmetric positive definite
A = ndgrad.tensor(A_np)  # float64, from the NumPy array


def f(w):
    return 0.5 * (w @ A @ w) + w.sin().sum()


def hvp(f, w, v):
    (g,) = grad(f(w), w, create_graph=True)
    (hv,) = grad((g * v).sum(), w)
    return hv


w = ndgrad.randn(n, dtype=ndgrad.float64, requires_grad=True)
v = ndgrad.randn(n, dtype=ndgrad.float64)
H_exact = A_np - np.diag(np.sin(w.detach().numpy()))
assert np.allclose(hvp(f, w, v).numpy(), H_exact @ v.numpy())


# %% [markdown]
# Checking against the measurement again: `H @ v` is the directional derivative of the gradient
# along `v`, so a central difference of two gradients should agree with it:

# %%
def gradient_at(w_np):
    w_ = ndgrad.tensor(w_np, requires_grad=True)
    (g,) = grad(f(w_), w_)
    return g.numpy()


eps = 1e-6
w_np, v_np = w.detach().numpy(), v.numpy()
measured = (gradient_at(w_np + eps * v_np) - gradient_at(w_np - eps * v_np)) / (2 * eps)
assert np.allclose(hvp(f, w, v).numpy(), measured, rtol=1e-6)


# %% [markdown]
# ## Newton's method
#
# With Hessian-vector products we can build the Hessian one column at a time (`H @ e_i` for each
# unit vector `e_i`) when `n` is small, and take Newton steps `w <- w - H^-1 grad f(w)`. Near a
# minimum, Newton's method doubles the number of correct digits at each step, where gradient
# descent only gains a constant fraction:

# %%
def hessian(f, w):
    cols = [hvp(f, w, ndgrad.tensor(np.eye(n)[i])) for i in range(n)]
    return np.stack([c.numpy() for c in cols], axis=1)


H = hessian(f, w)
assert np.allclose(H, H.T) and np.allclose(H, H_exact)

w_newton = ndgrad.zeros(n, dtype=ndgrad.float64, requires_grad=True)
norms = []
for _ in range(5):
    (g,) = grad(f(w_newton), w_newton)
    norms.append(float(np.linalg.norm(g.numpy())))
    step = np.linalg.solve(hessian(f, w_newton), g.numpy())
    w_newton = ndgrad.tensor(w_newton.detach().numpy() - step, requires_grad=True)

print(["%.1e" % x for x in norms])
assert norms[-1] < 1e-12  # converged to machine precision in five steps

# %% [markdown]
# ## Checking second derivatives
#
# `ndgrad.autograd.gradgradcheck(fn, inputs)` checks second derivatives the way `gradcheck`
# (chapter 11) checks first ones: it differentiates the first gradient with backward and compares
# against central differences of the first gradient. Use float64 inputs; float32 differences are
# too noisy for its tolerances.

# %%
from ndgrad.autograd import gradcheck, gradgradcheck

x = ndgrad.randn(3, 2, dtype=ndgrad.float64, requires_grad=True)
y = ndgrad.randn(2, 4, dtype=ndgrad.float64, requires_grad=True)
fn = lambda x, y: ((x @ y).tanh() * x.sigmoid().sum(1, keepdim=True)).exp()  # noqa: E731
assert gradcheck(fn, (x, y))
assert gradgradcheck(fn, (x, y))

# %% [markdown]
# ## Where this lives in ndgrad
#
# - `ndgrad/autograd/engine.py::run_backward`: `create_graph` decides whether backward is recorded.
# - `ndgrad/autograd/engine.py::_execute` (the usual single-output case, inline) and
#   `_call_backward` (the rest): run a backward on arrays, or on Tensors.
# - `ndgrad/autograd/engine.py::grad`: gradients returned, not accumulated.
# - `ndgrad/ops/elementwise.py::Tanh`: a backward that reuses the output, `grad * (1 - out * out)`.
# - `ndgrad/autograd/saved.py::unpack`: the saved output, reconnected to its node.
# - `ndgrad/autograd/gradcheck.py::gradgradcheck`: second derivatives against central differences.
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises`; the solution is in
# [solutions/14_higher_order.py](solutions/14_higher_order.py). Try first.
#
# 1. **The Laplacian.** Write `laplacian(f, x)`, the sum of the second derivatives
#    `d2f/dx_i^2` (the trace of the Hessian) of a scalar function `f` at a 1-D tensor `x`. Summing
#    the whole Hessian is the classic mistake. Check it with `check_laplacian(laplacian)`, which
#    compares with `torch.autograd.functional.hessian`.
#
# Next: [15. Forward mode and reverse mode](15-forward-mode.md).
