"""ndgrad.fft against torch.fft: every transform with n/s, dim and the three norm modes, real
and complex inputs, values, gradients and second derivatives; frequencies, shifts, errors."""

import numpy as np
import pytest
import torch
from helpers import check_complex_op, check_op

import ndgrad

NORMS = [None, "ortho", "forward"]
rng = np.random.default_rng(0)
REAL = rng.standard_normal((3, 4, 6))
COMPLEX = REAL + 1j * rng.standard_normal((3, 4, 6))

CALLS = {  # name: (call, takes complex input, takes real input)
    "fft": (lambda f, x, norm: f.fft(x, norm=norm), True, True),
    "fft_n_dim": (lambda f, x, norm: f.fft(x, n=5, dim=1, norm=norm), True, True),
    "ifft_pad": (lambda f, x, norm: f.ifft(x, n=9, norm=norm), True, True),
    "fft2": (lambda f, x, norm: f.fft2(x, s=(2, 8), norm=norm), True, True),
    "ifft2": (lambda f, x, norm: f.ifft2(x, norm=norm), True, True),
    "fftn": (lambda f, x, norm: f.fftn(x, norm=norm), True, True),
    "ifftn_s": (lambda f, x, norm: f.ifftn(x, s=(3, 5), norm=norm), True, True),
    "rfft": (lambda f, x, norm: f.rfft(x, norm=norm), False, True),
    "rfft_n": (lambda f, x, norm: f.rfft(x, n=9, dim=0, norm=norm), False, True),
    "rfft2": (lambda f, x, norm: f.rfft2(x, norm=norm), False, True),
    "rfftn_s": (lambda f, x, norm: f.rfftn(x, s=(3, 5), norm=norm), False, True),
    "irfft": (lambda f, x, norm: f.irfft(x, norm=norm), True, True),
    "irfft_odd": (lambda f, x, norm: f.irfft(x, n=7, norm=norm), True, True),
    "irfft2": (lambda f, x, norm: f.irfft2(x, norm=norm), True, True),
    "irfftn_s": (lambda f, x, norm: f.irfftn(x, s=(3, 9), norm=norm), True, True),
    "hfft": (lambda f, x, norm: f.hfft(x, norm=norm), True, True),
    "hfft_n": (lambda f, x, norm: f.hfft(x, n=9, dim=1, norm=norm), True, True),
    "hfft2": (lambda f, x, norm: f.hfft2(x, s=(3, 8), norm=norm), True, True),
    "hfftn": (lambda f, x, norm: f.hfftn(x, norm=norm), True, True),
    "ihfft": (lambda f, x, norm: f.ihfft(x, norm=norm), False, True),
    "ihfft2_s": (lambda f, x, norm: f.ihfft2(x, s=(3, 7), norm=norm), False, True),
    "ihfftn": (lambda f, x, norm: f.ihfftn(x, norm=norm), False, True),
}
PARAMS = [(name, norm, kind) for name, (_, c, r) in CALLS.items() for norm in NORMS
          for kind, ok in (("real", r), ("complex", c)) if ok]


@pytest.mark.parametrize("name,norm,kind", PARAMS)
def test_against_torch(name, norm, kind):
    call = CALLS[name][0]
    x = REAL if kind == "real" else COMPLEX
    check_complex_op([x], lambda lib, t: call(lib.fft, t, norm))


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "hfft", "ihfft", "fftn"])
def test_float32(name):
    call = CALLS[name][0]
    t = call(torch.fft, torch.tensor(REAL.astype(np.float32)), None)
    n = call(ndgrad.fft, ndgrad.tensor(REAL.astype(np.float32)), None)
    assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    np.testing.assert_allclose(n.numpy(), t.resolve_conj().numpy(), rtol=1e-4, atol=1e-4)


def test_integer_input_is_promoted():
    x = np.arange(6)
    t, n = torch.fft.fft(torch.tensor(x)), ndgrad.fft.fft(ndgrad.tensor(x))
    assert n.dtype == ndgrad.complex64 and t.dtype == torch.complex64
    np.testing.assert_allclose(n.numpy(), t.numpy(), atol=1e-5)


def test_shifts_and_frequencies():
    check_op([(4, 5)], lambda lib, x: [lib.fft.fftshift(x), lib.fft.ifftshift(x, dim=1),
                                       lib.fft.fftshift(x, dim=(0, -1))])
    for n, d in ((5, 1.0), (8, 0.1)):
        for f in ("fftfreq", "rfftfreq"):
            t, m = getattr(torch.fft, f)(n, d), getattr(ndgrad.fft, f)(n, d)
            assert m.dtype == ndgrad.float32
            np.testing.assert_allclose(m.numpy(), t.numpy())
    assert ndgrad.fft.fftfreq(4, dtype=ndgrad.float64).dtype == ndgrad.float64


def test_spectral_filter_end_to_end():
    # the common use: filter in the frequency domain, back to a real signal, a real loss
    x = rng.standard_normal((2, 16))
    h = rng.standard_normal(9)

    def fn(lib, x, h):
        y = lib.fft.irfft(lib.fft.rfft(x) * h, n=16)
        return (y.square().mean() + lib.fft.rfft(x).abs().square().sum()).reshape(1)

    check_op([x, h], fn, dtypes=(np.float64,))


ERRORS = [
    lambda f, x: f.fft(x, norm="foo"),
    lambda f, x: f.fft(x, n=0),
    lambda f, x: f.rfft(x.to(torch.complex64 if f is torch.fft else ndgrad.complex64)),
    lambda f, x: f.fftn(x, s=(2, 2), dim=(0,)),
    lambda f, x: f.irfft(x[..., :1]),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    with pytest.raises(RuntimeError) as t:
        ERRORS[i](torch.fft, torch.tensor(REAL))
    with pytest.raises(RuntimeError) as n:
        ERRORS[i](ndgrad.fft, ndgrad.tensor(REAL))
    assert type(n.value) is type(t.value)
    assert str(n.value) == str(t.value).split("\n")[0]
