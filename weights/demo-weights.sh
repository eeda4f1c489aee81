#!/usr/bin/env bash
# Assembles the knock demo weights: caspnet init-weights (seed 0, the frozen random encoders) plus the trained tensors stored in weights/demo/ (F16), merged by weights/convert.py.
# Usage: weights/demo-weights.sh OUT.safetensors [CASPNET]   (run from anywhere; needs /usr/bin/python3 with torch)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: weights/demo-weights.sh OUT.safetensors [CASPNET]}
caspnet=${2:-$here/../build/caspnet}
delta=$here/demo/knock-av-f16.safetensors
[ -f "$delta" ] || { echo "demo-weights: $delta is missing" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The encoders' convolutions come from the seed alone; every BatchNorm statistic, the
# attention, CPC and decoder come from the delta, so the calibration clips do not matter.
"$caspnet" init-weights --seed 0 --variant av --calib-size 32x64 --calib-clips 2 "$tmp/base.safetensors" > /dev/null
/usr/bin/python3 "$here/convert.py" --variant av --full "$tmp/base.safetensors" --full "$delta" \
  --out "$tmp/knock-av.safetensors" > /dev/null
mv "$tmp/knock-av.safetensors" "$out"
echo "demo-weights: wrote $out (the knock demo: trained on synthetic scenes, see weights/README.md)"
