"""Start N processes that run one function, and wait for them (torch.multiprocessing.spawn).

``spawn(fn, args, nprocs)`` runs ``fn(i, *args)`` in process ``i`` of ``nprocs``. If one of them
fails, the others are stopped and the parent raises: ``ProcessRaisedException`` with the child's
traceback when the child raised, ``ProcessExitedException`` with its exit code or signal when
it died otherwise. Each child writes its traceback as text to a file of its own (a one-shot
message that cannot deadlock, as torch's does; torch pickles it, ndgrad writes text).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

ENV_VAR_PARALLEL_START = "TORCH_MP_PARALLEL_START"  # torch's name: scripts that set it keep on

log = logging.getLogger(__name__)

__all__ = ["ProcessContext", "ProcessException", "ProcessExitedException",
           "ProcessRaisedException", "spawn", "SpawnContext", "start_processes"]


class ProcessException(Exception):  # noqa: N818 - torch's name
    """A process started by ``spawn``/``start_processes`` failed: which one, and its pid."""

    __slots__ = ["error_index", "error_pid"]

    def __init__(self, msg: str, error_index: int, error_pid: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.error_pid = error_pid

    def __reduce__(self) -> Any:
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """A process failed because its code raised; the message holds the child's traceback."""


class ProcessExitedException(ProcessException):
    """A process failed because it was killed by a signal or exited with a non-zero code."""

    __slots__ = ["exit_code"]

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None) -> None:
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self) -> Any:
        return (type(self), (self.msg, self.error_index, self.error_pid, self.exit_code,
                             self.signal_name))


