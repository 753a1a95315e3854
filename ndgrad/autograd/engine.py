"""The backward pass: one iterative walk over the graph, in topological order.

1. Start from the roots with their gradients, in a heap ordered by each node's sequence number
   (the order the nodes were made in). The newest node runs first: everything that sends a
   gradient to a node was made after it, so when a node comes out of the heap, all of its
   gradients have arrived (PyTorch orders its ready queue the same way).
2. Run the node's ``backward`` and pass each returned gradient along the edge to the node that
   made that input, which joins the heap the first time it is reached. Broadcasting is undone
   here, once for every op: a gradient is summed down to the shape its input had in forward.
3. Leaves (AccumulateGrad nodes) come last and add their gradient to ``.grad``, except a leaf
   with hooks (``register_hook``; DistributedDataParallel's all-reduce is one): it runs as soon
   as its last gradient has arrived, as torch's AccumulateGrad does, counted by a walk over the
   graph before backward starts (made only when some leaf has hooks). Gradients live in a local
   dict and are dropped as soon as they are used; only leaves and tensors that called
   ``retain_grad()`` keep a ``.grad``.

No recursion anywhere, so a chain of 100,000 ops works.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ndgrad._helpers import as_ndarray, sum_to
from ndgrad.autograd import anomaly, function
from ndgrad.autograd.function import AccumulateGrad, Function, Node, accumulator
from ndgrad.autograd.grad_mode import state as grad_state

if TYPE_CHECKING:
    from ndgrad.tensor import Tensor


class GradientEdge(NamedTuple):
    """A place in the graph a gradient flows into: a node and which of its outputs
    (``autograd.graph.get_gradient_edge``); autograd.grad takes one as an input."""

    node: Node
    output_nr: int


class Task:
    """One backward under way (torch's graph task): its roots, and for autograd.grad the nodes
    it runs; the nodes it reaches are worked out only if a hook asks (``will_execute``)."""

    _ids = itertools.count()

    def __init__(self, roots: list[Node], needed: set[Node] | None) -> None:
        self.id, self.roots, self.needed = next(Task._ids), roots, needed
        self.reached: set[Node] | None = None

    def will_execute(self, node: Node) -> bool:
        """Whether this backward runs ``node`` (so that hooks on it fire)."""
        if self.reached is None:
            self.reached = _reachable(self.roots)
        return node in self.reached and (self.needed is None or node in self.needed)


tasks: list[Task] = []  # the backward passes under way, innermost last


def _root(t: Any, i: int) -> tuple[Node, int]:
    if type(t) is GradientEdge:
        return t.node, t.output_nr
    if t.grad_fn is not None:
        return t.grad_fn, t._output_nr
    if t._requires_grad:
        return accumulator(t), 0
    raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")


def conj_complex(g: Any) -> Any:
    """Gradients of complex tensors are carried conjugated inside the engine (see
    ndgrad/ops/complex.py): this converts between that and torch's convention, at the edges."""
    if g is None:
        return g
    if isinstance(g, np.ndarray):
        return np.conj(g) if g.dtype.kind == "c" else g
    return g.conj() if g._data.dtype.kind == "c" else g


def _initial_grad(t: Tensor, g: Any, create_graph: bool) -> Any:
    """The gradient backward starts from: ones for a scalar, else the one the caller gave
    (conjugated for a complex output, see conj_complex)."""
    if t._data.dtype.kind == "c":
        if g is None:
            raise RuntimeError("grad can be implicitly created only for real scalar outputs")
        return conj_complex(_initial_grad_real(t, g, create_graph))
    return _initial_grad_real(t, g, create_graph)


def _initial_grad_real(t: Tensor, g: Any, create_graph: bool) -> Any:
    if g is None:
        if t._data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs (the "
                               f"output has shape {tuple(t.shape)}); pass gradient= with that "
                               f"shape, e.g. out.backward(ndgrad.ones_like(out))")
        g = np.array(1, t._data.dtype)  # cheaper than np.ones for this one number
        if t._data.ndim:
            g = g.reshape(t._data.shape)
    elif isinstance(g, function.Tensor):
        if g.shape != t.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {tuple(g.shape)} "
                               f"and output has a shape of {tuple(t.shape)}.")
        return g if create_graph else g._data
    else:
        g = np.asarray(g, dtype=t._data.dtype)
        if g.shape != t._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {tuple(g.shape)} "
                               f"and output has a shape of {tuple(t.shape)}.")
    return function.Tensor._make(g) if create_graph else g


