"""stft and istft against torch: values and gradients over their options, round trips, errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad
from tests.helpers import assert_close

RNG = np.random.default_rng(0)
SIGNAL = RNG.standard_normal((2, 40))
WINDOW = RNG.random(12) + 0.5


def _run(lib: Any, fn: str, data: np.ndarray, **kw: Any) -> tuple[Any, Any]:
    """fn's output and the gradient of a non-uniform loss of it, in ``lib``."""
    x = lib.tensor(data, requires_grad=True)
    kw = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "A window was not provided"
        y = getattr(lib, fn)(x, **kw)
    loss = (y.abs() ** 2).sum() if y.is_complex() else (y ** 3).sum()
    return y, lib.autograd.grad(loss, x)[0]


@pytest.mark.parametrize("kw", [
    dict(n_fft=16),
    dict(n_fft=16, hop_length=5, win_length=12, window=WINDOW, normalized=True),
    dict(n_fft=16, center=False, onesided=False),
    dict(n_fft=16, pad_mode="constant", return_complex=False),
    dict(n_fft=16, pad_mode="circular"),
    dict(n_fft=8, hop_length=3, pad_mode="replicate"),
])
@pytest.mark.parametrize("batched", [True, False])
def test_stft_matches_torch(kw: dict[str, Any], batched: bool) -> None:
    kw = {"return_complex": True, **kw}
    data = SIGNAL if batched else SIGNAL[0]
    (ny, ng), (ty, tg) = _run(ndgrad, "stft", data, **kw), _run(torch, "stft", data, **kw)
    assert_close(ny, ty)
    assert_close(ng, tg)


@pytest.mark.parametrize("kw", [
    dict(n_fft=16),
    dict(n_fft=16, hop_length=4, win_length=12, window=WINDOW, normalized=True),
    dict(n_fft=16, length=45),
    dict(n_fft=16, length=30),
    dict(n_fft=16, center=False, window=np.hanning(18)[1:17] ** 0.5 + 0.1),
])
def test_istft_inverts_stft_and_matches_torch(kw: dict[str, Any]) -> None:
    stft_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
               for k, v in kw.items() if k != "length"}
    spec = torch.stft(torch.tensor(SIGNAL), return_complex=True, **stft_kw).numpy()
    (ny, ng), (ty, tg) = _run(ndgrad, "istft", spec, **kw), _run(torch, "istft", spec, **kw)
    assert_close(ny, ty)
    assert_close(ng, tg)
    n = min(40, ny.shape[-1])
    np.testing.assert_allclose(ny.detach().numpy()[:, :n], SIGNAL[:, :n], atol=1e-12)


def test_stft_float32_gives_complex64_and_method_form() -> None:
    x = ndgrad.tensor(SIGNAL.astype(np.float32))
    y = x.stft(16, window=ndgrad.ones(16), return_complex=True)
    assert y.dtype == ndgrad.complex64
    assert_close(y, torch.tensor(SIGNAL.astype(np.float32)).stft(
        16, window=torch.ones(16), return_complex=True), np.float32)


def test_stft_istft_errors() -> None:
    x = ndgrad.tensor(SIGNAL)
    with pytest.raises(RuntimeError, match="return_complex parameter"):
        ndgrad.stft(x, 16)
    with pytest.raises(RuntimeError, match="win_length"):
        ndgrad.stft(x, 16, win_length=20, return_complex=True)
    with pytest.raises(RuntimeError, match="1D or 2D"):
        ndgrad.stft(x.reshape(1, 2, 40), 16, return_complex=True)
    with pytest.raises(RuntimeError, match="complex-valued"):
        ndgrad.istft(x, 16)
    spec = ndgrad.stft(x, 16, return_complex=True)
    with pytest.raises(RuntimeError, match="n_fft / 2 \\+ 1"):
        ndgrad.istft(spec, 20)
    with pytest.raises(RuntimeError, match="overlap add"):
        ndgrad.istft(spec, 16, window=ndgrad.zeros(16))
