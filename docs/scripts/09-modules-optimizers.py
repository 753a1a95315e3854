# %% [markdown]
# # 9. Modules, parameters and optimizers
#
# Chapter 2 trained a network with a hand-written loop over `model.parameters()`. PyTorch code
# uses three small abstractions for the same thing: a `Parameter` marks a tensor as a weight, a
# `Module` finds the parameters of everything inside it, and an `Optimizer` keeps whatever state
# its update rule needs (a velocity, running averages) beside each parameter. None of them touches
# autograd: they decide which tensors get updated and how. This chapter opens the small versions
# in `ndgrad/mini/nn.py`, then shows what the full-size ones in ndgrad add.
#
# ## Parameter and Module
#
# A `Parameter` is a tensor that requires grad and says "I am a weight". A `Module` holds
# parameters and other modules as attributes; `parameters()` looks through its attributes and
# returns its own parameters, then those of each sub-module (and of each module in a list
# attribute, which is how `Sequential` holds its layers), in the order they were set:

# %%
import numpy as np

import ndgrad
from ndgrad import mini
from ndgrad.mini import functional as mF


class TwoLayer(mini.Module):
    def __init__(self):
        self.hidden = mini.Linear(4, 8)  # a sub-module: its weight and bias are found
        self.scale = mini.Parameter(np.ones(8))  # a parameter of this module itself
        self.out = mini.Linear(8, 3)
        self.drop = mini.Dropout(0.5)
    def forward(self, x):
        return self.out(self.drop(self.hidden(x).relu() * self.scale))

mini.manual_seed(0)
model = TwoLayer()
assert [p.shape for p in model.parameters()] == [(8,), (8, 4), (8,), (3, 8), (3,)]
assert all(isinstance(p, mini.Parameter) and p.requires_grad for p in model.parameters())

# %% [markdown]
# `train()` and `eval()` set a `training` flag on the module and every sub-module. Only a few
# layers read it: `Dropout` zeroes random activations while training and does nothing in
# evaluation, and in ndgrad `BatchNorm` switches between batch statistics and running averages.

# %%
x = mini.Tensor(np.random.default_rng(0).normal(size=(2, 4)))
model.eval()
assert not model.drop.training
assert np.array_equal(model(x).data, model(x).data)  # deterministic in evaluation
model.train()
assert not np.array_equal(model(x).data, model(x).data)  # dropout draws a new mask each call

# %% [markdown]
# ## What ndgrad's Module adds: names
#
# The mini `Module` scans its attributes whenever it is asked. ndgrad's `Module` (PyTorch's
# design) instead *registers* each parameter and sub-module the moment it is assigned, in
# `Module.__setattr__`, into ordered dictionaries (`_parameters`, `_modules`). That gives every
# parameter a dotted name, and the names are what `state_dict()` saves and what
# `load_state_dict()` matches, which is how chapter 11 copies weights into PyTorch:

# %%
net = ndgrad.nn.Sequential(ndgrad.nn.Linear(3, 4), ndgrad.nn.ReLU(), ndgrad.nn.Linear(4, 2))
assert list(net._modules) == ["0", "1", "2"]
assert list(net[0]._parameters) == ["weight", "bias"]
assert [name for name, _ in net.named_parameters()] == ["0.weight", "0.bias", "2.weight",
                                                        "2.bias"]
assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
assert isinstance(net[0].weight, ndgrad.nn.Parameter)

# %% [markdown]
# It also adds buffers (tensors saved in the state dict that are not trained, such as BatchNorm's
# running mean), hooks on forward and backward, `apply`, `to(dtype)` and the rest of PyTorch's API.
#
# ## Optimizers: a rule, and state beside each parameter
#
# An optimizer is given the parameters once and, at each `step()`, moves each one against its
# `.grad`. Plain SGD needs nothing else. SGD with momentum keeps a *velocity* per parameter, a
# running sum of past gradients that smooths the direction and speeds up along a consistent
# slope; PyTorch's rule is `v = momentum * v + grad` (with `v = grad` at the first step), then
# `p -= lr * v`. Adam keeps two running averages per parameter, of the gradient and of its square,
# and divides one by the square root of the other, so that each weight takes steps of about `lr`
# whatever the scale of its gradient:

