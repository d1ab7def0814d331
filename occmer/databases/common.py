"""The part every sheet-driven adapter shares: sheet rows -> validated Clip records or Problems.

An adapter only turns its sheet (or folder tree) into `Entry` rows; `SheetDatabase.scan`
assigns unique sample ids, applies the database's table of known annotation fixes,
lists the frames, resolves a missing apex with the chosen policy, checks
onset <= apex <= offset against the frames on disk, and fills the label fields.
"""

from __future__ import annotations

import dataclasses
import os
import re
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from occmer.aus import parse_aus
from occmer.databases.apex import APEX_POLICIES, OFFSET_POLICIES, check_apex_policy, check_offset_policy
from occmer.databases.base import (
    Clip,
    Database,
    FrameListing,
    Problem,
    ScanResult,
    contained_file,
    contained_folder,
    frame_listing,
)
from occmer.databases.sheets import Row, cell_int, cell_text, find_child_dir, read_sheet
from occmer.errors import AnnotationError, ConfigError, DataError
from occmer.frames import MAX_FRAME_PIXELS, declared_size
from occmer.labels import normalise_emotion, normalise_objective, objective_from_aus, official_composite

_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
FIXABLE_FIELDS = ("onset", "apex", "offset", "emotion", "action_units", "objective_class")


def path_cell_error(**cells: str) -> str:
    """An error message when a sheet cell used as a folder name could leave its folder ("../x", "a/b"), else ""."""
    for column, value in cells.items():
        if "/" in value or "\\" in value or value in (".", "..") or "\x00" in value:
            return f"{column} {value!r} is not a plain folder name (no '/', '\\' or '..'); the clip stays inside the root"
    return ""


def sanitise_id(text: str) -> str:
    """An ASCII sample id with no "/" or spaces: unsafe runs become one "_"."""
    ascii_text = text.encode("ascii", "ignore").decode("ascii")
    return _UNSAFE_ID_CHARS.sub("_", ascii_text).strip("_") or "sample"


@dataclass(frozen=True)
class Entry:
    """One clip as a sheet (or folder tree) describes it, before its frames are looked at."""

    subject: str  # the subject's folder name: "sub01", "006", "s1"
    filename: str  # the clip name as the sheet writes it
    folder: Path  # where its frames should be
    onset: int | None
    apex: int | None
    offset: int | None
    source: str  # "sheet.xlsx:Sheet1:row 14", for messages
    emotion: str = ""
    action_units: str = ""
    objective_class: str = ""  # the class the database ships, raw; "" when it ships none
    objective_origin: str = ""  # where that class was read: "<sheet file>: <column>"
    notes: tuple[str, ...] = ()  # how the row was read where it needed care (recorded with the clip)
    whole_folder: bool = False  # the clip is the whole folder (SMIC): onset/offset = first/last frame
    error: str = ""  # a defect found while reading the row; the entry becomes a Problem



def row_entry(row: Row, subject: str, filename: str, folder: Path, **labels: object) -> Entry:
    """The Entry of one sheet row: its onset, apex and offset cells read as frame numbers (an
    error entry naming the bad cell when one is not), and `labels` (emotion, AUs, ...) as given."""
    try:
        onset, apex, offset = row.integer("onset"), row.integer("apex"), row.integer("offset")
    except ValueError as exc:
        return Entry(subject, filename, folder, None, None, None, row.source, error=str(exc))
    return Entry(subject, filename, folder, onset, apex, offset, row.source, **labels)


def shipped_objective(row: Row, column: str) -> dict[str, str]:
    """The objective class a row ships in its own `column` (header as the sheet names it), and where it was read."""
    value = row.text("objective_class")
    return {"objective_class": value, "objective_origin": f"{row.source.split(':')[0]}: {column}" if value else ""}

@dataclass(frozen=True)
class Fix:
    """A correction of one sheet cell, applied only while the cell still holds `expect`."""

    field: str
    value: int | str | None
    reason: str
    expect: int | str | None = None
    source: str = ""  # where a user's fix was read ("occmer_fixes.csv:row 3"); "" for built-in ones

    def __post_init__(self) -> None:
        if self.field not in FIXABLE_FIELDS:
            raise ValueError(f"cannot fix field {self.field!r}; fixable: {FIXABLE_FIELDS}")


FixTable = Mapping[tuple[str, str], Sequence[Fix]]


@dataclass(frozen=True)
class AppliedFixes:
    """The fixes that changed an entry: one readable line each, and the fields they touched."""

    lines: tuple[str, ...] = ()
    fields: frozenset[str] = frozenset()


