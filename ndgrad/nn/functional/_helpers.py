"""Argument handling shared by the functional modules: tuples of ints, the losses' reduction
(with the deprecated size_average/reduce flags), dtype checks, with PyTorch's messages.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ndgrad.tensor import Tensor


def _int_tuple(v: Any, n: int, name: str) -> tuple[int, ...]:
    """An int or a sequence of n ints (a single-item sequence is repeated) as an n-tuple."""
    if isinstance(v, Tensor):
        v = v.tolist()
    if isinstance(v, int | np.integer):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                           f"values to match the convolution dimensions, but got {name}={list(v)}")
    return v


def _legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """The ``reduction`` that the deprecated ``size_average``/``reduce`` flags mean, with
    PyTorch's warning (losses' functions and Modules alike)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{reduction}' instead.", UserWarning, stacklevel=4)
    return reduction


def _reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's reduction argument, including the deprecated size_average/reduce pair."""
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_dtype(name: str, *ts: Tensor | None) -> None:
    dts = {t.dtype for t in ts if t is not None}
    if len(dts) > 1:
        raise RuntimeError(f"{name}: expected all tensors to have the same dtype, but got "
                           f"{', '.join(str(t.dtype) for t in ts if t is not None)}")


def _float_input(x: Tensor, name: str) -> None:
    if not x.is_floating_point():
        raise RuntimeError(f"{name}: expected a floating point input, but got {x.dtype}")


def _size_warning(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to "
                      f"broadcasting. Please ensure they have the same size.", stacklevel=3)