def _reachable(roots: Sequence[Node]) -> set[Node]:
    """Every node a backward from ``roots`` can reach, the roots included."""
    seen = set(roots)
    stack = list(seen)
    while stack:
        for edge in stack.pop()._edges:
            if edge is not None and edge.node not in seen:
                seen.add(edge.node)
                stack.append(edge.node)
    return seen


def _prune(roots: Sequence[Node], targets: set[Node]) -> set[Node]:
    """The nodes on some path from a root to a target: only those get gradients in
    autograd.grad(), and of those only the ones with an edge to another one run."""
    seen = _reachable(roots)
    needed: set[Node] = set()
    for node in sorted(seen, key=lambda n: n._seq):  # inputs before the nodes that use them
        if node in targets or any(e is not None and e.node in needed for e in node._edges):
            needed.add(node)
    return needed


def _add(a: Any, b: Any) -> Any:
    """Two gradients for the same place add up (Tensors under create_graph: a recorded add).
    Arrays stay arrays: NumPy gives a scalar for the sum of two 0-d arrays."""
    if a is None:
        return b
    out = a + b
    return np.asarray(out) if isinstance(out, np.generic) else out


def _to_input(g: Any, shape: tuple[int, ...], dtype: Any, node: Node, i: int) -> Any:
    """Make a gradient fit the input it flows to: undo broadcasting, cast back to its dtype."""
    if g.shape != shape:
        try:
            g = sum_to(g, shape)
        except ValueError:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                               f"{i} - got {list(g.shape)} but expected shape compatible with "
                               f"{list(shape)}") from None
    if isinstance(g, function.Tensor):
        if g._data.dtype.kind == "c" and dtype.kind != "c":  # a real input: the real part
            g = g.real
        return g if g._data.dtype == dtype else g.to(dtype)
    if g.dtype.kind == "c" and dtype.kind != "c":
        g = g.real
    return g if g.dtype == dtype else g.astype(dtype)


def _accumulate_leaf(t: Tensor, g: Any, create_graph: bool) -> None:
    """leaf.grad += g (an array, or a Tensor under create_graph). The first gradient is taken
    over without a copy when nothing else refers to it, as PyTorch's AccumulateGrad does (the
    engine does that case inline, holding one reference fewer)."""
    old = t._grad
    if create_graph:
        t.grad = g if old is None else old + g
    elif old is None:
        t._grad = function.Tensor._make(steal_or_copy(g))
    elif old._requires_grad:
        t._grad = function.Tensor._make(old._data + g)
    else:
        old._data += g


def _call_hook(hook: Any, g: Any) -> Any:
    """Run a tensor hook: it sees the gradient as a Tensor and may return a replacement.

    Under create_graph the result is a fresh wrapper unless it is in the graph: if the hook kept
    the tensor it saw, AccumulateGrad must not adopt (and later add into) that same tensor."""
    g = conj_complex(g)
    t = g if isinstance(g, function.Tensor) else function.Tensor._make(g)
    new = hook(t)
    if new is None:
        new = t
    new = conj_complex(new)
    if not isinstance(g, function.Tensor):
        return new._data  # a kept wrapper still refers to the array: steal_or_copy will copy
    return new if new._requires_grad else function.Tensor._make(new._data)


