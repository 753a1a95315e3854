"""Activation checkpointing, as torch.utils.checkpoint: trade compute for memory.

``checkpoint(fn, *args, use_reentrant=False)`` runs ``fn`` without recording its graph, so
none of the activations inside it stay in memory until backward; only its inputs are kept.
When backward reaches it, ``fn`` runs again on those inputs, with the graph recorded this time
(and the random generator set back to where it was, so dropout draws the same masks), and a
backward through that second run gives the gradients: to the inputs, and into the ``.grad``
of the parameters ``fn`` used. A transformer block checkpointed this way keeps one tensor
instead of a dozen, for one extra forward of the block.

The recomputing backward fills ``.grad`` directly, so it works with ``loss.backward()``, not
inside ``autograd.grad`` or ``backward(inputs=...)`` (torch's reentrant form has the same limit;
here both forms have it and say so). The two forms differ in what torch documents: with
``use_reentrant=False`` the parameters get gradients even when no input requires grad; with
``use_reentrant=True`` (torch's default when it is not given, with a warning) they do not.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ndgrad import random as _random
from ndgrad.autograd import Function, engine
from ndgrad.autograd.grad_mode import enable_grad, no_grad
from ndgrad.tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]

_SAVED = object()  # marks where a saved tensor goes back among the arguments


class _Recompute(Function):
    """forward: ``fn(*args)`` untracked; backward: ``fn`` again, tracked, and a backward
    through it. ``args`` holds the tensors and the other arguments in their order."""

    @staticmethod
    def forward(ctx: Any, fn: Any, preserve_rng: bool, anchor: Any, *args: Any) -> Any:
        # the tensors are saved (version-checked: an in-place change before backward raises),
        # the other arguments kept as they are
        ctx.fn, ctx.others = fn, [_SAVED if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        ctx.rng = _random.get_rng_state() if preserve_rng else None
        with no_grad():
            out = fn(*args)
        ctx.single = isinstance(out, Tensor)
        outs = (out,) if ctx.single else tuple(out)
        if not all(isinstance(o, Tensor) for o in outs):
            raise TypeError("checkpoint: the function must return a Tensor or a tuple of "
                            "Tensors")
        return out if ctx.single else outs

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        if engine.capturing:
            raise RuntimeError("Checkpointing is not compatible with .grad() or when an "
                               "`inputs` parameter is passed to .backward(). Please use "
                               ".backward() and do not pass its `inputs` argument.")
        saved = iter(ctx.saved_tensors)
        args = [next(saved) if a is _SAVED else a for a in ctx.others]
        inputs = [a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a
                  for a in args]
        with _random.fork_rng(enabled=ctx.rng is not None), enable_grad():
            if ctx.rng is not None:
                _random.set_rng_state(ctx.rng)
            out = ctx.fn(*inputs)
        outs = (out,) if ctx.single else tuple(out)
        pairs = [(o, g) for o, g in zip(outs, grads, strict=True)
                 if o.requires_grad and g is not None]
        if pairs:
            engine.backward([o for o, _ in pairs], [g for _, g in pairs])
        arg_grads = tuple(a.grad if isinstance(a, Tensor) and a.requires_grad else None
                          for a in inputs)
        return (None, None, None, *arg_grads)


def checkpoint(function: Callable[..., Any], *args: Any, use_reentrant: bool | None = None,
               preserve_rng_state: bool = True, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, keeping only ``args`` for backward and running
    ``function`` again there (see the module docstring)."""
    if use_reentrant is None:
        warnings.warn("ndgrad.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly, as torch asks; use_reentrant=False is recommended (both "
                      "recompute the same way here; see the module docstring)", UserWarning,
                      stacklevel=2)
        use_reentrant = True
    fn = function if not kwargs else (lambda *a: function(*a, **kwargs))
    anchor = None
    if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        if use_reentrant:
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                          UserWarning, stacklevel=2)
        else:  # a tensor that requires grad, so backward reaches the parameters inside
            anchor = Tensor._make(np.zeros(0)).requires_grad_()
    return _Recompute.apply(fn, preserve_rng_state, anchor, *args)


def checkpoint_sequential(functions: Any, segments: int, input: Tensor,
                          use_reentrant: bool | None = None, **kwargs: Any) -> Any:
    """Run ``functions`` (an nn.Sequential or a list of modules) in ``segments`` chunks, each
    checkpointed but the last, as torch.utils.checkpoint.checkpoint_sequential."""
    if isinstance(functions, Iterable) and not hasattr(functions, "children"):
        functions = list(functions)
    else:
        functions = list(functions.children())
    size = len(functions) // segments

    def run(start: int, end: int) -> Callable[[Tensor], Tensor]:
        def forward(x: Tensor) -> Tensor:
            for f in functions[start:end + 1]:
                x = f(x)
            return x
        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1)(input)
