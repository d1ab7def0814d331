"""MMEW (Ben et al. 2021): 300 micro-expressions of 36 subjects at 90 fps.

Layout under the root: `MMEW_Micro_Exp.xlsx` and frames `Micro_Expression/{emotion}/{filename}/{n}.jpg`
(the emotion folder is the sheet's emotion; the clip is looked up in every emotion folder when
it is not where its label says).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from occmer.databases import register
from occmer.databases.base import Problem
from occmer.databases.common import (
    Entry,
    FixTable,
    SheetDatabase,
    locate_dir,
    path_cell_error,
    row_entry,
)
from occmer.databases.sheets import Row, find_child_dir, find_sheet, read_sheet

COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename", "File Name"),
    "onset": ("OnsetFrame", "Onset Frame", "Onset"),
    "apex": ("ApexFrame", "Apex Frame", "Apex"),
    "offset": ("OffsetFrame", "Offset Frame", "Offset"),
    "action_units": ("Action Units", "AU", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
    "remarks": ("remarks", "Remark", "Notes"),
}
REQUIRED = ("subject", "filename", "onset", "apex", "offset", "emotion")

MMEW_FIXES: FixTable = {}


@register
class MMEW(SheetDatabase):
    name = "mmew"
    env_var = "OCCMER_MMEW_ROOT"
    description = "MMEW (Ben et al. 2021), 90 fps"
    fps = 90.0
    layout = "MMEW_Micro_Exp.xlsx and Micro_Expression/<emotion>/<filename>/<n>.jpg"
    published_size = "300 clips / 36 subjects"
    sheet_patterns: ClassVar[tuple[str, ...]] = ("MMEW_Micro_Exp*.xlsx", "MMEW*Micro*.xlsx")
    fixes: ClassVar[FixTable] = MMEW_FIXES

    def read_entries(self) -> tuple[list[Entry], list[Problem]]:
        rows = read_sheet(find_sheet(self.root, self.sheet_patterns, "MMEW sheet", follow_symlinks=self.follow_symlinks), COLUMNS, REQUIRED)
        parent = locate_dir(self.root, ["Micro_Expression"], self.layout)
        micro_root = find_child_dir(parent, "Micro_Expression") or parent / "Micro_Expression"
        clip_dirs = _clip_index(micro_root)
        return [self.row_to_entry(row, micro_root, clip_dirs) for row in rows], []

    def row_to_entry(self, row: Row, micro_root: Path, clip_dirs: dict[str, Path]) -> Entry:
        subject, filename, emotion = row.text("subject"), row.text("filename"), row.text("emotion")
        unsafe = path_cell_error(filename=filename, emotion=emotion)
        if unsafe:
            return Entry(subject or "unknown", filename or "unknown", micro_root, None, None, None, row.source,
                         error=unsafe)
        labelled = find_child_dir(micro_root, emotion) if emotion else None
        folder = labelled / filename if labelled is not None else micro_root / (emotion or "?") / filename
        if not folder.is_dir() and filename.lower() in clip_dirs:
            folder = clip_dirs[filename.lower()]
        if not subject or not filename:
            return Entry(subject or "unknown", filename or "unknown", folder, None, None, None, row.source,
                         error="subject or filename cell is empty")
        return row_entry(row, subject, filename, folder, emotion=emotion, action_units=row.text("action_units"))


def _clip_index(micro_root: Path) -> dict[str, Path]:
    """Lower-cased clip folder name -> folder, over every emotion folder."""
    index: dict[str, Path] = {}
    for emotion_dir in sorted(p for p in micro_root.iterdir() if p.is_dir()):
        for clip_dir in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
            index.setdefault(clip_dir.name.lower(), clip_dir)
    return index
