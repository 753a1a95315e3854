"""ndgrad.autograd.forward_ad: forward-mode AD with PyTorch's API (``torch.autograd.forward_ad``).

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)   # a dual tensor: a value and its tangent
        y = f(x)
        value, jvp = forward_ad.unpack_dual(y)      # jvp = J_f(primal) @ tangent

Tangents live on the tensors, per level (``t._fw_grads``: {level: tangent}), and are dropped when
the level exits; as in torch, one level may be open at a time.

How a tangent goes through an op. While a level is open, forward AD is an op interceptor
(``function.set_interceptor``): every ``Function.apply`` comes here first. An op none of whose
inputs has a tangent runs as usual. Otherwise the op runs once, exactly as it would without
forward AD (same outputs, same ``requires_grad``/``grad_fn``, same graph), and then its outputs
get their tangents:

* a primitive (``ndgrad/ops``), from its backward formula, by the double-backward trick:
  backward is the linear map ``u -> J^T u``, so ``J t`` is the derivative in ``u`` of
  ``<J^T u, t>``. The formula runs on a copy of the op's ``ctx`` whose saved values are
  constants, on a fresh ``u``: a small private graph, differentiated once in ``u`` (one
  ``autograd.grad``). Nothing of it touches the user's graph or any ``.grad``. (``func.jvp``
  does the same for a whole function at once.)
* a view op (reshape, permute, ``x[i]``, expand, ...): the same view of the input's tangent, so
  the tangent of a view is a view of the base's tangent, as in torch.
* a user's Function, from its ``jvp(ctx, *tangents)`` (torch's), an error if it has none.

In-place ops on a dual tensor (``add_``, ``copy_``, ``masked_fill_``, ...) write the new
value's tangent into the tensor's tangent, in place, so that views see it (see
``inplace.tangent_update``); a write that bypasses them leaves a stale tangent, which is refused
when next used. A backward under ``create_graph`` inside a level runs its formulas as ops, so
tangents flow through it too (forward-over-reverse: Hessian-vector products).

Outside a level none of this runs: ``apply`` pays its one interceptor flag check, as it does
for the profiler. Differences from torch: tangents are computed without recording a graph, so
they are not themselves differentiable (no reverse-over-forward); a level is global to the
process, as torch's, but the tangent rules' own ops are hidden per thread; where an op assumes
a structure of its input (cholesky's and eigh's symmetric matrix, triangular_solve's
triangle), the tangent follows the backward's convention (symmetrised, cut to the triangle)
while torch's forward formulas take the tangent as given: the two agree on tangents with that
structure. Code that skips an op when nothing requires grad must ask ``is_dual`` too, or the
tangent is lost.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import threading
import weakref
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from ndgrad.autograd import engine, function, inplace, saved
from ndgrad.autograd.grad_mode import enable_grad, no_grad

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual", "dual_level"]

_current_level = -1  # the open level, -1 if none (torch's global)
# the tensors that hold a tangent at the open level: their tangents go when it exits
_holders: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_NONE = object()  # a tangent entry that says "none here" (unpack_dual's primal)
# the tangents of the outputs of each recorded node (by output number): a backward under
# create_graph unpacks a saved output as a new tensor with the node as grad_fn, which must
# carry the output's tangent (forward-over-reverse, as in Hessian-vector products)
_node_tangents: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
# the version counters of the tensors with tangents, and the version forward AD last saw: a
# write it did not follow (one that skips ``inplace()``) leaves the tangents stale
_versions: dict[int, tuple[list[int], int]] = {}
_prune_at = 1024  # (records of counters no tensor uses any more go when it grows past this)
STALE = ("forward AD: this dual tensor (or its base, or another view of it) was changed in "
         "place by an op that forward AD does not follow (a direct write such as x[i] = v "
         "while nothing requires grad), so its tangent is stale. Use an out-of-place op, or "
         "an in-place method (copy_, index_put_, masked_fill_, add_, ...).")
_new = object.__new__


class _Local(threading.local):
    busy = False  # running a tangent rule, or a Function's forward: ops pass through


_local = _Local()


# -- levels ----------------------------------------------------------------------------------------
def enter_dual_level() -> int:
    """Open a forward AD level (the one ``make_dual`` and ``unpack_dual`` use by default) and
    return it. Only one level may be open at a time, as in torch."""
    global _current_level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level += 1
    inplace.tangent_update = _inplace_tangent
    function.set_interceptor("forward_ad", _forward_op)
    return _current_level


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the open level: every tangent made in it is dropped (``unpack_dual`` gives None)."""
    global _current_level, _prune_at
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    function.set_interceptor("forward_ad", None)
    inplace.tangent_update = None
    for t in list(_holders.values()):
        grads = t.__dict__.get("_fw_grads")
        if grads is not None:
            grads.pop(level, None)
            if not grads:
                del t._fw_grads
    _holders.clear()
    _versions.clear()
    _prune_at = 1024
    _node_tangents.clear()
    _current_level = level - 1


