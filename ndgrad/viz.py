"""Pictures of computation graphs: ``draw_graph(root)`` for a ``Value`` or a ``Tensor``.

Values (``ndgrad/scalar.py``) keep their inputs, so their graph is drawn value by value: a box per
Value with its data and grad, an oval per op. A Tensor's graph is made of ``grad_fn`` nodes
(``ndgrad/autograd/function.py``) that know the nodes before them (``next_functions``) but not the
tensors between them, so it is drawn as PyTorch's is: an oval per op (``MulBackward``), a box per
leaf that requires grad (reached through its ``AccumulateGrad`` node), and a box for the root.

Edges follow the forward pass, inputs to outputs. The result is a ``graphviz.Digraph``: its
``.source`` is DOT text; rendering it (``.render()``, ``.pipe()``, display in Jupyter) needs the
Graphviz ``dot`` program. This module is imported only when used, and imports ``graphviz`` only
when called, so ndgrad itself needs neither.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

from ndgrad.autograd.function import AccumulateGrad, Node
from ndgrad.scalar import Value
from ndgrad.tensor import Tensor

_INSTALL_DOT = (
    "Rendering a graph needs the Graphviz 'dot' program: install it with "
    "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or from "
    "https://graphviz.org/download/. The DOT text in `.source` works without it."
)

_LEAF, _ROOT, _OP, _NOTE = "lightblue", "darkolivegreen1", "lightgrey", "lightyellow"


def draw_graph(root: Value | Tensor, format: str = "svg", rankdir: str = "LR",
               max_nodes: int = 300, params: Mapping[str, Tensor] | None = None) -> Any:
    """Draw the graph that computed ``root`` and return it as a ``graphviz.Digraph``.

    ``max_nodes`` caps how many values and ops are drawn (the ones nearest the root); a note in
    the picture says how many were left out. ``params`` names tensors, as in
    ``draw_graph(loss, params=dict(model.named_parameters()))``.
    """
    graphviz = _import_graphviz()
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be one of 'LR', 'RL', 'TB', 'BT', got {rankdir!r}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1, got {max_nodes}")
    dot = _digraph_class(graphviz)(format=format, graph_attr={"rankdir": rankdir},
                                   node_attr={"fontname": "Helvetica", "fontsize": "11"})
    if isinstance(root, Value):
        _draw_values(dot, root, max_nodes)
    elif isinstance(root, Tensor):
        names = {id(t): name for name, t in (params or {}).items()}
        _draw_tensors(dot, root, max_nodes, names)
    else:
        raise TypeError(f"draw_graph expects an ndgrad.Value or ndgrad.Tensor, "
                        f"got {type(root).__name__}")
    return dot


# -- walking: breadth-first from the root, so a cap keeps the ops nearest the output ---------------
def _walk(root: Hashable, inputs: Callable[[Any], list[Any]]) -> list[Any]:
    """Everything reachable from ``root`` through ``inputs``, nearest first (no recursion)."""
    order, seen = [root], {root}
    i = 0
    while i < len(order):
        for x in inputs(order[i]):
            if x not in seen:
                seen.add(x)
                order.append(x)
        i += 1
    return order


def _add_note(dot: Any, total: int, shown: int, cut: list[str]) -> None:
    """A visible note on a capped drawing, with dashed edges to the nodes whose inputs it hides."""
    dot.node("truncated", f"{total - shown} more values/ops not drawn\n(showing {shown} of "
             f"{total}; raise max_nodes to see more)", shape="note", style="filled",
             fillcolor=_NOTE)
    for name in cut:
        dot.edge("truncated", name, style="dashed")


# -- Value graphs ---------------------------------------------------------------------------------
def _draw_values(dot: Any, root: Value, max_nodes: int) -> None:
    order = _walk(root, lambda v: list(v._prev))
    kept = order[:max_nodes]
    ids = {v: f"v{i}" for i, v in enumerate(kept)}
    cut = []
    for v in kept:
        fields = [_escape(v.label)] if v.label else []
        fields += [f"data {v.data:.4g}", f"grad {v.grad:.4g}"]
        color = _ROOT if v is root else _LEAF if not v._prev else "white"
        dot.node(ids[v], "{ " + " | ".join(fields) + " }", shape="record", style="filled",
                 fillcolor=color)
        if v._prev:
            op = ids[v] + "_op"
            dot.node(op, _escape(v._op, record=False) or "?", shape="ellipse", style="filled",
                     fillcolor=_OP)
            dot.edge(op, ids[v])
            for child in v._prev:  # an input used twice (a + a) gets two edges
                if child in ids:
                    dot.edge(ids[child], op)
            if any(child not in ids for child in v._prev):
                cut.append(op)
    if len(order) > len(kept):
        _add_note(dot, len(order), len(kept), cut)


# -- Tensor graphs ----------------------------------------------------------------------------
def _draw_tensors(dot: Any, root: Tensor, max_nodes: int, names: dict[int, str]) -> None:
    def inputs(item: Any) -> list[Any]:
        if item is root:
            return [root.grad_fn] if root.grad_fn is not None else []
        return [n for n, _ in item.next_functions if n is not None]

    # the root tensor is an item of the walk beside the nodes; its grad_fn is never itself
    order = _walk(_RootKey(root), lambda k: inputs(k.tensor if isinstance(k, _RootKey) else k))
    kept = order[:max_nodes]
    ids = {item: f"n{i}" for i, item in enumerate(kept)}
    cut = []
    for item in kept:
        name = ids[item]
        if isinstance(item, _RootKey):
            dot.node(name, _tensor_label(root, names, "output"), shape="record", style="filled",
                     fillcolor=_ROOT)
            if root.grad_fn is not None:
                if root.grad_fn in ids:
                    dot.edge(ids[root.grad_fn], name, label=_output_nr(root.grad_fn,
                                                                        root._output_nr))
                else:
                    cut.append(name)
            continue
        if isinstance(item, AccumulateGrad):  # a leaf: draw the tensor, not the node
            dot.node(name, _tensor_label(item.variable, names, ""), shape="record",
                     style="filled", fillcolor=_LEAF)
            continue
        dot.node(name, _escape(item.name(), record=False), shape="ellipse", style="filled",
                 fillcolor=_OP)
        for nxt, nr in item.next_functions:
            if nxt is None:
                continue  # an input that does not require grad: not part of the graph
            if nxt in ids:
                dot.edge(ids[nxt], name, label=_output_nr(nxt, nr))
            elif name not in cut:
                cut.append(name)
    if len(order) > len(kept):
        _add_note(dot, len(order), len(kept), cut)


class _RootKey:
    """Stands for the root tensor in the walk: Tensor's == is elementwise, so it is no set key."""

    def __init__(self, tensor: Tensor) -> None:
        self.tensor = tensor


