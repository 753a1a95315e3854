"""In-place ops and views: how a tensor is overwritten without breaking the graph, with
PyTorch's rules.

Views. An op whose NumPy result shares its input's memory (reshape, view, permute, transpose,
expand, ``x[i]`` with basic indexing, diagonal, narrow, split's pieces, ...: primitives with
``is_view = True``) returns a *view*: a tensor that knows its *base* (``_base``: the tensor that
owns the memory, never itself a view), shares the base's version counter (``_vc``), and keeps
the chain of view ops that makes it from the base (``_view_fn``: ``(primitive, arguments,
keywords)`` steps). Writing into a view writes into its base, and the other way round, as in
PyTorch.

Version counters. Every in-place op adds one to the tensor's counter, which its base and all
its views share: a change through any of them is a change of all. A node that saved a tensor
for backward records the version it saw; backward refuses a tensor that has moved on
(``saved.py``). A view also remembers the version its own history was made at
(``_view_version``): when the counter has moved past it, its history is stale (rule 3).

The rules, each one PyTorch's:

1. An in-place op on a tensor that requires grad (or with an operand that does) is recorded:
   ``compute()`` runs out of place, so the new node's edge points at the tensor's old history,
   and the tensor then takes the new node over as its ``grad_fn``: its history is "rebased".
   Nodes that saved the tensor itself keep its old value (``keep_old_value``; PyTorch saves
   ``original_self``). With nothing to record, the NumPy ufunc writes straight into the array
   (the optimizer's path).
2. An in-place op on a *view* rebases its base's history too: the base's new node
   (``CopySlices``) takes the gradient of the view's new value at the view's positions and
   the base's old gradient elsewhere. The positions come from replaying the view chain on
   ``arange(base.numel())``: for each element of the view, its flat position in the base. The
   view's own history then becomes its view chain replayed on the base's new history.
3. Every other view of that base (and every view of a base changed in place) is rebuilt
   lazily: when its ``_view_version`` is stale and the base requires grad, the next read of its
   ``grad_fn`` (or the next op that takes it) replays its view chain on the base's current
   history (``refresh_view``). So ``v = y[0]; y.mul_(3); v.backward()`` differentiates through
   the multiplication, as in torch. (torch rebuilds it as ``as_strided`` of the base: the
   same gradient, but for a base whose own elements share memory, where it is split among
   them, and for an empty view or base, where it is a constant zero; such views are rebuilt
   so here too.)
4. Refused, with PyTorch's errors, because the history cannot be rebased correctly:
   an in-place op on a leaf that requires grad, or on a view of one (while recording); on a
   tensor whose elements share memory (an ``expand``ed one), whatever the grad mode, except
   ``fill_``/``zero_`` with a number, which gives them all the one value, and ``copy_`` from
   the very same data (``x[...] = x``, ``same_data``), which changes nothing (recorded on
   such a view, the base's ``CopySlices`` then refuses a backward through it, where torch's
   copies the gradient into the view); and on, or rebuilding, two kinds of views whose
   history cannot be rebuilt from the base alone (``_view_meta`` says which, see
   ``view_message``):

   * views made under ``no_grad`` of a tensor that requires grad. They report
     ``requires_grad=True`` (through their base) and ops on them are recorded, but no
     gradient flows back through them; an in-place op on one with grad mode on is ambiguous
     (should it reach the base's history, made before?), so it is refused, as is any use of
     one after it or its base changed in place, even under no_grad;
   * the views that split, chunk and unbind return together (``multi_output_views``): torch
     makes them with one backward node, which an in-place change of one piece would corrupt.
     ``unsafe_split``/``unsafe_chunk`` return pieces that share the memory but are not views
     (``unviewed_alias``: no base, their own version counter), which may be modified in
     place: the caller promises not to rely on the input's values or history afterwards.
   * the outputs of a custom Function that are its inputs or views of them: their backward
     is the Function's, which knows nothing of the view (``_aliased_outputs`` in function.py).

5. Refused too, whatever the grad mode: a write whose input shares part of the memory it
   writes (``x[:2] = x[1:]``, ``x.add_(x[0])``, ``x.copy_(x.t())``), whose result would
   depend on the order elements are written in (``refuse_overlap``). As in torch, only inputs
   read elementwise are checked (not fill_'s or masked_fill_'s single value); the very same
   elements (``x.add_(x)``) and layouts that are not dense (strided, expanded), which torch
   does not analyse, pass; index_put_, scatter_, index_add_, index_copy_ and put_ refuse any
   shared memory, between self and the values or indices.
6. Ops that PyTorch documents as returning a new tensor do so even when they change nothing
   (``F.pad(x, (0, 0))`` copies, ``expand`` to the same shape is a view): only ops that
   torch documents as possibly returning ``self`` (``contiguous``, ``to`` the same dtype, ...)
   do.

The parts of Tensor this module calls (``_operand``, ``index_fill``, indexing) are methods:
autograd sits below ndgrad.tensor and imports no op.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import broadcast_error
from ndgrad.autograd.function import (
    CUSTOM_FUNCTION_VIEW,
    NO_GRAD_VIEW,
    Function,
    sequence_mark,
)
from ndgrad.autograd.grad_mode import enable_grad, no_grad
from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.autograd.saved import SavedInput, SavedOutput

OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a "
           "single memory location. Please clone() the tensor before performing the operation.")
OVERLAP_INPUT = ("unsupported operation: some elements of the input tensor and the written-to "
                 "tensor refer to a single memory location. Please clone() the tensor before "
                 "performing the operation.")


# forward AD (forward_ad.py): while a dual level is open, in-place ops compute their new value
# out of place (never a bare NumPy ufunc, which would give it no tangent), and this gives ``t``
# the new value's tangent: ``tangent_update(t, out)``
tangent_update: Callable[[Any, Any], None] | None = None
# graph.allow_mutation_on_saved_tensors: while its block is open, ``before_write(t)`` runs just
# before anything is written into t's memory, to copy the saved tensors that would change
before_write: Callable[[Any], None] | None = None


def will_write(t: Any) -> None:
    """Announce a write into t's memory made outside ``inplace`` (``x[i] = v`` with nothing to
    record, ``out=``): see ``before_write``."""
    if before_write is not None:
        before_write(t)


def inplace(t: Any, compute: Callable[[], Any], ufunc: Any = None, arg: Any = None,
            reads: tuple[Any, ...] | None = None, disjoint: bool = False,
            overlap_ok: bool = False) -> Any:
    """Overwrite ``t`` with ``compute()``, as PyTorch's in-place ops do, and return ``t``.

    ``ufunc`` (with its second operand ``arg``) is the NumPy ufunc that does the same straight
    into the array when nothing is recorded; ``arg`` also tells whether recording is needed
    (an op without a ufunc finds out from the result of ``compute()``). ``reads`` are the
    tensors the op reads elementwise besides t (default: ``arg``), refused if they share part
    of t's memory, or, with ``disjoint``, any of it (rule 5). ``overlap_ok``: the write is
    well defined where t's elements share memory (fill_ with a number, copy_ from t's very
    data), so an expand()ed t may take it (rule 4)."""
    if not overlap_ok and overlaps(t._data):
        raise RuntimeError(OVERLAP)
    for r in (arg,) if reads is None else reads:
        refuse_overlap(t._data, getattr(r, "_data", None), disjoint)
    out = None
    if tangent_update is not None:
        ufunc = None
    # an integer or bool t can hold no gradient: nothing to record, as in torch
    differentiable = t._data.dtype.kind in "fc"
    record = grad_state.enabled and differentiable and (
        t.requires_grad or getattr(arg, "requires_grad", False))
    mark = sequence_mark() if grad_state.enabled else 0
    if grad_state.enabled and differentiable and not record and ufunc is None:
        out = compute()  # its other operands may require grad
        record = out._requires_grad
    if record:
        check_inplace(t)
        old_fn, old_nr = t._grad_fn, t._output_nr
        if out is None:
            out = compute()
        # x.mul_(x): x's own gradient needs the other operand, which torch saves as it is,
        # x itself (or a tensor sharing its version counter), stale after the write
        if not (t.requires_grad and (arg is t or t._vc is not None
                                     and getattr(arg, "_vc", None) is t._vc)):
            keep_old_value(t, out, mark)
        write(t, out)
        if t._base is not None:
            _copy_slices(t, out)
        elif out._requires_grad:
            t._grad_fn, t._output_nr = out._grad_fn, out._output_nr
            t._requires_grad = True
    elif out is None and ufunc is not None and not (
            hasattr(arg, "_data") and arg._data.dtype != t._data.dtype):
        _ufunc_inplace(t, ufunc, arg)
    else:
        if out is None:
            with no_grad():
                out = compute()
        write(t, out)
    t._bump_version()
    if record:
        _save_as_self(out, t)
    if record and t._base is not None:
        refresh_view(t)  # its history: the view chain over the base's new one
    if record and t._retains_grad:
        move_retained(t, old_fn, old_nr)
    if tangent_update is not None:
        tangent_update(t, out)
    return t


def _save_as_self(out: Any, t: Any) -> None:
    """The node that computed ``out`` and saved it (exp_, tanh_, sqrt_, ...) saves ``t``
    instead, which holds those values now: torch's in-place ops save self, so a later in-place
    change of t, or of a tensor sharing its version counter (its detach()), makes backward
    raise rather than use the values from before it."""
    saved: list[Any] = getattr(out._grad_fn, "_saved", None) or []
    for k, s in enumerate(saved):
        if type(s) is SavedOutput and s.data is out._data:
            saved[k] = SavedOutput(s.data, t._vc, s.output_nr, t._vc[0])


def overlaps(a: np.ndarray) -> bool:
    """True if two elements of ``a`` are one memory location (a dim of stride 0: expand); an
    empty array has no elements to share one (NumPy gives its dims stride 0 freely)."""
    return (0 in a.strides and a.size > 1
            and any(s == 0 and n > 1 for s, n in zip(a.strides, a.shape, strict=True)))


def refuse_overlap(dst: np.ndarray, src: np.ndarray | None, disjoint: bool = False) -> None:
    """torch's check that an op's input array ``src`` does not share part of the memory it
    writes, ``dst`` (rule 5): the same elements in the same order pass
    (``x.add_(x.view(x.shape))``), as do arrays whose layout is not dense (strided, expanded),
    which torch does not try; with ``disjoint`` (index_put_, scatter_, index_add_, ...) any
    shared memory is refused."""
    a, b = dst, src
    if b is None or a.size == 0 or b.size == 0 or not np.may_share_memory(a, b):
        return
    if not (_dense(a) and _dense(b)):
        return  # torch's "too hard" case: it leaves it unchecked
    same = (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.itemsize == b.itemsize
            and all(s == u for s, u, n in zip(a.strides, b.strides, a.shape, strict=True)
                    if n > 1))
    if disjoint or not same:
        raise RuntimeError(OVERLAP_INPUT)


def same_data(a: np.ndarray, b: np.ndarray) -> bool:
    """True if ``a`` and ``b`` are the same elements in the same layout and dtype: a copy from
    one into the other changes nothing, so torch's copy_ returns before its overlap checks."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype)


