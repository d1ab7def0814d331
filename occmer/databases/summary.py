"""Pre-flight summary of a scan: clips per class and subject, frame counts, apex sources, fixes, problems.

Pure computation and text formatting; `occmer describe` prints it and nothing is written.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from occmer.databases.base import Clip, Database, Problem, ScanResult
from occmer.databases.long_video import LongScan
from occmer.labels import classes as scheme_classes
from occmer.labels import label_of

NOT_IN_SCHEME = "(not in scheme)"


@dataclass(frozen=True)
class Spread:
    """min / median / max of a count over clips."""

    low: int
    median: float
    high: int

    @classmethod
    def of(cls, values: Sequence[int]) -> Spread:
        if not values:
            return cls(0, 0.0, 0)
        return cls(min(values), float(statistics.median(values)), max(values))

    def __str__(self) -> str:
        return f"min {self.low}, median {self.median:g}, max {self.high}"


@dataclass
class Summary:
    """What describe reports for one scan under one label scheme."""

    scheme: str
    clips: int
    subjects: int
    classes: list[str]
    per_subject: dict[str, Counter] = field(default_factory=dict)
    per_database: dict[str, int] = field(default_factory=dict)
    folder_frames: Spread = Spread(0, 0.0, 0)
    clip_frames: Spread = Spread(0, 0.0, 0)
    apex_sources: Counter = field(default_factory=Counter)
    objective_sources: Counter = field(default_factory=Counter)
    offset_sources: Counter = field(default_factory=Counter)
    unreadable_aus: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)  # (sample, AUs, tokens)
    fixes: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)  # database -> clips without a label under the scheme

    @property
    def totals(self) -> Counter:
        total: Counter = Counter()
        for counts in self.per_subject.values():
            total.update(counts)
        return total


def summarise(result: ScanResult, scheme: str) -> Summary:
    """Counts of a scan under a label scheme; clips outside the scheme are counted apart."""
    per_subject: dict[str, Counter] = {}
    for clip in result.clips:
        label = label_of(clip, scheme) or NOT_IN_SCHEME
        per_subject.setdefault(clip.subject, Counter())[label] += 1
    present = {label for counts in per_subject.values() for label in counts} - {NOT_IN_SCHEME}
    known = scheme_classes(scheme)
    if scheme == "emotion":  # the emotion vocabulary differs per database: show the labels present
        known = [c for c in known if c in present]
    ordered = known + sorted(present - set(known))
    if any(NOT_IN_SCHEME in counts for counts in per_subject.values()):
        ordered.append(NOT_IN_SCHEME)
    return Summary(
        scheme=scheme,
        clips=len(result.clips),
        subjects=len(per_subject),
        classes=ordered,
        per_subject=dict(sorted(per_subject.items(), key=lambda item: _natural(item[0]))),
        per_database=dict(Counter(c.database for c in result.clips)),
        folder_frames=Spread.of([len(c.frames) for c in result.clips]),
        clip_frames=Spread.of([_clip_length(c) for c in result.clips]),
        apex_sources=Counter(c.apex_source for c in result.clips),
        objective_sources=Counter(_objective_source(c) for c in result.clips),
        offset_sources=Counter(c.offset_source for c in result.clips),
        unreadable_aus=[(c.sample_id, c.action_units, c.au_unreadable) for c in result.clips if c.au_unreadable],
        fixes=[(c.sample_id, line) for c in result.clips for line in c.fixes],
        problems=list(result.problems),
        left_out=Counter(c.database for c in result.clips if not label_of(c, scheme)),
    )


def left_out_lines(problems: Sequence[Problem]) -> list[str]:
    """What --skip-invalid leaves out, per database and reason: "left out: casme2: 2 (key frames ... missing)"."""
    counts: Counter = Counter()
    for problem in problems:
        database = problem.sample_id.split("_", 1)[0]
        reason = re.sub(r"\d+", "N", problem.message.split(" (")[0].split(": ")[0])[:80]
        counts[(database, reason)] += 1
    return [f"left out: {database}: {n} ({reason})" for (database, reason), n in sorted(counts.items())]


def _objective_source(clip: Clip) -> str:
    if clip.objective_source == "given" and clip.objective_origin:
        return f"given ({clip.objective_origin})"
    return clip.objective_source or "none"


def _clip_length(clip: Clip) -> int:
    return sum(1 for n in clip.frame_numbers if clip.onset <= n <= clip.offset)


def _natural(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def format_databases(databases: Sequence[Database]) -> str:
    """One line per database: name, root, description and published size."""
    lines = []
    for db in databases:
        published = f"; published: {db.published_size}" if db.published_size else ""
        lines.append(f"{db.name}: {db.root} ({db.description}{published})")
    return "\n".join(lines)


def format_summary(summary: Summary) -> str:
    """The describe report as text."""
    lines = [
        f"clips: {summary.clips} valid, {len(summary.problems)} with problems; subjects: {summary.subjects}"
        + (f" ({', '.join(f'{k} {v}' for k, v in summary.per_database.items())})" if len(summary.per_database) > 1
           else ""),
        f"frames per clip folder: {summary.folder_frames}",
        f"frames onset..offset: {summary.clip_frames}",
        "apex: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.apex_sources.items())),
        "offset: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.offset_sources.items())),
        "objective class: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.objective_sources.items())),
        "",
        f"clips per class and subject ({summary.scheme}):",
    ]
    lines.extend(_table(summary))
    if summary.left_out:
        lines.append(f"not in scheme {summary.scheme} (left out by it): "
                     + ", ".join(f"{db} {n}" for db, n in sorted(summary.left_out.items())))
    if summary.unreadable_aus:
        lines += ["", f"AU tokens not read as AUs ({len(summary.unreadable_aus)} clips; kept verbatim in action_units):"]
        lines += [f"  - {sample}: {aus!r}: {', '.join(repr(t) for t in tokens)}"
                  for sample, aus, tokens in summary.unreadable_aus]
    if summary.fixes:
        lines += ["", f"annotation fixes and notes applied ({len(summary.fixes)}):"]
        lines += [f"  - {sample}: {line}" for sample, line in summary.fixes]
    lines += ["", f"problems ({len(summary.problems)}):" if summary.problems else "problems: none"]
    lines += [f"  - {problem}" for problem in summary.problems]
    return "\n".join(lines)


def _table(summary: Summary) -> list[str]:
    header = ["subject", *summary.classes, "total"]
    rows = [["total", *(str(summary.totals.get(c, 0)) for c in summary.classes), str(summary.clips)]]
    for subject, counts in summary.per_subject.items():
        rows.append([subject, *(str(counts.get(c, 0)) for c in summary.classes), str(sum(counts.values()))])
    return _aligned([header, *rows])


def _aligned(rows: list[list[str]]) -> list[str]:
    """Rows as indented text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) if k == 0 else cell.rjust(w) for k, (cell, w) in
                             enumerate(zip(row, widths, strict=True))) for row in rows]


