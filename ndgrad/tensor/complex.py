"""Complex tensors: real and imaginary parts, conjugates, angle, and the functions that build
complex tensors from real ones (complex, polar, view_as_complex) or take them apart
(view_as_real). How their gradients are carried: ``ndgrad/ops/complex.py``.

view_as_real and view_as_complex copy: ndgrad's tensors are NumPy arrays, and in-place
changes through such a "view" do not reach the original (torch's do).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.ops.complex import Angle, Complex, Conj, Imag, Real
from ndgrad.tensor.base import TensorBase, _bool


class ComplexMixin(TensorBase):
    """Methods for complex tensors (most are the identity on real ones, as in torch)."""

    def is_complex(self) -> _bool:
        return self._data.dtype.kind == "c"

    @property
    def real(self) -> Any:
        """The real part (a real tensor itself, for real tensors)."""
        return Real.apply(self) if self.is_complex() else self

    @property
    def imag(self) -> Any:
        if not self.is_complex():
            raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
        return Imag.apply(self)

    def conj(self) -> Any:
        return Conj.apply(self) if self.is_complex() else self

    def conj_physical(self) -> Any:
        return self.conj()

    def resolve_conj(self) -> Any:
        return self  # conjugation is never lazy in ndgrad

    def resolve_neg(self) -> Any:
        return self

    def is_conj(self) -> _bool:
        return False

    def is_neg(self) -> _bool:
        return False

    def angle(self) -> Any:
        """arg(z) in (-pi, pi]; for real tensors 0 or pi (nan stays nan)."""
        return Angle.apply(self if self._data.dtype.kind in "fc" else self.float())


def complex(real: Any, imag: Any) -> Any:  # noqa: A001 - torch's name
    """real + i imag from two real tensors of the same floating dtype (broadcast)."""
    for name, t in (("real", real), ("imag", imag)):
        if not isinstance(t, TensorBase):
            raise TypeError(f"complex(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if real._data.dtype != imag._data.dtype:
        raise RuntimeError(f"Expected object of scalar type {_dtype.scalar_name(real._data.dtype)}"
                           f" but got scalar type {_dtype.scalar_name(imag._data.dtype)} for "
                           f"second argument")
    if real._data.dtype.kind != "f" or real._data.dtype.itemsize < 4:
        raise RuntimeError(f"Expected both inputs to be Float or Double tensors but got "
                           f"{_dtype.scalar_name(real._data.dtype)} and "
                           f"{_dtype.scalar_name(imag._data.dtype)}")
    return Complex.apply(real, imag)


def polar(abs: Any, angle: Any) -> Any:  # noqa: A002 - torch's names
    """abs * (cos(angle) + i sin(angle))."""
    return complex(abs * angle.cos(), abs * angle.sin())


def view_as_real(input: Any) -> Any:
    """(...,) complex -> (..., 2) real: the real and imaginary parts (a copy, see above)."""
    if not input.is_complex():
        raise RuntimeError("view_as_real is only supported for complex tensors")
    first = input._make(np.arange(2) == 0)  # (2,): the real part goes first
    return input.real.unsqueeze(-1).where(first, input.imag.unsqueeze(-1))


def view_as_complex(input: Any) -> Any:
    """(..., 2) float -> (...,) complex (a copy, see above)."""
    if input._data.dtype.kind != "f" or input._data.dtype.itemsize < 4:
        raise RuntimeError(f"view_as_complex is only supported for float and double tensors, "
                           f"but got a tensor of scalar type: "
                           f"{_dtype.scalar_name(input._data.dtype)}")
    if input.ndim == 0 or input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    return complex(input[..., 0], input[..., 1])
