"""What runs in a DataLoader worker process, as in torch.utils.data's workers.

A worker gets its own copy of the dataset, seeds Python's ``random``, ndgrad's global
generator (``base_seed + worker_id``) and NumPy's legacy global generator (torch's derivation
of the same two numbers), so workers never repeat each other's random augmentations; then it
runs ``worker_init_fn(worker_id)`` and answers tasks ``(task number, indices)`` from its index
queue with ``(task number, batch)`` on the shared result queue, until it receives None.

Each reply is pickled here, in the worker, so that a batch that cannot be sent (an unpicklable
object) comes back as an error instead of vanishing in the queue's feeder thread; an exception
comes back as an ``_ExceptionWrapper`` holding its traceback, re-raised in the main process.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from ndgrad import random as _random
from ndgrad.utils.data._fetch import make_fetcher

STATUS_CHECK_INTERVAL = 0.5  # seconds between checks that the other side is still alive


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its ``id`` (0 to num_workers - 1),
    ``num_workers``, the ``seed`` it was given, and its own copy of the ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's WorkerInfo inside a DataLoader worker process, None in the main process.

    An IterableDataset's ``__iter__`` (or a ``worker_init_fn``) uses it to read only its share
    of the stream: each worker holds a full copy of the dataset and would otherwise repeat it.
    """
    return _worker_info


@dataclass(frozen=True)
class _WorkerDone:
    """A worker's copy of an IterableDataset ran out."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Start a new pass (persistent workers); the worker echoes it back."""


class _KeyErrorMessage(str):
    """KeyError shows repr() of its argument; this message shows as plain text."""

    def __repr__(self) -> str:
        return str(self)


class _ExceptionWrapper:
    """An exception caught in a worker, with its formatted traceback, to re-raise elsewhere."""

    def __init__(self, where: str) -> None:
        exc_type, exc, tb = sys.exc_info()
        try:
            pickle.dumps(exc_type)  # a class defined inside a function cannot travel
            self.exc_type: type[BaseException] = exc_type  # type: ignore[assignment]
        except Exception:
            self.exc_type = RuntimeError
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, tb))
        self.where = where

    def reraise(self) -> None:
        """Raise the same kind of exception here, its message naming the worker and holding
        the original traceback (torch's format)."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            raise KeyError(_KeyErrorMessage(msg))
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:
            del exception  # the traceback holds this frame: no cycle that keeps the loader


def worker_seeds(base_seed: int, worker_id: int) -> tuple[int, np.ndarray]:
    """(seed for ``random`` and ndgrad, state for ``np.random.seed``), as torch derives them."""
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return base_seed + worker_id, np.random.SeedSequence(entropy).generate_state(4)


def _send(result_queue: Any, task: Any, data: Any, worker_id: int) -> None:
    try:
        payload = pickle.dumps((task, data), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        error = _ExceptionWrapper(f"in DataLoader worker process {worker_id} while sending "
                                  f"the batch to the main process")
        payload = pickle.dumps((task, error), protocol=pickle.HIGHEST_PROTOCOL)
    result_queue.put(payload)


def worker_loop(iterable: bool, dataset: Any, index_queue: Any, result_queue: Any,
                done_event: Any, auto_collation: bool, collate_fn: Any, drop_last: bool,
                base_seed: int, init_fn: Any, worker_id: int, num_workers: int) -> None:
    """The body of one worker process (see the module docstring)."""
    global _worker_info
    where = f"in DataLoader worker process {worker_id}"
    try:
        seed, numpy_state = worker_seeds(base_seed, worker_id)
        random.seed(seed)
        _random.manual_seed(seed)
        np.random.seed(numpy_state)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)

        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = _ExceptionWrapper(where)  # answers every task: the worker is unusable

        ended = False  # this copy of an IterableDataset ran out: ignore tasks until None
        parent = os.getppid()
        while os.getppid() == parent:  # the main process died: leave
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            if task is None:
                break
            if isinstance(task, _ResumeIteration):
                ended = False
                if init_error is None:
                    fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn,
                                           drop_last)
                _send(result_queue, task, None, worker_id)
                continue
            if done_event.is_set() or ended:
                continue
            number, index = task
            data: Any
            if init_error is not None:
                data = init_error
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        data = _ExceptionWrapper(where)
                    else:
                        data, ended = _WorkerDone(worker_id), True
                except Exception:
                    data = _ExceptionWrapper(where)
            _send(result_queue, number, data, worker_id)
            del data, index, task  # do not hold a batch while waiting for the next task
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches every process of the group; the main process reports it
    if done_event.is_set():
        result_queue.cancel_join_thread()  # nobody reads any more: exit without flushing
        result_queue.close()
