"""ndgrad.fft: torch.fft on NumPy's pocketfft, with gradients (``ndgrad/ops/fft.py``).

Transforms of real signals return complex tensors (complex64 from float32, complex128 from
float64), as torch's do. ``n``/``s`` zero-pad or trim the input along the transformed dims
first; ``norm`` is "backward" (the default: no scaling forward, 1/n inverse), "forward"
(the reverse) or "ortho" (1/sqrt(n) both ways).

    X = ndgrad.fft.rfft(x)                 # (..., n) real -> (..., n//2 + 1) complex
    y = ndgrad.fft.irfft(X * H, n=x.shape[-1])
    power = X.abs() ** 2
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._helpers import wrap_dim
from ndgrad.ops.fft import FFT, IRFFT, RFFT
from ndgrad.ops.shape import Pad
from ndgrad.tensor import Tensor, tensor

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]


def _scale(norm: str | None, n: int, forward: bool) -> float:
    """The factor the unnormalized transform of n points is multiplied by."""
    norm = "backward" if norm is None else norm
    if norm not in ("backward", "forward", "ortho"):
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    if norm == "ortho":
        return 1 / math.sqrt(n) if n else 1.0
    scaled = (norm == "forward") == forward
    return 1 / n if scaled and n else 1.0


def _dims(x: Any, s: Any, dim: Any, fn: str) -> tuple[tuple[int, ...], list[int | None]]:
    """The transformed dims and the signal size along each (None: the input's)."""
    if isinstance(dim, int):
        dim = (dim,)
    if s is not None:
        s = [s] if isinstance(s, int) else list(s)
    if dim is None:
        dims = tuple(range(x.ndim - len(s), x.ndim)) if s is not None else tuple(range(x.ndim))
    else:
        dims = tuple(wrap_dim(d, x.ndim) for d in dim)
        if s is not None and len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    if len(set(dims)) != len(dims):
        raise RuntimeError("FFT dims must be unique")
    if s is not None and len(s) > x.ndim:
        raise RuntimeError(f"{fn}: Got shape with {len(s)} values but input tensor only has "
                           f"{x.ndim} dimensions.")
    sizes: list[int | None] = [None if s is None or s[i] == -1 else s[i] for i in range(len(dims))]
    for n in sizes:
        if n is not None and n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return dims, sizes


def _resize(x: Any, dims: Sequence[int], sizes: Sequence[int]) -> Any:
    """x zero-padded or trimmed to ``sizes`` along ``dims``."""
    widths = [(0, 0)] * x.ndim
    for d, n in zip(dims, sizes):
        if n < x.shape[d]:
            x = x.narrow(d, 0, n)
        elif n > x.shape[d]:
            widths[d] = (0, n - x.shape[d])
    if any(w != (0, 0) for w in widths):
        x = Pad.apply(x, tuple(widths), 0)
    return x


def _input(x: Any, fn: str, want: str) -> Any:
    """x as a floating tensor; ``want`` 'complex' casts real to complex, 'real' refuses
    complex."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    kind = x._data.dtype.kind
    if kind in "biu":
        x = x.to(_dtype.get_default_dtype())
    elif kind == "f" and x._data.dtype.itemsize < 4:
        x = x.float()
    if want == "real" and kind == "c":
        raise RuntimeError(f"{fn.removeprefix('fft_').rstrip('2n')} expects a real input "
                           f"tensor, but got "
                           f"{_dtype.scalar_name(x._data.dtype)}")
    if want == "complex" and x._data.dtype.kind != "c":
        x = x.to(_dtype.from_np(_dtype.to_complex(x._data.dtype)))
    return x


def _c2c(x: Any, s: Any, dim: Any, norm: Any, forward: bool, fn: str) -> Any:
    x = _input(x, fn, "complex")
    dims, sizes = _dims(x, s, dim, fn)
    full = [n if n is not None else x.shape[d] for d, n in zip(dims, sizes)]
    x = _resize(x, dims, full)
    return FFT.apply(x, dims, _scale(norm, math.prod(full), forward), not forward)


def _r2c(x: Any, s: Any, dim: Any, norm: Any, forward: bool, fn: str) -> Any:
    """rfft (forward) and ihfft (not forward: the conjugate of the inverse-direction one)."""
    x = _input(x, fn, "real")
    dims, sizes = _dims(x, s, dim, fn)
    full = [n if n is not None else x.shape[d] for d, n in zip(dims, sizes)]
    if not dims:
        raise RuntimeError(f"{fn} must transform at least one axis")
    x = _resize(x, dims, full)
    out = RFFT.apply(x, dims, _scale(norm, math.prod(full), forward))
    return out if forward else out.conj()


def _c2r(x: Any, s: Any, dim: Any, norm: Any, forward: bool, fn: str) -> Any:
    """irfft (not forward) and hfft (forward: the transform of the conjugate)."""
    x = _input(x, fn, "complex")
    dims, sizes = _dims(x, s, dim, fn)
    if not dims:
        raise RuntimeError(f"{fn} must transform at least one axis")
    last = sizes[-1] if sizes[-1] is not None else 2 * (x.shape[dims[-1]] - 1)
    if last < 1:
        raise RuntimeError(f"Invalid number of data points ({last}) specified")
    full = [n if n is not None else x.shape[d] for d, n in zip(dims[:-1], sizes[:-1])] + [last]
    x = _resize(x, dims, full[:-1] + [last // 2 + 1])
    if forward:
        x = x.conj()
    return IRFFT.apply(x, dims, _scale(norm, math.prod(full), forward), last)


def fft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """The 1-D discrete Fourier transform: X_k = sum_j x_j exp(-2 pi i jk / n)."""
    return _c2c(input, None if n is None else [n], dim, norm, True, "fft_fft")


def ifft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """The inverse of fft: x_j = (1/n) sum_k X_k exp(2 pi i jk / n)."""
    return _c2c(input, None if n is None else [n], dim, norm, False, "fft_ifft")


def fft2(input: Any, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Any:
    return _c2c(input, s, dim, norm, True, "fft_fft2")


def ifft2(input: Any, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Any:
    return _c2c(input, s, dim, norm, False, "fft_ifft2")


def fftn(input: Any, s: Any = None, dim: Any = None, norm: str | None = None) -> Any:
    """The n-D transform over ``dim`` (all dims, or the last len(s), by default)."""
    return _c2c(input, s, dim, norm, True, "fft_fftn")


def ifftn(input: Any, s: Any = None, dim: Any = None, norm: str | None = None) -> Any:
    return _c2c(input, s, dim, norm, False, "fft_ifftn")


def rfft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """The transform of a real signal: its n//2 + 1 non-negative frequencies (the others are
    their complex conjugates)."""
    return _r2c(input, None if n is None else [n], dim, norm, True, "fft_rfft")


def irfft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """The real signal of length n (default 2 (m - 1)) whose rfft is ``input``."""
    return _c2r(input, None if n is None else [n], dim, norm, False, "fft_irfft")


def rfft2(input: Any, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Any:
    return _r2c(input, s, dim, norm, True, "fft_rfft2")


def irfft2(input: Any, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Any:
    return _c2r(input, s, dim, norm, False, "fft_irfft2")


def rfftn(input: Any, s: Any = None, dim: Any = None, norm: str | None = None) -> Any:
    return _r2c(input, s, dim, norm, True, "fft_rfftn")


def irfftn(input: Any, s: Any = None, dim: Any = None, norm: str | None = None) -> Any:
    return _c2r(input, s, dim, norm, False, "fft_irfftn")


def hfft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """The (real) transform of a Hermitian signal given by its first half."""
    return _c2r(input, None if n is None else [n], dim, norm, True, "fft_hfft")


def ihfft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """The inverse of hfft: the first half of the inverse transform of a real signal."""
    return _r2c(input, None if n is None else [n], dim, norm, False, "fft_ihfft")


def hfft2(input: Any, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Any:
    return _c2r(input, s, dim, norm, True, "fft_hfft2")


def ihfft2(input: Any, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Any:
    return _r2c(input, s, dim, norm, False, "fft_ihfft2")


def hfftn(input: Any, s: Any = None, dim: Any = None, norm: str | None = None) -> Any:
    return _c2r(input, s, dim, norm, True, "fft_hfftn")


def ihfftn(input: Any, s: Any = None, dim: Any = None, norm: str | None = None) -> Any:
    return _r2c(input, s, dim, norm, False, "fft_ihfftn")


def _freq(values: np.ndarray, dtype: Any, requires_grad: bool) -> Any:
    nd = _dtype.to_np(dtype) if dtype is not None else _dtype.default_float()
    return tensor(values.astype(nd), requires_grad=requires_grad)


def fftfreq(n: int, d: float = 1.0, *, dtype: Any = None, layout: Any = None, device: Any = None,
            requires_grad: bool = False) -> Any:
    """The frequencies of fft's outputs: [0, 1, ..., n/2 - 1, -n/2, ..., -1] / (d n)."""
    return _freq(np.fft.fftfreq(n, d), dtype, requires_grad)


def rfftfreq(n: int, d: float = 1.0, *, dtype: Any = None, layout: Any = None,
             device: Any = None, requires_grad: bool = False) -> Any:
    """The frequencies of rfft's outputs: [0, 1, ..., n//2] / (d n)."""
    return _freq(np.fft.rfftfreq(n, d), dtype, requires_grad)


def _shift(x: Any, dim: Any, sign: int) -> Any:
    dims = tuple(range(x.ndim)) if dim is None else (
        (dim,) if isinstance(dim, int) else tuple(dim))
    if not dims:
        return x.clone()
    dims = tuple(wrap_dim(d, x.ndim) for d in dims)
    return x.roll(tuple(sign * (x.shape[d] // 2) for d in dims), dims)


def fftshift(input: Any, dim: Any = None) -> Any:
    """Move the zero frequency to the middle (a roll by n//2 along each dim)."""
    return _shift(input, dim, 1)


def ifftshift(input: Any, dim: Any = None) -> Any:
    """The inverse of fftshift."""
    return _shift(input, dim, -1)
