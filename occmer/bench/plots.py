"""Figures of a benchmark run (matplotlib, Agg backend: no display needed).

Every figure is written into OUT/figures/ as PNG (embedded in report.html), SVG and PDF
(for papers), sized to read on a laptop screen and on a printed page: grids of models x
conditions are heatmaps and facets, never one long strip of bars.

- uf1_heatmap: UF1 per model (rows) and condition (columns), cells "mean ± std" over seeds,
- uf1_change_from_clean: the same minus the model's clean UF1 (when a condition is named clean),
- confusion_<model>: pooled confusion matrices (all seeds used by the table), one panel per condition,
- per_class_f1: per-class F1 (mean over seeds), one panel per condition,
- attention_<model> (models that expose `region_weights`, e.g. RRRN): mean region attention
  per test condition, and for the same regions visible vs covered by the occluder,
- learning_curve_<model> (folds with a per-epoch record): UF1 over epochs pooled over folds,
  per condition, with the honest number and the test-oracle's (leaky) and the epochs it picks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # labels are text, never markup: "sur$\x$prise" is drawn as typed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from occmer.bench.evidence import spread_caption  # noqa: E402
from occmer.bench.files import safe_name  # noqa: E402
from occmer.bench.metrics import confusion  # noqa: E402
from occmer.frames import LUMA  # noqa: E402

COVERED = 0.5  # a region counts as covered when at least half of its box is under the occluder
FIGURES_DIR = "figures"
FORMATS = ("png", "svg", "pdf")
PNG_DPI = 110  # a 9-inch figure is ~1000 px wide: a laptop screen without scaling; vector files for print
MAX_WIDTH_IN = 10.0
REFERENCE_CONDITION = "clean"


@dataclass(frozen=True)
class FigureFile:
    """One figure written beside the report: `stem` + each of FORMATS under OUT/figures/."""

    stem: str
    title: str
    caption: str
    section: str
    folder: Path

    def path(self, fmt: str = "png") -> Path:
        return self.folder / f"{self.stem}.{fmt}"



def is_light(r: float, g: float, b: float) -> bool:
    """Whether a colour (channels in 0..1) is light enough for black text: its BT.601 luma above one half."""
    return float(np.dot(LUMA, (r, g, b))) > 0.5

def _grid(n_panels: int, panel_w: float, panel_h: float, max_columns: int = 4, **kwargs):
    """A wrapped grid of facets no wider than MAX_WIDTH_IN; unused panels are hidden."""
    columns = max(1, min(n_panels, max_columns, int(MAX_WIDTH_IN // panel_w) or 1))
    rows = -(-n_panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(panel_w * columns + 0.8, panel_h * rows + 0.4), squeeze=False,
                             layout="constrained", **kwargs)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def _draw_confusion(ax, matrix: np.ndarray, classes: Sequence[str], title: str):
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    ax.set_title(title, fontsize=9)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center",
                    color="white" if share[i, j] > 0.6 else "black", fontsize=8)
    return image


def confusion_grid_figure(model: str, panels: Sequence[tuple[str, np.ndarray, Sequence[str]]]):
    """One model's confusion matrices, one panel per condition (wrapped rows of at most 4)."""
    k = max(len(classes) for _, _, classes in panels)
    side = 1.4 + 0.45 * k
    fig, axes = _grid(len(panels), side + 0.3, side + 0.5)
    image = None
    for ax, (condition, matrix, classes) in zip(axes, panels, strict=True):
        image = _draw_confusion(ax, matrix, classes, condition)
    fig.suptitle(f"{model}: confusion matrices (rows true, columns predicted; counts, colour = share of true class)",
                 fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes, fraction=0.02, pad=0.02)
    return fig


def _matrix(summaries: Sequence, value) -> tuple[list[str], list[str], np.ndarray]:
    models = list(dict.fromkeys(s.model for s in summaries))
    conditions = list(dict.fromkeys(s.condition for s in summaries))
    grid = np.full((len(models), len(conditions)), np.nan)
    for s in summaries:
        grid[models.index(s.model), conditions.index(s.condition)] = value(s)
    return models, conditions, grid


def _heatmap_size(n_rows: int, n_columns: int) -> tuple[float, float]:
    return min(MAX_WIDTH_IN, 2.6 + 1.15 * n_columns), 1.4 + 0.5 * n_rows


