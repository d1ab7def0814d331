"""CAS(ME)^3 part A (Li et al. 2022): the public label sheet lists 860 micro-expressions of 94 subjects, 30 fps.

Layout under the root: `cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx` (possibly in `annotation/`)
and frames `{subject}/{filename}/color/{n}.jpg` somewhere below the root. One video
(Filename) holds several micro-expressions, so the same (subject, filename) repeats: every
row keeps a unique sample id (its onset is appended) and the video is listed once. An offset
of 0 means "not annotated" (two rows of spNO.40/e): the offset policy fills it (--offset).
Filename case differs between sheet and folders (`J` / `j`): the folder is matched
case-insensitively and the match recorded with the clip.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    shipped_objective,
)
from occmer.databases.sheets import Row, find_child_dir, find_optional_sheet, find_sheet, read_sheet

COLUMNS = {
    "subject": ("Subject", "sub"),
    "filename": ("Filename", "seq"),
    "onset": ("Onset", "Onset Frame", "OnsetFrame"),
    "apex": ("Apex", "Apex Frame", "ApexFrame"),
    "offset": ("Offset", "Offset Frame", "OffsetFrame"),
    "action_units": ("AU", "Action Units", "AUs"),
    "emotion": ("emotion", "Estimated Emotion"),
    "objective_class": ("Objective class", "Objective classes", "Objective Class"),
}
REQUIRED = ("subject", "filename", "onset", "apex", "offset", "emotion")

CASME3_FIXES: FixTable = {}


def find_label_sheet(root: Path, patterns: Sequence[str], what: str, follow_symlinks: bool = False) -> Path:
    """The label sheet in `root/annotation/` (as the release ships it) or directly in `root`."""
    annotation = find_child_dir(root, "annotation")
    if annotation is not None:
        found = find_optional_sheet(annotation, patterns, root, follow_symlinks)
        if found is not None:
            return found
    return find_sheet(root, patterns, what, follow_symlinks=follow_symlinks)


def video_folder(frames_root: Path, subject: str, filename: str) -> tuple[Path, tuple[str, ...]]:
    """The frames folder of a video (`<subject>/<filename>/color`), matched case-insensitively where the exact
    name is missing (the sheet writes `J` for folder `j`), and the note recording that match."""
    video = frames_root / subject / filename
    notes: tuple[str, ...] = ()
    if not video.is_dir() and subject and filename:
        matched = find_child_dir(frames_root / subject, filename)
        subject_dir = find_child_dir(frames_root, subject)
        if matched is None and subject_dir is not None:
            matched = find_child_dir(subject_dir, filename)
        if matched is not None:
            notes = (f"folder {subject}/{filename} -> {matched.parent.name}/{matched.name}: "
                     "matched case-insensitively (the exact name is missing)",)
            video = matched
    color = find_child_dir(video, "color")
    return (color if color is not None else video), notes


@register
class CASME3(SheetDatabase):
    name = "casme3"
    env_var = "OCCMER_CASME3_ROOT"
    description = "CAS(ME)^3 part A (Li et al. 2022), 30 fps, colour frames"
    fps = 30.0
    layout = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx [in annotation/] and <subject>/<filename>/color/<n>.jpg"
    published_size = "860 clips / 94 subjects (public label sheet)"
    zero_offset_missing = True
    sheet_patterns: ClassVar[tuple[str, ...]] = ("cas(me)3_part_A_ME_label*.xlsx", "cas(me)*3*part*A*ME*label*.xlsx")
    fixes: ClassVar[FixTable] = CASME3_FIXES

    def find_label_sheet(self) -> Path:
        return find_label_sheet(self.root, self.sheet_patterns, "CAS(ME)^3 part A ME label sheet", self.follow_symlinks)

    def read_entries(self) -> tuple[list[Entry], list[Problem]]:
        rows = read_sheet(self.find_label_sheet(), COLUMNS, REQUIRED)
        subjects = sorted({row.text("subject") for row in rows if row.text("subject")})
        frames_root = locate_dir(self.root, subjects[:20] or ["spNO.1"], self.layout, max_depth=4)
        return [self.row_to_entry(row, frames_root) for row in rows], []

    def row_to_entry(self, row: Row, frames_root: Path) -> Entry:
        subject, filename = row.text("subject"), row.text("filename")
        unsafe = path_cell_error(subject=subject, filename=filename)
        if unsafe:
            return Entry(subject or "unknown", filename or "unknown", frames_root, None, None, None, row.source,
                         error=unsafe)
        folder, notes = video_folder(frames_root, subject, filename)
        if not subject or not filename:
            return Entry(subject or "unknown", filename or "unknown", folder, None, None, None, row.source,
                         error="subject or filename cell is empty")
        return row_entry(row, subject, filename, folder, emotion=row.text("emotion"),
                         action_units=row.text("action_units"), notes=notes,
                         **shipped_objective(row, "Objective class"))
