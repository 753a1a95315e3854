"""ndgrad.autograd.profiler: the CPU profiler's recorder, its events and tables, as PyTorch's
``torch.autograd.profiler`` (the older API: ``with profile() as prof: ...``, then
``prof.key_averages().table(...)``). ``ndgrad.profiler`` builds torch.profiler's API on it.

While a profiler records, ``ndgrad.autograd.function.profiling`` and
``ndgrad.autograd.engine.profiling`` are True: every op (``Function.apply``, through the op
interceptor ``_profile_op``) and every backward node the engine runs goes through the hooks
below, which time it as an event (start and end from ``time.perf_counter_ns``, the thread, the
input shapes, and the event open on that thread when it started: its parent). When no profiler
records, the library pays one flag check per op and per node, and nothing else.

Times are reported in microseconds, as torch does. Each event's self time is its total minus the
totals of the events nested directly in it (on its thread).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ndgrad.autograd import engine, function

__all__ = ["profile", "record_function", "EventList", "FunctionEvent", "FunctionEventAvg"]


# -- recording ------------------------------------------------------------------------------------
class _Event:
    """One timed interval, as recorded (nanoseconds); turned into a FunctionEvent at the end."""

    __slots__ = ("name", "cat", "tid", "shapes", "parent", "start", "end")

    def __init__(self, name: str, cat: str, tid: int, shapes: list[Any] | None,
                 parent: _Event | None) -> None:
        self.name = name
        self.cat = cat
        self.tid = tid
        self.shapes = shapes
        self.parent = parent
        self.start = 0
        self.end: int | None = None


def _shape(a: Any) -> list[int]:
    """An input's shape as torch's record_shapes shows it: [] for what is not a tensor."""
    if isinstance(a, function.Tensor):
        return list(a._data.shape)
    if isinstance(a, np.ndarray):
        return list(a.shape)
    return []


class _Recorder:
    """The events of one recording session, and the stack of open events of each thread."""

    def __init__(self, record_shapes: bool) -> None:
        self.record_shapes = record_shapes
        self.events: list[_Event] = []
        self.stacks: dict[int, list[_Event]] = {}
        self.stop_ns: int | None = None

    def begin(self, name: str, cat: str, inputs: Iterable[Any]) -> _Event:
        tid = threading.get_native_id()
        stack = self.stacks.get(tid)
        if stack is None:
            stack = self.stacks[tid] = []
        ev = _Event(name, cat, tid, [_shape(a) for a in inputs] if self.record_shapes else None,
                    stack[-1] if stack else None)
        stack.append(ev)
        self.events.append(ev)
        ev.start = time.perf_counter_ns()
        return ev

    def end(self, ev: _Event) -> None:
        ev.end = time.perf_counter_ns()
        stack = self.stacks.get(ev.tid)
        if stack:
            if stack[-1] is ev:
                stack.pop()
            elif ev in stack:  # closed out of order (a record_function left open)
                stack.remove(ev)


_active: _Recorder | None = None  # the recorder the hooks write to


def _profile_op(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any],
                run: Callable[..., Any]) -> Any:
    """The profiler's op interceptor (``function.set_interceptor``): run one op
    (``Function.apply``) as a timed event."""
    rec = _active
    if rec is None:  # another thread is stopping the profiler
        return run(cls, args, kwargs)
    ev = rec.begin(cls.__name__, "cpu_op", args)
    try:
        return run(cls, args, kwargs)
    finally:
        rec.end(ev)


def _profile_node(node: Any, grads: list[Any], create_graph: bool) -> Any:
    """engine._profile_node: run one node's backward as a timed event, named ``node.name()``."""
    rec = _active
    if rec is None:
        return engine._call_backward(node, grads, create_graph)
    ev = rec.begin(node.name(), "cpu_op", grads)
    try:
        return engine._call_backward(node, grads, create_graph)
    finally:
        rec.end(ev)


def _enable(rec: _Recorder) -> None:
    global _active
    if _active is not None:
        raise RuntimeError("Profiler is already enabled: ndgrad records one profile at a time")
    _active = rec
    engine._profile_node = _profile_node
    function.set_interceptor("profiler", _profile_op)
    function.profiling = engine.profiling = True


def _disable(rec: _Recorder) -> None:
    global _active
    if _active is rec:
        function.set_interceptor("profiler", None)
        function.profiling = engine.profiling = False
        _active = None
    rec.stop_ns = time.perf_counter_ns()


class record_function:  # noqa: N801 - torch's name
    """Label a block (``with record_function("name"):``) or a function (as a decorator): it
    shows as one event, whose total covers the ops run inside. Does nothing when no profiler
    records."""

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name = name
        self.args = args
        self._rec: _Recorder | None = None
        self._event: _Event | None = None

    def __enter__(self) -> record_function:
        rec = _active
        if rec is not None:
            self._rec = rec
            self._event = rec.begin(self.name, "user_annotation", ())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._event is not None:
            self._rec.end(self._event)  # type: ignore[union-attr]
            self._event = self._rec = None

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with record_function(self.name, self.args):  # one per call: calls may nest
                return fn(*args, **kwargs)
        return wrapper


