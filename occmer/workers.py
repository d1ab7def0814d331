"""The one worker pool of occmer: `synthesize` and `features` spread clips over it.

`WorkerPool` is a context manager. With one worker it runs every task in this process
(the initializer and finalizer run here too), so the single-process path is the same
code as the parallel one. With more it starts spawned processes (no inherited HDF5,
OpenCV or mediapipe state) that die with their parent: on Linux through
prctl(PR_SET_PDEATHSIG, SIGKILL), everywhere through a thread that polls the parent's
pid. A `kill -9` of the main process therefore never leaves orphan workers holding
memory. A worker that dies (out of memory, a crash in a native library) becomes a
WorkerError naming what to do, not a BrokenProcessPool traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from occmer.errors import ConfigError, OccmerError

PARENT_POLL_S = 0.5
PR_SET_PDEATHSIG = 1


class WorkerError(OccmerError):
    """A worker process died without reporting an error."""


def max_workers() -> int:
    """The largest --workers accepted: twice the CPUs this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, 2 * cpus)


def check_workers(workers: Any, option: str = "--workers") -> int:
    """`workers` as an int in 1..max_workers(), or a ConfigError saying the range."""
    limit = max_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= limit:
        raise ConfigError(
            f"{option} must be an integer from 1 to {limit} (twice the CPUs available here), got {workers!r}"
        )
    return workers


def _die_with_parent(parent: int) -> None:
    """In a worker: end this process as soon as `parent` is gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the polling thread below still applies
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="occmer-parent-watch", daemon=True).start()


def _child_start(parent: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if initializer is not None:
        initializer(*initargs)


class WorkerPool:
    """`with WorkerPool(workers, init, args) as pool: for r in pool.map(fn, items): ...`

    initializer(*initargs) prepares each worker (or this process when workers == 1);
    finalizer() undoes it in this process (the serial path). `map` yields results in
    the order of `items`; `map_unordered` as they finish. Leaving the block early (an
    error, Ctrl-C) cancels the tasks not yet started and waits for the running ones.
    """

    def __init__(
        self,
        workers: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
        finalizer: Callable[[], None] | None = None,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"--workers must be a positive integer, got {workers!r}")
        self.workers = workers
        self.initializer = initializer
        self.initargs = initargs
        self.finalizer = finalizer
        self._executor: ProcessPoolExecutor | None = None
        self._entered = False

    @property
    def parallel(self) -> bool:
        return self.workers > 1

    def __enter__(self) -> WorkerPool:
        import multiprocessing

        if self.parallel:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_child_start, initargs=(os.getpid(), self.initializer, self.initargs),
            )
        elif self.initializer is not None:
            self.initializer(*self.initargs)
        self._entered = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._entered = False
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=True, cancel_futures=exc_type is not None)
        elif self.finalizer is not None:
            self.finalizer()

    def _submit_all(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Future]:
        assert self._executor is not None
        return [self._executor.submit(fn, item) for item in items]

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """fn(item) for every item, in order."""
        if not self._entered:
            raise RuntimeError("WorkerPool.map outside its `with` block")
        if not self.parallel:
            for item in items:
                yield fn(item)
            return
        futures = self._submit_all(fn, items)
        with _worker_deaths():
            for future in futures:
                yield future.result()

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """fn(item) for every item, as each finishes."""
        if not self._entered:
            raise RuntimeError("WorkerPool.map_unordered outside its `with` block")
        if not self.parallel:
            yield from self.map(fn, items)
            return
        futures = self._submit_all(fn, items)
        with _worker_deaths():
            for future in as_completed(futures):
                yield future.result()


class _worker_deaths:  # noqa: N801 - used as a context manager, reads as a phrase
    """Turn BrokenProcessPool into a WorkerError that says what to do."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and issubclass(exc_type, BrokenProcessPool):
            raise WorkerError(
                "a worker process died without an error message (out of memory, or a crash in a native "
                "library); finished work is kept: rerun with --workers 1 to see which clip fails"
            ) from exc
        return False
