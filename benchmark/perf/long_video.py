"""Memory and speed of `synthesize` on long videos (issue 29).

Builds one long demo per length (1 subject, 30 fps, 128 px; occmer.demo.long_video.write_long_demo),
then synthesizes each with glasses and, as the baseline in the same run, with --mask none (the
same reading, tracking and writing, no occluder drawn). Each synthesis runs in its own process so
its peak resident memory is its own: VmHWM of /proc/self/status, read by that process at its end
(the peak RSS of the whole process, Python and mediapipe included). Not ru_maxrss: Linux carries
it over fork and exec, so a child started by a parent that holds the freshly written demo's
mapped pages reported the parent's peak (457 MiB after a 10-minute demo) instead of its own.
CPU seconds (user + system, all threads) are reported beside the wall clock: on a shared,
loaded machine frames per CPU second says more about the code than frames per second.

    python benchmark/perf/long_video.py --minutes 10            # the 10-minute video of the issue
    python benchmark/perf/long_video.py --minutes 1 --minutes 2 # two lengths: memory must not grow
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from occmer.databases.long_video import get_long_database
from occmer.demo.long_video import LongVideoParams, write_long_demo
from occmer.pipeline import SynthesisSettings, synthesize_long


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def measure(root: Path, mask: str, out: Path) -> dict:
    """One synthesis in this process: frames, seconds, frames/s, CPU seconds and peak RSS (MiB)."""
    videos = get_long_database("demo-long", root).scan().videos
    settings = SynthesisSettings(database="demo-long", mask=mask, align=False, color="keep")
    load_before, cpu_before = loadavg(), cpu_seconds()
    start = time.perf_counter()
    summary = synthesize_long(settings, videos, out, overwrite=True, progress=False)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_before
    return {"mask": mask, "frames": summary.frames, "seconds": round(seconds, 1),
            "frames_per_s": round(summary.frames / seconds, 1), "cpu_s": round(cpu, 1),
            "frames_per_cpu_s": round(summary.frames / cpu, 1), "peak_rss_mib": round(peak_rss_mib(), 1),
            "file_mb": round(out.stat().st_size / 1e6, 1), "lost": summary.lost_frames,
            "loadavg": f"{load_before} -> {loadavg()}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, action="append", help="video length (repeat for several)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the demos and files (default: a temp one)")
    parser.add_argument("--measure", nargs=3, metavar=("ROOT", "MASK", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), args.measure[1], Path(args.measure[2]))))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="occmer-long-perf-"))
    rows = []
    for minutes in args.minutes or [10.0]:
        root = work / f"demo-{minutes:g}min"
        if not root.exists():
            write_long_demo(root, LongVideoParams(subjects=1, seconds=60.0 * minutes, size=128))
        for mask in ("glasses", "none"):
            done = subprocess.run([sys.executable, __file__, "--measure", str(root), mask, str(work / f"{minutes:g}-{mask}.h5")],
                                  check=True, capture_output=True, text=True)
            rows.append({"minutes": minutes, **json.loads(done.stdout.strip().splitlines()[-1])})
            print(json.dumps(rows[-1]), flush=True)
    print("\n| minutes | mask | frames | s | frames/s | CPU s | frames/CPU s | peak RSS (MiB) | file (MB) | loadavg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['minutes']:g} | {r['mask']} | {r['frames']} | {r['seconds']} | {r['frames_per_s']} | "
              f"{r['cpu_s']} | {r['frames_per_cpu_s']} | {r['peak_rss_mib']} | {r['file_mb']} | {r['loadavg']} |")
    for minutes in sorted({r["minutes"] for r in rows}):
        pair = {r["mask"]: r for r in rows if r["minutes"] == minutes}
        print(f"{minutes:g} min: glasses / none speed ratio {pair['glasses']['frames_per_s'] / pair['none']['frames_per_s']:.2f}, "
              f"peak RSS ratio {pair['glasses']['peak_rss_mib'] / pair['none']['peak_rss_mib']:.2f}")


if __name__ == "__main__":
    main()
