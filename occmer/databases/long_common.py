"""What every long-video adapter shares: sheet rows -> LongVideoRecords, or Problems per video.

An adapter turns its sheet into `LongRow`s (one per annotated expression, with the folder of
its video); `scan_rows` groups them by video, lists each video's frames once (kept inside the
root, symlinks out of it refused, macOS `._` files ignored), reads every interval against those
frames and builds the records. A video with any problem (missing folder, an interval outside
its frames, offset before onset, an unknown type ...) is left out whole and each defect becomes
a Problem naming the sheet row or folder and the fix: a video kept with one of its expressions
dropped would make a correct spot count as a false positive.

Policies where the sheets leave values out (each application is recorded in the video's notes):
a frame number of 0 that is not a frame of the video, or below 0 (SAMM writes apex -1), is "not
annotated"; a missing apex stays None; a missing offset takes the apex (as SOFTNet and MEAN read
CAS(ME)^2, whose sheet writes offset 0 for 44 expressions); an apex outside onset..offset is
dropped (None), the interval is kept; a missing onset is a problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from occmer.databases.base import FrameListing, Problem
from occmer.databases.common import cached_listing, sanitise_id
from occmer.databases.long_video import LongInterval, LongScan, LongVideoDatabase, LongVideoRecord
from occmer.databases.sheets import Row
from occmer.errors import DataError

ROW_FIX = "correct the row in the sheet, or leave the video out (--skip-invalid)"


@dataclass(frozen=True)
class LongRow:
    """One expression as a long-video sheet writes it, before the video's frames are looked at."""

    subject: str  # the subject's folder name: "s15", "006", "spNO.1"
    video: str  # the video's name within the subject: "0101", "006_1", "a"
    folder: Path  # where the video's frames should be
    onset: int | None
    apex: int | None
    offset: int | None
    kind: str  # the type cell as written: "micro-expression", "Micro - 1/2", "Macro"
    source: str  # "sheet.xlsx:Sheet1:row 14", for messages
    emotion: str = ""
    objective_class: str = ""
    action_units: str = ""
    notes: tuple[str, ...] = ()
    error: str = ""  # a defect found reading the row: the video becomes a Problem


def interval_kind(text: str) -> str | None:
    """"micro" or "macro" from a type cell ("micro-expression", "Micro - 1/2", "Macro"); None otherwise."""
    word = text.strip().lower()
    for kind in ("micro", "macro"):
        if word.startswith(kind):
            return kind
    return None


def long_row(row: Row, subject: str, video: str, folder: Path, kind: str, **labels: str) -> LongRow:
    """The LongRow of a sheet row: its onset/apex/offset cells read as frame numbers (an error row naming the
    bad cell when one is not), `labels` (emotion, AUs, notes ...) as given."""
    try:
        onset, apex, offset = row.integer("onset"), row.integer("apex"), row.integer("offset")
    except ValueError as exc:
        return LongRow(subject, video, folder, None, None, None, kind, row.source, error=str(exc))
    return LongRow(subject, video, folder, onset, apex, offset, kind, row.source, **labels)


def error_row(row: Row, subject: str, video: str, folder: Path, message: str) -> LongRow:
    """A row that cannot be placed (a bad subject or filename cell)."""
    return LongRow(subject or "unknown", video or "unknown", folder, None, None, None, "", row.source, error=message)


def scan_rows(database: LongVideoDatabase, rows: Sequence[LongRow]) -> LongScan:
    """The videos of `rows` (grouped by subject and folder, in sheet order) with their intervals, or their problems.

    With `database.strict`, a DataError listing the first problems instead of a scan that has any.
    """
    scan = LongScan()
    if not rows:
        scan.problems.append(Problem(
            database.name, str(database.root), "no expression is listed (a sheet with a header and no data rows)",
            "check that --root is the release's folder and that its sheet is the release's full sheet",
        ))
    groups: dict[tuple[str, Path], list[LongRow]] = {}
    for row in rows:
        groups.setdefault((row.subject.lower(), row.folder), []).append(row)
    taken: set[str] = set()
    listings: dict[Path, FrameListing | DataError] = {}
    for video_rows in groups.values():
        first = video_rows[0]
        name = first.video if first.video.lower().startswith(first.subject.lower()) else f"{first.subject}_{first.video}"
        video_id = _unique(sanitise_id(f"{database.name}_{name}"), taken)  # "samm-long_006_1", "casme2x-long_s15_0101"
        outcome = build_video(database, video_id, video_rows, listings)
        if isinstance(outcome, LongVideoRecord):
            scan.videos.append(outcome)
        else:
            scan.problems.extend(outcome)
    if database.strict and scan.problems:
        shown = "; ".join(str(p) for p in scan.problems[:3])
        more = f" and {len(scan.problems) - 3} more" if len(scan.problems) > 3 else ""
        raise DataError(f"{len(scan.problems)} problems in {database.name} under {database.root}: {shown}{more}")
    return scan


