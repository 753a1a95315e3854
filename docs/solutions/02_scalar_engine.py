"""Chapter 2: exp for Value, micrograd style."""

import math

from ndgrad.mini.exercises import check_value_exp
from ndgrad.scalar import Value


def exp(x: Value) -> Value:
    out = Value(math.exp(x.data), (x,), "exp")

    def _backward():
        x.grad += out.data * out.grad  # d/dx e^x = e^x, which is out.data

    out._backward = _backward
    return out


if __name__ == "__main__":
    check_value_exp(exp)
    print("ok")
