"""Matrix products. MatMul is a primitive for speed: one BLAS call forward, two backward."""

from __future__ import annotations

import numpy as np

from ndgrad.ops.elementwise import Primitive


class MatMul(Primitive):
    """(..., n, k) @ (..., k, m); d(x@y) = grad @ y^T for x and x^T @ grad for y.

    Inputs are at least 2-D here: Tensor.matmul handles 1-D operands by reshaping, and the
    engine sums the gradient over broadcast batch dims."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(y if ctx.needs_input_grad[0] else None,
                              x if ctx.needs_input_grad[1] else None)
        return np.matmul(x, y)

    @staticmethod
    def backward(ctx, grad):
        y, x = ctx.saved_tensors
        gx = grad @ y.mT if ctx.needs_input_grad[0] else None
        gy = x.mT @ grad if ctx.needs_input_grad[1] else None
        return gx, gy


class Einsum(Primitive):
    """einsum; each operand's gradient is another einsum of the gradient with the others."""

    @staticmethod
    def forward(ctx, equation, *xs):
        ctx.save_for_backward(*xs)
        ctx.equation = equation
        return np.einsum(equation, *xs, optimize=len(xs) > 2)

    @staticmethod
    def backward(ctx, grad):
        from ndgrad.tensor import einsum_backward

        return (None, *einsum_backward(ctx.equation, grad, ctx.saved_tensors,
                                       ctx.needs_input_grad[1:]))


def einsum_grads(equation, grad, xs, needs):
    """d/d x_i of einsum(equation, *xs): einsum of grad with the other operands into x_i's
    subscripts. Letters that only x_i has (summed away in forward) come back by broadcasting;
    repeated letters (diagonals) are not supported for gradients."""
    from ndgrad.tensor import einsum

    lhs, _, out = equation.partition("->")
    ins = lhs.split(",")
    if not _:
        out = "".join(sorted(c for c in set(lhs.replace(",", "")) if lhs.count(c) == 1))
    if "." in equation:
        raise NotImplementedError("einsum gradients with '...' are not supported yet")
    grads = []
    for i, (sub, need) in enumerate(zip(ins, needs, strict=True)):
        if not need:
            grads.append(None)
            continue
        if len(set(sub)) != len(sub):
            raise NotImplementedError(f"einsum gradient for repeated subscripts '{sub}'")
        others = [(s, x) for j, (s, x) in enumerate(zip(ins, xs, strict=True)) if j != i]
        avail = set(out).union(*(set(s) for s, _ in others))
        target = "".join(c for c in sub if c in avail)
        eq = ",".join([out] + [s for s, _ in others]) + "->" + target
        g = einsum(eq, grad, *(x for _, x in others))
        if target != sub:  # letters summed away only here: broadcast back
            shape = [xs[i].shape[k] if c in target else 1 for k, c in enumerate(sub)]
            g = g.reshape([xs[i].shape[k] if c in target else 1 for k, c in enumerate(sub)])
            g = g.expand([xs[i].shape[k] for k in range(len(sub))])
            del shape
        grads.append(g)
    return grads