def _dense(a: np.ndarray) -> bool:
    """True if ``a`` covers a block of memory without gaps or repeats in some order of its
    dims (torch's is_non_overlapping_and_dense): size-1 dims do not count."""
    dims = sorted((s, n) for s, n in zip(a.strides, a.shape, strict=True) if n > 1)
    need = a.itemsize
    for s, n in dims:
        if s != need:
            return False
        need *= n
    return True


def check_inplace(t: Any) -> None:
    """PyTorch's checks before an in-place op is recorded (rule 4)."""
    if t._base is not None:
        if t._view_meta is not None:
            raise RuntimeError(view_message(t, "is being"))
        if t._base._grad_fn is None and t._base._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
    elif t._grad_fn is None and t._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")


def view_message(t: Any, what: str) -> str:
    """torch's error for a view whose history cannot be rebuilt (rule 4)."""
    meta, fn = t._view_meta, t._grad_fn
    custom = meta != NO_GRAD_VIEW and meta[-1] == CUSTOM_FUNCTION_VIEW
    op, nr = (fn.name().removesuffix("Backward"), t._output_nr) if fn is not None else ("", 0)
    if fn is None or meta == NO_GRAD_VIEW:
        made = "A view was created" if fn is None else \
            f"Output {nr} of {op} is a view of a view which was created"
        head = f"{made} in no_grad mode and {what} modified inplace with grad mode enabled."
    else:
        if len(t._view_fn) != meta[2]:
            meta = (op, nr)  # a view of one of the views: torch names the last view op
        head = f"Output {meta[1]} of {meta[0]} is a view and {what} modified inplace."
    if custom:
        return (f"{head} This view was created inside a custom Function (or because an input "
                f"was returned as-is) and the autograd logic to handle view+inplace would "
                f"override the custom backward associated with the custom Function, leading to "
                f"incorrect gradients. This behavior is forbidden. You can fix this by cloning "
                f"the output of the custom Function.")
    if meta == NO_GRAD_VIEW:
        return (f"{head} Given that this use case is ambiguous and error-prone, it is forbidden. "
                f"You can clarify your code by moving both the view and the inplace either both "
                f"inside the no_grad block (if you don't want the inplace to be tracked) or both "
                f"outside (if you want the inplace to be tracked).")
    return (f"{head} This view is the output of a function that returns multiple views. Such "
            f"functions do not allow the output views to be modified inplace. You should replace "
            f"the inplace operation by an out-of-place one.")