def apply_fixes(entry: Entry, fixes: Sequence[Fix]) -> tuple[Entry, AppliedFixes]:
    """The entry with its fixes applied, and what was actually changed."""
    lines, fields = [], set()
    for fix in fixes:
        current = getattr(entry, fix.field)
        if fix.expect is not None and current != fix.expect:
            continue  # the release at hand already differs: leave it as it is
        if current == fix.value:
            continue
        entry = dataclasses.replace(entry, **{fix.field: fix.value})
        lines.append(f"{fix.field} {current!r} -> {fix.value!r}: {fix.reason}")
        fields.add(fix.field)
    return entry, AppliedFixes(tuple(lines), frozenset(fields))


USER_FIXES_FILE = "occmer_fixes.csv"
USER_FIX_COLUMNS = {
    "subject": ("subject",), "filename": ("filename",), "field": ("field",), "value": ("value",),
    "reason": ("reason",), "expect": ("expect", "expected"),
}
_INT_FIELDS = ("onset", "apex", "offset")


def _fix_value(field: str, value: object, where: str) -> int | str | None:
    if field not in _INT_FIELDS:
        return cell_text(value)
    try:
        return cell_int(value)
    except ValueError as exc:
        raise AnnotationError(f"{where}: {exc}; {field} takes a frame number") from None


def read_user_fixes(root: Path, follow_symlinks: bool = False) -> dict[tuple[str, str], tuple[Fix, ...]]:
    """Fixes from `occmer_fixes.csv` in the root (subject folder, filename, field, value, reason[, expect]).

    Lets a user apply a correction they have checked without editing occmer; applied fixes are
    recorded per sample exactly like the built-in ones. Like every file of the root, it must not
    be a symlink out of it (unless `follow_symlinks`).
    """
    path = root / USER_FIXES_FILE
    if not path.is_file():
        return {}
    contained_file(path, root, follow_symlinks, "fix table")
    table: dict[tuple[str, str], list[Fix]] = defaultdict(list)
    for row in read_sheet(path, USER_FIX_COLUMNS, ("subject", "filename", "field", "value", "reason")):
        field_name = row.text("field")
        if field_name not in FIXABLE_FIELDS:
            raise AnnotationError(f"{row.source}: cannot fix {field_name!r}; fixable fields: {', '.join(FIXABLE_FIELDS)}")
        if not row.text("reason"):
            raise AnnotationError(f"{row.source}: every fix needs a one-line reason")
        expect = row.values.get("expect")
        table[(row.text("subject"), row.text("filename"))].append(Fix(
            field_name, _fix_value(field_name, row.values.get("value"), row.source), row.text("reason"),
            None if cell_text(expect) == "" else _fix_value(field_name, expect, row.source), row.source,
        ))
    return {key: tuple(fixes) for key, fixes in table.items()}


def merge_fixes(*tables: FixTable) -> dict[tuple[str, str], tuple[Fix, ...]]:
    """Several fix tables as one; later tables add their fixes after the earlier ones."""
    merged: dict[tuple[str, str], tuple[Fix, ...]] = {}
    for table in tables:
        for key, fixes in table.items():
            merged[key] = (*merged.get(key, ()), *fixes)
    return merged


def assign_sample_ids(database: str, entries: Sequence[Entry]) -> list[str]:
    """Unique ids "<database>_<subject>_<filename>"; a repeated name also gets its onset (then a counter)."""
    bases = [sanitise_id(f"{database}_{e.subject}_{e.filename}") for e in entries]
    counts: dict[str, int] = defaultdict(int)
    for base in bases:
        counts[base] += 1
    ids = []
    taken: set[str] = set()
    for base, entry in zip(bases, entries, strict=True):
        candidate = base if counts[base] == 1 else f"{base}_{entry.onset if entry.onset is not None else 'x'}"
        unique, k = candidate, 2
        while unique in taken:
            unique, k = f"{candidate}_{k}", k + 1
        taken.add(unique)
        ids.append(unique)
    return ids


