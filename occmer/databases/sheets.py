"""Reading annotation sheets as they are distributed (xlsx or csv).

The sheets are hand-made: the header is not always on the first row (SAMM), columns are
spelled differently between releases ("OnsetFrame", "Onset Frame", "Onset"), blank columns
sit between the useful ones and cells hold "/" for missing values. Reading is therefore
driven by a header search over aliases, never by column position or row number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from occmer.databases.base import APPLE_DOUBLE_PREFIX, contained_file
from occmer.errors import AnnotationError

MAX_HEADER_ROW = 40
MISSING_MARKS = frozenset({"", "/", "-", "--", "na", "n/a", "nan", "none", "null", "?"})
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise_header(text: object) -> str:
    """A column title reduced to lowercase letters and digits ("Onset Frame" -> "onsetframe")."""
    return _NOT_ALNUM.sub("", str(text or "").lower())


@dataclass(frozen=True)
class FormulaCell:
    """An xlsx cell holding a formula with no value saved in the file.

    Programs that write xlsx without computing (scripts, some converters) leave formulas without
    their cached result; occmer never evaluates formulas, so the cell has no value to read.
    As text it is empty; as a frame number it is an error naming the cell and the fix.
    """

    formula: str
    cell: str  # "D14"

    def __str__(self) -> str:
        return ""

    def problem(self) -> str:
        return (f"cell {self.cell} holds the formula {self.formula[:60]!r} but no computed value (the file was "
                "saved by a program that does not calculate formulas, and occmer never evaluates them); open the "
                "file in Excel or LibreOffice and save it again, or type the number into the cell")


@dataclass(frozen=True)
class Row:
    """One data row of a sheet: values keyed by canonical column name, plus where it came from."""

    source: str  # "file.xlsx:sheet:row 14", for messages
    values: Mapping[str, object]

    def text(self, column: str) -> str:
        return cell_text(self.values.get(column))

    def integer(self, column: str) -> int | None:
        """The cell as an int; None when blank or marked missing; ValueError when not a number."""
        return cell_int(self.values.get(column))


def cell_text(value: object) -> str:
    """A cell as stripped text; integral floats lose their ".0" (Excel stores 12 as 12.0)."""
    if value is None or isinstance(value, FormulaCell):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cell_int(value: object) -> int | None:
    """A frame-number cell: int, or None for blank / "/" / "-"; ValueError for anything else."""
    if value is None:
        return None
    if isinstance(value, FormulaCell):
        raise ValueError(value.problem())
    if isinstance(value, bool):
        raise ValueError(f"not a frame number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if not value.is_integer():
            raise ValueError(f"not a whole frame number: {value!r}")
        return int(value)
    text = str(value).strip()
    if text.lower() in MISSING_MARKS:
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"not a frame number: {text!r}") from None
    if not number.is_integer():
        raise ValueError(f"not a whole frame number: {text!r}")
    return int(number)


MAX_SHEET_BYTES = 50 * 2**20  # the largest real sheet is ~100 KB; anything near this is not a coding sheet
MAX_SHEET_ROWS = 100_000  # CAS(ME)^3's label sheet has 861 rows
MAX_SHEET_COLUMNS = 256  # the widest real sheet has 14 columns; cells further right are ignored
TEXT_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16 (with BOM)", "cp1252")


def decode_text(data: bytes, path: Path) -> str:
    """The text of a CSV file: BOM-marked UTF-8/UTF-16 first, then UTF-8, then cp1252 (Excel's Western CSV).

    AnnotationError naming the encodings accepted when none fits (e.g. a binary file).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict") if _utf8(data[3:]) else _undecodable(path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return _undecodable(path)
    if b"\x00" in data:
        return _binary(data, path)
    if _utf8(data):
        return data.decode("utf-8")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return _undecodable(path)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _undecodable(path: Path) -> str:
    raise AnnotationError(
        f"{path}: cannot read it as text in any of {', '.join(TEXT_ENCODINGS)}; "
        "save it from your spreadsheet program as 'CSV UTF-8'"
    )


def _binary(data: bytes, path: Path) -> str:
    at = data.index(b"\x00")
    line = data.count(b"\n", 0, at) + 1
    raise AnnotationError(
        f"{path}: line {line} holds a NUL byte (byte {at}): this is a binary file, or UTF-16 text without its "
        f"byte-order mark, not a text table (occmer reads text in {', '.join(TEXT_ENCODINGS)}); check that this "
        "is the right file and save it from your spreadsheet program as 'CSV UTF-8'"
    )


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_SHEET_BYTES:
        raise AnnotationError(
            f"{path}: {size / 2**20:.0f} MB is far larger than any annotation sheet (limit "
            f"{MAX_SHEET_BYTES // 2**20} MB); check that this is the database's sheet"
        )


def _capped_rows(rows, path: Path, sheet: str) -> list[tuple[object, ...]]:
    """Rows as tuples of at most MAX_SHEET_COLUMNS cells; AnnotationError past MAX_SHEET_ROWS rows."""
    out = []
    for row in rows:
        if len(out) >= MAX_SHEET_ROWS:
            raise AnnotationError(
                f"{path}: sheet {sheet!r} has more than {MAX_SHEET_ROWS} rows, far more than any annotation "
                "sheet; delete the empty rows below the table (or check that this is the right file)"
            )
        out.append(tuple(row[:MAX_SHEET_COLUMNS]))
    return out


def _raw_tables(path: Path, sheet: str | None) -> list[tuple[str, list[tuple[object, ...]]]]:
    """(sheet name, rows of raw cell values) for each sheet of an xlsx, or the one table of a csv.

    An xlsx's `dimension` element is not trusted: a stale one hides rows, an absurd one
    (A1:XFD1048576) would make the reader pad every row to 16384 cells. Rows are read as stored,
    with the row and column caps above.
    """
    _check_size(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        text = decode_text(path.read_bytes(), path)
        sample = text[:4096]
        delimiter = "\t" if suffix == ".tsv" or sample.count("\t") > sample.count(",") else ","
        try:
            rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            return [("csv", _capped_rows(rows, path, "csv"))]
        except csv.Error as exc:
            raise AnnotationError(f"{path}: not a readable CSV table ({exc})") from None
    if suffix not in (".xlsx", ".xlsm"):
        raise AnnotationError(f"{path}: unsupported sheet format {suffix!r}; save it as .xlsx or .csv")
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise AnnotationError(f"{path}: cannot be read as an Excel workbook ({exc}); re-save it as .xlsx") from exc
    try:
        names = [sheet] if sheet else list(book.sheetnames)
        tables = []
        for name in names:
            if name not in book.sheetnames:
                raise AnnotationError(f"{path}: no sheet named {name!r}; sheets: {', '.join(book.sheetnames)}")
            worksheet = book[name]
            if hasattr(worksheet, "reset_dimensions"):
                worksheet.reset_dimensions()  # read the rows as stored, not as the dimension element claims
            try:
                rows = _capped_rows(worksheet.iter_rows(values_only=True), path, name)
            except AnnotationError:
                raise
            except Exception as exc:  # a damaged sheet part
                raise AnnotationError(f"{path}: sheet {name!r} cannot be read ({exc}); re-save it as .xlsx") from exc
            tables.append((name, rows))
    finally:
        book.close()
    return _mark_uncomputed_formulas(path, tables)


def _mark_uncomputed_formulas(
    path: Path, tables: list[tuple[str, list[tuple[object, ...]]]]
) -> list[tuple[str, list[tuple[object, ...]]]]:
    """The tables with each empty cell that holds a formula replaced by a FormulaCell (read a second time,
    formulas as written; only cells the first read found empty can change)."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception:  # read once already: a second failure changes nothing
        return tables
    try:
        out = []
        for name, rows in tables:
            worksheet = book[name]
            if hasattr(worksheet, "reset_dimensions"):
                worksheet.reset_dimensions()
            marked = list(rows)
            for r, formulas in enumerate(worksheet.iter_rows(values_only=True)):
                if r >= len(rows):
                    break
                cells = list(rows[r])
                changed = False
                for c, written in enumerate(formulas[:len(cells)]):
                    text = getattr(written, "text", written)  # an ArrayFormula keeps its text in .text
                    if cells[c] is None and isinstance(text, str) and text.startswith("="):
                        cells[c] = FormulaCell(text, f"{get_column_letter(c + 1)}{r + 1}")
                        changed = True
                if changed:
                    marked[r] = tuple(cells)
            out.append((name, marked))
        return out
    except Exception:
        return tables
    finally:
        book.close()


def _find_header(
    rows: Sequence[tuple[object, ...]], columns: Mapping[str, Sequence[str]], required: Sequence[str]
) -> tuple[int, dict[str, int]] | None:
    """(header row index, canonical name -> column index) for the first row naming every required column."""
    aliases = {canonical: {normalise_header(a) for a in names} for canonical, names in columns.items()}
    for index, row in enumerate(rows[:MAX_HEADER_ROW]):
        titles = [normalise_header(cell) for cell in row]
        mapping: dict[str, int] = {}
        for canonical, names in aliases.items():
            for position, title in enumerate(titles):
                if title and title in names:
                    mapping[canonical] = position
                    break
        if all(name in mapping for name in required):
            return index, mapping
    return None


def read_sheet(
    path: Path,
    columns: Mapping[str, Sequence[str]],
    required: Sequence[str],
    sheet: str | None = None,
) -> list[Row]:
    """Data rows of the first sheet (or the named one) whose header names every required column.

    `columns` maps a canonical name to the titles it may have; titles are compared after
    `normalise_header`. Rows with no value in any mapped column are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"annotation sheet not found: {path}")
    tables = _raw_tables(path, sheet)
    for sheet_name, rows in tables:
        found = _find_header(rows, columns, required)
        if found is None:
            continue
        header_index, mapping = found
        result = []
        for index in range(header_index + 1, len(rows)):
            raw = rows[index]
            values = {name: (raw[pos] if pos < len(raw) else None) for name, pos in mapping.items()}
            if all(cell_text(v) == "" for v in values.values()):
                continue
            where = f"{path.name}:{sheet_name}:row {index + 1}" if sheet_name != "csv" else f"{path.name}:row {index + 1}"
            result.append(Row(source=where, values=values))
        return result
    wanted = ", ".join(f"{name} (e.g. {columns[name][0]!r})" for name in required)
    raise AnnotationError(
        f"{path}: no header row with the columns {wanted} in the first {MAX_HEADER_ROW} rows of "
        f"{'sheet ' + repr(sheet) if sheet else 'any sheet'}; check that this is the database's original sheet"
    )


def read_positional(path: Path, names: Sequence[str], sheet_index: int = 0) -> list[Row]:
    """Rows of a sheet that has no header: column k gets `names[k]`; blank rows are skipped.

    For releases that ship bare tables (CAS(ME)^2); the reader must check each row's cells.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"annotation sheet not found: {path}")
    tables = _raw_tables(path, None)
    if sheet_index >= len(tables):
        raise AnnotationError(
            f"{path}: expected at least {sheet_index + 1} sheets, found {len(tables)} "
            f"({', '.join(n for n, _ in tables)}); check that this is the original release file"
        )
    sheet_name, rows = tables[sheet_index]
    result = []
    for index, raw in enumerate(rows):
        values = {name: (raw[k] if k < len(raw) else None) for k, name in enumerate(names)}
        if all(cell_text(v) == "" for v in values.values()):
            continue
        result.append(Row(source=f"{path.name}:{sheet_name}:row {index + 1}", values=values))
    return result


def find_sheet(
    root: Path, patterns: Sequence[str], what: str, within: Path | None = None, follow_symlinks: bool = False
) -> Path:
    """The one file in `root` matching a glob pattern (case-insensitive); AnnotationError when none.

    When several match, the last in name order is used (release sheets carry dates in their names).
    The file must stay inside `within` (the database root; default `root`) once symlinks are
    resolved, unless `follow_symlinks`: DataError otherwise, as for clip folders and frames.
    """
    matches = find_optional_sheet(root, patterns, within, follow_symlinks)
    if matches is None:
        raise AnnotationError(
            f"{what} not found in {root}: expected a file named like {' or '.join(patterns)}; "
            f"copy the sheet from the database release into that folder or pass the right --root"
        )
    return matches


def find_optional_sheet(
    root: Path, patterns: Sequence[str], within: Path | None = None, follow_symlinks: bool = False
) -> Path | None:
    """Like find_sheet, but None when nothing matches."""
    if not root.is_dir():
        return None
    regexes = [re.compile(_glob_to_regex(p), re.IGNORECASE) for p in patterns]
    hits = sorted(
        p for p in root.iterdir()
        if p.is_file() and not p.name.startswith(("~$", APPLE_DOUBLE_PREFIX)) and any(r.fullmatch(p.name) for r in regexes)
    )
    if not hits:
        return None
    base = Path(within if within is not None else root).resolve()
    return contained_file(hits[-1], base, follow_symlinks, "annotation sheet")


def _glob_to_regex(pattern: str) -> str:
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "".join(out)


def find_child_dir(parent: Path, name: str) -> Path | None:
    """The sub-folder of `parent` called `name`, compared case-insensitively, or None."""
    direct = parent / name
    if direct.is_dir():
        return direct
    if not parent.is_dir():
        return None
    lowered = name.lower()
    for child in sorted(parent.iterdir()):
        if child.is_dir() and child.name.lower() == lowered:
            return child
    return None