def refresh_view(v: Any) -> None:
    """Rebuild a view's history from its base's current one (rule 3): called when the base, or
    another view of it, changed in place since the view's history was made."""
    base = v._base
    if v._grad_fn is None and not base._requires_grad:
        return  # nothing to differentiate; the version stays stale, as in torch
    if v._view_meta is not None:
        raise RuntimeError(view_message(v, "its base or another view of its base has been"))
    with enable_grad():  # a read of grad_fn under no_grad rebuilds it all the same
        if overlaps(base._data) or not v._data.size or not base._data.size:
            # torch rebuilds a view as as_strided of its base (AsStridedBackward): where the
            # base's own elements share memory (a detach()ed expand), the gradient is split
            # among them, not given to the ones the view chain took (fuzz seed 8276303); where
            # either has no elements, it is a constant zero (seed 8273790)
            fresh = base.as_strided(v._data.shape, v.stride(), v.storage_offset())
        else:
            fresh = base
            for cls, args, kwargs in v._view_fn:
                fresh = cls.apply(fresh, *args, **kwargs)
    old_fn, old_nr = v._grad_fn, v._output_nr
    v._grad_fn, v._output_nr = fresh._grad_fn, fresh._output_nr
    v._requires_grad = fresh._requires_grad
    v._view_version = v._vc[0]
    if v._retains_grad:
        move_retained(v, old_fn, old_nr)


