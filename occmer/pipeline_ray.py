"""`occmer synthesize --executor ray`: every clip a Ray task, shards assembled by the driver.

A task runs the same per-clip code as a local worker (`occmer.pipeline._run_one`: one
`ClipProcessor` per worker process and run, the shard written atomically to OUT.parts/clips/),
so the file equals a local run's, array for array: every random choice comes from the clip's
own seed. The tasks write the shards themselves, so OUT (and the database, the occluder
templates, a `--landmarks file:` folder) must be at the same path on every node. The driver
only schedules, reports progress and assembles; `--resume` skips the shards any executor finished.
Imported by `synthesize` only with `--executor ray`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

from occmer.databases import Clip
from occmer.errors import StoreError
from occmer.pipeline import ClipResult, SynthesisSettings, run_one_in_shared_worker
from occmer.ray_cluster import RAY_MAX_RETRIES, ExecutorChoice, completed, ray_session
from occmer.store.writer import RUN_FILE, parts_dir
from occmer.workers import WorkerError


def _ray_clip_task(settings: SynthesisSettings, out: str, on_error: str, clip: Clip, threads: int) -> ClipResult:
    """The body of one Ray task: OpenCV uses the CPUs the task declared."""
    import cv2

    check_run_visible(Path(out), clip)
    cv2.setNumThreads(threads)
    return run_one_in_shared_worker(settings, Path(out), on_error, clip)


def check_run_visible(out: Path, clip: Clip) -> None:
    """StoreError unless this node sees the run directory the driver made: a shard written to a
    folder only this node sees would be lost, and the run would fail at assembly, after all the work."""
    run_file = parts_dir(out) / RUN_FILE
    if not run_file.is_file():
        raise StoreError(
            f"{clip.sample_id}: the Ray node {socket.gethostname()} does not see {run_file}, which the driver "
            "wrote: --out must be on storage every node mounts at the same path"
        )


def run_ray(settings: SynthesisSettings, out: Path, on_error: str, clips: Sequence[Clip],
            on_done: Callable[[ClipResult], None], executor: ExecutorChoice) -> None:
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
        settings_ref = ray.put(settings)
        waiting = {task.remote(settings_ref, str(out), on_error, clip, executor.threads): clip for clip in clips}
        for _, result in completed(
            ray, waiting,
            failed=lambda clip, cause: cause,  # a bug in a task reads as it would locally
            lost=lambda clip, exc: WorkerError(
                f"{clip.sample_id}: its Ray task was lost {RAY_MAX_RETRIES + 1} times (a worker killed, out of memory "
                f"or a node gone: {exc})"
            ),
        ):
            on_done(result)
