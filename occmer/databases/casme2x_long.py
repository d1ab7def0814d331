"""CAS(ME)^2 long videos (Qu et al. 2017): 357 expressions (57 micro, 300 macro) of 22 subjects, 30 fps.

The release the clip adapter `casme2x` reads, taken whole: `CAS(ME)^2code_final.xlsx` and the
frames `rawpic/s15/15_0101disgustingteeth/img1.jpg`. Every row of the code sheet's first sheet
is an interval (type `micro-expression` or `macro-expression`) at absolute frame numbers of its
video; the video is `rawpic/s<code>/<code>_<video code>*` through the two naming sheets. Only
videos the sheet names are listed. Offset 0 means "not annotated" (44 rows of the public copy):
the apex stands in for it, as SOFTNet and MEAN read it, and the video records that note.
"""

from __future__ import annotations

from occmer.databases.casme2x import LAYOUT, read_code_sheet, video_place
from occmer.databases.long_common import error_row, long_row, scan_rows
from occmer.databases.long_video import LongScan, LongVideoDatabase, register_long


@register_long
class CASME2XLong(LongVideoDatabase):
    name = "casme2x-long"
    fps = 30.0
    description = "CAS(ME)^2 long videos (Qu et al. 2017), 30 fps: micro- and macro-expressions"
    layout = LAYOUT

    def scan(self) -> LongScan:
        sheet = read_code_sheet(self.root, self.layout, self.follow_symlinks)
        rows = []
        for row in sheet.expressions:
            try:
                place = video_place(row, sheet)
            except ValueError as exc:
                rows.append(error_row(row, row.text("subject"), row.text("filename"), sheet.rawpic, str(exc)))
                continue
            rows.append(long_row(row, place.subject, place.video_code, place.folder, row.text("type"),
                                 emotion=row.text("emotion"), action_units=row.text("action_units")))
        return scan_rows(self, rows)
