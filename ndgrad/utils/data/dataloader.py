"""DataLoader, as in torch.utils.data: batches from a dataset, in this process or in workers.

``num_workers=0`` loads in the calling process. With ``num_workers > 0`` each epoch starts
worker processes (kept between epochs with ``persistent_workers=True``) that each hold a copy
of the dataset, build whole batches (collate included) and send them back; the main process
hands out batches of indices round-robin, keeps ``prefetch_factor`` batches per worker in
flight, and yields the results in the sampler's order. A worker's exception is re-raised here
with its traceback; a worker that dies, or no batch within ``timeout`` seconds, is an error.
``pin_memory`` is accepted and does nothing: there is no accelerator memory to pin for.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import multiprocessing.context
import os
import pickle
import queue
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from ndgrad import random as _random
from ndgrad.utils.data import _worker
from ndgrad.utils.data._fetch import make_fetcher
from ndgrad.utils.data.collate import default_collate, default_convert
from ndgrad.utils.data.dataset import Dataset, IterableDataset
from ndgrad.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    _check_generator,
)

__all__ = ["DataLoader", "default_collate", "default_convert"]

_python_exiting = False  # workers are left to multiprocessing's own exit handler then


def _set_python_exiting() -> None:
    global _python_exiting
    _python_exiting = True


atexit.register(_set_python_exiting)


class _InfiniteConstantSampler(Sampler[None]):
    """The sampler of an IterableDataset: None forever (the dataset decides when to stop)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


class DataLoader:
    """Iterate a dataset in batches: ``for x, y in DataLoader(ds, batch_size=64, shuffle=True)``.

    Shuffling draws from ``generator`` (an ndgrad.Generator or numpy Generator) or else from the
    global generator, so ``ndgrad.manual_seed`` makes the order reproducible, whatever
    ``num_workers`` is. See the module docstring for worker processes.
    """

    _initialized = False

    def __init__(self, dataset: Dataset[Any], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler[Any] | Any = None,
                 batch_sampler: Sampler[Any] | Any = None, num_workers: int = 0,
                 collate_fn: Callable[[list[Any]], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor <= 0:
            raise ValueError(f"prefetch_factor option should be positive (batches loaded in "
                             f"advance by each worker), got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        _check_generator(generator)

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            # an IterableDataset decides its own order: there is nothing to shuffle or sample
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)  # type: ignore[arg-type]
            else:
                sampler = SequentialSampler(dataset)  # type: ignore[arg-type]
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # type: ignore[arg-type]
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterable_len_called: int | None = None
        self._iterator: _MultiProcessIter | None = None
        self._initialized = True
        self.check_worker_number_rationality()

    def __setattr__(self, name: str, value: Any) -> None:
        if self._initialized and name in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                          "dataset", "persistent_workers"):
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self) -> Any:
        return self._mp_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context: Any) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context "
                                f"object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._mp_context = context

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        """What the iterator draws from: batches of indices, or single indices."""
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._iterable:
            n = self._iterable_len_called = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self) -> _BaseIter:
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or self._iterator._shutdown:
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator._reset(self)
        return self._iterator

    def check_worker_number_rationality(self) -> None:
        """Warn, as torch does, when there are more workers than CPUs this process may use."""
        if self.num_workers == 0:
            return
        try:
            cpus: int | None = len(os.sched_getaffinity(0))
        except AttributeError:
            cpus = os.cpu_count()
        if cpus is not None and self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. Our suggested max number of worker in current system is "
                          f"{cpus}, which is smaller than what this DataLoader is going to "
                          f"create. Please be aware that excessive worker creation might get "
                          f"DataLoader running slow or even freeze, lower the worker number to "
                          f"avoid potential slowness/freeze if necessary.", stacklevel=2)


def _index_stream(index_sampler: Any) -> Iterator[Any]:
    if isinstance(index_sampler, BatchSampler) and \
            type(index_sampler).__iter__ is BatchSampler.__iter__:
        return index_sampler._index_batches()  # int64 arrays cut from the sampler's chunks
    return iter(index_sampler)


class _BaseIter:
    """One pass over a DataLoader (``iter(loader)``); ``len()`` is the number of batches."""

    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._collate_fn = loader.collate_fn
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._sampler_iter = _index_stream(self._index_sampler)
        # Drawn from the loader's generator for every pass, with or without workers (as torch
        # does), so a seed gives the same shuffles whatever num_workers is.
        gen = loader.generator if loader.generator is not None else _random.default_generator()
        self._base_seed = int(gen.integers(2**63))
        if loader.pin_memory and loader.pin_memory_device:
            warnings.warn(f"pin_memory_device is deprecated, the current accelerator will be "
                          f"used as the device,ignore pin_memory_device="
                          f"'{loader.pin_memory_device}'.", stacklevel=4)
        if loader.pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then "
                          "device pinned memory won't be used.", stacklevel=4)
        self._len_called = loader._iterable_len_called
        self._num_yielded = 0

    def __iter__(self) -> _BaseIter:
        return self

    def __len__(self) -> int:
        return len(self._index_sampler)

    def _reset(self, loader: DataLoader) -> None:
        self._sampler_iter = _index_stream(self._index_sampler)
        self._len_called = loader._iterable_len_called
        self._num_yielded = 0

    def _next_data(self) -> Any:
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        if self._iterable and self._len_called is not None and \
                self._num_yielded > self._len_called:
            message = (f"Length of IterableDataset {self._dataset} was reported to be "
                       f"{self._len_called} (when accessing len(dataloader)), but "
                       f"{self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                message += ("For multiprocessing data-loading, this could be caused by not "
                            "properly configuring the IterableDataset replica at each worker "
                            "(see ndgrad.utils.data.get_worker_info).")
            warnings.warn(message, stacklevel=2)
        return data


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._fetcher = make_fetcher(self._iterable, self._dataset, self._auto_collation,
                                     self._collate_fn, self._drop_last)

    def _next_data(self) -> Any:
        index = next(self._sampler_iter)  # StopIteration ends the pass
        return self._fetcher.fetch(index)  # so does an IterableDataset running out


