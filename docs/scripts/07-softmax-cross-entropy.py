# %% [markdown]
# # 7. Softmax, log-softmax and cross-entropy, and why they are fused
#
# A classifier ends with one number per class, the *logits* `z`. Softmax turns them into
# probabilities, `p_i = exp(z_i) / sum_j exp(z_j)`, and the cross-entropy loss is the negative log
# of the probability given to the right class `y`: `-log p_y`. Written out as three separate ops,
# this is both numerically fragile and needlessly slow. ndgrad, like PyTorch, computes it in one
# piece. This chapter shows why, and shows the beautifully simple gradient that falls out.
#
# ## The gradient of cross-entropy is `p - onehot`
#
# Start on paper, with the scalar engine as a referee. Write `L = -log p_y = -z_y + log sum_j
# exp(z_j)`. Then
#
#     dL/dz_i = -[i == y] + exp(z_i) / sum_j exp(z_j) = p_i - [i == y]
#
# The probabilities, minus one at the right class. Every other class is pushed down by its
# probability and the right one pushed up by `1 - p_y`. Chapter 2's engine agrees, without knowing
# anything about softmax:

# %%
from ndgrad import Value

logits = [Value(2.0), Value(1.0), Value(-1.0)]
y = 0  # the right class
exps = [z.exp() for z in logits]
total = sum(exps)
probs = [e / total for e in exps]
loss = -probs[y].log()
loss.backward()

p = [q.data for q in probs]
assert abs(sum(p) - 1.0) < 1e-15
for i, z in enumerate(logits):
    assert abs(z.grad - (p[i] - (i == y))) < 1e-15  # p - onehot

assert len(loss._topological_order()) == 15  # the Values behind the loss

# %% [markdown]
# The scalar graph behind `loss` has 15 Values, and its backward multiplies and adds its way to a
# result that is one subtraction per logit. A fused op can skip straight to the answer.
#
# ## Softmax overflows unless you shift it
#
# `exp(1000)` is infinite in floating point, so the textbook formula fails for large logits even
# though the answer is perfectly ordinary. Softmax does not change when the same number is
# subtracted from every logit (it cancels between the top and the bottom of the fraction), so
# implementations subtract the largest logit first. Then the largest exponent is `exp(0) = 1` and
# nothing overflows:

# %%
import numpy as np

import ndgrad
import ndgrad.nn.functional as F

z = np.array([1000.0, 0.0])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(z) / np.exp(z).sum()  # inf / inf

assert np.isnan(naive[0])

shifted = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
assert shifted.tolist() == [1.0, 0.0]

x = ndgrad.tensor([[1000.0, 0.0], [1.0, 2.0]])
assert F.softmax(x, dim=1)[0].tolist() == [1.0, 0.0]
assert np.allclose(F.softmax(x, dim=1).sum(1).numpy(), 1.0)

# %% [markdown]
# ## `log(softmax(x))` underflows; `log_softmax(x)` does not
#
# The opposite problem: a class with a very negative logit gets a probability too small to
# represent (below about `1e-45` in float32), softmax rounds it to 0, and the log of 0 is `-inf`. The
# loss is infinite and its gradient is `nan`, which silently destroys the weights. Computed
# directly, `log_softmax(z) = z - max(z) - log(sum(exp(z - max(z))))` never takes the log of
# something tiny, so it stays finite:

# %%
x = ndgrad.tensor([[0.0, -200.0]], requires_grad=True)  # float32; exp(-200) is about 1e-87

with np.errstate(divide="ignore", invalid="ignore"):
    composite = F.softmax(x, dim=1).log()
    assert composite[0, 1].item() == -np.inf
    composite[0, 1].backward()

assert np.isnan(x.grad.numpy()).all()  # the gradient is ruined

x.grad = None
fused = F.log_softmax(x, dim=1)
assert fused[0, 1].item() == -200.0
fused[0, 1].backward()
assert x.grad.tolist() == [[-1.0, 1.0]]  # onehot - p, exactly as on paper

# %% [markdown]
# The same identity gives the backward of `LogSoftmax` cheaply: with `out = log_softmax(z)`, the
# softmax is `exp(out)`, and the gradient is `grad - exp(out) * sum(grad)`.
#
# ## Softmax's backward without its Jacobian
#
# Softmax on its own is still useful (attention weights, sampling), and its backward shows a trick
# that every vector-valued op uses. Its Jacobian is `J = diag(p) - p p^T`, a `C x C` matrix per
# row. Backward never needs `J` itself, only `J^T @ grad`, which simplifies to
# `p * (grad - sum(p * grad))`: two elementwise products and a sum, `O(C)` instead of `O(C^2)`.

