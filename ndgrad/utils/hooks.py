"""RemovableHandle: what every ``register_*hook`` returns (tensor, module and optimizer hooks)."""

from __future__ import annotations

import itertools
from typing import Any


class RemovableHandle:
    """``remove()`` unregisters the hook it was returned for; usable as a context manager."""

    _ids = itertools.count()

    def __init__(self, hooks_dict: dict[int, Any], *,
                 extra_dict: dict[int, Any] | list[dict[int, Any]] | None = None) -> None:
        self._hooks = hooks_dict
        self.id = next(RemovableHandle._ids)
        # dicts that also hold this id (a hook's options), emptied with it, as torch's
        self._extra = [extra_dict] if isinstance(extra_dict, dict) else list(extra_dict or ())

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        for d in self._extra:
            d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def add_hook(hooks: dict[int, Any], hook: Any, prepend: bool = False) -> RemovableHandle:
    """Register ``hook`` in ``hooks`` (last, or first with ``prepend``) and return its handle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        for key in [k for k in hooks if k != handle.id]:
            hooks[key] = hooks.pop(key)
    return handle
