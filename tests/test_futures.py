"""ndgrad.futures.Future and jit.fork/wait against torch.futures: the same calls give the same
values, errors and callback order."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch

import ndgrad


@pytest.fixture(params=["torch", "ndgrad"])
def lib(request: pytest.FixtureRequest) -> Any:
    return torch if request.param == "torch" else ndgrad


def test_set_result_wait_value_done(lib: Any) -> None:
    f = lib.futures.Future()
    assert not f.done()
    with pytest.raises(RuntimeError):
        f.value()
    f.set_result(3)
    assert f.done() and f.wait() == 3 and f.value() == 3
    with pytest.raises(RuntimeError, match="can only be marked completed once"):
        f.set_result(4)


def test_then_chains_and_runs_callbacks_in_order(lib: Any) -> None:
    seen: list[str] = []
    f = lib.futures.Future()
    g = f.then(lambda x: seen.append("then") or x.value() + 1)
    f.add_done_callback(lambda x: seen.append("callback"))
    assert not g.done()
    f.set_result(1)
    assert g.wait() == 2 and seen == ["then", "callback"]
    h = f.then(lambda x: x.value() * 10)  # on a completed future: runs now
    assert h.done() and h.value() == 10
    late: list[int] = []
    f.add_done_callback(lambda x: late.append(x.value()))
    assert late == [1]


def test_errors_reach_wait_and_chained_futures(lib: Any) -> None:
    h = lib.futures.Future()
    h.set_exception(ValueError("bad"))
    with pytest.raises(ValueError, match="bad"):
        h.wait()
    with pytest.raises(ValueError, match="bad"):
        h.value()
    k = h.then(lambda x: x.value())
    with pytest.raises(RuntimeError, match="error when running the callback: ValueError: bad"):
        k.wait()
    ok = lib.futures.Future()
    ok.set_result(1)
    m = ok.then(lambda x: 1 / 0)
    with pytest.raises(RuntimeError, match="ZeroDivisionError: division by zero"):
        m.wait()


def test_collect_all_and_wait_all(lib: Any) -> None:
    a, b = lib.futures.Future(), lib.futures.Future()
    c = lib.futures.collect_all([a, b])
    assert not c.done()
    a.set_result(1)
    assert not c.done()
    b.set_result(2)
    assert c.done() and [x.value() for x in c.wait()] == [1, 2]
    assert lib.futures.wait_all([a, b]) == [1, 2]
    assert lib.futures.collect_all([]).wait() == []


def test_wait_blocks_until_another_thread_completes(lib: Any) -> None:
    f = lib.futures.Future()
    threading.Timer(0.05, lambda: f.set_result("late")).start()
    assert f.wait() == "late"


def test_jit_fork_and_wait(lib: Any) -> None:
    fut = lib.jit.fork(lambda a, k=1: a * 2 + k, 3, k=2)
    assert lib.jit.wait(fut) == 8
    t = lib.jit.wait(lib.jit.fork(lib.add, lib.ones(2), 1))
    assert t.tolist() == [2.0, 2.0]


def test_future_as_a_type_annotation() -> None:
    assert ndgrad.futures.Future[ndgrad.Tensor] == ndgrad.futures.Future[ndgrad.Tensor]
