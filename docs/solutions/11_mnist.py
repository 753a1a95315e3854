"""Chapter 11: softplus as an ndgrad Function."""

import ndgrad
from ndgrad.mini.exercises import check_softplus_function


class Softplus(ndgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0) + (-x.abs()).exp().log1p()  # log(1 + e^x) without overflow

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.sigmoid()  # d/dx log(1 + e^x) = sigmoid(x)


if __name__ == "__main__":
    check_softplus_function(Softplus)
    print("ok")
