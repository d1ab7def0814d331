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
from occmer.bench.batched import BATCHED_MODELS, group_size, train_folds, unsupported_layer
from occmer.bench.checkpoints import file_sha256, find_checkpoint, load_into
from occmer.bench.conditions import ConditionData, choose_feature, file_checksum, load_condition, region_occlusion
from occmer.bench.executors import ExecutorOptions, JobDone, run_jobs
from occmer.bench.files import CONFIG_FILE, FOLDS_DIR, safe_name, write_json_atomic
from occmer.bench.recipes import Recipe, normalise_inputs, resolve_recipe, select_channels, train_config
from occmer.bench.report import render
from occmer.bench.training import FoldOutput, FoldTensors, TrainConfig, evaluate_fold, resolve_device, train_fold
from occmer.errors import BenchError, ConfigError
from occmer.labels import RULES_VARIANT
from occmer.progress import progress_bar
from occmer.protocols import Fold, Membership, carve_validation, check_disjoint, class_list, get_protocol
from occmer.protocols.splits import stored_folds
from occmer.seeding import stable_hash


@dataclass(frozen=True)
class Cell:
    """One table column: train on condition `train`, test on condition `test`."""

    train: str
    test: str

    @property
    def label(self) -> str:
        return self.train if self.train == self.test else f"{self.train}->{self.test}"


@dataclass(frozen=True)
class Settings:
    """Everything that changes the numbers: runs and shards merge only when these are equal."""

    protocol: str
    labels: str
    features: str | None
    train: TrainConfig
    hparams: Mapping[str, Any] = field(default_factory=dict)
    val_subjects: int = 0
    allow_partial: bool = False  # run a protocol short of its official list's clips (recorded)
    membership: str = "official"  # "official": the shipped list decides; "rules": the published rules on stored labels
    recipe: str = "default"
    overrides: tuple[str, ...] = ()  # options set on the command line: they beat the recipe's values
    weights: str | None = None  # a folder of per-fold checkpoints to evaluate instead of training

    def identity(self) -> dict[str, Any]:
        out = asdict(self)
        out["train"].pop("device")
        out["hparams"] = dict(self.hparams)
        out.pop("overrides")  # what they changed shows in `train` and in the resolved recipes (check_resume)
        return json.loads(json.dumps(out, sort_keys=True))

    def model_recipe(self, model: str) -> ModelRecipe:
        """The resolved recipe of `model`: training settings, hyper-parameters, inputs and validation."""
        recipe = resolve_recipe(model, self.recipe)
        hparams = {**{f"{model}.{k}": v for k, v in recipe.hparams.items()}, **self.hparams}
        val = self.val_subjects if "val_subjects" in self.overrides or recipe.val_subjects is None \
            else recipe.val_subjects
        return ModelRecipe(recipe, train_config(recipe, self.train, self.overrides), hparams,
                           0 if self.weights else val)


@dataclass(frozen=True)
class ModelRecipe:
    """A recipe resolved against the command line: what one model's folds actually use."""

    recipe: Recipe
    train: TrainConfig
    hparams: Mapping[str, Any]
    val_subjects: int

    def record(self) -> dict[str, Any]:
        out = self.recipe.record()
        train = asdict(self.train)
        train.pop("device")
        out.update(train)
        out["hparams"] = dict(self.hparams)
        out["val_subjects"] = self.val_subjects
        return out


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


@dataclass(frozen=True)
class Job:
    model: str
    cell: Cell
    seed: int
    fold: str

    @property
    def key(self) -> str:
        return f"{self.model}|{self.cell.label}|{self.seed}|{self.fold}"

    @property
    def fold_seed(self) -> int:
        """The seed of this job alone: independent of job order, shards and resumes."""
        return stable_hash(f"{self.seed}|{self.model}|{self.cell.label}|{self.fold}") % (2**31)


@dataclass
class CellPlan:
    """One (model, cell): its aligned train/test data, classes and folds."""

    model: str
    cell: Cell
    classes: list[str]
    folds: list[Fold]
    train: ConditionData
    test: ConditionData
    codes: np.ndarray  # int64 class index per row of `test.table`
    membership: Membership | None = None  # the protocol's membership report of the test condition
    folds_source: str = "computed"  # or "stored: /splits/<protocol> of FILES" (occmer.bench.splits)


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
    return out / FOLDS_DIR / safe_name(job.model) / safe_name(job.cell.label) / f"seed{job.seed}" / \
        f"{safe_name(job.fold)}.json"


def is_done(path: Path) -> bool:
    """A finished fold file: present and parseable (a torn file counts as not done)."""
    try:
        return "pred" in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def _fold_tensors(data: ConditionData, codes: np.ndarray, positions: np.ndarray) -> FoldTensors:
    return FoldTensors(
        x=data.x[positions], y=codes[positions],
        regions=None if data.regions is None else data.regions[positions],
        occlusion=data.occlusion[positions],
    )


def run_job(job: Job, plan: CellPlan, fold: Fold, settings: Settings, factory, loss_fn,
            recipe: ModelRecipe | None = None) -> dict[str, Any]:
    """Train (or, with --weights, load) and predict one fold; the result as the JSON record written to disk."""
    recipe = recipe or settings.model_recipe(job.model)
    fold = carve_validation(fold, list(plan.train.table["subject"]), recipe.val_subjects, job.fold_seed)
    checkpoint = None
    if settings.weights:
        checkpoint = find_checkpoint(Path(settings.weights), job.fold)
        output: FoldOutput = evaluate_fold(
            factory, lambda model: load_into(model, checkpoint), _fold_tensors(plan.test, plan.codes, fold.test),
            num_classes=len(plan.classes), config=recipe.train,
        )
    else:
        output = train_fold(
            factory, loss_fn,
            train=_fold_tensors(plan.train, plan.codes, fold.train),
            test=_fold_tensors(plan.test, plan.codes, fold.test),
            val=_fold_tensors(plan.train, plan.codes, fold.val) if len(fold.val) else None,
            num_classes=len(plan.classes), config=recipe.train, seed=job.fold_seed,
        )
    return fold_record(job, plan, fold, output, settings, checkpoint)


