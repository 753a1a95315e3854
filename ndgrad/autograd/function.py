"""Function: one op of the graph, with its forward and its backward side by side.

Calling ``MyOp.apply(*inputs)`` runs ``forward`` and, when grad mode is on and an input requires
grad, keeps the instance (``ctx``) as the output's ``grad_fn``: a node of the graph. A node knows
the nodes that made its inputs and those inputs' shapes and dtypes (``_edges``; PyTorch's
``next_functions`` view of them is a property), what ``forward`` saved for backward, and
nothing about its own output, so the graph has no reference cycles and is freed by reference
counting as soon as the last output goes away.

Two kinds of subclasses:

* ndgrad's primitives (``ndgrad/ops``) set ``array_io = True``: ``forward`` sees and returns
  NumPy arrays. ``backward`` is one formula built from differentiable ops (operators and other
  primitives' ``apply``). The engine runs it on Tensors under ``create_graph=True``, so that the
  backward pass itself can be differentiated, and otherwise on plain arrays, which is much
  faster (``array_backward``; the few formulas that need Tensor methods get Tensors always).
* users' Functions, as in PyTorch: ``forward`` sees Tensors (with grad recording off).

Leaves that require grad are reached through an ``AccumulateGrad`` node, which adds the incoming
gradient to ``leaf.grad``.
"""

from __future__ import annotations

import itertools
import sys
import traceback
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from ndgrad.autograd import anomaly
from ndgrad.autograd.grad_mode import no_grad, state

if TYPE_CHECKING:
    from ndgrad.tensor import Tensor

_SAVED_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)


class Node:
    """What every graph node has: edges to the nodes of its inputs, and hooks."""

    # one per forward input: (node that made it, its output number there, its shape, its dtype)
    # for an input that needs a gradient, else None. The engine sends each gradient along these
    # and makes it fit the input's shape and dtype.
    _edges: list[tuple[Node, int, tuple[int, ...], np.dtype] | None] = []
    # creation order: a node's inputs were made before it, so running nodes newest first is a
    # topological order (PyTorch's sequence_nr). Leaves' AccumulateGrad nodes have 0: last.
    _seq = 0
    _n_outputs = 1
    _pre_hooks: dict[int, dict[int, Any]] | None = None  # tensor hooks: {output nr: {key: hook}}
    _retained: dict[int, Any] | None = None  # weakrefs of non-leaf tensors with retain_grad()
    _trace: list[str] | None = None  # where forward ran, recorded under detect_anomaly()
    # backward is written in what arrays and Tensors share (operators, .reshape, .sum(dims),
    # .mT, other primitives' apply): without create_graph the engine runs it on NumPy arrays
    array_backward = False
    _saved_arrays = False  # set by the engine: saved_tensors gives arrays to this backward

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        """PyTorch's view of the edges: (node, output number) per input, (None, 0) if none."""
        return tuple((e[0], e[1]) if e is not None else _NO_EDGE for e in self._edges)

    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class AccumulateGrad(Node):
    """The node at a leaf: adds the gradient that reaches it to ``variable.grad``."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def accumulator(t: Tensor) -> AccumulateGrad:
    """The leaf's AccumulateGrad node, created once and shared by every op that uses the leaf.

    The leaf refers to it weakly, the node to the leaf strongly: no cycle."""
    acc = t._accum() if t._accum is not None else None
    if acc is None:
        acc = _new(AccumulateGrad)  # AccumulateGrad(t) without the __init__ call: one per step
        acc.variable = t
        t._accum = weakref.ref(acc)
    return acc


class Function(Node):
    """Base class of differentiable ops, for ndgrad's primitives and for users, as in PyTorch.

    Subclasses write ``forward(ctx, *args)`` and ``backward(ctx, *grads)`` as static methods and
    call ``apply``; ``ctx.save_for_backward(...)`` keeps what backward needs.
    """

    array_io = False  # primitives: forward takes and returns NumPy arrays
    is_view = False  # output may share memory with input 0 (reshape, permute, x[i], ...)
    needs_input_grad: tuple[bool, ...] = ()
    _to_save: tuple[Any, ...] = ()  # what forward passed to save_for_backward
    _output_meta: tuple[tuple[Any, Any], ...] = ()  # (shape, dtype) of each output, if several
    _non_diff: tuple[Any, ...] = ()
    # packed by _pack when the graph is recorded; None once backward has freed them
    _saved: list[tuple[Any, ...]] | None = []

    # -- the user-facing API ---------------------------------------------------------------
    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom Function.")

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise NotImplementedError("You must implement the backward function for custom Function.")

    def save_for_backward(self, *values: Any) -> None:
        """Keep inputs, outputs or other values for backward (version-checked if tensors)."""
        self._to_save = values

    def mark_non_differentiable(self, *outputs: Any) -> None:
        self._non_diff = outputs

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The saved values as Tensors, after checking no in-place op changed them since."""
        if self._saved is None:
            raise RuntimeError(_SAVED_FREED)
        if self._saved_arrays:  # a backward running on arrays gets the arrays themselves
            out = []
            for s in self._saved:
                if s[0] == "in":
                    t = s[1]
                    if (t._vc[0] if t._vc is not None else 0) != s[2]:
                        _unpack(self, s)  # raises the in-place error
                    out.append(t._data)
                else:
                    if s[0] == "out" and s[2][0] != 0:
                        _unpack(self, s)  # raises the in-place error
                    out.append(s[1])
            return tuple(out)
        return tuple([_unpack(self, s) for s in self._saved])

    # -- the engine's side -----------------------------------------------------------------
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward; record this op in the graph if grad mode is on and an input needs grad.

        A primitive applied to arrays only (as backward formulas do when they run on arrays)
        just runs forward and returns arrays."""
        ctx = _new(cls)
        if not cls.array_io:
            return _apply_function(cls, ctx, args, kwargs)
        if state.enabled:
            arrays, record = _connect(ctx, args)
        else:
            arrays, record = _unwrap(args), False
            ctx.needs_input_grad = _NOTHING_NEEDED[len(args)]
        if arrays is None:  # arrays only
            return cls.forward(ctx, *args, **kwargs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is not tuple:  # one output: the common, fast path
            t = _new(Tensor)
            t._data = out if type(out) is np.ndarray else np.asarray(out)  # NumPy gives scalars
            if cls.is_view:
                _share_version(args[0], t)
            if record:
                _record(ctx, args, (t,))
            return t
        return _outputs(cls, ctx, args, out, record)


_new = object.__new__
_SEQ = itertools.count(1)
_NOTHING_NEEDED = [(False,) * n for n in range(64)]
_NO_EDGE = (None, 0)


def _apply_function(cls: type[Function], ctx: Function, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
    """``apply`` for users' Functions: forward sees Tensors (with grad recording off)."""
    if state.enabled:
        record = _connect(ctx, args)[1]
    else:
        record = False
        ctx.needs_input_grad = _NOTHING_NEEDED[len(args)]
    with no_grad():
        out = cls.forward(ctx, *args, **kwargs)
    for o in out if isinstance(out, tuple) else (out,):
        if not isinstance(o, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return Tensors, got "
                            f"{type(o).__name__}")
    if not isinstance(out, tuple):
        t = _wrap_output(out._data)
        if record:
            _record(ctx, args, (t,))
        return t
    return _outputs(cls, ctx, args, tuple(o._data for o in out), record)


