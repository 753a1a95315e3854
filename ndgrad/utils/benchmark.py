"""ndgrad.utils.benchmark: torch.utils.benchmark's Timer, Measurement and Compare, for timing
snippets of code the way PyTorch users do::

    t = Timer("x @ y", setup="x = ndgrad.randn(64, 64); y = ndgrad.randn(64, 64)",
              globals={"ndgrad": ndgrad}, label="matmul", description="ndgrad")
    m = t.blocked_autorange()        # repeats until min_run_time has passed
    print(m)                          # median, IQR, runs; m.median in seconds

Built on Python's ``timeit`` (the same clock, ``time.perf_counter``). ``num_threads`` sets
ndgrad's threads (``ndgrad.set_num_threads``) while the statement runs (1 by default, as in
torch, so that results do not depend on the machine's load). Only Python statements: torch's
C++ mode and Callgrind counts are not available.
"""

from __future__ import annotations

import math
import statistics
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Compare", "Measurement", "TaskSpec", "Timer", "select_unit", "trim_sigfig"]

_UNIT_NAMES = {"ns": "nanoseconds", "us": "microseconds", "ms": "milliseconds", "s": "seconds"}


def select_unit(t: float) -> tuple[str, float]:
    """The unit ("ns", "us", "ms" or "s") to print ``t`` seconds in, and its size."""
    time_unit = {-3: "ns", -2: "us", -1: "ms"}.get(int(math.log10(t) // 3) if t > 0 else -3, "s")
    return time_unit, {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[time_unit]


def trim_sigfig(x: float, n: int) -> float:
    """``x`` rounded to ``n`` significant figures."""
    if x == 0:
        return 0.0
    magnitude = int(math.ceil(math.log10(abs(x))))
    scale = 10 ** (magnitude - n)
    return float(round(x / scale) * scale)


@dataclass(frozen=True)
class TaskSpec:
    """What was timed, and how it is named in printouts."""

    stmt: str
    setup: str
    global_setup: str = ""
    label: str | None = None
    sub_label: str | None = None
    description: str | None = None
    env: str | None = None
    num_threads: int = 1

    @property
    def title(self) -> str:
        """``label: sub_label`` (or the statement when there is no label)."""
        if self.label is not None:
            return self.label + (f": {self.sub_label}" if self.sub_label else "")
        return f"stmt: {self.stmt}" if "\n" not in self.stmt else "stmt: (multiline)"


class Measurement:
    """Times of one statement: ``raw_times`` per block of ``number_per_run`` runs, ``times``
    per run (seconds), with ``mean``, ``median`` and ``iqr``."""

    def __init__(self, number_per_run: int, raw_times: list[float], task_spec: TaskSpec,
                 metadata: dict[Any, Any] | None = None) -> None:
        self.number_per_run = number_per_run
        self.raw_times = list(raw_times)
        self.task_spec = task_spec
        self.metadata = metadata

    @property
    def times(self) -> list[float]:
        return [t / self.number_per_run for t in self.raw_times]

    @property
    def median(self) -> float:
        return float(statistics.median(self.times))

    @property
    def mean(self) -> float:
        return float(statistics.fmean(self.times))

    @property
    def iqr(self) -> float:
        if len(self.times) < 2:
            return 0.0
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return float(q[2] - q[0])

    @property
    def significant_figures(self) -> int:
        """How many digits of the median are trustworthy, from the spread of the times
        (torch's rule: a 99% confidence interval of the median, as a relative width)."""
        n = len(self.times)
        if n < 2:
            return 1
        spread = statistics.stdev(self.times) / math.sqrt(n) * 2.576
        relative = spread / self.median if self.median else 1.0
        return max(1, min(int(-math.floor(math.log10(relative))) if relative > 0 else 4, 4))

    @property
    def title(self) -> str:
        return self.task_spec.title

    @property
    def env(self) -> str | None:
        return self.task_spec.env

    @property
    def has_warnings(self) -> bool:
        return self.iqr / self.median > 0.1 if self.median and len(self.times) >= 4 else False

    def meets_confidence(self, threshold: float = 0.1) -> bool:
        return self.iqr / self.median < threshold if self.median else False

    def __repr__(self) -> str:
        unit, scale = select_unit(self.median)
        spec = self.task_spec
        lines = [f"<{type(self).__module__}.{type(self).__name__} object at {hex(id(self))}>",
                 spec.title]
        if spec.description:
            lines.append(spec.description)
        if spec.setup != "pass":
            lines.append(f"setup: {spec.setup}")
        threads = f"{spec.num_threads} thread{'s' if spec.num_threads > 1 else ''}"
        if len(self.times) == 1:
            lines += [f"  {self.median / scale:.2f} {unit}",
                      f"  1 measurement, {self.number_per_run} runs , {threads}"]
        else:
            q = statistics.quantiles(self.times, n=4, method="inclusive")
            lines += [f"  Median: {self.median / scale:.2f} {unit}",
                      f"  IQR:    {self.iqr / scale:.2f} {unit} ({q[0] / scale:.2f} to "
                      f"{q[2] / scale:.2f})",
                      f"  {len(self.times)} measurements, {self.number_per_run} runs per "
                      f"measurement, {threads}"]
        return "\n".join(lines)


class Timer:
    """Times ``stmt`` after running ``setup`` once, in a namespace made of ``globals``."""

    def __init__(self, stmt: str = "pass", setup: str = "pass", global_setup: str = "",
                 timer: Callable[[], float] = time.perf_counter,
                 globals: dict[str, Any] | None = None, label: str | None = None,
                 sub_label: str | None = None, description: str | None = None,
                 env: str | None = None, num_threads: int = 1, language: Any = None) -> None:
        if language not in (None, "py", "python", "PYTHON") and str(language) != \
                "Language.PYTHON":
            raise ValueError(f"ndgrad.utils.benchmark times Python statements only, got "
                             f"language={language!r}")
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        self._task_spec = TaskSpec(stmt, setup, global_setup, label, sub_label, description,
                                   env, num_threads)
        namespace = dict(globals or {})
        if global_setup:
            exec(global_setup, namespace)  # noqa: S102 - the user's own code, as torch runs it
        self._timer = timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=namespace)

    def _run(self, number: int) -> float:
        import ndgrad
        before = ndgrad.get_num_threads()
        ndgrad.set_num_threads(self._task_spec.num_threads)
        try:
            return float(self._timer.timeit(number))
        finally:
            ndgrad.set_num_threads(before)

    def timeit(self, number: int = 1000000) -> Measurement:
        """One measurement of ``number`` runs (after one warm-up run)."""
        self._run(max(number // 100, 2))
        return Measurement(number, [self._run(number)], self._task_spec)

    def _number_for(self, block: float) -> int:
        """How many runs make a block of about ``block`` seconds."""
        number = 1
        while True:
            if self._run(number) >= block or number >= 10**9:
                return number
            number *= 10

    def blocked_autorange(self, callback: Callable[[int, float], None] | None = None,
                          min_run_time: float = 0.2) -> Measurement:
        """Blocks of runs (each block about a tenth of min_run_time, torch's 'at least
        0.2 ms') until ``min_run_time`` seconds have been measured."""
        number = self._number_for(max(min_run_time / 100, 2e-4))
        times: list[float] = []
        total = 0.0
        while total < min_run_time or not times:
            t = self._run(number)
            if callback is not None:
                callback(number, t)
            times.append(t)
            total += t
        return Measurement(number, times, self._task_spec)

    def adaptive_autorange(self, threshold: float = 0.1, *, min_run_time: float = 0.01,
                           max_run_time: float = 10.0,
                           callback: Callable[[int, float], None] | None = None
                           ) -> Measurement:
        """Blocks until the IQR is below ``threshold`` of the median (at least
        ``min_run_time``, at most ``max_run_time`` seconds)."""
        number = self._number_for(max(min_run_time / 10, 2e-4))
        times: list[float] = []
        total = 0.0
        while True:
            t = self._run(number)
            if callback is not None:
                callback(number, t)
            times.append(t)
            total += t
            m = Measurement(number, times, self._task_spec)
            if (total >= min_run_time and len(times) >= 4 and m.meets_confidence(threshold)) \
                    or total >= max_run_time:
                return m


class Compare:
    """A table of measurements, laid out as torch's: one table per label, a column per
    description, a row per (threads, env, sub_label or stmt) under an ``N threads:`` rule, so
    that no two measurements share a cell; times in one unit. ``print(Compare(results))``."""

    def __init__(self, results: Sequence[Measurement]) -> None:
        self._results = list(results)
        self._trim = False

    def trim_significant_figures(self) -> None:
        self._trim = True

    def colorize(self, rowwise: bool = False) -> None:
        """Accepted for torch's sake (the table is plain text)."""

    def highlight_warnings(self) -> None:
        """Accepted for torch's sake."""

    def __str__(self) -> str:
        labels = list(dict.fromkeys(r.task_spec.label for r in self._results))
        return "\n".join(self._table([r for r in self._results if r.task_spec.label == label])
                         for label in labels)

    def _table(self, group: list[Measurement]) -> str:
        def row_key(m: Measurement) -> tuple[int, str | None, str]:
            spec = m.task_spec
            return spec.num_threads, spec.env, spec.sub_label or spec.stmt or "[Unknown]"
        rows = sorted(dict.fromkeys(row_key(m) for m in group),
                      key=lambda k: (k[0], k[1] or ""))  # stable: statements keep their order
        cols = list(dict.fromkeys(m.task_spec.description for m in group))
        cells = {(row_key(m), m.task_spec.description): m for m in group}
        unit, scale = select_unit(min(m.median for m in group))
        envs = {m.task_spec.env for m in group}
        env_width = (max(len(e or "") for e in envs) if len(envs) > 1 else 0) + 4
        formats = [self._column_format([cells.get((r, c)) for r in rows], scale) for c in cols]
        table = [["", *(c or "" for c in cols)]]
        prior: tuple[int, str | None] | None = None
        for key in rows:
            env = f"({key[1]})" if len(envs) > 1 and prior != key[:2] else ""
            table.append(["  " + env.ljust(env_width) + key[2]] + [
                fmt(cells.get((key, c)), scale) for c, fmt in zip(cols, formats)])
            prior = key[:2]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        header = "  |  ".join(t.center(w) for t, w in zip(table[0], widths))
        lines = [f"[{(' ' + (group[0].task_spec.label or '') + ' ').center(len(header) - 2, '-')}]",
                 header]
        threads = None
        for key, row in zip(rows, table[1:]):
            if key[0] != threads:
                threads = key[0]
                lines.append(f"{threads} threads: ".ljust(len(header), "-"))
            lines.append("  |  ".join([row[0].ljust(widths[0])] + [
                t.center(w) for t, w in zip(row[1:], widths[1:])]))
        return "\n".join(lines) + f"\n\nTimes are in {_UNIT_NAMES[unit]} ({unit}).\n"

    def _column_format(self, column: list[Measurement | None], scale: float
                       ) -> Callable[[Measurement | None, float], str]:
        """A column's numbers share one width and number of decimals (fewer when trimmed to
        their significant figures), as torch's."""
        present = [m for m in column if m is not None]
        digits = [math.ceil(math.log10(m.median / scale)) if m.median > 0 else 1
                  for m in present]
        decimals = min(max(m.significant_figures - d, 0) for m, d in zip(present, digits)) \
            if self._trim else 1
        width = max(digits) + decimals + (1 if decimals else 0)

        def fmt(m: Measurement | None, scale: float) -> str:
            if m is None:
                return " " * len(f"{1:>{width}.{decimals}f}")
            v = m.median / scale
            v = trim_sigfig(v, m.significant_figures) if self._trim else v
            return f"{v:>{width}.{decimals}f}"
        return fmt

    def print(self) -> None:
        print(str(self))
