"""torch.autograd.graph: hooks on the tensors the graph saves for backward.

Inside ``with saved_tensors_hooks(pack_hook, unpack_hook):`` every tensor an op saves for its
backward goes through ``pack_hook(tensor)`` when it is saved, and what that returns is kept
instead; backward calls ``unpack_hook(packed)`` for the tensor back. That is how activations
get compressed, written to disk, or counted. (ndgrad's ops save arrays too, masks and indices
that torch would save as tensors: they pass through the hooks as tensors as well.)

``allow_mutation_on_saved_tensors()`` is built on these hooks, as torch's: inside it, an in-place
op may change a tensor saved for backward, which first copies the saved value (see
``_AllowMutationOnSavedContext``), and backward uses the copy.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ndgrad.autograd import engine, inplace, saved
from ndgrad.autograd.engine import GradientEdge
from ndgrad.autograd.function import Node, accumulator

__all__ = ["GradientEdge", "Node", "allow_mutation_on_saved_tensors",
           "disable_saved_tensors_hooks", "get_gradient_edge", "increment_version",
           "register_multi_grad_hook", "save_on_cpu", "saved_tensors_hooks"]

_disabled: list[str] = []  # messages of the open disable_saved_tensors_hooks blocks


class saved_tensors_hooks:  # noqa: N801 - torch's name
    """``with saved_tensors_hooks(pack_hook, unpack_hook): ...`` (see the module docstring).
    Blocks nest: the innermost pair applies. A pack hook must not save tensors itself."""

    def __init__(self, pack_hook: Callable[[Any], Any],
                 unpack_hook: Callable[[Any], Any]) -> None:
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self) -> saved_tensors_hooks:
        if _disabled:
            raise RuntimeError(_disabled[-1])
        saved.hooks.append((self._pack, self.unpack_hook))
        return self

    def _pack(self, tensor: Any) -> Any:
        with disable_saved_tensors_hooks("Saved tensors default hooks are disabled inside a "
                                         "pack hook: it cannot set hooks of its own"):
            hooks, saved.hooks[:] = saved.hooks[:], []  # what the hook computes saves nothing
            try:
                return self.pack_hook(tensor)
            finally:
                saved.hooks[:] = hooks

    def __exit__(self, *exc: object) -> None:
        saved.hooks.pop()


class save_on_cpu(saved_tensors_hooks):  # noqa: N801 - torch's name
    """Keep saved tensors in CPU memory (for a GPU's activations in torch). ndgrad's tensors
    are all there already, so they are kept as they are."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        super().__init__(lambda t: t, lambda t: t)


class disable_saved_tensors_hooks:  # noqa: N801 - torch's name
    """Inside, entering ``saved_tensors_hooks`` raises RuntimeError(``error_message``)."""

    def __init__(self, error_message: str) -> None:
        self.error_message = error_message

    def __enter__(self) -> None:
        _disabled.append(self.error_message)

    def __exit__(self, *exc: object) -> None:
        _disabled.pop()


class _Handle:
    """What a tensor saved inside ``allow_mutation_on_saved_tensors`` is packed into."""

    def __init__(self, version: int) -> None:
        self.version = version  # the tensor's version when it was saved
        self.skipped = 0  # writes seen into memory it shares a version counter with, not its own


def _owner(a: Any) -> Any:
    """The object at the root of an array's chain of bases: arrays that share memory (views of
    one another) have the same one."""
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


class _AllowMutationOnSavedContext:
    """The state of one ``allow_mutation_on_saved_tensors`` block, as torch's: the tensors saved
    in it (``original``, by handle; several saves of one tensor at one version share a handle),
    and the copies of those an in-place op was about to change (``cloned``). Handles are
    indexed by the memory they look at, so that a write finds the ones it changes: ndgrad
    compares memory (``np.may_share_memory``) where torch compares data pointers."""

    def __init__(self) -> None:
        # weak keys and values: an entry goes when the graph that saved it is freed
        self.original: weakref.WeakKeyDictionary[_Handle, Any] = weakref.WeakKeyDictionary()
        self.cloned: weakref.WeakKeyDictionary[_Handle, Any] = weakref.WeakKeyDictionary()
        self._handle_of: weakref.WeakValueDictionary[tuple[int, int], _Handle] = \
            weakref.WeakValueDictionary()  # (id(tensor), version) -> its handle
        self._by_memory: dict[int, weakref.WeakSet[_Handle]] = {}  # id(_owner(array))

    def clear(self) -> None:
        self.original.clear()
        self.cloned.clear()
        self._handle_of.clear()
        self._by_memory.clear()

    def pack(self, tensor: Any) -> _Handle:
        key = (id(tensor), tensor._version)
        handle = self._handle_of.get(key)
        if handle is None:
            handle = self._handle_of[key] = _Handle(tensor._version)
            self.original[handle] = tensor
            owner = id(_owner(tensor._data))
            self._by_memory.setdefault(owner, weakref.WeakSet()).add(handle)
        return handle

    def unpack(self, handle: _Handle) -> Any:
        if _active is not self or (handle not in self.cloned and handle not in self.original):
            raise AssertionError("Trying to backward outside of the "
                                 "'allow_mutation_on_saved_tensors' context in which the graph "
                                 "was originally recorded.")
        if handle in self.cloned:
            return self.cloned[handle]
        t = self.original[handle]
        # its counter moved on by more than the writes seen: a write no in-place op announced
        # (an optimizer's step, NumPy through .numpy()): refuse it, as outside this block
        if t._version > handle.version + handle.skipped:
            raise RuntimeError(saved.modified_message(t, handle.version))
        return t

    def before_write(self, t: Any) -> None:
        """Called just before an in-place op writes into t's memory: every saved tensor that
        looks at that memory is copied first. Saved tensors that share t's version counter but
        not the memory written (another slice of the same base) keep their values: the write
        is counted instead, so that their version check still holds."""
        handles = self._by_memory.get(id(_owner(t._data)))
        for handle in list(handles or ()):
            s = self.original.get(handle)
            if s is None:
                continue
            if np.may_share_memory(s._data, t._data):
                copy = s._make(s._data.copy())  # the old values, with the same history
                copy._requires_grad, copy._grad_fn = s.requires_grad, s._grad_fn
                copy._output_nr = s._output_nr
                self.cloned[handle] = copy
                del self.original[handle]
                self._handle_of.pop((id(s), handle.version), None)
            elif s._vc is not None and s._vc is t._vc:
                handle.skipped += 1


_active: _AllowMutationOnSavedContext | None = None


@contextlib.contextmanager
def allow_mutation_on_saved_tensors() -> Iterator[_AllowMutationOnSavedContext]:
    """Inside this block, in-place ops may change tensors saved for backward: the saved values
    are copied just before the change, and backward uses the copies (run it inside the block
    too; outside it raises). Yields the block's state, cleared when it ends. As torch's,
    built on ``saved_tensors_hooks``; ndgrad sees the writes of its in-place ops (``add_``,
    ``x[i] = v``, ``copy_``, ``out=``, ...), and refuses at backward, as without this block, a
    saved tensor changed otherwise (an optimizer's step, NumPy through ``.numpy()``)."""
    global _active
    if _active is not None:
        raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
    ctx = _AllowMutationOnSavedContext()
    with saved_tensors_hooks(ctx.pack, ctx.unpack):
        _active, inplace.before_write = ctx, ctx.before_write
        try:
            yield ctx
        finally:
            ctx.clear()
            _active, inplace.before_write = None, None


def increment_version(tensor: Any) -> None:
    """Count an in-place change made behind autograd's back (through .numpy(), say), so that
    a backward that saved the old values raises instead of using the new ones."""
    tensor._bump_version()


def get_gradient_edge(tensor: Any) -> GradientEdge:
    """Where the gradient of ``tensor`` goes in the graph: its grad_fn and output number (a
    leaf's AccumulateGrad). ``autograd.grad`` takes it as an input, as torch's does, for the
    gradient with respect to a tensor that has since been changed in place."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    if tensor.grad_fn is None:
        return GradientEdge(accumulator(tensor), 0)
    return GradientEdge(tensor.grad_fn, tensor._output_nr)


class _MultiHandle:
    """The handles of one multi-grad hook: ``remove()`` removes them all."""

    def __init__(self, handles: tuple[Any, ...]) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def __enter__(self) -> _MultiHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def register_multi_grad_hook(tensors: Sequence[Any], fn: Callable[..., Any], *,
                             mode: str = "all") -> _MultiHandle:
    """Call ``fn`` once per backward about several tensors. ``mode="all"``: ``fn(grads)``
    once the gradients of every one of them this backward computes are in (None for the
    others); ``mode="any"``: ``fn(grad)`` with the first gradient computed."""
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = list(tensors)
    if mode == "any":
        done: set[int] = set()

        def first(grad: Any) -> None:
            task = engine.tasks[-1].id
            if task not in done:
                done.add(task)
                fn(grad)

        return _MultiHandle(tuple(t.register_hook(first) for t in tensors if t.requires_grad))

    nodes = [t.grad_fn if t.grad_fn is not None else accumulator(t) if t.requires_grad
             else None for t in tensors]
    pending: dict[int, list[Any]] = {}  # backward id -> [calls still to come, gradients]

    def one(i: int) -> Callable[[Any], None]:
        def hook(grad: Any) -> None:
            task = engine.tasks[-1]
            if task.id not in pending:
                calls = sum(n is not None and task.will_execute(n) for n in nodes)
                pending[task.id] = [calls, [None] * len(tensors)]
            entry = pending[task.id]
            entry[1][i] = grad
            entry[0] -= 1
            if entry[0] == 0:
                del pending[task.id]
                fn(tuple(entry[1]))
        return hook

    return _MultiHandle(tuple(t.register_hook(one(i)) for i, t in enumerate(tensors)
                              if t.requires_grad))
