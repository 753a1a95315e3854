"""check_op: run one lambda on torch and on ndgrad and compare everything autograd produces.

    check_op([(3, 4), (4,)], lambda x, y: x * y)
    check_op([(2, 3)], lambda lib, x: lib.where(x > 0, x, 0.0))   # first arg `lib`: the module

For each dtype: the same random inputs go to both libraries; outputs are compared; a
non-uniform upstream gradient, from ``(out + 1).square().mean()`` (a plain ``.sum()`` would hide
a missing factor), is backpropagated and every input's gradient compared; and, for
differentiable ops, the double backward (gradient of a weighted sum of the first gradients).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import ndgrad

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def make_inputs(shapes: Sequence[Any], dtype: Any, seed: int = 0, low: float = -2.0,
                high: float = 2.0) -> list[np.ndarray]:
    """Random arrays for each shape; an entry that is already an array is used as it is."""
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        if isinstance(s, np.ndarray):
            out.append(s)
        else:
            out.append(rng.uniform(low, high, size=s).astype(dtype))
    return out


def _flat(out: Any) -> list[Any]:
    if isinstance(out, tuple | list):
        return [o for item in out for o in _flat(item)]
    return [out]


def _loss(outs: list[Any], lib: Any) -> Any:
    total = None
    for o in outs:
        if isinstance(o, lib.Tensor) and o.dtype in (lib.float32, lib.float64) and o.requires_grad:
            term = (o + 1).square().mean() if o.numel() else o.sum()
            total = term if total is None else total + term
    return total


def assert_close(nd_value: Any, torch_value: Any, dtype: Any = np.float64, what: str = "",
                 **tol: float) -> None:
    tol = tol or TOL.get(dtype, TOL[np.float32])
    a = nd_value.detach().numpy() if isinstance(nd_value, ndgrad.Tensor) else np.asarray(nd_value)
    # force=True: torch returns ZeroTensor gradients (sgn, abs of empty) that refuse .numpy()
    b = torch_value.detach().numpy(force=True) if isinstance(torch_value, torch.Tensor) \
        else np.asarray(torch_value)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    if b.dtype.kind in "biu":
        assert a.dtype.kind == b.dtype.kind, f"{what}: dtype {a.dtype} vs torch's {b.dtype}"
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != torch's {b.dtype}"
        np.testing.assert_allclose(a, b, err_msg=what, equal_nan=True, **tol)


def check_op(shapes: Sequence[Any], fn: Callable[..., Any],
             dtypes: Sequence[Any] = (np.float32, np.float64), grad: bool = True,
             gradgrad: bool = True, low: float = -2.0, high: float = 2.0, seed: int = 0,
             requires_grad: Sequence[bool] | None = None, **tol: float) -> None:
    """Compare ``fn`` on torch and ndgrad: forward, gradients and double-backward."""
    wants_lib = next(iter(inspect.signature(fn).parameters), None) == "lib"
    for dtype in dtypes:
        arrays = make_inputs(shapes, dtype, seed, low, high)
        rg = list(requires_grad) if requires_grad is not None else [
            a.dtype.kind == "f" for a in arrays]
        tin = [torch.tensor(a, requires_grad=grad and r) for a, r in zip(arrays, rg)]
        nin = [ndgrad.tensor(a, requires_grad=grad and r) for a, r in zip(arrays, rg)]
        tout = fn(torch, *tin) if wants_lib else fn(*tin)
        nout = fn(ndgrad, *nin) if wants_lib else fn(*nin)
        touts, nouts = _flat(tout), _flat(nout)
        assert len(touts) == len(nouts), "different number of outputs"
        for i, (n, t) in enumerate(zip(nouts, touts)):
            assert_close(n, t, dtype, f"output {i} ({np.dtype(dtype).name})", **tol)
        if not grad:
            continue
        tl, nl = _loss(touts, torch), _loss(nouts, ndgrad)
        assert (tl is None) == (nl is None), "requires_grad of outputs differs from torch"
        if tl is None:
            continue
        tdiff = [t for t, r in zip(tin, rg) if r]
        ndiff = [n for n, r in zip(nin, rg) if r]
        tg = torch.autograd.grad(tl, tdiff, create_graph=gradgrad, allow_unused=True)
        ng = ndgrad.autograd.grad(nl, ndiff, create_graph=gradgrad, allow_unused=True)
        for i, (n, t) in enumerate(zip(ng, tg)):
            if t is None:
                assert n is None or not np.any(n.numpy()), f"grad {i}: torch has none"
                continue
            assert n is not None, f"grad of input {i} is None, torch's is not"
            assert_close(n, t, dtype, f"grad of input {i} ({np.dtype(dtype).name})", **tol)
        if not gradgrad or dtype != np.float64:
            continue
        rng = np.random.default_rng(seed + 1)
        weights = [rng.standard_normal(t.shape) for t in tg if t is not None]
        tsel = [(t, w) for t, w in zip([t for t in tg if t is not None], weights)]
        nsel = [(n, w) for n, w in zip([n for n, t in zip(ng, tg) if t is not None], weights)]
        if not tsel or not any(t.requires_grad for t, _ in tsel):
            continue
        if not any(n.requires_grad for n, _ in nsel):
            # torch's first gradient depends on the inputs, ours is a constant: fine only if
            # torch's second derivative is zero everywhere
            t2 = sum((t * torch.tensor(w)).sum() for t, w in tsel if t.requires_grad)
            for t in torch.autograd.grad(t2, tdiff, allow_unused=True):
                assert t is None or not t.detach().abs().sum(), "second derivative is missing"
            continue
        t2 = sum((t * torch.tensor(w)).sum() for t, w in tsel if t.requires_grad)
        n2 = sum((n * ndgrad.tensor(w)).sum() for n, w in nsel if n.requires_grad)
        tgg = torch.autograd.grad(t2, tdiff, allow_unused=True)
        ngg = ndgrad.autograd.grad(n2, ndiff, allow_unused=True)
        for i, (n, t) in enumerate(zip(ngg, tgg)):
            if t is None:
                assert n is None or not np.any(n.numpy()), f"double grad {i}: torch has none"
                continue
            assert n is not None, f"double-backward grad of input {i} is None, torch's is not"
            assert_close(n, t, dtype, f"double grad of input {i}", **tol)



def check_values(values: Sequence[Any], fn: Callable[..., Any],
                 dtypes: Sequence[Any] = (np.float32, np.float64), **kw: Any) -> None:
    """check_op on given values instead of random inputs: float values are cast to each dtype
    in turn, others (integer indices, bool masks) are passed as they are."""
    for dt in dtypes:
        arrays = [np.asarray(v, dtype=dt) if np.asarray(v).dtype.kind == "f" else np.asarray(v)
                  for v in values]
        check_op(arrays, fn, dtypes=(dt,), **kw)


def run_both(fn: Callable[..., Any], *arrays: Any) -> tuple[Any, Any]:
    """``fn(lib, *tensors)`` on torch and on ndgrad tensors made from the same arrays (no grad):
    (torch's result, ndgrad's)."""
    return (fn(torch, *(torch.tensor(a) for a in arrays)),
            fn(ndgrad, *(ndgrad.tensor(a) for a in arrays)))


def assert_same(nd_out: Any, t_out: Any, what: str = "", rtol: float | None = None) -> None:
    """The exact same dtype as torch, and the same values: equal, or within ``rtol`` if given."""
    assert str(nd_out.dtype).split(".")[1] == str(t_out.dtype).split(".")[1], \
        f"{what}: dtype {nd_out.dtype} vs torch {t_out.dtype}"
    if rtol is None:
        np.testing.assert_array_equal(nd_out.numpy(), t_out.numpy(), err_msg=what)
    else:
        np.testing.assert_allclose(nd_out.numpy(), t_out.numpy(), rtol=rtol, err_msg=what)

# Broadcasting shape pairs from ../shared/DESIGN.md, plus scalars, size-1 and size-0 dims.
BROADCAST_PAIRS = [
    ((5, 13, 24, 16), (5, 1, 24, 1)),
    ((1, 3, 1, 7, 1), (2, 1, 5, 1, 8)),
    ((), ()),
    ((), (3, 4)),
    ((4, 1), ()),
    ((3, 1), (1, 4)),
    ((2, 3), (3,)),
    ((1,), (5,)),
    ((0,), (1,)),
    ((2, 0, 3), (3,)),
    ((4, 0), (1, 0)),
]


def check_complex_op(arrays: Sequence[np.ndarray], fn: Callable[..., Any], gradgrad: bool = True,
                     seed: int = 0, rtol: float = 1e-9, atol: float = 1e-11) -> None:
    """check_op for ops with complex inputs or outputs: ``fn(lib, *tensors)`` on torch and
    ndgrad tensors made from ``arrays`` (real or complex, all requiring grad); compares the
    outputs, one vector-Jacobian product with a random (complex where the output is) cotangent
    for each output, and, with gradgrad, the gradient of |weighted first gradients|."""
    rng = np.random.default_rng(seed)
    tin = [torch.tensor(a, requires_grad=True) for a in arrays]
    nin = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    touts, nouts = _flat(fn(torch, *tin)), _flat(fn(ndgrad, *nin))
    assert len(touts) == len(nouts), "different number of outputs"

    def arr(t: Any) -> np.ndarray:
        if isinstance(t, torch.Tensor):
            return t.detach().resolve_conj().resolve_neg().numpy()
        return t.detach().numpy()

    for i, (n, t) in enumerate(zip(nouts, touts)):
        a, b = arr(n), arr(t)
        assert a.dtype == b.dtype and a.shape == b.shape, f"output {i}: {a.dtype}{a.shape} vs " \
                                                          f"torch's {b.dtype}{b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"output {i}")
    pick = [i for i, t in enumerate(touts) if t.requires_grad]
    cots = []
    for i in pick:
        shape = tuple(touts[i].shape)
        c = rng.standard_normal(shape)
        if touts[i].is_complex():
            c = c + 1j * rng.standard_normal(shape)
        cots.append(c.astype(arr(touts[i]).dtype))
    tg = torch.autograd.grad([touts[i] for i in pick], tin, [torch.tensor(c) for c in cots],
                             create_graph=gradgrad, allow_unused=True)
    ng = ndgrad.autograd.grad([nouts[i] for i in pick], nin, [ndgrad.tensor(c) for c in cots],
                              create_graph=gradgrad, allow_unused=True)
    for i, (n, t) in enumerate(zip(ng, tg)):
        if t is None:
            assert n is None or not np.any(arr(n)), f"grad {i}: torch has none"
            continue
        np.testing.assert_allclose(arr(n), arr(t), rtol=rtol, atol=atol, err_msg=f"grad {i}")
    sel = [i for i, t in enumerate(tg) if t is not None and t.requires_grad]
    if not gradgrad or not sel:
        return
    ws = [rng.standard_normal(tuple(tg[i].shape)) for i in sel]
    t2 = sum((tg[i] * torch.tensor(w)).abs().sum() for i, w in zip(sel, ws))
    n2 = sum((ng[i] * ndgrad.tensor(w)).abs().sum() for i, w in zip(sel, ws))
    tgg = torch.autograd.grad(t2, tin, allow_unused=True)
    ngg = ndgrad.autograd.grad(n2, nin, allow_unused=True)
    for i, (n, t) in enumerate(zip(ngg, tgg)):
        if t is not None:
            np.testing.assert_allclose(arr(n), arr(t), rtol=rtol * 100, atol=atol * 100,
                                       err_msg=f"double grad {i}")
