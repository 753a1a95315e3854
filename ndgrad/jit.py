"""ndgrad.jit: torch.jit's entry points as identity wrappers. TorchScript compiles a model to a
graph that runs without Python; ndgrad has no compiler, so ``script`` and ``trace`` return what
they are given, unchanged, and the model runs as ordinary Python (same results, no speed-up).
Saving a scripted model (``jit.save``) is not offered: use ``ndgrad.save(model.state_dict())``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["export", "fork", "ignore", "is_scripting", "is_tracing", "script", "trace", "unused",
           "wait"]


def script(obj: T, optimize: Any = None, _frames_up: int = 0, _rcb: Any = None,
           example_inputs: Any = None) -> T:
    """Returns ``obj`` unchanged (a module, function or class): no TorchScript compilation."""
    return obj


def trace(func: T, example_inputs: Any = None, *args: Any, **kwargs: Any) -> T:
    """Returns ``func`` unchanged: nothing is traced, it runs as Python each time."""
    return func


def ignore(drop: Any = False, **kwargs: Any) -> Any:
    """``@jit.ignore`` (with or without arguments): the function unchanged."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn: Callable[..., Any]) -> Callable[..., Any]:
    return fn


def export(fn: Callable[..., Any]) -> Callable[..., Any]:
    return fn


def is_scripting() -> bool:
    """False: code never runs under TorchScript here."""
    return False


def is_tracing() -> bool:
    return False


def fork(func: Callable[..., T], *args: Any, **kwargs: Any) -> Any:
    """Runs ``func(*args, **kwargs)`` now (torch.jit.fork runs eagerly too outside TorchScript)
    and returns an ``ndgrad.futures.Future`` holding its result: ``jit.wait`` gives it."""
    from ndgrad.futures import completed
    return completed(func(*args, **kwargs))


def wait(future: Any) -> Any:
    """The result of a Future from ``fork``."""
    return future.wait()