def _draw_heatmap(ax, grid: np.ndarray, rows: Sequence[str], columns: Sequence[str], texts: np.ndarray,
                  cmap: str, vmin: float, vmax: float, fontsize: float = 8):
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=30 if max(map(len, columns), default=0) > 8 else 0,
                  ha="right" if max(map(len, columns), default=0) > 8 else "center", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    colormap = plt.get_cmap(cmap)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if not texts[i, j]:
                continue
            v = grid[i, j]
            shade = 0.5 if np.isnan(v) else (v - vmin) / (vmax - vmin or 1)
            r, g, b, _ = colormap(float(np.clip(shade, 0, 1)))
            ink = "black" if is_light(r, g, b) else "white"
            ax.text(j, i, texts[i, j], ha="center", va="center", fontsize=fontsize, color=ink)
    return image


def metric_heatmap(summaries: Sequence, metric: str = "uf1", label: str = "UF1"):
    """Models x conditions, each cell annotated "mean ± std" over seeds (* = partial: folds missing)."""
    models, conditions, grid = _matrix(summaries, lambda s: s.stat(metric)[0] if s.per_seed else np.nan)
    texts = np.full(grid.shape, "", dtype=object)
    for s in summaries:
        if not s.per_seed:
            continue
        mean, std = s.stat(metric)
        text = f"{mean:.3f}" + (f"\n± {std:.3f}" if len(s.used_seeds()) > 1 else "")
        texts[models.index(s.model), conditions.index(s.condition)] = text + ("*" if not s.complete_seeds else "")
    fig, ax = plt.subplots(figsize=_heatmap_size(len(models), len(conditions)))
    image = _draw_heatmap(ax, grid, models, conditions, texts, "viridis", 0.0, 1.0)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label=label)
    seeds = max((len(s.used_seeds()) for s in summaries if s.per_seed), default=0)
    ax.set_title(f"{label} by model and condition\n(pooled over folds; {spread_caption(range(seeds))})", fontsize=9)
    fig.tight_layout()
    return fig


def change_heatmap(summaries: Sequence, metric: str = "uf1", label: str = "UF1",
                   reference: str = REFERENCE_CONDITION):
    """Each model's change from its own clean score, per condition (None when no clean condition was run)."""
    conditions = list(dict.fromkeys(s.condition for s in summaries))
    if reference not in conditions or len(conditions) < 2:
        return None
    base = {s.model: s.stat(metric)[0] for s in summaries if s.condition == reference and s.per_seed}
    others = [s for s in summaries if s.condition != reference]
    models, columns, grid = _matrix(
        others, lambda s: s.stat(metric)[0] - base[s.model] if s.per_seed and s.model in base else np.nan)
    texts = np.array([["" if np.isnan(v) else "0.000" if abs(v) < 5e-4 else f"{v:+.3f}" for v in row] for row in grid],
                     dtype=object)
    limit = max(0.05, float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 0.05)
    fig, ax = plt.subplots(figsize=_heatmap_size(len(models), len(columns)))
    image = _draw_heatmap(ax, grid, models, columns, texts, "RdBu", -limit, limit)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label=f"{label} minus {reference} {label}")
    ax.set_title(f"{label} minus the same model's {label} on {reference}\n(negative: the condition hurts)", fontsize=9)
    fig.tight_layout()
    return fig


def per_class_f1(rows: pd.DataFrame, classes: Sequence[str]) -> np.ndarray:
    """Per-class F1 of each seed's pooled predictions, averaged over the seeds in `rows`."""
    from sklearn.metrics import f1_score

    per_seed = [f1_score(list(group["true"]), list(group["predicted"]), labels=list(classes), average=None,
                         zero_division=0) for _, group in rows.groupby("seed")]
    return np.mean(per_seed, axis=0) if per_seed else np.full(len(classes), np.nan)


