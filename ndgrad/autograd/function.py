"""Function: one op of the graph, with its forward and its backward side by side.

Calling ``MyOp.apply(*inputs)`` runs ``forward`` and, when grad mode is on and an input requires
grad, keeps the instance (``ctx``) as the output's ``grad_fn``: a node of the graph. A node knows
the nodes that made its inputs (one ``Edge`` per input: node, output number, shape, dtype;
PyTorch's ``next_functions`` view of them is a property), what ``forward`` saved for backward
(``Saved*`` records, see ``ndgrad/autograd/saved.py``), and nothing about its own output, so the
graph has no reference cycles and is freed by reference counting as soon as the last output
goes away.

Two kinds of subclasses:

* ndgrad's primitives (``ndgrad/ops``) set ``array_io = True``: ``forward`` sees and returns
  NumPy arrays. ``backward`` is one formula built from differentiable ops (operators and other
  primitives' ``apply``). The engine runs it on Tensors under ``create_graph=True``, so that the
  backward pass itself can be differentiated, and otherwise on plain arrays, which is much
  faster (``array_backward``; the few formulas that need Tensor methods get Tensors always).
  A formula reads what forward saved with ``ctx.saved_like(grad)``: arrays when the gradient
  it was given is an array, Tensors when it is a Tensor.
* users' Functions, as in PyTorch: ``forward`` sees Tensors (with grad recording off) and
  backward reads ``ctx.saved_tensors``.

Leaves that require grad are reached through an ``AccumulateGrad`` node, which adds the incoming
gradient to ``leaf.grad``.

autograd sits below ``ndgrad.tensor`` and does not import it: the Tensor class hands itself
over with ``set_tensor_class`` when it is defined (as torch.Tensor is handed to PyTorch's C++
autograd), before any op can run.
"""

from __future__ import annotations

import functools
import itertools
import traceback
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._helpers import as_ndarray
from ndgrad.autograd import anomaly
from ndgrad.autograd.grad_mode import no_grad, state
from ndgrad.autograd.saved import (
    SAVED_FREED,
    Saved,
    SavedAlias,
    SavedHooked,
    SavedInput,
    SavedOutput,
    check_version,
    pack,
    pack_hooked,
    unhook,
    unpack,
)
from ndgrad.autograd.saved import hooks as saved_hooks
from ndgrad.utils.hooks import RemovableHandle

Tensor: Any = None  # ndgrad.tensor.Tensor, set by set_tensor_class

# Op interceptors: the profiler (profiler.py) times every op, forward AD (forward_ad.py) gives
# every op's outputs their tangents. While one is on, ``intercepting`` is True and ``apply``
# hands each op to ``_intercept(cls, args, kwargs)``, which runs the interceptors that are on,
# outermost first, down to the op itself (``run_op``). With none on, apply pays this one flag
# check and nothing else: forward AD costs nothing outside a dual level.
intercepting = False
_intercept: Any = None
_interceptors: dict[str, Any] = {}
# the profiler outermost: an op's time includes the tangent work forward AD adds to it
INTERCEPTOR_ORDER = ("profiler", "forward_ad")
profiling = False  # True while a profiler records (apply itself reads ``intercepting``)


def set_tensor_class(cls: type) -> None:
    """Called once by ``ndgrad.tensor``: the class that ops wrap their results in."""
    global Tensor
    Tensor = cls


class Edge:
    """Where the gradient of one forward input goes: the node that made the input, which of
    that node's outputs it was, and the shape and dtype the gradient must have (the engine sums
    a broadcast gradient down to ``shape`` and casts it to ``dtype``)."""

    __slots__ = ("node", "output_nr", "shape", "dtype")

    node: Node
    output_nr: int
    shape: tuple[int, ...]
    dtype: np.dtype

    def __repr__(self) -> str:
        return f"Edge({self.node!r}, {self.output_nr}, {self.shape}, {self.dtype})"


