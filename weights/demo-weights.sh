#!/usr/bin/env bash
# Assembles the demo weights (CASP-Net(AV) trained on the synthetic knock task, weights/README.md): caspnet init-weights --seed 0, whose frozen encoders the training used, merged with the trained tensors shipped as F16 in weights/demo/.
# Usage: bash weights/demo-weights.sh [--bin CASPNET] OUT.safetensors
# Needs /usr/bin/python3 with torch (weights/convert.py does the merge). Writes OUT only when
# complete (a temporary file, then a rename); an existing OUT is left alone.
set -euo pipefail
usage() { sed -n '3p' "$0" | sed 's/^# //'; }
BIN=
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --bin) [ $# -ge 2 ] || { usage >&2; exit 2; }; BIN=$2; shift 2 ;;
    -*) echo "demo-weights: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage >&2; exit 2; }
OUT=$1
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
if [ -n "$BIN" ]; then case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac; fi
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/build/caspnet}
DELTA=weights/demo/knock-av-trained-f16.safetensors
[ -f "$DELTA" ] || { echo "demo-weights: $DELTA is missing from this checkout" >&2; exit 2; }
[ -x "$BIN" ] || { echo "demo-weights: $BIN is not built (cmake --build build)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null \
  || { echo "demo-weights: /usr/bin/python3 lacks torch (Debian: apt install python3-torch; cmake/install-deps.sh does)" >&2; exit 2; }
[ -e "$OUT" ] && { echo "demo-weights: $OUT exists; left as it is"; exit 0; }
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/demo-weights.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The seed fixes every weight the training froze (S3D, VGGish); the delta
# replaces every tensor the training changed and every BatchNorm statistic,
# so the calibration clip chosen here does not matter (the smallest is cheapest).
"$BIN" init-weights --seed 0 --variant av --calib-size 32x64 --calib-clips 1 "$tmp/init.safetensors" > "$tmp/init.log" 2>&1 \
  || { cat "$tmp/init.log" >&2; echo "demo-weights: caspnet init-weights failed" >&2; exit 1; }
/usr/bin/python3 weights/convert.py --variant av --out "$tmp/demo.safetensors" \
  --full "$tmp/init.safetensors" --full "$DELTA" > "$tmp/convert.log" 2>&1 \
  || { cat "$tmp/convert.log" >&2; echo "demo-weights: the merge (weights/convert.py) failed" >&2; exit 1; }
# Same file system as OUT for an atomic rename.
cp "$tmp/demo.safetensors" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
echo "demo-weights: wrote $OUT (caspnet init-weights --seed 0, merged with $DELTA)"
