"""ndgrad.utils: as torch.utils, the home of ``data`` (Dataset, DataLoader) and ``hooks``, and
of ``swap_tensors``.

``import ndgrad`` imports ``ndgrad.utils.data``; this package itself imports nothing of ndgrad,
so that ``ndgrad.utils.hooks`` can be used by the Tensor class that ``data`` builds on.
"""
from __future__ import annotations

import importlib
import weakref
from typing import Any

# Submodules that torch.utils has loaded after ``import torch``, so programs use them without
# importing them (``torch.utils.checkpoint.checkpoint(...)``): loaded on first use here
_LAZY = ("checkpoint", "collect_env")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def swap_tensors(t1: Any, t2: Any) -> None:
    """Swap the contents of two tensors (class, attributes, data, gradient), each keeping its
    identity: whoever held ``t1`` (an optimizer, a module) now sees what ``t2`` was.

    As torch's, it refuses tensors with weak references. A leaf that a live graph still
    accumulates into is refused too (torch lets the swap happen and fails that graph's
    backward instead)."""
    for name, t in (("t1", t1), ("t2", t2)):
        if weakref.getweakrefs(t):
            raise RuntimeError(f"Cannot swap {name} because it has weakref associated with it")
        acc = t.__dict__.get("_accum")
        if acc is not None and acc() is not None:
            raise RuntimeError(f"Cannot swap {name}: a graph that will accumulate into it is "
                               f"still alive; swap before running forward, or after backward "
                               f"once the graph is freed")
    t1.__class__, t2.__class__ = t2.__class__, t1.__class__
    t1.__dict__, t2.__dict__ = t2.__dict__, t1.__dict__


__all__ = ["swap_tensors"]
