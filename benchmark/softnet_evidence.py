"""SOFTNet against the MEGC baseline on the long demo (issue 29): benchmark/RESULTS.md.

One condition per call (run conditions as parallel processes): the cached long demo (3 subjects
x 60 s, 30 fps, 128 px, seed 0) clean or under an occluder held on the face; the MEGC
feature-difference baseline once (it has no seed), SOFTNet for each seed (the flow maps computed
once, shared by the seeds: they do not depend on the seed). Leave-one-subject-out, MEGC rules.
Prints and writes WORK/<condition>.json: F1 per kind, TP/FP/FN, the folds, CPU and wall time
per part, the load average.

Usage: OMP_NUM_THREADS=1 python benchmark/softnet_evidence.py WORK CONDITION [SEEDS] [SECONDS] [STRIDE] [FLOW_SIZE]
(STRIDE, FLOW_SIZE: SOFTNet's pair sampling, default SoftNetSettings' 1 and 64; 1 and 128 are the
reference's; with either given, the file is WORK/<condition>-s<STRIDE>-<FLOW_SIZE>.json.)
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from occmer.bench.spotting import condition_filter, ensure_long_demo
from occmer.demo.long_video import LongVideoParams, read_long_demo
from occmer.spotting import OVERALL
from occmer.spotting.softnet import MapCache, SoftNetSettings, run_softnet_loso
from occmer.spotting.task import SpottingRun, run_loso


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


def scores(run: SpottingRun) -> dict:
    counts = run.scores.counts[OVERALL]
    return {kind: {"f1": c.f1, "tp": c.tp, "fp": c.fp, "fn": c.fn} for kind, c in counts.items()}


def timed(name: str, work, out: dict) -> SpottingRun:
    wall, cpu = time.time(), time.process_time()
    run = work()
    out[name] = {"scores": scores(run), "folds": [asdict(f) for f in run.folds], "wall_s": time.time() - wall,
                 "cpu_s": time.process_time() - cpu, "load": load()}
    shown = {k: round(v["f1"], 3) for k, v in out[name]["scores"].items()}
    print(f"{name}: F1 {shown} in {out[name]['wall_s']:.0f} s wall, {out[name]['cpu_s']:.0f} CPU-s (load {load()})",
          flush=True)
    return run


def main(work: Path, condition: str, seeds: int, seconds: float, settings: SoftNetSettings) -> None:
    work.mkdir(parents=True, exist_ok=True)
    videos = read_long_demo(ensure_long_demo(LongVideoParams(subjects=3, seconds=seconds, size=128)))
    frame_filter = condition_filter(condition, "held")
    out: dict = {"condition": condition, "seconds": seconds, "settings": asdict(settings)}
    cache = MapCache(settings, frame_filter)
    for seed in range(seeds):  # the first seed's time includes the flow maps of every video
        timed(f"softnet seed {seed}", lambda s=seed: run_softnet_loso(videos, seed=s, frame_filter=frame_filter,
                                                                      cache=cache, progress=True), out)
    out["landmarks_from_frame"] = {video: r.found_at for video, r in cache.regions.items()}  # None: fallback layout
    cache.close()
    f1s = [out[f"softnet seed {s}"]["scores"][OVERALL]["f1"] for s in range(seeds)]
    out["softnet overall F1"] = [float(np.mean(f1s)), float(np.std(f1s, ddof=1)) if seeds > 1 else 0.0]
    timed("megc-baseline", lambda: run_loso(videos, frame_filter=frame_filter), out)
    name = condition if settings == SoftNetSettings() else f"{condition}-s{settings.stride}-{settings.flow_size}"
    (work / f"{name}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    default = SoftNetSettings()
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2,
         float(sys.argv[4]) if len(sys.argv) > 4 else 60.0,
         SoftNetSettings(stride=int(sys.argv[5]) if len(sys.argv) > 5 else default.stride,
                         flow_size=int(sys.argv[6]) if len(sys.argv) > 6 else default.flow_size))
