#!/usr/bin/env bash
# Trains the demo weights from scratch (the recipe of weights/demo/, weights/README.md): CASP-Net(V) on the knock task, the AV model fine-tuned from it, then on more videos; prints the held-out metrics and where the F16 delta is.
# Usage: bash weights/demo-train.sh [OUTDIR]   (default runs/demo; environment: THREADS, default 2; VIDEOS, STEPS,
#        FT_STEPS, MORE_VIDEOS, MORE_STEPS, SIZE change the recipe, for tests only)
# About 2 hours on 2 CPU cores (estimated from measured speeds). Resumable: run it again after an interruption. Writes only
# under OUTDIR; to use the result, copy OUTDIR/avmore/trained-avmore-f16.safetensors over
# weights/demo/knock-av-trained-f16.safetensors and run weights/demo-weights.sh.
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; -*) sed -n '3p' "$0" | sed 's/^# //' >&2; exit 2 ;; esac
OUT=${1:-runs/demo}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
cd "$(dirname "$0")/.."
export VIDEOS=${VIDEOS:-144} THREADS=${THREADS:-2}
VARIANTS=v STEPS=${STEPS:-1500} bash weights/knock-experiment.sh "$OUT"          # V on 96 training videos
VARIANTS=avft FT_STEPS=${FT_STEPS:-825} bash weights/knock-experiment.sh "$OUT"  # AV from it (the paper's second strategy)
VARIANTS=avmore MORE_VIDEOS=${MORE_VIDEOS:-720} MORE_STEPS=${MORE_STEPS:-2000} \
  bash weights/knock-experiment.sh "$OUT"                                        # then 480 more training videos
echo "demo-train: the demo delta is $OUT/avmore/trained-avmore-f16.safetensors"
