"""Numerical gradient checks (float64 central differences), with PyTorch's signatures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ndgrad.autograd.grad_mode import no_grad
from ndgrad.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, list | tuple) else (x,)


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)]


def _numerical_jacobian(fn: Callable[..., Any], inputs: Sequence[Any], out_index: int,
                        eps: float) -> list[np.ndarray]:
    """d out / d input, one column per input element, by central differences."""
    jacs = []
    with no_grad():
        out_size = _outputs(fn, inputs)[out_index]._data.size
        for x in inputs:
            if not (isinstance(x, Tensor) and x.requires_grad):
                continue
            flat = x._data.reshape(-1)  # a view: writes go into the input
            jac = np.zeros((flat.size, out_size))
            for k in range(flat.size):
                orig = flat[k]
                flat[k] = orig + eps
                plus = _outputs(fn, inputs)[out_index]._data.astype(np.float64).ravel()
                flat[k] = orig - eps
                minus = _outputs(fn, inputs)[out_index]._data.astype(np.float64).ravel()
                flat[k] = orig
                jac[k] = (plus - minus) / (2 * eps)
            jacs.append(jac)
    return jacs


def _analytical_jacobian(fn: Callable[..., Any], inputs: Sequence[Any],
                         out_index: int) -> list[np.ndarray]:
    from ndgrad.autograd import grad

    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    out = _outputs(fn, inputs)[out_index]
    jacs = [np.zeros((x._data.size, out._data.size)) for x in diff]
    for j in range(out._data.size):
        g = np.zeros(out._data.size, out._data.dtype)
        g[j] = 1
        gs = grad(out, diff, Tensor._make(g.reshape(out._data.shape)), retain_graph=True,
                  allow_unused=True)
        for jac, gi in zip(jacs, gs, strict=True):
            if gi is not None:
                jac[:, j] = gi._data.astype(np.float64).ravel()
    return jacs


def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, **_: Any) -> bool:
    """Compare backward's gradients with finite differences for every output/input pair.

    Inputs that require grad should be float64. Returns True, or raises GradcheckError (or
    returns False with ``raise_exception=False``) naming the first mismatching pair."""
    inputs = _as_tuple(inputs)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    for x in diff:
        if x.dtype.name != "float64":
            import warnings

            warnings.warn(f"gradcheck: input of dtype {x.dtype} is not float64; finite "
                          f"differences will be imprecise", stacklevel=2)
    n_out = len(_outputs(func, inputs))
    for o in range(n_out):
        numerical = _numerical_jacobian(func, inputs, o, eps)
        analytical = _analytical_jacobian(func, inputs, o)
        for i, (a, n) in enumerate(zip(analytical, numerical, strict=True)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                msg = (f"Jacobian mismatch for output {o} with respect to input {i},\n"
                       f"numerical:{n}\nanalytical:{a}\n")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, **_: Any) -> bool:
    """gradcheck of the gradient itself: checks second derivatives (create_graph=True)."""
    from ndgrad.autograd import grad
    from ndgrad.random import default_generator

    inputs = _as_tuple(inputs)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = default_generator()
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]
    grad_outputs = list(_as_tuple(grad_outputs))

    def first_grads(*args: Any) -> tuple[Any, ...]:
        ins, gos = args[:len(inputs)], args[len(inputs):]
        d = [x for x in ins if isinstance(x, Tensor) and x.requires_grad]
        res = grad(_outputs(func, ins), d, gos, create_graph=True, allow_unused=True)
        return tuple(r for r in res if r is not None)

    del diff
    return gradcheck(first_grads, (*inputs, *grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
