"""Plan and run a benchmark grid: models x conditions x seeds x folds, resumable and shardable.

Every fold is one job whose result is written atomically to
OUT/folds/<model>/<condition>/seed<S>/<fold>.json. Rerunning the same command skips
finished jobs; `--folds i/n` runs every n-th job, so shards on several machines write disjoint
files that `occmer report` merges. Each job's seed is derived from (seed, model,
condition, fold) alone, so a job gives the same numbers whichever shard or rerun runs it.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import sklearn
import torch

from occmer import __version__
from occmer.bench import models as bench_models
from occmer.bench.conditions import ConditionData, choose_feature, load_condition
from occmer.bench.executors import ExecutorOptions, JobDone, run_jobs
from occmer.bench.files import CONFIG_FILE, FOLDS_DIR, fold_record_path, write_json_atomic
from occmer.bench.jobs import Cell, CellPlan, Job, PendingJob, Settings
from occmer.bench.recipes import Recipe, normalise_inputs, select_channels
from occmer.bench.report import render
from occmer.bench.training import resolve_device
from occmer.errors import BenchError, ConfigError
from occmer.hashing import file_sha256
from occmer.labels import RULES_VARIANT
from occmer.progress import progress_bar
from occmer.protocols import Fold, check_disjoint, class_list, get_protocol
from occmer.protocols.splits import stored_folds


@dataclass(frozen=True)
class Shard:
    """`--folds i/n`: this process runs jobs i-1, i-1+n, i-1+2n, ... of the sorted job list."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            i, n = (int(part) for part in text.split("/"))
        except ValueError:
            raise ConfigError(f"--folds {text!r}: write it as i/n, e.g. 2/4 for the second of four shards") from None
        if not 1 <= i <= n:
            raise ConfigError(f"--folds {text!r}: i must be between 1 and n")
        return cls(i, n)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"



def plan_cells(conditions: Sequence[str], train_on: Sequence[str] = (), test_on: Sequence[str] = ()) -> list[Cell]:
    """Same-condition cells by default; with --train-on/--test-on every (train, test) pair of the lists."""
    unknown = [c for c in (*train_on, *test_on) if c not in conditions]
    if unknown:
        raise ConfigError(f"--train-on/--test-on {unknown[0]!r} is not a condition; known: {', '.join(conditions)}")
    if not train_on and not test_on:
        return [Cell(c, c) for c in conditions]
    return [Cell(tr, te) for tr in (train_on or conditions) for te in (test_on or conditions)]


def plan_cell(model: str, cell: Cell, train: ConditionData, test: ConditionData, settings: Settings,
              scheme: str) -> CellPlan:
    """Select the protocol's samples on the test condition, align the train condition to them, build folds."""
    protocol = get_protocol(settings.protocol)
    same = train is test
    official = settings.membership == "official"
    membership = protocol.membership(test.table) if official else None
    selected = protocol.select(test.table, allow_partial=settings.allow_partial or not official)
    test = test.take(list(selected["sample_id"]))
    train = test if same else train.take(list(selected["sample_id"]))
    differs = train.table["label"].to_numpy() != test.table["label"].to_numpy()
    if differs.any():
        sid = test.table["sample_id"].iloc[int(np.argmax(differs))]
        raise BenchError(f"sample {sid} has label {train.table['label'].iloc[int(np.argmax(differs))]!r} in condition "
                         f"{cell.train} but a different one in {cell.test}; the files are not of the same clips")
    classes = class_list(scheme, list(test.table["label"]))
    if len(classes) < 2:
        raise BenchError(f"condition {cell.test}: only one class ({classes}) under --labels {scheme}; nothing to learn")
    stored = stored_folds(test.files, protocol, scheme, test.table)
    folds, folds_source = stored if stored is not None else (protocol.folds(test.table), "computed")
    check_disjoint(folds, list(test.table["subject"]))
    lookup = {c: i for i, c in enumerate(classes)}
    codes = np.array([lookup[label] for label in test.table["label"]], dtype=np.int64)
    return CellPlan(model, cell, classes, folds, train, test, codes, membership, folds_source)


def fold_path(out: Path, job: Job) -> Path:
    return fold_record_path(out, job.model, job.cell.label, job.seed, job.fold)


def is_done(path: Path) -> bool:
    """A finished fold file: present and parseable (a torn file counts as not done)."""
    try:
        return "pred" in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False



def all_jobs(plans: Sequence[CellPlan], seeds: Sequence[int], max_folds: int | None) -> list[tuple[Job, CellPlan, Fold]]:
    """Every job of the grid in a fixed order (model, cell, seed, fold), before sharding."""
    jobs = []
    for plan in plans:
        for seed in seeds:
            for fold in plan.folds[:max_folds]:
                jobs.append((Job(plan.model, plan.cell, int(seed), fold.name), plan, fold))
    return jobs


def versions() -> dict[str, str]:
    return {
        "occmer": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": np.__version__, "pandas": pd.__version__, "scikit-learn": sklearn.__version__,
        "h5py": h5py.__version__, "cuda": str(torch.version.cuda), "platform": platform.platform(),
    }


