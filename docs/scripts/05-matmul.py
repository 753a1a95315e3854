# %% [markdown]
# # 5. Matmul's gradient and its two transposes
#
# A linear layer computes `y = x @ W.T + b` (PyTorch keeps `W` as an `(out, in)` matrix, so the
# product uses its transpose), and most of the arithmetic in a neural network is matrix
# multiplication. Its gradient is short enough to remember and worth deriving once by hand: for
# `Y = X @ W` with upstream gradient `G = dL/dY`,
#
#     dL/dX = G @ W.T        dL/dW = X.T @ G
#
# The two transposes are not decoration: they are the only way to make the shapes work.
#
# ## Deriving it, one element at a time
#
# Write the product out: `Y[i, j] = sum over k of X[i, k] * W[k, j]`. Each `X[i, k]` appears in
# every entry of row `i` of `Y`, multiplied by `W[k, j]`. By chapter 1, a number used in several
# places gets the sum of its gradients from every use, so
#
#     dL/dX[i, k] = sum over j of G[i, j] * W[k, j] = (G @ W.T)[i, k]
#
# and in the same way each `W[k, j]` appears in every entry of column `j`, multiplied by `X[i, k]`:
#
#     dL/dW[k, j] = sum over i of X[i, k] * G[i, j] = (X.T @ G)[k, j]
#
# There is a shortcut for remembering which is which. `X` is `(n, k)`, `W` is `(k, m)` and `G` has
# `Y`'s shape `(n, m)`. The gradient of `X` must have `X`'s shape `(n, k)`, and the only way to
# multiply `G` with `W` into an `(n, k)` matrix is `G @ W.T`. Likewise `(k, m)` from `X` and `G`
# can only be `X.T @ G`.
#
# ![the shapes of Y = X @ W, dL/dX = G @ W.T and dL/dW = X.T @ G](images/matmul-shapes.svg)
#
# ## Checking it

# %%
import numpy as np

import ndgrad

ndgrad.manual_seed(0)
X = ndgrad.randn(5, 3, dtype=ndgrad.float64, requires_grad=True)  # (n, k)
W = ndgrad.randn(3, 4, dtype=ndgrad.float64, requires_grad=True)  # (k, m)
G = ndgrad.randn(5, 4, dtype=ndgrad.float64)  # an upstream gradient with Y's shape (n, m)

Y = X @ W
Y.backward(G)  # backpropagate G, as if some loss had produced it

x, w, g = X.detach().numpy(), W.detach().numpy(), G.numpy()
assert np.allclose(X.grad.numpy(), g @ w.T)
assert np.allclose(W.grad.numpy(), x.T @ g)

# %% [markdown]
# The same gradients, built from scalars: each entry of `Y` is a sum of products of Values, and
# `backward()` knows nothing about matrices.

# %%
from ndgrad import Value

Xv = [[Value(float(x[i, k])) for k in range(3)] for i in range(5)]
Wv = [[Value(float(w[k, j])) for j in range(4)] for k in range(3)]
Yv = [[sum(Xv[i][k] * Wv[k][j] for k in range(3)) for j in range(4)] for i in range(5)]
loss = sum(float(g[i, j]) * Yv[i][j] for i in range(5) for j in range(4))  # dL/dY = G
loss.backward()

assert np.allclose([[v.grad for v in row] for row in Xv], g @ w.T, rtol=1e-12)
assert np.allclose([[v.grad for v in row] for row in Wv], x.T @ g, rtol=1e-12)

# %% [markdown]
# ## Why matmul is a primitive
#
# Matmul could be a composite of ops we already have: broadcast `X` to `(n, k, 1)` and `W` to
# `(1, k, m)`, multiply elementwise to `(n, k, m)`, and sum over `k`. The engine would then derive
# its gradient by itself, and it would be the same:

# %%
X.grad, W.grad = None, None
composite = (X.unsqueeze(2) * W.unsqueeze(0)).sum(1)  # (n, k, 1) * (1, k, m) -> sum over k
assert np.allclose(composite.detach().numpy(), Y.detach().numpy())
composite.backward(G)
assert np.allclose(X.grad.numpy(), g @ w.T)
assert np.allclose(W.grad.numpy(), x.T @ g)