class dual_level(contextlib.ContextDecorator):  # noqa: N801 - torch's name
    """``with dual_level():`` (or as a decorator): a forward AD level open for the block.
    ``__enter__`` returns the level."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc: Any) -> None:
        exit_dual_level()


# -- dual tensors ----------------------------------------------------------------------------------
class UnpackedDualTensor(NamedTuple):
    """What ``unpack_dual`` returns: the primal, and the tangent (None if it has none)."""

    primal: Any
    tangent: Any


def make_dual(tensor: Any, tangent: Any, *, level: int | None = None) -> Any:
    """A dual tensor: a view of ``tensor`` (so backward reaches ``tensor`` through it) whose
    tangent is ``tangent``, kept as it is if it has ``tensor``'s layout, else copied into it."""
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    if not (tangent.is_floating_point() or tangent.is_complex()):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: "
                         f"{tangent.dtype}")
    if level != _current_level:
        raise RuntimeError("Invalid level given to _make_dual")
    if _tangent(tensor, level) is not None:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {level} is not supported.")
    _check_size(tensor, tangent)
    with _busy():
        dual = tensor.view_as(tensor)
    if tangent._data.strides != tensor._data.strides:
        arr = np.empty_like(tensor._data, dtype=tangent._data.dtype)  # tensor's layout
        np.copyto(arr, tangent._data)
        tangent = function.Tensor._make(arr)
    _set(dual, tangent, level)
    return dual


def unpack_dual(tensor: Any, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)``: a view of ``tensor`` without tangent, and its tangent as it is
    (None if it has none at ``level``)."""
    if level is None:
        level = _current_level
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    if not isinstance(tensor, function.Tensor):
        raise TypeError(f"_unpack_dual(): argument 'dual' (position 1) must be Tensor, not "
                        f"{type(tensor).__name__}")
    if level != _current_level and tensor.__dict__.get("_fw_grads"):
        raise RuntimeError("Invalid level given to _fw_primal")
    tangent = _tangent(tensor, level) if level == _current_level else None
    with _busy():
        primal = tensor.view_as(tensor)
    if level == _current_level:
        _set(primal, _NONE, level)  # not the tangent of its base, as views otherwise get
    return UnpackedDualTensor(primal, tangent)


def is_dual(t: Any) -> bool:
    """Whether ``t`` has a tangent at the open level. (Not torch's: for ndgrad's fast paths
    that skip an op when ``t`` needs no gradient: a dual tensor needs the op all the same.)"""
    return (_current_level >= 0 and isinstance(t, function.Tensor)
            and _tangent(t, _current_level) is not None)


def _check_size(t: Any, tangent: Any) -> None:
    if tangent._data.shape != t._data.shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(t._data.shape)} while the given forward gradient is of "
                           f"size {list(tangent._data.shape)}.")


def _tangent(t: Any, level: int) -> Any:
    """t's tangent at ``level``, or None. A view made before its base got a tangent gets the
    same view of the base's tangent when first asked."""
    grads = t.__dict__.get("_fw_grads")
    if grads is not None:
        tan = grads.get(level)
        if tan is not None:
            if tan is _NONE:
                return None
            _check_current(t, tan)
            return tan
    base = t._base
    if base is not None:
        base_grads = base.__dict__.get("_fw_grads")
        if base_grads is not None:
            base_tan = base_grads.get(level)
            if base_tan is not None and base_tan is not _NONE:
                tan = _replay_view(t, base_tan)
                _set(t, tan, level)
                return tan
    fn = t._grad_fn
    if fn is not None and _node_tangents:  # a saved output, unpacked (see _node_tangents)
        outs = _node_tangents.get(fn)
        if outs is not None:
            tan = outs[t._output_nr]
            if tan is not None and tan._data.shape == t._data.shape:
                _set(t, tan, level)
                return tan
    return None


