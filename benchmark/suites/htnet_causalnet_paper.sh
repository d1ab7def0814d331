#!/usr/bin/env bash
# HTNet and CausalNet with the authors' recipes (--recipe paper) on the public MEGC 2019 inputs,
# one GPU. Inputs (never committed): HTNET_DATA = an occmer file of HTNet's release with face
# landmarks (`occmer import` of datasets/STSNet_whole_norm_u_v_os, then `occmer occlude ...
# --mask none --faces datasets/combined_datasets_whole` for the /faces landmarks the blocks
# need), CAUSALNET_DATA = `occmer import` of CausalNet's datasets/STSNet_whole_norm_u_v_os
# (the four-map layout). Prints the bench's summary; copy it into benchmark/RESULTS.md with the
# device named (config.json records it). bf16 autocast on CUDA is the bench's default path.
#
#   HTNET_DATA=clean.h5 CAUSALNET_DATA=causal.h5 benchmark/suites/htnet_causalnet_paper.sh
#   MAX_FOLDS=2 EPOCHS=5 ... benchmark/suites/htnet_causalnet_paper.sh      # a short smoke run
set -euo pipefail

HTNET_DATA=${HTNET_DATA:?set HTNET_DATA to the occmer file of HTNet's inputs with /faces}
CAUSALNET_DATA=${CAUSALNET_DATA:?set CAUSALNET_DATA to the four-map import of CausalNet's inputs}
OUT=${OUT:-benchmark/runs/htnet_causalnet_paper}
DEVICE=${DEVICE:-cuda}
SEEDS=${SEEDS:-1}
OCCMER=${OCCMER:-occmer}
EXTRA=()
[[ -n "${MAX_FOLDS:-}" ]] && EXTRA+=(--max-folds "$MAX_FOLDS")
[[ -n "${EPOCHS:-}" ]] && EXTRA+=(--epochs "$EPOCHS")

run() {
  local model=$1 data=$2
  /usr/bin/time -f "$model: %e s wall" "$OCCMER" bench "$model" --recipe paper --protocol megc2019 \
    --data "$data" --device "$DEVICE" --seeds "$SEEDS" --out "$OUT/$model" --no-progress "${EXTRA[@]}"
}

run htnet "$HTNET_DATA"
run causalnet "$CAUSALNET_DATA"