def _outputs(cls: type[Function], ctx: Function, args: tuple[Any, ...], out: tuple[Any, ...],
             record: bool) -> tuple[Tensor, ...]:
    """Wrap the outputs of an op with several (max(dim), sort, ...) and record them."""
    results = tuple(_wrap_output(o) for o in out)
    if cls.is_view:
        _share_version(args[0], results[0])
    if record:
        ctx._n_outputs = len(results)
        ctx._output_meta = tuple((t._data.shape, t._data.dtype) for t in results)
        _record(ctx, args, results)
    return results


def _unwrap(args: tuple[Any, ...]) -> list[Any] | None:
    """The arguments with Tensors replaced by their arrays; None if there is no Tensor."""
    for a in args:
        if isinstance(a, Tensor):
            return [b._data if isinstance(b, Tensor) else b for b in args]
    return None


def _connect(ctx: Function, args: tuple[Any, ...]) -> tuple[list[Any] | None, bool]:
    """Before forward: which inputs need a gradient, the edges to the nodes that made them, and
    their shapes and dtypes (the engine makes each gradient fit them). Returns the arguments
    with Tensors replaced by their arrays (None if there is no Tensor) and whether any input
    needs a gradient (then ``ctx`` is recorded)."""
    arrays = []
    needs = []
    edges: list[tuple[Node, int, tuple[int, ...], np.dtype] | None] = []
    record = tensors = False
    for a in args:
        if isinstance(a, Tensor):
            d = a._data
            arrays.append(d)
            tensors = True
            if a._requires_grad:
                record = True
                fn = a.grad_fn
                needs.append(True)
                if fn is None:  # a leaf
                    edges.append((accumulator(a), 0, d.shape, d.dtype))
                else:
                    edges.append((fn, a._output_nr, d.shape, d.dtype))
                continue
        else:
            arrays.append(a)
        needs.append(False)
        edges.append(None)
    if record:
        ctx.needs_input_grad = tuple(needs)
        ctx._edges = edges
        ctx._seq = next(_SEQ)
    else:
        ctx.needs_input_grad = _NOTHING_NEEDED[len(args)]
    return (arrays if tensors else None), record


