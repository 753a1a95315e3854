# %% [markdown]
# # 16. Eager and lazy evaluation, and fusion
#
# ndgrad, like PyTorch by default, is *eager*: each op runs the moment Python reaches it, with one
# NumPy call that reads its inputs from memory and writes a new array. That is simple to debug,
# and it is why every chapter could print any intermediate value. It is also wasteful: in
# `(x * 2 + 1).relu()` each of the three ops makes a full pass over memory and the first two
# write temporaries that are read once and thrown away. On modern hardware moving data costs more
# than arithmetic, so this chapter looks at the alternative: record the ops first, run them later,
# and *fuse* a chain of elementwise ops into one pass.
#
# ## Eager: one kernel per op
#
# Call each op's work a *kernel* (one pass over its data: one NumPy call here, one GPU launch in
# PyTorch). Counting them for eager evaluation is just counting ops:

# %%
import numpy as np

import ndgrad

kernels = []


def eager(name, fn, *arrays):
    kernels.append(name)  # one pass over memory, one new array
    return fn(*arrays)


x = np.linspace(-2.0, 2.0, 9)
a = eager("mul", np.multiply, x, 2.0)
b = eager("add", np.add, a, 1.0)
out = eager("relu", np.maximum, b, 0.0)
assert kernels == ["mul", "add", "relu"]  # three passes, two temporaries (a and b)
assert np.allclose(out, ndgrad.tensor(x * 2 + 1).relu().numpy())


# %% [markdown]
# ## Lazy: record now, run at `realize()`
#
# A lazy value is a node that remembers its op and its sources, and computes nothing until asked.
# Here is one in a few lines. Its ops look like an eager tensor's, but they only build a graph (of
# the computation this time, not of its gradient):

# %%
class Lazy:
    """An op and its sources, not yet computed; or a loaded array."""
    def __init__(self, op, srcs=(), arg=None):
        self.op, self.srcs, self.arg = op, srcs, arg  # arg: the array of a load, or a constant
    def __add__(self, other):
        return Lazy("add", (self, Lazy("const", arg=other)))
    def __mul__(self, other):
        return Lazy("mul", (self, Lazy("const", arg=other)))
    def relu(self):
        return Lazy("relu", (self,))

def load(array):
    return Lazy("load", arg=array)

y = (load(x) * 2.0 + 1.0).relu()
assert y.op == "relu" and y.srcs[0].op == "add"  # a recipe; no arithmetic has happened


# %% [markdown]
# Now `realize()` has the whole recipe in hand before running anything, and can plan. The plan
# that matters most is fusion: a chain of elementwise ops reads each input element once, does all
# the arithmetic on it in registers, and writes one output element. A compiler does that by
# *generating* one kernel for the chain. This `realize` renders the chain as one expression and
# one loop, which is what tinygrad renders as C or GPU code and compiles; in Python the loop is
# slow, but it makes one pass and allocates nothing but the output:

# %%
def render(node, inputs):
    """The expression that computes one element of node; loads become inputs[k][i]."""
    if node.op == "load":
        inputs.append(node.arg)
        return f"inputs[{len(inputs) - 1}][i]"
    if node.op == "const":
        return repr(node.arg)
    args = [render(src, inputs) for src in node.srcs]
    return {"add": "({} + {})", "mul": "({} * {})", "relu": "max({}, 0.0)"}[node.op].format(*args)


def realize(node):
    inputs = []
    expression = render(node, inputs)
    source = ("def kernel(out, inputs):\n"
              "    for i in range(len(out)):\n"
              f"        out[i] = {expression}")
    namespace = {}
    exec(source, namespace)  # "compile" the fused kernel
    out = np.empty(len(inputs[0]))
    kernels.append("fused")
    namespace["kernel"](out, inputs)
    return out, source


kernels.clear()
fused, source = realize(y)
assert kernels == ["fused"]  # one pass instead of three
assert np.allclose(fused, out)
assert "out[i] = max(((inputs[0][i] * 2.0) + 1.0), 0.0)" in source
print(source)


# %% [markdown]
# Real schedulers decide where one kernel must end: a reduction such as `sum` needs all of its
# input before it can finish, a matmul has its own tuned kernel, and a value used by two later ops
# may be worth writing out once rather than computing twice. Between those boundaries,
# elementwise chains (activations, bias adds, the many small ops of a normalization or an
# optimizer update) fuse.
#
# ## The same Tensor over eager or lazy buffers
#
# tinygrad keeps the tensor's data in a `lazydata` buffer whose ops (elementwise, reduce,
# movement) record a graph, and `Tensor.realize()` schedules and fuses it.
# [teenygrad](https://github.com/tinygrad/teenygrad), its teaching version in under 1,000 lines,
# keeps exactly the same interface (`lazydata`, `realize()`, the same small set of buffer ops) but
# implements the buffer eagerly with NumPy: each op runs at once, and `realize()` does nothing.
# The Tensor class and the derivative rules above the buffer are written the same way in both: the
# point is that eager or lazy is a property of the buffer, not of autograd.
# Backward, too, just adds more recorded ops, so a lazy framework can schedule a whole training
# step (forward, backward and the optimizer's update) as one graph.
#
# ndgrad is eager throughout, and where fusion pays most it fuses by hand: `F.linear` adds the
# bias into the matmul's output array in place instead of making a new one, and `cross_entropy`
# is one op instead of ten (chapter 7).
#
# ## Trace once, replay many times
#
# A lazy graph is rebuilt at every call, and Python runs every time. *Trace-and-replay*
# compilers go one step further: run the function once on placeholder inputs, record the ops it
# performs (a *trace*), optimize and compile that once, and on later calls replay the compiled
# program without running the Python code at all. `jax.jit` traces with abstract values;
# `torch.compile` captures the ops from the Python bytecode and generates fused kernels;
# tinygrad's `TinyJit` records the kernels its first calls run and replays them. Here is the idea
# with the `Lazy` recipe as the trace:

# %%
def step(v):
    return (v * 2.0 + 1.0).relu()


trace = step(Lazy("load", arg=None))  # run once on a placeholder: records the ops


def replay(array):
    trace.srcs[0].srcs[0].srcs[0].arg = array  # feed the placeholder
    return realize(trace)[0]


assert np.allclose(replay(np.array([-1.0, 3.0])), [0.0, 7.0])  # step's Python code did not run

# %% [markdown]
# The price is that the trace is what happened *once*. A Python `if` on a value, a loop whose
# length depends on the data, or a print, is run at trace time and baked in (or, in
# `torch.compile`, guarded and retraced when it changes). That is why eager evaluation stays the
# default for writing and debugging models, and compilation is applied afterwards to functions
# whose shapes and control flow are fixed.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/ops/elementwise.py::Mul`: an eager op, one NumPy call per forward.
# - `ndgrad/ops/nn.py::Linear`: fusion by hand, the bias added in place into the matmul's output.
# - `ndgrad/ops/nn.py::CrossEntropy`: ten composite steps as one op.
#
# ## Exercises
#
# Not checked automatically, since the answers are open-ended:
#
# 1. Add `exp` to `Lazy` and `render` (`math.exp` in the expression), and fuse
#    `(load(x) * -1.0).exp()`; compare with `np.exp(-x)`.
# 2. Give `Lazy` a `sum()` and make `realize` stop fusing at it: realize the elementwise chain
#    below it as one kernel, then sum the result in a second. Count the kernels.
#
# Back to the start: [the index](README.md).