def _set_pdeathsig(sig: int) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies (Linux's prctl), so
    that non-daemonic children do not outlive a parent that was killed."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _wrap(fn: Callable[..., Any], i: int, args: tuple[Any, ...], error_file: str) -> None:
    """The child's entry point: run ``fn(i, *args)``; on an exception write its traceback to
    ``error_file`` and exit with code 1."""
    _set_pdeathsig(signal.SIGINT)
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass  # SIGINT: stopped by the parent
    except Exception:
        with open(error_file, "w", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The processes that ``start_processes(..., join=False)`` started: ``join()`` them."""

    def __init__(self, processes: list[Any], error_files: list[str]) -> None:
        self.error_files = error_files
        self.processes = processes
        self.sentinels = {process.sentinel: index for index, process in enumerate(processes)}

    def pids(self) -> list[int]:
        return [int(process.pid) for process in self.processes]

    def _join_procs_with_timeout(self, timeout: float) -> None:
        """Join all processes within one shared timeout."""
        end = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, end - time.monotonic()))

    def join(self, timeout: float | None = None, grace_period: float | None = None) -> bool:
        """Wait for the processes (at most ``timeout`` seconds).

        Returns True once all have exited successfully, False if some are still running. If one
        exited with a non-zero status, stops the others (SIGTERM after ``grace_period``, then
        SIGKILL after another) and raises ``ProcessRaisedException`` (with the child's
        traceback) or ``ProcessExitedException`` for the first that failed."""
        if len(self.sentinels) == 0:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels), timeout=timeout)
        error_index = None
        for sentinel in ready:
            index = self.sentinels.pop(sentinel)  # type: ignore[call-overload]
            process = self.processes[index]
            process.join()
            if process.exitcode != 0:
                error_index = index
                break
        if error_index is None:
            return len(self.sentinels) == 0

        if grace_period is not None:
            self._join_procs_with_timeout(grace_period)
        for process in self.processes:
            if process.is_alive():
                log.warning("Terminating process %s via signal SIGTERM", process.pid)
                process.terminate()
        self._join_procs_with_timeout(30 if grace_period is None else grace_period)
        for process in self.processes:
            if process.is_alive():
                log.warning("Unable to shutdown process %s via SIGTERM , forcefully exiting "
                            "via SIGKILL", process.pid)
                process.kill()
            process.join()

        failed = self.processes[error_index]
        original_trace = None
        if os.access(self.error_files[error_index], os.R_OK):  # written if the child raised
            with open(self.error_files[error_index], encoding="utf-8") as fh:
                original_trace = fh.read()
        for name in self.error_files:  # (torch leaves them in the temporary directory)
            if os.path.exists(name):
                os.unlink(name)
        if original_trace is None:
            exitcode = failed.exitcode
            if exitcode < 0:
                try:
                    name = signal.Signals(-exitcode).name
                except ValueError:
                    name = f"<Unknown signal {-exitcode}>"
                raise ProcessExitedException(
                    f"process {error_index:d} terminated with signal {name}",
                    error_index=error_index, error_pid=failed.pid, exit_code=exitcode,
                    signal_name=name)
            raise ProcessExitedException(
                f"process {error_index:d} terminated with exit code {exitcode:d}",
                error_index=error_index, error_pid=failed.pid, exit_code=exitcode)
        msg = f"\n\n-- Process {error_index:d} terminated with the following error:\n"
        msg += original_trace
        raise ProcessRaisedException(msg, error_index, failed.pid)


class SpawnContext(ProcessContext):
    """ProcessContext's old name (deprecated)."""

    def __init__(self, processes: list[Any], error_files: list[str]) -> None:
        warnings.warn("SpawnContext is renamed to ProcessContext since 1.4 release.",
                      stacklevel=2)
        super().__init__(processes, error_files)


def start_processes(fn: Callable[..., Any], args: tuple[Any, ...] = (), nprocs: int = 1,
                    join: bool = True, daemon: bool = False, start_method: str = "spawn"
                    ) -> ProcessContext | None:
    """Run ``fn(i, *args)`` in ``nprocs`` processes started with ``start_method`` ("spawn",
    "fork" or "forkserver"); wait for them when ``join``, else return their ProcessContext.

    With "forkserver" and the environment variable TORCH_MP_PARALLEL_START=1 the processes are
    started in parallel threads."""
    parallel = (start_method == "forkserver"
                and os.environ.get(ENV_VAR_PARALLEL_START, "0") == "1")
    mp: Any = multiprocessing.get_context(start_method)
    error_files: list[str] = [""] * nprocs
    processes: list[Any] = [None] * nprocs

    def start_process(i: int) -> tuple[int, Any, str]:
        # the file exists only once the child writes a traceback to it
        fd, name = tempfile.mkstemp(prefix="ndgrad-errorfile-", suffix=".txt")
        os.close(fd)
        os.unlink(name)
        process = mp.Process(target=_wrap, args=(fn, i, args, name), daemon=daemon)
        process.start()
        return i, process, name

    if not parallel:
        for i in range(nprocs):
            _, processes[i], error_files[i] = start_process(i)
    else:
        log.info("Starting processes in parallel.")
        with ThreadPoolExecutor(max_workers=nprocs) as executor:
            futures = [executor.submit(start_process, i) for i in range(nprocs)]
            for fut in as_completed(futures):
                idx, process, name = fut.result()
                processes[idx], error_files[idx] = process, name
    context = ProcessContext(processes, error_files)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn: Callable[..., Any], args: tuple[Any, ...] = (), nprocs: int = 1,
          join: bool = True, daemon: bool = False, start_method: str = "spawn"
          ) -> ProcessContext | None:
    """Spawn ``nprocs`` processes that run ``fn(i, *args)``, ``i`` the process index.

    ``fn`` must be defined at the top level of a module (it is pickled). If a process exits
    with a non-zero status the others are stopped and an exception is raised, carrying the
    child's traceback when it raised. Returns None when ``join``, else a ProcessContext.
    ``start_method`` is always "spawn" (another one warns; use ``start_processes``)."""
    if start_method != "spawn":
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\n"
                      f"To use a different start_method use:\n\t\t"
                      f" ndgrad.multiprocessing.start_processes(...)", FutureWarning,
                      stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")