# -- events and their summaries -------------------------------------------------------------------
class FunctionEvent:
    """One recorded event (an op, a backward node, or a record_function block); times in us."""

    count = 1
    device_time_total = self_device_time_total = 0.0
    cuda_time_total = self_cuda_time_total = 0.0
    cpu_memory_usage = self_cpu_memory_usage = 0
    device_memory_usage = self_device_memory_usage = 0
    flops = 0
    node_id = -1
    is_legacy = False
    is_async = False
    use_device = None
    stack: list[str] = []
    overload_name = ""

    def __init__(self, id: int, name: str, thread: int, start_ns: int, end_ns: int,
                 input_shapes: list[Any] | None, category: str) -> None:
        self.id = id
        # torch's names: the steps of a schedule, ProfilerStep#N, add up as ProfilerStep*
        self.trace_name = name
        self.name = "ProfilerStep*" if name.startswith("ProfilerStep#") else name
        self.thread = thread
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.input_shapes = input_shapes
        self.category = category
        self.is_user_annotation = category == "user_annotation"
        self.cpu_parent: FunctionEvent | None = None
        self.cpu_children: list[FunctionEvent] = []

    @property
    def key(self) -> str:
        return self.name

    @property
    def time_range(self) -> tuple[float, float]:
        """(start, end) in microseconds of ``time.perf_counter``'s clock."""
        return (self.start_ns / 1e3, self.end_ns / 1e3)

    @property
    def cpu_time_total(self) -> float:
        return (self.end_ns - self.start_ns) / 1e3

    cpu_time = cpu_time_total

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
                f"cpu_time_total={self.cpu_time_total:.3f}us "
                f"self_cpu_time_total={self.self_cpu_time_total:.3f}us "
                f"input_shapes={self.input_shapes}>")


class FunctionEventAvg:
    """The events of one key (name, and input shapes when grouped by them) added up."""

    device_time_total = self_device_time_total = 0.0
    cuda_time_total = self_cuda_time_total = 0.0
    cpu_memory_usage = self_cpu_memory_usage = 0
    device_memory_usage = self_device_memory_usage = 0
    flops = 0
    node_id = -1
    is_legacy = False
    use_device = None
    stack: list[str] = []
    overload_name = ""
    cpu_parent = None

    def __init__(self, key: str, input_shapes: list[Any] | None = None) -> None:
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.is_user_annotation = False

    def add(self, ev: FunctionEvent | FunctionEventAvg) -> FunctionEventAvg:
        self.count += ev.count
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total
        self.is_user_annotation = ev.is_user_annotation
        return self

    @property
    def cpu_time(self) -> float:
        """Average total time per call (us)."""
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def self_cpu_time(self) -> float:
        return self.self_cpu_time_total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}us "
                f"cpu_time={self.cpu_time_total:.3f}us count={self.count} "
                f"input_shapes={self.input_shapes}>")


