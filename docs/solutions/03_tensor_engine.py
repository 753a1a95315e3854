"""Chapter 3: tanh as a mini Function, and unbroadcast."""

import numpy as np

from ndgrad import mini
from ndgrad.mini.exercises import check_tanh_function, check_unbroadcast


class Tanh(mini.Function):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)  # the derivative needs only the output
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (1 - out * out)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    # dims that broadcasting added on the left, then size-1 dims it stretched
    leading = tuple(range(grad.ndim - len(shape)))
    stretched = tuple(len(leading) + i for i, n in enumerate(shape) if n == 1)
    return grad.sum(axis=leading + stretched, keepdims=True).reshape(shape)


if __name__ == "__main__":
    check_tanh_function(Tanh)
    check_unbroadcast(unbroadcast)
    print("ok")
