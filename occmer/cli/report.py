"""`occmer report`: re-render tables and plots from finished `occmer bench` runs (and merge shards)."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import guarded_output
from occmer.cli.output import output_options
from occmer.progress import info


@click.command("report")
@click.argument("dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the merged report (default: the first DIR).")
@click.option("--no-plots", is_flag=True, help="Write tables, metrics and predictions only (no figures, no HTML).")
@click.option("--html/--no-html", "html", default=True, show_default=True,
              help="Write report.html: one self-contained page (figures embedded, no network or JavaScript "
                   "needed) with the heatmaps, per-database tables, confusion matrices, per-class F1, region "
                   "attention, settings, data checksums and the command.")
@output_options
def report_command(dirs: tuple[Path, ...], out: Path | None, no_plots: bool, html: bool) -> None:
    """Recompute metrics from the fold files of one or more bench result directories and write
    predictions.csv, metrics.json, table.md, table.csv, the figures (figures/*.png|svg|pdf) and
    report.html.

    Where the folds stored their per-epoch predictions (every run since issue 26), the
    report also gives the honest number beside what selecting each fold's epoch on its own
    test subject would report (test-oracle, leaky: HTNet's and CausalNet's protocol), the gap
    per model and database (table.md, selection.csv, metrics.json) and a learning curve per
    model (figures/learning_curve_MODEL, report.html). Runs made with different --selection
    are not merged.

    Several DIRs are merged: shards run with `occmer bench --folds i/n` on different machines
    give the same table as one run. Cells with missing folds are marked partial.

    Example: occmer report shard1/ shard2/ shard3/ --out merged/
    """
    from occmer.bench.report import render

    with guarded_output(out or dirs[0]) as target:  # OUT.lock: one writer at a time
        render(list(dirs), target, plots=not no_plots, html=html, echo=info)
    page = Path(target) / "report.html"
    click.echo(f"report: {page.resolve()}" if html and not no_plots and page.exists() else f"results in {target}")


COMMANDS = [report_command]
