#!/usr/bin/env bash
# Evidence grid on the demo database (benchmark/RESULTS.md, "Evidence grid on the bench's demo"):
# RRRN, its ablations and the baselines x the bench's demo conditions (clean, glasses, surgical
# mask) x LOSO x 3 seeds, one command, with `occmer bench`'s own demo defaults (demo database,
# input size, epochs, labels): the default demo bench over the nine registered models.
# Resumable: rerun the same line after an interruption; rerunning with more MASKS in the same
# OUT adds those conditions and keeps the finished folds.
#
#   benchmark/suites/demo_evidence.sh                     # everything on this machine
#   SHARD=1/4 OUT=runs/shard1 benchmark/suites/demo_evidence.sh   # one of four machines
#   occmer report runs/shard1 runs/shard2 runs/shard3 runs/shard4 --out runs/merged
#   python benchmark/demo_regions.py runs/merged           # occluder effects per face region
#
# Settings come from the environment (empty = the bench's default, shown in brackets):
# OUT [benchmark/runs/demo_evidence], SEEDS [3], EPOCHS [the demo bench's: 20], BATCH [32], LR [1e-3], DEVICE [auto],
# SHARD [1/1], MODELS [all nine registered models], MASKS [none,glasses,surgical = the bench's
# --demo-masks default], LABELS [the protocol's: emotion], SIZE [--demo-size: 32],
# FACE_SIZE [--demo-face-size: 112; 224 gives the conditions of the grid before 2026-11-30 15:00].
set -euo pipefail

OUT=${OUT:-benchmark/runs/demo_evidence}
SEEDS=${SEEDS:-3}
EPOCHS=${EPOCHS:-}
BATCH=${BATCH:-}
LR=${LR:-}
DEVICE=${DEVICE:-auto}
SHARD=${SHARD:-1/1}
LABELS=${LABELS:-}
SIZE=${SIZE:-}
FACE_SIZE=${FACE_SIZE:-}
MASKS=${MASKS:-none,glasses,surgical}
MODELS=${MODELS:-rrrn rrrn-no-ri rrrn-no-rr rrrn-backbone ran ststnet offapexnet dual-inception resnet18}
OCCMER=${OCCMER:-occmer}

extra=()
[[ -n "$EPOCHS" ]] && extra+=(--epochs "$EPOCHS")
[[ -n "$BATCH" ]] && extra+=(--batch-size "$BATCH")
[[ -n "$LR" ]] && extra+=(--lr "$LR")
[[ -n "$LABELS" ]] && extra+=(--labels "$LABELS")
[[ -n "$SIZE" ]] && extra+=(--demo-size "$SIZE")
[[ -n "$FACE_SIZE" ]] && extra+=(--demo-face-size "$FACE_SIZE")

# shellcheck disable=SC2086  # MODELS is a space-separated list on purpose
"$OCCMER" bench $MODELS \
  --demo-masks "$MASKS" --protocol loso --seeds "$SEEDS" \
  --device "$DEVICE" --folds "$SHARD" --out "$OUT" --no-progress "${extra[@]}"
