#!/usr/bin/env bash
# Fixture of test_parity: the inputs, the weights files and the float64 PyTorch reference's taps, made once per CTest run and shared by the parity test of every OpenCL implementation.
# Usage (from CTest, before test_parity and test_parity_intel): test_parity_reference.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
#
# Writes BUILD_DIR/parity-ref/ (a fresh folder renamed into place, with a
# `complete` marker written last, so a parity test never reads a half-made
# one). The weights are calibrated by the engine on PoCL (CTest pins
# CASPNET_DEVICE); every implementation is then judged against the same file
# and the same reference, which is also what makes their errors comparable.
set -euo pipefail
SRC=$2 BUILD=$3
. "$(dirname "$0")/testlib.sh"
REF=$SRC/tests/torch_reference
OUT=$BUILD/parity-ref
[ -d "$BUILD" ] || { echo "test_parity_reference: no build folder '$BUILD'"; exit 2; }
# made beside OUT (same file system) so that the final rename is atomic
D=$(mktemp -d "$BUILD/parity-ref.tmp.XXXXXX")
trap 'rm -rf "$D"; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
run() { echo "+ $*"; "$@" || { echo "FAILED: $*"; fail=1; }; }
theirs() { $PY "$REF/caspnet_ref.py" --double "$@"; }
t0=$(date +%s)

$PY "$REF/make_inputs.py" --n 2 --height 64 --width 96 --seed 7 --clip "$D/clip.npy" --logmel "$D/mel.npy"
for variant in av v; do
  run "$BIN" init-weights --seed 3 --variant $variant "$D/$variant.safetensors"
  modes="linear"; [ $variant = av ] && modes="linear quadratic"
  mel=(); [ $variant = av ] && mel=(--logmel "$D/mel.npy")
  for mode in $modes; do
    run theirs --weights "$D/$variant.safetensors" --clip "$D/clip.npy" "${mel[@]}" \
      --out "$D/ref-$variant-$mode.npy" --dump-dir "$D/ref-$variant-$mode" --attention $mode
  done
done

# a weights file written by another program (the reference's own generator), stored as BF16
run $PY "$REF/make_weights.py" --variant av --seed 11 --calib 8x64x96 --head-std 0.5 --dtype BF16 --out "$D/py.safetensors"
run theirs --weights "$D/py.safetensors" --clip "$D/clip.npy" --logmel "$D/mel.npy" --out "$D/ref-py.npy" --dump-dir "$D/ref-py"

# one clip at the default size, 16 x 224 x 384, weights calibrated on that clip
$PY "$REF/make_inputs.py" --n 1 --height 224 --width 384 --seed 9 --clip "$D/big.npy" --logmel "$D/bigmel.npy"
run "$BIN" init-weights --seed 5 --calib-clip "$D/big.npy" --calib-logmel "$D/bigmel.npy" "$D/big.safetensors"
run theirs --weights "$D/big.safetensors" --clip "$D/big.npy" --logmel "$D/bigmel.npy" \
  --out "$D/ref-big.npy" --dump-dir "$D/ref-big"

if [ $fail -eq 0 ]; then
  date -u +%FT%TZ > "$D/complete"
  rm -rf "$OUT.old"
  [ -d "$OUT" ] && mv "$OUT" "$OUT.old"
  mv "$D" "$OUT"
  rm -rf "$OUT.old"
  echo "parity reference written to $OUT in $(( $(date +%s) - t0 )) s"
fi
finish test_parity_reference
