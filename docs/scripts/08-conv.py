# %% [markdown]
# # 8. Convolution and pooling as matrix products
#
# A convolution slides a small kernel over an image and takes a dot product at every position.
# Written as loops, that is six nested loops in Python: far too slow. The standard trick, *im2col*,
# copies every kernel-sized patch of the image into one row of a matrix; the whole convolution
# is then one matrix product, which chapter 5 already knows how to differentiate. The one new op
# is the copy, and its backward, *col2im*, adds each patch's gradient back where the patch came
# from. Pooling is the same copy followed by a max.
#
# ## im2col: a patch per row
#
# For an input `(N, C, H, W)` and a kernel `KH x KW`, `ndgrad.mini`'s `im2col` returns
# `(N, C, KH, KW, OH, OW)`: for every kernel tap `(i, j)`, the image as that tap sees it at every
# output position. It is built with one strided slice per tap, so a 3x3 kernel costs nine copies
# however big the image:
#
# ![im2col: each 3x3 patch of the image becomes one row; the convolution is one matrix product](images/im2col.svg)

# %%
import numpy as np

import ndgrad
import ndgrad.nn.functional as F
from ndgrad import mini
from ndgrad.mini import functional as mF

rng = np.random.default_rng(0)
x_np = rng.normal(size=(2, 3, 5, 5))  # N=2 images, C=3 channels, 5x5
w_np = rng.normal(size=(4, 3, 3, 3))  # O=4 filters of 3 channels, 3x3

cols = mF._im2col(x_np, 3, 3, stride=1, padding=0)  # (N, C, KH, KW, OH, OW)
assert cols.shape == (2, 3, 3, 3, 3, 3)
assert np.array_equal(cols[1, 2, :, :, 0, 1], x_np[1, 2, 0:3, 1:4])  # a patch, read back

rows = cols.transpose(0, 4, 5, 1, 2, 3).reshape(2 * 3 * 3, 3 * 3 * 3)  # (N*OH*OW, C*KH*KW)
out = (rows @ w_np.reshape(4, -1).T).reshape(2, 3, 3, 4).transpose(0, 3, 1, 2)
expected = F.conv2d(ndgrad.tensor(x_np), ndgrad.tensor(w_np)).numpy()
assert np.allclose(out, expected)  # one matmul is the whole convolution

# %% [markdown]
# The price is memory: every pixel is copied once per tap that sees it, so the column matrix is
# about `KH * KW` times the size of the input (here 9 taps, over 3x3 positions of a 5x5 image):

# %%
assert cols.size == 9 * (2 * 3 * 3 * 3)  # KH*KW copies of every (N, C, OH, OW) position

# %% [markdown]
# `mini.functional.conv2d` is exactly these lines with mini Tensors: `im2col`, a `permute`, a
# `reshape`, a matmul with the reshaped weight, and a `permute` back. Every step but the first is
# an op from earlier chapters, with its backward.
#
# ## col2im: the backward of a copy is an add
#
# `im2col` copies pixels; a pixel copied into several patches was used several times, so its
# gradient is the sum of the gradients of all its copies (chapter 1 again). `col2im` walks the
# same nine slices as `im2col` and adds each one back into a zero image. In linear-algebra terms,
# `col2im` is the *adjoint* (the transpose) of `im2col`: for any `x` and any `c`,
# `<im2col(x), c> = <x, col2im(c)>`, which is what makes it the right backward:

# %%
c = rng.normal(size=cols.shape)
left = (mF._im2col(x_np, 3, 3, 1, 0) * c).sum()
right = (x_np * mF._col2im(c, x_np.shape, 1, 0)).sum()
assert np.isclose(left, right)

# a pixel in the middle of the image is seen by all nine taps, a corner by one
counts = mF._col2im(np.ones(cols.shape), x_np.shape, 1, 0)[0, 0]
assert counts[2, 2] == 9 and counts[0, 0] == 1

# %% [markdown]
# Put together, the mini convolution's gradients match ndgrad's (and `tests/test_mini.py` checks
# them against PyTorch, with strides and padding):

# %%
x = mini.Tensor(x_np, requires_grad=True)
w = mini.Tensor(w_np, requires_grad=True)
b = mini.Tensor(np.zeros(4), requires_grad=True)
g = rng.normal(size=(2, 4, 3, 3))
mF.conv2d(x, w, b, stride=1, padding=0).backward(g)