def move_retained(t: Any, old_fn: Any, old_nr: int) -> None:
    """``retain_grad()`` follows a tensor to its new history after an in-place change (its
    ``.grad`` is then the gradient of the new values), as torch's; hooks registered on it
    before stay with the old history."""
    retained = old_fn._retained if old_fn is not None else None
    if retained and old_nr in retained and retained[old_nr]() is t:
        del retained[old_nr]
    node = t._grad_fn
    if node is not None:
        if node._retained is None:
            node._retained = {}
        node._retained[t._output_nr] = weakref.ref(t)


def multi_output_views(views: tuple[Any, ...], name: str) -> tuple[Any, ...]:
    """Mark the views one call returned together (split, chunk, unbind; ``name`` is torch's
    op name for the message) as torch's multi-output views, whose in-place change, or rebuild
    after their base changed, is refused (rule 4). A view already marked (made under no_grad,
    or of a marked view) keeps its mark, as in torch."""
    for i, v in enumerate(views):
        if v._base is not None and v._view_meta is None:
            v._view_meta = (name, i, len(v._view_fn))
    return views


def unviewed_alias(t: Any) -> Any:
    """``t``, a view, made a tensor of its own that still shares its base's memory: no base,
    its own version counter (torch's unsafe_split/unsafe_chunk outputs). An in-place op on it
    changes the base's values but neither the base's version nor its history: the caller
    promises not to rely on either."""
    t._base, t._view_fn, t._view_meta, t._view_version, t._vc = None, (), None, 0, None
    return t


def view_positions(v: Any) -> np.ndarray:
    """For each element of the view ``v``, its position in its base flattened (rule 2)."""
    pos = np.arange(v._base._data.size).reshape(v._base._data.shape)
    for cls, args, kwargs in v._view_fn:
        pos = cls.forward(object.__new__(cls), pos, *args, **kwargs)
    return pos


