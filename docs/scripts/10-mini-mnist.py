# %% [markdown]
# # 10. Training MNIST with the mini engine
#
# Everything `ndgrad.mini` has, put to work: 60,000 handwritten digits, a network of two linear
# layers, cross-entropy, SGD with momentum. No part of ndgrad's real engine runs here; only the
# data comes from `ndgrad.datasets`. Three passes over the training set (the code prints how long
# they took) reach over 97% on the 10,000 test images. Chapter 11 trains the same kind of network with ndgrad and PyTorch's API.
#
# ## The data, as arrays
#
# `ndgrad.datasets.MNIST` finds the four IDX files (in `root`, the `NDGRAD_DATA` directory, or
# the download cache) and checks them. Its `data` and `targets` are tensors holding the whole set;
# the mini engine takes NumPy arrays, so take them out once, flatten each image to 784 numbers and
# scale the pixels to `[0, 1]`:

# %%
import os
import time

import numpy as np

from ndgrad import mini
from ndgrad.datasets import MNIST
from ndgrad.mini import functional as F

root = os.environ.get("NDGRAD_DATA")  # None: use the download cache
train, test = MNIST(root=root, train=True), MNIST(root=root, train=False)
x_train = train.data.numpy().reshape(-1, 784) / 255.0  # (60000, 784) float64
y_train = train.targets.numpy()  # (60000,) class numbers 0-9
x_test = test.data.numpy().reshape(-1, 784) / 255.0
y_test = test.targets.numpy()
assert x_train.shape == (60_000, 784) and x_test.shape == (10_000, 784)
assert np.bincount(y_test).tolist()[:3] == [980, 1135, 1032]  # digits 0, 1, 2 in the test set

# %% [markdown]
# ## The model and the loop
#
# A hidden layer of 256 units with ReLU, then 10 logits. Each step takes a batch of 128 images in
# a random order, and runs the same four lines as every training loop in PyTorch:

# %%
mini.manual_seed(0)
model = mini.Sequential(mini.Linear(784, 256), mini.ReLU(), mini.Linear(256, 10))
optimizer = mini.SGD(model.parameters(), lr=0.1, momentum=0.9)
assert sum(p.numel() for p in model.parameters()) == 784 * 256 + 256 + 256 * 10 + 10


def accuracy(x, y):
    model.eval()
    predictions = model(mini.Tensor(x)).data.argmax(axis=1)
    model.train()
    return (predictions == y).mean()


rng = np.random.default_rng(0)
start = time.perf_counter()
for epoch in range(3):
    order = rng.permutation(len(x_train))  # a new shuffle for every pass
    for i in range(0, len(order), 128):
        batch = order[i:i + 128]
        loss = F.cross_entropy(model(mini.Tensor(x_train[batch])), y_train[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch + 1}: loss {loss.item():.3f}, "
          f"test accuracy {accuracy(x_test, y_test):.2%}")

seconds = time.perf_counter() - start
test_accuracy = accuracy(x_test, y_test)
print(f"{test_accuracy:.2%} after {seconds:.0f} s")
assert test_accuracy >= 0.97

# %% [markdown]
# The inputs are constants (`mini.Tensor(x)` does not require grad), so the graph of each step
# starts at the first layer's weights: backward computes no gradient for the 128 x 784 pixels.
#
# ## What the mini engine leaves out
#
# The same network trains faster in ndgrad (`ndgrad-mnist --model mlp`, the first command in [the
# README](../README.md), reaches 98%). The mini engine keeps every array in float64 (ndgrad
# defaults to float32, as PyTorch does, which halves memory traffic and speeds up BLAS); it creates
# a graph node for every composite step of `cross_entropy` (ten, where ndgrad has one fused op,
# chapter 7); a `Linear` is a transpose, a matmul and an add (ndgrad: one `Linear` op, chapter 5);
# and it has no `no_grad()`, so evaluation above builds a graph that is never used. Chapter 12 goes
# through the real engine part by part.

# %%
logits = mini.Tensor(np.zeros((4, 10)), requires_grad=True)
nodes = F.cross_entropy(logits, np.array([1, 2, 3, 4]))._topological_order()
assert len(nodes) - 1 == 10  # the ops behind one cross-entropy, the leaf not counted

# %% [markdown]
# ## Where this lives in ndgrad
#
# - `ndgrad/mini/nn.py::Sequential`, `ndgrad/mini/nn.py::Linear`, `ndgrad/mini/nn.py::SGD`: the
#   model and the optimizer.
# - `ndgrad/mini/functional.py::cross_entropy`: the loss, as a composite.
# - `ndgrad/datasets/mnist.py::MNIST`: the data.
#
# ## Exercises
#
# Open-ended, checked by the accuracy you print:
#
# 1. Replace the hidden layer by a small CNN from `mini.Conv2d`, `mini.MaxPool2d` and
#    `mini.Flatten` (reshape the images to `(N, 1, 28, 28)`), and train it on a subset until it
#    beats the MLP. Expect it to be much slower per step than ndgrad's convolution: chapter 8 says
#    why.
# 2. Swap `mini.SGD` for `mini.Adam(lr=1e-3)` and compare the accuracy after each epoch.
#
# Next: [11. Training on MNIST with ndgrad, and checking gradients](11-mnist.md).
