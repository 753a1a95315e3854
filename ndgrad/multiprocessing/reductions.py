"""How tensors travel between processes: pickling reductions for multiprocessing's
``ForkingPickler``, which pickles what goes through a ``Queue`` or ``Pipe`` and a spawned
``Process``'s target and arguments (torch.multiprocessing.reductions).

A tensor is sent as a reference to its shared memory, never by value: a tensor not in shared
memory yet is moved there first (``share_memory_``, in the sender, as torch does, so the sender
sees the receiver's writes too), then the receiver gets a new tensor over the same segment, at
the same offset, with the same shape, strides and dtype. ``requires_grad`` and the class
(Tensor, Parameter, Buffer) survive; ``.grad``, hooks and history do not (as in torch). Tensors
sent together over one segment (a base and its view) arrive over one mapping of it.

A tensor whose memory cannot be moved, because other arrays use it (``_shm.py``), is sent as a
copy in a segment of its own, with a warning: torch would move the storage with all its
tensors, so the sender would see the receiver's writes. Raising instead would break what worked
by value before, e.g. a DataLoader with the spawn start method over a dataset of
``from_numpy`` tensors; ``share_memory_()`` before sending still raises, and says why.

Only this inter-process channel uses these reductions; ``pickle.dumps`` and ``ndgrad.save``
still copy the values.
"""

from __future__ import annotations

import warnings
from multiprocessing import reduction
from typing import Any

import numpy as np

from ndgrad.multiprocessing import _shm
from ndgrad.nn.parameter import Buffer, Parameter
from ndgrad.tensor import Tensor

NON_LEAF = ("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
            "does not support crossing process boundaries.  If you just want to transfer the "
            "data, call detach() on the tensor before serializing (e.g., putting it on the "
            "queue).")


NOT_MOVED = ("a tensor sent to another process could not be moved into shared memory, so the "
             "receiver gets a copy of it in shared memory of its own: its writes will not be "
             "seen here")


def _reduce_segment(seg: _shm.Segment) -> tuple[Any, ...]:
    if seg.kind == _shm.FILE_DESCRIPTOR:
        # a descriptor the receiver owns once it has it (passed at a spawned child's start, or
        # fetched from this process's resource sharer)
        return (_rebuild_fd_segment, (reduction.DupFd(seg.fd), seg.length))
    return (_shm.segment_from_name, (seg.name, seg.length))


def _rebuild_fd_segment(dup: Any, size: int) -> _shm.Segment:
    return _shm.segment_from_fd(dup.detach(), size)


def _layout(t: Tensor) -> tuple[Any, ...]:
    """Where t's elements are: its segment (moved there if need be), the byte offset, shape,
    strides, dtype, writeable."""
    if t.requires_grad and t.grad_fn is not None:
        raise RuntimeError(NON_LEAF)
    try:
        t.share_memory_()
        arr = t._data
    except _shm.OtherUsersError as err:
        warnings.warn(f"{NOT_MOVED} ({err})", stacklevel=2)
        arr = _shm.copy_to_segment(t._data)
    seg = _shm.segment_of(arr)
    assert seg is not None
    offset = _shm.address(arr) - seg.addr if arr.size else 0
    return (seg, offset, arr.shape, arr.strides, arr.dtype, bool(arr.flags.writeable))


def _array(seg: _shm.Segment, offset: int, shape: tuple[int, ...], strides: tuple[int, ...],
           dtype: np.dtype, writeable: bool) -> Tensor:
    return Tensor._make(_shm.array_in(seg, offset, shape, strides, dtype, writeable))


def reduce_tensor(t: Tensor) -> tuple[Any, ...]:
    return (rebuild_tensor, (*_layout(t), t.requires_grad))


def rebuild_tensor(seg: _shm.Segment, offset: int, shape: tuple[int, ...],
                   strides: tuple[int, ...], dtype: np.dtype, writeable: bool,
                   requires_grad: bool) -> Tensor:
    t = _array(seg, offset, shape, strides, dtype, writeable)
    if requires_grad:
        t.requires_grad = True
    return t


def reduce_parameter(p: Parameter) -> tuple[Any, ...]:
    return (rebuild_parameter, (*_layout(p), p.requires_grad))


def rebuild_parameter(seg: _shm.Segment, offset: int, shape: tuple[int, ...],
                      strides: tuple[int, ...], dtype: np.dtype, writeable: bool,
                      requires_grad: bool) -> Parameter:
    return Parameter(_array(seg, offset, shape, strides, dtype, writeable), requires_grad)


def reduce_buffer(b: Buffer) -> tuple[Any, ...]:
    return (rebuild_buffer, (*_layout(b), b.requires_grad, b.persistent))


def rebuild_buffer(seg: _shm.Segment, offset: int, shape: tuple[int, ...],
                   strides: tuple[int, ...], dtype: np.dtype, writeable: bool,
                   requires_grad: bool, persistent: bool) -> Buffer:
    b = Buffer(_array(seg, offset, shape, strides, dtype, writeable), persistent=persistent)
    if requires_grad:
        b.requires_grad = True
    return b


def init_reductions() -> None:
    """Register the reductions with multiprocessing's ForkingPickler (done on import of
    ndgrad.multiprocessing, which ``share_memory_`` and ``is_shared`` import too)."""
    reduction.register(_shm.Segment, _reduce_segment)
    reduction.register(Tensor, reduce_tensor)
    reduction.register(Parameter, reduce_parameter)
    reduction.register(Buffer, reduce_buffer)