def _run_hooks(node: Node, grads: list[Any]) -> None:
    if node._pre_hooks:
        for nr, hooks in node._pre_hooks.items():
            for hook in list(hooks.values()):  # {handle key: hook}, see Tensor.register_hook
                if grads[nr] is not None:
                    grads[nr] = _call_hook(hook, grads[nr])
    if node._retained:
        for nr, ref in node._retained.items():
            t, g = ref(), conj_complex(grads[nr])
            if t is None or g is None:
                continue
            if isinstance(g, function.Tensor) and g._requires_grad:  # create_graph: in the graph
                t.grad = g.clone() if t.grad is None else t.grad + g
            else:
                d = g._data if isinstance(g, function.Tensor) else g
                t.grad = function.Tensor._make(d.copy() if t.grad is None else t.grad._data + d)


def _check_nan(node: Function, grads: tuple[Any, ...]) -> None:
    for i, g in enumerate(grads):
        d = g._data if isinstance(g, function.Tensor) else g
        if isinstance(d, np.ndarray) and d.dtype.kind == "f" and np.isnan(d).any():
            where = "".join(node._trace or ["(forward trace not recorded: the op ran before "
                                            "detect_anomaly was enabled)\n"])
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               f"output.\nTraceback of forward call that caused the error:\n"
                               f"{where}")


def run_backward(outputs: Sequence[Tensor], grad_outputs: Sequence[Any], retain_graph: bool,
                 create_graph: bool, inputs: Sequence[Tensor] | None = None,
                 allow_unused: bool = False) -> tuple[Tensor | None, ...] | None:
    """Backpropagate from ``outputs``. With ``inputs`` (autograd.grad), return their gradients
    instead of accumulating into any ``.grad``.

    Gradients flow as NumPy arrays, or as Tensors under ``create_graph`` so that the backward
    pass itself is recorded."""
    buffers: dict[Node, list[Any]] = {}
    roots: list[Node] = []
    if len(outputs) != len(grad_outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grad_outputs)} gradients")
    for i in range(len(outputs)):
        t, g = outputs[i], grad_outputs[i]
        node, nr = _root(t, i)
        buf = buffers.setdefault(node, [None] * node._n_outputs)
        buf[nr] = _add(buf[nr], _initial_grad(t, g, create_graph))
        if node not in roots:
            roots.append(node)

    captured: dict[tuple[Node, int], Any] = {}
    needed: set[Node] | None = None
    if inputs is not None:
        targets = [_root(t, i) if type(t) is GradientEdge or t._requires_grad else (None, 0)
                   for i, t in enumerate(inputs)]
        for key in targets:
            captured[key] = None  # type: ignore[index]
        needed = _prune(roots, {n for n, _ in targets if n is not None})

    prev_mode = grad_state.enabled
    grad_state.enabled = create_graph
    global capturing
    capturing += inputs is not None
    tasks.append(Task(roots, needed))
    try:
        _execute(roots, buffers, retain_graph, create_graph,
                 captured if inputs is not None else None, needed)
    finally:
        grad_state.enabled = prev_mode
        capturing -= inputs is not None
        tasks.pop()

    if inputs is None:
        return None
    result = []
    for i, key in enumerate(targets):
        g = captured.get(key)  # type: ignore[call-overload, arg-type]
        if g is None and not allow_unused:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not "
                               f"have been used in the graph. Set allow_unused=True if this is "
                               f"the desired behavior.")
        if g is not None and not create_graph:
            g = function.Tensor._make(g)
        result.append(g)
    return tuple(result)


# ndgrad.profiler (ndgrad/autograd/profiler.py): while it records, ``profiling`` is True and each
# node's backward runs through ``_profile_node(node, grads, create_graph)``, which times it; when
# off, the loop pays one flag check per node
profiling = False
_profile_node: Any = None

# set once any leaf gets a hook: only then does backward count what each leaf waits for
leaf_hooks_used = False
# how many autograd.grad-style runs (gradients returned, not accumulated) are under way: a
# backward that itself runs a backward (checkpoint) cannot fill .grad inside one of those
capturing = 0


