"""SAMM long videos (Yap et al. 2020): 147 videos of 30 subjects, 343 macro- and 159 micro-expressions, 200 fps.

Layout under the root: `SAMM_LongVideos_V2_Release.xlsx` (V1 too; a CSV export is read the same
way; its header row comes after nine rows of title and notes) and the frames
`SAMM_longvideos/006_1/006_1_0001.jpg` (the folder holding the video folders is found up to
three levels down). Columns: Subject, Filename (`006_1_2` = video `006_1`, expression 2),
Inducement Code, Onset, Apex, Offset, Duration, Type (`Micro - 1/2` or `Macro`), Action Units,
Notes. An apex of -1 means "not annotated" (the sheet's own note); an onset of 0 is not a
frame (frames start at 1): those ten macro rows of V2 are problems (SOFTNet and MEAN drop
them), fixed in the sheet or left out with their videos.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from occmer.databases.common import locate_dir, path_cell_error
from occmer.databases.long_common import LongRow, error_row, long_row, scan_rows
from occmer.databases.long_video import LongScan, LongVideoDatabase, register_long
from occmer.databases.samm import COLUMNS as SAMM_COLUMNS
from occmer.databases.samm import samm_subject
from occmer.databases.sheets import Row, find_sheet, read_sheet

COLUMNS = {**SAMM_COLUMNS, "type": ("Type",)}
REQUIRED = ("subject", "filename", "onset", "apex", "offset", "type")


@register_long
class SAMMLong(LongVideoDatabase):
    name = "samm-long"
    fps = 200.0
    description = "SAMM long videos (Yap et al. 2020), 200 fps, grayscale: micro- and macro-expressions"
    layout = "SAMM_LongVideos_V2_Release.xlsx and SAMM_longvideos/006_1/006_1_0001.jpg"
    sheet_patterns: ClassVar[tuple[str, ...]] = ("SAMM_LongVideos*Release*.xlsx", "SAMM*Long*Video*.xlsx",
                                                 "SAMM*Long*Video*.csv")

    def scan(self) -> LongScan:
        sheet = find_sheet(self.root, self.sheet_patterns, "SAMM long-video sheet", follow_symlinks=self.follow_symlinks)
        rows = read_sheet(sheet, COLUMNS, REQUIRED)
        videos = sorted({video_name(r.text("filename")) for r in rows} - {""})
        frames_root = locate_dir(self.root, videos[:20] or ["006_1"], self.layout)
        return scan_rows(self, [self.read_row(row, frames_root) for row in rows])

    def read_row(self, row: Row, frames_root: Path) -> LongRow:
        filename = row.text("filename")
        video = video_name(filename)
        try:
            subject = samm_subject(row.text("subject"))
        except ValueError as exc:
            return error_row(row, row.text("subject"), video, frames_root, str(exc))
        unsafe = path_cell_error(filename=filename)
        if unsafe or not video:
            return error_row(row, subject, video or filename, frames_root,
                             unsafe or f"filename {filename!r} is not <video>_<n> (e.g. 006_1_2)")
        if not video.startswith(subject):
            return error_row(row, subject, video, frames_root,
                             f"filename {filename!r} does not start with its subject {subject}")
        return long_row(row, subject, video, frames_root / video, row.text("type"),
                        action_units=row.text("action_units"), emotion=row.text("emotion"))


def video_name(filename: str) -> str:
    """The video of an expression: "006_1_2" -> "006_1"; "" when the name has no expression number."""
    video, sep, number = filename.strip().rpartition("_")
    return video if sep and video and number.isdigit() else ""
