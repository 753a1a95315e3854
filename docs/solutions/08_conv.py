"""Chapter 8: conv1d from mini ops, im2col style."""

import numpy as np

from ndgrad.mini.exercises import check_conv1d


def conv1d(x, w, b, stride=1):
    n, c, length = x.shape
    o, _, k = w.shape
    out_len = (length - k) // stride + 1
    taps = np.arange(k)[:, None] + stride * np.arange(out_len)[None, :]  # (K, L_out) positions
    cols = x[:, :, taps]  # (N, C, K, L_out): getitem's backward adds the overlaps back
    rows = cols.permute(0, 3, 1, 2).reshape(n * out_len, c * k)  # one patch per row
    out = rows @ w.reshape(o, c * k).T  # (N * L_out, O)
    return out.reshape(n, out_len, o).permute(0, 2, 1) + b.reshape(1, o, 1)


if __name__ == "__main__":
    check_conv1d(conv1d)
    print("ok")
