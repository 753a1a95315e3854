"""Numerical gradient checks with PyTorch's signatures: gradcheck and gradgradcheck.

``gradcheck(f, inputs)`` builds, for every (output, input) pair, the Jacobian twice: once by
central differences ``(f(x + eps) - f(x - eps)) / 2 eps``, one input element at a time, and once
from backward, one output element at a time (``autograd.grad`` with a one-hot ``grad_outputs``).
They must agree within ``atol + rtol * |numerical|``. ``gradgradcheck`` runs gradcheck on the
function that returns the first gradients (built with ``create_graph=True``), which checks the
second derivatives. ``check_forward_ad=True`` builds the Jacobian a third way, from forward AD,
one input element at a time (a one-hot tangent), and checks it against the same differences.
Inputs that require grad should be float64: float32 differences are too noisy for these
tolerances.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ndgrad.autograd import forward_ad, function
from ndgrad.autograd.engine import grad
from ndgrad.random import default_generator

if TYPE_CHECKING:
    from ndgrad.tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck and gradgradcheck when the two Jacobians disagree."""


def _as_tuple(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, list | tuple) else (x,)


def _diff_inputs(inputs: Sequence[Any]) -> list[Tensor]:
    return [x for x in inputs if isinstance(x, function.Tensor) and x.requires_grad]


def _float_outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    """The floating point Tensor outputs of ``fn``: the ones a Jacobian is taken of."""
    return [o for o in _as_tuple(fn(*inputs))
            if isinstance(o, function.Tensor) and o.is_floating_point()]


def _show(arr: np.ndarray) -> str:
    return repr(function.Tensor._make(arr))


def _numerical_jacobians(fn: Callable[..., Any], inputs: Sequence[Any], n_out: int,
                         eps: float) -> list[list[np.ndarray]]:
    """jac[o][i]: d output o / d input i, shape (input numel, output numel), central differences.

    Grad mode stays on: gradgradcheck's ``fn`` runs a backward itself."""
    sizes = [o._data.size for o in _float_outputs(fn, inputs)]
    jacs: list[list[np.ndarray]] = [[] for _ in range(n_out)]
    for x in _diff_inputs(inputs):
        arr = x._data  # perturbed in place, element by element, then restored
        cols = [np.zeros((arr.size, sizes[o])) for o in range(n_out)]
        for k, idx in enumerate(np.ndindex(arr.shape)):
            orig = arr[idx].copy()
            arr[idx] = orig + eps
            plus = [o._data.astype(np.float64).ravel() for o in _float_outputs(fn, inputs)]
            arr[idx] = orig - eps
            minus = [o._data.astype(np.float64).ravel() for o in _float_outputs(fn, inputs)]
            arr[idx] = orig
            for o in range(n_out):
                cols[o][k] = (plus[o] - minus[o]) / (2 * eps)
        for o in range(n_out):
            jacs[o].append(cols[o])
    return jacs


def _analytical_jacobians(fn: Callable[..., Any], inputs: Sequence[Any],
                          check_grad_dtypes: bool) -> list[list[np.ndarray]]:
    """jac[o][i]: the same Jacobians from backward, one one-hot grad_outputs per output element."""

    diff = _diff_inputs(inputs)
    outs = _float_outputs(fn, inputs)
    jacs = [[np.zeros((x._data.size, o._data.size)) for x in diff] for o in outs]
    for o, out in enumerate(outs):
        if not out.requires_grad:  # not connected to any input: the Jacobian must be zero
            continue
        for j in range(out._data.size):
            onehot = np.zeros(out._data.size, out._data.dtype)
            onehot[j] = 1
            gs = grad(out, diff, function.Tensor._make(onehot.reshape(out._data.shape)),
                      retain_graph=True, allow_unused=True)
            for i, (x, g) in enumerate(zip(diff, gs, strict=True)):
                if g is None:
                    continue
                if g.shape != x.shape:
                    raise GradcheckError(f"Gradient for input {i} has shape {list(g.shape)} but "
                                         f"the input has shape {list(x.shape)}")
                if check_grad_dtypes and g.dtype != x.dtype:
                    raise GradcheckError(f"Gradient has dtype mismatch: input {i} is {x.dtype} "
                                         f"but its gradient is {g.dtype}")
                jacs[o][i][:, j] = g._data.astype(np.float64).ravel()
    return jacs


def _forward_jacobians(fn: Callable[..., Any], inputs: Sequence[Any],
                       check_grad_dtypes: bool) -> list[list[np.ndarray]]:
    """jac[o][i]: the same Jacobians from forward AD, one one-hot tangent per input element
    (torch's way: every input that requires grad is made dual, with zero tangents but one)."""
    if any(x.is_complex() for x in _diff_inputs(inputs)):
        raise ValueError("Expected inputs to be non-complex for "
                         "_get_analytical_jacobian_forward_ad.")
    sizes = [o._data.size for o in _float_outputs(fn, inputs)]
    jacs: list[list[np.ndarray]] = [[] for _ in sizes]
    with forward_ad.dual_level():
        duals, tangents = [], []
        for x in inputs:
            if isinstance(x, function.Tensor) and x.requires_grad:
                x = forward_ad.make_dual(x.detach(), function.Tensor._make(
                    np.zeros_like(x._data)))
                tangents.append(forward_ad.unpack_dual(x).tangent._data)
            duals.append(x)
        for tan in tangents:
            cols = [np.zeros((tan.size, n)) for n in sizes]
            for k, idx in enumerate(np.ndindex(tan.shape)):
                tan[idx] = 1
                for o, out in enumerate(_float_outputs(fn, duals)):
                    value, t = forward_ad.unpack_dual(out)
                    if check_grad_dtypes and t is not None and (
                            value.is_complex() != t.is_complex()):
                        raise GradcheckError("Forward AD gradient has dtype mismatch.")
                    if t is not None:
                        cols[o][k] = t._data.astype(np.float64).ravel()
                tan[idx] = 0
            for o in range(len(sizes)):
                jacs[o].append(cols[o])
    return jacs


