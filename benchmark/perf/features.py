"""Speed of `occmer features`: clips/s per flow method, grid size and worker count, in one run.

The clips are ground-truth clips (occmer.features.groundtruth: a 224 px aligned face with
AU4 / AU12 motion, a third of them with a box occluder) written as a real occmer file; each
measurement copies that file and times `add_features` on it end to end (reading the onset and
apex frames, flow, strain, resizing, the atomic write; worker start-up included). TV-L1's cost
is reported against Farneback and DIS measured in the same run on the same clips. Each cell
is the best of --repeat runs (the machine may be shared).

    .venv/bin/python benchmark/perf/features.py --clips 24 --sizes 28,112 --workers 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from occmer.features import FLOW_METHODS, FlowSpec, add_features
from occmer.features.groundtruth import GroundTruthClip, write_groundtruth_file

COMMAND = "python benchmark/perf/features.py"


@dataclass
class Result:
    method: str
    size: int
    workers: int
    clips: int
    seconds: float
    clips_per_s: float


def make_clips(count: int) -> list[GroundTruthClip]:
    """AU4 and AU12 in turn; every third clip has a box over the lower face."""
    units = ("AU4", "AU12")
    return [
        GroundTruthClip(f"gt{i:03d}", f"s{i % 4}", units[i % 2], (0.2, 0.55, 0.8, 0.9) if i % 3 == 2 else None)
        for i in range(count)
    ]


def time_one(source: Path, scratch: Path, spec: FlowSpec, workers: int, clips: int, repeat: int) -> Result:
    """Best of `repeat` timings of add_features for one spec, each on a fresh copy of the source file."""
    best = float("inf")
    for _ in range(repeat):
        target = scratch / f"{spec.feature_name}_w{workers}.h5"
        shutil.copy(source, target)
        start = time.perf_counter()
        add_features(target, [spec], workers=workers, progress=False)
        best = min(best, time.perf_counter() - start)
        target.unlink()
    return Result(spec.method, int(spec.size), workers, clips, best, clips / best)


def ratios(results: list[Result]) -> list[tuple[int, int, str, float]]:
    """(size, workers, other method, TV-L1 seconds / other seconds) for each cell with both."""
    cells = {(r.method, r.size, r.workers): r for r in results}
    out = []
    for (method, size, workers), result in sorted(cells.items()):
        tvl1 = cells.get(("tvl1", size, workers))
        if method != "tvl1" and tvl1 is not None:
            out.append((size, workers, method, tvl1.seconds / result.seconds))
    return out


def markdown(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"### Motion features (`occmer features`), {datetime.now(timezone.utc):%Y-%m-%d}",
        "",
        f"`{COMMAND} --clips {args.clips} --frame-size {args.frame_size} --sizes {args.sizes} "
        f"--workers {args.workers} --methods {args.methods} --repeat {args.repeat}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores visible, "
        f"Python {platform.python_version()}; frames {args.frame_size} px, flow at the stored resolution; "
        "end to end (worker start-up included), best of --repeat.",
        "",
        "| method | S | workers | clips/s | s per clip |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.method} | {r.size} | {r.workers} | {r.clips_per_s:.2f} | {r.seconds / r.clips:.3f} |" for r in results
    ]
    lines += ["", "| S | workers | TV-L1 time / other |", "|---|---|---|"]
    lines += [f"| {size} | {workers} | x{ratio:.1f} vs {other} |" for size, workers, other, ratio in ratios(results)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=12, help="clips in the test file")
    parser.add_argument("--frame-size", type=int, default=224, help="side of the stored frames (px)")
    parser.add_argument("--sizes", default="28,112", help="feature grid sizes, comma-separated")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--methods", default=",".join(FLOW_METHODS), help="flow methods, comma-separated")
    parser.add_argument("--repeat", type=int, default=2, help="timings per cell; the best is kept")
    parser.add_argument("--json", type=Path, default=None, help="also write the records here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    methods = [m.strip() for m in args.methods.split(",")]
    with tempfile.TemporaryDirectory(prefix="occmer-features-bench-") as tmp:
        scratch = Path(tmp)
        source = write_groundtruth_file(scratch / "source.h5", make_clips(args.clips), size=args.frame_size)
        results = []
        for method in methods:
            for size in sizes:
                for count in workers:
                    result = time_one(source, scratch, FlowSpec(method, size), count, args.clips, args.repeat)
                    print(f"{method:10s} S={size:<4d} workers={count}  {result.clips_per_s:7.2f} clips/s  "
                          f"({result.seconds:.2f} s for {args.clips} clips)", flush=True)
                    results.append(result)
    for size, count, other, ratio in ratios(results):
        print(f"S={size} workers={count}: TV-L1 takes {ratio:.1f}x the time of {other}")
    print()
    print(markdown(results, args))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
