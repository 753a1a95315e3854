"""Draw the docs' diagrams with matplotlib: python docs/images/make_images.py

topological-order.svg (chapter 3), broadcast-sum.svg (chapters 3 and 4), matmul-shapes.svg
(chapter 5) and im2col.svg (chapter 8). The SVGs are committed; rerun after changing a drawing.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402

HERE = Path(__file__).resolve().parent
plt.rcParams.update({"svg.hashsalt": "ndgrad", "svg.fonttype": "none", "font.size": 11,
                     "font.family": "sans-serif"})
BLUE, ORANGE, GREY, GREEN = "#4c78a8", "#f58518", "#9d9d9d", "#54a24b"


def canvas(width: float, height: float):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def save(fig, name: str) -> None:
    fig.savefig(HERE / name, bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


def arrow(ax, start, end, color="black", style="-|>", rad=0.0, **kw) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14, color=color,
                                 connectionstyle=f"arc3,rad={rad}", lw=1.4, **kw))


def grid(ax, x, y, rows, cols, size=0.4, color=BLUE, alpha=0.25, labels=None, lw=1.0):
    """A rows x cols grid of cells with its top-left corner at (x, y)."""
    for i in range(rows):
        for j in range(cols):
            ax.add_patch(Rectangle((x + j * size, y - (i + 1) * size), size, size,
                                   facecolor=color, alpha=alpha, edgecolor="black", lw=lw))
            if labels is not None:
                ax.text(x + (j + 0.5) * size, y - (i + 0.5) * size, labels[i][j],
                        ha="center", va="center", fontsize=9)


def topological_order() -> None:
    fig, ax = canvas(9.0, 3.0)
    nodes = [("x", 0.8, 2.2), ("w", 0.8, 0.8), ("x * w", 3.2, 1.5), ("+ x", 5.4, 1.5),
             ("sum", 7.6, 1.5)]
    for k, (name, x, y) in enumerate(nodes):
        leaf = k < 2
        ax.add_patch(Rectangle((x - 0.6, y - 0.3), 1.2, 0.6, facecolor=BLUE if leaf else ORANGE,
                               alpha=0.3, edgecolor="black"))
        ax.text(x, y, name, ha="center", va="center")
        ax.text(x - 0.55, y + 0.42, str(k + 1), ha="left", va="center", fontsize=9, color=GREY)
    for a, b, rad in [(0, 2, 0), (1, 2, 0), (2, 3, 0), (3, 4, 0)]:
        (_, x0, y0), (_, x1, y1) = nodes[a], nodes[b]
        arrow(ax, (x0 + 0.6, y0), (x1 - 0.6, y1))
    arrow(ax, (0.8, 2.5), (5.2, 1.8), rad=-0.35)  # x is used twice
    ax.text(4.5, 0.35, "topological order 1-5: every tensor after its inputs; backward visits "
            "5, 4, 3, 2, 1,\nso a tensor's gradient is complete before it is passed on "
            "(x collects from x * w and from + x)", ha="center", va="center", fontsize=9)
    save(fig, "topological-order.svg")


def broadcast_sum() -> None:
    fig, ax = canvas(10.0, 3.4)
    ax.text(0.2, 3.2, "forward: b (4,) is copied along the rows", fontsize=10)
    grid(ax, 0.3, 2.7, 1, 4, 0.45, GREEN, 0.45, [["b0", "b1", "b2", "b3"]])
    for i in range(3):
        grid(ax, 2.9, 2.7 - i * 0.02, 1, 4, 0.45, GREEN, 0.45 if i == 0 else 0.2)
    grid(ax, 2.9, 2.7, 3, 4, 0.45, GREEN, 0.2, [["b0", "b1", "b2", "b3"]] * 3)
    arrow(ax, (2.2, 2.48), (2.8, 2.48))
    ax.text(2.9 + 0.9, 1.15, "x + b: (3, 4)", ha="center", fontsize=9)
    ax.text(5.6, 3.2, "backward: the gradient of the copies is summed back", fontsize=10)
    grid(ax, 5.8, 2.7, 3, 4, 0.45, ORANGE, 0.3, [["g"] * 4] * 3)
    arrow(ax, (7.7, 2.05), (8.3, 2.05))
    ax.text(8.0, 2.25, "sum\ndim 0", ha="center", fontsize=8)
    grid(ax, 8.4, 2.28, 1, 4, 0.34, ORANGE, 0.6, [["Σ"] * 4])
    ax.text(9.08, 1.7, "b.grad: (4,)", ha="center", fontsize=9)
    ax.text(5.0, 0.4, "broadcasting copies a value; a value used several times gets the sum of "
            "their gradients (sum_to)", ha="center", fontsize=9)
    save(fig, "broadcast-sum.svg")


def matmul_shapes() -> None:
    unit = 0.32
    n, k, m = 5, 3, 4
    equations = [
        ("forward", [("Y", n, m, ORANGE), "=", ("X", n, k, BLUE), "@", ("W", k, m, BLUE)]),
        ("gradient of X", [("dL/dX", n, k, GREEN), "=", ("G = dL/dY", n, m, ORANGE), "@",
                           ("W.T", m, k, BLUE)]),
        ("gradient of W", [("dL/dW", k, m, GREEN), "=", ("X.T", k, n, BLUE), "@",
                           ("G", n, m, ORANGE)]),
    ]
    fig, ax = canvas(7.5, 8.9)
    dims = {n: "n", k: "k", m: "m"}
    y_top = 8.7
    for title, terms in equations:
        ax.text(0.1, y_top, title, fontsize=10, fontweight="bold", va="top")
        x, top = 1.9, y_top - 0.1
        for term in terms:
            if isinstance(term, str):
                ax.text(x + 0.25, top - n * unit / 2, term, ha="center", va="center",
                        fontsize=14)
                x += 0.5
                continue
            name, rows, cols, color = term
            ax.add_patch(Rectangle((x, top - rows * unit), cols * unit, rows * unit,
                                   facecolor=color, alpha=0.35, edgecolor="black"))
            ax.text(x + cols * unit / 2, top - rows * unit - 0.08,
                    f"{name}\n({dims[rows]}, {dims[cols]})", ha="center", va="top", fontsize=9)
            x += cols * unit + 0.1
        y_top -= n * unit + 1.0
    ax.text(0.1, 0.25, "X is (n, k) and W is (k, m): G @ W.T and X.T @ G are the only products\n"
            "of G with W or X that have the shapes of X and of W", fontsize=9, va="bottom")
    save(fig, "matmul-shapes.svg")


def im2col() -> None:
    fig, ax = canvas(11.0, 5.0)
    size = 0.42
    labels = [[f"{4 * i + j}" for j in range(4)] for i in range(4)]
    ax.text(0.3, 3.9, "image (4 x 4)", fontsize=10)
    grid(ax, 0.3, 3.7, 4, 4, size, BLUE, 0.15, labels)
    ax.add_patch(Rectangle((0.3 + size, 3.7 - 3 * size), 3 * size, 3 * size, fill=False,
                           edgecolor=ORANGE, lw=2.5))
    ax.text(0.3 + 2 * size, 3.7 - 4 * size - 0.15, "one 3 x 3 patch", color=ORANGE,
            ha="center", va="top", fontsize=9)
    patches = [[labels[r + i][c + j] for i in range(3) for j in range(3)]
               for r in range(2) for c in range(2)]
    arrow(ax, (2.2, 2.9), (2.9, 2.9))
    ax.text(3.0, 3.9, "im2col: one patch per row (4 positions x 9 taps)", fontsize=10)
    grid(ax, 3.0, 3.7, 4, 9, size, BLUE, 0.15, patches)
    ax.add_patch(Rectangle((3.0, 3.7 - 2 * size), 9 * size, size, fill=False, edgecolor=ORANGE,
                           lw=2.5))
    ax.text(3.0 + 9 * size + 0.3, 3.7 - 2 * size, "@", ha="center", va="center", fontsize=14)
    grid(ax, 3.0 + 9 * size + 0.6, 3.7 + 2.5 * size, 9, 1, size, GREEN, 0.3,
         [[f"w{t}"] for t in range(9)])
    ax.text(3.0 + 9.5 * size + 0.6, 3.7 - 6.6 * size, "kernel\n(9 taps)", ha="center",
            va="top", fontsize=9)
    x = 3.0 + 10 * size + 0.9
    ax.text(x, 3.7 - 2 * size, "=", ha="center", va="center", fontsize=14)
    grid(ax, x + 0.3, 3.7, 4, 1, size, ORANGE, 0.3, [["y0"], ["y1"], ["y2"], ["y3"]])
    ax.text(x + 0.3 + size / 2, 3.7 - 4 * size - 0.2, "output\n2 x 2", ha="center", va="top",
            fontsize=9)
    ax.text(5.5, 0.3, "pixel 5 is in all four patches: in backward (col2im) its four "
            "gradients are added up", ha="center", fontsize=9)
    save(fig, "im2col.svg")


if __name__ == "__main__":
    topological_order()
    broadcast_sum()
    matmul_shapes()
    im2col()