def _hooked_leaf_waits(roots: list[Node]) -> dict[Node, int]:
    """For each leaf with hooks: how many gradients will reach it (edges into its
    AccumulateGrad from the nodes backward runs), so that it can run when the last arrives."""
    waits: dict[Node, int] = {}
    for node in _reachable(roots):
        for edge in node._edges:
            if edge is not None and type(edge.node) is AccumulateGrad and (
                    edge.node.variable._hooks  # type: ignore[attr-defined]
                    or edge.node.variable._post_accumulate_hooks):  # type: ignore[attr-defined]
                waits[edge.node] = waits.get(edge.node, 0) + 1
    return waits


def _execute(roots: list[Node], buffers: dict[Node, list[Any]], retain_graph: bool,
             create_graph: bool, captured: dict[tuple[Node, int], Any] | None,
             needed: set[Node] | None) -> None:
    """The walk itself: newest node first, so each runs once all its gradients have arrived."""
    heap = [(-n._seq, n) for n in roots if type(n) is not AccumulateGrad]
    heapify(heap)
    # leaves run last, each with the sum of the gradients that reached it
    leaf_grads = {n: buffers.pop(n)[0] for n in roots if type(n) is AccumulateGrad}
    anomaly_on = anomaly.state.enabled and anomaly.state.check_nan
    grad_type = function.Tensor if create_graph else np.ndarray
    # (autograd.grad's runs, with ``captured``, fill no .grad: their leaves wait for the end)
    waits = _hooked_leaf_waits(roots) if leaf_hooks_used and captured is None else None
    while heap:
        node = heappop(heap)[1]
        grads = buffers.pop(node)
        if node._pre_hooks is not None or node._retained is not None:
            _run_hooks(node, grads)
        if captured is not None:
            for nr, g in enumerate(grads):
                if (node, nr) in captured:
                    captured[(node, nr)] = conj_complex(g)
            # run only the nodes with a gradient to pass on to another target: a target
            # itself is only read, and keeps what it saved (as in torch)
            if node not in needed or not any(  # type: ignore[operator]
                    e is not None and e.node in needed for e in node._edges):  # type: ignore[operator]
                continue
        if node._node_pre_hooks:
            grads = _node_pre_hooks(node, grads, create_graph)
        if profiling:  # a profiler is on: ndgrad/autograd/profiler.py times this backward
            in_grads = _profile_node(node, grads, create_graph)
        elif node._n_outputs == 1 and node.array_backward and not create_graph:  # the usual case
            in_grads = type(node).backward(node, grads[0])  # type: ignore[attr-defined]
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(node._edges):
                in_grads = _check_count(node, in_grads)  # type: ignore[arg-type]
        else:
            in_grads = _call_backward(node, grads, create_graph)  # type: ignore[arg-type]
        if node._node_post_hooks:
            in_grads = _node_post_hooks(node, in_grads, grads, create_graph)
        if not retain_graph and node._saved:  # type: ignore[attr-defined]
            node._saved = None  # type: ignore[attr-defined]  # free what forward saved
        if anomaly_on:
            _check_nan(node, in_grads)  # type: ignore[arg-type]
        edges = node._edges
        for i in range(len(edges)):
            edge = edges[i]
            g = in_grads[i]
            if edge is None or g is None:
                continue
            nxt = edge.node
            nr = edge.output_nr
            if needed is not None and nxt not in needed:
                continue
            if type(g) is not grad_type:
                g = _as_grad(g, create_graph)
            arr = g._data if create_graph else g
            shape, dtype = edge.shape, edge.dtype
            if arr.shape != shape or (arr.dtype is not dtype and arr.dtype != dtype):
                g = _to_input(g, shape, dtype, node, i)
            if type(nxt) is AccumulateGrad:
                prev = leaf_grads.get(nxt)
                leaf_grads[nxt] = g if prev is None else _add(prev, g)
                if waits and nxt in waits:
                    waits[nxt] -= 1
                    if not waits[nxt]:  # its last gradient: hooks and .grad now
                        g = arr = prev = None  # type: ignore[assignment]
                        _finish_leaf(nxt, leaf_grads.pop(nxt), create_graph, captured)
                continue
            buf = buffers.get(nxt)
            if buf is None:  # reached for the first time
                buf = buffers[nxt] = [None] * nxt._n_outputs
                heappush(heap, (-nxt._seq, nxt))
            prev = buf[nr]
            buf[nr] = g if prev is None else _add(prev, g)
        # hold no gradient between nodes: AccumulateGrad adopts an array only if no one holds it
        in_grads = g = arr = prev = None  # type: ignore[assignment]
    for node in list(leaf_grads):  # in the order the gradients first arrived
        _finish_leaf(node, leaf_grads.pop(node), create_graph, captured)