def _check_current(t: Any, tangent: Any) -> None:
    """Refuse a tangent that no longer describes its tensor: changed in place behind forward
    AD's back (see ``_versions``), or reshaped in place (``t_``, ``squeeze_``, ...)."""
    vc = t._vc
    if vc is not None:
        seen = _versions.get(id(vc))
        if seen is not None and seen[1] != vc[0]:
            raise RuntimeError(STALE)
    if tangent._data.shape != t._data.shape:
        raise RuntimeError(f"forward AD: a dual tensor of shape {list(t._data.shape)} has a "
                           f"tangent of shape {list(tangent._data.shape)}: it was reshaped in "
                           f"place (t_, squeeze_, unsqueeze_, transpose_, ...), which forward "
                           f"AD does not follow. Use the out-of-place op.")


def _set(t: Any, tangent: Any, level: int) -> None:
    grads = t.__dict__.get("_fw_grads")
    if grads is None:
        grads = t._fw_grads = {}
    grads[level] = tangent
    _holders[id(t)] = t
    if t._vc is None:
        t._vc = [0]
    if id(t._vc) not in _versions:
        _versions[id(t._vc)] = (t._vc, t._vc[0])
        if len(_versions) > _prune_at:
            _prune_versions()


def _prune_versions() -> None:
    """Drop the records of version counters that only ``_versions`` still holds (their
    tensors are gone): a long loop inside one level would otherwise pile them up."""
    global _prune_at
    for key, (vc, _) in list(_versions.items()):
        if sys.getrefcount(vc) <= 3:  # the record, the loop's name, getrefcount's argument
            del _versions[key]
    _prune_at = max(1024, 2 * len(_versions))


def _replay_view(v: Any, base_tangent: Any) -> Any:
    """The view ``v`` makes of its base, made of the base's tangent (v's view chain)."""
    tan = base_tangent
    with _busy(), no_grad():
        for cls, args, kwargs in v._view_fn:
            tan = function.run_op(cls, _new(cls), (tan, *args), kwargs)[0]
    return tan


@contextlib.contextmanager
def _busy(private: bool = False) -> Iterator[None]:
    """Ops run here pass through forward AD untouched (a tangent rule's own ops, a Function's
    forward and jvp). ``private``: they build forward AD's own graph, which saves nothing
    through the user's saved_tensors_hooks (set aside meanwhile, for every thread)."""
    prev, hooks = _local.busy, saved.hooks[:] if private else None
    _local.busy = True
    if hooks:
        saved.hooks.clear()
    try:
        yield
    finally:
        _local.busy = prev
        if hooks:
            saved.hooks[:] = hooks


# -- the op interceptor ----------------------------------------------------------------------------
def _forward_op(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], run: Any) -> Any:
    """Forward AD's op interceptor: run the op, then give its outputs their tangents."""
    if _local.busy:
        return run(cls, args, kwargs)
    level = _current_level
    tangents: list[Any] | None = None
    for i, a in enumerate(args):
        if isinstance(a, function.Tensor):
            tan = _tangent(a, level)
            if tan is not None:
                if tangents is None:
                    tangents = [None] * len(args)
                tangents[i] = tan
    if tangents is None:
        out = run(cls, args, kwargs)
        if cls.is_view and type(out) is not tuple and out._base is not None:
            # a view of a tensor without tangent (unpack_dual's primal) whose base has one
            base_grads = out._base.__dict__.get("_fw_grads")
            if base_grads is not None and base_grads.get(level) not in (None, _NONE):
                _set(out, _NONE, level)
        return out
    ctx = _new(cls)
    if not cls.array_io:
        return _function_op(cls, ctx, args, kwargs, tangents)
    needed = tuple([t is not None for t in tangents])
    out, to_save = function.run_op(cls, ctx, args, kwargs, needed)
    outs = out if type(out) is tuple else (out,)
    if cls.is_view and not any(t is not None for t in tangents[1:]):
        with _busy():
            new = _view_tangents(cls, ctx, args, kwargs, tangents[0], outs)
    else:
        with _busy(private=True):
            new = _rule_tangents(cls, ctx, to_save, tangents, outs)
    for o, tan in zip(outs, new, strict=True):
        if tan is not None:
            _set(o, tan, level)
    if any(o._grad_fn is ctx for o in outs):
        _node_tangents[ctx] = new
    return out


