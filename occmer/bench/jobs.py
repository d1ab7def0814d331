"""The bench's jobs: what one fold of the grid is, and the code that trains (or evaluates) it.

A `Job` is one (model, cell, seed, fold) of a `CellPlan` under the run's `Settings`; `run_job`
trains one fold and `run_batched_jobs` the folds of one (model, cell, seed) as one batched
model (`--batch-folds auto`, where `can_batch_folds` allows it); both return the JSON record
of each fold. This module sits below the executors, which decide where jobs run, and the
runner, which plans the grid and writes the tables: it writes no file itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from occmer.bench.batched import BATCHED_MODELS, group_size, train_folds, unsupported_layer
from occmer.bench.checkpoints import find_checkpoint, load_into
from occmer.bench.conditions import ConditionData, region_occlusion
from occmer.bench.models import model_spec
from occmer.bench.recipes import Recipe, resolve_recipe, train_config
from occmer.bench.selection import LEAKY, SELECTIONS, is_leaky, selection_label
from occmer.bench.training import (
    FoldOutput,
    FoldTensors,
    LossFn,
    ModelFactory,
    TrainConfig,
    evaluate_fold,
    resolve_device,
    train_fold,
)
from occmer.errors import BenchError
from occmer.hashing import file_sha256
from occmer.protocols import Fold, Membership, carve_validation
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
    selection: str = "last"  # last | val | test-oracle (leaky): which epoch a fold reports (occmer.bench.selection)

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise BenchError(f"selection {self.selection!r} is not one of {', '.join(SELECTIONS)}")

    def identity(self) -> dict[str, Any]:
        out = asdict(self)
        out["train"].pop("device")
        out["hparams"] = dict(self.hparams)
        out.pop("overrides")  # what they changed shows in `train` and in the resolved recipes (check_resume)
        if is_leaky(self.selection):  # wherever the settings are shown, the leaky choice says what it is
            out["selection_label"] = selection_label(self.selection)
        return json.loads(json.dumps(out, sort_keys=True))

    def model_recipe(self, model: str) -> ModelRecipe:
        """The resolved recipe of `model`: training settings, hyper-parameters, inputs, validation and selection.

        An explicit `last` or `test-oracle` drops a recipe's validation subjects; `val` needs some.
        """
        recipe = resolve_recipe(model, self.recipe)
        hparams = {**{f"{model}.{k}": v for k, v in recipe.hparams.items()}, **self.hparams}
        val = self.val_subjects if "val_subjects" in self.overrides or recipe.val_subjects is None \
            else recipe.val_subjects
        explicit = "selection" in self.overrides
        if self.weights or self.selection == LEAKY or (explicit and self.selection == "last"):
            val = 0
        if self.selection == "val" and not val:
            raise BenchError(f"{model}: --selection val needs validation subjects: add --val-subjects K "
                             "(K subjects carved from each fold's training subjects)")
        selection = "last" if self.weights else self.selection if self.selection == LEAKY else ("val" if val else "last")
        return ModelRecipe(recipe, train_config(recipe, self.train, self.overrides), hparams, val, selection)


@dataclass(frozen=True)
class ModelRecipe:
    """A recipe resolved against the command line: what one model's folds actually use."""

    recipe: Recipe
    train: TrainConfig
    hparams: Mapping[str, Any]
    val_subjects: int
    selection: str = "last"

    def record(self) -> dict[str, Any]:
        out = self.recipe.record()
        train = asdict(self.train)
        train.pop("device")
        out.update(train)
        out["hparams"] = dict(self.hparams)
        out["val_subjects"] = self.val_subjects
        out["selection"] = self.selection
        return out


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
    folds_source: str = "computed"  # or "stored: /splits/<protocol> of FILES" (occmer.protocols.splits)



@dataclass(frozen=True, eq=False)
class PendingJob:
    """A job still to run, with its plan, its fold and the result file it writes."""

    job: Job
    plan: CellPlan
    fold: Fold
    path: Path


def fold_tensors(data: ConditionData, codes: np.ndarray, positions: np.ndarray) -> FoldTensors:
    """The rows `positions` of one condition's arrays, with their class codes, as a fold side."""
    return FoldTensors(
        x=data.x[positions], y=codes[positions],
        regions=None if data.regions is None else data.regions[positions],
        occlusion=data.occlusion[positions],
        points=None if data.points is None else data.points[positions],
    )


