"""ndgrad.viz.draw_graph: the DOT text for Value and Tensor graphs, and rendering with dot."""

import re
import shutil
import subprocess
import sys

import pytest

graphviz = pytest.importorskip("graphviz")

import ndgrad  # noqa: E402
from ndgrad import Value  # noqa: E402
from ndgrad.viz import draw_graph  # noqa: E402

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="the Graphviz 'dot' program is not installed")


def node_labels(source: str) -> dict[str, str]:
    return dict(re.findall(r'^\t(\w+) \[label=("[^"]*"|\w+)', source, re.M))


def edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\t(\w+) -> (\w+)", source, re.M)


def name_of(source: str, text: str) -> str:
    """The one node whose label is ``text``, or else the one whose label contains it."""
    labels = node_labels(source)
    (name,) = [n for n, label in labels.items() if label == text] or [
        n for n, label in labels.items() if text in label]
    return name


# -- Value graphs ---------------------------------------------------------------------------------
def test_value_graph_has_a_box_per_value_and_an_oval_per_op():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    d = c + a
    d.label = "d"
    d.backward()
    dot = draw_graph(d)
    src = dot.source
    assert isinstance(dot, graphviz.Digraph)
    assert "rankdir=LR" in src
    labels = node_labels(src)
    assert len(labels) == 4 + 2  # four values, two ops
    assert labels[name_of(src, "{ a |")] == '"{ a | data 2 | grad -2 }"'
    assert labels[name_of(src, "{ b |")] == '"{ b | data -3 | grad 2 }"'
    assert labels[name_of(src, "{ d |")] == '"{ d | data -4 | grad 1 }"'
    mul, add = name_of(src, '"*"'), name_of(src, '"+"')
    na, nb, nc, nd = (name_of(src, f"{{ {x} |") for x in "abcd")
    # forward direction: inputs -> op -> result
    assert sorted(edges(src)) == sorted([(na, mul), (nb, mul), (mul, nc), (nc, add), (na, add),
                                         (add, nd)])


def test_value_used_twice_gets_two_edges_and_labels_are_escaped():
    a = Value(1.5, label="x{1}|<y>")
    y = a + a
    src = draw_graph(y).source
    na = name_of(src, "x")
    assert r"x\{1\}\|\<y\>" in src
    assert edges(src).count((na, name_of(src, '"+"'))) == 2


def test_value_graph_of_a_leaf_and_of_a_deep_chain():
    src = draw_graph(Value(3.0)).source
    assert len(node_labels(src)) == 1 and not edges(src)

    x = Value(1.0)
    y = x
    for _ in range(20_000):  # walked without recursion
        y = y.relu()
    dot = draw_graph(y, max_nodes=40)
    labels = node_labels(dot.source)
    assert len(labels) == 40 * 2 + 1  # 40 values, their 40 ops, and the note
    assert "19961 more values/ops not drawn" in labels["truncated"]
    # the note points at the op whose input was cut off
    assert [e for e in edges(dot.source) if e[0] == "truncated"] == [("truncated", "v39_op")]


# -- Tensor graphs ----------------------------------------------------------------------------
def test_tensor_graph_draws_ops_leaves_and_the_root():
    x = ndgrad.randn(2, 3, requires_grad=True)
    w = ndgrad.randn(3, 4, dtype=ndgrad.float64, requires_grad=True)
    const = ndgrad.ones(4)  # no grad: not part of the graph
    loss = ((x.double() @ w).relu() * const).sum()
    src = draw_graph(loss, params={"x": x, "weight": w}, rankdir="TB").source
    assert "rankdir=TB" in src
    labels = node_labels(src)
    root = name_of(src, "output")
    assert labels[root] == '"{ output | () | float64 | requires_grad=True }"'
    assert labels[name_of(src, "{ x |")] == '"{ x | (2, 3) | float32 | requires_grad=True }"'
    assert labels[name_of(src, "weight")] == '"{ weight | (3, 4) | float64 | requires_grad=True }"'
    ops = {label for label in labels.values() if "{" not in label}
    assert ops == {"SumBackward", "MulBackward", "ReluBackward", "MatMulBackward", "CastBackward"}
    chain = [name_of(src, op) for op in ("CastBackward", "MatMulBackward", "ReluBackward",
                                         "MulBackward", "SumBackward")]
    expected = list(zip(chain, chain[1:])) + [(chain[-1], root),
                                             (name_of(src, "{ x |"), chain[0]),
                                             (name_of(src, "weight"), chain[1])]
    assert sorted(edges(src)) == sorted(expected)
    assert "(4,)" not in src  # the constant is not drawn


def test_tensor_graph_of_a_leaf_and_unnamed_leaves():
    t = ndgrad.zeros(3)
    assert node_labels(draw_graph(t).source) == {
        "n0": '"{ output | (3,) | float32 | requires_grad=False }"'}
    a = ndgrad.randn(5, requires_grad=True)
    src = draw_graph((a * a).sum()).source
    leaf = name_of(src, "(5,)")
    assert node_labels(src)[leaf] == '"{ (5,) | float32 | requires_grad=True }"'
    assert edges(src).count((leaf, name_of(src, "MulBackward"))) == 2


def test_tensor_graph_labels_outputs_of_multi_output_ops():
    class Split(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 3

    x = ndgrad.randn(3, requires_grad=True)
    p, q = Split.apply(x)
    src = draw_graph((p * q).sum()).source
    split, mul = name_of(src, "SplitBackward"), name_of(src, "MulBackward")
    assert f'{split} -> {mul} [label="[0]"]' in src
    assert f'{split} -> {mul} [label="[1]"]' in src


def test_tensor_graph_is_capped():
    x = ndgrad.randn(2, requires_grad=True)
    y = x
    for _ in range(500):
        y = y.exp().log()
    labels = node_labels(draw_graph(y.sum(), max_nodes=10).source)
    assert len(labels) == 11
    # 1000 ops, the sum, the leaf and the root: 1003 items
    assert "993 more values/ops not drawn" in labels["truncated"]


def test_bad_arguments():
    with pytest.raises(TypeError, match="ndgrad.Value or ndgrad.Tensor"):
        draw_graph(3.0)
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(Value(1.0), rankdir="sideways")
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(Value(1.0), max_nodes=0)


def test_ndgrad_import_does_not_import_graphviz():
    code = ("import sys, ndgrad; assert 'graphviz' not in sys.modules, 'graphviz'; "
            "assert 'ndgrad.viz' not in sys.modules, 'viz'")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- rendering ----------------------------------------------------------------------------------
def test_rendering_without_dot_says_how_to_install_it(monkeypatch, tmp_path):
    dot = draw_graph(Value(2.0) * 3)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot on PATH
    with pytest.raises(graphviz.ExecutableNotFound, match="apt-get install graphviz"):
        dot.pipe()
    with pytest.raises(graphviz.ExecutableNotFound, match="brew install graphviz"):
        dot.render(tmp_path / "graph")
    assert "digraph" in dot.source  # the DOT text needs no install


@needs_dot
def test_renders_svg_for_values_and_tensors(tmp_path):
    a = Value(-1.0, label='odd "label" {x}')
    svg = draw_graph((a * 2).tanh()).pipe(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "tanh" in svg and "odd" in svg

    x = ndgrad.randn(4, 3, requires_grad=True)
    out = draw_graph((x.exp() / x.exp().sum(1, keepdim=True) * x).sum(), format="png")
    path = out.render(tmp_path / "graph")
    assert path.endswith(".png")
    assert (tmp_path / "graph.png").read_bytes()[:4] == b"\x89PNG"
