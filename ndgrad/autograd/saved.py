"""What a node keeps for its backward, and the version counters that keep it honest.

``ctx.save_for_backward(*values)`` is packed, when the graph is recorded, into one record per
value:

* ``SavedInput(tensor, version)``: an input tensor, unpacked as itself. If an in-place op has
  changed it since (its version counter moved on), backward would compute with the wrong
  values, so unpacking raises PyTorch's "modified by an inplace operation" error instead.
* ``SavedOutput(array, version_counter, output_nr, version)``: one of the node's own outputs.
  The node must not hold its output Tensor (that would be a reference cycle: output -> grad_fn
  -> output), so it keeps the array and unpacks it as a fresh Tensor whose grad_fn is the node
  itself, connected to the graph for second derivatives. Outputs start at version 0; the output
  of an in-place op is the tensor it wrote into, saved with that tensor's counter and version.
* ``SavedConstant(value)``: anything else (masks, indices, Python numbers).
* ``SavedAlias(array, version_counter, version)``: an array that is not an input or an output
  but shares memory with one (a reshaped output, a slice of an input). An in-place op on that
  tensor would change it under the node's feet, so it is version-checked like an input.

Version counters: every tensor has one (``Tensor._vc``, a one-item list, None until first
needed), shared by views of the same memory; each in-place op adds one. Saving records the
version; unpacking compares.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

SAVED_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)


class SavedInput(NamedTuple):
    tensor: Any
    version: int


class SavedOutput(NamedTuple):
    data: Any  # the output's array
    version_counter: list[int]
    output_nr: int
    version: int  # the counter's value when saved


class SavedConstant(NamedTuple):
    value: Any


class SavedAlias(NamedTuple):
    value: Any  # an ndarray sharing memory with an input or output
    version_counter: list[int]
    version: int


class SavedHooked(NamedTuple):
    """What a ``saved_tensors_hooks`` pack hook made of a saved tensor: backward hands it to
    the unpack hook for the tensor back (no version check: the hooks own the value)."""
    packed: Any
    unpack_hook: Any
    output_nr: int  # -1 unless the node's own output (unpacked with the node as grad_fn)


Saved = SavedInput | SavedOutput | SavedConstant | SavedAlias | SavedHooked

# the (pack_hook, unpack_hook) pairs of the open saved_tensors_hooks blocks, innermost last
hooks: list[tuple[Any, Any]] = []
_SAVED_NONE = SavedConstant(None)
_new_record = tuple.__new__  # SavedInput(...) without NamedTuple's Python-level __new__


def pack_hooked(value: Any, args: tuple[Any, ...], outs: tuple[Any, ...],
                tensor_cls: Any) -> Saved:
    """``pack`` inside ``saved_tensors_hooks``: what the innermost pack hook makes of a saved
    tensor (or array) is kept instead of it."""
    record = pack(value, args, outs, tensor_cls)
    pack_hook, unpack_hook = hooks[-1]
    if type(record) is SavedInput:
        return SavedHooked(pack_hook(record.tensor), unpack_hook, -1)
    if type(record) is SavedOutput:
        return SavedHooked(pack_hook(outs[record.output_nr]), unpack_hook, record.output_nr)
    raw = record.value  # type: ignore[union-attr]
    if isinstance(raw, np.ndarray):  # an alias or an array constant (a mask, indices)
        return SavedHooked(pack_hook(tensor_cls._make(raw)), unpack_hook, -1)
    return record


def unhook(ctx: Any, s: SavedHooked, tensor_cls: Any) -> Any:
    """The tensor the unpack hook gives back for ``s``."""
    t = s.unpack_hook(s.packed)
    if not isinstance(t, tensor_cls):
        raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got "
                        f"result of type {type(t).__name__}")
    if s.output_nr >= 0 and t.grad_fn is not ctx:  # reconnect it, for a second derivative
        t = tensor_cls._make(t._data)
        t._requires_grad, t._grad_fn, t._output_nr = True, ctx, s.output_nr
    return t


def pack(value: Any, args: tuple[Any, ...], outs: tuple[Any, ...], tensor_cls: Any) -> Saved:
    """The record for one saved value: an input, an output (found by identity) or a constant."""
    if value is None:
        return _SAVED_NONE
    raw = value._data if isinstance(value, tensor_cls) else value
    for a in args:
        if isinstance(a, tensor_cls) and raw is a._data:
            vc = a._vc
            return _new_record(SavedInput, (a, vc[0] if vc is not None else 0))
    for nr, o in enumerate(outs):
        if raw is o._data:
            if o._vc is None:
                o._vc = [0]
            return _new_record(SavedOutput, (o._data, o._vc, nr, 0))
    if isinstance(raw, np.ndarray) and raw.base is not None:  # a view of something: of whom?
        for t in (*args, *outs):
            if isinstance(t, tensor_cls) and np.may_share_memory(raw, t._data):
                if t._vc is None:
                    t._vc = [0]
                return _new_record(SavedAlias, (raw, t._vc, t._vc[0]))
    return _new_record(SavedConstant, (value,))


def check_version(ctx: Any, s: Saved, tensor_cls: Any) -> None:
    """Raise PyTorch's error if an in-place op changed a saved tensor since it was saved."""
    if type(s) is SavedInput:
        t = s.tensor
        if (t._vc[0] if t._vc is not None else 0) != s.version:
            raise RuntimeError(modified_message(t, s.version))
    elif type(s) is SavedOutput and s.version_counter[0] != s.version:
        unpack(ctx, s, tensor_cls)  # raises, naming the output
    elif type(s) is SavedAlias and s.version_counter[0] != s.version:
        unpack(ctx, s, tensor_cls)  # raises


def unpack(ctx: Any, s: Saved, tensor_cls: Any) -> Any:
    """The saved value as a Tensor (or the constant itself), version-checked."""
    if type(s) is SavedHooked:
        return unhook(ctx, s, tensor_cls)
    if type(s) is SavedInput:
        t = s.tensor
        if (t._vc[0] if t._vc is not None else 0) != s.version:
            raise RuntimeError(modified_message(t, s.version))
        return t
    if type(s) is SavedOutput:
        t = tensor_cls._make(s.data)
        t._requires_grad = True
        t._grad_fn = ctx
        t._output_nr = s.output_nr
        if s.version_counter[0] != s.version:
            t._vc = s.version_counter
            raise RuntimeError(modified_message(t, s.version))
        return t
    if type(s) is SavedAlias:
        if s.version_counter[0] != s.version:
            t = tensor_cls._make(s.value)
            t._vc = s.version_counter
            raise RuntimeError(modified_message(t, s.version))
        return tensor_cls._make(s.value)
    value = s.value  # type: ignore[union-attr]  # a SavedConstant
    return tensor_cls._make(value) if isinstance(value, np.ndarray) else value


def modified_message(t: Any, version: int) -> str:
    made_by = (f", which is output {t._output_nr} of {t.grad_fn.name()}," if t.grad_fn is not None
               else "")  # a leaf
    return (f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [ndgrad.{t._data.dtype} tensor of shape {list(t.shape)}]"
            f"{made_by} is at version {t._version}; expected version "
            f"{version} instead. Hint: replace the inplace operation (add_, x[i] = v, ...) by an "
            f"out-of-place one (x = x + y), or clone() the tensor before modifying it.")