def _format_time(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _percent(us: float, total: float) -> str:
    return f"{us * 100 / total:.2f}%" if total else "NaN"


class EventList(list):
    """A list of FunctionEvent or FunctionEventAvg, with torch's summaries of them."""

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_src_column_width: int = 75, max_name_column_width: int = 55,
              max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False, time_unit: str | None = None) -> str:
        """The events as torch's table: one row each, sorted by the attribute ``sort_by``
        (largest first; e.g. ``cpu_time_total``, ``self_cpu_time_total``, ``count``), at most
        ``row_limit`` rows."""
        if not self:
            return ""
        events: list[Any] = list(self)
        if sort_by is not None:
            attr = sort_by.replace("cuda", "device").replace("xpu", "device")
            events.sort(key=lambda e: getattr(e, attr), reverse=True)
        with_shapes = any(e.input_shapes for e in events)
        name_w = min(max(len(e.key) for e in events) + 4, max_name_column_width)
        headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                   "# of Calls"]
        widths = [name_w] + [12] * 6
        if with_shapes:
            headers.append("Input Shapes")
            widths.append(min(max(len(str(e.input_shapes)) for e in events) + 4,
                              max_shapes_column_width))
        row_format = "".join("{:>" + str(w) + "}  " for w in widths)
        sep = "".join("-" * w + "  " for w in widths)

        def fmt(us: float) -> str:
            unit = {"s": 1e6, "ms": 1e3, "us": 1.0}.get(time_unit or "")
            return _format_time(us) if unit is None else f"{us / unit:.3f}{time_unit}"

        total = sum(e.self_cpu_time_total for e in events)
        lines = []
        if header is not None:
            lines += ["=" * len(sep), header]
        lines += [sep, row_format.format(*headers), sep]
        n = 0
        for e in events:
            if n == row_limit:
                break
            if top_level_events_only and e.cpu_parent is not None:
                continue
            n += 1
            name = e.key
            if len(name) >= max_name_column_width - 3:
                name = name[:max_name_column_width - 3] + "..."
            row = [name, _percent(e.self_cpu_time_total, total), fmt(e.self_cpu_time_total),
                   _percent(e.cpu_time_total, total), fmt(e.cpu_time_total),
                   fmt(e.cpu_time_total / e.count if e.count else 0.0), e.count]
            if with_shapes:
                shapes = str(e.input_shapes)
                if len(shapes) >= max_shapes_column_width - 3:
                    shapes = shapes[:max_shapes_column_width - 3] + "..."
                row.append(shapes)
            lines.append(row_format.format(*row))
        lines += [sep, f"Self CPU time total: {fmt(total)}"]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.table()

    def key_averages(self, group_by_input_shapes: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """One FunctionEventAvg per name (and input shapes, if asked), in first-seen order."""
        groups: dict[Any, FunctionEventAvg] = {}
        for e in self:
            k = (e.key, str(e.input_shapes)) if group_by_input_shapes else e.key
            avg = groups.get(k)
            if avg is None:
                avg = groups[k] = FunctionEventAvg(
                    e.key, e.input_shapes if group_by_input_shapes else None)
            avg.add(e)
        return EventList(groups.values())

    def total_average(self) -> FunctionEventAvg:
        total = FunctionEventAvg("Total")
        for e in self:
            total.add(e)
        return total

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as Chrome trace JSON (chrome://tracing, Perfetto): one complete
        ("X") event each, times in microseconds."""
        pid = os.getpid()
        trace = []
        for e in self:
            if not isinstance(e, FunctionEvent):
                raise TypeError("export_chrome_trace needs events, not key_averages()")
            ev: dict[str, Any] = {"ph": "X", "cat": e.category, "name": e.trace_name,
                                  "pid": pid, "tid": e.thread, "ts": e.start_ns / 1e3,
                                  "dur": e.cpu_time_total, "args": {"Ev Idx": e.id}}
            if e.input_shapes is not None:
                ev["args"]["Input Dims"] = e.input_shapes
            trace.append(ev)
        with open(path, "w") as f:
            json.dump({"schemaVersion": 1, "displayTimeUnit": "ms", "traceEvents": trace,
                       "traceName": path}, f)


def _function_events(rec: _Recorder) -> EventList:
    """The recorded events as FunctionEvents, linked to their parents and children. Events
    still open when recording stopped end then."""
    stop = rec.stop_ns if rec.stop_ns is not None else time.perf_counter_ns()
    out: dict[_Event, FunctionEvent] = {}
    for i, ev in enumerate(rec.events):
        end = ev.end if ev.end is not None and ev.end <= stop else stop
        fe = FunctionEvent(i, ev.name, ev.tid, ev.start, end, ev.shapes, ev.cat)
        out[ev] = fe
        parent = out.get(ev.parent) if ev.parent is not None else None
        if parent is not None:
            fe.cpu_parent = parent
            parent.cpu_children.append(fe)
    return EventList(out.values())


# -- the older API: torch.autograd.profiler.profile ---------------------------------------------
class profile:  # noqa: N801 - torch's name
    """Record the ops run inside ``with profile() as prof:``; then ``prof.key_averages()``,
    ``prof.table()``, ``prof.function_events``, ``prof.export_chrome_trace(path)``.

    CPU only: the GPU, memory, stack and FLOP options are accepted and ignored."""

    def __init__(self, enabled: bool = True, *, use_cuda: bool = False, use_device: Any = None,
                 record_shapes: bool = False, with_flops: bool = False,
                 profile_memory: bool = False, with_stack: bool = False,
                 with_modules: bool = False, use_kineto: bool = False, use_cpu: bool = True,
                 experimental_config: Any = None, acc_events: bool = False,
                 custom_trace_id_callback: Any = None) -> None:
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.entered = False
        self._rec: _Recorder | None = None
        self._events: EventList | None = None

    def _start(self) -> None:
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        self._events = None
        if self.enabled:
            self._rec = _Recorder(self.record_shapes)
            _enable(self._rec)

    def _stop(self) -> None:
        if self._rec is not None:
            _disable(self._rec)
        self.entered = False

    def __enter__(self) -> profile:
        self._start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop()

    @property
    def function_events(self) -> EventList:
        if self._events is None:
            if self.entered:
                raise RuntimeError("Profiler didn't finish running")
            self._events = _function_events(self._rec) if self._rec is not None else EventList()
        return self._events

    def events(self) -> EventList:
        return self.function_events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        return self.function_events.key_averages(group_by_input_shape, group_by_stack_n,
                                                 group_by_overload_name)

    def table(self, sort_by: str | None = None, row_limit: int = 100, **kwargs: Any) -> str:
        return self.function_events.table(sort_by=sort_by, row_limit=row_limit, **kwargs)

    def total_average(self) -> FunctionEventAvg:
        return self.function_events.total_average()

    @property
    def self_cpu_time_total(self) -> float:
        return self.function_events.self_cpu_time_total

    def export_chrome_trace(self, path: str) -> None:
        self.function_events.export_chrome_trace(path)

    def __str__(self) -> str:
        return self.table()
