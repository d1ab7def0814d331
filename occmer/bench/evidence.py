"""What a bench report's numbers rest on, said in every output of a run (terminal, table.md,
report.html): synthetic or real data and how much of it, how many seeds, how the samples were
chosen, and whether a change from clean exceeds the spread over seeds. A one-seed demo run must
not read as a finding.

Takes the report's `Run` and `CellSummary` objects (occmer.bench.report) without importing it,
so the page (occmer.bench.html) can use it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

SYNTHETIC_DATABASES = {"demo"}


def data_description(run: Any) -> str:
    """What the scores were computed on: synthetic or not, and how many clips and subjects per test condition."""
    subjects: dict[str, set[str]] = {}
    for record in run.records:
        subjects.setdefault(record["test_condition"], set()).update(record["subject"])
    parts, databases = [], set()
    for entry in run.config.get("plan", {}).values():
        test = entry.get("test")
        databases.update(entry.get("databases", []))
        text = f"{test}: {entry.get('n_samples', '?')} clips of {len(subjects.get(test, ())) or '?'} subjects"
        if text not in parts:
            parts.append(text)
    if databases and databases <= SYNTHETIC_DATABASES:
        kind = ("synthetic demo database (generated faces, not a real micro-expression database: these numbers "
                "check that the pipeline runs; they say nothing about models on real data)")
    else:
        kind = "databases " + ", ".join(sorted(databases))
    return f"Data: {kind}; " + "; ".join(parts) + "."


def seed_text(run: Any) -> str:
    """How many seeds the cells rest on, and what that allows a reader to conclude."""
    seeds = list(run.config.get("seeds", []))
    if len(seeds) < 2:
        return (f"One seed ({', '.join(map(str, seeds)) or '?'}): the spread over seeds is not known, so no "
                "difference in these tables is a finding; rerun with --seeds 3 or more to see it.")
    return f"Mean ± std over {len(seeds)} seeds ({', '.join(map(str, seeds))})."


@dataclass(frozen=True)
class Difference:
    """One model's change from its clean score on a condition, against the spread over seeds."""

    model: str
    condition: str
    delta: float
    spread: float | None  # sqrt(std_clean² + std_condition²); None with one seed
    seeds: int = 0

    @property
    def verdict(self) -> str:
        if self.spread is None:
            return "no spread known (one seed): not a finding"
        if abs(self.delta) <= self.spread:
            return f"within the seed spread (±{self.spread:.3f}): not a finding"
        rough = f"; {self.seeds} seeds give only a rough spread" if self.seeds < 3 else ""
        return f"beyond the seed spread (±{self.spread:.3f}){rough}"


def differences_from_clean(summaries: Sequence[Any], metric: str = "uf1",
                           reference: str = "clean") -> list[Difference]:
    """Each model's change from its own `reference` score, per other condition."""
    base = {s.model: s for s in summaries if s.condition == reference and s.per_seed}
    found = []
    for s in summaries:
        clean = base.get(s.model)
        if s.condition == reference or clean is None or not s.per_seed:
            continue
        (mean, std), (clean_mean, clean_std) = s.stat(metric), clean.stat(metric)
        several = len(s.used_seeds()) > 1 and len(clean.used_seeds()) > 1
        found.append(Difference(s.model, s.condition, mean - clean_mean,
                                float(np.hypot(std, clean_std)) if several else None,
                                min(len(s.used_seeds()), len(clean.used_seeds()))))
    return found


def membership_text(run: Any) -> list[str]:
    """Per test condition, how its samples were chosen, in the words the terminal used."""
    lines = []
    for entry in run.config.get("plan", {}).values():
        member = entry.get("membership")
        if not isinstance(member, dict):
            text = f"{entry.get('test')}: membership by the protocol's rules (--membership rules)"
        elif member.get("checked_databases"):
            text = (f"{entry.get('test')}: official list: {member.get('present')}/{member.get('expected')} present "
                    f"({member.get('source')})")
        else:
            text = f"{entry.get('test')}: membership by {member.get('source')}"
        if text not in lines:
            lines.append(text)
    return lines


def evidence_lines(run: Any, summaries: Sequence[Any]) -> list[str]:
    """The lines every output of a run carries: the data, the seeds, membership and the changes from clean."""
    lines = ["", data_description(run), "", seed_text(run), "", "Membership: " + "; ".join(membership_text(run)) + "."]
    changes = differences_from_clean(summaries)
    if changes:
        lines += ["", "Change of UF1 from clean (same model):", ""]
        lines += [f"- {d.model} on {d.condition}: {d.delta:+.3f}, {d.verdict}" for d in changes]
    return lines


def spread_caption(seeds: Sequence[int]) -> str:
    """A caption's account of the seeds: "mean ± std over 3 seeds" or "one seed (no spread known)"."""
    return f"mean ± std over {len(seeds)} seeds" if len(seeds) > 1 else "one seed (no spread known)"


def evidence_html(run: Any, summaries: Sequence[Any]) -> str:
    """`evidence_lines` for report.html: paragraphs, the changes from clean as a list."""
    parts, items = [], []
    for line in evidence_lines(run, summaries):
        if line.startswith("- "):
            items.append(f"<li>{escape(line[2:])}</li>")
        elif line:
            parts.append(f"<p>{escape(line)}</p>")
    return "".join(parts) + (f"<ul>{''.join(items)}</ul>" if items else "")