def _differentiable(ctx: Any, o: Any) -> bool:
    """Whether output ``o`` can have a tangent: floating point, not marked non-differentiable."""
    return o._data.dtype.kind in "fc" and not any(
        o._data is getattr(n, "_data", n) for n in ctx._non_diff)


def _view_tangents(cls: Any, ctx: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                   tangent: Any, outs: tuple[Any, ...]) -> list[Any]:
    """A view op is linear in its input: its outputs' tangents are the same view of the input's
    tangent (views of it, when NumPy's result is a view)."""
    res = function.run_op(cls, _new(cls), (tangent, *args[1:]), kwargs)[0]
    res = res if type(res) is tuple else (res,)
    return [r if _differentiable(ctx, o) else None for r, o in zip(res, outs, strict=True)]


def _rule_tangents(cls: Any, ctx: Any, to_save: tuple[Any, ...], tangents: list[Any],
                   outs: tuple[Any, ...]) -> list[Any]:
    """The outputs' tangents ``J t`` from the primitive's backward ``u -> J^T u``: the
    derivative in ``u`` of ``sum_i <(J^T u)_i, t_i>`` over the inputs with a tangent."""
    diff = [_differentiable(ctx, o) for o in outs]
    if not any(diff):
        return [None] * len(outs)
    rule = copy.copy(ctx)  # forward's attributes; what it saved, as constants (J is fixed)
    rule.needs_input_grad = tuple([t is not None for t in tangents])
    rule._saved = [saved.SavedConstant(getattr(v, "_data", v)) for v in to_save]
    with enable_grad():
        # Any u will do, the formula being linear in u. Ones: a formula may be smooth only
        # where u has no zero (logcumsumexp's works in log|u|); zeros if the formula refuses
        # ones (eig's backward checks that the upstream gradient ignores the eigenvectors'
        # phases, as any zero does).
        try:
            us = [_ones(o).requires_grad_() if d else _zeros(o) for o, d in zip(outs, diff)]
            grads = cls.backward(rule, *us)
        except RuntimeError:
            us = [_zeros(o).requires_grad_() if d else _zeros(o) for o, d in zip(outs, diff)]
            grads = cls.backward(rule, *us)
        grads = grads if type(grads) is tuple else (grads,)
        ys, vs = [], []
        for g, tan in zip(grads, tangents):  # (backward may return extra Nones)
            if tan is not None and isinstance(g, function.Tensor) and g._requires_grad:
                ys.append(g)
                vs.append(_as_grad_output(tan, g))
        leaves = [u for u, d in zip(us, diff) if d]
        res = list(engine.grad(ys, leaves, vs, allow_unused=True)) if ys else [None] * len(leaves)
    sources = [t._data for t in tangents if t is not None]
    new: list[Any] = []
    for o, d in zip(outs, diff):
        if not d:
            new.append(None)
            continue
        r = res.pop(0)
        if r is None:  # the outputs do not move with these inputs
            r = _zeros(o)
        elif r._data.dtype.kind == "c":  # autograd.grad's complex result is conj(J t)
            r = function.Tensor._make(np.conj(r._data))
        elif not r._data.flags.writeable or any(np.may_share_memory(r._data, s)
                                                for s in sources):
            r = function.Tensor._make(r._data.copy())  # its own memory, for in-place ops
        new.append(r)
    return new


def _zeros(o: Any) -> Any:
    return function.Tensor._make(np.zeros(o._data.shape, o._data.dtype))


def _ones(o: Any) -> Any:
    return function.Tensor._make(np.ones(o._data.shape, o._data.dtype))


