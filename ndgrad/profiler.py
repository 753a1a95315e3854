"""ndgrad.profiler: a CPU profiler with torch.profiler's API.

    from ndgrad.profiler import profile, record_function, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("model_inference"):
            model(inputs).sum().backward()
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
    prof.export_chrome_trace("trace.json")

Every op's forward (named as its Function class, e.g. ``Linear``) and every backward node
(named as ``node.name()`` gives it, e.g. ``LinearBackward``) is an event; see
``ndgrad/autograd/profiler.py`` for how they are recorded. With a ``schedule``, ``prof.step()``
marks each step and ``on_trace_ready(prof)`` runs at the end of each active cycle, as in torch.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from ndgrad.autograd import profiler as autograd_profiler
from ndgrad.autograd.profiler import EventList, record_function

__all__ = ["profile", "record_function", "ProfilerActivity", "ProfilerAction", "schedule",
           "tensorboard_trace_handler", "supported_activities", "EventList"]


class ProfilerActivity(Enum):
    """What to profile: ndgrad has only the CPU; the others are accepted and ignored."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


class ProfilerAction(Enum):
    """What the profiler does at a step, as a schedule returns it."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def supported_activities() -> set[ProfilerActivity]:
    return {ProfilerActivity.CPU}


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0) -> Callable[[int], ProfilerAction]:
    """torch.profiler.schedule: skip ``skip_first`` steps, then cycles of ``wait`` idle steps,
    ``warmup`` steps and ``active`` recorded steps, ``repeat`` times (0: until the end)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} "
            f"(need >= 0), active={active} (need > 0), repeat={repeat} (need >= 0), "
            f"skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results",
                      stacklevel=2)

    def schedule_fn(step: int) -> ProfilerAction:
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait != 0:
            step += wait
        num_steps = wait + warmup + active
        if repeat > 0 and step / num_steps >= repeat:
            return ProfilerAction.NONE
        mod_step = step % num_steps
        if mod_step < wait:
            return ProfilerAction.NONE
        if mod_step < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if mod_step < num_steps - 1 else \
            ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def _default_schedule_fn(_: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None,
                              use_gzip: bool = False) -> Callable[[profile], None]:
    """An ``on_trace_ready`` that writes each trace as Chrome trace JSON into ``dir_name``
    (``{worker_name}.{time in ms}.pt.trace.json``), the files torch's handler writes."""
    if use_gzip:
        raise NotImplementedError("ndgrad's tensorboard_trace_handler does not gzip")

    def handler(prof: profile) -> None:
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        ms = time.time_ns() // 1_000_000
        while os.path.exists(path := os.path.join(dir_name, f"{name}.{ms}.pt.trace.json")):
            ms += 1  # two traces in the same millisecond
        prof.export_chrome_trace(path)

    return handler


