"""ndgrad.futures: torch.futures' Future, a value that may arrive later.

Asynchronous collectives (``Work.get_future()``), DDP communication hooks and ``jit.fork``
hand results around as Futures. A Future is completed once, by ``set_result`` or
``set_exception``, or, for one that stands for an MPI request, by the first ``wait`` (or
``done``) that finds the request finished: ndgrad runs no background thread, so callbacks
chained with ``then`` run when the result is set or first observed. Waiting on a Future
that another thread completes works as in torch.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
S = TypeVar("S")

__all__ = ["Future", "collect_all", "wait_all"]


class Future(Generic[T]):
    """torch.futures.Future: ``wait()`` gives the value (or raises the error it was completed
    with), ``then(fn)`` a Future of ``fn(this future)``, ``add_done_callback(fn)`` runs fn once
    it is complete."""

    def __init__(self, *, devices: Any = None) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Future[T]], None]] = []
        self._ready = threading.Condition()
        # how to drive it to completion when nothing else will: an MPI request's wait, or
        # the Future this one was chained to with then()
        self._drive: Callable[[bool], None] | None = None

    # -- completing it ---------------------------------------------------------------------
    def set_result(self, result: T) -> None:
        """Complete it with ``result``; runs the callbacks."""
        self._complete(result, None)

    def set_exception(self, result: BaseException) -> None:
        """Complete it with an error: ``wait()`` and ``value()`` raise it."""
        if not isinstance(result, BaseException):
            raise TypeError(f"set_exception expects an exception, got {type(result).__name__}")
        self._complete(None, result)

    def _complete(self, value: Any, error: BaseException | None) -> None:
        with self._ready:
            if self._done:
                raise RuntimeError("Attempting to mark a completed Future as complete again. "
                                   "Note that a Future can only be marked completed once.")
            self._value, self._error, self._done = value, error, True
            callbacks, self._callbacks = self._callbacks, []
            self._ready.notify_all()
        for fn in callbacks:
            fn(self)

    # -- reading it ------------------------------------------------------------------------
    def done(self) -> bool:
        """True once it holds a value or an error (asks an MPI request without blocking)."""
        if not self._done and self._drive is not None:
            self._drive(False)
        return self._done

    def wait(self) -> T:
        """Block until complete; the value, or raise the error."""
        if not self._done and self._drive is not None:
            self._drive(True)
        with self._ready:
            while not self._done:
                self._ready.wait()
        return self.value()

    def value(self) -> T:
        """The value of a completed Future (raises its error); an error if not complete."""
        if not self._done:
            raise RuntimeError("Future.value(): the Future is not complete yet; call wait()")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    # -- chaining --------------------------------------------------------------------------
    def then(self, callback: Callable[[Future[T]], S]) -> Future[S]:
        """A Future of ``callback(self)``, run once this one is complete; an error in the
        callback completes the new Future with a RuntimeError saying so, as torch's."""
        out: Future[S] = Future()

        def run(fut: Future[T]) -> None:
            try:
                result = callback(fut)
            except Exception as e:  # noqa: BLE001 - handed to whoever waits on ``out``
                trace = "".join(traceback.format_exception(e))
                out.set_exception(RuntimeError(
                    f"Got the following error when running the callback: "
                    f"{type(e).__name__}: {e}\n\n{trace}"))
                return
            out.set_result(result)

        out._drive = self._drive_for_chain
        self.add_done_callback(run)
        return out

    def _drive_for_chain(self, block: bool) -> None:
        if block:
            self._wait_quietly()  # this Future's error reaches the chained one as its own
        else:
            self.done()

    def _wait_quietly(self) -> None:
        try:
            self.wait()
        except BaseException:  # noqa: BLE001 - the chained Future carries it
            pass

    def add_done_callback(self, callback: Callable[[Future[T]], None]) -> None:
        """Run ``callback(self)`` when complete (now, if it already is)."""
        with self._ready:
            if not self._done:
                self._callbacks.append(callback)
                return
        callback(self)

    def __repr__(self) -> str:
        return f"Future(done={self._done})"


def _driven(drive: Callable[[bool], None]) -> Future[Any]:
    """A Future completed by ``drive(block)``, which must call set_result or set_exception
    once its work is done (block=True: wait for it; False: only look)."""
    fut: Future[Any] = Future()
    fut._drive = drive
    return fut


def completed(value: T) -> Future[T]:
    """A Future that already holds ``value``."""
    fut: Future[T] = Future()
    fut.set_result(value)
    return fut


def collect_all(futures: list[Future[Any]]) -> Future[list[Future[Any]]]:
    """A Future of the list of ``futures``, complete once every one of them is."""
    out: Future[list[Future[Any]]] = Future()
    futures = list(futures)

    def drive(block: bool) -> None:
        for f in futures:
            if block:
                f._wait_quietly()
            elif not f.done():
                return
        if not out._done:
            out.set_result(futures)
    if not futures:
        out.set_result(futures)
    else:
        out._drive = drive
        for f in futures:
            f.add_done_callback(lambda _: drive(False) if not out._done else None)
    return out


def wait_all(futures: list[Future[Any]]) -> list[Any]:
    """Wait for every Future; their values, in order (the first error is raised)."""
    return [f.wait() for f in futures]
