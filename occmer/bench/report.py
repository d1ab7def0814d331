"""Tables, metrics and plots from finished fold files, merged over run directories (shards).

`render(dirs, out)` is all `occmer report` does; `occmer bench` calls it at the end. The
scores are recomputed from the per-fold predictions every time, so a report of shards
equals the report of one run that did every fold. Where the folds kept their per-epoch
predictions, the report also gives what selecting each fold's epoch on its test subject (the
published protocol of HTNet and others) would have reported, beside the honest number.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from occmer.bench.evidence import evidence_lines
from occmer.bench.files import CONFIG_FILE, FOLDS_DIR, fold_record_path, write_json_atomic
from occmer.bench.metrics import METRIC_NAMES, Scores, macro_scores_of_codes, mean_std, score
from occmer.bench.selection import LEAKY, LEAKY_LABEL, EpochRecord, is_leaky, oracle_epoch, selection_label
from occmer.errors import BenchError


@dataclass
class Run:
    """The merged view of one or more run directories."""

    config: dict[str, Any]
    records: list[dict[str, Any]]
    dirs: list[str]


@dataclass
class CellSummary:
    """Scores of one (model, condition): per seed, per database, and mean/std over seeds."""

    model: str
    condition: str
    train: str
    test: str
    classes: list[str]
    folds_expected: int
    folds_done: dict[int, int]
    per_seed: dict[int, Scores]
    by_database: dict[str, dict[int, Scores]] = field(default_factory=dict)
    selection: str = "last"  # which epoch the folds report (occmer.bench.selection)

    @property
    def complete_seeds(self) -> list[int]:
        return [s for s, n in self.folds_done.items() if n >= self.folds_expected]

    @property
    def complete(self) -> bool:
        return bool(self.folds_done) and len(self.complete_seeds) == len(self.folds_done)

    def used_seeds(self) -> list[int]:
        """Seeds whose every fold is done; all seeds found when none is complete (marked partial)."""
        return self.complete_seeds or sorted(self.per_seed)

    def stat(self, metric: str, database: str | None = None) -> tuple[float, float]:
        source = self.per_seed if database is None else self.by_database.get(database, {})
        return mean_std([getattr(source[s], metric) for s in self.used_seeds() if s in source])


def merge_configs(configs: Sequence[dict[str, Any]], dirs: Sequence[str]) -> dict[str, Any]:
    """One config for several directories; BenchError when their settings or data differ."""
    base = json.loads(json.dumps(configs[0]))
    for config, directory in zip(configs[1:], dirs[1:], strict=True):
        if config.get("settings") != base.get("settings"):
            a, b = base.get("settings", {}), config.get("settings", {})
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            leaky = " (one of them was " + LEAKY_LABEL + ")" if LEAKY in (a.get("selection"), b.get("selection")) else ""
            raise BenchError(f"{directory} was run with different settings than {dirs[0]} ({', '.join(keys)}){leaky}; "
                             "only shards of the same run can be merged")
        for name, files in config.get("conditions", {}).items():
            known = base["conditions"].get(name)
            if known is not None and [f["sha256"] for f in known] != [f["sha256"] for f in files]:
                raise BenchError(f"{directory}: condition {name} used other data files than {dirs[0]}; cannot merge")
            base["conditions"].setdefault(name, files)
        base["models"] = list(dict.fromkeys([*base["models"], *config.get("models", [])]))
        labels = [c["condition"] for c in base["cells"]]
        base["cells"] += [c for c in config.get("cells", []) if c["condition"] not in labels]
        base["seeds"] = sorted(set(base["seeds"]) | set(config.get("seeds", [])))
        for key, entry in config.get("plan", {}).items():
            base["plan"].setdefault(key, entry)
    return base


def load_run(dirs: Sequence[Path]) -> Run:
    """Configs and fold records of `dirs`; a fold found in two directories counts once."""
    configs = []
    for directory in dirs:
        path = Path(directory) / CONFIG_FILE
        if not path.exists():
            raise BenchError(f"{directory}: no {CONFIG_FILE}; pass the --out folder of an `occmer bench` run")
        configs.append(_read_config(path))
    try:
        config = merge_configs(configs, [str(d) for d in dirs])
    except (KeyError, TypeError, AttributeError) as exc:
        raise BenchError(f"{dirs[0]}/{CONFIG_FILE} (or a shard's) lacks {exc} or has the wrong shape; "
                         "it was not written by `occmer bench`: rerun the bench") from exc
    records, seen, scored = [], {}, {}
    for directory in dirs:
        for fold_file in sorted((Path(directory) / FOLDS_DIR).rglob("*.json")):
            record = _read_fold(fold_file)
            key = _fold_key(record, fold_file)
            if key in seen:
                if seen[key]["pred"] != record["pred"]:
                    raise BenchError(f"fold {key} has different predictions in two directories ({fold_file}); "
                                     "were they run with the same code and device?")
                continue
            _check_fold(record, fold_file, config, scored)
            seen[key] = record
            records.append(record)
    return Run(config=config, records=records, dirs=[str(d) for d in dirs])


def _read_config(path: Path) -> dict[str, Any]:
    """config.json of a run directory, or a BenchError naming it."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BenchError(f"{path} cannot be read as JSON ({exc}); restore it or rerun `occmer bench`") from exc
    if not isinstance(config, dict) or not isinstance(config.get("conditions", {}), dict):
        raise BenchError(f"{path} is not a bench config (a JSON object with settings and conditions)")
    return config