class Node:
    """What every graph node has: edges to the nodes of its inputs, and hooks."""

    # one Edge per forward input that needs a gradient, None for the others
    _edges: list[Edge | None] = []
    # creation order: a node's inputs were made before it, so running nodes newest first is a
    # topological order (PyTorch's sequence_nr). Leaves' AccumulateGrad nodes have 0: last.
    _seq = 0
    _n_outputs = 1
    _pre_hooks: dict[int, dict[int, Any]] | None = None  # tensor hooks: {output nr: {id: hook}}
    _retained: dict[int, Any] | None = None  # weakrefs of non-leaf tensors with retain_grad()
    _trace: list[str] | None = None  # where forward ran, recorded under detect_anomaly()
    # backward is written in what arrays and Tensors share (operators, .reshape, .sum(dims),
    # .mT, other primitives' apply): without create_graph the engine runs it on NumPy arrays
    array_backward = False
    # the node's own hooks, {handle id: hook}: register_prehook's, register_hook's
    _node_pre_hooks: dict[int, Any] | None = None
    _node_post_hooks: dict[int, Any] | None = None

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        """PyTorch's view of the edges: (node, output number) per input, (None, 0) if none."""
        return tuple((e.node, e.output_nr) if e is not None else _NO_EDGE for e in self._edges)

    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def metadata(self) -> dict[Any, Any]:
        """A dict of the user's own, kept on the node (torch's ``Node.metadata``)."""
        meta = self.__dict__.get("_metadata")
        if meta is None:
            meta = self.__dict__["_metadata"] = {}
        return meta  # type: ignore[no-any-return]

    def register_prehook(self, fn: Callable[[tuple[Any, ...]], Any]) -> RemovableHandle:
        """Call ``fn(grad_outputs)`` each time this node is about to run its backward, after
        the hooks of its output tensors: a tuple of Tensors (None where no gradient came). A
        returned tuple is used in place of grad_outputs."""
        if self._node_pre_hooks is None:
            self._node_pre_hooks = {}
        handle = RemovableHandle(self._node_pre_hooks)
        self._node_pre_hooks[handle.id] = fn
        return handle

    def register_hook(self, fn: Callable[[tuple[Any, ...], tuple[Any, ...]], Any]
                      ) -> RemovableHandle:
        """Call ``fn(grad_inputs, grad_outputs)`` each time this node has run its backward:
        the gradients it computed for its inputs (shaped as the inputs) and the ones it was
        given. A returned tuple is used in place of grad_inputs."""
        if self._node_post_hooks is None:
            self._node_post_hooks = {}
        handle = RemovableHandle(self._node_post_hooks)
        self._node_post_hooks[handle.id] = fn
        return handle


class AccumulateGrad(Node):
    """The node at a leaf: the engine adds the gradient that reaches it to ``variable.grad``."""

    variable: Any  # the leaf Tensor

    def name(self) -> str:
        return "AccumulateGrad"


