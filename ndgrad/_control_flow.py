"""torch.cond and torch.while_loop, torch's structured control flow, run eagerly.

torch traces both branches of ``cond`` and the body of ``while_loop`` with torch.compile, so it
can check that they agree (the same number, shapes and dtypes of outputs) and that no output
aliases an input. ndgrad has no compiler: it runs the branch that ``pred`` picks, or the loop,
in Python, exactly as torch's documented eager meaning::

    cond(pred, true_fn, false_fn, operands)  ==  (true_fn if pred else false_fn)(*operands)
    while_loop(cond_fn, body_fn, carried)    ==  val = carried; while cond_fn(*val):
                                                      val = body_fn(*val)

with torch's argument checks, its check of the loop body's outputs against the carried values
(at every step here) and its aliasing check on what was run. What ndgrad cannot check is the
branch it did not run. Gradients flow through whatever ran, as through any Python code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ndgrad.tensor import Tensor

__all__ = ["cond", "while_loop"]


def _flatten(tree: Any) -> tuple[list[Any], Any]:
    from ndgrad.func import _flatten as flatten  # ndgrad.func imports ndgrad: at call time

    return flatten(tree)


def _unflatten(leaves: list[Any], spec: Any) -> Any:
    from ndgrad.func import _unflatten as unflatten

    return unflatten(leaves, spec)


def _check_aliasing(op: str, outputs: Any, inputs: Sequence[Any]) -> None:
    """torch's rule: no output may be an input or a view of one (return a clone instead)."""
    arrays = [t._data for t in inputs if isinstance(t, Tensor)]
    for out in _flatten(outputs)[0]:
        if isinstance(out, Tensor) and any(
                out._data is a or np.may_share_memory(out._data, a) for a in arrays):
            raise RuntimeError(f"Encountered aliasing during higher order op tracing: an output "
                               f"of torch.{op}'s function is one of its inputs or a view of one. "
                               f"Higher order ops do not support aliasing: return a clone "
                               f"(.clone()) instead")


def cond(pred: bool | int | float | Tensor, true_fn: Callable[..., Any],
         false_fn: Callable[..., Any], operands: tuple[Any, ...] | list[Any] = ()) -> Any:
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``; ``pred`` is a Python
    bool (or number) or a one-element tensor, ``operands`` a tuple or list of (nested
    dict/list/tuple of) tensors."""
    if isinstance(pred, bool | int | float):  # a constant: torch runs the branch unchecked
        return true_fn(*operands) if pred else false_fn(*operands)
    if not isinstance(pred, Tensor):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    if pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got "
                           f"{pred}.")
    if not callable(true_fn) or not callable(false_fn):
        raise RuntimeError("Expect both branches to be callable.")
    leaves = _flatten(operands)[0] if isinstance(operands, tuple | list) else [operands]
    if not isinstance(operands, tuple | list) or not all(isinstance(t, Tensor) for t in leaves):
        raise RuntimeError(f"Expect operands to be a tuple of possibly nested dict/list/tuple "
                           f"that only consists of tensor leaves, but got {operands}.")
    out = true_fn(*operands) if bool(pred) else false_fn(*operands)
    _check_aliasing("cond", out, leaves)
    return out


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"Tensor(shape={list(value.shape)}, dtype={value.dtype})"
    return type(value).__name__


def _check_body(outs: list[Any], carried: list[Any]) -> None:
    """torch's check that the body gives back what it was given: as many values, each a
    tensor of the same shape and dtype, or an int where an int was."""
    if len(outs) != len(carried):
        raise RuntimeError(f"Expected body_fn_output and carried_inputs to have same number of "
                           f"outputs but got lhs:{[_describe(o) for o in outs]} and "
                           f"rhs:{[_describe(c) for c in carried]}")
    for i, (o, c) in enumerate(zip(outs, carried, strict=True)):
        if isinstance(c, Tensor):
            same = isinstance(o, Tensor) and o.shape == c.shape and o.dtype == c.dtype
        else:
            same = isinstance(o, int) and not isinstance(o, Tensor)
        if not same:
            raise RuntimeError(f"Expected body_fn_output and carried_inputs to have same "
                               f"metadata but found: pair[{i}] differ: {_describe(o)} vs "
                               f"{_describe(c)}")


def _predicate(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, Tensor) and value.dim() == 0:
        return bool(value)
    what = list(value.shape) if isinstance(value, Tensor) else type(value).__name__
    raise RuntimeError(f"torch.while_loop: unsupported cond_fn return type: expected cond_fn "
                       f"to return a scalar tensor or a bool but got {what}")


def while_loop(cond_fn: Callable[..., Any], body_fn: Callable[..., Any],
               carried_inputs: tuple[Any, ...] | list[Any]) -> Any:
    """Run ``body_fn(*carried)`` while ``cond_fn(*carried)`` is true, carrying its outputs
    (tensors or ints, in nested dict/list/tuple) to the next step; returns the last body
    output, or copies of ``carried_inputs`` if the body never ran."""
    if not callable(cond_fn) or not callable(body_fn):
        raise RuntimeError("Expect cond_fn and body_fn to be callable.")
    leaves, spec = _flatten(carried_inputs) if isinstance(carried_inputs, tuple | list) \
        else ([carried_inputs], None)
    if not isinstance(carried_inputs, tuple | list) or not all(
            isinstance(t, Tensor | int) for t in leaves):
        raise RuntimeError(f"Expect carried_inputs to be a tuple of possibly nested "
                           f"dict/list/tuple that only consists of tensor or int leaves, but "
                           f"got {carried_inputs}.")
    result: Any = None
    ran = False
    args = carried_inputs
    while _predicate(cond_fn(*args)):
        result = body_fn(*args)
        outs = _flatten(result)[0]
        _check_body(outs, leaves)
        _check_aliasing("while_loop", result, leaves)
        leaves, ran = outs, True
        args = _unflatten(leaves, spec)  # the next step sees the carried inputs' structure
    if ran:
        return result
    # no step ran: new tensors, as torch's (an output never aliases an input)
    return _unflatten([t.clone() if isinstance(t, Tensor) else t for t in leaves], spec)
