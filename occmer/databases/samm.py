"""SAMM (Davison et al. 2018): grayscale 2040x1088 frames at 200 fps, objective classes shipped.

Layout under the root: `SAMM_Micro_FACS_Codes_v2.xlsx` (its header row comes after a block
of notes) and frames `006/006_1_2/006_05562.jpg`, possibly one folder deeper (`SAMM/006/...`).
"""

from __future__ import annotations

from typing import ClassVar

from occmer.databases import register
from occmer.databases.base import Problem
from occmer.databases.common import Entry, Fix, FixTable, SheetDatabase, locate_dir, row_entry, shipped_objective
from occmer.databases.sheets import Row, find_sheet, read_sheet

COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename", "File Name"),
    "onset": ("Onset Frame", "Onset", "OnsetFrame"),
    "apex": ("Apex Frame", "Apex", "ApexFrame"),
    "offset": ("Offset Frame", "Offset", "OffsetFrame"),
    "action_units": ("Action Units", "AU", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
    "objective_class": ("Objective Classes", "Objective Class", "Classes"),
}
REQUIRED = ("subject", "filename", "onset", "apex", "offset", "emotion")

# Known annotation errors keyed by (subject folder, filename); see docs/databases.md. Each fix
# applies only while the cell still holds the typo, so a corrected release is left alone.
RESAVED_COPY = (
    "a re-saved public copy of SAMM_Micro_FACS_Codes_v2 (QqXuyujie/Micro-Expression-Datasets, "
    "Onset_Apex_Files/SAMM/SAMM.xlsx)"
)
SAMM_FIXES: FixTable = {
    ("028", "028_4_1"): (Fix("apex", 1124, f"apex 1143 lies after offset 1134 (typo); value from {RESAVED_COPY}",
                             expect=1143),),
    ("032", "032_3_1"): (Fix("apex", 4930, f"apex 1930 lies before onset 4896 (typo); value from {RESAVED_COPY}",
                             expect=1930),),
}


def samm_subject(value: str) -> str:
    """Subject cell -> folder name: 6 / "6" / "006" -> "006"."""
    text = value.strip()
    if not text.isdigit():
        raise ValueError(f"subject {value!r} is not a number")
    return f"{int(text):03d}"


@register
class SAMM(SheetDatabase):
    name = "samm"
    env_var = "OCCMER_SAMM_ROOT"
    description = "SAMM (Davison et al. 2018), 200 fps, grayscale"
    fps = 200.0
    layout = "SAMM_Micro_FACS_Codes_v2.xlsx and 006/006_1_2/006_05562.jpg (optionally under SAMM/)"
    published_size = "159 clips / 29 subjects (of 32 participants)"
    sheet_patterns: ClassVar[tuple[str, ...]] = ("SAMM_Micro_FACS_Codes*.xlsx", "SAMM*FACS*Codes*.xlsx")
    fixes: ClassVar[FixTable] = SAMM_FIXES

    def read_entries(self) -> tuple[list[Entry], list[Problem]]:
        sheet = find_sheet(self.root, self.sheet_patterns, "SAMM FACS-code sheet", follow_symlinks=self.follow_symlinks)
        rows = read_sheet(sheet, COLUMNS, REQUIRED)
        subjects = sorted({s for s in (_try_subject(r) for r in rows) if s})
        frames_root = locate_dir(self.root, subjects or ["006"], self.layout)
        return [self.row_to_entry(row, frames_root) for row in rows], []

    def row_to_entry(self, row: Row, frames_root) -> Entry:
        filename = row.text("filename")
        subject = _try_subject(row)
        if not subject:
            return Entry(row.text("subject") or "unknown", filename, frames_root, None, None, None, row.source,
                         error=f"subject {row.text('subject')!r} is not a number")
        folder = frames_root / subject / filename
        return row_entry(row, subject, filename, folder, emotion=row.text("emotion"),
                         action_units=row.text("action_units"), **shipped_objective(row, "Objective Classes"))


def _try_subject(row: Row) -> str:
    try:
        return samm_subject(row.text("subject"))
    except ValueError:
        return ""
