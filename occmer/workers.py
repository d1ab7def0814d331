"""The one worker pool of occmer: `synthesize` and `features` spread clips over it.

`WorkerPool` is a context manager. Its `start(*start_args)` builds the state a worker keeps
between tasks (an open file, a landmark model): one object per worker process, and each task
is called as `fn(state, item)`. With one worker it runs every task in this process (the state
is built here and closed when the block ends), so the single-process path is the same
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
from typing import Any, Generic, Protocol, TypeVar

from occmer.errors import ConfigError, OccmerError

PARENT_POLL_S = 0.5
PR_SET_PDEATHSIG = 1


class WorkerState(Protocol):
    """What a worker keeps between tasks; closed when the serial path ends (a worker process simply exits)."""

    def close(self) -> None: ...


State = TypeVar("State", bound=WorkerState)
Item = TypeVar("Item")
Result = TypeVar("Result")
Task = Callable[[State, Item], Result]

# The state `start` built in this worker process (None in the main process): the one value a
# spawned worker keeps between tasks, set once by `_child_start`, read by `_run_task`.
_PROCESS_STATE: Any = None


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


def _child_start(parent: int, start: Callable[..., Any] | None, start_args: tuple) -> None:
    global _PROCESS_STATE
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _PROCESS_STATE = start(*start_args) if start is not None else None


def _run_task(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    """In a worker process: one task, given the state this process started with."""
    return fn(_PROCESS_STATE, item)


class WorkerPool(Generic[State]):
    """`with WorkerPool(workers, start, args) as pool: for r in pool.map(fn, items): ...`

    start(*start_args) builds each worker's state (in this process when workers == 1, closed
    when the block ends); every task runs as fn(state, item), with state None without `start`.
    `map` yields results in the order of `items`; `map_unordered` as they finish. Leaving the
    block early (an error, Ctrl-C) cancels the tasks not yet started and waits for the running ones.
    """

    def __init__(self, workers: int, start: Callable[..., State] | None = None, start_args: tuple = ()) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"--workers must be a positive integer, got {workers!r}")
        self.workers = workers
        self.start = start
        self.start_args = start_args
        self._executor: ProcessPoolExecutor | None = None
        self._state: State | None = None  # the serial path's worker state
        self._entered = False

    @property
    def parallel(self) -> bool:
        return self.workers > 1

    def __enter__(self) -> WorkerPool[State]:
        import multiprocessing

        if self.parallel:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_child_start, initargs=(os.getpid(), self.start, self.start_args),
            )
        elif self.start is not None:
            self._state = self.start(*self.start_args)
        self._entered = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._entered = False
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=True, cancel_futures=exc_type is not None)
        elif self._state is not None:
            state, self._state = self._state, None
            state.close()

    def _submit_all(self, fn: Task, items: Iterable[Item]) -> list[Future]:
        assert self._executor is not None
        return [self._executor.submit(_run_task, fn, item) for item in items]

    def map(self, fn: Task[State, Item, Result], items: Iterable[Item]) -> Iterator[Result]:
        """fn(state, item) for every item, in order."""
        if not self._entered:
            raise RuntimeError("WorkerPool.map outside its `with` block")
        if not self.parallel:
            for item in items:
                yield fn(self._state, item)  # type: ignore[arg-type]  # None only without `start`
            return
        futures = self._submit_all(fn, items)
        with _worker_deaths():
            for future in futures:
                yield future.result()

    def map_unordered(self, fn: Task[State, Item, Result], items: Iterable[Item]) -> Iterator[Result]:
        """fn(state, item) for every item, as each finishes."""
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
                "library); finished work is kept: rerun with --workers 1 to see which clip or video fails"
            ) from exc
        return False