def can_batch_folds(model: str, settings: Settings) -> bool:
    """Whether `--batch-folds auto` trains this model's folds batched: a measured-faster model, CPU, no
    validation, and an optimiser the stacked one reproduces (AdamW; Adam takes the same steps only
    without weight decay, which Adam adds to the gradient and AdamW to the weights)."""
    recipe = settings.model_recipe(model)
    same_steps = recipe.train.optimizer == "adamw" or recipe.train.weight_decay == 0
    return (model in BATCHED_MODELS and recipe.val_subjects == 0 and not settings.weights and same_steps
            and resolve_device(recipe.train.device).type == "cpu")


def fold_groups(plan: CellPlan, settings: Settings, factory, folds: int) -> int:
    """How many folds of `plan` train together (memory-bounded), or 1 when the model has an unsupported layer."""
    source = _fold_tensors(plan.train, plan.codes, np.arange(min(len(plan.codes), 2)))
    probe = factory(len(plan.classes), int(source.x.shape[1]), int(source.x.shape[-1]))
    if unsupported_layer(probe) is not None:
        return 1
    return group_size(factory, source, len(plan.classes), settings.model_recipe(plan.model).train.batch_size, folds)


def run_batched_jobs(jobs: Sequence[Job], plan: CellPlan, folds: Sequence[Fold], settings: Settings, factory,
                     loss_fn) -> list[dict[str, Any]]:
    """Train the folds of one (model, cell, seed) as one batched model; one JSON record per fold, as `run_job`."""
    source = FoldTensors(x=plan.train.x, y=plan.codes, regions=plan.train.regions, occlusion=plan.train.occlusion)
    outputs = train_folds(
        factory, loss_fn, source, [fold.train for fold in folds],
        [_fold_tensors(plan.test, plan.codes, fold.test) for fold in folds],
        num_classes=len(plan.classes), config=settings.model_recipe(plan.model).train,
        seeds=[job.fold_seed for job in jobs],
    )
    records = []
    for job, fold, output in zip(jobs, folds, outputs, strict=True):
        record = fold_record(job, plan, fold, output, settings)
        record["batched_folds"] = len(jobs)
        records.append(record)
    return records


def fold_record(job: Job, plan: CellPlan, fold: Fold, output: FoldOutput, settings: Settings,
                checkpoint: Path | None = None) -> dict[str, Any]:
    """The JSON record of one fold: predictions, probabilities, extras, timing (and the checkpoint it loaded)."""
    table = plan.test.table.iloc[fold.test]
    predicted = output.probabilities.argmax(axis=1)
    record: dict[str, Any] = {
        "model": job.model, "train_condition": job.cell.train, "test_condition": job.cell.test,
        "condition": job.cell.label, "seed": job.seed, "fold": job.fold, "fold_seed": job.fold_seed,
        "classes": plan.classes, "sample_id": list(table["sample_id"]), "database": list(table["database"]),
        "subject": list(table["subject"]), "true": list(table["label"]),
        "pred": [plan.classes[i] for i in predicted],
        "probabilities": np.round(output.probabilities.astype(np.float64), 6).tolist(),
        "n_train": int(len(fold.train)), "n_val": int(len(fold.val)), "n_test": int(len(fold.test)),
        "epochs": output.epochs, "train_seconds": round(output.train_seconds, 4),
        "samples_per_s": round(output.samples_per_s, 2), "device": str(resolve_device(settings.train.device)),
        "extras": {k: np.round(v.astype(np.float64), 6).tolist() for k, v in output.extras.items()},
    }
    if checkpoint is not None:
        record["weights"] = {"path": str(checkpoint), "sha256": file_sha256(checkpoint)}
    weights = output.extras.get("region_weights")
    if weights is not None and plan.test.regions is not None and weights.shape[1] == plan.test.regions.shape[1]:
        covered = region_occlusion(plan.test.regions[fold.test], plan.test.occlusion[fold.test])
        record["extras"]["region_occlusion"] = np.round(covered.astype(np.float64), 6).tolist()
    return record


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


ConditionLoader = Callable[[str, Sequence[Path], str, str, bool], ConditionData]


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
    checksums = {name: [{"path": str(p), "sha256": file_checksum(Path(p))} for p in files]
                 for name, files in request.conditions.items()}
    specs = {model: bench_models.model_spec(model) for model in request.models}
    recipes = {model: settings.model_recipe(model) for model in request.models}
    previous = check_resume(out, settings, checksums, {m: r.record() for m, r in recipes.items()})
    cells = plan_cells(list(request.conditions), request.train_on, request.test_on)

    cache: dict[tuple[str, str], ConditionData] = {}
    plans = []
    with_regions = any(spec.uses_regions for spec in specs.values())
    for model, spec in specs.items():
        for cell in cells:
            loaded = {}
            for name in (cell.train, cell.test):
                files = [Path(p) for p in request.conditions[name]]
                feature = choose_feature(files, spec.input_size, settings.features)
                if (name, feature) not in cache:
                    cache[(name, feature)] = loader(name, files, scheme, feature, with_regions)
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
    pending = [(job, plan, fold, fold_path(out.resolve(), job)) for job, plan, fold in todo]
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
