"""Chapter 15: a Jacobian-vector product with dual numbers."""

import numpy as np

from ndgrad.mini.exercises import check_jvp


class Dual:
    """value + tangent * eps with eps**2 = 0: arithmetic carries the derivative along."""

    def __init__(self, value, tangent):
        self.value, self.tangent = value, tangent

    def __add__(self, other):
        return Dual(self.value + other.value, self.tangent + other.tangent)

    def __mul__(self, other):  # product rule
        return Dual(self.value * other.value,
                    self.tangent * other.value + self.value * other.tangent)

    def sin(self):
        return Dual(np.sin(self.value), np.cos(self.value) * self.tangent)


def jvp(x, v):
    d = Dual(x, v)
    out = d.sin() * d * d + d
    return out.value, out.tangent


if __name__ == "__main__":
    check_jvp(jvp)
    print("ok")
