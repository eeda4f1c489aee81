#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, writes random weights and computes saliency maps for a sample clip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
out=sample-out
mkdir -p "$out"
./build/caspnet devices
[ -f "$out/weights-av.safetensors" ] || ./build/caspnet init-weights --seed 0 --variant av "$out/weights-av.safetensors"
# A sample clip: two clips of 16 frames of 224 x 384 (moving gratings plus noise) and their log-mels.
# (caspnet predict on a real video with sound is issue 4; until then the engine runs on NumPy tensors.)
/usr/bin/python3 tests/reference/make_inputs.py --n 2 --height 224 --width 384 --seed 1 \
  --clip "$out/clip.npy" --logmel "$out/logmel.npy"
./build/caspnet forward --weights "$out/weights-av.safetensors" --clip "$out/clip.npy" \
  --logmel "$out/logmel.npy" --out "$out/saliency.npy"
echo "quickstart: saliency maps (2 x 1 x 224 x 384, float32) are in $out/saliency.npy"
echo "quickstart: the weights are random (no trained CASP-Net weights exist): the maps mean nothing; see weights/README.md"
