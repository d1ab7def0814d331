"""Where the fold jobs of a bench grid run: in this process (`local`) or as Ray tasks (`ray`).

A Ray task runs `execute_job`, which trains one fold (occmer.bench.jobs) and writes its result
file atomically under OUT/folds/; the local executor runs it too, or, with `--batch-folds auto`,
`execute_batch`, which trains the folds of one (model, cell, seed) as one batched model and
writes the same files. So a grid gives the same files whichever executor ran it, and a rerun
of the command skips what any executor finished. Ray is an optional extra
(`pip install 'occmer[ray]'`) imported only when `--executor ray` is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from occmer.bench import models as bench_models
from occmer.bench.files import write_json_atomic
from occmer.bench.jobs import (
    CellPlan,
    Job,
    PendingJob,
    Settings,
    can_batch_folds,
    fold_groups,
    run_batched_jobs,
    run_job,
)
from occmer.errors import BenchError, ConfigError
from occmer.protocols import Fold
from occmer.ray_runtime import RAY_MAX_RETRIES, ExecutorChoice, completed, ray_session

BATCH_FOLDS = ("auto", "off")


@dataclass(frozen=True)
class JobDone:
    """What the driver learns when a fold finishes: where its result is and a line for the log."""

    path: str
    line: str


def execute_job(job: Job, plan: CellPlan, fold: Fold, settings: Settings, path: Path) -> JobDone:
    """Train and predict one fold, write its result file, and describe it in one line."""
    recipe = settings.model_recipe(job.model)  # the model's resolved recipe (docs/models.md)
    factory, loss_fn = bench_models.factory_and_loss(job.model, recipe.hparams)
    record = run_job(job, plan, fold, settings, factory, loss_fn, recipe)
    return _written(job, record, path)


def execute_batch(group: Sequence[PendingJob], settings: Settings) -> list[JobDone]:
    """Train the folds of one (model, cell, seed) as one batched model, then write each fold's result file."""
    model, plan = group[0].job.model, group[0].plan
    factory, loss_fn = bench_models.factory_and_loss(model, settings.model_recipe(model).hparams)
    records = run_batched_jobs([p.job for p in group], plan, [p.fold for p in group], settings, factory, loss_fn)
    return [_written(p.job, record, p.path) for p, record in zip(group, records, strict=True)]


def _written(job: Job, record: dict[str, Any], path: Path) -> JobDone:
    write_json_atomic(path, record)
    correct = float(np.mean(np.array(record["true"]) == np.array(record["pred"])))
    line = (f"{job.model} {job.cell.label} seed {job.seed} fold {job.fold}: {record['n_test']} test, "
            f"acc {correct:.2f}, {record['train_seconds']:.1f} s, {record['samples_per_s']:.0f} samples/s")
    if record.get("batched_folds"):
        line += f" (batched with {record['batched_folds'] - 1} other folds)"
    return JobDone(str(path), line)


@dataclass(frozen=True)
class ExecutorOptions(ExecutorChoice):
    """`--executor`, `--ray-address`, `--cpus-per-task`, `--gpus-per-task`, `--batch-folds`."""

    gpus_per_task: float = 0.0
    batch_folds: str = "off"  # "auto": the local executor trains supported folds of one (model, cell, seed) batched

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_folds not in BATCH_FOLDS:
            raise ConfigError(f"--batch-folds {self.batch_folds!r}: choose one of {', '.join(BATCH_FOLDS)}")
        if self.name == "local" and self.gpus_per_task:
            raise ConfigError("--gpus-per-task goes with --executor ray")
        if not 0 <= self.gpus_per_task <= 64:
            raise ConfigError(
                f"--gpus-per-task {self.gpus_per_task}: GPUs must be >= 0 (fractions such as 0.25 share one GPU "
                "between small models)"
            )


def run_local(pending: Sequence[PendingJob], settings: Settings, on_done: Callable[[JobDone], None],
              batch_folds: str = "off") -> None:
    """One fold after the other in this process; with `batch_folds="auto"`, supported folds in batched groups."""
    for group in local_groups(pending, settings, batch_folds):
        if len(group) == 1:
            item = group[0]
            on_done(execute_job(item.job, item.plan, item.fold, settings, item.path))
        else:
            for done in execute_batch(group, settings):
                on_done(done)


def local_groups(pending: Sequence[PendingJob], settings: Settings, batch_folds: str) -> list[list[PendingJob]]:
    """`pending` cut into groups trained together: the folds of one (model, cell, seed) when batching applies."""
    groups: list[list[PendingJob]] = []
    runs: dict[tuple[int, int], list[PendingJob]] = {}
    for item in pending:
        if batch_folds == "auto" and can_batch_folds(item.job.model, settings):
            key = (id(item.plan), item.job.seed)
            if key not in runs:
                runs[key] = []
                groups.append(runs[key])
            runs[key].append(item)
        else:
            groups.append([item])
    out: list[list[PendingJob]] = []
    for group in groups:
        if len(group) < 2:
            out.append(group)
            continue
        model = group[0].job.model
        factory, _ = bench_models.factory_and_loss(model, settings.model_recipe(model).hparams)
        size = fold_groups(group[0].plan, settings, factory, len(group))
        out.extend(group[i:i + size] for i in range(0, len(group), size))
    return out


def _ray_fold_task(job: Job, plan: CellPlan, fold: Fold, settings: Settings, path: str, threads: int) -> JobDone:
    """The body of one Ray task: the worker's torch uses the CPUs the task declared."""
    import torch

    torch.set_num_threads(max(1, threads))
    return execute_job(job, plan, fold, settings, Path(path))


def run_ray(pending: Sequence[PendingJob], settings: Settings, on_done: Callable[[JobDone], None],
            options: ExecutorOptions) -> None:
    """Every fold as a Ray task with its resources declared; results are written by the tasks.

    Each plan's arrays go to the object store once and are shared by its folds. A task whose
    worker dies is retried (`RAY_MAX_RETRIES`); an exception raised by occmer itself is not
    retried, since it would fail the same way again, and stops the run as the local executor does.
    """
    with ray_session(options.ray_address, BenchError) as ray:
        task = ray.remote(_ray_fold_task).options(
            num_cpus=options.cpus_per_task, num_gpus=options.gpus_per_task, max_retries=RAY_MAX_RETRIES,
            retry_exceptions=False,
        )
        plan_refs: dict[int, Any] = {}
        waiting: dict[Any, Job] = {}
        for item in pending:
            if id(item.plan) not in plan_refs:
                plan_refs[id(item.plan)] = ray.put(item.plan)
            ref = task.remote(item.job, plan_refs[id(item.plan)], item.fold, settings, str(item.path), options.threads)
            waiting[ref] = item.job
        for _, done in completed(
            ray, waiting,
            failed=lambda job, cause: BenchError(f"fold {job.key} failed in a Ray task: {cause}"),
            lost=lambda job, exc: BenchError(f"fold {job.key}: its Ray task was lost {RAY_MAX_RETRIES + 1} times ({exc})"),
        ):
            on_done(done)


def run_jobs(pending: Sequence[PendingJob], settings: Settings, on_done: Callable[[JobDone], None],
             options: ExecutorOptions) -> None:
    """Run `pending` with the chosen executor; `on_done` is called in the driver as each fold ends."""
    if not pending:
        return
    if options.name == "ray":
        run_ray(pending, settings, on_done, options)
    else:
        run_local(pending, settings, on_done, options.batch_folds)