def per_class_figure(summaries: Sequence, predictions: pd.DataFrame):
    """Per-class F1 (mean over seeds): one panel per condition, rows models, columns classes."""
    conditions = list(dict.fromkeys(s.condition for s in summaries if s.per_seed))
    models = list(dict.fromkeys(s.model for s in summaries if s.per_seed))
    classes = list(dict.fromkeys(c for s in summaries for c in s.classes))
    if not conditions:
        return None
    panel_w, panel_h = 1.6 + 0.75 * len(classes), 1.0 + 0.4 * len(models)
    fig, axes = _grid(len(conditions), panel_w, panel_h, max_columns=3)
    lookup = {(s.model, s.condition): s for s in summaries}
    image = None
    for ax, condition in zip(axes, conditions, strict=True):
        grid = np.full((len(models), len(classes)), np.nan)
        for i, model in enumerate(models):
            s = lookup.get((model, condition))
            if s is None or not s.per_seed:
                continue
            rows = predictions[(predictions["model"] == model) & (predictions["condition"] == condition)
                               & predictions["seed"].isin(s.used_seeds())]
            values = per_class_f1(rows, s.classes)
            for c, v in zip(s.classes, values, strict=True):
                grid[i, classes.index(c)] = v
        texts = np.array([[f"{v:.2f}" if not np.isnan(v) else "" for v in row] for row in grid], dtype=object)
        image = _draw_heatmap(ax, grid, models, classes, texts, "viridis", 0.0, 1.0, fontsize=7)
        ax.set_title(condition, fontsize=9)
    fig.suptitle("Per-class F1 (pooled over folds, mean over seeds)", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes, fraction=0.02, pad=0.02, label="F1")
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
                rows.append({"condition": record["condition"], "seed": record["seed"], "region": r, "weight": w,
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
    fig, (left, right) = plt.subplots(1, 2, figsize=(MAX_WIDTH_IN, 4.4), sharey=True)
    width = 0.8 / max(len(conditions), 1)
    for k, condition in enumerate(conditions):
        means, spread = _region_means(table[table["condition"] == condition], count)
        left.bar(np.arange(count) + (k - (len(conditions) - 1) / 2) * width, means, width, yerr=spread,
                 error_kw={"elinewidth": 0.8, "capsize": 1.5}, label=condition)
    left.set_title(f"{model}: mean region attention per test condition", fontsize=9)
    # Only conditions with an occluder: clean test sets would add visible regions of another input distribution.
    occluded = table.groupby("condition")["covered"].transform("max") > 0
    visible, visible_spread = _region_means(table[occluded & (table["covered"] < COVERED)], count)
    covered, covered_spread = _region_means(table[occluded & (table["covered"] >= COVERED)], count)
    right.bar(np.arange(count) - 0.2, visible, 0.4, yerr=visible_spread, error_kw={"elinewidth": 0.8, "capsize": 1.5},
              label="visible (< 50% covered)")
    right.bar(np.arange(count) + 0.2, covered, 0.4, yerr=covered_spread, error_kw={"elinewidth": 0.8, "capsize": 1.5},
              label="covered (>= 50%)")
    right.set_title(f"{model}: occluded test sets, region visible vs under the occluder", fontsize=9)
    for ax in (left, right):
        ax.set_xticks(range(count), names, rotation=45, ha="right")
        # Legends below the region names, never over a bar.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=min(4, len(conditions) or 1),
                  frameon=False)
    left.set_ylabel("region weight (error bars: std over seeds)")
    fig.tight_layout()
    return fig


def _region_means(rows: pd.DataFrame, count: int) -> tuple[pd.Series, np.ndarray | None]:
    """Mean weight per region, and the std over seeds of the per-seed means (None with one seed)."""
    means = rows.groupby("region")["weight"].mean().reindex(range(count))
    if "seed" not in rows or rows["seed"].nunique() < 2:
        return means, None
    per_seed = rows.groupby(["seed", "region"])["weight"].mean().unstack("region").reindex(columns=range(count))
    return means, per_seed.std(ddof=1).to_numpy()  # as the tables (metrics.mean_std)


def learning_curve_figure(model: str, gaps: Sequence):
    """UF1 per epoch (predictions pooled over folds, mean over seeds) per condition; the honest number (o at
    its epoch), the test-oracle's (dashed, leaky) and a tick per fold at the epoch the oracle picks."""
    fig, axes = _grid(len(gaps), 3.4, 2.8, sharey=True)
    for ax, gap in zip(axes, gaps, strict=False):
        epochs = min(len(c) for c in gap.curve.values())
        curve = np.mean([c[:epochs] for c in gap.curve.values()], axis=0)
        x = np.arange(1, epochs + 1)
        ax.plot(x, curve, color="#3b6ea8", lw=1.4, label="UF1 at epoch (pooled)")
        honest, oracle = gap.stat("uf1", "honest")[0], gap.stat("uf1", "oracle")[0]
        ax.axhline(oracle, color="#c0392b", ls="--", lw=1.2, label=f"test-oracle {oracle:.3f} (leaky)")
        ax.plot([float(np.median(gap.honest_epochs))], [honest], "o", color="#1b7f3b",
                label=f"honest ({gap.honest_name}) {honest:.3f}")
        picks = np.asarray(gap.oracle_epochs)
        ax.plot(picks, np.zeros_like(picks, dtype=float), "|", color="#c0392b", ms=10, alpha=0.5,
                label="epoch the oracle picks, per fold")
        ax.set_title(gap.condition, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=6, loc="best")
    axes[0].set_ylabel("UF1")
    fig.suptitle(f"{model}: learning curve", fontsize=10)
    return fig


def render_all(run, summaries: Sequence, predictions: pd.DataFrame, out: Path, gaps: Sequence = ()) -> list[FigureFile]:
    """Every figure of the run, written into OUT/figures/ as PNG, SVG and PDF; in report order."""
    folder = Path(out) / FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written: list[FigureFile] = []

    def keep(fig, stem: str, title: str, caption: str, section: str) -> None:
        if fig is None:
            return
        written.append(save_figure(fig, FigureFile(stem, title, caption, section, folder)))

    if any(s.per_seed for s in summaries):
        keep(metric_heatmap(summaries), "uf1_heatmap", "UF1 by model and condition",
             f"Unweighted F1 on predictions pooled over folds; {spread_caption(run.config.get('seeds', []))}; "
             "* marks a partial cell (folds missing).", "table")
        keep(change_heatmap(summaries), "uf1_change_from_clean", f"Change from {REFERENCE_CONDITION}",
             f"Each cell: the model's UF1 on that condition minus its UF1 on {REFERENCE_CONDITION}; whether a change "
             "exceeds the spread over seeds is listed above the figures.", "table")
    models = list(dict.fromkeys(s.model for s in summaries))
    for model in models:
        panels = []
        for s in summaries:
            if s.model != model or not s.per_seed:
                continue
            rows = predictions[(predictions["model"] == model) & (predictions["condition"] == s.condition)
                               & predictions["seed"].isin(s.used_seeds())]
            if not rows.empty:
                panels.append((s.condition, confusion(rows["true"], rows["predicted"], s.classes), s.classes))
        if panels:
            keep(confusion_grid_figure(model, panels), f"confusion_{safe_name(model)}", f"{model}: confusion matrices",
                 "Predictions of every seed the table uses, pooled; rows are true classes.", "confusion")
    keep(per_class_figure(summaries, predictions), "per_class_f1", "Per-class F1",
         "F1 of each class on predictions pooled over folds, averaged over seeds.", "per-class")
    for model in models:
        table = attention_table([r for r in run.records if r["model"] == model])
        if not table.empty:
            order = [s.condition for s in summaries if s.model == model]
            keep(attention_figure(table, model, order), f"attention_{safe_name(model)}", f"{model}: region attention",
                 "Left: mean attention weight of each facial region per test condition. Right: on occluded test "
                 "sets, a region's weight when it is visible vs when at least half of its box is covered.",
                 "attention")
    for model in models:
        curves = [g for g in gaps if g.model == model]
        if curves:
            keep(learning_curve_figure(model, curves), f"learning_curve_{safe_name(model)}",
                 f"{model}: UF1 over epochs",
                 "UF1 of the test predictions after each epoch, pooled over folds, mean over seeds. Green dot: the "
                 "honest number this run reports; red dashed line: what picking every fold's best epoch on its own "
                 "test subject gives (test-oracle, selected on the test subject, leaky); red ticks: the epoch it "
                 "picks per fold.", "selection")
    return written


def save_figure(fig, figure: FigureFile) -> FigureFile:
    for fmt in FORMATS:
        # Fixed metadata: the same run gives byte-identical SVG/PDF files.
        metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
        fig.savefig(figure.path(fmt), dpi=PNG_DPI, metadata=metadata)
    plt.close(fig)
    return figure

