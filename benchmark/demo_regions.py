"""Occluder effects per region of the face on the demo database: accuracy of a bench run's
predictions split by where each clip's action units act (demo.json ground truth).

    python benchmark/demo_regions.py BENCH_OUT [BENCH_OUT ...] [--demo ROOT]

BENCH_OUT is an `occmer bench` output folder trained on the demo (no --data), or several
(the shards of one grid: their fold files are pooled); ROOT is the
demo database it used (default: the cached default demo database). Prints one markdown table:
rows model x condition, columns the clips whose AUs all act on the upper face (brows, lids,
cheeks), all on the lower face (nose, lips, chin) or on both, each "accuracy (clips)" pooled
over folds and seeds; then a second table, the occluder effect per region (accuracy under
each occluded condition minus clean). A glasses occluder should cost the upper-face clips
most, a surgical mask the lower-face ones.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from occmer.bench.demo import BENCH_DEMO
from occmer.demo import read_manifest
from occmer.demo.cache import cache_key, cached_demo_params, default_cache_dir

UPPER = frozenset({1, 2, 4, 5, 6, 7})
LOWER = frozenset({9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26, 38, 40})
REGIONS = ("upper face", "lower face", "both")


def region_of(units: list[int]) -> str:
    """Where a clip's AUs act: all upper, all lower, or both."""
    found = set(units)
    if found <= UPPER:
        return "upper face"
    if found <= LOWER:
        return "lower face"
    return "both"


def clip_regions(demo_root: Path) -> dict[str, str]:
    """Sample id as stored in occmer files (demo_sub01_EP01_01) -> region of its AUs."""
    return {c["sample_id"].replace("/", "_"): region_of(c["action_units"]) for c in read_manifest(demo_root)["clips"]}


def tally(bench_outs: list[Path], regions: dict[str, str],
          skip_unknown: bool = False) -> dict[tuple[str, str], dict[str, list[int]]]:
    """(model, condition) -> region -> [correct, total] over every finished fold file.

    A sample missing from `regions` stops the count, unless `skip_unknown` (clips of a database
    that codes no AUs, such as SMIC) leaves it out.
    """
    counts: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: {r: [0, 0] for r in REGIONS})
    for path in sorted(p for out in bench_outs for p in (out / "folds").rglob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if "pred" not in record:
            continue
        cell = counts[(record["model"], record["condition"])]
        for sample, true, pred in zip(record["sample_id"], record["true"], record["pred"], strict=True):
            key = regions.get(sample) or regions.get(sample.replace("/", "_"))
            if key is None and skip_unknown:
                continue
            if key is None:
                raise SystemExit(f"{path}: sample {sample} is not in the demo database's demo.json")
            cell[key][0] += int(true == pred)
            cell[key][1] += 1
    return counts


def table(counts: dict[tuple[str, str], dict[str, list[int]]]) -> str:
    lines = ["| model | condition | " + " | ".join(REGIONS) + " |", "|---|---|" + "---|" * len(REGIONS)]
    for (model, condition), cell in sorted(counts.items()):
        parts = [f"{c / n:.3f} ({n})" if n else "-" for c, n in (cell[r] for r in REGIONS)]
        lines.append(f"| {model} | {condition} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def effects(counts: dict[tuple[str, str], dict[str, list[int]]], clean: str = "clean") -> str:
    """The occluder effect per face region: accuracy under each occluded condition minus clean."""
    lines = ["| model | condition | " + " | ".join(f"{r} change" for r in REGIONS) + " |",
             "|---|---|" + "---|" * len(REGIONS)]
    for (model, condition), cell in sorted(counts.items()):
        base = counts.get((model, clean))
        if condition == clean or base is None:
            continue
        parts = [f"{c / n - b / m:+.3f}" if n and m else "-"
                 for (c, n), (b, m) in ((cell[r], base[r]) for r in REGIONS)]
        lines.append(f"| {model} | {condition} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench_out", type=Path, nargs="+")
    parser.add_argument("--demo", type=Path, default=None, help="demo database root (default: the cached demo of a data-less `occmer bench`)")
    args = parser.parse_args()
    root = args.demo or default_cache_dir() / cache_key(cached_demo_params(BENCH_DEMO))
    if not (root / "demo.json").is_file():
        raise SystemExit(f"no demo.json in {root}; pass the demo database the bench used with --demo")
    counts = tally(args.bench_out, clip_regions(root))
    print(table(counts))
    print()
    print(effects(counts))


if __name__ == "__main__":
    main()