def _finish_leaf(node: Node, g: Any, create_graph: bool,
                 captured: dict[tuple[Node, int], Any] | None) -> None:
    """A leaf's whole gradient has arrived: its hooks, then into ``.grad`` (or ``captured``),
    then its post-accumulate hooks. The caller holds no reference to ``g``, so that ``.grad``
    can take the array over."""
    t = node.variable  # type: ignore[attr-defined]
    if t._hooks:
        g = _leaf_hooks(t, g)
    if node._node_pre_hooks and captured is None:  # autograd.grad runs no AccumulateGrad
        g = _node_pre_hooks(node, [g], create_graph)[0]
        if g is None:
            return
    if t._data.dtype.kind == "c":
        g = conj_complex(g)
    if captured is not None:
        if (node, 0) in captured:
            captured[(node, 0)] = g
    elif t._grad is None and not create_graph:  # the usual case: .grad takes g over
        t._grad = function.Tensor._make(steal_or_copy(g))
    else:
        _accumulate_leaf(t, g, create_graph)
    if captured is None and t._post_accumulate_hooks:
        _post_accumulate(t)
    if captured is None and node._node_post_hooks:  # AccumulateGrad gives no gradients
        _node_post_hooks(node, (), [t.grad], create_graph)


def _post_accumulate(t: Tensor) -> None:
    """Run the leaf's post-accumulate-grad hooks: its ``.grad`` holds this backward's
    gradient now."""
    for hook in list(t._post_accumulate_hooks.values()):  # type: ignore[union-attr]
        hook(t)


def _node_pre_hooks(node: Node, grads: list[Any], create_graph: bool) -> list[Any]:
    """Node.register_prehook's hooks: each sees the node's output gradients as Tensors and
    may return replacements."""
    for hook in list(node._node_pre_hooks.values()):  # type: ignore[union-attr]
        new = hook(_hook_view(grads))
        if new is not None:
            grads = _hook_result(hook, new, grads, create_graph)
    return grads


def _node_post_hooks(node: Node, in_grads: tuple[Any, ...], grads: list[Any],
                     create_graph: bool) -> tuple[Any, ...]:
    """Node.register_hook's hooks: each sees the gradients the node computed for its inputs
    (broadcasting undone, as they will flow on) and those it was given, and may replace the
    former."""
    edges, grad_type = node._edges, function.Tensor if create_graph else np.ndarray
    fitted = []
    for i, g in enumerate(in_grads):
        if g is not None and i < len(edges) and edges[i] is not None:
            if type(g) is not grad_type:
                g = _as_grad(g, create_graph)
            e = edges[i]
            g = _to_input(g, e.shape, e.dtype, node, i)  # type: ignore[union-attr]
        fitted.append(g)
    outputs = _hook_view(grads)
    for hook in list(node._node_post_hooks.values()):  # type: ignore[union-attr]
        new = hook(_hook_view(fitted), outputs)
        if new is not None:
            fitted = _hook_result(hook, new, fitted, create_graph)
    return tuple(fitted)


def _hook_view(grads: Sequence[Any]) -> tuple[Any, ...]:
    """Gradients as a node hook sees them: a tuple of Tensors, None where there is none."""
    return tuple(g if g is None or isinstance(g, function.Tensor) else
                 function.Tensor._make(as_ndarray(g)) for g in grads)