@dataclass
class LongSummary:
    """What describe reports for a long-video scan: videos, frames, micro/macro counts per video, problems."""

    database: str
    videos: int
    subjects: int
    frames: int
    per_video: list[tuple[str, int, int, int]]  # (video id, frames, micro, macro)
    notes: list[tuple[str, str]]
    problems: list[Problem]

    @property
    def micro(self) -> int:
        return sum(m for _, _, m, _ in self.per_video)

    @property
    def macro(self) -> int:
        return sum(m for _, _, _, m in self.per_video)


def summarise_long(database: str, scan: LongScan) -> LongSummary:
    """Counts of a long-video scan (frames are counted from the listing; nothing is decoded)."""
    return LongSummary(
        database=database,
        videos=len(scan.videos),
        subjects=len({v.subject for v in scan.videos}),
        frames=sum(len(v.frames) for v in scan.videos),
        per_video=[(v.video_id, len(v.frames), len(v.micro), len(v.macro)) for v in scan.videos],
        notes=[(v.video_id, note) for v in scan.videos for note in v.notes],
        problems=list(scan.problems),
    )


def format_long_summary(summary: LongSummary) -> str:
    """The describe report of a long-video database as text."""
    lines = [
        f"videos: {summary.videos} valid, {len({p.sample_id for p in summary.problems})} with problems; "
        f"subjects: {summary.subjects}; frames: {summary.frames}",
        f"expressions: {summary.micro} micro, {summary.macro} macro",
        "",
        "expressions per video:",
    ]
    rows = [["video", "frames", "micro", "macro"], ["total", str(summary.frames), str(summary.micro),
                                                    str(summary.macro)]]
    rows += [[video, str(frames), str(micro), str(macro)] for video, frames, micro, macro in summary.per_video]
    lines += _aligned(rows)
    if summary.notes:
        lines += ["", f"notes on how the sheet was read ({len(summary.notes)}):"]
        lines += [f"  - {video}: {note}" for video, note in summary.notes]
    lines += ["", f"problems ({len(summary.problems)}):" if summary.problems else "problems: none"]
    lines += [f"  - {problem}" for problem in summary.problems]
    return "\n".join(lines)