# %%
logits = ndgrad.randn(3, 5, dtype=ndgrad.float64, requires_grad=True)
upstream = ndgrad.randn(3, 5, dtype=ndgrad.float64)
F.softmax(logits, dim=1).backward(upstream)

p, g = F.softmax(logits, dim=1).detach().numpy(), upstream.numpy()
jacobians = [np.diag(p[r]) - np.outer(p[r], p[r]) for r in range(3)]
explicit = np.stack([jacobians[r].T @ g[r] for r in range(3)])
assert np.allclose(logits.grad.numpy(), explicit)
assert np.allclose(logits.grad.numpy(), p * (g - (p * g).sum(1, keepdims=True)))

# %% [markdown]
# ## Cross-entropy: one node
#
# `F.cross_entropy(logits, target)` is `nll_loss(log_softmax(logits), target)`: the mean over the
# batch of `-log p[target]`. ndgrad computes it as a single primitive whose backward is the
# formula from the top of this page, `(softmax(z) - onehot(target)) / N`:

# %%
ndgrad.manual_seed(0)
logits = ndgrad.randn(4, 5, dtype=ndgrad.float64, requires_grad=True)
target = ndgrad.tensor([1, 0, 4, 1])

loss = F.cross_entropy(logits, target)
two_steps = F.nll_loss(F.log_softmax(logits, dim=1), target)
assert abs(loss.item() - two_steps.item()) < 1e-12
loss.backward()

p = F.softmax(logits, dim=1).detach().numpy()
onehot = np.eye(5)[target.numpy()]
assert np.allclose(logits.grad.numpy(), (p - onehot) / 4, rtol=1e-12)


def graph_nodes(t):
    """The grad_fn nodes behind t, walked with a stack (no recursion)."""
    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            stack.extend(n for n, _ in node.next_functions)
    return {n.name() for n in seen}


assert graph_nodes(loss) == {"CrossEntropyBackward", "AccumulateGrad"}
# two nodes, and log_softmax's output (B, C) kept between them for the backward
assert graph_nodes(two_steps) == {"NllLossBackward", "LogSoftmaxBackward", "AccumulateGrad"}

# %% [markdown]
# So fusing buys three things at once: no overflow (the max is subtracted), no `log(0)` (the log is
# taken of a sum that is at least 1), and a backward that is one subtraction per logit, with one
# graph node to store instead of two (written as a composite, nll_loss alone would be a chain of
# gather, neg, mul, sum and div nodes: ndgrad makes it one primitive too). `ndgrad.viz.draw_graph(loss)` shows the
# difference at a glance.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/nn/functional/activation.py::softmax`, `ndgrad/nn/functional/activation.py::log_softmax`: argument handling
#   (the `dim`, `dtype`), then the primitives.
# - `ndgrad/ops/nn.py::Softmax`: the shifted forward; backward `out * (grad - sum(grad * out))`.
# - `ndgrad/ops/nn.py::LogSoftmax`: forward `z - logsumexp(z)`; backward `grad - exp(out) * sum(grad)`.
# - `ndgrad/nn/functional/loss.py::cross_entropy` and `ndgrad/ops/nn.py::CrossEntropy`: the fused loss,
#   with class weights, `ignore_index` and label smoothing folded into the same two formulas.
# - `ndgrad/nn/functional/loss.py::nll_loss` and `ndgrad/ops/nn.py::NllLoss`: the second half on its
#   own, for models that already end in `log_softmax`.
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises`; the solution is in
# [solutions/07_softmax_cross_entropy.py](solutions/07_softmax_cross_entropy.py). Try first.
#
# 1. **An MLP's backward, by hand.** With NumPy only, write `mlp_backward(x, W1, b1, W2, b2, y)`
#    returning `(dW1, db1, dW2, db2)` for the loss
#    `cross_entropy(relu(x @ W1.T + b1) @ W2.T + b2, y)` (mean over the batch). Use this chapter's
#    `(p - onehot) / N`, chapter 5's linear backward, and ReLU's mask. Check it with
#    `check_mlp_backward(mlp_backward)`, which compares with PyTorch's `.backward()` on the same
#    network. This is the exercise Karpathy's makemore part 4 calls becoming a backprop ninja.
#
# Next: [8. Convolution and pooling as matrix products](08-conv.md).
