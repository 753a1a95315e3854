"""ndgrad.signal.windows and the top-level *_window functions against torch's: every window
over lengths (0, 1, 2, odd, even), sym/periodic, dtypes and each window's parameters; errors;
kaiser stays finite in float32 where torch's overflows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_close

import ndgrad

LENGTHS = [0, 1, 2, 5, 8]
DTYPES = ["float32", "float64"]
WINDOWS = {  # name -> parameter sets (keyword arguments)
    "bartlett": [{}],
    "blackman": [{}],
    "cosine": [{}],
    "exponential": [{}, {"tau": 0.5}, {"tau": 3.0}],
    "gaussian": [{}, {"std": 0.3}, {"std": 4.0}],
    "general_cosine": [{"a": [0.5, 0.5]}, {"a": (0.3, 0.4, 0.2, 0.1)}, {"a": [1.0]}],
    "general_hamming": [{}, {"alpha": 0.7}, {"alpha": 0.0}],
    "hamming": [{}],
    "hann": [{}],
    "kaiser": [{}, {"beta": 0.0}, {"beta": 2.5}, {"beta": 40.0}],
    "nuttall": [{}],
}
CASES = [(name, kw) for name, kws in WINDOWS.items() for kw in kws]


def _pair(fn_name, *args, ns="signal.windows", dtype=None, **kw):
    """(ndgrad's result, torch's) of the same call."""
    out = []
    for lib in (ndgrad, torch):
        mod = lib
        for part in ns.split(".") if ns else []:
            mod = getattr(mod, part)
        extra = {} if dtype is None else {"dtype": getattr(lib, dtype)}
        out.append(getattr(mod, fn_name)(*args, **kw, **extra))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sym", [True, False])
@pytest.mark.parametrize("M", LENGTHS)
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_signal_windows(name, kw, M, sym, dtype):
    n, t = _pair(name, M, sym=sym, dtype=dtype, **kw)
    assert_close(n, t, getattr(np, dtype), f"{name}({M}, sym={sym}, {kw})")


@pytest.mark.parametrize("sym", [True, False])
@pytest.mark.parametrize("center", [0.0, 2.0, 6.5])
def test_exponential_center(center, sym):
    if sym:
        with pytest.raises(ValueError, match="Center must be None for symmetric windows"):
            ndgrad.signal.windows.exponential(7, center=center)
        return
    n, t = _pair("exponential", 7, center=center, sym=False, tau=2.0, dtype="float64")
    assert_close(n, t)


def test_default_dtype_device_and_requires_grad():
    n, t = _pair("hann", 6)
    assert_close(n, t, np.float32)
    w = ndgrad.signal.windows.kaiser(5, dtype=ndgrad.float64, device="cpu", requires_grad=True)
    assert w.requires_grad and w.dtype == ndgrad.float64 and w.is_leaf
    ndgrad.set_default_dtype(ndgrad.float64)
    try:
        assert ndgrad.signal.windows.gaussian(3).dtype == ndgrad.float64
        assert ndgrad.hann_window(3).dtype == ndgrad.float64
    finally:
        ndgrad.set_default_dtype(ndgrad.float32)


@pytest.mark.parametrize("M", [16, 31])
@pytest.mark.parametrize("beta", [100.0, 700.0])
def test_kaiser_finite_in_float32_for_large_beta(beta, M):
    """torch's float32 kaiser is i0(.) / i0(beta): inf / inf = nan once I0(beta) overflows;
    ndgrad's matches torch's float64 window there."""
    n = ndgrad.signal.windows.kaiser(M, beta=beta, dtype=ndgrad.float32)
    t = torch.signal.windows.kaiser(M, beta=beta, dtype=torch.float64)
    assert np.isfinite(n.numpy()).all()
    np.testing.assert_allclose(n.numpy(), t.numpy().astype(np.float32), rtol=1e-5, atol=1e-30)
    nk = ndgrad.kaiser_window(M, True, beta, dtype=ndgrad.float32)
    tk = torch.kaiser_window(M, True, beta, dtype=torch.float64)
    np.testing.assert_allclose(nk.numpy(), tk.numpy().astype(np.float32), rtol=1e-5, atol=1e-30)


@pytest.mark.parametrize("call,error,match", [
    (lambda w: w.hann(-1), ValueError, "requires non-negative window length, got M=-1"),
    (lambda w: w.hann(3, dtype=ndgrad.int64), ValueError, "expects float32 or float64"),
    (lambda w: w.bartlett(3, dtype=ndgrad.float16), ValueError, "expects float32 or float64"),
    (lambda w: w.gaussian(3, std=0.0), ValueError, "Standard deviation must be positive"),
    (lambda w: w.exponential(3, tau=-1.0), ValueError, "Tau must be positive"),
    (lambda w: w.kaiser(3, beta=-1.0), ValueError, "beta must be non-negative"),
    (lambda w: w.general_cosine(3, a=[]), ValueError, "Coefficients cannot be empty"),
    (lambda w: w.general_cosine(3, a=0.5), TypeError, "Coefficients must be a list/tuple"),
], ids=["length", "int", "half", "std", "tau", "beta", "empty_a", "scalar_a"])
def test_signal_window_errors_like_torch(call, error, match):
    with pytest.raises(error, match=match):
        call(torch.signal.windows)
    with pytest.raises(error, match=match):
        call(ndgrad.signal.windows)


TOP_LEVEL = [("hann_window", ()), ("hamming_window", ()), ("hamming_window", (0.6, 0.3)),
             ("blackman_window", ()), ("bartlett_window", ()), ("kaiser_window", ()),
             ("kaiser_window", (3.0,)), ("kaiser_window", (-2.0,))]


@pytest.mark.parametrize("dtype", DTYPES + ["float16"])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("N", LENGTHS)
@pytest.mark.parametrize("name,params", TOP_LEVEL, ids=[f"{n}{p}" for n, p in TOP_LEVEL])
def test_top_level_windows(name, params, N, periodic, dtype):
    n, t = _pair(name, N, periodic, *params, ns="", dtype=dtype)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else {}
    assert_close(n, t, getattr(np, dtype), f"{name}({N}, {periodic}, {params})", **tol)


def test_top_level_defaults_and_errors():
    for name in ("hann_window", "hamming_window", "blackman_window", "bartlett_window",
                 "kaiser_window"):
        n, t = _pair(name, 7, ns="")
        assert_close(n, t, np.float32, name)
        for call, match in [(lambda lib: getattr(lib, name)(-1),  # noqa: B023
                             "requires non-negative window_length"),
                            (lambda lib: getattr(lib, name)(3, dtype=lib.int64),  # noqa: B023
                             "expects floating point dtypes")]:
            with pytest.raises(RuntimeError, match=match):
                call(torch)
            with pytest.raises(RuntimeError, match=match):
                call(ndgrad)


def test_windows_feed_stft():
    """A window made by ndgrad drives ndgrad.stft as torch's drives torch.stft."""
    x = np.random.default_rng(0).standard_normal(64)
    n = ndgrad.stft(ndgrad.tensor(x), 16, window=ndgrad.hann_window(16, dtype=ndgrad.float64),
                    return_complex=True)
    t = torch.stft(torch.tensor(x), 16, window=torch.hann_window(16, dtype=torch.float64),
                   return_complex=True)
    np.testing.assert_allclose(n.numpy(), t.numpy(), rtol=1e-9, atol=1e-9)
