#!/usr/bin/env bash
# Issue 16 on the demo database: does a mask that follows the skin, or a hand, change what
# a model's robustness looks like? Clean vs rigid surgical mask vs skin-following surgical
# mask vs a resting hand, for STSTNet and RRRN, LOSO x several seeds (benchmark/RESULTS.md).
# Resumable: rerun the same line after an interruption (synthesis and bench both resume).
#
#   benchmark/suites/occluder_realism.sh
#
# Settings come from the environment (defaults in brackets): OUT [benchmark/runs/occluder_realism],
# DATA [$OUT/data], SEEDS [3], EPOCHS [20], DEVICE [auto], WORKERS [1], MODELS [ststnet rrrn],
# SHARD [1/1]: run shard i of n of the fold jobs (merge the shards' --out with `occmer report`).
set -euo pipefail

OUT=${OUT:-benchmark/runs/occluder_realism}
DATA=${DATA:-$OUT/data}
SEEDS=${SEEDS:-3}
EPOCHS=${EPOCHS:-20}
DEVICE=${DEVICE:-auto}
WORKERS=${WORKERS:-1}
MODELS=${MODELS:-ststnet rrrn}
SHARD=${SHARD:-1/1}
OCCMER=${OCCMER:-occmer}
mkdir -p "$DATA"

condition() {  # NAME, then the synthesize options of that condition
  local name=$1
  shift
  if [ ! -f "$DATA/$name.h5" ]; then
    local resume=()
    [ -d "$DATA/$name.h5.parts" ] && resume=(--resume)
    $OCCMER synthesize --db demo --seed 0 "$@" --features tvl1:28 --features tvl1:112 \
      --workers "$WORKERS" --no-progress --out "$DATA/$name.h5" "${resume[@]}"
  fi
}

condition clean --mask none
condition rigid --mask surgical --mask-motion rigid
condition skin --mask surgical --mask-motion skin
condition hand --mask hand

# shellcheck disable=SC2086  # OCCMER and MODELS are space-separated lists on purpose
$OCCMER bench $MODELS \
  --data "clean=$DATA/clean.h5" --data "rigid=$DATA/rigid.h5" --data "skin=$DATA/skin.h5" --data "hand=$DATA/hand.h5" \
  --protocol loso --labels emotion --epochs "$EPOCHS" --seeds "$SEEDS" --device "$DEVICE" --folds "$SHARD" --out "$OUT/bench${SHARD/\//-of-}"