def run_job(job: Job, plan: CellPlan, fold: Fold, settings: Settings, factory: ModelFactory, loss_fn: LossFn,
            recipe: ModelRecipe | None = None) -> dict[str, Any]:
    """Train (or, with --weights, load) and predict one fold; the result as the JSON record written to disk."""
    recipe = recipe or settings.model_recipe(job.model)
    fold = carve_validation(fold, list(plan.train.table["subject"]), recipe.val_subjects, job.fold_seed)
    checkpoint = None
    if settings.weights:
        checkpoint = find_checkpoint(Path(settings.weights), job.fold)
        output: FoldOutput = evaluate_fold(
            factory, lambda model: load_into(model, checkpoint), fold_tensors(plan.test, plan.codes, fold.test),
            num_classes=len(plan.classes), config=recipe.train,
        )
    else:
        output = train_fold(
            factory, loss_fn,
            train=fold_tensors(plan.train, plan.codes, fold.train),
            test=fold_tensors(plan.test, plan.codes, fold.test),
            val=fold_tensors(plan.train, plan.codes, fold.val) if len(fold.val) else None,
            num_classes=len(plan.classes), config=recipe.train, seed=job.fold_seed, selection=recipe.selection,
        )
    return fold_record(job, plan, fold, output, settings, checkpoint, None if checkpoint else recipe.selection)


def can_batch_folds(model: str, settings: Settings) -> bool:
    """Whether `--batch-folds auto` trains this model's folds batched: a measured-faster model, CPU, no
    validation, and an optimiser the stacked one reproduces (AdamW; Adam takes the same steps only
    without weight decay, which Adam adds to the gradient and AdamW to the weights)."""
    recipe = settings.model_recipe(model)
    same_steps = recipe.train.optimizer == "adamw" or recipe.train.weight_decay == 0
    return (model in BATCHED_MODELS and recipe.val_subjects == 0 and not settings.weights and same_steps
            and resolve_device(recipe.train.device).type == "cpu")


def fold_groups(plan: CellPlan, settings: Settings, factory: ModelFactory, folds: int) -> int:
    """How many folds of `plan` train together (memory-bounded), or 1 when the model has an unsupported layer."""
    source = fold_tensors(plan.train, plan.codes, np.arange(min(len(plan.codes), 2)))
    probe = factory(len(plan.classes), int(source.x.shape[1]), int(source.x.shape[-1]))
    if unsupported_layer(probe) is not None:
        return 1
    return group_size(factory, source, len(plan.classes), settings.model_recipe(plan.model).train.batch_size, folds)


def run_batched_jobs(jobs: Sequence[Job], plan: CellPlan, folds: Sequence[Fold], settings: Settings,
                     factory: ModelFactory, loss_fn: LossFn) -> list[dict[str, Any]]:
    """Train the folds of one (model, cell, seed) as one batched model; one JSON record per fold, as `run_job`."""
    source = FoldTensors(x=plan.train.x, y=plan.codes, regions=plan.train.regions, occlusion=plan.train.occlusion,
                         points=plan.train.points)
    recipe = settings.model_recipe(plan.model)
    outputs = train_folds(
        factory, loss_fn, source, [fold.train for fold in folds],
        [fold_tensors(plan.test, plan.codes, fold.test) for fold in folds],
        num_classes=len(plan.classes), config=recipe.train,
        seeds=[job.fold_seed for job in jobs], selection=recipe.selection,
    )
    records = []
    for job, fold, output in zip(jobs, folds, outputs, strict=True):
        record = fold_record(job, plan, fold, output, settings, selection=recipe.selection)
        record["batched_folds"] = len(jobs)
        records.append(record)
    return records


def fold_record(job: Job, plan: CellPlan, fold: Fold, output: FoldOutput, settings: Settings,
                checkpoint: Path | None = None, selection: str | None = None) -> dict[str, Any]:
    """The JSON record of one fold: predictions, probabilities, extras, timing, the selection that chose
    the epoch and the per-epoch record (or the checkpoint it loaded)."""
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
    if selection is not None:
        record["selection"] = selection
    if output.record is not None:
        record["epoch_record"] = output.record.as_dict()
        record["epoch_record_seconds"] = round(output.record_seconds, 4)
    if checkpoint is not None:
        record["weights"] = {"path": str(checkpoint), "sha256": file_sha256(checkpoint)}
    if plan.test.points is not None and model_spec(job.model).uses_points:
        record["points"] = {"train": plan.train.landmark_source, "test": plan.test.landmark_source,
                            "grid": int(plan.test.x.shape[-1])}
    weights = output.extras.get("region_weights")
    if weights is not None and plan.test.regions is not None and weights.shape[1] == plan.test.regions.shape[1]:
        covered = region_occlusion(plan.test.regions[fold.test], plan.test.occlusion[fold.test])
        record["extras"]["region_occlusion"] = np.round(covered.astype(np.float64), 6).tolist()
    return record
