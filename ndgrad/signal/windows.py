"""torch.signal.windows (bartlett, blackman, cosine, exponential, gaussian, general_cosine,
general_hamming, hamming, hann, kaiser, nuttall) and torch's top-level ``*_window`` functions.

A window is a constant, not a function of anything differentiable: each is computed in float64
NumPy and cast to ``dtype``. ``sym=False`` (``periodic=True`` at the top level) gives the first M
points of the symmetric window of M + 1, the form spectral analysis wants. kaiser divides
exponentially scaled Bessel functions, i0e(a) / i0e(beta) * exp(a - beta), so that it stays
finite in float32 for a large beta (torch's i0(a) / i0(beta) overflows to nan there).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.ops._special_bessel import i0e
from ndgrad.tensor import Tensor, tensor

__all__ = [
    "bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
    "general_hamming", "hamming", "hann", "kaiser", "nuttall",
]

_BLACKMAN = (0.42, 0.5, 0.08)
_NUTTALL = (0.3635819, 0.4891775, 0.1365995, 0.0106411)


# -- the windows as float64 arrays (M >= 1) ------------------------------------------------------
def _denominator(M: int, sym: bool) -> int:
    """The spacing's denominator: M - 1 for a symmetric window, M for a periodic one."""
    return M - 1 if sym else M


def _cosine_sum(M: int, a: Iterable[float], sym: bool) -> np.ndarray:
    """sum_i (-1)^i a_i cos(2 pi i n / (M - 1 or M)), n = 0 .. M-1."""
    if M == 1:
        return np.ones(1)
    k = np.linspace(0.0, (M - 1) * 2 * np.pi / _denominator(M, sym), M)
    coef = np.array([(-1) ** i * w for i, w in enumerate(a)], dtype=np.float64)
    return (coef[:, None] * np.cos(np.arange(coef.size)[:, None] * k)).sum(0)  # (len(a), M)


def _bartlett(M: int, sym: bool) -> np.ndarray:
    if M == 1:
        return np.ones(1)
    k = np.linspace(-1.0, -1.0 + (M - 1) * 2 / _denominator(M, sym), M)
    return 1 - np.abs(k)


def _kaiser(M: int, beta: float, sym: bool) -> np.ndarray:
    """I0(beta sqrt(1 - (2n / (M - 1 or M) - 1)^2)) / I0(beta), through i0e."""
    if M == 1:
        return np.ones(1)
    end = min(beta, -beta + (M - 1) * 2.0 * beta / _denominator(M, sym))
    k = np.linspace(-beta, end, M)
    a = np.sqrt(np.maximum(beta * beta - k * k, 0.0))
    return i0e(a) / i0e(np.float64(beta)) * np.exp(a - beta)


