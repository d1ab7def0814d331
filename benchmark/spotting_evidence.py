"""Spotting evidence for benchmark/RESULTS.md (issue 29): the MEGC baseline on the long demo.

1. LOSO spotting F1 (micro, macro, overall) on the long demo, clean and under each occluder
   held on the face (occmer's placement).
2. False spots per minute on neutral long videos (no expression, no blink; head drift, light,
   noise) for the same occluder placed held vs per frame from per-frame landmarks, with the
   micro settings (k, p) that the clean LOSO folds chose (median p).

Usage: python benchmark/spotting_evidence.py WORKDIR [SECONDS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from occmer.demo.long_video import MANIFEST, LongVideoParams, read_long_demo, write_long_demo
from occmer.spotting import MICRO, OVERALL
from occmer.spotting.feature_difference import FeatureDifferenceSettings, spot_curve
from occmer.spotting.occlusion import occluder_filter
from occmer.spotting.task import CurveCache, run_loso

OCCLUDERS = ("glasses", "sunglasses", "surgical")


def main(work: Path, seconds: float) -> None:
    work.mkdir(parents=True, exist_ok=True)
    expressive, neutral = work / "long-demo", work / "neutral"
    if not (expressive / MANIFEST).exists():
        write_long_demo(expressive, LongVideoParams(subjects=3, seconds=seconds))
    if not (neutral / MANIFEST).exists():
        params = LongVideoParams(seed=1, subjects=2, seconds=seconds, micro_per_minute=0, macro_per_minute=0, blinks_per_minute=0)
        write_long_demo(neutral, params)
    videos, results = read_long_demo(expressive), {}
    for name in ("clean", *OCCLUDERS):
        start = time.time()
        run = run_loso(videos, frame_filter=None if name == "clean" else occluder_filter(name, "held"))
        scores = run.scores.counts[OVERALL]
        results[name] = {kind: scores[kind].as_dict() for kind in scores} | {
            "folds": [vars(f) for f in run.folds],
            "seconds": time.time() - start,
            "frames_per_second": run.frames / (time.time() - start),
        }
        print(name, {k: round(v["f1"], 3) for k, v in results[name].items() if isinstance(v, dict) and "f1" in v}, flush=True)
    micro = [f for f in results["clean"]["folds"] if f["kind"] == MICRO]
    settings = FeatureDifferenceSettings(k=int(np.median([f["k"] for f in micro])), tau=float(np.median([f["tau"] for f in micro])))
    neutral_videos = read_long_demo(neutral)
    minutes = sum(v.count for v in neutral_videos) / neutral_videos[0].fps / 60.0
    false_spots = {}
    for name in ("clean", *OCCLUDERS):
        for placement in ("held",) if name == "clean" else ("held", "per-frame"):
            cache = CurveCache(None if name == "clean" else occluder_filter(name, placement))
            count = sum(len(spot_curve(cache.curve(v, settings.k), settings, v.video)) for v in neutral_videos)
            # the threshold is relative to each video's own curve: report the curve's level too
            level = float(np.mean([cache.curve(v, settings.k).mean() for v in neutral_videos]))
            false_spots[f"{name}/{placement}"] = {"per_minute": count / minutes, "mean_contrast": level}
            print(name, placement, false_spots[f"{name}/{placement}"], flush=True)
    document = {"settings": vars(settings), "neutral_minutes": minutes, "loso": results, "neutral": false_spots}
    (work / "evidence.json").write_text(json.dumps(document, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 60.0)