xr = ndgrad.tensor(x_np, requires_grad=True)
wr = ndgrad.tensor(w_np, requires_grad=True)
F.conv2d(xr, wr).backward(ndgrad.tensor(g))
assert np.allclose(x.grad, xr.grad.numpy()) and np.allclose(w.grad, wr.grad.numpy())
assert np.allclose(b.grad, g.sum(axis=(0, 2, 3)))  # the bias is broadcast over N, OH, OW

# %% [markdown]
# ## Pooling: im2col, then a max
#
# Max pooling takes the largest value of each window. With `im2col` that is a reshape of the
# taps into one dimension and an `amax` over it; chapter 6's `amax` backward sends each window's
# gradient to its winner, and `col2im` puts it back in the image:

# %%
xp = mini.Tensor(rng.normal(size=(1, 2, 4, 4)), requires_grad=True)
pooled = mF.max_pool2d(xp, 2)  # 2x2 windows, stride 2
assert pooled.shape == (1, 2, 2, 2)
pooled.sum().backward()
assert xp.grad.sum() == 8  # one winner per window
assert np.array_equal(xp.grad != 0, xp.data == np.kron(pooled.data, np.ones((2, 2))))

xpr = ndgrad.tensor(xp.data, requires_grad=True)
F.max_pool2d(xpr, 2).sum().backward()
assert np.array_equal(xpr.grad.numpy(), xp.grad)

# %% [markdown]
# Ties are the one difference: PyTorch's max pooling sends a tied window's gradient to one
# element, `ndgrad.mini`'s `amax` splits it. After a ReLU, ties are windows of zeros, whose
# gradient the ReLU blocks anyway.
#
# ## The real op: the same idea, laid out for speed
#
# ndgrad's convolution (`ndgrad/ops/conv.py`) is im2col plus one matmul too, with three changes
# for speed, each explained in that file:
#
# - The columns are built channels first, as `(C*KH*KW, N*OH*OW)`, from an `(N, C, H, W)` input
#   read as `(C, N, H, W)` through a strided view (`as_strided`), in one copy instead of nine;
#   `weight (O, C*KH*KW) @ cols` then gives the output as `(O, N, OH, OW)` in memory, returned as
#   an `(N, O, OH, OW)` view that the next layer reads without a copy.
# - The backward is two more primitives, `ConvGradInput` (the adjoint in `x`, which is
#   `conv_transpose2d`, with col2im inside) and `ConvGradWeight` (the adjoint in `w`, a matmul
#   with the saved columns). Each one's backward is made of the other two, so a convolution can
#   be differentiated twice (chapter 14).
# - Max pooling never builds the window copy: it takes the max of the `KH*KW` strided views, one
#   array of the output's size at a time.
#
# ## Where this lives in ndgrad
#
# - `ndgrad/mini/functional.py::im2col`, `ndgrad/mini/functional.py::_col2im`: the copy and its
#   adjoint.
# - `ndgrad/mini/functional.py::conv2d`, `ndgrad/mini/functional.py::max_pool2d`: composites.
# - `ndgrad/ops/conv.py::Conv`, `ndgrad/ops/conv.py::ConvGradInput`,
#   `ndgrad/ops/conv.py::ConvGradWeight`: one bilinear map seen from its three sides.
# - `ndgrad/ops/conv.py::_im2col`, `ndgrad/ops/conv.py::_col2im`: the fast layout.
#
# ## Exercises
#
# The check lives in `ndgrad.mini.exercises`; the solution is in
# [solutions/08_conv.py](solutions/08_conv.py). Try first.
#
# 1. **conv1d.** Using only mini Tensor ops (indexing with an integer array, `permute`,
#    `reshape`, `@`, `+`), write `conv1d(x, w, b, stride)` for `x (N, C, L)`, `w (O, C, K)` and
#    `b (O,)`. Build the patches with one fancy index (`x[:, :, positions]`); getitem's backward
#    will be your col2im. Check it with `check_conv1d(conv1d)`, against PyTorch's `F.conv1d`,
#    forward and gradients.
#
# Next: [9. Modules, parameters and optimizers](09-modules-optimizers.md).
