#!/usr/bin/env bash
# The demo weights: weights/demo-weights.sh assembles them, and on the bundled sample their maps pick out the disc that sounds (orange), which they stop doing without the sound.
# Usage (from CTest): test_demo.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
SRC=$2
. "$(dirname "$0")/testlib.sh"
need_torch "the demo weights are merged by weights/convert.py"
ATT=("$PY" "$SRC/tests/sample_attention.py")

bash "$SRC/weights/demo-weights.sh" --bin "$BIN" "$W/demo.safetensors" > "$W/log" 2>&1 \
  && "$BIN" info "$W/demo.safetensors" > "$W/info" 2>&1 && grep -q "variant av" "$W/info" \
  && ok "demo-weights.sh: $(tail -1 "$W/log")" || { bad "demo-weights.sh"; cat "$W/log" "$W/info"; finish test_demo; }
before=$(cksum < "$W/demo.safetensors")
bash "$SRC/weights/demo-weights.sh" --bin "$BIN" "$W/demo.safetensors" > "$W/log" 2>&1 \
  && [ "$(cksum < "$W/demo.safetensors")" = "$before" ] && ok "an existing output is left alone" \
  || bad "demo-weights.sh changed an existing output"
bash "$SRC/weights/demo-weights.sh" --bin "$W/nothing" "$W/x.safetensors" > /dev/null 2>&1 \
  && bad "demo-weights.sh ran without a caspnet program" || ok "demo-weights.sh names a missing program"

# The quickstart's run: the whole sample (48 frames) at the size the demo was trained at.
"$BIN" make-sample "$W/sample" > /dev/null || { bad "make-sample"; finish test_demo; }
P=(predict --quiet --weights "$W/demo.safetensors" --size 32x64)
"$BIN" "${P[@]}" --out "$W/maps" "$W/sample/sample.mp4" || bad "predict on the sample"
# Without the sound nothing tells the discs apart (in the training videos the teal disc's motion
# goes with a knock as often as the orange one's): the orange disc's share must fall well below.
"$BIN" "${P[@]}" --no-audio --out "$W/silent" "$W/sample/sample.mp4" || bad "predict --no-audio"
"${ATT[@]}" "$W/sample/frames" "$W/maps" --expect orange --min-frames 0.8 --min-share 0.7 \
  --without "$W/silent" --min-drop 0.2 > "$W/att" 2>&1 \
  && ok "$(tail -1 "$W/att")" || { bad "the maps do not follow the sounding disc, or not because of the sound"; cat "$W/att"; }
finish test_demo
