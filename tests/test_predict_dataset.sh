#!/usr/bin/env bash
# caspnet predict --dataset then caspnet eval, end to end on the synthetic STAViS-layout dataset: the mirrored tree, every frame, and a scored table.
# Usage (from CTest): test_predict_dataset.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/testlib.sh"
"$BIN" eval --make-synthetic "$W/root" >/dev/null
"$BIN" init-weights --variant v --seed 2 --calib-clips 1 --calib-size 32x32 "$W/v.safetensors" 2>/dev/null
"$BIN" predict --quiet --weights "$W/v.safetensors" --size 32x32 --out "$W/pred" --dataset "$W/root" --db SynthB
# one PNG per listed frame, named as eval expects
n=0
while read -r video frames fps; do
  [ -z "$video" ] && continue
  for i in $(seq 1 "$frames"); do
    f=$(printf "%s/pred/SynthB/%s/img_%05d.png" "$W" "$video" "$i")
    [ -s "$f" ] || { echo "FAIL: missing $f"; exit 1; }
    n=$((n + 1))
  done
done < "$W/root/fold_lists/SynthB_list_test_fps.txt"
ok "$n prediction PNGs in the mirrored tree"
"$BIN" eval --pred "$W/pred" --data "$W/root" --db SynthB --json "$W/eval.json" | tee "$W/table.txt"
$PY - "$W/eval.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
def numbers(o):
    if isinstance(o, dict):
        for v in o.values(): yield from numbers(v)
    elif isinstance(o, list):
        for v in o: yield from numbers(v)
    elif isinstance(o, (int, float)) and not isinstance(o, bool):
        yield o
vals = list(numbers(d))
assert vals and all(math.isfinite(v) for v in vals), "non-finite numbers in eval JSON"
print(f"ok   eval JSON has {len(vals)} finite numbers")
PY
# a second predict into the same tree skips the videos it finished (their .done markers) and rewrites nothing
touch "$W/stamp"
"$BIN" predict --weights "$W/v.safetensors" --size 32x32 --out "$W/pred" --dataset "$W/root" --db SynthB 2>"$W/err"
if grep -q "2 complete already (skipped), 0 partial (redone), 0 to run" "$W/err" &&
  [ "$(cd "$W/pred" && find . -type f -newer "$W/stamp" | wc -l)" = 0 ]; then
  ok "rerun skips both finished videos, nothing rewritten"
else
  cat "$W/err"; echo "FAIL: rerun did not skip the finished videos"; exit 1
fi
# other weights into the same tree are refused without --force (inputs and earlier outputs are kept)
"$BIN" init-weights --variant v --seed 3 --calib-clips 1 --calib-size 32x32 "$W/v3.safetensors" 2>/dev/null
if "$BIN" predict --quiet --weights "$W/v3.safetensors" --size 32x32 --out "$W/pred" --dataset "$W/root" --db SynthB 2>"$W/err"; then
  echo "FAIL: predict overwrote a tree of other weights without --force"; exit 1
fi
ok "refused: $(cat "$W/err")"
finish test_predict_dataset
