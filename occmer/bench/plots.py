"""Figures of a benchmark run (matplotlib, Agg backend: no display needed).

- confusion_<model>_<condition>.png: pooled confusion matrix (all seeds used by the table),
- uf1_by_model_condition.png: UF1 per model and condition with the std over seeds,
- attention_<model>.png (models that expose `region_weights`, e.g. RRRN): mean region
  attention per test condition, and for the same regions visible vs covered by the occluder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from occmer.bench.files import safe_name  # noqa: E402
from occmer.bench.metrics import confusion  # noqa: E402

COVERED = 0.5  # a region counts as covered when at least half of its box is under the occluder


def confusion_figure(matrix: np.ndarray, classes: Sequence[str], title: str):
    """Row-normalised colours with the raw counts written in each cell."""
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    size = 1.2 + 0.6 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center",
                    color="white" if share[i, j] > 0.6 else "black", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true class")
    fig.tight_layout()
    return fig


def uf1_figure(summaries: Sequence):
    """Grouped bars: one group per model, one bar per condition, error bars = std over seeds."""
    models = list(dict.fromkeys(s.model for s in summaries))
    conditions = list(dict.fromkeys(s.condition for s in summaries))
    lookup = {(s.model, s.condition): s for s in summaries if s.per_seed}
    width = 0.8 / max(len(conditions), 1)
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(models) * max(1, len(conditions)) * 0.5 + 2), 4))
    for k, condition in enumerate(conditions):
        stats = [lookup[(m, condition)].stat("uf1") if (m, condition) in lookup else (np.nan, 0) for m in models]
        xs = np.arange(len(models)) + (k - (len(conditions) - 1) / 2) * width
        ax.bar(xs, [m for m, _ in stats], width, yerr=[s for _, s in stats], capsize=2, label=condition)
    ax.set_xticks(range(len(models)), models, rotation=20)
    ax.set_ylabel("UF1")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="condition")
    ax.set_title("UF1 (pooled over folds; mean ± std over seeds)", fontsize=9)
    fig.tight_layout()
    return fig


def attention_table(records: Sequence[dict]) -> pd.DataFrame:
    """Long table of (condition, region index, weight, covered fraction) from fold records with region weights."""
    rows = []
    for record in records:
        weights = record.get("extras", {}).get("region_weights")
        if weights is None:
            continue
        covered = record["extras"].get("region_occlusion")
        for i, sample_weights in enumerate(weights):
            for r, w in enumerate(sample_weights):
                rows.append({"condition": record["condition"], "region": r, "weight": w,
                             "covered": covered[i][r] if covered is not None else np.nan})
    return pd.DataFrame(rows)


def region_names(count: int) -> list[str]:
    from occmer.models.regions import REGION_NAMES

    return list(REGION_NAMES) if len(REGION_NAMES) == count else [f"r{i}" for i in range(count)]


def attention_figure(table: pd.DataFrame, model: str, order: Sequence[str] = ()):
    """Left: mean weight per region for each test condition. Right: the same regions visible vs covered."""
    count = int(table["region"].max()) + 1
    names = region_names(count)
    present = set(table["condition"])
    conditions = [c for c in order if c in present] + sorted(present - set(order))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4), sharey=True)
    width = 0.8 / max(len(conditions), 1)
    for k, condition in enumerate(conditions):
        means = table[table["condition"] == condition].groupby("region")["weight"].mean().reindex(range(count))
        left.bar(np.arange(count) + (k - (len(conditions) - 1) / 2) * width, means, width, label=condition)
    left.set_title(f"{model}: mean region attention per test condition", fontsize=9)
    left.legend(fontsize=7, loc="lower right")
    # Only conditions with an occluder: clean test sets would add visible regions of another input distribution.
    occluded = table.groupby("condition")["covered"].transform("max") > 0
    visible = table[occluded & (table["covered"] < COVERED)].groupby("region")["weight"].mean().reindex(range(count))
    covered = table[occluded & (table["covered"] >= COVERED)].groupby("region")["weight"].mean().reindex(range(count))
    right.bar(np.arange(count) - 0.2, visible, 0.4, label="visible (< 50% covered)")
    right.bar(np.arange(count) + 0.2, covered, 0.4, label="covered (>= 50%)")
    right.set_title(f"{model}: occluded test sets, region visible vs under the occluder", fontsize=9)
    right.legend(fontsize=7, loc="lower right")
    for ax in (left, right):
        ax.set_xticks(range(count), names, rotation=45, ha="right")
    left.set_ylabel("region weight")
    fig.tight_layout()
    return fig


def render_all(run, summaries: Sequence, predictions: pd.DataFrame, out: Path) -> list[Path]:
    """Every figure of the run, written into `out`; returns the paths written."""
    written = []
    for s in summaries:
        seeds = s.used_seeds()
        rows = predictions[(predictions["model"] == s.model) & (predictions["condition"] == s.condition)
                           & predictions["seed"].isin(seeds)]
        if rows.empty:
            continue
        matrix = confusion(rows["true"], rows["predicted"], s.classes)
        fig = confusion_figure(matrix, s.classes, f"{s.model} / {s.condition} (seeds {seeds})")
        written.append(_save(fig, out / f"confusion_{safe_name(s.model)}_{safe_name(s.condition)}.png"))
    if any(s.per_seed for s in summaries):
        written.append(_save(uf1_figure(summaries), out / "uf1_by_model_condition.png"))
    for model in dict.fromkeys(s.model for s in summaries):
        table = attention_table([r for r in run.records if r["model"] == model])
        if not table.empty:
            order = [s.condition for s in summaries if s.model == model]
            written.append(_save(attention_figure(table, model, order), out / f"attention_{safe_name(model)}.png"))
    return written


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
