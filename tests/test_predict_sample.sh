#!/usr/bin/env bash
# caspnet predict on a short bundled-style sample (the run cmake/sanitize.sh repeats under LeakSanitizer), and an output folder that stops accepting writes mid-run.
# Usage (from CTest): test_predict_sample.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/testlib.sh"

"$BIN" make-sample --frames 18 "$W/sample" > /dev/null || bad "make-sample"
"$BIN" init-weights --variant av --seed 1 --calib-size 32x32 --calib-clips 1 "$W/av.safetensors" 2> /dev/null || bad "init-weights"
P=(predict --quiet --weights "$W/av.safetensors" --size 64x96 --batch 2)

# the mp4 with its sound, and the frames folder with the WAV
"$BIN" "${P[@]}" --out "$W/out-mp4" "$W/sample/sample.mp4" && [ "$(ls "$W/out-mp4" | wc -l)" -eq 18 ] \
  && ok "predict on the sample mp4: 18 maps" || bad "predict on the sample mp4"
"$BIN" "${P[@]}" --out "$W/out-frames" --audio "$W/sample/audio.wav" --fps 24 "$W/sample/frames" \
  && [ "$(ls "$W/out-frames" | wc -l)" -eq 18 ] && ok "predict on frames + WAV: 18 maps" || bad "predict on frames + WAV"

# writes fail mid-run (a file-size limit, as a full disk): one error, non-zero exit,
# no partial or temporary file, and the maps written before stay complete
"$BIN" "${P[@]}" --out "$W/warm" "$W/sample/sample.mp4" 2>/dev/null   # kernels into the caches first
(trap '' XFSZ; ulimit -f 4; exec "$BIN" "${P[@]}" --overlay --out "$W/out-full" "$W/sample/sample.mp4") \
  > "$W/stdout" 2> "$W/stderr"; rc=$?
if grep -q "LLVM ERROR" "$W/stderr"; then
  echo "skip writes failing mid-run: the OpenCL driver itself hit the file-size limit"
elif [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$(grep -c . "$W/stderr")" -eq 1 ]; then
  partial=$(find "$W/out-full" -name '*.tmp*' 2>/dev/null | wc -l)
  [ "$partial" -eq 0 ] && ok "writes failing mid-run: $(cat "$W/stderr")" || bad "temporary files left: $partial"
else
  bad "writes failing mid-run: rc $rc"; cat "$W/stderr"
fi

# the output folder becomes read-only: the run stops with one clear error
mkdir -p "$W/ro" && chmod a-w "$W/ro"
if [ "$(id -u)" -ne 0 ]; then
  "$BIN" "${P[@]}" --force --out "$W/ro" "$W/sample/sample.mp4" > "$W/stdout" 2> "$W/stderr"; rc=$?
  [ $rc -ne 0 ] && [ $rc -lt 128 ] && ok "read-only output folder: $(tail -1 "$W/stderr")" || bad "read-only output folder (rc $rc)"
else
  echo "skip read-only output folder: running as root"
fi

finish test_predict_sample
