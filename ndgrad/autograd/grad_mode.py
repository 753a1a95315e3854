"""Grad mode: one global switch that says whether ops record the graph.

``no_grad`` turns it off (for evaluation and optimizer updates); the engine turns it off while it
runs backward unless ``create_graph=True``. Each class works as a context manager and as a
decorator, as in PyTorch.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

_F = TypeVar("_F", bound=Callable[..., Any])


class _State:
    enabled = True  # read by Function.apply on every op
    inference = 0  # how many inference_mode(True) blocks are open


state = _State()


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward."""
    return state.enabled


class _GradMode(contextlib.ContextDecorator):
    """Set grad mode to ``self.mode`` inside a ``with`` block or a decorated function.

    Previous modes are kept on a stack so one instance can be re-entered (recursive decorated
    functions)."""

    mode = True
    _prev: list[bool]  # the modes to restore, one per active `with`

    def __call__(self, func: _F) -> _F:  # type: ignore[override]
        """Decorate ``func`` (a plain function or a generator function) to run in this mode."""
        if inspect.isgeneratorfunction(func):
            return cast(_F, _wrap_generator(self, func))
        return super().__call__(func)

    def __enter__(self) -> None:
        self.__dict__.setdefault("_prev", []).append(state.enabled)
        state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        state.enabled = self._prev.pop()


class _NoParamGradMode(_GradMode):
    """Also usable as a bare decorator: ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, orig_func: Callable[..., Any] | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamGradMode):  # noqa: N801 - PyTorch's name
    """Disable graph recording: results of ops have ``requires_grad=False``."""

    mode = False


class enable_grad(_NoParamGradMode):  # noqa: N801
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """``set_grad_enabled(False)`` switches recording off now, or for a ``with`` block."""

    def __init__(self, mode: bool) -> None:
        self._init_prev: bool | None = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode  # takes effect immediately, as in PyTorch

    def __enter__(self) -> None:
        # the first `with` restores the mode from before the constructor switched it
        prev, self._init_prev = self._init_prev, None
        self.__dict__.setdefault("_prev", []).append(state.enabled if prev is None else prev)
        state.enabled = self.mode

    def __call__(self, func: _F) -> _F:  # type: ignore[override]
        # used as a decorator, the mode applies only inside calls: undo the switch __init__ made
        if self._init_prev is not None:
            state.enabled, self._init_prev = self._init_prev, None
        return super().__call__(func)


class inference_mode(_GradMode):  # noqa: N801
    """Like ``no_grad`` (ndgrad has no separate inference tensors); ``inference_mode(False)``
    leaves grad mode as it is. Usable as ``@inference_mode`` and ``@inference_mode()``."""

    def __new__(cls, mode: bool | Callable[..., Any] = True) -> Any:
        if callable(mode):
            return cls()(mode)
        return super().__new__(cls)

    _inference: list[int]  # the inference-mode depths to restore, one per active `with`

    def __init__(self, mode: bool | Callable[..., Any] = True) -> None:
        self._keep = mode is False

    def __enter__(self) -> None:
        self.mode = state.enabled if self._keep else False
        super().__enter__()
        self.__dict__.setdefault("_inference", []).append(state.inference)
        state.inference = 0 if self._keep else state.inference + 1

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        state.inference = self._inference.pop()


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` (not inside ``inference_mode(False)``)."""
    return state.inference > 0


def _wrap_generator(ctx: _GradMode, func: Callable[..., Any]) -> Callable[..., Any]:
    """Run each step of a generator in the mode, and give the caller's mode back in between."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gen = func(*args, **kwargs)
        try:
            with ctx:
                value = next(gen)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as e:  # noqa: BLE001 - forwarded into the generator
                    with ctx:
                        value = gen.throw(e)
                else:
                    with ctx:
                        value = gen.send(sent)
        except StopIteration as e:
            return e.value

    return wrapper
