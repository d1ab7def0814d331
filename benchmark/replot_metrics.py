"""Redraw the UF1 heatmaps of a bench run from its metrics.json alone (no fold files needed).

Results recorded before report.html existed keep only metrics.json; this draws the same
figures `occmer report` draws today, for RESULTS.md.

Usage: python benchmark/replot_metrics.py benchmark/results/demo_evidence/metrics.json OUT_FOLDER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from occmer.bench.metrics import Scores
from occmer.bench.plots import FigureFile, change_heatmap, metric_heatmap, save_figure
from occmer.bench.report import CellSummary


def summaries_from_metrics(payload: dict) -> list[CellSummary]:
    return [
        CellSummary(
            model=c["model"], condition=c["condition"], train=c["train_condition"], test=c["test_condition"],
            classes=c["classes"], folds_expected=c["folds_expected"],
            folds_done={int(k): v for k, v in c["folds_done"].items()},
            per_seed={int(k): Scores(**v) for k, v in c["seeds"].items()},
        )
        for c in payload["cells"]
    ]


def main(metrics: str, out: str) -> None:
    summaries = summaries_from_metrics(json.loads(Path(metrics).read_text(encoding="utf-8")))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, fig in (("uf1_heatmap", metric_heatmap(summaries)), ("uf1_change_from_clean", change_heatmap(summaries))):
        if fig is not None:
            print(save_figure(fig, FigureFile(stem, stem, "", "table", folder)).path("png"))


if __name__ == "__main__":
    main(*sys.argv[1:3])
