# %% [markdown]
# # 13. What real frameworks add: freeing, no_grad, in-place checks, hooks, anomaly mode
#
# The mini engine of chapter 3 computes correct gradients. A framework that people train real
# models with must also be careful with memory, must not record what will never be
# differentiated, must refuse to return a wrong gradient when the user modified a value that
# backward needs, and must help find where a `nan` came from. This chapter shows each of these in
# ndgrad, which does them as PyTorch does, and where each one lives.
#
# ## The graph is freed by backward: `retain_graph`
#
# A training step's graph holds every activation that backward needs: for a large model, most of
# the memory. Once backward has used a node's saved values, nothing else will, so ndgrad and
# PyTorch drop them as the walk goes. A second `backward()` through the same graph then has
# nothing to work with, and both raise the same error. Ask for `retain_graph=True` to keep them:

# %%
import numpy as np
import torch

import ndgrad

for lib in (ndgrad, torch):  # one piece of code, two libraries, the same behaviour
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    try:
        y.backward()
        raise AssertionError("a second backward should have raised")
    except RuntimeError as error:
        assert "backward through the graph a second time" in str(error)
    z = (x * x).sum()
    z.backward(retain_graph=True)  # keep the saved values...
    z.backward()  # ...so this works, and the leaf's gradients add up: 2x + 2x + 2x
    assert x.grad.tolist() == [6.0, 12.0]


# %% [markdown]
# Chapter 2's `Value` keeps its graph and allows the second call: a graph of a few hundred scalars
# costs nothing to keep. A graph of image activations does.
#
# ## Not recording at all: `no_grad`
#
# Evaluating a model, or updating weights inside an optimizer, needs no gradients. Under
# `ndgrad.no_grad()` ops compute their results and record nothing: no node, no saved values, and
# results that do not require grad. The mini engine has no such switch (chapter 10's evaluation
# built a graph it never used):

# %%
w = ndgrad.randn(3, requires_grad=True)
with ndgrad.no_grad():
    out = (w * 2).exp()

assert out.grad_fn is None and not out.requires_grad
out = (w * 2).exp()  # outside: recorded again
assert out.grad_fn.name() == "ExpBackward"

# %% [markdown]
# ## Modified after it was saved: version counters
#
# `c = b * b` saves `b` for its backward (the gradient is `2 * b * grad`). If `b` is then
# changed in place, backward would use the new values and return a wrong gradient, silently. So
# every tensor carries a *version counter* that each in-place op (`add_`, `x[i] = v`, `mul_`,
# ...) increments; a node records the version of each value it saves, and backward checks it:

# %%
a = ndgrad.tensor([1.0, 2.0], requires_grad=True)
b = a * 1
c = b * b  # saves b, at version 0
assert b._version == 0
b.add_(1)  # in place: b is now version 1
assert b._version == 1
try:
    c.sum().backward()
    raise AssertionError("backward should have refused")
except RuntimeError as error:
    assert "modified by an inplace operation" in str(error)
    assert "is at version 1; expected version 0 instead" in str(error)

# %% [markdown]
# Ops that save only their output (`exp` saves `exp(x)`) do not mind if their *input* changes
# later, and ndgrad, like PyTorch, allows that; the check is exactly on what was saved.
#
# ## Views and in-place ops
#
# A *view* (`y[0]`, `y.T`, `y.view(4)`, `y.expand(...)`) shares its base's memory, so an in-place
# op through either one changes both, and both share one version counter. The gradient must follow
# too. PyTorch's rules, which ndgrad keeps (`ndgrad/autograd/inplace.py` writes them out in
# full):
#
# 1. An in-place op on a view rewrites its base's history: the base gets a new node
#    (`CopySlices`) that sends the gradient of the view's new value to the view's positions and
#    the base's old gradient everywhere else.
# 2. Every other view of that base rebuilds its own history from the base's new one the next
#    time it is used, by replaying the chain of view ops that made it.
# 3. Where a history cannot be rebuilt (a view of a leaf that requires grad, a view made under
#    `no_grad`, one of the outputs of `split`), the in-place op is refused with PyTorch's error
#    instead of returning a wrong gradient.

# %%
x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
y = x * 1
v = y[0]      # a view of y
y.mul_(3)     # changes v's values, and so v's history
v.backward()  # v = 3 * x[0]
assert x.grad.tolist() == [3.0, 0.0]

