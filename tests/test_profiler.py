"""ndgrad.profiler (and ndgrad.autograd.profiler) against torch.profiler's API and behaviour."""

from __future__ import annotations

import json
import threading
import warnings

import numpy as np
import pytest
import torch
import torch.profiler

import ndgrad
import ndgrad.autograd.profiler as autograd_profiler
from ndgrad.autograd import engine, function
from ndgrad.profiler import ProfilerActivity, profile, record_function, schedule


def mlp():
    ndgrad.manual_seed(0)
    return ndgrad.nn.Sequential(ndgrad.nn.Linear(4, 8), ndgrad.nn.ReLU(), ndgrad.nn.Linear(8, 2))


def profiled_mlp(**kwargs):
    model, x = mlp(), ndgrad.randn(3, 4)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], profile_memory=True,
                 with_stack=True, with_flops=True, **kwargs) as prof:
        with record_function("model_inference"):
            model(x).sum().backward()
    return prof


def counts(prof):
    return {e.key: e.count for e in prof.key_averages()}


def rows(table):
    """The data rows of a table: the lines between the header's separator and the last one."""
    lines = table.splitlines()
    seps = [i for i, line in enumerate(lines) if set(line.strip()) == {"-", " "}]
    return [line.split() for line in lines[seps[1] + 1:seps[2]]]


def test_mlp_events_counts_and_nesting():
    prof = profiled_mlp()
    assert counts(prof) == {"model_inference": 1, "Linear": 2, "Relu": 1, "Sum": 1,
                            "SumBackward": 1, "ExpandCopy": 1, "LinearBackward": 2,
                            "ReluBackward": 1, "PiecewiseGrad": 1}
    events = prof.events()
    top = [e for e in events if e.cpu_parent is None]
    assert [e.name for e in top] == ["model_inference"]
    root = top[0]
    start, end = root.time_range
    for e in events:
        assert e.self_cpu_time_total <= e.cpu_time_total
        assert e.self_cpu_time_total >= 0
        assert e.self_cpu_time_total == pytest.approx(
            e.cpu_time_total - sum(c.cpu_time_total for c in e.cpu_children))
        assert start <= e.time_range[0] <= e.time_range[1] <= end
        assert e.thread == root.thread
    # record_function's total covers its ops; ops inside backward nodes are their children
    assert root.cpu_time_total >= sum(c.cpu_time_total for c in root.cpu_children)
    assert {c.name for c in root.cpu_children} == {"Linear", "Relu", "Sum", "SumBackward",
                                                   "LinearBackward", "ReluBackward"}
    relu_bw = next(e for e in events if e.name == "ReluBackward")
    assert [c.name for c in relu_bw.cpu_children] == ["PiecewiseGrad"]
    avg = {e.key: e for e in prof.key_averages()}
    linear = [e for e in events if e.name == "Linear"]
    assert avg["Linear"].cpu_time_total == pytest.approx(sum(e.cpu_time_total for e in linear))
    assert avg["Linear"].cpu_time == pytest.approx(avg["Linear"].cpu_time_total / 2)
    assert avg["model_inference"].cpu_time_total == pytest.approx(root.cpu_time_total)


def test_known_graph_counts():
    a, b, c = (ndgrad.randn(2, 2, requires_grad=True) for _ in range(3))
    with profile() as prof:
        (a * b + c).relu().sum().backward()
    n = counts(prof)
    for name in ["Mul", "Add", "Relu", "Sum", "MulBackward", "AddBackward", "ReluBackward",
                 "SumBackward"]:
        assert n[name] == 1, name


def test_gradients_unchanged_under_profiling():
    def grads(create_graph):
        model, x = mlp(), ndgrad.randn(3, 4, generator=ndgrad.Generator().manual_seed(1))
        x.requires_grad_()
        (g,) = ndgrad.autograd.grad(model(x).pow(2).sum(), x, create_graph=create_graph)
        if create_graph:
            g.sum().backward()
        return [g.detach().numpy()] + [p.grad.numpy() for p in model.parameters()
                                       if p.grad is not None]

    for create_graph in (False, True):
        plain = grads(create_graph)
        with profile() as prof:
            profiled = grads(create_graph)
        for u, v in zip(plain, profiled, strict=True):
            np.testing.assert_array_equal(u, v)
        assert counts(prof)["LinearBackward"] >= 2