def accumulator(t: Any) -> AccumulateGrad:
    """The leaf's AccumulateGrad node, created once and shared by every op that uses the leaf.

    The leaf refers to it weakly, the node to the leaf strongly: no cycle."""
    acc = t._accum() if t._accum is not None else None
    if acc is None:
        acc = _new(AccumulateGrad)
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
    _for_forward: tuple[Any, ...] = ()  # what forward passed to save_for_forward
    _output_meta: tuple[tuple[Any, Any], ...] = ()  # (shape, dtype) of each output, if several
    _non_diff: tuple[Any, ...] = ()
    _dirty: tuple[Any, ...] = ()  # mark_dirty's inputs
    _materialize_grads = True
    _non_tensor: frozenset[int] = frozenset()  # positions of outputs that are not tensors
    # packed when the graph is recorded; None once backward has freed them
    _saved: list[Saved] | None = []

    # -- the user-facing API ---------------------------------------------------------------
    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom Function.")

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise NotImplementedError("You must implement the backward function for custom Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> Any:
        """torch 2's other style: override this, and write ``forward(*args)`` without ctx;
        it runs after forward, with forward's arguments and result, to fill ctx
        (save_for_backward, mark_dirty, ...)."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def jvp(ctx: Any, *tangents: Any) -> Any:
        """Forward AD's rule (``ndgrad.autograd.forward_ad``): the outputs' tangents from the
        inputs' (one per argument of forward: zeros for a tensor without one, None for what is
        not a tensor). It reads what forward kept with ``ctx.save_for_forward`` as
        ``ctx.saved_tensors``."""
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    def save_for_backward(self, *values: Any) -> None:
        """Keep inputs, outputs or other values for backward (version-checked if tensors)."""
        self._to_save = values

    def save_for_forward(self, *values: Any) -> None:
        """Keep tensors for ``jvp`` (forward AD), as they are."""
        self._for_forward = values

    def mark_non_differentiable(self, *outputs: Any) -> None:
        self._non_diff = outputs

    def mark_dirty(self, *tensors: Any) -> None:
        """Declare the inputs forward changed in place (and returns): each output that is one
        of them is that very tensor, with this node as its new history, as torch's in-place
        ops do."""
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The saved values as Tensors, after checking no in-place op changed them since."""
        if self._saved is None:
            raise RuntimeError(SAVED_FREED)
        return tuple([unpack(self, s, Tensor) for s in self._saved])

    def saved_like(self, grad: Any) -> tuple[Any, ...]:
        """The saved values in the form of ``grad``: NumPy arrays when backward runs on arrays
        (the engine's fast path), Tensors when it runs on Tensors (create_graph)."""
        if isinstance(grad, Tensor):
            return self.saved_tensors
        if self._saved is None:
            raise RuntimeError(SAVED_FREED)
        out = []
        for s in self._saved:  # check_version inline: this runs for every node
            if type(s) is SavedInput:
                t = s.tensor
                if (t._vc[0] if t._vc is not None else 0) != s.version:
                    check_version(self, s, Tensor)  # raises
                out.append(t._data)
            elif type(s) is SavedOutput:
                if s.version_counter[0] != s.version:
                    check_version(self, s, Tensor)  # raises
                out.append(s.data)
            elif type(s) is SavedHooked:
                out.append(unhook(self, s, Tensor)._data)
            else:  # a SavedConstant, or a SavedAlias
                if type(s) is SavedAlias and s.version_counter[0] != s.version:
                    check_version(self, s, Tensor)  # raises
                out.append(s.value)  # type: ignore[union-attr]
        return tuple(out)

    # -- the engine's side -----------------------------------------------------------------
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward; record this op in the graph if grad mode is on and an input needs grad.

        A primitive applied to arrays only (as backward formulas do when they run on arrays)
        just runs forward and returns arrays."""
        if intercepting:  # a profiler or a dual level is on: see set_interceptor
            return _intercept(cls, args, kwargs)
        # (run_op does what follows for the interceptors: keep the two in step)
        ctx = _new(cls)
        if not cls.array_io:
            return _apply_function(cls, ctx, args, kwargs)
        if state.enabled:
            arrays, record = _connect(ctx, args)
        else:
            arrays, record = _unwrap(args), False
            n = len(args)
            ctx.needs_input_grad = _NOTHING_NEEDED[n] if n < 64 else (False,) * n
        if arrays is None:  # arrays only
            return cls.forward(ctx, *args, **kwargs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is not tuple:  # one output: the common, fast path
            t = _new(Tensor)
            t._data = out if type(out) is np.ndarray else np.asarray(out)  # as_ndarray, inline
            if state.inference:  # made in inference_mode: Tensor.is_inference (as Tensor._make)
                t._inference = True
            if cls.is_view:
                _share_version(cls, args, kwargs, t)
            if record:
                _record(ctx, args, (t,))
            return t
        return _outputs(cls, ctx, args, out, record)


_new = object.__new__
_SEQ = itertools.count(1)
_NO_EDGE = (None, 0)
_NOTHING_NEEDED = [(False,) * n for n in range(64)]


def set_interceptor(name: str, fn: Callable[..., Any] | None) -> None:
    """Turn the op interceptor ``name`` (one of INTERCEPTOR_ORDER) on, or off with None.

    While on, ``fn(cls, args, kwargs, run)`` is called for every op (``cls.apply(*args,
    **kwargs)``) in place of apply's own work; it does that work with ``run(cls, args,
    kwargs)``: the next interceptor, or the op itself."""
    global intercepting, _intercept
    if name not in INTERCEPTOR_ORDER:
        raise ValueError(f"unknown op interceptor {name!r}: expected one of {INTERCEPTOR_ORDER}")
    if fn is None:
        _interceptors.pop(name, None)
    else:
        _interceptors[name] = fn
    run: Callable[..., Any] = _run
    for n in reversed(INTERCEPTOR_ORDER):
        if n in _interceptors:
            run = _layer(_interceptors[n], run)
    if _interceptors:
        _intercept = run  # before the flag: a thread that sees it set finds the chain ready
        intercepting = True
    else:
        intercepting = False


def _layer(fn: Callable[..., Any], run: Callable[..., Any]) -> Callable[..., Any]:
    return lambda cls, args, kwargs: fn(cls, args, kwargs, run)


def _run(cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The op itself, under the interceptors."""
    return run_op(cls, _new(cls), args, kwargs)[0]


