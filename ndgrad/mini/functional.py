"""The mini engine's layers as functions: losses, convolution and pooling.

All but one are composites of the primitives in ``engine.py``, so none has a backward of its
own. The exception is ``im2col``, which copies every kernel-sized patch of an image into a column;
its backward is ``col2im``, which adds each column back where it came from (docs/08-conv.md).
"""

from __future__ import annotations

import numpy as np

from ndgrad.mini.engine import Tensor, make


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - log(sum(exp(x))), shifted first by the max so that exp cannot overflow."""
    shifted = x - x.data.max(axis=dim, keepdims=True)  # a constant: softmax ignores shifts
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return log_softmax(x, dim).exp()


def cross_entropy(logits: Tensor, target: np.ndarray) -> Tensor:
    """The mean over the batch of -log p[target]: logits (N, C), target N class numbers."""
    n = logits.shape[0]
    return -log_softmax(logits, dim=1)[np.arange(n), np.asarray(target)].mean()


def _im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, KH, KW, OH, OW): cols[n, c, i, j] is the image seen through tap (i, j)
    of the kernel at every output position."""
    n, c, h, w = x.shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):  # one strided slice per kernel tap: KH * KW copies, not N * OH * OW
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return cols


def _col2im(cols: np.ndarray, x_shape: tuple[int, ...], stride: int, padding: int) -> np.ndarray:
    """The adjoint of _im2col: add every column entry back to the pixel it was copied from."""
    n, c, h, w = x_shape
    kh, kw, oh, ow = cols.shape[2:]
    x = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):  # += : a pixel seen by several taps collects all their gradients
            x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += cols[:, :, i, j]
    return x[:, :, padding:padding + h, padding:padding + w]


def im2col(x: Tensor, kh: int, kw: int, stride: int = 1, padding: int = 0) -> Tensor:
    """Every KH x KW patch of the images as a column; the backward is col2im."""
    x_shape = x.shape
    return make(_im2col(x.data, kh, kw, stride, padding), (x,),
                lambda g: (_col2im(g, x_shape, stride, padding),), "im2col")


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding: int = 0) -> Tensor:
    """x (N, C, H, W), weight (O, C, KH, KW) -> (N, O, OH, OW), as one matmul over patches."""
    o, c, kh, kw = weight.shape
    cols = im2col(x, kh, kw, stride, padding)  # (N, C, KH, KW, OH, OW)
    n, oh, ow = cols.shape[0], cols.shape[4], cols.shape[5]
    rows = cols.permute(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, c * kh * kw)  # a patch per row
    out = rows @ weight.reshape(o, c * kh * kw).T  # (N*OH*OW, O)
    out = out.reshape(n, oh, ow, o).permute(0, 3, 1, 2)  # (N, O, OH, OW)
    return out if bias is None else out + bias.reshape(1, o, 1, 1)


def max_pool2d(x: Tensor, kernel_size: int, stride: int | None = None) -> Tensor:
    """The largest value of each window: im2col, then amax over the window's taps."""
    stride = stride or kernel_size
    cols = im2col(x, kernel_size, kernel_size, stride)  # (N, C, K, K, OH, OW)
    n, c, _, _, oh, ow = cols.shape
    return cols.reshape(n, c, kernel_size * kernel_size, oh, ow).amax(dim=2)


def dropout(x: Tensor, p: float, training: bool, rng: np.random.Generator) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p), when training."""
    if not training or p == 0:
        return x
    keep = rng.random(x.shape) >= p
    return x * (keep / (1 - p))
