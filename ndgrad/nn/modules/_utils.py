"""Helpers shared by layers: tuples of ints, factory dtype/device, norm layers' affine
parameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._device import check_device
from ndgrad.nn import init
from ndgrad.nn.parameter import Parameter
from ndgrad.tensor import Tensor


def _ntuple(n: int, name: str = "parse") -> Any:
    def parse(x: Any) -> tuple[Any, ...]:
        if isinstance(x, Iterable) and not isinstance(x, str):
            return tuple(x)
        return (x,) * n

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _list_with_default(out_size: Any, defaults: list[int]) -> Any:
    """An adaptive pool's output size with None entries taken from the input's (``defaults``,
    its shape): torch's helper."""
    if isinstance(out_size, int):
        return out_size
    if len(defaults) <= len(out_size):
        raise ValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [v if v is not None else d for v, d in zip(out_size, defaults[-len(out_size):])]


def _reverse_repeat_tuple(t: tuple[int, ...], n: int) -> tuple[int, ...]:
    """(a, b) -> (b, b, a, a) for n=2: conv padding in F.pad's last-dim-first order."""
    return tuple(x for x in reversed(t) for _ in range(n))


def empty(shape: Any, device_: Any = None, dtype: Any = None) -> Tensor:
    """An uninitialised float tensor for a new parameter (``device``/``dtype`` factory kwargs)."""
    check_device(device_)  # only the CPU exists; raises otherwise
    nd = _dtype.to_np(dtype) if dtype is not None else _dtype.default_float()
    if nd.kind != "f":
        raise TypeError(f"parameters must have a floating point dtype, got {dtype}")
    if isinstance(shape, int):
        shape = (shape,)
    return Tensor._make(np.empty(tuple(shape), dtype=nd))


def affine_parameters(module: Any, affine: bool, bias: bool, shape: Any, device_: Any = None,
                      dtype: Any = None) -> None:
    """Register a norm layer's ``weight`` and ``bias`` of ``shape``, or None for each it lacks
    (``bias`` only counts when ``affine``)."""
    if affine:
        module.weight = Parameter(empty(shape, device_, dtype))
        if bias:
            module.bias = Parameter(empty(shape, device_, dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def reset_affine(module: Any, affine: bool) -> None:
    """A norm layer's affine transform starts as the identity: weight 1, bias 0."""
    if affine:
        init.ones_(module.weight)
        if module.bias is not None:
            init.zeros_(module.bias)
