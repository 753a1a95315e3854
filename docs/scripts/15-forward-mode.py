# %% [markdown]
# # 15. Forward mode and reverse mode
#
# Everything so far was *reverse mode*: run the function forward, then walk the graph backward
# from the output. There is a second way to apply the chain rule, *forward mode*, which carries
# derivatives along with the values in the forward pass and needs no graph at all. Which one to
# use depends on the shape of the Jacobian, and seeing why explains why every deep-learning
# framework is built around reverse mode.
#
# ## Two products with the Jacobian
#
# For `f` from `n` inputs to `m` outputs, the Jacobian `J` is `m x n`: `J[i, j] = d f_i / d x_j`.
# Neither mode builds `J`. Each computes a product with it:
#
# - Reverse mode computes `u^T J` for a vector `u` of the outputs' size, a *vector-Jacobian
#   product* (VJP). `y.backward(u)` is exactly that: `x.grad = u^T J`. With one output (a loss)
#   and `u = 1`, that is the whole gradient, in one backward pass, however many inputs there are.
# - Forward mode computes `J v` for a vector `v` of the inputs' size, a *Jacobian-vector
#   product* (JVP): how all outputs move when the inputs move along `v`. One pass gives one
#   column of `J` (with `v` a unit vector), for all outputs at once.
#
# So a full Jacobian costs `m` reverse passes (one per row) or `n` forward passes (one per
# column). A loss has `m = 1` and `n` in the millions: reverse mode wins by a factor of millions.
#
# ## Forward mode with dual numbers
#
# A dual number is `a + b*eps` with the rule `eps**2 = 0`. Then
# `f(a + b*eps) = f(a) + f'(a) b eps` for any smooth `f` (a Taylor series whose later terms
# vanish), so computing with dual numbers carries the derivative along in the `eps` part:

# %%
import math

import numpy as np

import ndgrad


class Dual:
    """value + tangent * eps, with eps**2 = 0."""
    def __init__(self, value, tangent=0.0):
        self.value, self.tangent = value, tangent
    def __add__(self, other):
        other = other if isinstance(other, Dual) else Dual(other)
        return Dual(self.value + other.value, self.tangent + other.tangent)
    def __mul__(self, other):  # (a + b eps)(c + d eps) = ac + (ad + bc) eps: the product rule
        other = other if isinstance(other, Dual) else Dual(other)
        return Dual(self.value * other.value,
                    self.value * other.tangent + self.tangent * other.value)
    __radd__, __rmul__ = __add__, __mul__
    def exp(self):
        e = math.exp(self.value)
        return Dual(e, e * self.tangent)  # the chain rule, applied as we go


def f(x, y):
    return (x * y + 3.0 * x).exp()


out = f(Dual(0.5, 1.0), Dual(-0.2, 0.0))  # tangent 1 on x: d/dx
assert math.isclose(out.value, math.exp(0.5 * -0.2 + 1.5))
assert math.isclose(out.tangent, (-0.2 + 3.0) * out.value)  # df/dx = (y + 3) f


# %% [markdown]
# No graph, no backward pass, and no memory for saved values: each op computes its tangent at once
# and forgets it. That is forward mode's advantage, and why it is used where the input is small
# (a few parameters of a physics simulation, a sensitivity along one direction).
#
# ## Columns or rows of a Jacobian
#
# Take `f` from `R^3` to `R^2`. Three forward passes with the unit vectors give the three columns
# of `J`; two reverse passes (backward with `u = (1, 0)` and `(0, 1)`) give its two rows. Here
# the columns come from the dual numbers above (the end of the chapter does the same with ndgrad's
# tensors):

# %%
def g(x0, x1, x2):
    return [x0 * x1 + x2, (x0 * x2).exp()]


point = [0.3, -1.2, 0.8]
columns = []
for j in range(3):  # forward mode: one pass per input
    duals = [Dual(v, 1.0 if k == j else 0.0) for k, v in enumerate(point)]
    columns.append([o.tangent for o in g(*duals)])

J_forward = np.array(columns).T  # (2 outputs, 3 inputs)

x = ndgrad.tensor(point, dtype=ndgrad.float64, requires_grad=True)
rows = []
for i in range(2):  # reverse mode: one backward per output
    outputs = g(x[0], x[1], x[2])
    outputs[i].backward()
    rows.append(x.grad.numpy().copy())
    x.grad = None

