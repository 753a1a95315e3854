"""Chapter 14: the Laplacian, one Hessian row per input."""

from ndgrad.autograd import grad
from ndgrad.mini.exercises import check_laplacian


def laplacian(f, x):
    (g,) = grad(f(x), x, create_graph=True)  # the gradient, with a graph behind it
    total = 0.0
    for i in range(x.shape[0]):
        (row,) = grad(g[i], x, retain_graph=True)  # d g_i / dx: row i of the Hessian
        total += row[i].item()
    return total


if __name__ == "__main__":
    check_laplacian(laplacian)
    print("ok")
