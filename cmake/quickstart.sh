#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, writes random weights and computes saliency maps for the bundled sample clip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"      # also writes the sample clip to build/sample/ (caspnet make-sample)
./build/caspnet devices
out=sample-out
mkdir -p "$out"
# Random weights (no trained CASP-Net weights exist), calibrated on one synthetic clip of the model size.
[ -f "$out/weights-av.safetensors" ] || \
  ./build/caspnet init-weights --seed 0 --variant av --calib-size 224x384 --calib-clips 1 "$out/weights-av.safetensors"
./build/caspnet predict --weights "$out/weights-av.safetensors" --out "$out/maps" --force \
  --overlay --video-out "$out/overlay.mp4" build/sample/sample.mp4
echo "quickstart: one saliency PNG per frame of build/sample/sample.mp4 is in $out/maps/ (overlays in $out/maps/overlay/, video $out/overlay.mp4)"
echo "quickstart: the weights are random, so the maps mean nothing; weights/README.md explains how to get real ones"
