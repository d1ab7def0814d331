"""Spotting and STR evidence for benchmark/RESULTS.md (issue 29): the MEGC baseline on the long demo.

1. Per long-demo seed: `occmer bench --task str` (through its Python entry, run_spot_bench):
   LOSO spotting F1 (micro, macro, overall) and STRS (STSTNet on the spotted intervals), clean
   and under each occluder held on the face (occmer's placement), the hand passing over the
   face every 10 s; and false spots per minute of neutral frames (frames outside every true
   interval: spots that touch no true interval / minutes outside the true intervals).
2. False spots per minute on neutral long videos (no expression, no blink; head drift, light,
   noise) for the same occluder placed held vs per frame from per-frame landmarks with
   detector-like jitter (JITTER x the outer eye-corner distance per landmark and frame), with
   the micro settings (k, p) that the clean LOSO folds of the first seed chose (median p).

Usage: python benchmark/spotting_evidence.py WORKDIR [SECONDS] [SEEDS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from occmer.bench.spotting import SpotRequest, run_spot_bench
from occmer.bench.training import TrainConfig
from occmer.demo.long_video import MANIFEST, LongVideoParams, read_long_demo, write_long_demo
from occmer.spotting import MICRO, OVERALL
from occmer.spotting.feature_difference import FeatureDifferenceSettings, spot_curve
from occmer.spotting.intervals import Interval
from occmer.spotting.occlusion import HAND_PASSING, occluder_filter
from occmer.spotting.task import CurveCache, truth_intervals

OCCLUDERS = ("glasses", "sunglasses", "surgical", HAND_PASSING)
JITTER = 0.01  # landmark noise, share of the outer eye-corner distance (about 0.5 px on the 128 px demo)
EPOCHS = 20


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


def neutral_rate(videos, spotted: list[Interval]) -> float:
    """Spots touching no true interval, per minute of frames outside every true interval."""
    truth = [t for v in videos for t in truth_intervals(v)]
    false = sum(1 for s in spotted if not any(t.video == s.video and t.onset <= s.offset and s.onset <= t.offset
                                              for t in truth))
    neutral = sum(v.count for v in videos) - sum(t.length for t in truth)
    return false / (neutral / videos[0].fps / 60.0)


def seed_run(work: Path, seed: int, seconds: float) -> dict:
    folder = work / f"long-demo-seed{seed}"
    if not (folder / MANIFEST).exists():
        start = time.time()
        write_long_demo(folder, LongVideoParams(seed=seed, subjects=3, seconds=seconds))
        print(f"seed {seed}: long demo built in {time.time() - start:.0f} s (load {load()})", flush=True)
    videos = read_long_demo(folder)
    out, result = work / f"str-seed{seed}", {}
    for condition in ("clean", *OCCLUDERS):  # one condition at a time, to time each
        start = time.time()
        request = SpotRequest("str", videos, out / condition, {"long_demo": str(folder)}, (condition,),
                              train=TrainConfig(epochs=EPOCHS), seeds=(0,))
        entry = run_spot_bench(request, progress=False, html=False, echo=lambda _t: None)["conditions"][condition]
        spotted = json.loads((out / condition / "conditions" / condition / "spotting.json").read_text())["spotted"]
        spot = entry["spotting"][OVERALL]
        result[condition] = {
            **{f"{kind}_f1": spot[kind]["f1"] for kind in spot},
            "strs": entry["str"]["summary"][OVERALL]["strs"][0],
            "analysis_f1": entry["str"]["summary"][OVERALL]["analysis F1"][0],
            "neutral_false_per_minute": neutral_rate(videos, [Interval(**s) for s in spotted]),
            "folds": entry["folds"], "seconds": time.time() - start, "load": load(),
        }
        shown = {k: round(v, 3) for k, v in result[condition].items() if isinstance(v, float) and k != "seconds"}
        print(f"seed {seed} {condition}: {shown} in {result[condition]['seconds']:.0f} s (load {load()})", flush=True)
    return result


def neutral_runs(work: Path, seconds: float, settings: FeatureDifferenceSettings) -> dict:
    neutral = work / "neutral"
    if not (neutral / MANIFEST).exists():
        params = LongVideoParams(seed=1, subjects=2, seconds=seconds, micro_per_minute=0, macro_per_minute=0, blinks_per_minute=0)
        write_long_demo(neutral, params)
    videos = read_long_demo(neutral)
    minutes = sum(v.count for v in videos) / videos[0].fps / 60.0
    out = {"minutes": minutes}
    for name in ("clean", *OCCLUDERS):
        for placement in ("held",) if name == "clean" else ("held", "per-frame"):
            start = time.time()
            jitter = JITTER if placement == "per-frame" else 0.0
            cache = CurveCache(None if name == "clean" else occluder_filter(name, placement, jitter=jitter))
            count = sum(len(spot_curve(cache.curve(v, settings.k), settings, v.video)) for v in videos)
            level = float(np.mean([cache.curve(v, settings.k).mean() for v in videos]))
            out[f"{name}/{placement}"] = {"per_minute": count / minutes, "mean_contrast": level,
                                          "seconds": time.time() - start, "load": load()}
            print(f"neutral {name}/{placement}: {out[f'{name}/{placement}']}", flush=True)
    return out


def main(work: Path, seconds: float, seeds: int) -> None:
    work.mkdir(parents=True, exist_ok=True)
    runs = {seed: seed_run(work, seed, seconds) for seed in range(seeds)}
    summary = {}
    for condition in ("clean", *OCCLUDERS):
        summary[condition] = {}
        for key in ("micro_f1", "macro_f1", "overall_f1", "strs", "neutral_false_per_minute"):
            values = [runs[s][condition][key] for s in runs]
            summary[condition][key] = (float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)
        print(condition, {k: f"{m:.3f} ± {s:.3f}" for k, (m, s) in summary[condition].items()}, flush=True)
    micro = [f for f in runs[0]["clean"]["folds"] if f["kind"] == MICRO]
    settings = FeatureDifferenceSettings(k=int(np.median([f["k"] for f in micro])), tau=float(np.median([f["tau"] for f in micro])))
    document = {"seconds": seconds, "seeds": seeds, "runs": runs, "summary": summary, "settings": vars(settings),
                "jitter": JITTER, "neutral": neutral_runs(work, seconds, settings)}
    (work / "evidence.json").write_text(json.dumps(document, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 30.0, int(sys.argv[3]) if len(sys.argv) > 3 else 3)
