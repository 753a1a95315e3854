"""A tensor engine in one file: the step between the scalar ``Value`` and ndgrad's real engine.

Read it after ``ndgrad/scalar.py`` (docs/03-tensor-engine.md walks through it). A ``Tensor``
holds a NumPy array ``data``; if it ``requires_grad``, backward fills its ``grad``. A tensor made
by an op also remembers its inputs (``_parents``) and a closure ``_backward`` that takes the
gradient of the op's output and returns one gradient per input. ``backward()`` puts the graph in
topological order and walks it in reverse, as ``Value.backward`` does, with arrays in place of
numbers. Two ideas are new:

- Broadcasting: an input of shape (3,) added to one of shape (2, 3) was used twice, so its
  gradient is the sum of both uses. Ops never think about this; the walk sums each gradient down
  to its input's shape (``sum_to``) once, at the edge.
- Composites: subtraction, mean, softmax, cross-entropy, conv2d and max-pooling are built from
  the primitives below and get their backward for free.

Every op here has a full-size counterpart in ndgrad, which adds speed, dtypes, checks and the
rest of PyTorch's API; docs/12-mini-to-ndgrad.md maps one to the other. No speed tricks here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np

Backward = Callable[[np.ndarray], Sequence[np.ndarray]]
Operand = Union["Tensor", float, np.ndarray]  # numbers and arrays are constants


def sum_to(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting: sum ``grad`` over the dims that broadcasting added or stretched."""
    while grad.ndim > len(shape):  # dims added on the left: (2, 3) + (3,) made (3,) into (2, 3)
        grad = grad.sum(axis=0)
    for dim, size in enumerate(shape):
        if size == 1 and grad.shape[dim] != 1:  # a size-1 dim stretched to match the other input
            grad = grad.sum(axis=dim, keepdims=True)
    return grad