# %%
w = mini.Parameter([1.0, -2.0])
opt = mini.SGD([w], lr=0.1, momentum=0.9)
for _ in range(2):
    opt.zero_grad()
    (w * w).sum().backward()  # grad = 2w
    opt.step()

v1 = 2 * np.array([1.0, -2.0])  # first step: v = grad
w1 = np.array([1.0, -2.0]) - 0.1 * v1
v2 = 0.9 * v1 + 2 * w1  # second step: v = momentum * v + grad
assert np.allclose(w.data, w1 - 0.1 * v2)
assert np.allclose(opt.velocity[0], v2)

# %% [markdown]
# `zero_grad()` sets every `.grad` to `None` (PyTorch's default; `None` also saves adding a zero
# array at the next backward). It is needed because leaves *accumulate* gradients (chapter 2):
# without it, each step would use the sum of all gradients so far.
#
# ## What ndgrad's optimizers add: groups and lazy state
#
# ndgrad's `Optimizer` (`ndgrad/optim/optimizer.py`) keeps the parameters in *param groups*,
# dictionaries that each carry their own settings (a smaller learning rate for a pretrained
# backbone, no weight decay for biases), and keeps per-parameter state in a dictionary
# `optimizer.state[p]` that is filled at a parameter's first step, as PyTorch's are. Both are
# what `optimizer.state_dict()` saves, so training can resume exactly:

# %%
layer = ndgrad.nn.Linear(3, 2)
sgd = ndgrad.optim.SGD([{"params": [layer.weight]}, {"params": [layer.bias], "lr": 0.01}],
                       lr=0.1, momentum=0.9)
assert [group["lr"] for group in sgd.param_groups] == [0.1, 0.01]
assert len(sgd.state) == 0  # nothing yet: state is made at a parameter's first step
layer(ndgrad.randn(4, 3)).sum().backward()
sgd.step()
assert list(sgd.state[layer.weight]) == ["momentum_buffer"]

adam = ndgrad.optim.Adam(layer.parameters())
adam.step()
assert sorted(adam.state[layer.weight]) == ["exp_avg", "exp_avg_sq", "step"]

# %% [markdown]
# `tests/test_optim.py` runs every ndgrad optimizer against `torch.optim` with the same weights
# over many steps, and `tests/test_mini.py` does the same for `mini.SGD` and `mini.Adam`.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/mini/nn.py::Module`, `ndgrad/mini/nn.py::Parameter`, `ndgrad/mini/nn.py::SGD`,
#   `ndgrad/mini/nn.py::Adam`: the small versions.
# - `ndgrad/nn/module.py::Module.__setattr__`: registration, and so names.
# - `ndgrad/nn/module.py::Module.state_dict`: the names and tensors that get saved.
# - `ndgrad/optim/optimizer.py::Optimizer`: param groups, lazy state, `zero_grad`, `state_dict`.
# - `ndgrad/optim/sgd.py::SGD`, `ndgrad/optim/adam.py::Adam`: the update rules in full, with
#   argument checks and the options PyTorch has (Nesterov, dampening, AMSGrad, ...).
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises`; the solution is in
# [solutions/09_modules_optimizers.py](solutions/09_modules_optimizers.py). Try first.
#
# 1. **SGD with momentum.** Write a class `SGDMomentum(params, lr, momentum)` with `zero_grad()`
#    and `step()` for mini Parameters. Check it with `check_sgd_momentum(SGDMomentum)`, which
#    runs five steps beside `torch.optim.SGD` and compares the weights after each.
#
# Next: [10. Training MNIST with the mini engine](10-mini-mnist.md).
