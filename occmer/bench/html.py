"""report.html of a bench run: one self-contained page (figures embedded, no network, no JavaScript).

The page brings a run together for a person: the table as a heatmap and as an HTML table,
the change from clean, per-database tables, confusion matrices, per-class F1, region
attention, the settings, the data files with their checksums and the exact command. The
figures it embeds are also in figures/ beside it (PNG, SVG, PDF) for papers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib import colormaps  # noqa: E402
from PIL import Image  # noqa: E402

from occmer import __version__  # noqa: E402
from occmer.bench.evidence import evidence_html, spread_caption  # noqa: E402
from occmer.bench.metrics import METRIC_LABELS  # noqa: E402
from occmer.bench.plots import FORMATS, FigureFile, is_light  # noqa: E402
from occmer.bench.selection import LEAKY_LABEL, is_leaky, selection_label  # noqa: E402
from occmer.pages.page import data_uri, esc, key_value_table, write_page  # noqa: E402

REPORT_FILE = "report.html"

STYLE = """
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
.files a { margin-right: 0.6em; }
.figrow { display: flex; flex-wrap: wrap; gap: 0 1.5em; align-items: flex-start; }
.figrow figure { flex: 0 1 auto; max-width: 100%; }
.warn { border-left: 4px solid #c0392b; padding: 0.3em 0.8em; background: #fbeeee; color: #1e1e22; }
"""


def cell_colour(value: float, vmin: float = 0.0, vmax: float = 1.0, cmap: str = "viridis") -> tuple[str, str]:
    """(background, text) CSS colours of a table cell, from the same colour map as the heatmap."""
    if value != value:  # NaN
        return "#ffffff", "#1e1e22"
    shade = min(1.0, max(0.0, (value - vmin) / ((vmax - vmin) or 1.0)))
    r, g, b, _ = colormaps[cmap](shade)
    ink = "#000" if is_light(r, g, b) else "#fff"
    return f"rgb({round(r * 255)},{round(g * 255)},{round(b * 255)})", ink


def figure_html(figure: FigureFile, out: Path) -> str:
    """<figure> with the PNG embedded and links to the PNG/SVG/PDF files beside the report."""
    links = " ".join(
        f'<a href="{esc(figure.path(fmt).relative_to(out).as_posix())}">{fmt.upper()}</a>' for fmt in FORMATS
    )
    png = figure.path("png")
    with Image.open(png) as image:
        width = image.width
    return (f'<figure id="fig-{esc(figure.stem)}" style="width:{width}px;max-width:100%">'
            f'<img src="{data_uri(png.read_bytes(), "image/png")}" '
            f'alt="{esc(figure.title)}"><figcaption><b>{esc(figure.title)}.</b> {esc(figure.caption)} '
            f'<span class="files">Files: {links}</span></figcaption></figure>')


def scores_table(summaries: Sequence[Any], metrics: Sequence[str] = ("uf1", "uar", "accuracy"),
                 database: str | None = None, caption: str = "") -> str:
    """Models x conditions; each cell UF1 / UAR / Acc (mean ± std over seeds), coloured by UF1."""
    models = list(dict.fromkeys(s.model for s in summaries))
    conditions = list(dict.fromkeys(s.condition for s in summaries))
    lookup = {(s.model, s.condition): s for s in summaries}
    head = "".join(f"<th>{esc(c)}</th>" for c in conditions)
    rows = []
    for model in models:
        cells = []
        for condition in conditions:
            s = lookup.get((model, condition))
            if s is None or not s.per_seed or (database is not None and database not in s.by_database):
                cells.append('<td class="num">-</td>')
                continue
            parts = []
            for metric in metrics:
                mean, std = s.stat(metric, database)
                parts.append(f"{mean:.3f}" + (f" ± {std:.3f}" if len(s.used_seeds()) > 1 else ""))
            text = " / ".join(parts)
            if not s.complete_seeds:
                text += f" (partial: {max(s.folds_done.values(), default=0)}/{s.folds_expected} folds)"
            background, ink = cell_colour(s.stat(metrics[0], database)[0])
            cells.append(f'<td class="num" style="background:{background};color:{ink}">{esc(text)}</td>')
        leaky = any(is_leaky(s.selection) for s in summaries if s.model == model)
        rows.append(f"<tr><th>{esc(model)}{' (test-oracle, leaky)' if leaky else ''}</th>{''.join(cells)}</tr>")
    names = " / ".join(METRIC_LABELS.get(m, m) for m in metrics)
    caption_html = f"<caption>{esc(caption or names)}</caption>"
    return (f'<table class="scores">{caption_html}<thead><tr><th>model</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def selection_table(gaps: Sequence[Any]) -> str:
    """Per model, condition and database: the honest UF1 / UAR beside the test-oracle's (leaky) and the gap."""
    rows = []
    for g in gaps:
        for database in [None, *sorted(g.oracle_by_database)]:
            cells = []
            for which in ("honest", "oracle"):
                parts = [g.stat(m, which, database) for m in ("uf1", "uar")]
                cells.append(" / ".join(f"{mean:.3f}" + (f" ± {std:.3f}" if len(g.honest) > 1 else "")
                                        for mean, std in parts))
            gap = " / ".join(f"{g.gap(m, database):+.3f}" for m in ("uf1", "uar"))
            rows.append(f"<tr><th>{esc(g.model)}</th><td>{esc(g.condition)}</td><td>{esc(database or 'all')}</td>"
                        f'<td class="num">{esc(cells[0])} ({esc(g.honest_name)})</td><td class="num">{esc(cells[1])}</td>'
                        f'<td class="num">{esc(gap)}</td></tr>')
    return ("<table><caption>UF1 / UAR, mean ± std over seeds; gap = test-oracle - honest</caption><thead><tr>"
            "<th>model</th><th>condition</th><th>database</th><th>honest</th>"
            f"<th>test-oracle ({esc(LEAKY_LABEL)})</th><th>gap</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def data_files_table(conditions: dict[str, list[dict[str, str]]]) -> str:
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td><code>{esc(f['path'])}</code></td><td><code>{esc(f['sha256'])}</code></td></tr>"
        for name, files in conditions.items() for f in files
    )
    return ("<table><thead><tr><th>condition</th><th>file</th><th>sha256</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def render_report_html(run: Any, summaries: Sequence[Any], figures: Sequence[FigureFile], out: Path,
                       gaps: Sequence[Any] = ()) -> Path:
    """Write OUT/report.html from a loaded run, its summaries and the figures already written."""
    out = Path(out)
    config = run.config
    settings = config.get("settings", {})
    classes = list(dict.fromkeys(c for s in summaries for c in s.classes))
    by_section: dict[str, list[FigureFile]] = {}
    for figure in figures:
        by_section.setdefault(figure.section, []).append(figure)

    def figures_of(section: str, missing: str) -> str:
        found = by_section.get(section, [])
        if not found:
            return f'<p class="muted">{esc(missing)}</p>'
        return '<div class="figrow">' + "".join(figure_html(f, out) for f in found) + "</div>"

    seeds = config.get("seeds", [])
    train = settings.get("train", {})
    intro = (f"Protocol <b>{esc(settings.get('protocol'))}</b>, labels <b>{esc(config.get('label_scheme'))}</b> "
             f"({esc(', '.join(classes))}; chance UAR {1 / max(len(classes), 1):.3f}), seeds {esc(seeds)}, "
             f"{esc(train.get('epochs'))} epochs, batch {esc(train.get('batch_size'))}, lr {esc(train.get('lr'))}"
             + ". Selection: " + esc("; ".join(dict.fromkeys(f"{s.model}: {selection_label(s.selection)}"
                                                             for s in summaries)))
             + ". Scores are computed on predictions pooled over all folds (the MEGC convention).")
    leaky = any(is_leaky(s.selection) for s in summaries)
    intro = f"<p>{intro}</p>"
    if leaky:
        intro = (f'<p class="warn"><b>Every number of this run is {esc(LEAKY_LABEL)}</b> (--selection test-oracle): '
                 "each fold reports the epoch that scored best on its own test subject. It is not comparable with "
                 "honest numbers; the section below gives the honest one from the same run.</p>" + intro)
    databases = sorted({db for s in summaries for db in s.by_database})
    per_db = "".join(
        f"<h3>{esc(db)} only</h3>"
        + scores_table([s for s in summaries if db in s.by_database], database=db,
                       caption=f"UF1 / UAR / Acc on the {db} samples (same predictions)")
        for db in databases
    ) or '<p class="muted">One database in every condition: the main table is its table.</p>'
    command = config.get("command", "")
    dirs = run.dirs
    sections = [
        ("table", "Results", intro + evidence_html(run, summaries)
         + figures_of("table", "No finished fold yet.")
         + scores_table(summaries, caption=f"UF1 / UAR / Acc, {spread_caption(seeds)} (cell colour: UF1)")),
        ("databases", "Per database", per_db),
        ("selection", f"Honest vs {LEAKY_LABEL}",
         ("<p>Every fold kept its test predictions after every epoch, so this run also shows what picking, for "
          "every fold, the epoch with the best accuracy on its own test subject gives: the protocol of HTNet, "
          "CausalNet and other published tables, " + esc(LEAKY_LABEL) + ". The gap is what that selection adds "
          "(docs/bench.md, 'Selection').</p>" + selection_table(gaps) + figures_of("selection", ""))
         if gaps else '<p class="muted">No per-epoch record in these folds (run before occmer recorded every epoch, '
                      "or checkpoints evaluated with --weights).</p>"),
        ("confusion", "Confusion matrices", figures_of("confusion", "No finished fold yet.")),
        ("per-class", "Per-class F1", figures_of("per-class", "No finished fold yet.")),
        ("attention", "Region attention (visible vs covered)",
         figures_of("attention", "No model of this run exposes region weights (RRRN does).")),
        ("settings", "Settings and data", "<h3>Data files</h3>" + data_files_table(config.get("conditions", {}))
         + "<h3>Settings</h3><pre>" + esc(json.dumps(settings, indent=1, sort_keys=True)) + "</pre>"
         + "<h3>Environment</h3>" + key_value_table([("device", config.get("device", "")),
                                                      *sorted(config.get("versions", {}).items())])),
        ("command", "Command", f"<pre>{esc(command)}</pre>"
         + (f"<p>Merged from {len(dirs)} directories: {esc(', '.join(dirs))}.</p>" if len(dirs) > 1 else "")),
    ]
    subtitle = (f"{esc(', '.join(config.get('models', [])))} on "
                f"{esc(', '.join(c['condition'] for c in config.get('cells', [])))}; run created "
                f"{esc(config.get('created_utc', '?'))}, report by occmer {esc(__version__)}.")
    title = f"occmer bench: {settings.get('protocol')} report" + (f" ({LEAKY_LABEL})" if leaky else "")
    return write_page(out / REPORT_FILE, title, "occmer bench report" + (f" ({LEAKY_LABEL})" if leaky else ""),
                      subtitle, sections, STYLE)
