"""Chapter 9: SGD with momentum."""

from ndgrad.mini.exercises import check_sgd_momentum


class SGDMomentum:
    def __init__(self, params, lr, momentum):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.velocity = [None] * len(self.params)  # made at the first step, as torch does

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for i, p in enumerate(self.params):
            v = self.velocity[i]
            v = p.grad if v is None else self.momentum * v + p.grad
            self.velocity[i] = v
            p.data = p.data - self.lr * v


if __name__ == "__main__":
    check_sgd_momentum(SGDMomentum)
    print("ok")
