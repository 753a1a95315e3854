"""Flatten parameters into one vector and back (for second-order methods, line searches)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ndgrad.tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """One 1-D tensor with every parameter's values, in order (a copy, without graph)."""
    arrays = [p._data.reshape(-1) for p in parameters]
    if not arrays:
        raise RuntimeError("parameters_to_vector expected a non-empty list of parameters")
    return Tensor._make(np.concatenate(arrays))


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    if vec.dim() != 1:
        raise RuntimeError(f"expected a 1-D vector, got {vec.dim()} dimensions")
    pointer = 0
    for p in parameters:
        n = p._data.size
        if pointer + n > vec._data.size:
            raise RuntimeError(f"vector of length {vec._data.size} is too short for the "
                               f"parameters")
        p._data[...] = vec._data[pointer:pointer + n].reshape(p._data.shape)
        p._bump_version()
        pointer += n
