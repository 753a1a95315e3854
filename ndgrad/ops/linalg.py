"""Matrix products. MatMul is a primitive for speed: one BLAS call forward, two backward."""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np

from ndgrad._helpers import broadcast_error
from ndgrad.ops.base import Primitive


def check_matmul(xs: tuple[int, ...], ys: tuple[int, ...]) -> None:
    """Raise torch.matmul's error for shapes that cannot be multiplied (both at least 1-D).

    The messages follow how torch computes each case: dot, mv, mm, a batch folded into one
    matrix (batched @ 2-D or 1-D), or bmm over the broadcast batch dims."""
    k1, k2 = xs[-1], ys[-2] if len(ys) > 1 else ys[0]
    if len(xs) == 1 and len(ys) == 1:
        if k1 != k2:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{k1}] and src [{k2}] "
                               f"to have the same number of elements, but got {k1} and {k2} "
                               f"elements respectively")
        return
    if len(ys) <= 2:  # x folded into a (rows, k1) matrix: mm or mv
        if k1 != k2:
            rows = math.prod(xs[:-1])
            if len(ys) == 1:
                raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k1}), vec "
                                   f"({k2})")
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k1} and "
                               f"{ys[-2]}x{ys[-1]})")
        return
    bx, by = xs[:-2], ys[:-2]
    try:
        batch = np.broadcast_shapes(bx, by)
    except ValueError:
        raise broadcast_error(bx, by) from None
    if k1 != k2:
        b = math.prod(batch)
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b}, {k1}] but got: [{b}, {k2}].")


class MatMul(Primitive):
    """(..., n, k) @ (..., k, m); d(x@y) = grad @ y^T for x and x^T @ grad for y.

    Inputs are at least 2-D here: Tensor.matmul handles 1-D operands by reshaping, and the
    engine sums the gradient over broadcast batch dims."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(y if ctx.needs_input_grad[0] else None,
                              x if ctx.needs_input_grad[1] else None)
        return np.matmul(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        y, x = ctx.saved_like(grad)
        gx = grad @ y.mT if ctx.needs_input_grad[0] else None
        gy = x.mT @ grad if ctx.needs_input_grad[1] else None
        return gx, gy


class Einsum(Primitive):
    """einsum; each operand's gradient is another einsum of the gradient with the others."""

    array_backward = False  # einsum_grads broadcasts back with Tensor.expand

    @staticmethod
    def forward(ctx: Any, equation: Any, *xs: Any) -> Any:
        ins, out = _explicit(equation, [x.shape for x in xs])
        # an operand's gradient needs all the others: keep x_i only if another one needs grad
        need = ctx.needs_input_grad[1:]
        ctx.save_for_backward(*(x if any(need[:i] + need[i + 1:]) else None
                                for i, x in enumerate(xs)))
        ctx.shapes = [x.shape for x in xs]
        ctx.equation = ",".join(ins) + "->" + out  # no '...', explicit output
        # optimize lets NumPy contract through BLAS (tensordot): worth its planning cost only
        # for three or more operands or big ones (attention-sized inputs)
        product = _broadcast_product(ins, out, xs)
        if product is not None:
            return product
        big = len(xs) > 2 or max((x.size for x in xs), default=0) > 4096
        # a row-major result, as torch's usually is (NumPy's default follows the operands'
        # layout, which puts an expand()ed operand's broadcast dim innermost: seed 904536)
        return np.einsum(ctx.equation, *xs, optimize=big, order="C")

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return (None, *einsum_grads(ctx.equation, grad, ctx.saved_like(grad),
                                    ctx.needs_input_grad[1:], ctx.shapes))


def _broadcast_product(ins: list[str], out: str, xs: tuple[Any, ...]) -> Any:
    """Two operands and nothing to sum ('...,...->...', 'ij,j->ij'): each permuted into the
    output's order and multiplied with broadcasting, as torch multiplies them. NumPy's einsum
    adds each product to a zero, which turns -0.0 into 0.0 (and 1 / it into inf, not -inf:
    fuzz seeds 3100461, 3204973). None for any other equation."""
    if len(xs) != 2 or set("".join(ins)) != set(out) or any(
            len(set(sub)) != len(sub) for sub in ins):
        return None
    views = []
    for sub, x in zip(ins, xs, strict=True):
        order = sorted(range(len(sub)), key=lambda k: out.index(sub[k]))
        views.append(x.transpose(order).reshape(
            [x.shape[sub.index(c)] if c in sub else 1 for c in out]))
    return np.multiply(views[0], views[1], order="C")


