"""ndgrad.utils.dlpack, as torch.utils.dlpack: tensors to and from other libraries' tensors
without a copy, through the DLPack protocol (``ndgrad.from_dlpack`` and ``Tensor.__dlpack__``
are the usual way; ``to_dlpack`` hands out the capsule itself)."""

from __future__ import annotations

from typing import Any

from ndgrad.tensor.creation import from_dlpack


def to_dlpack(tensor: Any) -> Any:
    """A DLPack capsule of ``tensor``'s memory, for a library that takes capsules."""
    return tensor.__dlpack__()


__all__ = ["from_dlpack", "to_dlpack"]