# -- argument checks and the result tensor -------------------------------------------------------
def _checked(name: str, M: int, dtype: Any, layout: Any) -> np.dtype:
    """torch.signal.windows' checks (ValueError): M >= 0, strided, float32 or float64."""
    nd = _dtype.default_float() if dtype is None else _dtype.to_np(dtype)
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not None and layout != _dtype.strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if nd not in (np.float32, np.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")
    return nd


def _tensor(w: np.ndarray, nd: np.dtype, device: Any, requires_grad: bool) -> Tensor:
    return tensor(w.astype(nd), device=device, requires_grad=requires_grad)


def _empty_or(w: Any, M: int, nd: np.dtype, device: Any, requires_grad: bool) -> Tensor:
    """The window ``w()`` of M points, or an empty one for M == 0."""
    return _tensor(np.zeros(0) if M == 0 else w(), nd, device, requires_grad)


# -- torch.signal.windows ------------------------------------------------------------------------
def general_cosine(M: int, *, a: Iterable[float], sym: bool = True, dtype: Any = None,
                   layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """The generalized cosine window sum_i (-1)^i a_i cos(2 pi i n / (M - 1)) (M when not
    ``sym``)."""
    nd = _checked("general_cosine", M, dtype, layout)
    if M > 1:
        if not isinstance(a, Iterable):
            raise TypeError("Coefficients must be a list/tuple")
        a = list(a)
        if not a:
            raise ValueError("Coefficients cannot be empty")
    return _empty_or(lambda: _cosine_sum(M, a, sym), M, nd, device, requires_grad)


def general_hamming(M: int, *, alpha: float = 0.54, sym: bool = True, dtype: Any = None,
                    layout: Any = None, device: Any = None, requires_grad: bool = False,
                    ) -> Tensor:
    """alpha - (1 - alpha) cos(2 pi n / (M - 1)): hann at alpha 0.5, hamming at 0.54."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def hamming(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """The Hamming window, 0.54 - 0.46 cos(2 pi n / (M - 1))."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def hann(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """The Hann window, 0.5 - 0.5 cos(2 pi n / (M - 1))."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """The Blackman window, a cosine sum with a = (0.42, 0.5, 0.08)."""
    _checked("blackman", M, dtype, layout)
    return general_cosine(M, a=_BLACKMAN, sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """The minimum 4-term Blackman-Harris window of Nuttall."""
    return general_cosine(M, a=_NUTTALL, sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def bartlett(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """The triangular window 1 - |2n / (M - 1) - 1|."""
    nd = _checked("bartlett", M, dtype, layout)
    return _empty_or(lambda: _bartlett(M, sym), M, nd, device, requires_grad)


def cosine(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """The cosine (sine) window sin(pi (n + 0.5) / M) (M + 1 when not ``sym``)."""
    nd = _checked("cosine", M, dtype, layout)
    step = np.pi / (M + 1 if not sym and M > 1 else M) if M else 0.0
    return _empty_or(lambda: np.sin(np.linspace(0.5 * step, (M - 0.5) * step, M)), M, nd,
                     device, requires_grad)


def exponential(M: int, *, center: float | None = None, tau: float = 1.0, sym: bool = True,
                dtype: Any = None, layout: Any = None, device: Any = None,
                requires_grad: bool = False) -> Tensor:
    """The exponential (Poisson) window exp(-|n - center| / tau), centred by default."""
    nd = _checked("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    c = (M if not sym and M > 1 else M - 1) / 2.0 if center is None else center
    return _empty_or(lambda: np.exp(-np.abs(np.linspace(-c / tau, (M - 1 - c) / tau, M))), M,
                     nd, device, requires_grad)


def gaussian(M: int, *, std: float = 1.0, sym: bool = True, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """The Gaussian window exp(-(n - (M - 1) / 2)^2 / (2 std^2))."""
    nd = _checked("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    c = 1 / (std * np.sqrt(2))
    return _empty_or(lambda: np.exp(-np.linspace(start * c, (start + M - 1) * c, M) ** 2), M,
                     nd, device, requires_grad)


def kaiser(M: int, *, beta: float = 12.0, sym: bool = True, dtype: Any = None,
           layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """The Kaiser window I0(beta sqrt(1 - (2n / (M - 1) - 1)^2)) / I0(beta)."""
    nd = _checked("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    return _empty_or(lambda: _kaiser(M, float(beta), sym), M, nd, device, requires_grad)


# -- torch's top-level forms: periodic=True is sym=False -----------------------------------------
def _window(name: str, window_length: int, dtype: Any, layout: Any, device: Any,
            requires_grad: bool, w: Any) -> Tensor:
    """torch.X_window's checks (RuntimeError; any floating dtype), then the window ``w()``."""
    nd = _dtype.default_float() if dtype is None else _dtype.to_np(dtype)
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={window_length}")
    if nd.kind != "f":
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if layout is not None and layout != _dtype.strided:
        raise RuntimeError(f"{name} is not implemented for sparse types, got: {layout}")
    return _empty_or(w, window_length, nd, device, requires_grad)


def hann_window(window_length: int, periodic: bool = True, *, dtype: Any = None,
                layout: Any = None, device: Any = None, pin_memory: bool = False,
                requires_grad: bool = False) -> Tensor:
    """torch.hann_window: the Hann window, periodic (for spectral analysis) by default."""
    return _window("hann_window", window_length, dtype, layout, device, requires_grad,
                   lambda: _cosine_sum(window_length, (0.5, 0.5), not periodic))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype: Any = None, layout: Any = None,
                   device: Any = None, pin_memory: bool = False,
                   requires_grad: bool = False) -> Tensor:
    """torch.hamming_window: alpha - beta cos(2 pi n / (N - 1)) (N when periodic)."""
    return _window("hamming_window", window_length, dtype, layout, device, requires_grad,
                   lambda: _cosine_sum(window_length, (alpha, beta), not periodic))


def blackman_window(window_length: int, periodic: bool = True, *, dtype: Any = None,
                    layout: Any = None, device: Any = None, pin_memory: bool = False,
                    requires_grad: bool = False) -> Tensor:
    """torch.blackman_window: the Blackman window, periodic by default."""
    return _window("blackman_window", window_length, dtype, layout, device, requires_grad,
                   lambda: _cosine_sum(window_length, _BLACKMAN, not periodic))


def bartlett_window(window_length: int, periodic: bool = True, *, dtype: Any = None,
                    layout: Any = None, device: Any = None, pin_memory: bool = False,
                    requires_grad: bool = False) -> Tensor:
    """torch.bartlett_window: the triangular window, periodic by default."""
    return _window("bartlett_window", window_length, dtype, layout, device, requires_grad,
                   lambda: _bartlett(window_length, not periodic))


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype: Any = None, layout: Any = None, device: Any = None,
                  pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """torch.kaiser_window: the Kaiser window of shape ``beta``, periodic by default."""
    return _window("kaiser_window", window_length, dtype, layout, device, requires_grad,
                   lambda: _kaiser(window_length, abs(float(beta)), not periodic))  # I0 is even
