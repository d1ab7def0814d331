"""`occmer synthesize` on the local worker pool (the default executor): every clip a task of
`occmer.workers.WorkerPool`, each worker keeping one `SynthesisWorker` for the run; with one
worker the clips run in this process."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from occmer.databases import Clip
from occmer.store.writer import RunDirectory
from occmer.synthesis.job import ClipResult, SynthesisRun, SynthesisWorker
from occmer.workers import WorkerPool


def start_worker_process(run: SynthesisRun) -> SynthesisWorker:
    """Worker start-up: native library logs (mediapipe, TFLite) go to OUT.parts/logs, not the terminal."""
    log_dir = RunDirectory(run.out).path / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"worker-{os.getpid()}.log", "a")  # noqa: SIM115 - kept open for the process
    os.dup2(log.fileno(), 2)
    return SynthesisWorker(run)


def synthesize_clip(worker: SynthesisWorker, clip: Clip) -> ClipResult:
    """One task of the pool: `clip` on this worker's processor."""
    return worker.synthesize(clip)


def clip_pool(run: SynthesisRun, workers: int, n_clips: int) -> WorkerPool[SynthesisWorker]:
    """The worker pool of one run: never more processes than clips; one worker runs here."""
    workers = max(1, min(workers, n_clips))
    start = start_worker_process if workers > 1 else SynthesisWorker
    return WorkerPool(workers, start, (run,))


def run_local(run: SynthesisRun, workers: int, clips: Sequence[Clip], on_done: Callable[[ClipResult], None]) -> None:
    """Every clip on the local worker pool (this process with one worker); `on_done` as each ends."""
    with clip_pool(run, workers, len(clips)) as pool:
        for result in pool.map_unordered(synthesize_clip, clips):
            on_done(result)
