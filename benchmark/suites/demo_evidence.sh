#!/usr/bin/env bash
# Evidence grid on the demo database (benchmark/RESULTS.md, "Evidence on the demo database"):
# RRRN, its ablations and the baselines x clean, glasses, sunglasses, surgical mask and block
# x LOSO x several seeds, one command. Resumable: rerun the same line after an interruption.
#
#   benchmark/suites/demo_evidence.sh                     # everything on this machine
#   SHARD=1/4 OUT=runs/shard1 benchmark/suites/demo_evidence.sh   # one of four machines
#   occmer report runs/shard1 runs/shard2 runs/shard3 runs/shard4 --out runs/merged
#
# Settings come from the environment (defaults in brackets): OUT [benchmark/runs/demo_evidence],
# SEEDS [3], EPOCHS [30], BATCH [32], LR [0.001], DEVICE [auto], SHARD [1/1],
# MODELS [all nine registered models], MASKS [none,glasses,sunglasses,surgical,block], LABELS [emotion].
set -euo pipefail

OUT=${OUT:-benchmark/runs/demo_evidence}
SEEDS=${SEEDS:-3}
EPOCHS=${EPOCHS:-30}
BATCH=${BATCH:-32}
LR=${LR:-0.001}
DEVICE=${DEVICE:-auto}
SHARD=${SHARD:-1/1}
LABELS=${LABELS:-emotion}
MASKS=${MASKS:-none,glasses,sunglasses,surgical,block}
MODELS=${MODELS:-rrrn rrrn-no-ri rrrn-no-rr rrrn-backbone ran ststnet offapexnet dual-inception resnet18}
OCCMER=${OCCMER:-occmer}

# shellcheck disable=SC2086  # MODELS is a space-separated list on purpose
"$OCCMER" bench $MODELS \
  --demo-masks "$MASKS" --protocol loso --labels "$LABELS" \
  --epochs "$EPOCHS" --batch-size "$BATCH" --lr "$LR" --seeds "$SEEDS" \
  --device "$DEVICE" --folds "$SHARD" --out "$OUT"