def _unique(candidate: str, taken: set[str]) -> str:
    unique, k = candidate, 2
    while unique in taken:
        unique, k = f"{candidate}_{k}", k + 1
    taken.add(unique)
    return unique


def build_video(
    database: LongVideoDatabase, video_id: str, rows: Sequence[LongRow], listings: dict
) -> LongVideoRecord | list[Problem]:
    """One video's record from its rows, or every problem that prevents it."""
    problems = [Problem(video_id, row.source, row.error, ROW_FIX) for row in rows if row.error]
    if len(problems) == len(rows):
        return problems  # no row names a video: nothing to list
    folder = rows[0].folder
    listing = cached_listing(folder, listings, database.root, database.follow_symlinks)
    if isinstance(listing, DataError):
        sources = ", ".join(r.source for r in rows[:3]) + (" ..." if len(rows) > 3 else "")
        return [*problems, Problem(
            video_id, str(folder), f"{listing} (video of {sources})",
            "check that the video's frames were extracted under the root and the subject and filename cells "
            "name them; otherwise leave the video out (--skip-invalid)",
        )]
    numbers = [n for n, _ in listing.frames]
    present = set(numbers)
    intervals, notes = [], list(dict.fromkeys(note for row in rows for note in row.notes))
    if listing.ignored:
        notes.append(f"ignored {len(listing.ignored)} macOS metadata file(s) beside the frames "
                     f"({', '.join(listing.ignored[:3])}): AppleDouble '._' files are not images")
    seen: dict[tuple[str, int, int], str] = {}
    for row in rows:
        if row.error:
            continue
        outcome = read_interval(row, numbers, present)
        if isinstance(outcome, str):
            problems.append(Problem(video_id, row.source, outcome, ROW_FIX))
            continue
        interval, row_notes = outcome
        key = (interval.kind, interval.onset, interval.offset)
        if key in seen:
            problems.append(Problem(video_id, row.source, f"duplicates {seen[key]} (same kind, onset and offset)",
                                    "delete the repeated row from the sheet"))
            continue
        seen[key] = row.source
        intervals.append(interval)
        notes += [f"{row.source}: {note}" for note in row_notes]
    if problems:
        return problems
    first = rows[0]
    return LongVideoRecord(
        video_id=video_id,
        database=database.name,
        subject=f"{database.name}/{first.subject}",
        folder=folder,
        fps=database.fps,
        intervals=tuple(sorted(intervals, key=lambda i: (i.onset, i.offset, i.kind))),
        frames=listing.frames,
        notes=tuple(notes),
    )


def _annotated(value: int | None, present: set[int]) -> int | None:
    """A frame cell with "not annotated" read as None: below 0, or 0 where the video has no frame 0."""
    if value is None or value < 0 or (value == 0 and 0 not in present):
        return None
    return value


def read_interval(row: LongRow, numbers: Sequence[int], present: set[int]) -> tuple[LongInterval, list[str]] | str:
    """The interval of a row checked against its video's frames, and notes on how it was read; an error otherwise."""
    kind = interval_kind(row.kind)
    if kind is None:
        return f"type {row.kind!r} is neither a micro- nor a macro-expression (expected e.g. 'micro-expression', " \
               "'Micro - 1/2', 'Macro')"
    onset, apex, offset = (_annotated(v, present) for v in (row.onset, row.apex, row.offset))
    notes = []
    if onset is None:
        return f"onset is not annotated ({row.onset!r}; frames of the video: {numbers[0]}..{numbers[-1]})"
    if offset is None:
        if apex is None or apex < onset:
            return f"offset is not annotated ({row.offset!r}) and no apex after the onset can stand in for it"
        offset = apex
        notes.append(f"offset {row.offset!r} is not annotated -> the apex {apex}, as SOFTNet and MEAN read it")
    if offset < onset:
        return f"offset {offset} < onset {onset}"
    if onset < numbers[0] or offset > numbers[-1]:
        return (f"onset..offset {onset}..{offset} lies outside the video's frames {numbers[0]}..{numbers[-1]}; "
                "check that the folder holds the whole video and that the row belongs to it")
    gaps = [n for n in range(onset, offset + 1) if n not in present]
    if gaps:
        shown = ", ".join(str(n) for n in gaps[:8]) + (f" and {len(gaps) - 8} more" if len(gaps) > 8 else "")
        return f"{len(gaps)} frames inside onset..offset {onset}..{offset} have no image file: {shown}"
    if apex is not None and not onset <= apex <= offset:
        notes.append(f"apex {apex} lies outside onset..offset {onset}..{offset}: not used (None)")
        apex = None
    elif apex is None and row.apex is not None:
        notes.append(f"apex {row.apex!r} is not annotated (None)")
    interval = LongInterval(onset, apex, offset, kind, row.emotion, row.objective_class, row.action_units, row.source)
    return interval, notes

