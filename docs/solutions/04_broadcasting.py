"""Chapter 4: the backward of sum."""

import numpy as np

from ndgrad.mini.exercises import check_sum_backward


def sum_backward(grad, shape, dim, keepdim):
    if not keepdim:  # put the summed dims back, as size 1
        grad = np.expand_dims(grad, dim)
    return np.broadcast_to(grad, shape)  # each element contributed once: expand


if __name__ == "__main__":
    check_sum_backward(sum_backward)
    print("ok")