def _record(ctx: Function, args: tuple[Any, ...], results: tuple[Tensor, ...]) -> None:
    """After forward: ``ctx`` becomes the grad_fn of the float outputs and keeps what was saved."""
    non_diff = ctx._non_diff
    i = 0
    for t in results:
        if t._data.dtype.kind == "f" and not (non_diff and any(
                t._data is _raw(n) for n in non_diff)):
            t._requires_grad = True
            t.grad_fn = ctx
            if i:
                t._output_nr = i
        i += 1
    if ctx._to_save:
        saved = []
        for s in ctx._to_save:
            saved.append(_pack(s, args, results))
        ctx._saved = saved
    if anomaly.state.enabled:
        ctx._trace = traceback.format_stack()[:-2]


def _raw(v: Any) -> Any:
    return v._data if isinstance(v, Tensor) else v


def _wrap_output(o: Any) -> Tensor:
    if type(o) is not np.ndarray:
        o = np.asarray(o)  # NumPy returns scalars for 0-d results; keep tensors as arrays
    return Tensor._make(o)


def _share_version(src: Tensor, out: Tensor) -> None:
    # a view shares its base's version counter, so in-place changes through either are seen
    if out._data.base is not None and np.may_share_memory(src._data, out._data):
        if src._vc is None:
            src._vc = [0]
        out._vc = src._vc
        out._base = src._base if src._base is not None else src


# A saved value is packed as a tuple whose first item says what it is:
#   ("in", tensor, version)          an input tensor: unpacked as itself
#   ("out", array, vc, nr)           an output: unpacked as a fresh tensor whose grad_fn is the
#                                    node itself (the node must not own its output: no cycle)
#   ("const", value)                 anything else (masks, indices, Python numbers)
def _pack(s: Any, args: tuple[Any, ...], outs: tuple[Tensor, ...]) -> tuple[Any, ...]:
    if s is None:
        return _CONST_NONE
    raw = s._data if isinstance(s, Tensor) else s
    for a in args:
        if isinstance(a, Tensor) and raw is a._data:
            vc = a._vc
            return ("in", a, vc[0] if vc is not None else 0)
    for nr, o in enumerate(outs):
        if raw is o._data:
            if o._vc is None:
                o._vc = [0]
            return ("out", o._data, o._vc, nr)  # version 0: outputs are new
    return ("const", s)


_CONST_NONE = ("const", None)


def _unpack(ctx: Function, s: tuple[Any, ...]) -> Any:
    kind = s[0]
    if kind == "in":
        t, version = s[1], s[2]
        if (t._vc[0] if t._vc is not None else 0) != version:
            raise RuntimeError(_modified_message(t, version))
        return t
    if kind == "out":
        t = Tensor._make(s[1])
        t._requires_grad = True
        t.grad_fn = ctx
        t._output_nr = s[3]
        if s[2][0] != 0:
            t._vc = s[2]
            raise RuntimeError(_modified_message(t, 0))
        return t
    value = s[1]
    return Tensor._make(value) if isinstance(value, np.ndarray) else value


def _modified_message(t: Tensor, version: int) -> str:
    made_by = (f", which is output {t._output_nr} of {t.grad_fn.name()}," if t.grad_fn is not None
               else "")  # a leaf
    return (f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [ndgrad.{t._data.dtype} tensor of shape {list(t.shape)}]"
            f"{made_by} is at version {t._version}; expected version "
            f"{version} instead. Hint: replace the inplace operation (add_, x[i] = v, ...) by an "
            f"out-of-place one (x = x + y), or clone() the tensor before modifying it.")


def steal_or_copy(arr: np.ndarray) -> np.ndarray:
    """Reuse a gradient array nothing else refers to; copy a shared one (as AccumulateGrad does).

    The references are the caller's Tensor, the caller's argument and getrefcount's own."""
    if arr.base is None and sys.getrefcount(arr) <= 3 and arr.flags.writeable:
        return arr
    return arr.copy()


from ndgrad.tensor import Tensor  # noqa: E402  (Tensor imports ops, which import Function)
