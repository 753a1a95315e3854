"""ndgrad.compiler: torch.compiler's entry points for programs written for torch.compile.

ndgrad has no compiler: ``compile`` returns the model unchanged, so code runs as ordinary
Python, with the same results and no speed-up. The rest answer as torch's answer outside a
compiled region: ``is_compiling()`` is False, ``disable`` and the other decorators return the
function as it is, and ``set_stance`` changes nothing.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ndgrad._runtime import compile

__all__ = ["allow_in_graph", "assume_constant_result", "compile", "cudagraph_mark_step_begin",
           "disable", "is_compiling", "is_dynamo_compiling", "is_exporting", "list_backends",
           "nested_compile_region", "reset", "set_stance", "substitute_in_graph", "wrap_numpy"]

F = TypeVar("F", bound=Callable[..., Any])


def is_compiling() -> bool:
    """False: nothing in ndgrad runs under a compiler (what torch says in eager mode)."""
    return False


def is_dynamo_compiling() -> bool:
    """False, as ``is_compiling``."""
    return False


def is_exporting() -> bool:
    """False: ndgrad has no ``torch.export`` tracing."""
    return False


def disable(fn: F | None = None, recursive: bool = True, *, reason: str | None = None) -> Any:
    """``@disable`` or ``@disable(...)``: keep a function out of compilation. Everything runs
    uncompiled here, so the function comes back as it is."""
    if fn is None:
        return lambda f: f
    return fn


def allow_in_graph(fn: F) -> F:
    """The function as it is (torch traces it into the graph without looking inside)."""
    return fn


def assume_constant_result(fn: F) -> F:
    """The function as it is (torch would call it once while compiling)."""
    return fn


def nested_compile_region(fn: F | None = None, options: Any = None) -> Any:
    """``@nested_compile_region`` with or without arguments: the function as it is."""
    if fn is None:
        return lambda f: f
    return fn


def substitute_in_graph(original_fn: Callable[..., Any], *,
                        can_constant_fold_through: bool = False,
                        skip_signature_check: bool = False) -> Callable[[F], F]:
    """A decorator for a traceable stand-in for ``original_fn``. Nothing is traced here, so
    calls keep going to ``original_fn`` and the decorated stand-in is returned unchanged."""
    if not callable(original_fn):
        raise TypeError(f"substitute_in_graph expects a function, got "
                        f"{type(original_fn).__name__}")
    return lambda fn: fn


def reset() -> None:
    """Clear compilation caches: ndgrad keeps none."""


def cudagraph_mark_step_begin() -> None:
    """Mark a new step for CUDA graphs: ndgrad runs on the CPU, nothing to mark."""


def list_backends(exclude_tags: tuple[str, ...] | None = ("debug", "experimental")) -> list[str]:
    """The names ``compile(backend=...)`` accepts: none is a real compiler here (``compile``
    ignores its backend), so the list is empty."""
    return []


_stance = ["default"]


class _Stance(contextlib.ContextDecorator):
    """What ``set_stance`` returns: the stance holds from the call on; as a context manager or
    decorator, only inside (the previous one comes back after)."""

    def __init__(self, stance: str, previous: str) -> None:
        self.stance, self.previous = stance, previous

    def __enter__(self) -> _Stance:
        _stance[0] = self.stance
        return self

    def __exit__(self, *exc: object) -> None:
        _stance[0] = self.previous

    def __call__(self, fn: F) -> F:  # type: ignore[override]
        """As a decorator: undo the set of the call that made it; the stance holds only while
        ``fn`` runs (as torch's)."""
        _stance[0] = self.previous
        return super().__call__(fn)  # type: ignore[return-value]


def set_stance(stance: str = "default", *, skip_guard_eval_unsafe: bool = False,
               force_backend: str | Callable[..., Any] | None = None) -> _Stance:
    """Set how ``compile`` behaves ("default", "force_eager", ...): kept (a context manager
    or decorator restores the one before), with no effect, since ``compile`` never compiles."""
    previous = _stance[0]
    _stance[0] = stance
    return _Stance(stance, previous)


def wrap_numpy(fn: F) -> F:
    """Turn a function of NumPy arrays into one of tensors, as torch's does outside a compiled
    region: tensor arguments go in as ``.numpy()`` (so one that requires grad is refused, as
    ``.numpy()`` refuses it), and arrays in the result come back as tensors. No gradient flows
    through the NumPy code."""
    from ndgrad import Tensor, as_tensor

    def convert(obj: Any, kind: type, to: Callable[[Any], Any]) -> Any:
        if isinstance(obj, kind):
            return to(obj)
        if isinstance(obj, (list, tuple)):
            items = [convert(o, kind, to) for o in obj]
            return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
        if isinstance(obj, dict):
            return {k: convert(v, kind, to) for k, v in obj.items()}
        return obj

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = convert((args, kwargs), Tensor, lambda t: t.numpy())
        return convert(fn(*args, **kwargs), np.ndarray, as_tensor)
    return wrapped  # type: ignore[return-value]