class SheetDatabase(Database):
    """An adapter that reads entries from a sheet or folder tree and validates them the same way."""

    fixes: ClassVar[FixTable] = {}
    zero_offset_missing: ClassVar[bool] = False  # the sheet writes offset 0 for "not annotated"

    def __init__(
        self, root: Path, apex_policy: str = "midpoint", offset_policy: str = "mirror", follow_symlinks: bool = False
    ) -> None:
        super().__init__(root, check_apex_policy(apex_policy), check_offset_policy(offset_policy), follow_symlinks)

    @abstractmethod
    def read_entries(self) -> tuple[list[Entry], list[Problem]]:
        """The clips the database lists, and problems of rows that cannot become entries at all."""

    def subject_name(self, entry: Entry) -> str:
        """The subject id stored in the output: namespaced by database ("casme2/sub01")."""
        return f"{self.name}/{entry.subject}"

    def scan(self) -> ScanResult:
        entries, problems = self.read_entries()
        entries = [drop_negative_frames(e, self.zero_offset_missing) for e in entries]
        result = ScanResult(problems=list(problems))
        if not entries and not problems:
            result.problems.append(Problem(
                self.name, str(self.root), f"no clip is listed (expected {self.layout}); a sheet with a header and "
                "no data rows, or an empty folder tree, gives nothing to read",
                "check that --root is the database's folder and that its sheet is the release's full sheet",
            ))
        listings: dict[Path, FrameListing | DataError] = {}  # one listing per folder (CAS(ME)^3 clips share videos)
        user_fixes = read_user_fixes(self.root, self.follow_symlinks)
        result.problems += unmatched_fix_problems(self.name, user_fixes, entries)
        table = merge_fixes(self.fixes, user_fixes)
        first_row: dict[tuple, str] = {}
        for sample_id, entry in zip(assign_sample_ids(self.name, entries), entries, strict=True):
            entry, applied = apply_fixes(entry, table.get((entry.subject, entry.filename), ()))
            key = (entry.subject.lower(), entry.filename.lower(), entry.onset, entry.apex, entry.offset)
            if not entry.error and key in first_row:
                result.problems.append(Problem(
                    sample_id, entry.source, f"duplicates {first_row[key]} (same subject, clip and frames)",
                    "delete the repeated row from the sheet, or skip it (--skip-invalid)",
                ))
                continue
            first_row.setdefault(key, entry.source)
            outcome = self.build_clip(sample_id, entry, applied, listings)
            if isinstance(outcome, Problem):
                result.problems.append(outcome)
            else:
                result.clips.append(outcome)
        return result

    def locate_folder(self, entry: Entry) -> Entry:
        """The entry with its folder kept inside the root and, when the exact name is missing, matched
        case-insensitively (CAS(ME)^3 writes `J` for folder `j`); the match is recorded in its notes."""
        folder = contained_folder(entry.folder, self.root, follow_symlinks=True)  # lexical check only here
        if folder.is_dir():
            return dataclasses.replace(entry, folder=folder)
        matched = match_case_insensitive(self.root, folder)
        if matched is None or matched == folder:
            return dataclasses.replace(entry, folder=folder)
        note = (f"folder {folder.relative_to(self.root).as_posix()!r} -> {matched.relative_to(self.root).as_posix()!r}: "
                "matched case-insensitively (the exact name is missing)")
        return dataclasses.replace(entry, folder=matched, notes=(*entry.notes, note))

    def build_clip(
        self, sample_id: str, entry: Entry, applied: AppliedFixes = AppliedFixes(), listings: dict | None = None
    ) -> Clip | Problem:
        """A validated Clip, or the first Problem that prevents one."""
        if entry.error:
            return Problem(sample_id, entry.source, entry.error, "correct the row in the sheet or skip the clip")
        try:
            entry = self.locate_folder(entry)
        except DataError as exc:
            return Problem(sample_id, entry.source, str(exc), "correct the folder or filename cell of the row")
        where = str(entry.folder)
        listing = cached_listing(entry.folder, {} if listings is None else listings, self.root, self.follow_symlinks)
        if isinstance(listing, DataError):
            exc = listing
            return Problem(
                sample_id, where, f"{exc} (listed at {entry.source})",
                "check that the clip's frames were extracted under the root; otherwise skip the clip (--skip-invalid)",
            )
        frames = listing.frames
        numbers = [n for n, _ in frames]
        onset, offset = entry.onset, entry.offset
        notes = list(entry.notes)
        if listing.ignored:
            shown = ", ".join(listing.ignored[:3]) + (f" and {len(listing.ignored) - 3} more" if len(listing.ignored) > 3
                                                     else "")
            notes.append(f"ignored {len(listing.ignored)} macOS metadata file(s) beside the frames ({shown}): "
                         "AppleDouble '._' files are not images")
        offset_source = "fixed" if "offset" in applied.fields else "annotated"
        if entry.whole_folder:
            onset = numbers[0] if onset is None else onset
            offset = numbers[-1] if offset is None else offset
        if onset is None:
            return Problem(sample_id, entry.source, "onset frame is missing", "fill in the frame number in the sheet")
        if offset is None:
            if self.offset_policy == "skip":
                return Problem(sample_id, entry.source, "offset frame is not annotated",
                               "fill it in, or choose an offset policy (--offset mirror or half-second)")
            try:
                offset = OFFSET_POLICIES[self.offset_policy](numbers, onset, entry.apex, self.fps)
            except (ValueError, ConfigError) as exc:
                return Problem(sample_id, entry.source, f"offset frame is not annotated and {exc}",
                               "fill in the offset, or use --offset half-second")
            offset_source = self.offset_policy
            notes.append(f"offset not annotated -> {offset}: offset policy {self.offset_policy}")
        apex, apex_source = entry.apex, ("fixed" if "apex" in applied.fields else "annotated")
        if apex is None:
            if onset > offset:
                return Problem(sample_id, entry.source, f"onset {onset} > offset {offset}", "correct the sheet row")
            try:
                apex = APEX_POLICIES[self.apex_policy](frames, onset, offset)
            except DataError as exc:
                return Problem(sample_id, where, str(exc), "replace the damaged frame or use --apex midpoint")
            apex_source = self.apex_policy
        problem = check_order(sample_id, entry, onset, apex, offset, numbers) or check_images(
            sample_id, [(n, p) for n, p in frames if onset <= n <= offset])
        if problem is not None:
            return problem
        try:
            labels = clip_labels(self.name, entry)
        except ValueError as exc:
            return Problem(sample_id, entry.source, str(exc), "correct the objective class column")
        unreadable = parse_aus(entry.action_units).unreadable
        notes += [f"action_units: token {token!r} is not an AU; kept verbatim, no AU taken from it"
                  for token in unreadable]
        return Clip(
            sample_id=sample_id,
            database=self.name,
            subject=self.subject_name(entry),
            filename=entry.filename,
            folder=entry.folder,
            frames=frames,
            onset=onset,
            apex=apex,
            offset=offset,
            apex_source=apex_source,
            offset_source=offset_source,
            action_units=entry.action_units,
            au_unreadable=unreadable,
            fixes=(*applied.lines, *notes),
            **labels,
        )


