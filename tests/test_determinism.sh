#!/usr/bin/env bash
# Two `caspnet forward` runs on the same input and device give bit-identical maps and taps: the first compiles every kernel, the second loads them from the program cache.
# Usage (from CTest): test_determinism.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/testlib.sh"

"$BIN" init-weights --seed 5 --variant v --calib-clips 1 "$W/v.safetensors" 2>/dev/null || { echo "FAIL init-weights"; exit 1; }
$PY -c "
import numpy as np, sys
r = np.random.default_rng(11)
np.save(sys.argv[1], r.uniform(-1, 1, (1, 3, 16, 64, 96)).astype(np.float32))" "$W/clip.npy" \
  || { echo "FAIL making the clip"; exit 1; }

# A private, empty program cache: run 1 builds from source, run 2 loads binaries;
# a cached binary that computed differently would show here too.
export CASPNET_CACHE_DIR="$W/cache"
for r in 1 2; do
  mkdir -p "$W/taps$r"
  "$BIN" forward --quiet --weights "$W/v.safetensors" --clip "$W/clip.npy" --out "$W/sal$r.npy" \
    --dump-dir "$W/taps$r" || bad "forward run $r"
done
if cmp -s "$W/sal1.npy" "$W/sal2.npy"; then ok "map bit-identical ($(stat -c %s "$W/sal1.npy") bytes)"
else bad "maps differ:"; $PY -c "
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
print('  max abs difference %.3g at %s' % (np.abs(a - b).max(), np.unravel_index(np.abs(a - b).argmax(), a.shape)))" \
  "$W/sal1.npy" "$W/sal2.npy"; fi
n=0
for f in "$W"/taps1/*.npy; do
  t=$(basename "$f")
  n=$((n + 1))
  cmp -s "$f" "$W/taps2/$t" || bad "tap $t differs between runs"
done
[ $n -gt 5 ] && ok "$n taps compared" || bad "only $n taps dumped"

finish test_determinism
