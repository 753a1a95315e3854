"""The short-time Fourier transform and its inverse (torch.stft / torch.istft), with gradients.

stft cuts the signal into overlapping frames (a strided view: ``unfold``), multiplies each by
the window and takes the FFT of each frame; istft takes the inverse FFT of each frame,
multiplies by the window again, adds the overlapping frames back together (``Fold``, the
adjoint of the framing) and divides by the overlap-added squared window, so that
``istft(stft(x)) == x`` wherever the window overlap is nonzero.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.ops.conv import ConvParams, Fold
from ndgrad.ops.fft import FFT, IRFFT, RFFT
from ndgrad.ops.padding import PadRepeat
from ndgrad.ops.shape import Cat, Pad
from ndgrad.tensor.base import TensorBase, _bool, _int


def _window(x: Any, window: Any, n_fft: int, win_length: int, fn: str) -> Any:
    """The window (ones if None) centred in n_fft points, as torch pads it."""
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"{fn}: expected 0 < win_length <= n_fft, but got win_length="
                           f"{win_length}")
    if window is None:
        window = x._make(np.ones(win_length, x._data.real.dtype))
    if window.ndim != 1 or window.shape[0] != win_length:
        raise RuntimeError(f"{fn}: expected a 1D window tensor of size equal to win_length="
                           f"{win_length}, but got window with size {list(window.shape)}")
    left = (n_fft - win_length) // 2
    if left or n_fft - win_length - left:
        window = Pad.apply(window, ((left, n_fft - win_length - left),), 0)
    return window


class SpectralMixin(TensorBase):
    """stft and istft."""

    def stft(self, n_fft: _int, hop_length: _int | None = None, win_length: _int | None = None,
             window: Any = None, center: _bool = True, pad_mode: str = "reflect",
             normalized: _bool = False, onesided: _bool | None = None,
             return_complex: _bool | None = None) -> Any:
        """(B?, n_freq, n_frames) complex: the FFT of each window-weighted frame of n_fft
        samples, hop_length apart; with ``center`` the signal is first padded by n_fft // 2 on
        both sides (pad_mode), so frame t is centred on sample t * hop_length."""
        x = self
        if x.ndim not in (1, 2):
            raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {x.ndim}D")
        complex_in = x.is_complex() or (window is not None and window.is_complex())
        if return_complex is None:
            raise RuntimeError("stft requires the return_complex parameter be given for real "
                               "inputs, and will further require that return_complex=True in "
                               "a future PyTorch release.")
        hop = n_fft // 4 if hop_length is None else hop_length
        win_length = n_fft if win_length is None else win_length
        if hop <= 0:
            raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop}")
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        if center:
            widths = ((0, 0), (n_fft // 2, n_fft // 2))
            x = Pad.apply(x, widths, 0) if pad_mode == "constant" else \
                PadRepeat.apply(x, widths, pad_mode)
        if not 0 < n_fft <= x.shape[-1]:
            raise RuntimeError(f"stft: expected 0 < n_fft <= {x.shape[-1]}, but got "
                               f"n_fft={n_fft}")
        frames = x.unfold(-1, n_fft, hop) * _window(x, window, n_fft, win_length, "stft")
        scale = n_fft ** -0.5 if normalized else 1.0
        onesided = not complex_in if onesided is None else onesided
        if onesided and complex_in:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        if onesided:
            out = RFFT.apply(frames, (2,), scale)
        else:
            if not frames.is_complex():
                frames = frames.to(_dtype.from_np(_dtype.to_complex(frames._data.dtype)))
            out = FFT.apply(frames, (2,), scale, False)
        out = out.transpose(1, 2)
        if not batched:
            out = out.squeeze(0)
        if not return_complex:
            out = Cat.apply(out.real.unsqueeze(-1), out.imag.unsqueeze(-1), dim=out.ndim)
        return out

    def istft(self, n_fft: _int, hop_length: _int | None = None, win_length: _int | None = None,
              window: Any = None, center: _bool = True, normalized: _bool = False,
              onesided: _bool | None = None, length: _int | None = None,
              return_complex: _bool = False) -> Any:
        """The inverse of stft: inverse FFT of each frame, window, overlap-add, and division
        by the overlap-added squared window (the least-squares inverse)."""
        spec = self
        if not spec.is_complex():
            raise RuntimeError("istft requires a complex-valued input tensor")
        if spec.ndim not in (2, 3):
            raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex "
                               f"values, but got {spec.ndim}D")
        hop = n_fft // 4 if hop_length is None else hop_length
        win_length = n_fft if win_length is None else win_length
        batched = spec.ndim == 3
        if not batched:
            spec = spec.unsqueeze(0)
        n_freq, n_frames = spec.shape[1], spec.shape[2]
        onesided = n_freq != n_fft if onesided is None else onesided
        if onesided and n_freq != n_fft // 2 + 1:
            raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of "
                               f"the input tensor to match n_fft / 2 + 1 when onesided=True, "
                               f"but got {n_freq}")
        if not onesided and n_freq != n_fft:
            raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of "
                               f"the input tensor to match n_fft when onesided=False, but got "
                               f"{n_freq}")
        if return_complex and onesided:
            raise RuntimeError("cannot have onesided output if window or input is complex")
        frames = spec.transpose(1, 2)  # (B, n_frames, n_freq)
        # the inverse FFT's 1/n; normalized: torch undoes stft's 1/sqrt(n) first
        scale = 1.0 / math.sqrt(n_fft) if normalized else 1.0 / n_fft
        if return_complex:
            frames = FFT.apply(frames, (2,), scale, True)
        else:
            frames = IRFFT.apply(frames[..., : n_fft // 2 + 1], (2,), scale, n_fft)
        win = _window(frames, window, n_fft, win_length, "istft")
        frames = frames * win
        total = n_fft + hop * (n_frames - 1)
        geometry = ConvParams((1, hop), ((0, 0), (0, 0)), (1, 1), 1)
        shape = (frames.shape[0], 1, 1, total)
        signal = Fold.apply(frames.transpose(1, 2), shape, (1, n_fft), geometry)
        envelope = Fold.apply(win.square().reshape(1, n_fft, 1).expand(1, n_fft, n_frames),
                              (1, 1, 1, total), (1, n_fft), geometry)
        start = n_fft // 2 if center else 0
        end = total - (n_fft // 2 if center else 0) if length is None else start + length
        end = min(end, total)
        signal, envelope = signal[..., start:end], envelope[..., start:end]
        if envelope.numel() and float(envelope.abs().min()) < 1e-11:
            raise RuntimeError("istft: window overlap add min: the window's overlap-added "
                               "square is zero somewhere (choose a window and hop_length "
                               "that satisfy the NOLA condition)")
        y = (signal / envelope).reshape(frames.shape[0], -1)
        if length is not None and y.shape[-1] < length:
            y = Pad.apply(y, ((0, 0), (0, length - y.shape[-1])), 0)
        return y if batched else y.squeeze(0)