class CopySlices(Function):
    """The base's new history after an in-place op on one of its views (rule 2): ``base`` with
    ``value`` at the flat positions ``index``. The values are already in the base's memory
    (the op wrote them through the view), so forward returns the base's array unchanged.
    ``overlap``: the view's elements share memory (a fill_ of an expanded view), whose
    gradient torch refuses to write back into the view (rule 4), at backward. ``index`` is
    saved, so a second backward without ``retain_graph`` raises, as torch's CopySlices does."""

    array_io = True

    @staticmethod
    def forward(ctx: Any, base: Any, value: Any, index: Any, overlap: bool = False) -> Any:
        ctx.shape, ctx.overlap = base.shape, overlap
        ctx.save_for_backward(index)
        return base

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        index, = ctx.saved_like(grad)
        flat = grad.reshape(-1)
        g_base = g_value = None
        if ctx.needs_input_grad[0] and ctx.overlap:
            raise RuntimeError(OVERLAP)
        if ctx.needs_input_grad[0]:  # zeros where the view was written, not grad * mask
            g_base = flat.index_fill(0, index.reshape(-1), 0.0).reshape(ctx.shape)
        if ctx.needs_input_grad[1]:
            g_value = flat[index]
        return g_base, g_value, None, None


def _copy_slices(v: Any, out: Any) -> None:
    """Give the base of ``v`` its new history after ``out`` was written into ``v``."""
    base = v._base
    node_out = CopySlices.apply(base, out, view_positions(v), overlaps(v._data))
    base._grad_fn, base._output_nr = node_out._grad_fn, 0
    base._requires_grad = True


def _ufunc_inplace(t: Any, ufunc: Any, arg: Any) -> None:
    """t = ufunc(t, arg) in t's own memory, with torch's errors for a result type t cannot
    hold and for shapes that do not broadcast to t's."""
    y = getattr(arg, "_data", arg)
    if before_write is not None:
        before_write(t)
    try:
        ufunc(t._data, y, out=t._data, casting="same_kind")
    except TypeError:
        nd = _dtype.result_type(t, t._operand(arg))
        if ufunc is np.true_divide and nd.kind != "f":
            nd = _dtype.default_float()
        raise RuntimeError(f"result type {_dtype.from_np(nd)} can't be cast to the desired "
                           f"output type {t.dtype}") from None
    except ValueError:  # NumPy's broadcasting errors
        if not t._data.flags.writeable:
            raise RuntimeError("the tensor's memory is read-only (a NumPy array marked not "
                               "writeable); clone() it before modifying it in place") from None
        shape = np.shape(y)
        try:
            full = list(np.broadcast_shapes(t._data.shape, shape))
        except ValueError:
            raise broadcast_error(t._data.shape, shape) from None
        raise RuntimeError(f"output with shape {list(t._data.shape)} doesn't match "
                           f"the broadcast shape {full}") from None


def write(t: Any, out: Any) -> None:
    """Copy out's values into t's array (broadcasting), refusing a dtype t cannot hold."""
    src, dst = out._data, t._data
    if _dtype._category(src.dtype) > _dtype._category(dst.dtype):
        raise RuntimeError(f"result type {_dtype.from_np(src.dtype)} can't be cast to the "
                           f"desired output type {t.dtype}")
    if before_write is not None:
        before_write(t)
    try:
        np.copyto(dst, np.broadcast_to(src, dst.shape), casting="unsafe")
    except ValueError:
        raise RuntimeError(f"output with shape {list(dst.shape)} doesn't match the broadcast "
                           f"shape {list(src.shape)}") from None


def keep_old_value(t: Any, out: Any, mark: int) -> None:
    """Nodes that an in-place op's out-of-place ``compute()`` made (those numbered after
    ``mark``) and that saved ``t`` itself get a copy of t's value from before the write
    (PyTorch saves ``original_self``). A copy of t cast for type promotion (``promoted``)
    already holds that value: it just stops sharing t's version counter."""
    version, proxy = t._version, None
    stack, seen = [out._grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node._seq <= mark or node in seen:
            continue
        seen.add(node)
        saved: Any = getattr(node, "_saved", None)
        for k, s in enumerate(saved or ()):
            if type(s) is SavedInput and s.tensor is t and s.version == version:
                if proxy is None:
                    proxy = t._make(t._data.copy())
                    proxy._requires_grad, proxy._grad_fn = t._requires_grad, t._grad_fn
                    proxy._output_nr = t._output_nr
                saved[k] = SavedInput(proxy, 0)
            elif type(s) is SavedInput and s.tensor is not t and s.tensor._vc is t._vc \
                    and not np.may_share_memory(s.tensor._data, t._data):
                s.tensor._vc = None
                saved[k] = SavedInput(s.tensor, 0)
        stack.extend(n for n, _ in node.next_functions)
