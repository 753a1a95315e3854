"""Modules and optimizers for the mini engine, in PyTorch's shape (docs/09-modules-optimizers.md).

A ``Parameter`` is a Tensor that requires grad. A ``Module`` finds its parameters by looking
through its own attributes: Parameters, sub-Modules and lists of Modules, in the order they were
set. An optimizer holds the list of parameters and moves each one against its ``grad``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ndgrad.mini import functional as F
from ndgrad.mini.engine import Tensor

rng = np.random.default_rng(0)  # the mini engine's one source of randomness (init, dropout)


def manual_seed(seed: int) -> None:
    """Restart the random numbers, for runs that repeat exactly."""
    global rng
    rng = np.random.default_rng(seed)


class Parameter(Tensor):
    """A Tensor that is a module's weight: it requires grad, and Module.parameters() finds it."""

    def __init__(self, data: Any) -> None:
        super().__init__(data, requires_grad=True)


class Module:
    training = True

    def __call__(self, *args: Any) -> Tensor:
        return self.forward(*args)

    def forward(self, *args: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} needs a forward() method")

    def children(self) -> Iterator[Module]:
        """The sub-modules held in attributes (directly or in a list), in the order set."""
        for value in vars(self).values():
            for item in value if isinstance(value, list | tuple) else [value]:
                if isinstance(item, Module):
                    yield item

    def parameters(self) -> list[Parameter]:
        own = [v for v in vars(self).values() if isinstance(v, Parameter)]
        return own + [p for child in self.children() for p in child.parameters()]

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout on); ``eval()`` is train(False). Applies to every sub-module."""
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None


def _uniform(bound: float, *shape: int) -> Parameter:
    return Parameter(rng.uniform(-bound, bound, size=shape))


class Linear(Module):
    """x @ W.T + b with W of shape (out, in), initialized as torch.nn.Linear is."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        bound = 1 / math.sqrt(in_features)
        self.weight = _uniform(bound, out_features, in_features)
        self.bias = _uniform(bound, out_features) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias


class Conv2d(Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> None:
        bound = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.weight = _uniform(bound, out_channels, in_channels, kernel_size, kernel_size)
        self.bias = _uniform(bound, out_channels)
        self.stride, self.padding = stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class MaxPool2d(Module):
    def __init__(self, kernel_size: int) -> None:
        self.kernel_size = kernel_size

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size)


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Flatten(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)


class Dropout(Module):
    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, rng)


class Sequential(Module):
    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class SGD:
    """p -= lr * v with v = momentum * v + grad (v = grad at the first step), as torch.optim.SGD."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity: list[np.ndarray | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad + self.weight_decay * p.data
            if self.momentum:
                v = self.velocity[i]
                g = self.velocity[i] = g if v is None else self.momentum * v + g
            p.data -= self.lr * g


class Adam:
    """Adam with torch's defaults: running means of the gradient (m) and of its square (v),
    corrected for starting at zero, and a step of lr * m / (sqrt(v) + eps)."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.t = 0  # steps taken

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            m[:] = b1 * m + (1 - b1) * p.grad
            v[:] = b2 * v + (1 - b2) * p.grad**2
            m_hat = m / (1 - b1**self.t)  # m and v start at 0: undo that bias
            v_hat = v / (1 - b2**self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
