"""`occmer synthesize` on the local worker pool (the default executor): every clip, or every long
video, a task of `occmer.workers.WorkerPool`, each worker keeping one `SynthesisWorker` (clips) or
`LongVideoWorker` (long videos) for the run; with one worker the tasks run in this process."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from occmer.databases import Clip
from occmer.store.long_video import LongVideoMeta, request_stop
from occmer.store.writer import RunDirectory
from occmer.synthesis.job import ClipResult, SynthesisRun, SynthesisWorker
from occmer.synthesis.long_video import LongVideoRun, LongVideoWorker, VideoTask
from occmer.workers import WorkerPool

Worker = SynthesisWorker | LongVideoWorker


def make_worker(run: SynthesisRun | LongVideoRun) -> Worker:
    """The worker state of a run: one processor (landmark model, occluder) for its clips or videos."""
    return LongVideoWorker(run) if isinstance(run, LongVideoRun) else SynthesisWorker(run)


def start_worker_process(run: SynthesisRun | LongVideoRun) -> Worker:
    """Worker start-up: native library logs (mediapipe, TFLite) go to OUT.parts/logs, not the terminal."""
    log_dir = RunDirectory(run.out).path / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"worker-{os.getpid()}.log", "a")  # noqa: SIM115 - kept open for the process
    os.dup2(log.fileno(), 2)
    return make_worker(run)


def worker_pool(run: SynthesisRun | LongVideoRun, workers: int, n_tasks: int) -> WorkerPool[Worker]:
    """The worker pool of one run: never more processes than tasks; one worker runs here."""
    workers = max(1, min(workers, n_tasks))
    return WorkerPool(workers, start_worker_process if workers > 1 else make_worker, (run,))


def synthesize_clip(worker: SynthesisWorker, clip: Clip) -> ClipResult:
    """One task of the pool: `clip` on this worker's processor."""
    return worker.synthesize(clip)


def synthesize_video(worker: LongVideoWorker, task: VideoTask) -> LongVideoMeta:
    """One task of the pool: a whole long video on this worker's processor."""
    return worker.synthesize(task)


def run_local(run: SynthesisRun, workers: int, clips: Sequence[Clip], on_done: Callable[[ClipResult], None]) -> None:
    """Every clip on the local worker pool (this process with one worker); `on_done` as each ends."""
    with worker_pool(run, workers, len(clips)) as pool:
        for result in pool.map_unordered(synthesize_clip, clips):
            on_done(result)


@contextmanager
def _stop_workers_on_error(run: LongVideoRun) -> Iterator[None]:
    """A video failed or Ctrl-C: the other workers stop at their next segment instead of finishing
    minutes of video before the pool can close."""
    try:
        yield
    except BaseException:
        request_stop(run.out)
        raise


def run_long_local(run: LongVideoRun, workers: int, tasks: Sequence[VideoTask],
                   on_done: Callable[[LongVideoMeta], None]) -> None:
    """Every long video a task of the local worker pool; `on_done` as each ends."""
    with worker_pool(run, workers, len(tasks)) as pool, _stop_workers_on_error(run):
        for meta in pool.map_unordered(synthesize_video, tasks):
            on_done(meta)
