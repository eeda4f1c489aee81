#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, assembles the demo weights and computes saliency maps for the bundled sample clip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"      # also writes the sample clip to build/sample/ (caspnet make-sample)
./build/caspnet devices
out=sample-out
mkdir -p "$out"
# The demo weights: CASP-Net(AV) trained on the synthetic knock task at 32x64 (weights/README.md),
# assembled from caspnet init-weights --seed 0 and the trained tensors in weights/demo/.
bash weights/demo-weights.sh "$out/demo-av.safetensors"
./build/caspnet predict --weights "$out/demo-av.safetensors" --size 32x64 --out "$out/maps" --force \
  --overlay --video-out "$out/overlay.mp4" build/sample/sample.mp4
echo "quickstart: one saliency PNG per frame of build/sample/sample.mp4 is in $out/maps/ (overlays in $out/maps/overlay/, video $out/overlay.mp4)"
echo "quickstart: the demo weights were trained on synthetic scenes in which only the sound tells which disc matters;"
echo "quickstart: their maps follow the orange disc, the one that knocks. They are not a model of human attention (weights/README.md)."