def run_op(cls: type[Function], ctx: Function, args: tuple[Any, ...], kwargs: dict[str, Any],
           also_needed: tuple[bool, ...] | None = None) -> tuple[Any, tuple[Any, ...]]:
    """What ``apply`` does after its flag check (keep the two in step), with a given ``ctx``:
    for the interceptors, which are off the hot path. Returns the result and what forward
    passed to ``save_for_backward``.

    ``also_needed``: the inputs whose gradient forward must prepare for (save what backward
    needs for them) besides those the graph records: forward AD differentiates the op through
    its backward. The recorded node keeps the graph's own ``needs_input_grad``."""
    if not cls.array_io:
        return _apply_function(cls, ctx, args, kwargs), ()
    if state.enabled:
        arrays, record = _connect(ctx, args)
    else:
        arrays, record = _unwrap(args), False
        ctx.needs_input_grad = _nothing_needed(len(args))
    if arrays is None:  # arrays only
        return cls.forward(ctx, *args, **kwargs), ()
    needs = ctx.needs_input_grad
    if also_needed is not None:
        ctx.needs_input_grad = tuple([a or b for a, b in zip(needs, also_needed, strict=True)])
    out = cls.forward(ctx, *arrays, **kwargs)
    ctx.needs_input_grad = needs
    saved = ctx._to_save  # (_record drops it)
    if type(out) is not tuple:
        t = _wrap_output(out)
        if cls.is_view:
            _share_version(cls, args, kwargs, t)
        if record:
            _record(ctx, args, (t,))
        return t, saved
    return _outputs(cls, ctx, args, out, record), saved


def sequence_mark() -> int:
    """A number below every node made from now on (nodes are numbered as they are made)."""
    return next(_SEQ)


def _nothing_needed(n: int) -> tuple[bool, ...]:
    """needs_input_grad of an op none of whose n inputs needs a gradient (cached for the
    usual small n; ops such as cat can take any number of inputs)."""
    return _NOTHING_NEEDED[n] if n < 64 else (False,) * n


