"""TensorBase: what every part of the Tensor class may rely on.

``Tensor`` (``core.py``) is assembled from parts that mirror ``ndgrad/ops``: conversion,
elementwise, reduce, shape, index, linalg, random. Each part is a mixin class that subclasses
TensorBase and uses only what is declared here (the attributes every tensor has, and ``_make``,
which wraps an array in a new Tensor) plus other parts' public methods, reached through
``self``. No part imports another part's module or the core: a part that must make a tensor
from nothing asks a tensor it has (``x._make(array)``), as tinygrad's mixins do.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

# Tensor has methods named int, bool and float (as torch.Tensor does): annotations inside the
# class use these aliases, as PyTorch's own stubs do.
_int: TypeAlias = int
_bool: TypeAlias = bool
_float: TypeAlias = float

values_indices = namedtuple("values_indices", ["values", "indices"])  # max(dim), sort, ...


class TensorBase:
    """The attributes of a tensor, with the defaults an op's result does not set: making a
    tensor sets only ``_data``."""

    __array_ufunc__ = None  # ndarray * Tensor gives a Tensor (NumPy defers to our __rmul__)
    __array_priority__ = 1000

    _data: np.ndarray  # the values; every tensor has one
    _requires_grad = False
    _grad: Any = None  # a Tensor or None
    _grad_fn: Any = None  # the Function node that made this tensor (None for leaves): grad_fn
    _output_nr = 0  # which of grad_fn's outputs this is
    _vc: list[int] | None = None  # version counter, shared with views; None means version 0
    # views (see ndgrad/autograd/inplace.py): the tensor that owns the memory, the view ops that
    # make this one from it, the version its history was made at, and how it was made
    _base: Any = None
    _view_fn: tuple[tuple[Any, tuple, dict], ...] = ()
    _view_version = 0
    _view_meta: Any = None
    _accum: Any = None  # weakref to this leaf's AccumulateGrad node
    _hooks: dict[int, Callable[[Any], Any]] | None = None  # leaf hooks
    _post_accumulate_hooks: dict[int, Callable[[Any], None]] | None = None  # leaf, after .grad
    _retains_grad = False
    _inference = False  # made inside inference_mode (is_inference)
    _sparse_dim: int | None = None  # sparse COO layout: its sparse dims (tensor/sparse.py)

    @staticmethod
    def _make(arr: np.ndarray) -> Any:
        """Wrap an array in a new Tensor without copying or checking (core.Tensor's)."""
        raise NotImplementedError

    if TYPE_CHECKING:  # the other parts' methods, reached through self
        def __getattr__(self, name: str) -> Any: ...
        def __getitem__(self, index: Any) -> Any: ...
        def __ne__(self, other: Any) -> Any: ...  # type: ignore[override]


class Size(tuple):
    """A tensor's shape: a tuple that prints like ``ndgrad.Size([2, 3])``."""

    def numel(self) -> int:
        return math.prod(self)

    def __add__(self, other: tuple) -> Size:  # type: ignore[override]
        return Size(tuple(self) + tuple(other))  # a Size, as torch.Size + tuple is

    def __radd__(self, other: tuple) -> Size:
        return Size(tuple(other) + tuple(self))

    def __getitem__(self, index: Any) -> Any:  # type: ignore[override]
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __repr__(self) -> str:
        return f"ndgrad.Size({list(self)})"




def raw(v: Any) -> Any:
    """A tensor's array; anything else as it is."""
    return v._data if isinstance(v, TensorBase) else v
