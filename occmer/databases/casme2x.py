"""CAS(ME)^2 (Qu et al. 2017), micro-expression clips only: 57 MEs of 14 subjects (of 22) at 30 fps.

Layout under the root: `CAS(ME)^2code_final.xlsx` and frames `rawpic/s15/15_0101disgustingteeth/img1.jpg`
(long videos; the sheet's frame numbers are absolute within the video).

The code sheet has no header. Sheet 1 lists expressions: subject number, expression name
(`disgust1_1` = video `disgust1`, expression 1), onset, apex, offset, AUs, emotion, type
(micro-expression / macro-expression), self-report. Sheet 2 maps subject numbers to subject
codes (columns: -, code, number) and sheet 3 maps video codes to names (code `0101`, name
`disgust1`). The folder of an expression is `rawpic/s<code>/<code>_<video code>*`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from occmer.databases import register
from occmer.databases.base import Problem
from occmer.databases.common import Entry, FixTable, SheetDatabase, locate_dir
from occmer.databases.sheets import Row, cell_int, cell_text, find_child_dir, find_sheet, read_positional
from occmer.errors import AnnotationError

EXPRESSION_COLUMNS = (
    "subject", "filename", "onset", "apex", "offset", "action_units", "emotion", "type", "self_report",
)
CASME2X_FIXES: FixTable = {}
LAYOUT = "CAS(ME)^2code_final.xlsx and rawpic/s15/15_0101disgustingteeth/img1.jpg"
SHEET_PATTERNS = ("CAS(ME)^2code_final*.xlsx", "*code_final*.xlsx")


def subject_codes(rows: list[Row]) -> dict[int, str]:
    """Subject number (as sheet 1 writes it) -> subject code digits ("15"), from the subject naming sheet."""
    table = {}
    for row in rows:
        try:
            number = cell_int(row.values.get("number"))
        except ValueError:
            continue  # a title row
        code = cell_text(row.values.get("code")).lower().removeprefix("s")
        if number is not None and code.isdigit():
            table[number] = str(int(code))
    return table


def video_codes(rows: list[Row]) -> dict[str, str]:
    """Video name ("disgust1") -> four-digit video code ("0101"), from the video naming sheet."""
    table = {}
    for row in rows:
        code, name = cell_text(row.values.get("code")), cell_text(row.values.get("name")).lower()
        if code.isdigit() and name:
            table[name] = code.zfill(4)
    return table


@dataclass(frozen=True)
class CodeSheet:
    """The code sheet of CAS(ME)^2 as read: its expression rows, the two naming tables and the frames folder."""

    path: Path
    expressions: list[Row]
    subjects: dict[int, str]  # subject number -> code digits ("15")
    videos: dict[str, str]  # video name ("disgust1") -> video code ("0101")
    rawpic: Path


def read_code_sheet(root: Path, layout: str, follow_symlinks: bool = False) -> CodeSheet:
    """The code sheet under `root` and the rawpic folder (clip and long-video adapters read the same release)."""
    sheet = find_sheet(root, SHEET_PATTERNS, "CAS(ME)^2 code sheet", follow_symlinks=follow_symlinks)
    expressions = read_positional(sheet, EXPRESSION_COLUMNS, 0)
    subjects = subject_codes(read_positional(sheet, ("unused", "code", "number"), 1))
    videos = video_codes(read_positional(sheet, ("code", "name"), 2))
    if not subjects or not videos:
        raise AnnotationError(
            f"{sheet}: sheet 2 must map subject numbers to codes (columns -, code, number) and sheet 3 video "
            f"codes to names (columns code, name); found {len(subjects)} subjects, {len(videos)} videos"
        )
    parent = locate_dir(root, ["rawpic"], layout)
    return CodeSheet(sheet, expressions, subjects, videos, find_child_dir(parent, "rawpic") or parent / "rawpic")


@dataclass(frozen=True)
class VideoPlace:
    """Where the frames of one code-sheet row are: subject folder `s15`, video code `0101`, the video folder."""

    subject: str
    video_code: str
    folder: Path


def video_place(row: Row, sheet: CodeSheet) -> VideoPlace:
    """The video of an expression row (`disgust1_1` -> rawpic/s15/15_0101*); ValueError naming the bad cell."""
    video_name = row.text("filename").rsplit("_", 1)[0].lower()
    number = row.integer("subject")
    code = sheet.subjects.get(number) if number is not None else None
    if code is None or video_name not in sheet.videos:
        missing = f"subject {number}" if code is None else f"video {video_name!r}"
        raise ValueError(f"{missing} is not in the naming sheets")
    video_code = sheet.videos[video_name]
    return VideoPlace(f"s{code}", video_code, _video_folder(sheet.rawpic / f"s{code}", f"{code}_{video_code}"))


@register
class CASME2X(SheetDatabase):
    name = "casme2x"
    env_var = "OCCMER_CASME2X_ROOT"
    description = "CAS(ME)^2 micro-expressions (Qu et al. 2017), 30 fps"
    fps = 30.0
    layout = LAYOUT
    published_size = "57 clips / 14 subjects (of 22 participants)"
    zero_offset_missing = True  # the sheet writes offset 0 for "not annotated"
    sheet_patterns: ClassVar[tuple[str, ...]] = SHEET_PATTERNS
    fixes: ClassVar[FixTable] = CASME2X_FIXES

    def read_entries(self) -> tuple[list[Entry], list[Problem]]:
        sheet = read_code_sheet(self.root, self.layout, self.follow_symlinks)
        entries = []
        for row in sheet.expressions:
            if "micro" not in row.text("type").lower():
                continue  # macro-expressions and the header line, if any
            entries.append(self.row_to_entry(row, sheet))
        return entries, []

    def row_to_entry(self, row: Row, sheet: CodeSheet) -> Entry:
        filename = row.text("filename")
        try:
            place = video_place(row, sheet)
            onset, apex, offset = row.integer("onset"), row.integer("apex"), row.integer("offset")
        except ValueError as exc:
            return Entry(row.text("subject") or "unknown", filename, sheet.rawpic, None, None, None, row.source,
                         error=str(exc))
        return Entry(
            place.subject, filename, place.folder, onset, apex, offset, row.source,
            emotion=row.text("emotion"), action_units=row.text("action_units"),
        )


def _video_folder(subject_dir: Path, prefix: str) -> Path:
    """The video folder named `<prefix>...` in a subject folder; the bare prefix path when absent."""
    if subject_dir.is_dir():
        for child in sorted(subject_dir.iterdir()):
            if child.is_dir() and child.name.lower().startswith(prefix.lower()):
                return child
    return subject_dir / prefix
