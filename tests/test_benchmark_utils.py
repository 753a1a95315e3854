"""ndgrad.utils.benchmark: torch.utils.benchmark's Timer API on ndgrad."""

from __future__ import annotations

import pytest

import ndgrad
from ndgrad.utils.benchmark import Compare, Measurement, Timer, select_unit, trim_sigfig


def test_timer_measures_and_prints_as_torch():
    t = Timer("x + y", setup="x = ndgrad.ones(10); y = ndgrad.ones(10)",
              globals={"ndgrad": ndgrad}, label="add", sub_label="10", description="ndgrad")
    once = t.timeit(200)
    assert isinstance(once, Measurement) and once.number_per_run == 200
    assert len(once.times) == 1 and 0 < once.median == once.mean < 1e-2 and once.iqr == 0
    text = repr(once).splitlines()
    assert text[1:4] == ["add: 10", "ndgrad", "setup: x = ndgrad.ones(10); y = ndgrad.ones(10)"]
    assert text[5] == "  1 measurement, 200 runs , 1 thread"
    blocks = t.blocked_autorange(min_run_time=0.02)
    assert len(blocks.times) >= 2 and sum(blocks.raw_times) >= 0.02
    assert repr(blocks).splitlines()[4].startswith("  Median: ")
    adaptive = t.adaptive_autorange(threshold=0.5, max_run_time=1.0)
    assert adaptive.times and adaptive.median > 0
    table = str(Compare([once, blocks]))
    assert "[------ add ------]" in table and "ndgrad" in table and "Times are in" in table


def test_threads_globals_and_helpers():
    seen = []
    before = ndgrad.get_num_threads()
    Timer("seen.append(ndgrad.get_num_threads())", globals={"ndgrad": ndgrad, "seen": seen},
          num_threads=1).timeit(3)
    assert set(seen) == {1} and ndgrad.get_num_threads() == before
    assert Timer("v", global_setup="v = 3").timeit(5).median >= 0
    assert select_unit(2.5e-6) == ("us", 1e-6) and select_unit(0.004)[0] == "ms"
    assert trim_sigfig(1234.5, 2) == 1200.0
    with pytest.raises(ValueError, match="Python statements only"):
        Timer("1", language="c++")