# %% [markdown]
# Ops that PyTorch documents as returning a new tensor return one even when they change nothing
# (`F.pad(x, (0, 0))` copies, `x.expand(x.shape)` is a view), so an in-place op on the result
# never changes `x` by surprise.
#
# ## Hooks: look at (or change) a gradient in flight
#
# `tensor.register_hook(fn)` calls `fn(grad)` when that tensor's gradient has been computed, and
# uses its return value, if not `None`, in place of the gradient. It is how gradient clipping per
# tensor, debugging prints, and some distributed-training schemes hook into backward. It returns a
# handle whose `remove()` takes the hook away:

# %%
w = ndgrad.tensor([1.0, 2.0], requires_grad=True)
seen = []
def record_and_scale(grad):
    seen.append(grad.tolist())
    return grad * 10

handle = w.register_hook(record_and_scale)
(w * 3).sum().backward()
assert seen == [[3.0, 3.0]] and w.grad.tolist() == [30.0, 30.0]
handle.remove()
w.grad = None
(w * 3).sum().backward()
assert w.grad.tolist() == [3.0, 3.0]

# %% [markdown]
# A hook can also run once a leaf's `.grad` holds its gradient: `register_post_accumulate_grad_hook(fn)`
# calls `fn(leaf)` as soon as that leaf is done, while backward goes on to earlier layers. An
# optimizer step can run inside backward this way, and drop each gradient as soon as it is used:

# %%
w = ndgrad.tensor([1.0, 2.0], requires_grad=True)
def sgd_in_backward(p):
    with ndgrad.no_grad():
        p -= 0.1 * p.grad
    p.grad = None

w.register_post_accumulate_grad_hook(sgd_in_backward)
(w * 3).sum().backward()
assert w.grad is None and [round(v, 6) for v in w.tolist()] == [0.7, 1.7]

# %% [markdown]
# ## Where did the nan come from: anomaly mode
#
# A `nan` in a gradient usually starts in one op (the square root of 0 has an infinite slope, and
# `inf * 0` is `nan`) and then spreads to every weight. Under `ndgrad.autograd.detect_anomaly()`,
# each node's backward output is checked for `nan` as it is computed, and the error names the op
# and shows the line of *forward* code that created it, which the engine recorded when the op
# ran:

# %%
q = ndgrad.tensor([0.0, 1.0], requires_grad=True)
with ndgrad.autograd.detect_anomaly():
    try:
        (q.sqrt() * 0).sum().backward()  # d sqrt(q)/dq at 0 is inf; inf * 0 is nan
        raise AssertionError("anomaly mode should have raised")
    except RuntimeError as error:
        message = str(error)

assert "Function 'SqrtBackward' returned nan values in its 0th output" in message
assert "Traceback of forward call that caused the error" in message

# %% [markdown]
# Anomaly mode costs time (a traceback is stored for every op), so it is for debugging only.
#
# ## Also added, shown in other chapters
#
# - Fused ops for speed and accuracy: `Linear` (chapter 5), `CrossEntropy` (chapter 7), convolution
#   with its own backward ops (chapter 8).
# - Higher-order gradients: backward recorded as a graph (chapter 14).
# - dtypes and PyTorch's type promotion: float32 by default, integer and bool tensors for indices
#   and masks.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/autograd/engine.py::run_backward`: `retain_graph`, and the walk that frees saved values.
# - `ndgrad/autograd/grad_mode.py::no_grad`: the switch, a tiny context manager.
# - `ndgrad/autograd/anomaly.py::detect_anomaly`: the `nan` check and the forward traceback.
# - `ndgrad/tensor/core.py::Tensor.register_hook`: hooks on a tensor's gradient;
#   `register_post_accumulate_grad_hook` beside it, run by `engine.py::_finish_leaf`.
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises`; the solution is in
# [solutions/13_real_frameworks.py](solutions/13_real_frameworks.py). Try first.
#
# 1. **Clipping with a hook.** Write `clip_hook(max_norm)`, which returns a hook that rescales a
#    gradient whose norm is above `max_norm` down to `max_norm` and leaves smaller ones alone.
#    Check it with `check_clip_hook(clip_hook)`.
#
# Next: [14. Higher-order gradients](14-higher-order.md).
