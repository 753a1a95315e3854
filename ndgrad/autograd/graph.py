"""torch.autograd.graph: hooks on the tensors the graph saves for backward.

Inside ``with saved_tensors_hooks(pack_hook, unpack_hook):`` every tensor an op saves for its
backward goes through ``pack_hook(tensor)`` when it is saved, and what that returns is kept
instead; backward calls ``unpack_hook(packed)`` for the tensor back. That is how activations
get compressed, written to disk, or counted. (ndgrad's ops save arrays too, masks and indices
that torch would save as tensors: they pass through the hooks as tensors as well.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ndgrad.autograd import engine, saved
from ndgrad.autograd.engine import GradientEdge
from ndgrad.autograd.function import Node, accumulator

__all__ = ["GradientEdge", "Node", "disable_saved_tensors_hooks", "get_gradient_edge",
           "increment_version", "register_multi_grad_hook", "save_on_cpu",
           "saved_tensors_hooks"]

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
