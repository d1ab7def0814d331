"""`occmer synthesize --executor ray`: every clip a Ray task, shards assembled by the driver.

A task runs the same per-clip code as a local worker (`occmer.synthesis.job.SynthesisWorker`:
one `ClipProcessor` per worker process and run, the shard written atomically to
OUT.parts/clips/), so the file equals a local run's, array for array: every random choice
comes from the clip's own seed. The tasks write the shards themselves, so OUT (and the
database, the occluder templates, a `--landmarks file:` folder) must be at the same path on
every node. The driver only schedules, reports progress and assembles; `--resume` skips the
shards any executor finished. Ray itself is imported (by `occmer.ray_runtime`) only when
`run_ray` is called.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2

from occmer.databases import Clip
from occmer.errors import StoreError
from occmer.ray_runtime import RAY_MAX_RETRIES, ExecutorChoice, completed, ray_session
from occmer.store.writer import RUN_FILE, parts_dir
from occmer.synthesis.job import ClipResult, SynthesisRun, SynthesisWorker
from occmer.workers import WorkerError


class SharedWorker:
    """The worker of a Ray worker process, which serves tasks of any run: made for the run of the
    first task and kept (landmark model, occluder) while the next tasks belong to the same run."""

    current: SynthesisWorker | None = None

    @classmethod
    def for_run(cls, run: SynthesisRun) -> SynthesisWorker:
        if cls.current is None or cls.current.run != run:
            if cls.current is not None:
                cls.current.close()
            cls.current = None  # a failed start-up leaves no worker of the previous run behind
            cls.current = SynthesisWorker(run)
        return cls.current


def _ray_clip_task(run: SynthesisRun, clip: Clip, threads: int) -> ClipResult:
    """The body of one Ray task: OpenCV uses the CPUs the task declared."""
    check_run_visible(run.out, clip)
    cv2.setNumThreads(threads)
    return SharedWorker.for_run(run).synthesize(clip)


def check_run_visible(out: Path, clip: Clip) -> None:
    """StoreError unless this node sees the run directory the driver made: a shard written to a
    folder only this node sees would be lost, and the run would fail at assembly, after all the work."""
    run_file = parts_dir(out) / RUN_FILE
    if not run_file.is_file():
        raise StoreError(
            f"{clip.sample_id}: the Ray node {socket.gethostname()} does not see {run_file}, which the driver "
            "wrote: --out must be on storage every node mounts at the same path"
        )


def run_ray(run: SynthesisRun, clips: Sequence[Clip], on_done: Callable[[ClipResult], None],
            executor: ExecutorChoice) -> None:
    """Every clip as a Ray task declaring `executor.cpus_per_task` CPUs; `on_done` in the driver as each ends.

    An error in a clip surfaces as in the local path: with on_error="skip" it comes back as a
    skipped clip, with "stop" its OccmerError (naming the sample) stops the run and the tasks
    still waiting are cancelled; a task whose worker died is re-run up to RAY_MAX_RETRIES times.
    """
    if not clips:
        return
    with ray_session(executor.ray_address) as ray:
        task = ray.remote(_ray_clip_task).options(
            num_cpus=executor.cpus_per_task, max_retries=RAY_MAX_RETRIES, retry_exceptions=False,
        )
        run_ref = ray.put(run)
        waiting = {task.remote(run_ref, clip, executor.threads): clip for clip in clips}
        for _, result in completed(
            ray, waiting,
            failed=lambda clip, cause: cause,  # a bug in a task reads as it would locally
            lost=lambda clip, exc: WorkerError(
                f"{clip.sample_id}: its Ray task was lost {RAY_MAX_RETRIES + 1} times (a worker killed, out of memory "
                f"or a node gone: {exc})"
            ),
        ):
            on_done(result)