J_reverse = np.array(rows)
assert np.allclose(J_forward, J_reverse)

# %% [markdown]
# ## A JVP from two VJPs
#
# Reverse mode can compute a JVP too, with a trick that needs chapter 14's `create_graph`. The VJP
# `h(u) = u^T J` is linear in `u`, and its gradient with respect to `u`, taken along `v`, is
# `J v`. So: compute `h(u)` for a dummy `u` with `create_graph=True`, then differentiate
# `h(u) . v` with respect to `u`:

# %%
from ndgrad.autograd import grad

x = ndgrad.tensor(point, dtype=ndgrad.float64, requires_grad=True)
v = ndgrad.tensor([1.0, 2.0, -1.0], dtype=ndgrad.float64)
y = ndgrad.stack(g(x[0], x[1], x[2]))  # (2,)
u = ndgrad.zeros(2, dtype=ndgrad.float64, requires_grad=True)  # any value: h is linear in u
(vjp,) = grad(y, x, grad_outputs=u, create_graph=True)  # u^T J, as a function of u
(jvp,) = grad((vjp * v).sum(), u)
assert np.allclose(jvp.numpy(), J_forward @ v.numpy())

# %% [markdown]
# It costs two backward passes where forward mode needs one forward pass, which is why PyTorch
# also has real forward mode (`torch.func.jvp`, `torch.autograd.forward_ad`), built on dual
# tensors like the `Dual` above:

# %%
import torch

def g_torch(t):
    return torch.stack([t[0] * t[1] + t[2], (t[0] * t[2]).exp()])

value, tangent = torch.func.jvp(g_torch, (torch.tensor(point, dtype=torch.float64),),
                                (torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64),))
assert np.allclose(tangent.numpy(), jvp.numpy())

# %% [markdown]
# ndgrad has the same API, `ndgrad.autograd.forward_ad`: each tensor made with `make_dual` carries a
# tangent, and every op computes its output's tangent as it runs. ndgrad gets that tangent from the
# op's own backward formula, with the trick of the section above applied to one op at a time, so
# every op that has a backward has forward mode too:

# %%
import ndgrad.autograd.forward_ad as fwad

with fwad.dual_level():
    xs = [fwad.make_dual(ndgrad.tensor(p, dtype=ndgrad.float64),
                         ndgrad.tensor(t, dtype=ndgrad.float64))
          for p, t in zip(point, [1.0, 2.0, -1.0])]
    out = ndgrad.stack(g(*xs))
    primal, tangent_nd = fwad.unpack_dual(out)

assert np.allclose(tangent_nd.numpy(), tangent.numpy())

# %% [markdown]
# ## Why frameworks are built around reverse mode
#
# Training needs the gradient of one number with respect to every weight: one VJP. Reverse mode's
# price is memory: the forward pass must keep whatever backward needs (chapter 13 shows how ndgrad
# frees it as soon as it can). Forward mode keeps nothing, but would need one pass per weight.
# Second-order methods mix the two: a Hessian-vector product (chapter 14) is forward-over-reverse
# (a backward with `create_graph=True` inside a `dual_level`), or reverse-over-reverse.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/autograd/engine.py::grad`: VJPs, with `grad_outputs` as `u`, and `create_graph` for
#   the double-VJP trick.
# - `ndgrad/scalar.py::Value`: reverse mode on numbers, the counterpart of `Dual` above.
# - `ndgrad/autograd/forward_ad.py`: forward mode on tensors; each op's tangent from its
#   backward formula, op by op.
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises`; the solution is in
# [solutions/15_forward_mode.py](solutions/15_forward_mode.py). Try first.
#
# 1. **A JVP with dual arrays.** Give `Dual` a `sin` method and let `value` and `tangent` be NumPy
#    arrays (nothing else needs to change), then write `jvp(x, v)` returning `(f(x), J v)` for
#    `f(x) = sin(x) * x**2 + x` applied elementwise (write `x**2` as `x * x`). Check it with
#    `check_jvp(jvp)`, which compares with PyTorch's autograd.
#
# Next: [16. Eager and lazy evaluation, and fusion](16-lazy.md).
