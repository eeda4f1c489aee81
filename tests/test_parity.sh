#!/usr/bin/env bash
# End-to-end parity: the engine against the independent PyTorch reference on the same weights, every tap, both variants, both attention modes.
# Usage (from CTest): test_parity.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -euo pipefail
BIN=$1 SRC=$2
PY=/usr/bin/python3   # Debian's python3-torch lives here, not in the pyenv python3
REF=$SRC/tests/reference
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
run() { echo "+ $*"; "$@" || fail=1; }

$PY "$REF/make_inputs.py" --n 2 --height 64 --width 96 --seed 7 --clip "$W/clip.npy" --logmel "$W/mel.npy"

for variant in av v; do
  "$BIN" init-weights --seed 3 --variant $variant "$W/$variant.safetensors"
  modes="linear"; [ $variant = av ] && modes="linear quadratic"
  for mode in $modes; do
    tag=$variant-$mode
    mel=(); [ $variant = av ] && mel=(--logmel "$W/mel.npy")
    run "$BIN" forward --weights "$W/$variant.safetensors" --clip "$W/clip.npy" "${mel[@]}" \
      --out "$W/$tag.npy" --dump-dir "$W/ours-$tag" --attention $mode
    run $PY "$REF/caspnet_ref.py" --weights "$W/$variant.safetensors" --clip "$W/clip.npy" "${mel[@]}" \
      --out "$W/ref-$tag.npy" --dump-dir "$W/ref-$tag" --attention $mode
    run $PY "$REF/compare.py" "$W/ours-$tag" "$W/ref-$tag" --label $tag
  done
done

# linear and quadratic attention must give visibly different maps, and silencing the audio must change the map
run $PY - "$W" <<'PY'
import sys, numpy as np
w = sys.argv[1]
a = np.load(f"{w}/av-linear.npy"); b = np.load(f"{w}/av-quadratic.npy")
d = float(np.abs(a - b).max())
print(f"linear vs quadratic max difference {d:.3e}")
sys.exit(0 if d > 1e-3 else 1)
PY
$PY -c "import numpy as np; m=np.load('$W/mel.npy'); np.save('$W/silent.npy', np.full_like(m, np.log(0.01)))"
run "$BIN" forward --weights "$W/av.safetensors" --clip "$W/clip.npy" --logmel "$W/silent.npy" --out "$W/silent-sal.npy"
run $PY - "$W" <<'PY'
import sys, numpy as np
w = sys.argv[1]
d = float(np.abs(np.load(f"{w}/av-linear.npy") - np.load(f"{w}/silent-sal.npy")).max())
print(f"audio vs silence max difference {d:.3e}")
sys.exit(0 if d > 1e-3 else 1)
PY

# the closed-form attention equals the literal formula run by the general kernels
for mode in linear quadratic; do
  run "$BIN" forward --weights "$W/av.safetensors" --clip "$W/clip.npy" --logmel "$W/mel.npy" \
    --out "$W/gen-$mode.npy" --dump-dir "$W/gen-$mode" --attention $mode --general-attention
  run $PY "$REF/compare.py" "$W/gen-$mode" "$W/ref-av-$mode" --label general-$mode
done

# a weights file written by another program (the reference's own generator), in F32 and BF16
$PY "$REF/make_weights.py" --variant av --seed 11 --out "$W/py.safetensors"
run "$BIN" forward --weights "$W/py.safetensors" --clip "$W/clip.npy" --logmel "$W/mel.npy" \
  --out "$W/py-sal.npy" --dump-dir "$W/ours-py"
run $PY "$REF/caspnet_ref.py" --weights "$W/py.safetensors" --clip "$W/clip.npy" --logmel "$W/mel.npy" \
  --out "$W/ref-py.npy" --dump-dir "$W/ref-py"
run $PY "$REF/compare.py" "$W/ours-py" "$W/ref-py" --label python-weights

if [ $fail -ne 0 ]; then echo "test_parity: FAILED"; exit 1; fi
echo "test_parity: all comparisons passed"
