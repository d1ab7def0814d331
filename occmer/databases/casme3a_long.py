"""CAS(ME)^3 part A long videos (Li et al. 2022), 30 fps: every labelled expression of a video as an interval.

Layout under the root: the ME label sheet `cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx` (in
`annotation/` or the root; public copy `casme3_table.xlsx`, sheet `label`) and the frames
`{subject}/{filename}/color/{n}.jpg` somewhere below the root. The public ME sheet lists
micro-expressions only (860 rows, 94 subjects, 463 videos; no type column, no macro rows):
its rows are micro unless a Type column says otherwise. The release's macro-expressions
(3,490 per the paper) are not in that sheet; a sheet named like `*part_A*MaE*label*.xlsx` in
the same place is read as macro-expressions with the same columns (*unverified*: no public
copy was found to check its name and columns). Filename case varies (`J` / `j`): folders are
matched case-insensitively and the match recorded. Onset/Apex/Offset 0 = not annotated.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from occmer.databases.casme3 import COLUMNS as CASME3_COLUMNS
from occmer.databases.casme3 import find_label_sheet, video_folder
from occmer.databases.common import locate_dir, path_cell_error
from occmer.databases.long_common import LongRow, error_row, long_row, scan_rows
from occmer.databases.long_video import LongScan, LongVideoDatabase, register_long
from occmer.databases.sheets import Row, find_child_dir, find_optional_sheet, read_sheet

COLUMNS = {**CASME3_COLUMNS, "type": ("Type", "Expression type", "ME/MaE")}
REQUIRED = ("subject", "filename", "onset", "apex", "offset")


@register_long
class CASME3ALong(LongVideoDatabase):
    name = "casme3a-long"
    fps = 30.0
    description = "CAS(ME)^3 part A long videos (Li et al. 2022), 30 fps, colour frames"
    layout = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx [in annotation/] and <subject>/<filename>/color/<n>.jpg"
    sheet_patterns: ClassVar[tuple[str, ...]] = ("cas(me)3_part_A_ME_label*.xlsx", "cas(me)*3*part*A*ME*label*.xlsx",
                                                 "casme3_table*.xlsx")
    macro_patterns: ClassVar[tuple[str, ...]] = ("cas(me)*3*part*A*MaE*label*.xlsx", "*part*A*MaE*.xlsx")

    def scan(self) -> LongScan:
        labelled = [(row, "micro") for row in read_sheet(self.label_sheet(), COLUMNS, REQUIRED)]
        macro = self.macro_sheet()
        if macro is not None:
            labelled += [(row, "macro") for row in read_sheet(macro, COLUMNS, REQUIRED)]
        subjects = sorted({row.text("subject") for row, _ in labelled if row.text("subject")})
        frames_root = locate_dir(self.root, subjects[:20] or ["spNO.1"], self.layout, max_depth=4)
        return scan_rows(self, [self.read_row(row, kind, frames_root) for row, kind in labelled])

    def label_sheet(self) -> Path:
        return find_label_sheet(self.root, self.sheet_patterns, "CAS(ME)^3 part A ME label sheet",
                                self.follow_symlinks)

    def macro_sheet(self) -> Path | None:
        """The macro-expression sheet beside the ME sheet, when the release at hand has one."""
        for folder in (find_child_dir(self.root, "annotation"), self.root):
            if folder is not None:
                found = find_optional_sheet(folder, self.macro_patterns, self.root, self.follow_symlinks)
                if found is not None:
                    return found
        return None

    def read_row(self, row: Row, kind: str, frames_root: Path) -> LongRow:
        subject, filename = row.text("subject"), row.text("filename")
        problem = path_cell_error(subject=subject, filename=filename) or (
            "" if subject and filename else "subject or filename cell is empty")
        if problem:
            return error_row(row, subject, filename, frames_root, problem)
        folder, notes = video_folder(frames_root, subject, filename)
        return long_row(row, subject, filename, folder, row.text("type") or kind, emotion=row.text("emotion"),
                        action_units=row.text("action_units"), objective_class=row.text("objective_class"),
                        notes=notes)
