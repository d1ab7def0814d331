"""Occluder effects per region of the face on real micro-expressions: accuracy of bench runs
split by where each clip's coded action units act, read from the databases' own coding sheets.

    python benchmark/real_regions.py RUN [RUN ...] --sheet casme2=CASME2-coding-20140508.xlsx \\
        --sheet samm=SAMM_Micro_FACS_Codes_v2.xlsx

RUN is an `occmer bench` output folder on files whose sample ids follow occmer's naming
(`casme2_sub01_EP02_01f`, `samm_006_006_1_2`), e.g. the MEGC 2019 composite imported with
`occmer import` and occluded with `occmer occlude`; several RUNs (shards, seeds) are pooled.
The sheets are read with occmer's own CASME II and SAMM sheet readers (the licensed sheets stay
on the user's disk). SMIC codes no AUs: its clips are left out of these tables. Prints the
accuracy per region (upper face, lower face, both) and the occluder effect per region
(occluded condition minus clean), as `benchmark/demo_regions.py` does for the demo.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from demo_regions import effects, region_of, table, tally  # noqa: E402

from occmer.aus import parse_aus  # noqa: E402
from occmer.databases import casme2, samm  # noqa: E402
from occmer.databases.common import sanitise_id  # noqa: E402
from occmer.databases.sheets import read_sheet  # noqa: E402

READERS = {
    # database -> (columns, required, subject cell -> folder name)
    "casme2": (casme2.CODING_COLUMNS, ("subject", "filename", "action_units"), casme2.subject_folder),
    "samm": (samm.COLUMNS, ("subject", "filename", "action_units"), samm.samm_subject),
}


def sheet_regions(database: str, path: Path) -> dict[str, str]:
    """occmer sample id -> face region of the clip's AUs, for every row of one coding sheet with readable AUs."""
    columns, required, subject_of = READERS[database]
    out = {}
    for row in read_sheet(path, columns, required):
        units = parse_aus(row.text("action_units")).units
        if units:
            sample = sanitise_id(f"{database}_{subject_of(row.text('subject'))}_{row.text('filename')}")
            out[sample] = region_of(sorted(units))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--sheet", action="append", default=[], metavar="DB=XLSX",
                        help=f"a coding sheet per database ({', '.join(READERS)})")
    args = parser.parse_args()
    regions: dict[str, str] = {}
    for item in args.sheet:
        database, _, path = item.partition("=")
        if database not in READERS or not path:
            raise SystemExit(f"--sheet {item!r}: expected DB=XLSX with DB one of {', '.join(READERS)}")
        regions.update(sheet_regions(database, Path(path)))
    counts = tally(args.runs, regions, skip_unknown=True)
    print(table(counts))
    print()
    print(effects(counts))


if __name__ == "__main__":
    main()
