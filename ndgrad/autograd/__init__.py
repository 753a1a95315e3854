"""ndgrad.autograd: the engine (Function, backward, grad), grad mode, gradcheck, anomaly mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ndgrad.autograd.anomaly import detect_anomaly, set_detect_anomaly
from ndgrad.autograd.function import Function
from ndgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from ndgrad.tensor import Tensor

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "detect_anomaly", "set_detect_anomaly",
           "gradcheck", "gradgradcheck"]


def _seq(x: Any) -> list[Any]:
    if x is None:
        return []
    return [x] if isinstance(x, Tensor) else list(x)


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables: Any = None, inputs: Tensor | Sequence[Tensor] | None = None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves of their graph
    (only of ``inputs`` when given). ``grad_variables`` is the deprecated ``grad_tensors``."""
    from ndgrad.autograd.engine import run_backward

    if grad_variables is not None:
        if grad_tensors is not None:
            raise RuntimeError("'grad_tensors' and 'grad_variables' (deprecated) arguments both "
                               "passed to backward(). Please only use 'grad_tensors'.")
        grad_tensors = grad_variables
    if inputs is not None and not _seq(inputs):
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    outs = _seq(tensors)
    grads = _seq(grad_tensors) if grad_tensors is not None else [None] * len(outs)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        ins = _seq(inputs)
        result = run_backward(outs, grads, retain_graph, create_graph, ins, allow_unused=True)
        for t, g in zip(ins, result or (), strict=True):
            if g is not None:
                from ndgrad.autograd.engine import _accumulate_leaf

                _accumulate_leaf(t, g if create_graph else g._data, create_graph)
        return
    run_backward(outs, grads, retain_graph, create_graph)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple[Any, ...]:
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    An input the outputs do not depend on is an error unless ``allow_unused`` (its gradient is
    then None) or ``materialize_grads`` (zeros)."""
    from ndgrad.autograd.engine import run_backward

    if is_grads_batched:
        raise NotImplementedError("ndgrad has no vmap: is_grads_batched=True is not supported")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads="
                         "True, but got: allow_unused=False.")

    outs = _seq(outputs)
    ins = _seq(inputs)
    grads = _seq(grad_outputs) if grad_outputs is not None else [None] * len(outs)
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require "
                               f"grad")
    result = run_backward(outs, grads, retain_graph, create_graph, ins,
                          allow_unused=allow_unused or materialize_grads)
    assert result is not None
    if materialize_grads:
        from ndgrad.creation import zeros_like

        result = tuple(zeros_like(t) if g is None else g for t, g in zip(ins, result, strict=True))
    return result


from ndgrad.autograd.gradcheck import gradcheck, gradgradcheck  # noqa: E402