def _fail(msg: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(func: Callable[..., Tensor | Sequence[Tensor]], inputs: Tensor | Sequence[Any], *,
              eps: float = 1e-06, atol: float = 1e-05, rtol: float = 0.001,
              raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Check backward's gradients of ``func`` at ``inputs`` against finite differences.

    Returns True; on a mismatch raises GradcheckError naming the output/input pair and showing
    both Jacobians, or returns False when ``raise_exception=False``. ``fast_mode`` is accepted
    and runs the full check. ``check_forward_ad`` checks forward AD's Jacobian
    (``ndgrad.autograd.forward_ad``) against the same finite differences; batched checks do not
    exist in ndgrad (it has no vmap)."""
    if check_batched_grad or check_batched_forward_grad:
        raise NotImplementedError("ndgrad has no vmap: check_batched_grad and "
                                  "check_batched_forward_grad must be False")
    inputs = _as_tuple(inputs)
    diff = _diff_inputs(inputs)
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of the them have requires_grad=True.")
    for i, x in enumerate(inputs):
        if isinstance(x, function.Tensor) and x.requires_grad and x.dtype.name != "float64":
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          f"point. This check will likely fail if all the inputs are not of "
                          f"double precision floating point.", stacklevel=2)
    if not (check_backward_ad or check_forward_ad):
        return True
    n_out = len(_float_outputs(func, inputs))
    numerical = _numerical_jacobians(func, inputs, n_out, eps)
    if check_forward_ad:
        forward = _forward_jacobians(func, inputs, check_grad_dtypes)
        for o in range(n_out):
            for i, (a, n) in enumerate(zip(forward[o], numerical[o], strict=True)):
                if not np.allclose(a, n, rtol=rtol, atol=atol):
                    return _fail(f"Jacobian computed with forward mode mismatch for output {o} "
                                 f"with respect to input {i},\nnumerical:{_show(n)}\n"
                                 f"analytical:{_show(a)}\n", raise_exception)
    if not check_backward_ad:
        return True
    analytical = _analytical_jacobians(func, inputs, check_grad_dtypes)
    for o in range(n_out):
        for i, (a, n) in enumerate(zip(analytical[o], numerical[o], strict=True)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                return _fail(f"Jacobian mismatch for output {o} with respect to input {i},\n"
                             f"numerical:{_show(n)}\nanalytical:{_show(a)}\n", raise_exception)
    # backward must give the same result when run again on the same inputs (no hidden state)
    again = _analytical_jacobians(func, inputs, check_grad_dtypes)
    for o in range(n_out):
        for a, b in zip(analytical[o], again[o], strict=True):
            if not np.allclose(a, b, rtol=0, atol=nondet_tol):
                return _fail(f"Backward is not reentrant, i.e., running backward with same input "
                             f"and grad_output multiple times gives different values, although "
                             f"analytical gradient matches numerical gradient. The tolerance for "
                             f"nondeterminism was {nondet_tol}.", raise_exception)
    return True


def gradgradcheck(func: Callable[..., Tensor | Sequence[Tensor]], inputs: Tensor | Sequence[Any],
                  grad_outputs: Tensor | Sequence[Tensor | None] | None = None, *,
                  eps: float = 1e-06, atol: float = 1e-05, rtol: float = 0.001,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """Check second derivatives: gradcheck of ``(inputs, grad_outputs) -> d(func)/d(inputs)``.

    Random ``grad_outputs`` (from the global generator, so ``manual_seed`` fixes them) are made
    when none are given; they require grad, so the mixed derivatives are checked too.
    ``check_fwd_over_rev`` checks forward AD through that backward (its Jacobian by forward
    mode), ``check_rev_over_rev`` by backward."""
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError("Expected at least one of check_fwd_over_rev or check_rev_over_rev "
                             "to be True")
    inputs = _as_tuple(inputs)
    n_in = len(inputs)
    diff = {i for i, x in enumerate(inputs) if isinstance(x, function.Tensor) and x.requires_grad}
    outs = [o for o in _float_outputs(func, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = default_generator()
        grad_outputs = tuple(
            function.Tensor._make(rng.standard_normal(o.shape).astype(o._data.dtype))
            .requires_grad_() for o in outs)
    grad_outputs = _as_tuple(grad_outputs)

    def first_grads(*args: Any) -> tuple[Tensor, ...]:
        # the forward-mode check passes its inputs detached (as dual tensors): they must
        # require grad again for the backward inside
        ins = [x.requires_grad_() if i in diff else x for i, x in enumerate(args[:n_in])]
        ys = [o for o in _float_outputs(func, ins) if o.requires_grad]
        res = grad(ys, _diff_inputs(ins), list(args[n_in:]), create_graph=True,
                   allow_unused=True)
        return tuple(g for g in res if g is not None)

    return gradcheck(first_grads, (*inputs, *grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_grad_dtypes=check_grad_dtypes, check_backward_ad=check_rev_over_rev,
                     check_forward_ad=check_fwd_over_rev)
