"""In-place ops (``x.add_(y)``, ``x[i] = v``): how a tensor is overwritten without breaking the
graph.

When the graph is recorded, the op runs out of place (``compute()``), so the new node's edge
points at the tensor's old history, and the tensor then takes the new node over as its
``grad_fn``: its history is "rebased". Nodes that saved the tensor itself keep its old value
(``keep_old_value``). Every in-place op adds one to the tensor's version counter (shared with
its views), which is how backward finds a saved tensor that changed (see ``saved.py``).

When nothing is recorded, the NumPy ufunc writes straight into the array: the optimizer's path.

An in-place op on a view made by indexing (``x[0].mul_(2)``, ``x[:, 1] += y``) writes through to
its parent, out of place, as an index-put node whose result the parent takes over; the view is
then ``parent[index]`` again. The parts of Tensor this module calls (``_index_put``,
``_get_step``, ``_operand``) are methods: autograd sits below ndgrad.tensor and imports no op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import broadcast_error
from ndgrad.autograd.function import sequence_mark
from ndgrad.autograd.grad_mode import no_grad
from ndgrad.autograd.grad_mode import state as grad_state
from ndgrad.autograd.saved import SavedInput


def inplace(t: Any, compute: Callable[[], Any], ufunc: Any = None, arg: Any = None) -> Any:
    """Overwrite ``t`` with ``compute()``, as PyTorch's in-place ops do, and return ``t``.

    ``ufunc`` (with its second operand ``arg``) is the NumPy ufunc that does the same straight
    into the array when nothing is recorded; ``arg`` also tells whether recording is needed."""
    arg_grad = getattr(arg, "_requires_grad", False)
    if grad_state.enabled and (t._requires_grad or arg_grad):
        if t.grad_fn is None and t._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        if t._base is not None and t._view_of is None:
            raise RuntimeError("ndgrad supports in-place operations on views made by "
                               "indexing (x[i].add_(y), x[:, 0] += y) but not on other views "
                               "(view, reshape, transpose, expand...) while recording the "
                               "graph; use an out-of-place op or clone() the view first")
        mark = sequence_mark()
        out = compute()
        keep_old_value(t, out, mark)
        if t._view_of is not None:  # write through to the parent, then view it again
            parent, step = t._view_of
            parent._inplace(lambda: parent._index_put(step, out), arg=out)
            out = parent._get_step(step)
        else:
            write(t, out)
        if out._requires_grad:
            t.grad_fn, t._output_nr = out.grad_fn, out._output_nr
            t._requires_grad = True
    elif ufunc is not None and not (hasattr(arg, "_data") and arg._data.dtype != t._data.dtype):
        _ufunc_inplace(t, ufunc, arg)
    else:
        with no_grad():
            out = compute()
        write(t, out)
    t._bump_version()
    return t


def _ufunc_inplace(t: Any, ufunc: Any, arg: Any) -> None:
    """t = ufunc(t, arg) in t's own memory, with torch's errors for a result type t cannot
    hold and for shapes that do not broadcast to t's."""
    y = getattr(arg, "_data", arg)
    try:
        ufunc(t._data, y, out=t._data, casting="same_kind")
    except TypeError:
        nd = _dtype.result_type(t, t._operand(arg))
        if ufunc is np.true_divide and nd.kind != "f":
            nd = _dtype.default_float()
        raise RuntimeError(f"result type {_dtype.from_np(nd)} can't be cast to the desired "
                           f"output type {t.dtype}") from None
    except ValueError:  # NumPy's broadcasting errors
        shape = np.shape(y)
        try:
            full = list(np.broadcast_shapes(t._data.shape, shape))
        except ValueError:
            raise broadcast_error(t._data.shape, shape) from None
        raise RuntimeError(f"output with shape {list(t._data.shape)} doesn't match "
                           f"the broadcast shape {full}") from None


def write(t: Any, out: Any) -> None:
    """Copy out's values into t's array (broadcasting), refusing a dtype t cannot hold."""
    src, dst = out._data, t._data
    if _dtype._category(src.dtype) > _dtype._category(dst.dtype):
        raise RuntimeError(f"result type {_dtype.from_np(src.dtype)} can't be cast to the "
                           f"desired output type {t.dtype}")
    try:
        np.copyto(dst, np.broadcast_to(src, dst.shape), casting="unsafe")
    except ValueError:
        raise RuntimeError(f"output with shape {list(dst.shape)} doesn't match the broadcast "
                           f"shape {list(src.shape)}") from None


def keep_old_value(t: Any, out: Any, mark: int) -> None:
    """Nodes that an in-place op's out-of-place ``compute()`` made (those numbered after
    ``mark``) and that saved ``t`` itself get a copy of t's value from before the write
    (PyTorch saves ``original_self``)."""
    version, proxy = t._version, None
    stack, seen = [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node._seq <= mark or node in seen:
            continue
        seen.add(node)
        saved: Any = getattr(node, "_saved", None)
        for k, s in enumerate(saved or ()):
            if type(s) is SavedInput and s.tensor is t and s.version == version:
                if proxy is None:
                    proxy = t._make(t._data.copy())
                    proxy._requires_grad, proxy.grad_fn = t._requires_grad, t.grad_fn
                    proxy._output_nr = t._output_nr
                saved[k] = SavedInput(proxy, 0)
        stack.extend(n for n, _ in node.next_functions)
