"""CASME II (and the synthetic demo database, which is written in the same layout).

Layout under the root: the coding sheet `CASME2-coding-*.xlsx`, optionally
`CASME2-ObjectiveClasses.xlsx`, and the frames in `CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`,
`Cropped/sub01/EP02_01f/reg_img46.jpg` or directly `sub01/EP02_01f/img46.jpg`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import ClassVar

from occmer.databases import register
from occmer.databases.base import Problem, inside
from occmer.databases.common import Entry, FixTable, SheetDatabase, row_entry
from occmer.databases.sheets import Row, find_child_dir, find_optional_sheet, find_sheet, read_sheet
from occmer.errors import DataError

CODING_COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename", "File Name"),
    "onset": ("OnsetFrame", "Onset Frame", "Onset"),
    "apex": ("ApexFrame", "Apex Frame", "Apex", "ApexF1"),
    "offset": ("OffsetFrame", "Offset Frame", "Offset"),
    "action_units": ("Action Units", "ActionUnits", "AU", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
    "objective_class": ("Objective Classes", "Objective Class"),  # the 2019-07-01 sheet ships them
}
CODING_REQUIRED = ("subject", "filename", "onset", "apex", "offset", "emotion")
OBJECTIVE_COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename", "File Name"),
    "objective_class": ("Objective Class", "Objective Classes", "Class"),
}
_SUBJECT_FOLDER = re.compile(r"^sub\d+$", re.IGNORECASE)

# Known annotation errors, keyed by (subject folder, filename). Each fix names the cell it
# expects (so a corrected release is left alone) and why. No entry is listed until it has
# been checked against the released sheet; see docs/databases.md to add one.
CASME2_FIXES: FixTable = {}


def subject_folder(value: str, prefix: str = "sub", width: int = 2) -> str:
    """The folder of a subject id as the sheet writes it: 1 / "1" / 1.0 -> "sub01"; "sub01" stays."""
    text = value.strip()
    if text.isdigit():
        return f"{prefix}{int(text):0{width}d}"
    if text.lower().startswith(prefix) and text[len(prefix):].isdigit():
        return f"{prefix}{int(text[len(prefix):]):0{width}d}"
    raise ValueError(f"subject {value!r} is neither a number nor {prefix}NN")


def row_to_entry(
    row: Row, frames_root: Path, objective: dict[tuple[str, str], str], objective_sheet: str = ""
) -> Entry:
    """One coding-sheet row as an Entry; a malformed cell becomes the entry's error.

    The objective class shipped in the coding sheet itself (2019 sheet) comes first, then the
    separate objective-class sheet; `objective_origin` records which.
    """
    filename = row.text("filename")
    subject_cell = row.text("subject")
    try:
        subject = subject_folder(subject_cell)
    except ValueError as exc:
        return Entry(subject_cell or "unknown", filename, frames_root, None, None, None, row.source, error=str(exc))
    folder = frames_root / subject / filename
    return row_entry(row, subject, filename, folder, emotion=row.text("emotion"),
                     action_units=row.text("action_units"),
                     **_objective(row, objective.get((subject, filename), ""), objective_sheet))


def _objective(row: Row, separate: str, separate_sheet: str) -> dict[str, str]:
    own = row.text("objective_class")
    if own:
        return {"objective_class": own, "objective_origin": f"{row.source.split(':')[0]}: Objective Classes"}
    if separate:
        return {"objective_class": separate, "objective_origin": f"{separate_sheet}: Objective Class"}
    return {}


@register
class CASME2(SheetDatabase):
    name = "casme2"
    env_var = "OCCMER_CASME2_ROOT"
    description = "CASME II (Yan et al. 2014), 200 fps"
    fps = 200.0
    layout = (
        "CASME2-coding-*.xlsx [+ CASME2-ObjectiveClasses.xlsx] and CASME2_RAW_selected/sub01/EP02_01f/img46.jpg "
        "or Cropped/sub01/EP02_01f/reg_img46.jpg or sub01/EP02_01f/img46.jpg"
    )
    published_size = "255 clips / 26 subjects"
    coding_patterns: ClassVar[tuple[str, ...]] = ("CASME2-coding-*.xlsx", "CASME2-coding-*.csv")
    objective_patterns: ClassVar[tuple[str, ...]] = ("CASME2-ObjectiveClasses*.xlsx", "*objective*class*.xlsx")
    frame_folders: ClassVar[tuple[str, ...]] = ("CASME2_RAW_selected", "Cropped")
    fixes: ClassVar[FixTable] = CASME2_FIXES

    def frames_root(self) -> Path:
        """Where the sub%02d folders are: the first of the known frame folders present, else the root."""
        for name in self.frame_folders:
            found = find_child_dir(self.root, name)
            if found is not None:
                return found
        if any(p.is_dir() and _SUBJECT_FOLDER.match(p.name) for p in self.root.iterdir()):
            return self.root
        raise DataError(
            f"no frame folders in {self.root}: expected {' or '.join(f'{n}/sub01/...' for n in self.frame_folders)} "
            f"or sub01/EP02_01f/img46.jpg directly under the root; pass the folder that holds them as --root"
        )

    def read_objective(self) -> tuple[dict[tuple[str, str], str], str]:
        """(subject folder, filename) -> objective class from the optional objective-class sheet, and its name."""
        path = find_optional_sheet(self.root, self.objective_patterns, follow_symlinks=self.follow_symlinks)
        if path is None:
            return {}, ""
        table = {}
        for row in read_sheet(path, OBJECTIVE_COLUMNS, tuple(OBJECTIVE_COLUMNS)):
            try:
                table[(subject_folder(row.text("subject")), row.text("filename"))] = row.text("objective_class")
            except ValueError:
                continue  # a note or a total line below the table
        return table, path.name

    def read_entries(self) -> tuple[list[Entry], list[Problem]]:
        sheet = find_sheet(self.root, self.coding_patterns, f"{self.description} coding sheet",
                           follow_symlinks=self.follow_symlinks)
        frames_root = self.frames_root()
        objective, objective_sheet = self.read_objective()
        rows = read_sheet(sheet, CODING_COLUMNS, CODING_REQUIRED)
        return [row_to_entry(row, frames_root, objective, objective_sheet) for row in rows], []


@register
class Demo(CASME2):
    """The synthetic demo database: CASME II layout, its own name (subjects "demo/sub01")."""

    name = "demo"
    env_var = "OCCMER_DEMO_ROOT"
    description = "occmer synthetic demo database (CASME II layout)"
    fps = 200.0  # a demo built with another recording preset says so in its demo.json (read below)
    published_size = "generated"
    fixes: ClassVar[FixTable] = {}

    def __init__(self, root: Path, *args, **kwargs) -> None:
        super().__init__(root, *args, **kwargs)
        path = self.root / "demo.json"
        if self.follow_symlinks or inside(path.resolve(), self.root):
            self.fps = recorded_fps(path, type(self).fps)


def recorded_fps(path: Path, default: float) -> float:
    """The frame rate a demo's demo.json records (`recording.fps`), or `default` when it records none."""
    try:
        with open(path, encoding="utf-8") as handle:
            fps = json.load(handle).get("recording", {}).get("fps")
    except (OSError, ValueError, AttributeError):
        return default
    if isinstance(fps, (int, float)) and not isinstance(fps, bool) and 0 < fps <= 10000:
        return float(fps)
    return default
