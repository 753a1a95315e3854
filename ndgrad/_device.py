"""Devices: ``device`` describes one as torch.device does (any kind, so device-selecting code
runs), and ``check_device`` is the one place that refuses every device but the CPU."""

from __future__ import annotations

from typing import Any

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

__all__ = ["DeviceUnavailableError", "check_device", "device"]
