"""Value: one number that remembers how it was made. Backpropagation in one short file.

This is ndgrad's first chapter (docs/01-derivatives.md and docs/02-scalar-engine.md walk through
it). A ``Value`` holds a number ``data`` and a gradient ``grad``. Each operation on Values makes a
new Value that remembers its inputs (``_prev``) and, for each input, the local derivative of the
result with respect to it (``_local_grads``): for ``out = a * b`` those are ``b.data`` and
``a.data``. ``backward()`` visits the graph from the output back to the inputs and applies the
chain rule at every op:

    input.grad += local_grad * out.grad

That is all of reverse-mode autograd. ndgrad's tensor engine (``ndgrad/autograd/engine.py``) is
the same walk with arrays in place of numbers.

The API is karpathy/micrograd's, so lessons written for micrograd run unchanged. This module uses
nothing from the tensor engine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from numbers import Real
from typing import Any


class Value:
    """A scalar with a gradient, and the edges to the Values it was computed from."""

    def __init__(self, data: float, _children: tuple[Value, ...] = (), _op: str = "",
                 label: str = "") -> None:
        if not isinstance(data, Real):
            raise TypeError(f"Value(data) expects a real number (int or float), "
                            f"got {type(data).__name__}")
        self.data: float = float(data)
        self.grad: float = 0.0  # d(output)/d(self), filled in by output.backward()
        self.label: str = label
        self._prev: tuple[Value, ...] = tuple(_children)  # the inputs of the op that made it
        self._op: str = _op  # that op's name, for repr and drawings (ndgrad/viz.py)
        self._local_grads: tuple[float, ...] = ()  # d(self)/d(input), one per input

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"

    # -- primitive ops: each computes its result and its local derivatives --------------------
    def __add__(self, other: Value | float) -> Value:
        other = _as_value(other)
        return _result(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other: Value | float) -> Value:
        other = _as_value(other)
        return _result(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, n: float) -> Value:
        """x ** n for a constant n: the derivative is n * x ** (n - 1)."""
        if isinstance(n, Value) or not isinstance(n, Real):
            raise TypeError(f"Value ** n needs a constant int or float n, got {type(n).__name__}; "
                            f"for a Value exponent y write (y * x.log()).exp()")
        out = self.data ** n
        if isinstance(out, complex):
            raise ValueError(f"{self.data} ** {n} is not a real number")
        if self.data == 0 and n < 1:  # 0 ** (n - 1) would divide by zero: the slope is 0 or inf
            local = 0.0 if n == 0 else math.inf
        else:
            local = n * self.data ** (n - 1)
        return _result(out, (self,), (local,), f"**{n}")

    def relu(self) -> Value:
        positive = self.data > 0
        return _result(self.data if positive else 0.0, (self,), (float(positive),), "ReLU")

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return _result(t, (self,), (1.0 - t * t,), "tanh")

    def exp(self) -> Value:
        e = math.exp(self.data)
        return _result(e, (self,), (e,), "exp")

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log() needs a Value with data > 0, got {self.data}")
        return _result(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def sigmoid(self) -> Value:
        """1 / (1 + e^-x), computed so that e^|x| never overflows; the derivative is s * (1 - s)."""
        if self.data >= 0:
            s = 1.0 / (1.0 + math.exp(-self.data))
        else:
            e = math.exp(self.data)
            s = e / (1.0 + e)
        return _result(s, (self,), (s * (1.0 - s),), "sigmoid")

    # -- composite ops: built from the primitives above, so they need no derivative of their own
    def __neg__(self) -> Value:  # -self
        return self * -1

    def __sub__(self, other: Value | float) -> Value:  # self - other
        return self + (-_as_value(other))

    def __truediv__(self, other: Value | float) -> Value:  # self / other
        return self * _as_value(other) ** -1

    def __radd__(self, other: float) -> Value:  # other + self
        return self + other

    def __rsub__(self, other: float) -> Value:  # other - self
        return _as_value(other) + (-self)

    def __rmul__(self, other: float) -> Value:  # other * self
        return self * other

    def __rtruediv__(self, other: float) -> Value:  # other / self
        return _as_value(other) * self ** -1

    # -- backpropagation -------------------------------------------------------------------------
    def backward(self) -> None:
        """Set ``v.grad`` to d(self)/d(v) for every Value v that self was computed from.

        Leaves (Values no op made: inputs and parameters) accumulate across calls, as in PyTorch,
        so zero them between steps with ``zero_grad()``. Interior Values restart from 0 on every
        call: their grads only carry this pass's gradient on to the leaves, and a stale value from
        an earlier pass would be counted again.
        """
        order = self._topological_order()
        for v in order:
            if v._prev:
                v.grad = 0.0
        self.grad = 1.0  # d(self)/d(self)
        for v in reversed(order):  # outputs before inputs: each grad is complete when passed on
            v._backward()

    def _backward(self) -> None:
        """The chain rule for the op that made this Value: pass its grad on to the op's inputs."""
        for child, local in zip(self._prev, self._local_grads):
            child.grad += local * self.grad

    def _topological_order(self) -> list[Value]:
        """Every Value self depends on, each after all of its inputs.

        A depth-first walk with an explicit stack instead of recursion, so a chain of 20,000 ops
        does not hit Python's recursion limit. An entry ``(v, True)`` means "v's inputs are done".
        """
        order: list[Value] = []
        visited: set[Value] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            v, inputs_done = stack.pop()
            if inputs_done:
                order.append(v)
            elif v not in visited:
                visited.add(v)
                stack.append((v, True))
                stack.extend((child, False) for child in v._prev if child not in visited)
        return order


def _as_value(x: Any) -> Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, Real):
        return Value(float(x))
    raise TypeError(f"Values combine with Values and real numbers (int, float), "
                    f"not {type(x).__name__}")


def _result(data: float, children: tuple[Value, ...], local_grads: tuple[float, ...],
            op: str) -> Value:
    out = Value(data, children, op)
    out._local_grads = local_grads
    return out


# -- a tiny neural network library on top of Value, as in micrograd's nn.py ----------------------
class Module:
    """What Neuron, Layer and MLP share: a list of parameters, and zeroing their gradients."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """relu(w . x + b), or just w . x + b with ``nonlin=False``; w starts uniform in [-1, 1]."""

    def __init__(self, nin: int, nonlin: bool = True) -> None:
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Iterable[Value | float]) -> Value:
        x = list(x)
        if len(x) != len(self.w):
            raise ValueError(f"this Neuron takes {len(self.w)} inputs, got {len(x)}")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons that all see the same input; one output Value per neuron."""

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Iterable[Value | float]) -> Value | list[Value]:
        x = list(x)
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out  # a layer of one neuron gives a Value, as micrograd

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes ``nin -> nouts[0] -> ... -> nouts[-1]``: ReLU between, linear at the end."""

    def __init__(self, nin: int, nouts: list[int]) -> None:
        sizes = [nin] + list(nouts)
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]

    def __call__(self, x: Iterable[Value | float]) -> Value | list[Value]:
        out: Any = x
        for layer in self.layers:
            out = layer([out] if isinstance(out, Value) else out)
        return out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
