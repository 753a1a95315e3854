"""ndgrad.multiprocessing: Python's ``multiprocessing``, with tensors that travel in shared memory
(torch.multiprocessing).

Everything of ``multiprocessing`` is here (``Process``, ``Queue``, ``Pool``, ``get_context``, ...),
so ``import ndgrad.multiprocessing as mp`` replaces ``import multiprocessing as mp``. On import it
registers pickling reductions with multiprocessing's ``ForkingPickler``: a tensor put on a
``Queue``, sent through a ``Pipe``, or given to a spawned ``Process`` arrives as a tensor over
the sender's shared memory (moved there first if it was not), so writes on either side are seen
by the other. With ``model.share_memory()`` before starting the processes, several processes
train one model (Hogwild), with the "fork" start method as with "spawn".

``spawn(fn, args, nprocs)`` runs ``fn(i, *args)`` in ``nprocs`` processes and re-raises a
child's exception in the parent with its traceback (``ProcessRaisedException``).

Sharing strategies (``set_sharing_strategy``): "file_descriptor" (the default on Linux) sends a
segment as a file descriptor and leaves nothing behind; "file_system" names it in /dev/shm and
sends the name (see ``_shm.py``).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F403

from ndgrad.multiprocessing import _shm
from ndgrad.multiprocessing.reductions import init_reductions
from ndgrad.multiprocessing.spawn import (
    ENV_VAR_PARALLEL_START,
    ProcessContext,
    ProcessException,
    ProcessExitedException,
    ProcessRaisedException,
    SpawnContext,
    spawn,
    start_processes,
)

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies",
           "ENV_VAR_PARALLEL_START", "ProcessContext", "ProcessException",
           "ProcessExitedException", "ProcessRaisedException", "SpawnContext", "spawn",
           "start_processes", "init_reductions"]
__all__ += multiprocessing.__all__


def set_sharing_strategy(new_strategy: str) -> None:
    """Choose how tensors moved to shared memory from now on are shared: one of
    ``get_all_sharing_strategies()``."""
    if new_strategy not in _shm.ALL_STRATEGIES:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}, expected one of "
                             f"{_shm.ALL_STRATEGIES}")
    _shm.strategy = new_strategy


def get_sharing_strategy() -> str:
    """The current strategy for sharing CPU tensors."""
    return _shm.strategy


def get_all_sharing_strategies() -> set[str]:
    """The sharing strategies this system supports."""
    return set(_shm.ALL_STRATEGIES)


init_reductions()