def test_table():
    prof = profiled_mlp()
    ka = prof.key_averages()
    text = ka.table(sort_by="cpu_time_total", row_limit=10)
    header = text.splitlines()[1]
    for col in ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                "# of Calls"]:
        assert col in header
    assert "Input Shapes" not in header
    assert "Self CPU time total:" in text.splitlines()[-1]
    body = rows(text)
    assert len(body) == len(ka) < 10
    assert body[0][0] == "model_inference" and body[0][3] == "100.00%"
    for sort_by in ["cpu_time_total", "self_cpu_time_total", "count", "cpu_time"]:
        limited = rows(ka.table(sort_by=sort_by, row_limit=3))
        assert len(limited) == 3
        ordered = sorted(ka, key=lambda e, s=sort_by: getattr(e, s), reverse=True)
        assert [r[0] for r in limited] == [e.key for e in ordered[:3]]
    # the columns torch's table has, with the same spacing rules
    t = torch.nn.Linear(2, 2)
    with torch.profiler.profile() as tprof:
        t(torch.ones(1, 2))
    theader = tprof.key_averages().table(row_limit=1).splitlines()[1]
    assert theader.split("  ")[-8:] == header.split("  ")[-8:]
    with pytest.raises(AttributeError):
        ka.table(sort_by="no_such_column")


def test_group_by_input_shape():
    prof = profiled_mlp(record_shapes=True)
    grouped = prof.key_averages(group_by_input_shape=True)
    linear = [e for e in grouped if e.key == "Linear"]
    assert sorted(map(str, (e.input_shapes for e in linear))) == [
        "[[3, 4], [8, 4], [8]]", "[[3, 8], [2, 8], [2]]"]
    assert all(e.count == 1 for e in linear)
    text = grouped.table(sort_by="cpu_time_total", row_limit=20)
    assert "Input Shapes" in text.splitlines()[1]
    assert "[[3, 4], [8, 4], [8]]" in text
    assert len(rows(text)) == len(grouped)
    assert [e.count for e in prof.key_averages() if e.key == "Linear"] == [2]
    without = profiled_mlp().key_averages(group_by_input_shape=True)
    assert all(e.input_shapes is None for e in without)


def test_chrome_trace(tmp_path):
    prof = profiled_mlp(record_shapes=True)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [e["name"] for e in events] == [e.name for e in prof.events()]
    for te, e in zip(events, prof.events(), strict=True):
        assert te["ts"] == pytest.approx(e.time_range[0])
        assert te["dur"] == pytest.approx(e.cpu_time_total)
        assert te["tid"] == e.thread
        assert te["cat"] == ("user_annotation" if e.name == "model_inference" else "cpu_op")
    linear = next(e for e in events if e["name"] == "Linear")
    assert linear["args"]["Input Dims"] == [[3, 4], [8, 4], [8]]


