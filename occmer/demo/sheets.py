"""The demo database's metadata, written exactly as CASME II ships it (plus a JSON manifest).

CASME II's coding sheet has two columns with an empty header (after `Filename` and after
`OffsetFrame`); they are kept so that the CASME II reader meets the same sheet here as on
real data. The objective classes live in a second sheet, as in the CASME II release.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CODING_SHEET = "CASME2-coding-demo.xlsx"
OBJECTIVE_SHEET = "CASME2-ObjectiveClasses.xlsx"
MANIFEST = "demo.json"
CODING_COLUMNS = (
    "Subject",
    "Filename",
    None,
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    None,
    "Action Units",
    "Estimated Emotion",
)
OBJECTIVE_COLUMNS = ("Subject", "Filename", "Objective Class")


@dataclass(frozen=True)
class SheetRow:
    """One clip as the CASME II sheets describe it."""

    subject: int
    filename: str
    onset: int
    apex: int
    offset: int
    action_units: str
    emotion: str
    objective_class: str


def coding_rows(rows: list[SheetRow]) -> list[tuple]:
    """Rows of the coding sheet, header first, blank cells where CASME II has blank columns."""
    body = [(r.subject, r.filename, None, r.onset, r.apex, r.offset, None, r.action_units, r.emotion) for r in rows]
    return [CODING_COLUMNS, *body]


def objective_rows(rows: list[SheetRow]) -> list[tuple]:
    """Rows of the objective-class sheet, header first."""
    return [OBJECTIVE_COLUMNS, *((r.subject, r.filename, r.objective_class) for r in rows)]


def write_xlsx(path: Path, rows: list[tuple], title: str = "Sheet1") -> None:
    """A one-sheet workbook with the given rows (the first is the header)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    book.save(path)


def write_sheets(root: Path, rows: list[SheetRow]) -> None:
    """Both CASME II sheets of the demo database under `root`."""
    write_xlsx(root / CODING_SHEET, coding_rows(rows))
    write_xlsx(root / OBJECTIVE_SHEET, objective_rows(rows))


def write_manifest(root: Path, manifest: dict) -> None:
    """demo.json: generator parameters and per-clip ground truth (what motion was applied where)."""
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def read_manifest(root: Path) -> dict:
    """The manifest of a demo database (the inverse of write_manifest)."""
    return json.loads((Path(root) / MANIFEST).read_text(encoding="utf-8"))
