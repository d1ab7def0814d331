#!/usr/bin/env bash
# Speed of the full MEGC 2018 CDE grid on the demo database scaled to a realistic size
# (47 subjects x 5 clips = 235 clips, objective classes I-V, LOSO over all subjects).
# Prints seconds per fold and samples/s per model; run it on the GPU machine and copy the
# summary into benchmark/RESULTS.md with the device named (config.json records it).
#
#   benchmark/suites/megc2018_cde_timing.sh               # DEVICE=auto: CUDA when present
#   DEVICE=cpu EPOCHS=2 MODELS=ststnet benchmark/suites/megc2018_cde_timing.sh
set -euo pipefail

OUT=${OUT:-benchmark/runs/megc2018_cde_timing}
EPOCHS=${EPOCHS:-30}
DEVICE=${DEVICE:-auto}
SUBJECTS=${SUBJECTS:-47}
CLIPS=${CLIPS:-5}
MODELS=${MODELS:-rrrn rrrn-no-ri rrrn-no-rr rrrn-backbone ran ststnet offapexnet dual-inception resnet18}
OCCMER=${OCCMER:-occmer}
PYTHON=${PYTHON:-python}

# shellcheck disable=SC2086
"$OCCMER" bench $MODELS --demo-masks none --demo-subjects "$SUBJECTS" --demo-clips "$CLIPS" \
  --protocol megc2018-cde --epochs "$EPOCHS" --device "$DEVICE" --out "$OUT" --no-progress

"$PYTHON" - "$OUT" <<'PY'
import json, pathlib, statistics, sys
out = pathlib.Path(sys.argv[1])
config = json.loads((out / "config.json").read_text())
print(f"device: {config['device']}; torch {config['versions']['torch']}; epochs {config['settings']['train']['epochs']}")
print("| model | folds | clips | s/fold (median) | s total | training samples/s (median) |")
print("|---|---|---|---|---|---|")
by_model = {}
for path in sorted((out / "folds").rglob("*.json")):
    record = json.loads(path.read_text())
    by_model.setdefault(record["model"], []).append(record)
for model, records in by_model.items():
    seconds = [r["train_seconds"] for r in records]
    rates = [r["samples_per_s"] for r in records]
    clips = sum(r["n_test"] for r in records)
    print(f"| {model} | {len(records)} | {clips} | {statistics.median(seconds):.2f} | {sum(seconds):.1f} | "
          f"{statistics.median(rates):.0f} |")
PY
