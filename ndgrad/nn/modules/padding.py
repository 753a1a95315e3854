"""Padding layers: F.pad with a fixed padding and mode (constant, reflect, replicate,
circular), for 1, 2 and 3 spatial dims, as torch/nn/modules/padding.py."""

from __future__ import annotations

from typing import Any

from ndgrad.nn import functional as F
from ndgrad.nn.module import Module
from ndgrad.tensor import Tensor


class _PadNd(Module):
    """Pads the last ``dims`` dims: ``padding`` an int (every side) or F.pad's tuple (last dim
    first, left then right)."""

    mode = "constant"
    dims = 1

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * (2 * self.dims)
        padding = tuple(padding)
        if len(padding) != 2 * self.dims:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"{2 * self.dims} ints, got {padding}")
        self.padding = padding
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        if self.mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        if self.mode == "constant" and type(self).__name__.startswith("Constant"):
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    """Pads (N, C, L) or (C, L) with ``value``."""

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad2d(ConstantPad1d):
    """Pads the last two dims with ``value``."""

    dims = 2


class ConstantPad3d(ConstantPad1d):
    """Pads the last three dims with ``value``."""

    dims = 3


class ZeroPad1d(_PadNd):
    """Pads the last dim with zeros."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)


class ZeroPad2d(ZeroPad1d):
    """Pads the last two dims with zeros."""

    dims = 2


class ZeroPad3d(ZeroPad1d):
    """Pads the last three dims with zeros."""

    dims = 3


class _RepeatPad(_PadNd):
    def __init__(self, padding: Any) -> None:
        super().__init__(padding)


class ReflectionPad1d(_RepeatPad):
    """Pads the last dim with its reflection (the border element not repeated)."""

    mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """Pads the last two dims with their reflection."""

    dims = 2


class ReflectionPad3d(ReflectionPad1d):
    """Pads the last three dims with their reflection."""

    dims = 3


class ReplicationPad1d(_RepeatPad):
    """Pads the last dim by repeating its border element."""

    mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """Pads the last two dims by repeating their borders."""

    dims = 2


class ReplicationPad3d(ReplicationPad1d):
    """Pads the last three dims by repeating their borders."""

    dims = 3


class CircularPad1d(_RepeatPad):
    """Pads the last dim by wrapping around (periodic boundary)."""

    mode = "circular"


class CircularPad2d(CircularPad1d):
    """Pads the last two dims by wrapping around."""

    dims = 2


class CircularPad3d(CircularPad1d):
    """Pads the last three dims by wrapping around."""

    dims = 3