def device_description(name: str) -> str:
    device = resolve_device(name)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _device_text(device: str, executor: ExecutorOptions) -> str:
    if executor.name == "ray":
        return (f"{device} on Ray workers ({executor.cpus_per_task:g} CPU, {executor.gpus_per_task:g} GPU per task, "
                f"cluster {executor.ray_address or 'local'})")
    return device_description(device)


def check_resume(out: Path, settings: Settings, conditions: Mapping[str, Sequence[Mapping[str, str]]],
                 recipes: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any] | None:
    """The previous config of OUT (its finished folds will be kept), or None for a new directory.

    Rerunning the same command continues the run; a BenchError when OUT holds a run with other
    settings or other data files, since mixing them would corrupt the table.
    """
    config_path = out / CONFIG_FILE
    if not config_path.exists():
        if (out / FOLDS_DIR).exists() and any((out / FOLDS_DIR).rglob("*.json")):
            raise BenchError(f"{out} holds fold results but no {CONFIG_FILE}; pick a new --out")
        return None
    previous = json.loads(config_path.read_text(encoding="utf-8"))
    if previous.get("settings") != settings.identity():
        old, new = previous.get("settings", {}), settings.identity()
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise BenchError(f"{out} holds a run with different settings ({', '.join(keys)}); rerun with the same "
                         "options to continue it, or pick a new --out")
    for model, recipe in (recipes or {}).items():
        old = previous.get("recipes", {}).get(model)
        if old is not None and old != json.loads(json.dumps(recipe)):
            keys = sorted(k for k in set(old) | set(recipe) if old.get(k) != recipe.get(k))
            raise BenchError(f"{out} holds a run of {model} with a different recipe ({', '.join(keys)}); rerun with "
                             "the same options to continue it, or pick a new --out")
    for name, files in conditions.items():
        old_files = previous.get("conditions", {}).get(name)
        if old_files is not None and [f["sha256"] for f in old_files] != [f["sha256"] for f in files]:
            raise BenchError(f"{out}: condition {name} was run on different data files; pick a new --out")
    return previous


def build_config(settings: Settings, scheme: str, models: Sequence[str], cells: Sequence[Cell], seeds: Sequence[int],
                 conditions: Mapping[str, Sequence[Mapping[str, str]]], plans: Sequence[CellPlan],
                 max_folds: int | None, shard: Shard, previous: Mapping[str, Any] | None,
                 executor: ExecutorOptions | None = None) -> dict[str, Any]:
    """config.json: every setting, versions, data checksums and the planned folds (merged with a resumed run)."""
    plan_entries = dict((previous or {}).get("plan", {}))
    for plan in plans:
        plan_entries[f"{plan.model}|{plan.cell.label}"] = {
            "model": plan.model, "train": plan.cell.train, "test": plan.cell.test, "condition": plan.cell.label,
            "classes": plan.classes, "folds": [f.name for f in plan.folds[:max_folds]],
            "folds_source": plan.folds_source,
            "n_samples": int(len(plan.test.table)), "databases": sorted(set(plan.test.table["database"])),
            "feature": plan.test.feature, "channels": list(plan.test.channels),
            "membership": plan.membership.as_dict() if plan.membership is not None else None,
        }
    previous_seeds = set((previous or {}).get("seeds", []))
    return {
        "format": "occmer-bench", "version": 1,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "settings": settings.identity(), "label_scheme": scheme,
        "device": _device_text(settings.train.device, executor or ExecutorOptions()), "versions": versions(),
        "executor": asdict(executor or ExecutorOptions()),
        "models": list(dict.fromkeys([*(previous or {}).get("models", []), *models])),
        "cells": [{"train": c.train, "test": c.test, "condition": c.label} for c in cells],
        "seeds": sorted(previous_seeds | {int(s) for s in seeds}),
        "conditions": {**(previous or {}).get("conditions", {}), **{k: list(v) for k, v in conditions.items()}},
        "max_folds": max_folds, "shard": str(shard), "plan": plan_entries,
    }


@dataclass
class BenchRequest:
    """One `occmer bench` invocation: what to run and where."""

    models: Sequence[str]
    conditions: Mapping[str, Sequence[Path]]
    settings: Settings
    out: Path
    seeds: Sequence[int] = (0,)
    train_on: Sequence[str] = ()
    test_on: Sequence[str] = ()
    max_folds: int | None = None
    shard: Shard = field(default_factory=Shard)
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)


ConditionLoader = Callable[[str, Sequence[Path], str, str, bool, bool], ConditionData]


