"""torch.autograd.graph: hooks on the tensors the graph saves for backward.

Inside ``with saved_tensors_hooks(pack_hook, unpack_hook):`` every tensor an op saves for its
backward goes through ``pack_hook(tensor)`` when it is saved, and what that returns is kept
instead; backward calls ``unpack_hook(packed)`` for the tensor back. That is how activations
get compressed, written to disk, or counted. (ndgrad's ops save arrays too, masks and indices
that torch would save as tensors: they pass through the hooks as tensors as well.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ndgrad.autograd import saved
from ndgrad.autograd.function import Node

__all__ = ["Node", "disable_saved_tensors_hooks", "increment_version", "save_on_cpu",
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
