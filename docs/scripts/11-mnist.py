# %% [markdown]
# # 11. Training on MNIST with ndgrad, and checking gradients
#
# Chapter 10 trained a digit classifier with the mini engine. This chapter does it with ndgrad,
# the way PyTorch code does, with `nn` modules, an optimizer and a data loader.
# Then it asks the question every autograd library must answer: are the gradients right? Two ways
# to check: against PyTorch, op for op, and against central differences with `gradcheck`.
#
# ndgrad has PyTorch's API, so this chapter's code is PyTorch code with `ndgrad` in place of
# `torch`. To keep it fast enough for the test suite, it trains on a sixth of the training set for
# one pass; the `ndgrad-mnist` command (`ndgrad/cli/mnist.py`) trains on all of it, to 98%
# and more.
#
# ## The data
#
# `ndgrad.datasets.MNIST` reads the four IDX files from a data directory (`root=` or the
# `NDGRAD_DATA` environment variable) or downloads them to a cache. Each item is a float32 image
# of shape `(1, 28, 28)` with pixels in `[0, 1]`, and an integer label. `DataLoader` batches and
# shuffles, exactly like `torch.utils.data.DataLoader`:

# %%
import os

import numpy as np

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F
from ndgrad.datasets import MNIST
from ndgrad.utils.data import DataLoader, Subset

ndgrad.manual_seed(0)
root = os.environ.get("NDGRAD_DATA")  # None: use the download cache
train = MNIST(root=root, train=True)
test = MNIST(root=root, train=False)
assert len(train) == 60_000 and len(test) == 10_000

image, label = train[0]
assert image.shape == (1, 28, 28) and image.dtype == ndgrad.float32 and label == 5

train_loader = DataLoader(Subset(train, range(10_000)), batch_size=100, shuffle=True)
test_loader = DataLoader(Subset(test, range(2_000)), batch_size=500)
x, y = next(iter(train_loader))
assert x.shape == (100, 1, 28, 28) and y.shape == (100,) and y.dtype == ndgrad.int64

# %% [markdown]
# ## The model, the optimizer, the loop
#
# A two-layer network: flatten each image to 784 numbers, a linear layer to 128 hidden units, ReLU,
# and a linear layer to 10 logits, trained with the fused cross-entropy of chapter 7 and SGD with
# momentum. The loop is chapter 2's, with tensors in place of Values and the optimizer's `step()`
# in place of the two-line hand-written update (chapter 9): four lines, as in chapter 10.

# %%
model = nn.Sequential(
    nn.Flatten(),  # (B, 1, 28, 28) -> (B, 784)
    nn.Linear(784, 128),
    nn.ReLU(),
    nn.Linear(128, 10),
)
optimizer = ndgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
assert sum(p.numel() for p in model.parameters()) == 784 * 128 + 128 + 128 * 10 + 10

losses = []
for x, y in train_loader:  # 100 steps
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

assert losses[0] > 2.0  # about log(10) = 2.3: a random guess among ten classes
assert np.mean(losses[-10:]) < 0.6

# %% [markdown]
# To measure accuracy, switch off graph recording with `no_grad()` (nothing will be
# differentiated, so there is no need to remember anything) and count the right answers:

# %%
model.eval()
correct = 0
with ndgrad.no_grad():
    for x, y in test_loader:
        correct += (model(x).argmax(dim=1) == y).sum().item()

accuracy = correct / 2_000
print(f"test accuracy after one pass over 10,000 images: {accuracy:.1%}")
assert 0.86 < accuracy < 0.90  # about 88%; a random guess gets 10%

# %% [markdown]
# ## Checking gradients against PyTorch
#
# If ndgrad and PyTorch compute the same function from the same weights, they must produce the
# same gradients. Since the APIs are the same, the same code builds both models; the state dict
# (parameter names to tensors) carries the weights across:

# %%
import torch

ndgrad.manual_seed(1)
ours = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.Tanh(), nn.Linear(64, 10))
theirs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.Tanh(),
                             torch.nn.Linear(64, 10))
state = {name: torch.from_numpy(t.numpy().copy()) for name, t in ours.state_dict().items()}
theirs.load_state_dict(state)
assert list(state) == ["1.weight", "1.bias", "3.weight", "3.bias"]  # the same names

x, y = next(iter(train_loader))
loss = F.cross_entropy(ours(x), y)
loss.backward()
torch_loss = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x.numpy())),
                                               torch.from_numpy(y.numpy()))
torch_loss.backward()

assert abs(loss.item() - torch_loss.item()) < 1e-5
for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
    assert np.allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6), name

# %% [markdown]
# This is how ndgrad's own test suite works: `tests/helpers.py` runs the same lambda through both
# libraries for every op, with float64 inputs, broadcast shapes and non-uniform upstream
# gradients, and compares outputs, gradients and second derivatives.
#
# ## Checking gradients without PyTorch: gradcheck
#
# A reference implementation is a luxury. The universal check is chapter 1's central difference,
# one input element at a time: `ndgrad.autograd.gradcheck(fn, inputs)` builds the Jacobian of `fn`
# both ways, numerically and with backward, and compares them. Inputs should be float64: in float32
# the finite differences are too noisy to compare against.

# %%
from ndgrad.autograd import gradcheck

x = ndgrad.randn(4, 6, dtype=ndgrad.float64, requires_grad=True)
w = ndgrad.randn(6, 3, dtype=ndgrad.float64, requires_grad=True)
target = ndgrad.tensor([0, 2, 1, 2])
assert gradcheck(lambda x, w: F.cross_entropy((x @ w).relu() + x.sum(1, keepdim=True), target),
                 (x, w))


# %% [markdown]
# Its real use is for new ops. Here is a custom `Function`, written the PyTorch way, with the
# classic mistake of forgetting a factor of 2 in backward. `gradcheck` catches it:

# %%
class Square(ndgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x  # wrong: d(x^2)/dx is 2x


x = ndgrad.randn(5, dtype=ndgrad.float64, requires_grad=True)
assert not gradcheck(Square.apply, (x,), raise_exception=False)

# %% [markdown]
# Fix the backward to `2 * grad * x` and the same call returns `True`.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/datasets/mnist.py::MNIST`: finding, verifying and parsing the IDX files.
# - `ndgrad/utils/data/dataloader.py::DataLoader`: batching and shuffling.
# - `ndgrad/nn/module.py::Module`: parameters, `state_dict`, `train()`/`eval()`.
# - `ndgrad/nn/modules/linear.py::Linear`: `x @ W.T + b`, initialized as PyTorch does.
# - `ndgrad/optim/sgd.py::SGD`: the update rule, with momentum.
# - `ndgrad/autograd/gradcheck.py::gradcheck`: Jacobians two ways.
# - `ndgrad/autograd/function.py::Function`: the base class of every op, yours included.
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises`; the solution is in
# [solutions/11_mnist.py](solutions/11_mnist.py). Try first.
#
# 1. **Your own op.** Write `Softplus`, `log(1 + e^x)`, as an `ndgrad.autograd.Function` like
#    `Square` above, with a forward that cannot overflow for large `x` and a backward of one
#    line. Check it with `check_softplus_function(Softplus)`, which compares it with PyTorch's
#    `softplus` and runs `gradcheck` on it.
#
# Next: [12. From the mini engine to ndgrad](12-mini-to-ndgrad.md).
