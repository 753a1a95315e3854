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
    grad_fn: Any = None  # the Function node that made this tensor; None for leaves
    _output_nr = 0  # which of grad_fn's outputs this is
    _vc: list[int] | None = None  # version counter, shared with views; None means version 0
    _base: Any = None  # the tensor this one is a view of
    _accum: Any = None  # weakref to this leaf's AccumulateGrad node
    _hooks: dict[int, Callable[[Any], Any]] | None = None  # leaf hooks
    _retains_grad = False
    _view_of: tuple[Any, Any] | None = None  # (parent, index) of a view made by parent[index]

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

    def __repr__(self) -> str:
        return f"ndgrad.Size({list(self)})"


# torch.device's list of device types, in its order (its error message names them all)
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                 "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")


class DeviceUnavailableError(RuntimeError, AssertionError):
    """A tensor was asked to live on a device other than the CPU. PyTorch built without CUDA
    raises an AssertionError here, PyTorch with CUDA but no GPU a RuntimeError: this is both."""


class device:  # noqa: N801 - PyTorch's name
    """A device description, as torch.device: ``device("cuda")``, ``device("cuda:1")``,
    ``device("cuda", 0)``. Any device can be described, compared, hashed and printed, so
    device-selecting code runs; ndgrad computes on the CPU only, so putting a tensor on any
    other device raises ``DeviceUnavailableError``."""

    __slots__ = ("type", "index")
    type: str
    index: int | None

    def __init__(self, type: Any = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            if index is not None:
                raise RuntimeError("device(): an index cannot be passed with a device object")
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            # torch: a bare index means that index of the current accelerator; there is none
            raise DeviceUnavailableError("Cannot access accelerator device when none is "
                                         "available.")
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments: expected "
                            f"a string such as 'cpu' or 'cuda:0', got {_type_name(type)}")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise TypeError(f"device(): argument 'index' (position 2) must be int, not "
                            f"{_type_name(index)}")
        kind, sep, num = type.partition(":")
        if kind not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start "
                               f"of device string: {type}")
        if sep:
            if not num.isdigit() or (len(num) > 1 and num[0] == "0"):
                raise RuntimeError(f"Invalid device string: '{type}'")
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            index = int(num)
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        self.type, self.index = kind, index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self) -> Any:
        return (device, (self.type, self.index))

    def __enter__(self) -> device:
        """``with device(...)``: torch makes it the default device; only the CPU can be."""
        check_device(self)
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _type_name(v: Any) -> str:
    return type(v).__name__


def check_device(dev: Any) -> None:
    """Raise ``DeviceUnavailableError`` unless ``dev`` (a string, a device or an index) is the
    CPU: ndgrad has no CUDA, MPS or other accelerator."""
    if dev is None:
        return
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != "cpu":
        raise DeviceUnavailableError(
            f"ndgrad runs on the CPU only; device '{d}' is not available (no CUDA, MPS or other "
            f"accelerator here). Pick the device as `'cuda' if ndgrad.cuda.is_available() else "
            f"'cpu'`, or leave it out")


_CPU = device("cpu")


def raw(v: Any) -> Any:
    """A tensor's array; anything else as it is."""
    return v._data if isinstance(v, TensorBase) else v
