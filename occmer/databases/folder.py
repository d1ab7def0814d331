"""Any database described by a manifest: one CSV (or xlsx) row per clip, for databases occmer does not know.

The manifest sits in the root as `occmer_manifest.csv` (or `manifest.csv` / `.xlsx`) with columns:

| column | required | meaning |
|---|---|---|
| subject | yes | subject id (used for leave-one-subject-out) |
| folder | yes | clip folder, relative to the root (frames named with their frame number) |
| onset, offset | no | first / last frame number of the ME; both blank = the whole folder |
| apex | no | apex frame number; blank = the apex policy (--apex) |
| emotion | no | native emotion label |
| action_units | no | AU string (e.g. `R12+25`) used to derive the objective class |
| objective_class | no | I-VII when known (recorded as given) |
| filename | no | clip name (default: the folder's last part) |
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath
from typing import ClassVar

from occmer.databases import register
from occmer.databases.base import Problem
from occmer.databases.common import Entry, SheetDatabase, row_entry, shipped_objective
from occmer.databases.sheets import Row, find_sheet, read_sheet

COLUMNS = {
    "subject": ("subject", "Subject"),
    "folder": ("folder", "clip folder", "clip_folder", "path"),
    "onset": ("onset", "onset frame", "onset_frame"),
    "apex": ("apex", "apex frame", "apex_frame"),
    "offset": ("offset", "offset frame", "offset_frame"),
    "emotion": ("emotion", "estimated emotion"),
    "action_units": ("action_units", "action units", "au", "aus"),
    "objective_class": ("objective_class", "objective class"),
    "filename": ("filename", "clip", "name"),
}
REQUIRED = ("subject", "folder")


@register
class FolderDatabase(SheetDatabase):
    name = "folder"
    env_var = "OCCMER_FOLDER_ROOT"
    description = "any database described by a CSV manifest (occmer_manifest.csv)"
    layout = "occmer_manifest.csv (columns subject, folder, onset, apex, offset, emotion, action_units) and the folders"
    published_size = "as listed"
    sheet_patterns: ClassVar[tuple[str, ...]] = (
        "occmer_manifest.csv", "occmer_manifest.xlsx", "manifest.csv", "manifest.xlsx",
    )

    def read_entries(self) -> tuple[list[Entry], list[Problem]]:
        manifest = find_sheet(self.root, self.sheet_patterns, "manifest", follow_symlinks=self.follow_symlinks)
        return [self.row_to_entry(row) for row in read_sheet(manifest, COLUMNS, REQUIRED)], []

    def row_to_entry(self, row: Row) -> Entry:
        subject, relative = row.text("subject"), row.text("folder").replace("\\", "/")
        filename = row.text("filename") or PurePosixPath(relative).name
        folder = self.root / relative
        if not subject or not relative:
            return Entry(subject or "unknown", filename or "unknown", folder, None, None, None, row.source,
                         error="subject and folder must both be filled in")
        if PurePosixPath(relative).is_absolute() or ".." in PurePosixPath(relative).parts:
            return Entry(subject, filename, folder, None, None, None, row.source,
                         error=f"folder {relative!r} must be relative to the root, without '..'")
        entry = row_entry(row, subject, filename, Path(folder), emotion=row.text("emotion"),
                          action_units=row.text("action_units"), **shipped_objective(row, "objective_class"))
        return entry if entry.error else dataclasses.replace(
            entry, whole_folder=entry.onset is None and entry.offset is None)
