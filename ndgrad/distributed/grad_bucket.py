"""What DDP hands a communication hook: ``GradBucket`` (torch.distributed.GradBucket), one
bucket's gradients as one flat tensor, and ``BuiltinCommHookType``."""

from __future__ import annotations

import enum

import numpy as np

from ndgrad.tensor import Tensor


class GradBucket:
    """One DDP bucket during backward: ``buffer()`` is the flat tensor of its gradients (not
    divided by the world size when a hook is registered: the hook averages), ``gradients()``
    each parameter's gradient as a view of it, ``parameters()`` the parameters, in the same
    order. ``set_buffer`` replaces the flat tensor the next ``buffer()`` call returns (as
    fp16_compress_wrapper does)."""

    def __init__(self, index: int, buffer: np.ndarray, offsets: list[int],
                 params: list[Tensor], is_last: bool) -> None:
        self._index, self._params, self._offsets, self._last = index, params, offsets, is_last
        self._buffer = Tensor._make(buffer)

    def index(self) -> int:
        """The bucket's number; bucket 0 holds the last parameters, whose gradients come first."""
        return self._index

    def buffer(self) -> Tensor:
        return self._buffer

    def set_buffer(self, buffer: Tensor) -> None:
        self._buffer = buffer

    def gradients(self) -> list[Tensor]:
        """Each parameter's gradient: views of ``buffer()``, shaped like the parameters."""
        flat = self._buffer
        return [flat[a:b].view(p.shape)
                for p, a, b in zip(self._params, self._offsets, self._offsets[1:])]

    def parameters(self) -> list[Tensor]:
        return list(self._params)

    def is_last(self) -> bool:
        """True for the last bucket of the backward (the first parameters of the model)."""
        return self._last


class BuiltinCommHookType(enum.Enum):
    """``DistributedDataParallel.register_builtin_comm_hook``'s choices."""

    ALLREDUCE = 1
    FP16_COMPRESS = 2
