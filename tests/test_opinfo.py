"""The OpInfo sweep: every op of torch's op_db on ndgrad, against torch (see opinfo_runner.py).

One test per OpInfo (forward, method variant and aliases, gradient, second order) and one per
in-place variant. An op ndgrad does not pass stands in opinfo_skips.py with its reason; a
listed op that passes fails here, so that its line goes. Pass counts per namespace:
``python -m tests.opinfo_report``. Samples per op and dtype: the first 8, or
NDGRAD_OPINFO_SAMPLES=all (or a number).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad

pytest.importorskip("expecttest")  # torch's op_db imports it (the test extra has it)

import opinfo_runner as runner  # noqa: E402
from opinfo_skips import NOT_RUN, SKIPS  # noqa: E402

DB = runner.op_db()
INPLACE = {runner.inplace_key(op): op for op in DB.values() if op.inplace_variant is not None}


def _run(k: str, op: object, inplace: bool) -> None:
    reason = SKIPS.get(k)
    if reason in NOT_RUN:
        pytest.skip(reason)
    outcome, message = runner.run(op, inplace=inplace)
    if reason is None:
        assert outcome == "pass", f"{outcome}: {message}"
    elif outcome == "pass":
        pytest.fail(f"{k} passes now: remove its line from tests/opinfo_skips.py ({reason!r})")
    else:
        pytest.xfail(f"{reason}: {message.splitlines()[0] if message else outcome}")


@pytest.mark.parametrize("k", sorted(DB))
def test_op(k: str) -> None:
    _run(k, DB[k], inplace=False)


@pytest.mark.parametrize("k", sorted(INPLACE))
def test_inplace(k: str) -> None:
    _run(k, INPLACE[k], inplace=True)


def test_no_test_case_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """opinfo_runner answers the database's search for the running unittest.TestCase with
    "none" instead of walking the stack (see _skip_the_search_for_a_test_case): torch's own
    search gives that answer here, and with it the samples are the same, value for value."""
    from torch.testing._internal import common_utils
    from torch.testing._internal.opinfo import core

    assert runner.torch_extract_test_fn is not None and runner.torch_extract_test_fn() is None

    def draw() -> list[np.ndarray]:
        return [t.detach().numpy().copy()
                for k, reference in (("add", False), ("mul", True), ("sin", True))
                for s in runner.samples(DB[k], torch.float64, True, None, reference)
                for t in runner._flat([s.input, list(s.args), list(s.kwargs.values())])
                if isinstance(t, torch.Tensor)]

    shortcut = draw()
    monkeypatch.setattr(common_utils, "extract_test_fn", runner.torch_extract_test_fn)
    monkeypatch.setattr(core, "extract_test_fn", runner.torch_extract_test_fn)
    searched = draw()
    assert len(shortcut) == len(searched) > 100
    for a, b in zip(shortcut, searched):
        np.testing.assert_array_equal(a, b)


def test_skip_table() -> None:
    """Sorted, one line per key, every key an op (or in-place variant) of the database."""
    keys = list(SKIPS)
    assert keys == sorted(keys), "tests/opinfo_skips.py: keep SKIPS sorted"
    unknown = set(keys) - set(DB) - set(INPLACE)
    assert not unknown, f"skip-table keys op_db does not have: {sorted(unknown)}"


# -- the sweep can fail ----------------------------------------------------------------------------
def test_sweep_catches_a_wrong_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ndgrad, "sin", ndgrad.cos)
    with pytest.raises(runner.OpError, match="values differ"):
        runner.check_op(DB["sin"], torch.float64)


def test_sweep_catches_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    class Sin(ndgrad.autograd.Function):  # a gradient 1% too large
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x)
            return x.detach().sin()

        @staticmethod
        def backward(ctx, grad):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_tensors
            return grad * x.cos() * 1.01

    monkeypatch.setattr(ndgrad, "sin", Sin.apply)
    with pytest.raises(runner.OpError, match="gradient of input 0"):
        runner.check_op(DB["sin"], torch.float64)


def test_sweep_catches_a_missing_second_order(monkeypatch: pytest.MonkeyPatch) -> None:
    class Exp(ndgrad.autograd.Function):  # right first derivative, made of constants
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x)
            return ndgrad.tensor(np.exp(x.detach().numpy()))

        @staticmethod
        def backward(ctx, grad):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_tensors
            return grad * ndgrad.tensor(np.exp(x.detach().numpy()))

    monkeypatch.setattr(ndgrad, "exp", Exp.apply)
    with pytest.raises(runner.OpError, match="second"):
        runner.check_op(DB["exp"], torch.float64)


def test_sweep_catches_a_wrong_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ndgrad, "sin", lambda x: x.double().sin())
    with pytest.raises(runner.OpError, match="dtype"):
        runner.check_op(DB["sin"], torch.float32)


def test_sweep_catches_a_wrong_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ndgrad, "randn", lambda *a, **k: ndgrad.rand(*a, **k) * 3.4 - 1.7)
    with pytest.raises(runner.OpError, match="distribution"):
        runner.check_op(DB["randn"], torch.float64)


def test_sweep_catches_a_wrong_gauge_invariant_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # eigenvectors are compared through |V| (their sign is free), which still sees a wrong one
    eigh = ndgrad.linalg.eigh

    def rolled(A, UPLO="L"):  # type: ignore[no-untyped-def]
        w, v = eigh(A, UPLO)
        return w, v.roll(1, -1)

    monkeypatch.setattr(ndgrad.linalg, "eigh", rolled)
    with pytest.raises(runner.OpError, match="gauge-invariant"):
        runner.check_op(DB["linalg.eigh"], torch.float64)
    monkeypatch.setattr(ndgrad.linalg, "eigh", lambda A, UPLO="L": (eigh(A, UPLO)[0],
                                                                     -eigh(A, UPLO)[1]))
    assert runner.check_op(DB["linalg.eigh"], torch.float64) > 0  # a flipped sign is fine


def test_sweep_reports_a_missing_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(ndgrad, "sin")
    assert runner.run(DB["sin"])[0] == "missing"