def match_case_insensitive(root: Path, folder: Path) -> Path | None:
    """`folder` (below `root`) with each missing part matched case-insensitively; None when a part has no match."""
    current = root
    for part in folder.relative_to(root).parts:
        found = find_child_dir(current, part)
        if found is None:
            return None
        current = found
    return current


def clip_labels(database: str, entry: Entry) -> dict[str, str]:
    """emotion, objective_class (+ given/derived, origin) and MEGC 2019 composite of an entry; ValueError on a bad class."""
    given = normalise_objective(entry.objective_class)
    derived = "" if given else objective_from_aus(entry.action_units)
    emotion = normalise_emotion(entry.emotion)
    return {
        "emotion": emotion,
        "objective_class": given or derived,
        "objective_source": "given" if given else ("derived" if derived else ""),
        "objective_origin": entry.objective_origin if given else ("AU string" if derived else ""),
        "composite": official_composite(database, entry.subject, entry.filename, emotion),
    }


def unmatched_fix_problems(
    database: str, fixes: FixTable, entries: Sequence[Entry]
) -> list[Problem]:
    """A Problem per user fix naming a clip the database does not list: a typo there would silently
    leave the correction the user checked unapplied."""
    listed = {(e.subject, e.filename) for e in entries}
    problems = []
    for (subject, filename), rows in fixes.items():
        if (subject, filename) in listed:
            continue
        where = rows[0].source or USER_FIXES_FILE
        problems.append(Problem(
            sanitise_id(f"{database}_{subject}_{filename}"), where,
            f"fix for subject {subject!r}, clip {filename!r} matches no clip of the sheet; it was not applied",
            f"write the subject folder and filename exactly as the clips are listed (e.g. sub01, EP02_01f) in "
            f"{USER_FIXES_FILE}, or delete the row",
        ))
    return problems


def cached_listing(
    folder: Path, listings: dict, root: Path | None = None, follow_symlinks: bool = False
) -> FrameListing | DataError:
    """frame_listing(folder) (kept inside `root`), or the DataError it raised, computed once per folder."""
    if folder not in listings:
        try:
            listings[folder] = frame_listing(folder, root, follow_symlinks)
        except DataError as exc:
            listings[folder] = exc
    return listings[folder]