class profile:  # noqa: N801 - torch's name
    """torch.profiler.profile for ndgrad's CPU ops: a context manager (or ``start()`` and
    ``stop()``) that records every op, backward node and ``record_function`` block.

    ``activities``, ``profile_memory``, ``with_stack``, ``with_flops``, ``with_modules``,
    ``experimental_config`` and the other GPU or tracing options are accepted and ignored.
    With a ``schedule``, call ``prof.step()`` at the end of each step: the profiler records the
    steps the schedule makes active (each one inside a ``ProfilerStep#N`` event) and calls
    ``on_trace_ready(prof)`` at the end of each active cycle, as torch does.
    """

    def __init__(self, *, activities: Iterable[Any] | None = None,
                 schedule: Callable[[int], ProfilerAction] | None = None,
                 on_trace_ready: Callable[..., Any] | None = None, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False,
                 with_flops: bool = False, with_modules: bool = False,
                 experimental_config: Any = None, execution_trace_observer: Any = None,
                 acc_events: bool = False, use_cuda: bool | None = None,
                 custom_trace_id_callback: Any = None,
                 post_processing_timeout_s: float | None = None) -> None:
        self.activities = set(activities) if activities is not None else supported_activities()
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.experimental_config = experimental_config
        self.record_steps = schedule is not None
        self.schedule: Callable[[int], ProfilerAction] = schedule or _default_schedule_fn
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self.step_rec_fn: record_function | None = None
        self.current_action = self.schedule(self.step_num)
        # the profiler of the current (or last) recording: torch.autograd.profiler's profile
        self.profiler: autograd_profiler.profile | None = None
        A = ProfilerAction  # noqa: N806
        prep, start, stop, ready = (self.prepare_trace, self.start_trace, self.stop_trace,
                                    self._trace_ready)

        def warn(msg: str) -> Callable[[], None]:
            return lambda: warnings.warn(msg, stacklevel=3)

        # (previous action, current action) -> what to do, as torch's profiler does; None is
        # the profiler's exit
        self.action_map: dict[tuple[ProfilerAction, ProfilerAction | None],
                              list[Callable[[], Any]]] = {
            (A.NONE, A.NONE): [],
            (A.NONE, A.WARMUP): [prep],
            (A.NONE, A.RECORD): [prep, start],
            (A.NONE, A.RECORD_AND_SAVE): [prep, start],
            (A.WARMUP, A.NONE): [warn("Incorrect schedule: WARMUP followed by NONE"), start,
                                 stop],
            (A.WARMUP, A.WARMUP): [],
            (A.WARMUP, A.RECORD): [start],
            (A.WARMUP, A.RECORD_AND_SAVE): [start],
            (A.RECORD, A.NONE): [warn("Incorrect schedule: RECORD followed by NONE"), stop],
            (A.RECORD, A.WARMUP): [warn("Incorrect schedule: RECORD followed by WARMUP"),
                                   stop],
            (A.RECORD, A.RECORD): [],
            (A.RECORD, A.RECORD_AND_SAVE): [],
            (A.RECORD_AND_SAVE, A.NONE): [stop, ready],
            (A.RECORD_AND_SAVE, A.WARMUP): [stop, ready, prep],
            (A.RECORD_AND_SAVE, A.RECORD): [stop, ready, prep, start],
            (A.RECORD_AND_SAVE, A.RECORD_AND_SAVE): [stop, ready, prep, start],
            (A.WARMUP, None): [start, stop],
            (A.RECORD, None): [stop, ready],
            (A.RECORD_AND_SAVE, None): [stop, ready],
        }

    # -- the recording itself ------------------------------------------------------------------
    def prepare_trace(self) -> None:
        self.profiler = autograd_profiler.profile(record_shapes=self.record_shapes)

    def start_trace(self) -> None:
        assert self.profiler is not None
        self.profiler._start()

    def stop_trace(self) -> None:
        if self.profiler is not None and self.profiler.entered:
            self.profiler._stop()

    def _trace_ready(self) -> None:
        if self.on_trace_ready:
            self.on_trace_ready(self)

    def _transit_action(self, prev: ProfilerAction, cur: ProfilerAction | None) -> None:
        for action in self.action_map.get((prev, cur), []):
            action()

    # -- the user's side -----------------------------------------------------------------------
    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._transit_action(ProfilerAction.NONE, self.current_action)
        if self.record_steps:
            self.step_rec_fn = record_function(f"ProfilerStep#{self.step_num}")
            self.step_rec_fn.__enter__()

    def stop(self) -> None:
        if self.record_steps and self.step_rec_fn:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None
        self._transit_action(self.current_action, None)

    def step(self) -> None:
        """The current step has ended: move to the next one as the schedule says."""
        if self.record_steps and self.step_rec_fn:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None
        prev_action = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit_action(prev_action, self.current_action)
        if self.record_steps:
            self.step_rec_fn = record_function(f"ProfilerStep#{self.step_num}")
            self.step_rec_fn.__enter__()

    # -- results -------------------------------------------------------------------------------
    def _results(self) -> autograd_profiler.profile:
        if self.profiler is None:
            raise RuntimeError("the profiler has recorded nothing yet")
        return self.profiler

    def events(self) -> EventList:
        """Every event of the last recording, in the order they started."""
        return self._results().function_events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """The events added up by name (and by input shapes if ``group_by_input_shape``):
        ``.table(sort_by=..., row_limit=...)`` prints them."""
        return self._results().key_averages(group_by_input_shape, group_by_stack_n,
                                            group_by_overload_name)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as Chrome trace JSON (chrome://tracing or https://ui.perfetto.dev)."""
        self._results().export_chrome_trace(path)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        raise NotImplementedError("ndgrad's profiler does not record stacks")

