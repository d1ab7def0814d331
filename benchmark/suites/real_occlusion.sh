#!/usr/bin/env bash
# The real-data occlusion table (benchmark/RESULTS.md, "Occlusion on real micro-expressions"):
# the public MEGC 2019 composite inputs (442 clips, 68 subjects; STSTNet's 28x28 u, v, strain and
# the apex face crops, as HTNet's repository ships them) occluded by `occmer occlude` under every
# condition, then `occmer bench` over the official membership, LOSO, every model asked.
# The inputs are licensed database material: they stay on your disk, never in a repository.
#
#   HTNET=/path/to/HTNet benchmark/suites/real_occlusion.sh                 # everything here
#   HTNET=... STAGE=conditions benchmark/suites/real_occlusion.sh           # only the occluded files
#   HTNET=... MODELS="rrrn rrrn-backbone" CONDITIONS="clean surgical" SHARD=1/2 OUT=runs/a \
#       benchmark/suites/real_occlusion.sh                                  # one shard of a grid
#   occmer report runs/a runs/b --out runs/merged                           # merge shards, seeds
#   python benchmark/real_regions.py runs/merged --sheet casme2=CASME2-coding-20140508.xlsx \
#       --sheet samm=SAMM_Micro_FACS_Codes_v2.xlsx                          # per face region of the AUs
#
# Settings from the environment (default in brackets): HTNET (a checkout of
# wangzhifengharrison/HTNet with its datasets/ folder; required), WORK [real_occlusion] (files
# and runs), STAGE [all: conditions then bench], CONDITIONS [clean glasses sunglasses surgical n95
# eyeblock mouthblock hand], MODELS [rrrn rrrn-backbone ststnet offapexnet], SEEDS [3], SEED [0],
# SHARD [1/1], OUT [$WORK/runs/grid], DEVICE [auto], MOTION [affine], THREADS [1 per process].
# A CPU run is long (benchmark/RESULTS.md gives the cost of each cell): shard it, one thread each.
set -euo pipefail

: "${HTNET:?set HTNET to a checkout of wangzhifengharrison/HTNet (with datasets/)}"
WORK=${WORK:-real_occlusion}
STAGE=${STAGE:-all}
CONDITIONS=${CONDITIONS:-clean glasses sunglasses surgical n95 eyeblock mouthblock hand}
MODELS=${MODELS:-rrrn rrrn-backbone ststnet offapexnet}
SEEDS=${SEEDS:-3}
SEED=${SEED:-0}
SHARD=${SHARD:-1/1}
OUT=${OUT:-$WORK/runs/grid}
DEVICE=${DEVICE:-auto}
MOTION=${MOTION:-affine}
OCCMER=${OCCMER:-occmer}
export OMP_NUM_THREADS=${THREADS:-1}

mkdir -p "$WORK/cond"
if [[ "$STAGE" == all || "$STAGE" == conditions ]]; then
  # The release scales each channel of each image to 0..255 (every channel spans exactly 0..255).
  [[ -f "$WORK/flat.h5" ]] || "$OCCMER" import "$HTNET/datasets/STSNet_whole_norm_u_v_os" \
      --csv "$HTNET/combined_3_class2_for_optical_flow.csv" --db-map smic=smic-hs \
      --normalisation minmax-per-channel --out "$WORK/flat.h5"
  for condition in $CONDITIONS; do
    case $condition in
      clean) mask=(--mask none) ;;
      eyeblock) mask=(--mask block --coverage 0.3 --region eyes) ;;
      mouthblock) mask=(--mask block --coverage 0.3 --region mouth) ;;
      *) mask=(--mask "$condition") ;;
    esac
    [[ -f "$WORK/cond/$condition.h5" ]] || "$OCCMER" occlude "$WORK/flat.h5" \
        --faces "$HTNET/datasets/combined_datasets_whole" \
        --faces-csv "$HTNET/combined_3_class2_for_optical_flow.csv" --faces-column imagename \
        --no-face keep-clean --motion-model "$MOTION" --seed 0 "${mask[@]}" --out "$WORK/cond/$condition.h5"
  done
fi
if [[ "$STAGE" == all || "$STAGE" == bench ]]; then
  data=()
  for condition in $CONDITIONS; do data+=(--data "$WORK/cond/$condition.h5"); done
  # shellcheck disable=SC2086  # MODELS is a space-separated list on purpose
  "$OCCMER" bench $MODELS --protocol megc2019 "${data[@]}" --seed "$SEED" --seeds "$SEEDS" \
      --device "$DEVICE" --folds "$SHARD" --out "$OUT" --no-progress
fi