class Tensor:
    """An array, its gradient, and the op that made it (its inputs and a backward closure)."""

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        self.data: np.ndarray = np.asarray(data, dtype=np.float64)  # one dtype: no promotion
        self.grad: np.ndarray | None = None  # d(output)/d(self), filled in by output.backward()
        self.requires_grad = requires_grad
        self._parents: tuple[Tensor, ...] = ()  # the inputs of the op that made this tensor
        self._backward: Backward | None = None  # gradient of self -> one gradient per parent
        self._op = ""  # that op's name, for repr

    def __repr__(self) -> str:
        grad_fn = f", op={self._op!r}" if self._op else ""
        return f"Tensor({self.data!r}{grad_fn})"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    def item(self) -> float:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> Tensor:
        """The same data, cut off from the graph."""
        return Tensor(self.data)

    # -- primitives: each computes its result and says how to send a gradient back ---------------
    def __add__(self, other: Operand) -> Tensor:
        other = as_tensor(other)
        return make(self.data + other.data, (self, other), lambda g: (g, g), "add")

    def __mul__(self, other: Operand) -> Tensor:
        other = as_tensor(other)
        x, y = self.data, other.data
        return make(x * y, (self, other), lambda g: (g * y, g * x), "mul")

    def __pow__(self, n: float) -> Tensor:
        """x ** n for a constant n: the derivative is n * x ** (n - 1)."""
        x = self.data
        return make(x**n, (self,), lambda g: (g * n * x ** (n - 1),), f"pow{n}")

    def exp(self) -> Tensor:
        e = np.exp(self.data)
        return make(e, (self,), lambda g: (g * e,), "exp")  # d/dx e^x = e^x: reuse the output

    def log(self) -> Tensor:
        x = self.data
        return make(np.log(x), (self,), lambda g: (g / x,), "log")

    def tanh(self) -> Tensor:
        t = np.tanh(self.data)
        return make(t, (self,), lambda g: (g * (1 - t * t),), "tanh")

    def sigmoid(self) -> Tensor:
        s = 0.5 * (1 + np.tanh(0.5 * self.data))  # = 1 / (1 + e^-x), without overflow in e^-x
        return make(s, (self,), lambda g: (g * s * (1 - s),), "sigmoid")

    def relu(self) -> Tensor:
        positive = self.data > 0
        return make(self.data * positive, (self,), lambda g: (g * positive,), "relu")

    def sum(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        x = self.data

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            if dim is not None and not keepdim:  # put the summed dims back as size 1
                g = np.expand_dims(g, dim)
            return (np.broadcast_to(g, x.shape),)  # every element contributed once

        return make(x.sum(axis=dim, keepdims=keepdim), (self,), backward, "sum")

    def amax(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """The largest element along dim; as torch.amax, tied maxima share the gradient evenly."""
        x = self.data
        biggest = x.max(axis=dim, keepdims=True)
        winners = x == biggest
        share = winners / winners.sum(axis=dim, keepdims=True)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            if dim is not None and not keepdim:
                g = np.expand_dims(g, dim)
            return (g * share,)

        return make(x.max(axis=dim, keepdims=keepdim), (self,), backward, "amax")

    def reshape(self, *shape: int) -> Tensor:
        x_shape = self.shape
        return make(self.data.reshape(shape), (self,), lambda g: (g.reshape(x_shape),), "reshape")

    def permute(self, *dims: int) -> Tensor:
        """Reorder the dims; the backward puts them back with the inverse permutation."""
        inverse = np.argsort(dims)
        return make(self.data.transpose(dims), (self,), lambda g: (g.transpose(inverse),),
                    "permute")

    def __getitem__(self, index: Any) -> Tensor:
        """Slices, ints and integer arrays, as NumPy indexes them."""
        x_shape = self.shape

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            dx = np.zeros(x_shape, dtype=g.dtype)
            np.add.at(dx, index, g)  # add, not assign: an index may pick an element twice
            return (dx,)

        return make(self.data[index], (self,), backward, "getitem")

    def __matmul__(self, other: Tensor) -> Tensor:
        """(..., n, k) @ (..., k, m); the gradients are G @ Y^T and X^T @ G (docs chapter 5)."""
        x, y = self.data, other.data
        if x.ndim < 2 or y.ndim < 2:
            raise ValueError(f"mini matmul needs two tensors of 2 or more dims, got shapes "
                             f"{x.shape} and {y.shape}; reshape a vector to (1, n) or (n, 1)")

        def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return g @ y.swapaxes(-1, -2), x.swapaxes(-1, -2) @ g

        return make(x @ y, (self, other), backward, "matmul")

    # -- composites: built from the primitives, so they need no backward of their own ------------
    def __neg__(self) -> Tensor:
        return self * -1.0

    def __sub__(self, other: Operand) -> Tensor:
        return self + (-as_tensor(other))

    def __truediv__(self, other: Operand) -> Tensor:
        return self * as_tensor(other) ** -1

    def __radd__(self, other: Operand) -> Tensor:
        return self + other

    def __rsub__(self, other: Operand) -> Tensor:
        return as_tensor(other) - self

    def __rmul__(self, other: Operand) -> Tensor:
        return self * other

    def __rtruediv__(self, other: Operand) -> Tensor:
        return as_tensor(other) / self

    def mean(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        out = self.sum(dim, keepdim)
        return out * (out.numel() / self.numel())  # divide by the number of elements summed

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    @property
    def T(self) -> Tensor:  # noqa: N802 (torch's name)
        return self.permute(*reversed(range(self.ndim)))

    def flatten(self, start_dim: int = 0) -> Tensor:
        return self.reshape(*self.shape[:start_dim], -1)

    # -- backpropagation ---------------------------------------------------------------------------
    def backward(self, grad: np.ndarray | None = None) -> None:
        """Add d(self)/d(t) to ``t.grad`` for every tensor t that requires grad (the leaves)."""
        if grad is None:
            if self.numel() != 1:
                raise RuntimeError(f"backward() without a gradient needs a one-element tensor, "
                                   f"got shape {self.shape}: pass grad= of that shape")
            grad = np.ones_like(self.data)
        grads = {self: np.asarray(grad, dtype=np.float64)}  # gradients not yet passed on
        for t in reversed(self._topological_order()):
            g = grads.pop(t)
            if t._backward is None:  # a leaf: keep its gradient, adding to an earlier one
                t.grad = g if t.grad is None else t.grad + g
                continue
            for parent, parent_grad in zip(t._parents, t._backward(g)):
                if parent.requires_grad:
                    parent_grad = sum_to(parent_grad, parent.shape)  # undo broadcasting here
                    grads[parent] = grads[parent] + parent_grad if parent in grads else parent_grad

    def _topological_order(self) -> list[Tensor]:
        """Every tensor that needs a gradient, each after the tensors it was computed from.

        A depth-first walk with an explicit stack (no recursion, so no RecursionError on a deep
        graph): a tensor is appended once all its parents have been.
        """
        order: list[Tensor] = []
        visited = {self}
        stack = [(self, iter(self._parents))]
        while stack:
            t, parents = stack[-1]
            parent = next(parents, None)
            if parent is None:  # all parents done
                order.append(t)
                stack.pop()
            elif parent.requires_grad and parent not in visited:
                visited.add(parent)
                stack.append((parent, iter(parent._parents)))
        return order


def as_tensor(x: Tensor | Any) -> Tensor:
    """Numbers and arrays become constants: tensors that need no gradient."""
    return x if isinstance(x, Tensor) else Tensor(x)


def make(data: np.ndarray, parents: tuple[Tensor, ...], backward: Backward, op: str) -> Tensor:
    """The result of an op. It joins the graph only if an input needs a gradient."""
    out = Tensor(data)
    if any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents, out._backward, out._op = parents, backward, op
    return out


class Context:
    """What a Function's forward leaves for its backward."""

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        self.saved = arrays


class Function:
    """An op written as a class, the way ndgrad and PyTorch write theirs.

    ``forward(ctx, *arrays)`` computes the result from plain arrays and stores what backward
    needs on ``ctx``; ``backward(ctx, grad)`` returns one gradient per input. ``apply`` turns the
    pair into the closure that every other op here builds by hand: ``ctx`` holds what the closure
    would have captured.
    """

    @staticmethod
    def forward(ctx: Context, *args: np.ndarray) -> np.ndarray:
        raise NotImplementedError("a Function needs a forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        raise NotImplementedError("a Function needs a backward(ctx, grad)")

    @classmethod
    def apply(cls, *inputs: Tensor | float) -> Tensor:
        ctx = Context()
        tensors = tuple(as_tensor(x) for x in inputs)
        out = cls.forward(ctx, *(t.data for t in tensors))

        def backward(g: np.ndarray) -> Sequence[np.ndarray]:
            grads = cls.backward(ctx, g)
            return grads if isinstance(grads, tuple) else (grads,)

        return make(out, tensors, backward, cls.__name__)