FOLD_KEYS = {"model": str, "condition": str, "train_condition": str, "test_condition": str, "seed": int,
             "fold": str, "classes": list, "sample_id": list, "database": list, "subject": list, "pred": list,
             "true": list, "probabilities": list}


def _fold_key(record: Any, fold_file: Path) -> tuple[str, str, int, str]:
    """(model, condition, seed, fold) of a fold record, or a BenchError naming the file."""
    if not isinstance(record, dict):
        raise BenchError(f"{fold_file} is not a fold record (a JSON object); delete it to rerun that fold")
    for key, kind in FOLD_KEYS.items():
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            raise BenchError(f"{fold_file}: field {key!r} is missing or not a {kind.__name__}; "
                             "delete the file to rerun that fold")
    n = len(record["sample_id"])
    if any(len(record[k]) != n for k in ("database", "subject", "pred", "true", "probabilities")):
        raise BenchError(f"{fold_file}: the per-sample lists (sample_id, pred, true, ...) differ in length; "
                         "delete the file to rerun that fold")
    return record["model"], record["condition"], record["seed"], record["fold"]


# ---------------------------------------------------------------- fold-file checks (issue 27)


def _read_fold(fold_file: Path) -> Any:
    """A fold file's JSON; bench writes them atomically, so one that does not parse is not bench's."""
    try:
        return json.loads(fold_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BenchError(f"{fold_file} cannot be read as a fold record ({exc}); delete it to rerun that fold") from None


def _check_fold(record: dict[str, Any], fold_file: Path, config: dict[str, Any],
                scored: dict[tuple[str, str, int, str], str]) -> None:
    """Refuse a fold whose labels are not the run's classes, or whose samples another fold already scored
    (one subject counted twice, another never). `scored`: (model, condition, seed, sample) -> fold."""
    entry = config.get("plan", {}).get(f"{record['model']}|{record['condition']}") or {}
    classes = entry.get("classes") if isinstance(entry, dict) else None
    allowed = set(classes) if isinstance(classes, list) else set(record["classes"])
    for field_name in ("pred", "true"):
        unknown = sorted({str(v) for v in record[field_name] if v not in allowed})
        if unknown:
            raise BenchError(f"{fold_file}: {field_name} holds {', '.join(unknown)}, not a class of this run "
                             f"({', '.join(sorted(map(str, allowed)))}); delete the file to rerun that fold")
    for sid in record["sample_id"]:
        key = (record["model"], record["condition"], record["seed"], str(sid))
        other = scored.setdefault(key, record["fold"])
        if other != record["fold"]:
            raise BenchError(f"{fold_file}: sample {sid} is scored in two folds ({other} and {record['fold']}); "
                             "a fold file holds its held-out subject's samples only: delete the file to rerun "
                             "that fold")


def predictions_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (model, condition, seed, sample): fold, true, predicted and class probabilities."""
    rows = []
    for record in records:
        for i, sid in enumerate(record["sample_id"]):
            row = {
                "model": record["model"], "condition": record["condition"], "train_condition": record["train_condition"],
                "test_condition": record["test_condition"], "seed": record["seed"], "fold": record["fold"],
                "sample_id": sid, "database": record["database"][i], "subject": record["subject"][i],
                "true": record["true"][i], "predicted": record["pred"][i],
            }
            for cls, p in zip(record["classes"], record["probabilities"][i], strict=True):
                row[f"p_{cls}"] = p
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values(["model", "condition", "seed", "fold", "sample_id"], kind="stable").reset_index(drop=True)


def _cell_records(run: Run) -> dict[tuple[str, str], dict[int, list[dict[str, Any]]]]:
    """Fold records per (model, condition) and seed, in the order they were loaded."""
    grouped: dict[tuple[str, str], dict[int, list[dict[str, Any]]]] = {}
    for record in run.records:
        grouped.setdefault((record["model"], record["condition"]), {}).setdefault(int(record["seed"]), []).append(record)
    return grouped


def summarise(run: Run) -> list[CellSummary]:
    """Pooled scores per (model, condition, seed) and per database, in plan order."""
    grouped = _cell_records(run)
    summaries = []
    for entry in _ordered_plan(run.config):
        by_seed = grouped.get((entry["model"], entry["condition"]), {})
        summary = CellSummary(
            model=entry["model"], condition=entry["condition"], train=entry["train"], test=entry["test"],
            classes=entry["classes"], folds_expected=len(entry["folds"]),
            folds_done={s: len({r["fold"] for r in by_seed.get(s, []) if r["fold"] in entry["folds"]})
                        for s in sorted(set(run.config.get("seeds", [])) | set(by_seed))},
            per_seed={}, selection=model_selection(run.config, entry["model"]),
        )
        for seed, recs in sorted(by_seed.items()):
            recs = [r for r in recs if r["fold"] in entry["folds"]]
            if not recs:
                continue
            true = [t for r in recs for t in r["true"]]
            pred = [p for r in recs for p in r["pred"]]
            databases = np.array([d for r in recs for d in r["database"]])
            summary.per_seed[seed] = score(true, pred, entry["classes"])
            if len(set(databases)) > 1:
                for db in sorted(set(databases)):
                    keep = databases == db
                    summary.by_database.setdefault(db, {})[seed] = score(
                        np.array(true)[keep], np.array(pred)[keep], entry["classes"])
        summaries.append(summary)
    return summaries


def model_selection(config: dict[str, Any], model: str) -> str:
    """The epoch selection a model's folds used: its resolved recipe's (runs before the record: val or last)."""
    recipe = (config.get("recipes") or {}).get(model) or {}
    if recipe.get("selection"):
        return recipe["selection"]
    settings = config.get("settings", {})
    if settings.get("selection") == LEAKY:
        return LEAKY
    return "val" if recipe.get("val_subjects", settings.get("val_subjects")) else "last"


@dataclass
class SelectionGap:
    """One (model, condition): the honest number beside the test-oracle's, both from the same run's folds.

    `honest` is the run's own selection (last or val); in a run that itself selected on the test
    subject it is the last epoch, read from the per-epoch record. `oracle` picks, for every fold,
    the epoch with the best accuracy on its test subject (ties: the latest), as HTNet does.
    """

    model: str
    condition: str
    selection: str  # the run's own
    honest_name: str  # last or val
    honest: dict[int, Scores]
    oracle: dict[int, Scores]
    honest_by_database: dict[str, dict[int, Scores]] = field(default_factory=dict)
    oracle_by_database: dict[str, dict[int, Scores]] = field(default_factory=dict)
    curve: dict[int, np.ndarray] = field(default_factory=dict)  # seed -> UF1 per epoch, pooled over folds
    honest_epochs: list[int] = field(default_factory=list)  # per fold (every seed)
    oracle_epochs: list[int] = field(default_factory=list)

    def stat(self, metric: str, which: str, database: str | None = None) -> tuple[float, float]:
        if database is None:
            source = self.honest if which == "honest" else self.oracle
        else:
            source = (self.honest_by_database if which == "honest" else self.oracle_by_database).get(database, {})
        return mean_std([getattr(v, metric) for v in source.values()])

    def gap(self, metric: str, database: str | None = None) -> float:
        return self.stat(metric, "oracle", database)[0] - self.stat(metric, "honest", database)[0]

    def as_dict(self) -> dict[str, Any]:
        def block(per_seed: dict[int, Scores], by_db: dict[str, dict[int, Scores]]) -> dict[str, Any]:
            return {"seeds": {str(k): v.as_dict() for k, v in per_seed.items()},
                    "by_database": {db: {str(k): v.as_dict() for k, v in seeds.items()} for db, seeds in by_db.items()},
                    "mean": {m: mean_std([getattr(v, m) for v in per_seed.values()])[0] for m in METRIC_NAMES}}

        return {"honest_selection": self.honest_name, "honest_label": selection_label(self.honest_name),
                "honest": block(self.honest, self.honest_by_database),
                "test_oracle_label": selection_label(LEAKY), "test_oracle": block(self.oracle, self.oracle_by_database),
                "gap": {m: self.gap(m) for m in ("uf1", "uar")},
                "gap_by_database": {db: {m: self.gap(m, db) for m in ("uf1", "uar")} for db in self.oracle_by_database},
                "oracle_epochs": self.oracle_epochs, "honest_epochs": self.honest_epochs,
                "uf1_per_epoch": {str(k): [round(float(v), 6) for v in curve] for k, curve in self.curve.items()}}


def selection_gaps(run: Run, summaries: Sequence[CellSummary]) -> list[SelectionGap]:
    """For every cell whose folds all carry the per-epoch record: honest and test-oracle scores, learning curves."""
    grouped = _cell_records(run)
    plan = {(e["model"], e["condition"]): e for e in run.config.get("plan", {}).values()}
    gaps = []
    for s in summaries:
        folds = plan[(s.model, s.condition)]["folds"]
        by_seed = {seed: [r for r in grouped.get((s.model, s.condition), {}).get(seed, []) if r["fold"] in folds]
                   for seed in s.used_seeds()}
        records = [r for recs in by_seed.values() for r in recs]
        if not records or any("epoch_record" not in r for r in records):
            continue
        gaps.append(_cell_gap(s, by_seed))
    return gaps


def _cell_gap(s: CellSummary, by_seed: dict[int, list[dict[str, Any]]]) -> SelectionGap:
    lookup = {c: i for i, c in enumerate(s.classes)}
    honest_name = "last" if is_leaky(s.selection) else s.selection
    gap = SelectionGap(s.model, s.condition, s.selection, honest_name, {}, {})
    for seed, records in sorted(by_seed.items()):
        if not records:
            continue
        true, honest, oracle, databases, curves = [], [], [], [], []
        for r in records:
            try:
                codes = EpochRecord.from_dict(r["epoch_record"], len(r["true"])).test_codes()
                true_codes = np.array([lookup[t] for t in r["true"]], dtype=np.int64)
            except (BenchError, KeyError) as exc:
                raise BenchError(f"fold {r['model']}|{r['condition']}|{r['seed']}|{r['fold']}: {exc}; delete its "
                                 "file to rerun that fold") from None
            pick = oracle_epoch(codes, true_codes)
            gap.oracle_epochs.append(pick)
            oracle.append(codes[pick - 1])
            if is_leaky(s.selection):
                honest.append(codes[-1])
                gap.honest_epochs.append(len(codes))
            else:
                honest.append(np.array([lookup[p] for p in r["pred"]], dtype=np.int64))
                gap.honest_epochs.append(int(r.get("epochs", len(codes))))
            true.append(true_codes)
            databases += list(r["database"])
            curves.append(codes)
        epochs = min(len(c) for c in curves)
        pooled_true = np.concatenate(true)
        gap.curve[seed] = macro_scores_of_codes(pooled_true, np.concatenate([c[:epochs] for c in curves], axis=1),
                                                len(s.classes))[0]
        names = np.array(s.classes, dtype=object)
        true_names, databases = names[pooled_true], np.array(databases)
        for codes, per_seed, by_db in ((honest, gap.honest, gap.honest_by_database),
                                       (oracle, gap.oracle, gap.oracle_by_database)):
            predicted = names[np.concatenate(codes)]
            per_seed[seed] = score(true_names, predicted, s.classes)
            if len(set(databases)) > 1:
                for db in sorted(set(databases)):
                    keep = databases == db
                    by_db.setdefault(db, {})[seed] = score(true_names[keep], predicted[keep], s.classes)
    return gap


def _ordered_plan(config: dict[str, Any]) -> list[dict[str, Any]]:
    models = config.get("models", [])
    cells = [c["condition"] for c in config.get("cells", [])]
    entries = list(config.get("plan", {}).values())

    def rank(entry: dict[str, Any]) -> tuple[int, int]:
        m = models.index(entry["model"]) if entry["model"] in models else len(models)
        c = cells.index(entry["condition"]) if entry["condition"] in cells else len(cells)
        return m, c

    return sorted(entries, key=rank)


def _cell_text(summary: CellSummary, metrics: Sequence[str], database: str | None = None) -> str:
    if not summary.per_seed:
        return "-"
    parts = []
    for metric in metrics:
        mean, std = summary.stat(metric, database)
        parts.append(f"{mean:.3f}" if len(summary.used_seeds()) < 2 else f"{mean:.3f}±{std:.3f}")
    text = " / ".join(parts)
    if not summary.complete_seeds:
        done = max(summary.folds_done.values(), default=0)
        text += f" (partial: {done}/{summary.folds_expected} folds)"
    return text


def markdown_table(summaries: Sequence[CellSummary], metrics: Sequence[str] = ("uf1", "uar", "accuracy"),
                   database: str | None = None) -> str:
    """Rows models, columns conditions; each cell `UF1 / UAR / Acc` (mean±std over seeds)."""
    models = list(dict.fromkeys(s.model for s in summaries))
    conditions = list(dict.fromkeys(s.condition for s in summaries))
    lookup = {(s.model, s.condition): s for s in summaries}
    header = "| model | " + " | ".join(conditions) + " |"
    lines = [header, "|" + "---|" * (len(conditions) + 1)]
    for model in models:
        cells = [_cell_text(lookup[(model, c)], metrics, database) if (model, c) in lookup else "" for c in conditions]
        leaky = any(is_leaky(s.selection) for s in summaries if s.model == model)
        lines.append(f"| {model}{' (test-oracle, leaky)' if leaky else ''} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_frame(summaries: Sequence[CellSummary]) -> pd.DataFrame:
    """table.csv: one row per (model, condition[, database]) with mean and std of every metric."""
    rows = []
    for s in summaries:
        for database in [None, *sorted(s.by_database)]:
            row = {"model": s.model, "condition": s.condition, "train_condition": s.train, "test_condition": s.test,
                   "database": database or "all", "selection": s.selection,
                   "seeds": len(s.used_seeds()) if s.per_seed else 0,
                   "folds_expected": s.folds_expected, "folds_done": min(s.folds_done.values(), default=0),
                   "complete": s.complete}
            for metric in METRIC_NAMES:
                mean, std = s.stat(metric, database) if s.per_seed else (float("nan"), float("nan"))
                row[f"{metric}_mean"], row[f"{metric}_std"] = round(mean, 6), round(std, 6)
            rows.append(row)
    return pd.DataFrame(rows)


def selection_frame(gaps: Sequence[SelectionGap]) -> pd.DataFrame:
    """selection.csv: per (model, condition, database) the honest and the test-oracle (leaky) scores and the gap."""
    rows = []
    for g in gaps:
        for database in [None, *sorted(g.oracle_by_database)]:
            row = {"model": g.model, "condition": g.condition, "database": database or "all",
                   "honest_selection": g.honest_name, "seeds": len(g.honest)}
            for metric in ("uf1", "uar"):
                for which, name in (("honest", "honest"), ("oracle", "test_oracle_leaky")):
                    mean, std = g.stat(metric, which, database)
                    row[f"{name}_{metric}_mean"], row[f"{name}_{metric}_std"] = round(mean, 6), round(std, 6)
                row[f"gap_{metric}"] = round(g.gap(metric, database), 6)
            rows.append(row)
    return pd.DataFrame(rows)


def selection_markdown(gaps: Sequence[SelectionGap]) -> str:
    """The honest number beside the one selecting on the test subject would report, per model, condition, database."""
    lines = [
        f"## Honest vs {LEAKY_LABEL}",
        "",
        "Recomputed from every fold's stored per-epoch test predictions. Honest: the epoch this run reports "
        "(last: end of the fixed budget; val: best on validation subjects; in a test-oracle run, the last epoch). "
        "Test-oracle: for every fold the "
        f"epoch with the best accuracy on its own test subject, ties to the latest, as HTNet and CausalNet select: "
        f"{LEAKY_LABEL}. Gap = test-oracle - honest; see docs/bench.md, 'Selection'.",
        "",
        "| model | condition | database | honest UF1 / UAR | test-oracle (leaky) UF1 / UAR | gap UF1 / UAR | "
        "oracle epoch (median, range) |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in gaps:
        epochs = np.array(g.oracle_epochs)
        spread = f"{int(np.median(epochs))} ({epochs.min()}-{epochs.max()})"
        for database in [None, *sorted(g.oracle_by_database)]:
            cells = []
            for which in ("honest", "oracle"):
                parts = [g.stat(m, which, database) for m in ("uf1", "uar")]
                cells.append(" / ".join(f"{mean:.3f}" + (f"±{std:.3f}" if len(g.honest) > 1 else "") for mean, std in parts))
            gap = " / ".join(f"{g.gap(m, database):+.3f}" for m in ("uf1", "uar"))
            lines.append(f"| {g.model} | {g.condition} | {database or 'all'} | {cells[0]} ({g.honest_name}) | "
                         f"{cells[1]} | {gap} | {spread if database is None else ''} |")
    return "\n".join(lines)


def metrics_payload(run: Run, summaries: Sequence[CellSummary],
                    gaps: Sequence[SelectionGap] = ()) -> dict[str, Any]:
    """metrics.json: settings plus, per cell, the scores of every seed and database and the mean/std, the cell's
    selection and, where the folds kept every epoch, the honest and test-oracle (leaky) numbers beside each other."""
    by_cell = {(g.model, g.condition): g for g in gaps}
    cells = []
    for s in summaries:
        gap = by_cell.get((s.model, s.condition))
        cells.append({
            "model": s.model, "condition": s.condition, "train_condition": s.train, "test_condition": s.test,
            "selection": s.selection, "selection_label": selection_label(s.selection),
            **({"selection_gap": gap.as_dict()} if gap is not None else {}),
            "classes": s.classes, "folds_expected": s.folds_expected,
            "folds_done": {str(k): v for k, v in s.folds_done.items()}, "complete": s.complete,
            "seeds": {str(k): v.as_dict() for k, v in s.per_seed.items()},
            "by_database": {db: {str(k): v.as_dict() for k, v in seeds.items()} for db, seeds in s.by_database.items()},
            "mean": {m: s.stat(m)[0] for m in METRIC_NAMES} if s.per_seed else {},
            "std": {m: s.stat(m)[1] for m in METRIC_NAMES} if s.per_seed else {},
        })
    leaky = any(is_leaky(s.selection) for s in summaries)
    return {"settings": run.config["settings"], "label_scheme": run.config.get("label_scheme"),
            "selection": {"leaky": leaky, **({"label": LEAKY_LABEL} if leaky else {})},
            "directories": run.dirs, "cells": cells}


def _training_line(config: dict) -> str:
    """How the predictions were made: checkpoints, each model's resolved recipe, or the shared settings."""
    settings = config["settings"]
    if settings.get("weights"):
        return f"No training: published checkpoints from {settings['weights']}, one per fold (--weights)."
    recipes = config.get("recipes") or {"all models": {**settings["train"], "val_subjects": settings.get("val_subjects"),
                                                       "name": settings.get("recipe", "default")}}
    parts = []
    for model, r in recipes.items():
        selection = (f"best epoch on {r['val_subjects']} validation subjects carved from training subjects"
                     if r.get("val_subjects") else "fixed epoch budget (no selection)")
        if is_leaky(r.get("selection")):
            selection = f"best epoch on each fold's test subject, {LEAKY_LABEL.upper()}"
        parts.append(f"{model}: recipe {r.get('name', 'default')}, {r.get('optimizer', 'adamw')} lr {r['lr']}, "
                     f"{r['epochs']} epochs, batch {r['batch_size']}, {selection}")
    return "Training: " + "; ".join(parts) + "."


def markdown_report(run: Run, summaries: Sequence[CellSummary], gaps: Sequence[SelectionGap] = ()) -> str:
    """table.md: the main table, per-database tables for multi-database data, how to read them, and the honest
    numbers beside the test-oracle's when the folds kept every epoch."""
    settings = run.config["settings"]
    classes = list(dict.fromkeys(c for s in summaries for c in s.classes))
    lines = [
        f"# occmer bench: {settings['protocol']}, labels {run.config.get('label_scheme')}"
        + (f" - EVERY CELL {LEAKY_LABEL.upper()}, --selection test-oracle"
           if any(is_leaky(s.selection) for s in summaries) else "")
        + (" (PARTIAL: --allow-partial, short of the official list)" if settings.get("allow_partial") else "")
        + (" (membership by rules, not the official list)" if settings.get("membership") == "rules" else ""),
        "",
        "Cells: UF1 / UAR / accuracy on predictions pooled over folds; "
        + ("mean±std over seeds " if len(run.config.get("seeds", [])) > 1 else "one seed ")
        + f"{run.config.get('seeds')}. " + _training_line(run.config),
        f"Classes: {', '.join(classes)}; chance UAR = {1 / max(len(classes), 1):.3f}.",
        *evidence_lines(run, summaries),
        "",
        markdown_table(summaries),
    ]
    databases = sorted({db for s in summaries for db in s.by_database})
    for db in databases:
        lines += ["", f"## {db} only (same predictions, scored on this database's samples)", "",
                  markdown_table([s for s in summaries if db in s.by_database], database=db)]
    if gaps:
        lines += ["", selection_markdown(gaps)]
    return "\n".join(lines) + "\n"


def keep_merged_run(run: Run, dirs: Sequence[Path], out: Path) -> None:
    """A report written outside its run directories keeps the merged config and fold files, so
    `occmer report OUT` (and `--html`) works on it later like on any run directory."""
    if any(Path(d).resolve() == out.resolve() for d in dirs):
        return
    write_json_atomic(out / CONFIG_FILE, run.config)
    for record in run.records:
        path = fold_record_path(out, record["model"], record["condition"], record["seed"], record["fold"])
        if not path.exists():
            write_json_atomic(path, record)


def render(dirs: Sequence[Path], out: Path, *, plots: bool = True, html: bool = True,
           echo: Callable[[str], None] = print) -> Run:
    """Write predictions.csv, metrics.json, table.md, table.csv, the figures (figures/) and report.html
    into `out`; print the table. report.html needs the figures: `plots=False` writes no page either."""
    run = load_run(dirs)
    summaries = summarise(run)
    gaps = selection_gaps(run, summaries)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keep_merged_run(run, dirs, out)
    predictions = predictions_frame(run.records)
    predictions.to_csv(out / "predictions.csv", index=False)
    write_json_atomic(out / "metrics.json", metrics_payload(run, summaries, gaps))
    summary_frame(summaries).to_csv(out / "table.csv", index=False)
    if gaps:
        selection_frame(gaps).to_csv(out / "selection.csv", index=False)
    text = markdown_report(run, summaries, gaps)
    (out / "table.md").write_text(text, encoding="utf-8")
    figures = []
    if plots and not predictions.empty:
        from occmer.bench import plots as plotting  # matplotlib only when figures are asked for

        figures = plotting.render_all(run, summaries, predictions, out, gaps)
    echo(text)
    if plots and html:
        from occmer.bench.html import render_report_html  # below this module; loaded only for a page

        render_report_html(run, summaries, figures, out, gaps)
    return run
