"""Chapter 5: the backward of a linear layer, y = x @ W.T + b."""

import numpy as np

from ndgrad.mini.exercises import check_linear_backward


def linear_backward(x, W, b, grad):
    # y = x @ W.T: with V = W.T the rule is dx = G @ V.T = G @ W, dV = x.T @ G, so dW = G.T @ x
    dx = grad @ W
    dW = grad.T @ x
    db = grad.sum(axis=0)  # b was broadcast over the batch
    return dx, dW, db


if __name__ == "__main__":
    check_linear_backward(linear_backward)
    print("ok")
    del np
