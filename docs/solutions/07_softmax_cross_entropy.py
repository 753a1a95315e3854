"""Chapter 7: the backward of an MLP with cross-entropy, by hand."""

import numpy as np

from ndgrad.mini.exercises import check_mlp_backward


def mlp_backward(x, W1, b1, W2, b2, y):
    n = x.shape[0]
    # forward, keeping what backward needs
    pre = x @ W1.T + b1  # (N, H)
    hidden = np.maximum(pre, 0)
    logits = hidden @ W2.T + b2  # (N, C)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    # backward, last op first
    dlogits = (p - np.eye(W2.shape[0])[y]) / n  # chapter 7: (softmax - onehot) / N
    dW2, db2 = dlogits.T @ hidden, dlogits.sum(0)  # chapter 5's linear backward
    dhidden = dlogits @ W2
    dpre = dhidden * (pre > 0)  # relu passes the gradient where its input was positive
    dW1, db1 = dpre.T @ x, dpre.sum(0)
    return dW1, db1, dW2, db2


if __name__ == "__main__":
    check_mlp_backward(mlp_backward)
    print("ok")
