"""ndgrad.tensor: the Tensor class (``core.py``, assembled from the parts beside it), tensor
creation (``creation.py``) and the functions of several tensors (``functions.py``)."""

from ndgrad._device import device
from ndgrad.tensor.base import Size, values_indices
from ndgrad.tensor.complex import complex, polar, view_as_complex, view_as_real
from ndgrad.tensor.conversion import as_array, to_args_dtype
from ndgrad.tensor.core import Tensor
from ndgrad.tensor.creation import tensor
from ndgrad.tensor.functions import (
    broadcast_shapes,
    broadcast_tensors,
    cat,
    concat,
    concatenate,
    einsum,
    is_floating_point,
    is_nonzero,
    is_tensor,
    log_softmax,
    multinomial,
    softmax,
    stack,
    where,
)

__all__ = ["Size", "Tensor", "as_array", "complex", "polar", "view_as_complex", "view_as_real",
           "broadcast_shapes", "broadcast_tensors", "cat", "concat",
           "concatenate", "device", "einsum", "is_floating_point", "is_nonzero", "is_tensor",
           "log_softmax", "multinomial", "softmax", "stack", "tensor", "to_args_dtype",
           "values_indices", "where"]