def _hook_result(hook: Any, new: Any, old: Sequence[Any], create_graph: bool) -> list[Any]:
    """A node hook's returned gradients, checked and in the engine's form. ndgrad's nodes
    count every forward argument (a dim, a scalar) as an input, torch's only tensors: a
    result that leaves out trailing inputs without a gradient is taken as they are None."""
    new = tuple(new) if isinstance(new, tuple | list) else (new,)
    n = len(old)
    if len(new) < n and all(g is None for g in old[len(new):]):
        new += (None,) * (n - len(new))
    if len(new) != n:
        name = getattr(hook, "__name__", repr(hook))
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values (got "
                           f"{len(new)}, but expected {n})")
    return [None if g is None else _as_grad(g, create_graph) for g in new]


def _as_grad(g: Any, create_graph: bool) -> Any:
    """A gradient a backward returned, as the engine carries it: a Tensor under create_graph,
    else an ndarray (NumPy gives scalars for 0-d results)."""
    if create_graph:
        return g if isinstance(g, function.Tensor) else function.Tensor._make(as_ndarray(g))
    return g._data if isinstance(g, function.Tensor) else as_ndarray(g)


def _leaf_hooks(t: Tensor, g: Any) -> Any:
    for hook in list(t._hooks.values()):  # type: ignore[union-attr]
        g = _call_hook(hook, g)
    return g


def _call_backward(node: Function, grads: list[Any], create_graph: bool) -> tuple[Any, ...]:
    """Run the node's backward on arrays when it can (``array_backward``) and no graph of the
    backward pass is wanted, else on Tensors; check it returned one gradient per input."""
    if node._n_outputs > 1 and node._materialize_grads:  # outputs that got no gradient
        # count as zeros, as in PyTorch (unless ctx.set_materialize_grads(False))
        skip = node._non_tensor  # type: ignore[attr-defined]
        grads = [g if g is not None or i in skip else _zeros(node._output_meta[i], create_graph)
                 for i, g in enumerate(grads)]
    if not node.array_io:  # users' Functions: torch's convention for complex gradients
        grads = [conj_complex(g) for g in grads]
    if create_graph or node.array_backward:
        out = type(node).backward(node, *grads)
    else:  # a backward written in Tensor ops: wrap the arrays, unwrap what it returns
        out = type(node).backward(node, *[None if g is None else function.Tensor._make(g)
                                          for g in grads])
    if not node.array_io:
        out = tuple(conj_complex(g) for g in out) if type(out) is tuple else conj_complex(out)
    return _check_count(node, out)


def _check_count(node: Function, out: Any) -> tuple[Any, ...]:
    """A backward's result as a tuple with one gradient per forward input (extra Nones are
    dropped, as PyTorch allows)."""
    n = len(node._edges)
    if type(out) is not tuple:
        out = (out,)
    if len(out) != n:
        if len(out) > n and all(g is None for g in out[n:]):
            out = out[:n]
        else:
            raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(out)})")
    return out


def _zeros(meta: tuple[Any, Any], create_graph: bool) -> Any:
    z = np.zeros(*meta)
    return function.Tensor._make(z) if create_graph else z


def steal_or_copy(arr: np.ndarray) -> np.ndarray:
    """Reuse a gradient array nothing else refers to; copy a shared one (as AccumulateGrad does).

    The references are the caller's Tensor, the caller's argument and getrefcount's own."""
    if arr.base is None and sys.getrefcount(arr) <= 3 and arr.flags.writeable:
        return arr
    return arr.copy()