def drop_negative_frames(entry: Entry, zero_offset_missing: bool = False) -> Entry:
    """Frame numbers below 0 (some sheets write -1 for "unknown") are treated as missing, and so is an
    offset of 0 where the database uses 0 for "not annotated" (CAS(ME)^3, CAS(ME)^2)."""
    changes = {f: None for f in ("onset", "apex", "offset") if (getattr(entry, f) or 0) < 0}
    if zero_offset_missing and entry.offset == 0:
        changes["offset"] = None
    return dataclasses.replace(entry, **changes) if changes else entry


def _child_dirs(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries if e.is_dir())
    except OSError:
        return []


def locate_dir(root: Path, names: Sequence[str], layout: str, max_depth: int = 3) -> Path:
    """The folder under `root` (itself included, breadth first) that has a child named one of `names`.

    Releases nest their frame folders differently (`SAMM/006/...`, `part_A/data/ME_A/spNO.1/...`);
    this finds the level that holds them. DataError naming the layout when nothing matches.
    """
    wanted = {n.lower() for n in names}
    level = [root]
    for _ in range(max_depth + 1):
        following = []
        for folder in level:
            children = _child_dirs(folder)
            if any(c.name.lower() in wanted for c in children):
                return folder
            following.extend(children)
        level = following
    shown = ", ".join(sorted(names)[:3])
    raise DataError(
        f"no folder named {shown} found within {max_depth} levels under {root}; expected {layout}; "
        f"pass the folder that holds the database as --root"
    )


def check_order(
    sample_id: str, entry: Entry, onset: int, apex: int, offset: int, numbers: Sequence[int]
) -> Problem | None:
    """A Problem when onset <= apex <= offset fails or a key frame is not among the folder's frames."""
    if not onset <= apex <= offset:
        return Problem(
            sample_id, entry.source, f"onset {onset}, apex {apex}, offset {offset} violate onset <= apex <= offset",
            "correct the frame numbers in the sheet (or add a fix to the database's fix table)",
        )
    first, last = numbers[0], numbers[-1]
    if onset < first or offset > last:
        return Problem(
            sample_id, str(entry.folder),
            f"onset..offset {onset}..{offset} lies outside the folder's frames {first}..{last}",
            "check that the folder holds the whole clip and that the sheet row belongs to it",
        )
    present = set(numbers)
    missing = [n for n in sorted({onset, apex, offset}) if n not in present]
    if missing:
        return Problem(
            sample_id, str(entry.folder), f"key frames {missing} have no image file",
            "restore the missing frames from the release or correct the sheet",
        )
    gaps = [n for n in range(onset, offset + 1) if n not in present]
    if gaps:
        shown = ", ".join(str(n) for n in gaps[:8]) + (f" and {len(gaps) - 8} more" if len(gaps) > 8 else "")
        return Problem(
            sample_id, str(entry.folder), f"{len(gaps)} frames inside onset..offset {onset}..{offset} are missing: {shown}",
            "restore the missing frames from the release, or skip the clip (--skip-invalid)",
        )
    return None


def check_images(sample_id: str, frames: Sequence[tuple[int, Path]]) -> Problem | None:
    """A Problem when the clip's frames differ in size or colour mode, or a header cannot be read.

    Only image headers are read (PIL opens lazily), so this stays cheap; decoding is the pipeline's job.
    """
    from PIL import Image, UnidentifiedImageError

    first: tuple[int, tuple[int, int], str] | None = None
    for number, path in frames:
        try:
            with Image.open(path) as image:
                size, mode = image.size, image.mode
        except Image.DecompressionBombError:  # a header declaring billions of pixels: never decoded
            declared = declared_size(np.fromfile(str(path), dtype=np.uint8)) or ("?", "?")
            return Problem(sample_id, str(path), f"frame {number} declares {declared[0]}x{declared[1]} pixels, "
                           f"more than occmer decodes ({MAX_FRAME_PIXELS})",
                           "replace the file from the release, or skip the clip (--skip-invalid)")
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            return Problem(sample_id, str(path), f"frame {number} is not a readable image ({exc})",
                           "replace the file from the release, or skip the clip (--skip-invalid)")
        if first is None:
            first = (number, size, mode)
        elif (size, mode) != first[1:]:
            return Problem(
                sample_id, str(path),
                f"frame {number} is {size[0]}x{size[1]} {mode}, but frame {first[0]} is "
                f"{first[1][0]}x{first[1][1]} {first[2]}: the frames of one clip must share size and colour mode",
                "re-extract the clip's frames from the release, or skip the clip (--skip-invalid)",
            )
    return None