def _explicit(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Check an einsum equation against the operands' shapes (torch's messages), and return
    operand and output subscripts with '...' spelled out in fresh letters and the implicit
    output made explicit ('ij,jk' means 'ij,jk->ik': broadcast dims, then the letters used once,
    sorted)."""
    lhs, arrow, rhs = equation.partition("->")
    ins = lhs.split(",")
    if len(ins) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    if len(ins) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    for k, c in enumerate(equation):
        if not (c.isascii() and c.isalpha()) and c not in ",.->":
            raise RuntimeError(f"einsum(): invalid subscript given at index {k} in the equation "
                               f"string, subscripts must be in [a-zA-Z]")
    letters = [c for c in lhs if c.isalpha()]
    fresh = [c for c in string.ascii_letters if c not in equation]
    counts = []
    for i, (sub, shape) in enumerate(zip(ins, shapes)):
        n = len(sub.replace("...", ""))
        if "..." not in sub and n != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) does not "
                               f"match the number of dimensions ({len(shape)}) for operand {i} "
                               f"and no ellipsis was given")
        if n > len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) is more "
                               f"than the number of dimensions ({len(shape)}) for operand {i}")
        counts.append(len(shape) - n if "..." in sub else 0)
    ell = fresh[:max(counts, default=0)]
    ins = [sub.replace("...", "".join(ell[len(ell) - k:])) for sub, k in zip(ins, counts)]
    if arrow:
        out = rhs.replace("...", "".join(ell))
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the "
                                   f"output")
            if c not in lhs and c not in ell:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand")
    else:
        out = "".join(ell) + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    size: dict[str, int] = {}
    for i, (sub, shape) in enumerate(zip(ins, shapes)):
        mine: dict[str, int] = {}
        for c, n in zip(sub, shape):
            if c in mine and mine[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but the "
                                   f"sizes don't match, {mine[c]} != {n}")
            mine[c] = n
            seen = size.get(c, 1)
            if n != 1 and seen != 1 and n != seen:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {seen}")
            size[c] = n if n != 1 else seen
    return ins, out


def einsum_grads(equation, grad, xs, needs, shapes):
    """d/d x_i of einsum(equation, *xs): an einsum of grad with the other operands into x_i's
    subscripts. Letters that only x_i has (summed away in forward) come back by broadcasting;
    a letter repeated in x_i (a diagonal, 'ii->i') comes back on the diagonal (times eye).
    ``xs`` holds None for an operand whose value no gradient needs; ``shapes`` every shape."""
    ins, out = _explicit(equation, [tuple(s) for s in shapes])
    grads: list[Any] = []
    for i, (sub, need) in enumerate(zip(ins, needs, strict=True)):
        if not need:
            grads.append(None)
            continue
        size = {}
        for c, n in zip(sub, shapes[i]):
            size[c] = n
        uniq = "".join(dict.fromkeys(sub))  # letters in order of first use
        others = [(s, y) for j, (s, y) in enumerate(zip(ins, xs, strict=True)) if j != i]
        avail = set(out).union(*(set(s) for s, _ in others))
        target = "".join(c for c in uniq if c in avail)
        g = Einsum.apply(",".join([out] + [s for s, _ in others]) + "->" + target, grad,
                         *(y for _, y in others))
        if target != uniq:  # letters summed away only here: broadcast back
            g = g.reshape([g.shape[target.index(c)] if c in target else 1 for c in uniq])
            g = g.expand([size[c] for c in uniq])
        if uniq != sub:  # repeated letters: put g on the diagonal, one eye per repeat
            fresh = iter(c for c in string.ascii_letters if c not in sub)
            renamed, eyes, seen = [], [], set()
            for c in sub:
                if c in seen:
                    r = next(fresh)
                    renamed.append(r)
                    eyes.append(c + r)
                else:
                    seen.add(c)
                    renamed.append(c)
            mats = [np.eye(size[e[0]], dtype=g._data.dtype) for e in eyes]
            g = Einsum.apply(",".join([uniq] + eyes) + "->" + "".join(renamed), g, *mats)
        grads.append(g)
    return grads