def _apply_function(cls: type[Function], ctx: Function, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
    """``apply`` for users' Functions: forward sees Tensors (with grad recording off)."""
    if state.enabled:
        record = _connect(ctx, args)[1]
    else:
        record = False
        ctx.needs_input_grad = _nothing_needed(len(args))
    with no_grad():
        if cls.setup_context is not Function.setup_context:  # torch 2's style: forward
            out = cls.forward(*args, **kwargs)  # without ctx, then setup_context fills it
            cls.setup_context(ctx, args, out)
        else:
            out = cls.forward(ctx, *args, **kwargs)
    if not isinstance(out, tuple | Tensor):  # a value of another kind: no graph, as torch
        return out
    returned = out if isinstance(out, tuple) else (out,)
    for k, s in enumerate(ctx._to_save):
        if s is not None and not isinstance(s, Tensor):
            raise TypeError(f"save_for_backward can only save variables, but argument {k} is "
                            f"of type {type(s).__name__}")
    for d in ctx._dirty:  # as torch: once more, besides what forward's in-place op did,
        d._bump_version()  # before anything is saved
    if not isinstance(out, tuple):
        t = _wrap_output(out._data)
        if record:
            _record(ctx, args, (t,))
        results: tuple[Any, ...] = (t,)
    else:
        # outputs that are not tensors pass through as they are; backward gets None for them
        others = frozenset(i for i, o in enumerate(out) if not isinstance(o, Tensor))
        results = _outputs(cls, ctx, args, tuple(
            np.zeros((), np.int64) if i in others else o._data for i, o in enumerate(out)),
            record)
        if others:
            ctx._non_tensor = others
            results = tuple(out[i] if i in others else r for i, r in enumerate(results))
    inputs = [a for a in args if isinstance(a, Tensor)]
    if any(isinstance(o, Tensor) and (o._base is not None or any(o is a for a in inputs))
           for o in returned):
        results = _aliased_outputs(cls, ctx, inputs, returned, results, record)
    return results if isinstance(out, tuple) else results[0]


def _aliased_outputs(cls: type[Function], ctx: Function, inputs: list[Any],
                     returned: tuple[Any, ...], results: tuple[Any, ...],
                     record: bool) -> tuple[Any, ...]:
    """torch's rules for a custom Function's outputs that are its inputs or share their
    memory. An input forward changed in place and declared with ``mark_dirty`` is returned
    itself, with this node as its history (through its base's ``CopySlices`` if it is a view).
    Any other input returned as it is, or a view of one, comes out as a view of that input
    (sharing its version counter), which may not be changed in place while grad mode is on:
    its backward is the Function's, which knows nothing of the view (torch's
    ``IN_CUSTOM_FUNCTION`` views). Without this, writing into the output would change the
    input behind autograd's back."""
    from ndgrad.autograd.inplace import (
        _copy_slices,
        check_inplace,
        move_retained,
        refresh_view,
    )

    out = list(results)
    for i, o in enumerate(returned):
        if not isinstance(o, Tensor):
            continue
        t = out[i]
        if any(o is d for d in ctx._dirty):
            if record and t._requires_grad:
                if o._base is None and o._grad_fn is None and o._requires_grad:
                    raise RuntimeError("a leaf Variable that requires grad has been used in an "
                                       "in-place operation.")
                check_inplace(o)
                old_fn, old_nr = o._grad_fn, o._output_nr
                if o._base is not None:
                    _copy_slices(o, t)
                    refresh_view(o)
                else:
                    o._grad_fn, o._output_nr, o._requires_grad = ctx, t._output_nr, True
                if o._retains_grad:
                    move_retained(o, old_fn, old_nr)
            out[i] = o
            continue
        src = next((a for a in inputs if o is a or (
            o._data.base is not None and np.may_share_memory(o._data, a._data))), None)
        if src is None:
            continue
        if src._vc is None:
            src._vc = [0]
        t._vc, t._view_version = src._vc, src._vc[0]
        # the view's chain from its base is the one forward made (none for an input itself)
        t._base, t._view_fn = (o._base, o._view_fn) if o._base is not None else (o, ())
        if src._view_meta is not None:  # a view of a view that cannot be rebuilt is one too
            t._view_meta = src._view_meta
        elif record:
            t._view_meta = (cls.__name__, i, len(t._view_fn), CUSTOM_FUNCTION_VIEW)
        elif not state.enabled:
            t._view_meta = NO_GRAD_VIEW
    return tuple(out)


def _outputs(cls: type[Function], ctx: Function, args: tuple[Any, ...], out: tuple[Any, ...],
             record: bool) -> tuple[Any, ...]:
    """Wrap the outputs of an op with several (max(dim), sort, ...) and record them."""
    results = tuple(_wrap_output(o) for o in out)
    if cls.is_view:  # a view op with several outputs gives each its own step (Split's slices)
        steps = getattr(ctx, "view_steps", None)
        for i, t in enumerate(results if steps is not None else results[:1]):
            _share_version(cls, args, {}, t, None if steps is None else steps[i])
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
    """Before forward: which inputs need a gradient, and an Edge to the node that made each.
    Returns the arguments with Tensors replaced by their arrays (None if there is no Tensor)
    and whether any input needs a gradient (then ``ctx`` is recorded)."""
    arrays = []
    needs = []
    edges: list[Edge | None] = []
    record = tensors = False
    for a in args:
        if isinstance(a, Tensor):
            base = a._base
            if base is not None and a._view_version != a._vc[0]:
                a._refresh_view()  # its base changed in place: rebuild its history from it
            d = a._data
            arrays.append(d)
            tensors = True
            if a._requires_grad:
                record = True
                fn = a._grad_fn
                needs.append(True)
                e = _new(Edge)  # its fields set here, without an __init__ call
                if fn is None:  # a leaf
                    e.node = accumulator(a)
                    e.output_nr = 0
                else:
                    e.node = fn
                    e.output_nr = a._output_nr
                e.shape = d.shape
                e.dtype = d.dtype
                edges.append(e)
                continue
            if base is not None and base._requires_grad:
                # a view made under no_grad of a tensor that requires grad: it requires grad,
                # so the op is recorded, as in torch, but no gradient flows back through it
                record = True
        else:
            arrays.append(a)
        needs.append(False)
        edges.append(None)
    if record:
        ctx.needs_input_grad = tuple(needs)
        ctx._edges = edges
        ctx._seq = next(_SEQ)
    else:
        ctx.needs_input_grad = _nothing_needed(len(args))
    return (arrays if tensors else None), record


def _record(ctx: Function, args: tuple[Any, ...], results: tuple[Any, ...]) -> None:
    """After forward: ``ctx`` becomes the grad_fn of the float outputs and keeps what was saved."""
    non_diff = ctx._non_diff
    i = 0
    for t in results:
        if t._data.dtype.kind in "fc" and not (non_diff and any(
                t._data is (n._data if isinstance(n, Tensor) else n) for n in non_diff)):
            t._requires_grad = True
            t._grad_fn = ctx
            if i:
                t._output_nr = i
        i += 1
    if ctx._to_save:
        saved = []
        save = pack_hooked if saved_hooks else pack
        for s in ctx._to_save:
            saved.append(save(s, args, results, Tensor))
        ctx._saved = saved
        # the records hold what backward needs; the raw tuple would keep it after backward
        # frees the records (the graph of a step's loss, alive until the next loss replaces it)
        ctx._to_save = ()
    if anomaly.state.enabled:
        ctx._trace = traceback.format_stack()[:-2]


def _wrap_output(o: Any) -> Any:
    return Tensor._make(as_ndarray(o))


def _share_version(cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any],
                  out: Any, step: Any = None) -> None:
    """Make ``out`` a view of ``args[0]``'s base when NumPy returned a view of its memory: it
    shares the base's version counter and records how to make itself again from the base (the
    chain of view ops, ``_view_fn``; its last ``step`` is this op, ``(cls, args, kwargs)``,
    unless given). See ``ndgrad/autograd/inplace.py`` for the rules."""
    src = args[0]
    # (empty arrays share no memory with anything: an is_view op's empty result is a view)
    if out._data.base is None or out._data.size and not np.may_share_memory(src._data,
                                                                            out._data):
        return
    if src._vc is None:
        src._vc = [0]
    out._vc = src._vc
    out._view_version = src._vc[0]
    if out._inference is not src._inference:  # a view is an inference tensor if its source is
        out._inference = src._inference
    if step is None:
        step = (cls, args[1:], kwargs)
    if src._base is not None:  # a view of a view: one chain from the root base
        out._base, out._view_fn = src._base, src._view_fn + (step,)
        out._view_meta = src._view_meta
    else:
        out._base, out._view_fn = src, (step,)
    if out._view_meta is None and not state.enabled:
        out._view_meta = NO_GRAD_VIEW


