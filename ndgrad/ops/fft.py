"""Discrete Fourier transforms on NumPy's pocketfft: complex-to-complex (FFT), real-to-complex
keeping the non-negative frequencies (RFFT), and its inverse, complex-to-real (IRFFT).

Each primitive computes the unnormalized transform over ``dims`` times ``scale`` (1, 1/n or
1/sqrt(n): the ``norm=`` mode is turned into a number by ``ndgrad.fft``). Their gradients, in
the engine's conjugated convention for complex gradients (``ops/complex.py``): a DFT matrix is
symmetric, so the cotangent of an FFT is the same FFT of the cotangent; RFFT's is the FFT of the
cotangent zero-padded back to full length (real part, its input being real); IRFFT's is the
conjugate of RFFT of the cotangent, with the frequencies that stand for two (their mirror image
was dropped) counted twice, as torch's fft_c2r_backward.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.ops.base import Primitive
from ndgrad.ops.complex import Conj, Real
from ndgrad.ops.shape import Pad


class FFT(Primitive):
    """scale * sum_k x_k exp(-+2 pi i jk/n) over dims (- forward, + inverse)."""

    @staticmethod
    def forward(ctx: Any, x: Any, dims: Any, scale: Any, inverse: Any) -> Any:
        ctx.args = (dims, scale, inverse)
        fn = np.fft.ifftn if inverse else np.fft.fftn
        out = fn(x, axes=dims, norm="forward" if inverse else "backward")
        return (out * scale if scale != 1 else out).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return FFT.apply(grad, *ctx.args), None, None, None


class RFFT(Primitive):
    """FFT of a real x over dims, keeping the n//2 + 1 non-negative frequencies of the last."""

    @staticmethod
    def forward(ctx: Any, x: Any, dims: Any, scale: Any) -> Any:
        ctx.args = (dims, scale)
        ctx.n = x.shape[dims[-1]]
        out = np.fft.rfftn(x, axes=dims)
        cdt = np.result_type(x.dtype, np.complex64)
        return (out * scale if scale != 1 else out).astype(cdt, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        dims, scale = ctx.args
        d = dims[-1]
        widths = [(0, 0)] * grad.ndim
        widths[d] = (0, ctx.n - grad.shape[d])
        full = Pad.apply(grad, tuple(widths), 0)
        return Real.apply(FFT.apply(full, dims, scale, False)), None, None


class IRFFT(Primitive):
    """The real signal of length n (last dim) whose RFFT is x (n//2 + 1 frequencies): the
    imaginary parts of the zero (and, n even, the n/2) frequency are ignored."""

    @staticmethod
    def forward(ctx: Any, x: Any, dims: Any, scale: Any, n: Any) -> Any:
        ctx.args = (dims, scale)
        sizes = [x.shape[d] for d in dims[:-1]] + [n]
        out = np.fft.irfftn(x, s=sizes, axes=dims, norm="forward")
        # frequencies 1 .. n - (n//2 + 1) stand for themselves and their mirror images
        mult = np.ones(x.shape[dims[-1]], out.dtype)
        mult[1:1 + n - (n // 2 + 1)] = 2
        ctx.mult = mult.reshape([-1] + [1] * (x.ndim - 1 - dims[-1]))
        return (out * scale if scale != 1 else out).astype(x.real.dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        g = Conj.apply(RFFT.apply(grad, *ctx.args))
        return g * ctx.mult, None, None, None
