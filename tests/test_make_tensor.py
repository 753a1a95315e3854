"""ndgrad.testing.make_tensor and assert_allclose against torch.testing's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.testing

import ndgrad
import ndgrad.testing

LIBS = [torch, ndgrad]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int16", "uint8",
                                   "int8", "bool", "complex64"])
@pytest.mark.parametrize("low, high", [(None, None), (-2, 3), (0.5, 0.75)])
def test_values_stay_in_range_as_torch(dtype, low, high):
    for lib in LIBS:
        d = getattr(lib, dtype)
        if dtype[0] in "biu" and (low, high) == (0.5, 0.75):
            continue  # an empty interval once ceiled (torch raises too)
        t = lib.testing.make_tensor(4, 50, dtype=d, device="cpu", low=low, high=high)
        assert t.shape == (4, 50) and t.dtype == d and t.is_contiguous()
        a = t.numpy()
        parts = [a.real, a.imag] if dtype == "complex64" else [a.astype(np.float64)]
        lo = -9 if low is None else low
        hi = (10 if dtype[0] in "iu" else 9) if high is None else high
        if dtype == "uint8":
            lo = max(lo, 0)
        if dtype[0] in "iu" or dtype == "bool":
            lo, hi = np.ceil(lo), np.ceil(hi)
        if dtype == "bool":
            lo, hi = 0, 2
        for p in parts:
            assert p.min() >= lo and p.max() < hi, (lib.__name__, p.min(), p.max())


def test_options_and_errors_as_torch():
    for lib in LIBS:
        mk = lib.testing.make_tensor
        t = mk(3, 4, dtype=lib.float64, device="cpu", noncontiguous=True)
        assert t.shape == (3, 4) and not t.is_contiguous()
        assert mk((1,), dtype=lib.float32, device="cpu", noncontiguous=True).is_contiguous()
        z = mk(200, dtype=lib.float32, device="cpu", low=0, high=1e-30, exclude_zero=True)
        assert (z != 0).all()
        assert (mk(200, dtype=lib.int64, device="cpu", low=-1, high=1, exclude_zero=True)
                != 0).all()
        g = mk(2, dtype=lib.float32, device="cpu", requires_grad=True)
        assert g.requires_grad and g.is_leaf
        f32 = lib.finfo(lib.float32)
        assert mk(2, 2, dtype=lib.float32, device="cpu", low=f32.min, high=f32.max) \
            .isfinite().all()
        cl = mk(2, 3, 4, 5, dtype=lib.float32, device="cpu", memory_format=lib.channels_last)
        assert cl.is_contiguous(memory_format=lib.channels_last)
        for kwargs, words in [({"dtype": lib.int64, "requires_grad": True}, "requires_grad"),
                              ({"dtype": lib.float32, "low": 2, "high": 1}, "less than"),
                              ({"dtype": lib.float32, "low": float("nan")}, "NaN"),
                              ({"dtype": lib.uint8, "low": -5, "high": -1}, "only supports"),
                              ({"dtype": lib.float32, "noncontiguous": True,
                                "memory_format": lib.channels_last}, "mutually exclusive")]:
            with pytest.raises(ValueError, match=words):
                mk(2, device="cpu", **kwargs)


def test_assert_allclose_is_deprecated_and_compares_values():
    for lib in LIBS:
        with pytest.warns(FutureWarning, match="assert_close"):
            lib.testing.assert_allclose([1.0, float("nan")], [1.0, float("nan")])
        with pytest.warns(FutureWarning), pytest.raises(AssertionError):
            lib.testing.assert_allclose(lib.tensor([1.0]), lib.tensor([1.1]))
        with pytest.warns(FutureWarning):  # dtypes may differ
            lib.testing.assert_allclose(lib.tensor([1.0], dtype=lib.float64), [1.0])