def _output_nr(node: Node, nr: int) -> str | None:
    return f"[{nr}]" if node._n_outputs > 1 else None  # which output of a multi-output op


def _tensor_label(t: Tensor, names: dict[int, str], default: str) -> str:
    name = names.get(id(t)) or getattr(t, "name", None) or getattr(t, "label", None) or default
    fields = [_escape(str(name))] if name else []
    fields += [str(tuple(t.shape)), str(t.dtype).replace("ndgrad.", ""),
               f"requires_grad={t.requires_grad}"]
    return "{ " + " | ".join(fields) + " }"


def _escape(text: str, record: bool = True) -> str:
    """Escape the characters that mean something in a Graphviz label (more in a record's)."""
    for ch in "\\\"{}|<>" if record else "\\\"":
        text = text.replace(ch, "\\" + ch)
    return text


# -- graphviz, imported when first used ---------------------------------------------------------
def _import_graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise ImportError("ndgrad.viz.draw_graph needs the graphviz Python package: "
                          "pip install graphviz (or pip install 'ndgrad[viz]')") from None
    return graphviz


@functools.cache
def _digraph_class(graphviz: Any) -> type:
    """graphviz.Digraph whose rendering errors say how to install ``dot`` when it is missing."""

    @contextlib.contextmanager
    def install_hint() -> Iterator[None]:
        try:
            yield
        except graphviz.ExecutableNotFound as e:
            e.args = (f"{e.args[0]}. {_INSTALL_DOT}",)
            raise

    class Digraph(graphviz.Digraph):
        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            with install_hint():
                return super().pipe(*args, **kwargs)

        def render(self, *args: Any, **kwargs: Any) -> Any:
            with install_hint():
                return super().render(*args, **kwargs)

    return Digraph
