"""Chapter 6: the backward of permute, gather and amax."""

import numpy as np

from ndgrad.mini.exercises import (check_amax_backward, check_gather_backward,
                                   check_permute_backward)


def permute_backward(grad, dims):
    return grad.transpose(np.argsort(dims))  # the inverse permutation


def gather_backward(grad, dim, index, input_shape):
    dx = np.zeros(input_shape)
    np.add.at(dx, _full_index(index, dim), grad)  # scatter-add: repeated indices add up
    return dx


def _full_index(index, dim):
    """The NumPy index that picks x[i0, ..., index[i], ..., ik] for every position i."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def amax_backward(x, grad, dim):
    biggest = x.max(axis=dim, keepdims=True)
    winners = x == biggest
    return np.expand_dims(grad, dim) * winners / winners.sum(axis=dim, keepdims=True)


if __name__ == "__main__":
    check_permute_backward(permute_backward)
    check_gather_backward(gather_backward)
    check_amax_backward(amax_backward)
    print("ok")