# %% [markdown]
# But it materializes an `(n, k, m)` temporary, and its backward is again a broadcast multiply and a
# sum. For a batch of 256 images through a 784-to-512 layer that is 100 million numbers per step,
# where `np.matmul` makes one call into an optimized BLAS library and touches only the inputs and
# outputs. So `MatMul` is one of the few ops that earns a place as a *primitive*, with a forward of
# one `np.matmul` call and a backward of exactly the two lines derived above. Its backward uses
# `.mT` (transpose the last two dims) rather than `.T`, so that it also works for batches.
#
# ## Batches, and where broadcasting comes back
#
# `torch.matmul` multiplies stacks of matrices: `(B, n, k) @ (k, m)` treats `W` as broadcast over
# the batch dimension. By chapter 4, `W`'s gradient must then be summed over that dimension. The
# `MatMul` backward does not do that itself: it returns `X.mT @ G`, of shape `(B, k, m)`, and the
# engine's `_to_input` sums it down to `W`'s `(k, m)`:

# %%
Xb = ndgrad.randn(2, 5, 3, dtype=ndgrad.float64, requires_grad=True)  # a batch of 2
W.grad = None
Gb = ndgrad.randn(2, 5, 4, dtype=ndgrad.float64)
(Xb @ W).backward(Gb)

xb, gb = Xb.detach().numpy(), Gb.numpy()
assert W.grad.shape == (3, 4)
assert np.allclose(W.grad.numpy(), xb[0].T @ gb[0] + xb[1].T @ gb[1])  # summed over the batch
assert np.allclose(Xb.grad.numpy(), gb @ w.T)

# %% [markdown]
# Matrix-vector products need no extra code either: `Tensor.matmul` turns a 1-D operand into a
# one-row or one-column matrix with `unsqueeze`, calls `MatMul`, and removes the added dimension
# with `squeeze`, and those shape ops carry the gradient back through the same reshapes.

# %%
v = ndgrad.randn(3, dtype=ndgrad.float64, requires_grad=True)
(W.T @ v).sum().backward()  # (4, 3) @ (3,) -> (4,)
assert np.allclose(v.grad.numpy(), w @ np.ones(4))  # d/dv of sum(W.T v) is W @ 1

# %% [markdown]
# ## `nn.Linear`: the transpose, and one fused op
#
# `nn.Linear(in_features, out_features)` stores its weight as `(out_features, in_features)`, one
# row per output, and computes `x @ W.T + b`. Its gradients follow from the two rules above with
# `W.T` in place of `W`: `dL/dx = G @ W` and `dL/dW = (x.T @ G).T = G.T @ x`, and the bias,
# broadcast over the batch, gets `G` summed over it (chapter 4). ndgrad does not build this from
# a transpose, a `MatMul` and an add: `F.linear` is one primitive, `Linear` in
# `ndgrad/ops/nn.py`, whose forward is one `np.matmul` plus the bias and whose backward is those
# three formulas, so a layer adds one node to the graph instead of three:

# %%
layer = ndgrad.nn.Linear(3, 4).double()
x_in = ndgrad.randn(5, 3, dtype=ndgrad.float64, requires_grad=True)
out = layer(x_in)
assert out.grad_fn.name() == "LinearBackward"
out.backward(G)

Wl = layer.weight.detach().numpy()  # (4, 3): (out, in)
assert np.allclose(x_in.grad.numpy(), g @ Wl)
assert np.allclose(layer.weight.grad.numpy(), g.T @ x_in.detach().numpy())
assert np.allclose(layer.bias.grad.numpy(), g.sum(0))

# %% [markdown]
# ## Where this lives in ndgrad
#
# - `ndgrad/ops/nn.py::Linear`: `x @ w.T + b` forward, and its three gradients.
# - `ndgrad/ops/linalg.py::MatMul`: forward is `np.matmul(x, y)`; backward is
#   `grad @ y.mT, x.mT @ grad`.
# - `ndgrad/tensor/linalg.py::LinalgMixin.matmul`: 1-D operands, shape checks and PyTorch's error messages.
# - `ndgrad/autograd/engine.py::_to_input`: sums the weight gradient over broadcast batch dims.
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises`; the solution is in
# [solutions/05_matmul.py](solutions/05_matmul.py). Try first.
#
# 1. **A linear layer's backward.** With NumPy only, write `linear_backward(x, W, b, grad)`
#    returning `(dx, dW, db)` for `y = x @ W.T + b`, with `x` of shape `(N, in)`, `W` of shape
#    `(out, in)` and `grad = dL/dy`. Check it with `check_linear_backward(linear_backward)`,
#    which compares with PyTorch's `F.linear`.
#
# Next: [6. The backward of shape ops, max and mean](06-shape-ops.md).