def _as_grad_output(tangent: Any, g: Any) -> Any:
    """An input's tangent t as the upstream gradient of its gradient ``g``, in g's shape (the
    op's broadcast one, which the engine would sum down to the input's) and dtype: conj(t), as
    the derivative is that of Re(sum g t) (the pairing of ndgrad's complex cotangents, see
    ops/complex.py), and autograd.grad with upstream v differentiates Re(sum conj(v) g)."""
    a, shape, dtype = tangent._data, g._data.shape, g._data.dtype
    if a.dtype.kind == "c":
        a = np.conj(a) if dtype.kind == "c" else a.real
    if a.shape != shape:
        a = np.broadcast_to(a, shape)
    if a.dtype != dtype:
        a = a.astype(dtype)
    return function.Tensor._make(a)


def _function_op(cls: Any, ctx: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                 tangents: list[Any]) -> Any:
    """A user's Function on dual tensors: forward, then its ``jvp`` for the outputs' tangents
    (zeros for an input tensor without one), run with ``ctx.saved_tensors`` giving what
    forward kept with ``save_for_forward``."""
    with _busy():
        out = function.run_op(cls, ctx, args, kwargs)[0]
    outs = out if type(out) is tuple else (out,)
    ins = [tan if tan is not None else _zeros(a) if isinstance(a, function.Tensor)
           and a._data.dtype.kind in "fc" else None for a, tan in zip(args, tangents)]
    had_saved = "_saved" in ctx.__dict__
    backward_saved = ctx._saved
    ctx._saved = [saved.SavedConstant(v) for v in ctx._for_forward]
    try:
        with _busy():
            res = cls.jvp(ctx, *ins)
    finally:
        if had_saved:
            ctx._saved = backward_saved
        else:
            del ctx._saved
    res = res if type(res) is tuple else (res,)
    if len(res) != len(outs):
        raise RuntimeError(f"Function's jvp returned an invalid number of forward gradients "
                           f"(expected {len(outs)} but got {len(res)})")
    sources = [t._data for t in tangents if t is not None]
    for i, (o, r) in enumerate(zip(outs, res)):
        if r is None:
            continue
        if not isinstance(r, function.Tensor):
            raise RuntimeError(f"expected Variable or None (got {type(r).__name__}) for grad "
                               f"output {i}.")
        if not _differentiable(ctx, o):
            continue
        _check_size(o, r)
        if any(np.may_share_memory(r._data, s) for s in sources):
            r = function.Tensor._make(r._data.copy())
        _set(o, r, _current_level)
    return out


# -- in-place ops ----------------------------------------------------------------------------------
def _inplace_tangent(t: Any, out: Any) -> None:
    """``inplace.tangent_update``: ``t`` was overwritten with ``out``'s values; its tangent
    becomes ``out``'s (zeros if out has none), written into t's tangent in place, so that views
    of t and t's base see it. A tensor without a tangent gets one (a view of its base's, zeros
    elsewhere) when the new value has one."""
    if _local.busy:
        return
    vc = t._vc
    seen = _versions.get(id(vc))
    if seen is not None and seen[1] == vc[0] - 1:  # in step until this op, which it follows
        _versions[id(vc)] = (vc, vc[0])
    level = _current_level
    new = _tangent(out, level) if out is not None else None
    old = _tangent(t, level)
    if (new is None and old is None) or t._data.dtype.kind not in "fc":
        return
    if old is None:
        old = _tangent_slot(t, level)
    elif not old._data.flags.writeable:
        old = function.Tensor._make(old._data.copy())
        _set(t, old, level)
    if new is None:
        old._data[...] = 0
    else:
        np.copyto(old._data, np.broadcast_to(new._data, old._data.shape), casting="unsafe")
    old._bump_version()


def _tangent_slot(t: Any, level: int) -> Any:
    """A zero tangent for ``t``: a view of its base's tangent (given one) if t is a view."""
    base = t._base
    if base is not None:
        base_tan = _tangent(base, level)
        if base_tan is None:
            base_tan = _zeros(base)
            _set(base, base_tan, level)
        tan = _replay_view(t, base_tan)
        if np.may_share_memory(tan._data, base_tan._data):
            _set(t, tan, level)
            return tan
    tan = _zeros(t)
    _set(t, tan, level)
    return tan