def run_bench(request: BenchRequest, *, loader: ConditionLoader | None = None, progress: bool = True,
              echo: Callable[[str], None] = print, html: bool = True) -> Path:
    """Run (or resume) every job of the grid this shard owns, then render the report into OUT
    (with report.html unless `html` is False)."""
    loader = loader or load_condition
    request.executor.check_available()  # Ray installed and its head reachable, before any data is read
    settings = request.settings
    protocol = get_protocol(settings.protocol)
    scheme = resolve_scheme(protocol.label_scheme, settings.labels)
    if settings.membership == "rules":
        scheme = RULES_VARIANT.get(scheme, scheme)
    elif settings.membership != "official":
        raise ConfigError(f"unknown membership {settings.membership!r}; choose official or rules")
    on_workers = request.executor.name == "ray" and request.executor.gpus_per_task > 0
    if not on_workers:  # with GPUs on Ray workers the driver itself may have none
        resolve_device(settings.train.device)
    out = Path(request.out)
    checksums = {name: [{"path": str(p), "sha256": file_sha256(Path(p))} for p in files]
                 for name, files in request.conditions.items()}
    specs = {model: bench_models.model_spec(model) for model in request.models}
    recipes = {model: settings.model_recipe(model) for model in request.models}
    previous = check_resume(out, settings, checksums, {m: r.record() for m, r in recipes.items()})
    cells = plan_cells(list(request.conditions), request.train_on, request.test_on)

    cache: dict[tuple[str, str], ConditionData] = {}
    plans = []
    with_regions = any(spec.uses_regions for spec in specs.values())
    with_points = any(spec.uses_points for spec in specs.values())
    for model, spec in specs.items():
        for cell in cells:
            loaded = {}
            for name in (cell.train, cell.test):
                files = [Path(p) for p in request.conditions[name]]
                feature = choose_feature(files, spec.input_size, settings.features, spec.input_maps)
                if (name, feature) not in cache:
                    cache[(name, feature)] = loader(name, files, scheme, feature, with_regions, with_points)
                loaded[name] = cache[(name, feature)]
            check_database_names(loaded[cell.test])
            plan = plan_cell(model, cell, loaded[cell.train], loaded[cell.test], settings, scheme)
            plans.append(recipe_inputs(plan, recipes[model].recipe))

    reported: set[str] = set()
    for plan in plans:
        if plan.cell.test not in reported:
            reported.add(plan.cell.test)
            for line in plan.membership.lines() if plan.membership is not None else []:
                echo(f"{plan.cell.test}: {line}")
            echo(f"{plan.cell.test}: folds {plan.folds_source}")
    config = build_config(settings, scheme, request.models, cells, request.seeds, checksums, plans,
                          request.max_folds, request.shard, previous, request.executor)
    config["recipes"] = {**(previous or {}).get("recipes", {}), **{m: r.record() for m, r in recipes.items()}}
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / CONFIG_FILE, config)

    jobs = all_jobs(plans, request.seeds, request.max_folds)
    mine = [j for i, j in enumerate(jobs) if i % request.shard.count == request.shard.index - 1]
    todo = [j for j in mine if not is_done(fold_path(out, j[0]))]
    echo(f"{len(jobs)} folds in the grid, {len(mine)} in shard {request.shard}, {len(mine) - len(todo)} already done; "
         f"device {config['device']}")
    pending = [PendingJob(job, plan, fold, fold_path(out.resolve(), job)) for job, plan, fold in todo]
    with progress_bar(len(todo), "folds", "fold", enabled=progress) as bar:

        def finished(done: JobDone) -> None:
            if bar.enabled:
                bar.write(done.line)
            else:
                echo(done.line)
            bar.update(1)

        run_jobs(pending, settings, finished, request.executor)
    render([out], out, echo=echo, html=html)
    return out


def check_database_names(data: ConditionData) -> None:
    """Refuse databases occmer does not know: a protocol's selection would drop their samples silently."""
    from occmer.databases import DATABASES

    unknown = sorted(set(data.table["database"].astype(str)) - set(DATABASES))
    if unknown:
        raise BenchError(
            f"condition {data.name} ({', '.join(data.files)}): database {unknown[0]!r} is not an occmer database "
            f"name ({', '.join(sorted(DATABASES))}); a protocol would drop its samples. Re-import the file with "
            f"--db-map {unknown[0]}=NAME (e.g. smic=smic-hs)"
        )


def recipe_inputs(plan: CellPlan, recipe: Recipe) -> CellPlan:
    """The plan with its inputs in the channel order and normalisation the recipe feeds the model."""
    if recipe.channels is None and recipe.input_normalisation == "as-stored":
        return plan

    def convert(data: ConditionData) -> ConditionData:
        x = select_channels(data.x, data.channels, recipe.channels, f"condition {data.name} ({data.feature})")
        return replace(data, x=normalise_inputs(x, recipe.input_normalisation),
                       channels=tuple(recipe.channels or data.channels))

    train = convert(plan.train)
    test = train if plan.test is plan.train else convert(plan.test)
    return replace(plan, train=train, test=test)


def resolve_scheme(forced: str | None, requested: str | None) -> str:
    """The label scheme: the protocol's own when it fixes one (a different --labels is an error)."""
    if forced is None:
        return requested or "emotion"
    if requested not in (None, forced):
        raise ConfigError(f"this protocol uses --labels {forced}; drop --labels {requested} or pick --protocol loso")
    return forced