# -- the public entry points: ndgrad.autograd.backward and grad -------------------------------
def _seq(x: Any) -> list[Any]:
    if x is None:
        return []
    return [x] if isinstance(x, function.Tensor | GradientEdge) else list(x)


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables: Any = None, inputs: Tensor | Sequence[Tensor] | None = None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves of their graph
    (only of ``inputs`` when given). ``grad_variables`` is the deprecated ``grad_tensors``."""
    if grad_variables is not None:
        if grad_tensors is not None:
            raise RuntimeError("'grad_tensors' and 'grad_variables' (deprecated) arguments both "
                               "passed to backward(). Please only use 'grad_tensors'.")
        grad_tensors = grad_variables
    if inputs is not None and not _seq(inputs):
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    outs = _seq(tensors)
    grads = _seq(grad_tensors) if grad_tensors is not None else [None] * len(outs)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        ins = _seq(inputs)
        result = run_backward(outs, grads, retain_graph, create_graph, ins, allow_unused=True)
        for t, g in zip(ins, result or (), strict=True):
            if g is not None:
                _accumulate_leaf(t, g if create_graph else g._data, create_graph)
                if t._post_accumulate_hooks:
                    _post_accumulate(t)
        return
    run_backward(outs, grads, retain_graph, create_graph)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple[Any, ...]:
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    An input the outputs do not depend on is an error unless ``allow_unused`` (its gradient is
    then None) or ``materialize_grads`` (zeros)."""
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             allow_unused, materialize_grads)
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads="
                         "True, but got: allow_unused=False.")

    outs = _seq(outputs)
    ins = _seq(inputs)
    grads = _seq(grad_outputs) if grad_outputs is not None else [None] * len(outs)
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(ins):
        if type(t) is not GradientEdge and not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require "
                               f"grad")
    result = run_backward(outs, grads, retain_graph, create_graph, ins,
                          allow_unused=allow_unused or materialize_grads)
    assert result is not None
    if materialize_grads:
        if any(type(t) is GradientEdge for t in ins):
            raise RuntimeError("materialize_grads cannot be used when the given input is a "
                               "GradientEdge")
        result = tuple(function.Tensor._make(np.zeros_like(t._data)) if g is None else g
                       for t, g in zip(ins, result, strict=True))
    return result


def _batched_grad(outputs: Any, inputs: Any, grad_outputs: Any, retain_graph: bool | None,
                  create_graph: bool, allow_unused: bool | None,
                  materialize_grads: bool) -> tuple[Any, ...]:
    """``grad(..., is_grads_batched=True)``: each grad_output has a leading batch dim; the
    result for each input is the vector-Jacobian products of the batch, stacked. torch maps
    one backward over the batch with vmap; this runs one backward per row (retaining the graph
    in between), which gives the same numbers."""
    outs = _seq(outputs)
    if grad_outputs is None:
        raise RuntimeError("grad with is_grads_batched=True needs grad_outputs, one batch of "
                           "gradients for each output")
    grads = _seq(grad_outputs)
    if len(grads) != len(outs):
        raise RuntimeError(f"got {len(outs)} outputs and {len(grads)} grad_outputs")
    sizes = {g.shape[0] if g is not None and g.dim() else None for g in grads}
    if len(sizes) != 1 or None in sizes:
        raise RuntimeError("with is_grads_batched=True every grad_output needs the same "
                           "leading batch dimension")
    n: int = sizes.pop()  # type: ignore[assignment]
    ins = _seq(inputs)
    rows = [grad(outs, ins, [g[b] for g in grads],
                 retain_graph=True if b < n - 1 else retain_graph, create_graph=create_graph,
                 allow_unused=allow_unused, materialize_grads=materialize_grads)
            for b in range(n)]
    stacked: list[Tensor | None] = []
    for i, t in enumerate(ins):
        column = [r[i] for r in rows]
        if all(g is None for g in column):
            stacked.append(None)
        elif create_graph:
            from ndgrad.tensor.functions import stack  # (autograd sits below the ops)
            stacked.append(stack(column) if n else _empty_batch(t, n))
        else:
            stacked.append(function.Tensor._make(np.stack([g._data for g in column]))
                           if n else _empty_batch(t, n))
    return tuple(stacked)


def _empty_batch(t: Tensor, n: int) -> Tensor:
    return function.Tensor._make(np.zeros((n, *t._data.shape), t._data.dtype))