def run_schedule(lib, steps, **numbers):
    """Run ``steps`` steps under the schedule; return what each on_trace_ready call saw."""
    calls = []

    def ready(p):
        steps_seen = sorted(e.trace_name for e in p.events()
                            if e.name == "ProfilerStep*")
        calls.append((p.step_num, steps_seen))

    a = lib.ones(2, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = lib.profiler.schedule(**numbers)
        with lib.profiler.profile(schedule=sched, on_trace_ready=ready) as p:
            for _ in range(steps):
                (a * 2).sum().backward()
                p.step()
    return calls, p.step_num


@pytest.mark.parametrize("steps,numbers", [
    (10, dict(wait=1, warmup=1, active=2, repeat=2)),
    (9, dict(wait=0, warmup=1, active=1, skip_first=2)),
    (7, dict(wait=2, warmup=0, active=3)),
    (5, dict(wait=1, warmup=1, active=2, repeat=1, skip_first=1, skip_first_wait=1)),
    (3, dict(wait=1, warmup=1, active=3)),  # ends inside an active cycle: one call at exit
])
def test_schedule_as_torch(steps, numbers):
    got = run_schedule(ndgrad, steps, **numbers)
    assert got == run_schedule(torch, steps, **numbers)
    assert got[0]  # on_trace_ready was called


def test_schedule_actions():
    fn = schedule(wait=1, warmup=1, active=2, repeat=1, skip_first=1)
    tfn = torch.profiler.schedule(wait=1, warmup=1, active=2, repeat=1, skip_first=1)
    assert [fn(i).name for i in range(8)] == [tfn(i).name for i in range(8)]
    with pytest.raises(AssertionError):
        schedule(wait=0, warmup=0, active=0)
    with pytest.warns(UserWarning, match="warmup"):
        schedule(wait=0, warmup=0, active=1)


def test_start_stop_step_and_nothing_outside():
    a = ndgrad.ones(2, requires_grad=True)
    (a * 2).sum().backward()  # before: not recorded
    prof = profile()
    prof.start()
    assert function.profiling and engine.profiling
    (a * 3).sum().backward()
    prof.step()  # no schedule: keeps recording
    (a + 1).sum()
    prof.stop()
    assert not function.profiling and not engine.profiling
    (a - 1).exp().sum().backward()  # after: not recorded
    with record_function("outside"):
        a * 4
    names = [e.name for e in prof.events()]
    assert "Sub" not in names and "Exp" not in names and "outside" not in names
    assert counts(prof)["Mul"] == 1 and counts(prof)["Add"] == 1
    # an exception inside the block stops the profiler too
    with pytest.raises(ValueError), profile():
        raise ValueError
    assert not function.profiling and not engine.profiling
    # one profiler at a time
    with profile(), pytest.raises(RuntimeError, match="already enabled"), profile():
        pass
    assert not function.profiling


def test_record_function_decorator_and_threads():
    @record_function("block")
    def block(x):
        return (x * 2).relu()

    x = ndgrad.ones(3)
    block(x)  # not profiling: a plain call
    with profile() as prof:
        block(x)
        block(x)
        t = threading.Thread(target=lambda: x + 1)
        t.start()
        t.join()
    assert block.__name__ == "block"
    events = prof.events()
    blocks = [e for e in events if e.name == "block"]
    assert len(blocks) == 2
    for b in blocks:
        assert [c.name for c in b.cpu_children] == ["Mul", "Relu"]
    add = next(e for e in events if e.name == "Add")
    assert add.thread != blocks[0].thread and add.cpu_parent is None


def test_autograd_profiler_alias():
    assert ndgrad.autograd.profiler.record_function is record_function
    model, x = mlp(), ndgrad.randn(3, 4)
    with autograd_profiler.profile(record_shapes=True) as prof:
        with ndgrad.autograd.profiler.record_function("fwd"):
            y = model(x)
        y.sum().backward()
    n = {e.key: e.count for e in prof.key_averages()}
    assert n["fwd"] == 1 and n["Linear"] == 2 and n["LinearBackward"] == 2
    text = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)
    assert len(rows(text)) == 5
    assert prof.self_cpu_time_total == pytest.approx(
        sum(e.self_cpu_time_total for e in prof.function_events))
    with autograd_profiler.profile(enabled=False) as off:
        model(x)
    assert len(off.function_events) == 0
    assert ndgrad.profiler.profile is profile  # reachable after a bare ``import ndgrad``


def test_tensorboard_trace_handler(tmp_path):
    handler = ndgrad.profiler.tensorboard_trace_handler(str(tmp_path / "log"), "worker0")
    with profile(schedule=schedule(wait=0, warmup=1, active=1, repeat=2),
                 on_trace_ready=handler) as prof:
        for _ in range(5):
            ndgrad.ones(2) * 2
            prof.step()
    files = sorted((tmp_path / "log").iterdir())
    assert len(files) == 2 and all(f.name.startswith("worker0.") for f in files)
    assert "Mul" in {e["name"] for e in json.loads(files[0].read_text())["traceEvents"]}