# how a view was made, when in-place ops through it cannot be recorded (torch's CreationMeta):
# made under no_grad, or one of several views a function returned (split, unbind), stored as
# (function name, output number, length of its view chain then)
NO_GRAD_VIEW = "no_grad"
# the 4th field of the (name, output number, chain length) of a view that a custom Function
# returned (an input as it is, or a view of one): torch's IN_CUSTOM_FUNCTION
CUSTOM_FUNCTION_VIEW = "custom Function"


_TWICE = "trying to differentiate twice a function that was marked with @once_differentiable"


class _DelayedError(Function):
    """Passes ``once_differentiable`` backward's results on; differentiating them raises."""

    @staticmethod
    def forward(ctx: Any, *grads: Any) -> Any:
        out = tuple(g.view_as(g) for g in grads)
        return out if len(out) > 1 else out[0]

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise RuntimeError(_TWICE)


def once_differentiable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a Function's ``backward`` that is not itself differentiable (written with
    in-place ops or outside autograd): it runs with grad recording off, and under
    ``create_graph=True`` its results are in the graph, where a second backward through them
    raises, as torch's ``torch.autograd.function.once_differentiable``."""

    @functools.wraps(fn)
    def wrapper(ctx: Any, *args: Any) -> Any:
        with no_grad():
            outputs = fn(ctx, *args)
        if not state.enabled or not any(isinstance(a, Tensor) and a.requires_grad
                                        for a in args):
            return outputs
        many = isinstance(outputs, tuple)
        outs = list(outputs if many else (outputs,))
        where = [i for i, v in enumerate(outs) if isinstance(v, Tensor)]
        if where:
            passed = _DelayedError.apply(*(outs[i].detach().requires_grad_() for i in where))
            for i, v in zip(where, passed if isinstance(passed, tuple) else (passed,)):
                outs[i] = v
        return tuple(outs) if many else outs[0]

    return wrapper