class _MultiProcessIter(_BaseIter):
    """Worker processes and their queues, and the bookkeeping that returns batches in order.

    Task ``k`` is the k-th batch of indices; ``_task_info[k]`` is ``(worker,)`` while it is
    being loaded and ``(worker, data)`` once it arrived ahead of its turn.
    """

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._prefetch_factor: int = loader.prefetch_factor  # type: ignore[assignment]
        self._in_order = loader.in_order
        self._persistent = loader.persistent_workers
        self._shutdown = False
        self._owner = os.getpid()  # a forked child holds a copy of this object: not its workers
        self._workers: list[Any] = []
        self._index_queues: list[Any] = []
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        for worker_id in range(self._num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()  # never block the main process's exit on it
            worker = ctx.Process(
                target=_worker.worker_loop,
                args=(self._iterable, self._dataset, index_queue, self._result_queue,
                      self._done_event, self._auto_collation, self._collate_fn,
                      self._drop_last, self._base_seed, loader.worker_init_fn, worker_id,
                      self._num_workers),
                daemon=True)
            worker.start()
            self._index_queues.append(index_queue)
            self._workers.append(worker)
        self._reset(loader, first=True)

    def _reset(self, loader: DataLoader, first: bool = False) -> None:
        super()._reset(loader)
        self._send_idx = 0  # the next task to hand out
        self._rcvd_idx = 0  # the next task to return
        self._task_info: dict[int, tuple[Any, ...]] = {}
        self._workers_status = [True] * self._num_workers  # False once its stream ran out
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first:  # persistent workers: drain the last pass, then start a new one
            for index_queue in self._index_queues:
                index_queue.put(_worker._ResumeIteration())
            resumed = 0
            while resumed < self._num_workers:
                task, _ = self._get_data()
                resumed += isinstance(task, _worker._ResumeIteration)
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):  # the next worker whose stream has not run out
            worker_id = next(self._worker_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._send_idx += 1

    def _get_data(self) -> tuple[Any, Any]:
        """The next reply from any worker, checking on the workers while waiting."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _worker.STATUS_CHECK_INTERVAL
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                # bytes pickled by our own worker process (see _worker._send)
                return pickle.loads(self._result_queue.get(timeout=wait))  # type: ignore
            except queue.Empty:
                pass
            dead = [w for w, active in zip(self._workers, self._workers_status)
                    if active and not w.is_alive()]
            if dead:
                self._shutdown_workers()
                pids = ", ".join(str(w.pid) for w in dead)
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                                   f"(exit code {dead[0].exitcode})")
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _next_data(self) -> Any:
        while True:
            # skip tasks that a worker whose stream ran out will never answer
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:  # it arrived earlier
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process(info[1])
            task, data = self._get_data()
            if isinstance(data, _worker._WorkerDone):
                self._workers_status[data.worker_id] = False
                if not self._persistent:
                    self._index_queues[data.worker_id].put(None)  # let it exit now
                self._try_put_index()
                continue
            if task == self._rcvd_idx or not self._in_order:
                self._task_info.pop(task)
                if task == self._rcvd_idx:
                    self._rcvd_idx += 1
                return self._process(data)
            self._task_info[task] += (data,)  # early: keep it until its turn

    def _process(self, data: Any) -> Any:
        self._try_put_index()
        if isinstance(data, _worker._ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self) -> None:
        """Ask every worker to stop, wait a moment, then terminate any that did not."""
        if self._shutdown or _python_exiting or os.getpid() != self._owner:
            return
        self._shutdown = True
        self._done_event.set()
        for index_queue in self._index_queues:
            index_queue.put(None)
        for w in self._workers:
            w.join(timeout=_worker.STATUS_CHECK_INTERVAL)
        for index_queue in self._index_queues:
            index_queue.close()
        for w in self._workers:
            if w.is_alive():
                w.terminate()
                w.join(timeout=_worker.STATUS_CHECK_INTERVAL)
        self._result_queue.cancel_join_thread()
        self._result_queue.close()

    def __del__(self) -> None:
        if hasattr(self, "_workers"):  # __init__ may have failed before the workers existed
            self._shutdown_workers()
