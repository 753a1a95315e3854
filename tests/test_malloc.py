"""ndgrad._malloc: glibc keeps a step's freed arrays for the next step instead of unmapping
them (page faults every step otherwise), unless the user says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ndgrad import _malloc

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

# 50 rounds of three 1 MiB arrays written and freed, as a step's activations; prints
# ndgrad._malloc.TUNED and the page faults per round. With glibc's default, the 3 MiB freed at
# the top of the heap exceed its trim threshold (twice the 1 MiB mmap threshold it has learnt),
# go back to the OS and fault in again: 768 faults a round
CHILD = """
import resource, numpy as np, ndgrad, ndgrad._malloc as m
def step():
    a, b, c = (np.ones(1 << 18, np.float32) for _ in range(3))
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    step()
print(m.TUNED, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def run_child(**env: str) -> tuple[bool, float]:
    clean = {k: v for k, v in os.environ.items()
             if k not in _malloc._USER_SETTINGS and k not in ("NDGRAD_MALLOC", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", CHILD], env={**clean, **env}, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0] == "True", float(out[1])


@pytest.mark.parametrize("env, expected", [
    ({}, True),
    ({"NDGRAD_MALLOC": "0"}, False),
    ({"NDGRAD_MALLOC": "off"}, False),
    ({"NDGRAD_MALLOC": "1"}, True),
    ({"MALLOC_MMAP_THRESHOLD_": "65536"}, False),
    ({"MALLOC_ARENA_MAX": "2"}, False),
    ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}, False),
    ({"GLIBC_TUNABLES": "glibc.rtld.optional_static_tls=512"}, True),
])
def test_wanted(env: dict[str, str], expected: bool) -> None:
    assert _malloc.wanted(env) is expected


@glibc_only
def test_import_pins_thresholds_and_stops_page_faults() -> None:
    tuned, faults = run_child()
    assert tuned and faults < 10, faults
    tuned, faults = run_child(NDGRAD_MALLOC="0")  # glibc's default
    assert not tuned and faults > 500, faults
    # the user's own setting wins: every 1 MiB block is mapped afresh
    tuned, faults = run_child(MALLOC_MMAP_THRESHOLD_="65536")
    assert not tuned and faults > 500, faults
