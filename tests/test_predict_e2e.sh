#!/usr/bin/env bash
# caspnet predict end to end: frame folders with and without a WAV, an mp4 with sound, the reversed first clips against caspnet forward, the outputs' names and sizes, and bad inputs.
# Usage (from CTest): test_predict_e2e.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/testlib.sh"
for tool in ffmpeg ffprobe; do
  command -v $tool > /dev/null || { echo "FAIL $tool is not installed (cmake/check.sh installs it)"; exit 1; }
done
$PY -c "import numpy" 2> /dev/null || { echo "note: numpy missing; test_predict_e2e.sh skipped"; exit 0; }
FF=(ffmpeg -hide_banner -loglevel error -y)
S=(--size 64x96 --quiet)

# Frames with a moving blob and texture; raw RGB that ffmpeg turns into PNG folders and an mp4.
$PY - "$W" <<'PY'
import sys, wave, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(5)
def frames(n, h, wd):
    yy, xx = np.mgrid[0:h, 0:wd]
    out = []
    for t in range(n):
        cx, cy = wd * (0.2 + 0.6 * t / n), h * (0.5 + 0.3 * np.sin(t / 3))
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (h / 6) ** 2))
        img = np.stack([90 + 120 * blob, 110 + 60 * np.sin(xx / 7.0 + t), 140 - 80 * blob], -1)
        out.append(np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8))
    return np.stack(out)
f20 = frames(20, 64, 96)
f20.tofile(f"{w}/f20.rgb")
np.save(f"{w}/f20.npy", f20)
frames(24, 60, 80).tofile(f"{w}/v24.rgb")
frames(10, 64, 96).tofile(f"{w}/f10.rgb")
# calibration clip: the folder's first 16 frames as caspnet forward reads them
np.save(f"{w}/calib.npy", (f20[:16].transpose(3, 0, 1, 2)[None] * (2 / 255) - 1).astype(np.float32))
sr = 22050
t = np.arange(int(sr * 24 / 25)) / sr
sig = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2
for name, ch in (("sound.wav", 2),):
    wv = wave.open(f"{w}/{name}", "wb")
    wv.setnchannels(ch); wv.setsampwidth(2); wv.setframerate(sr)
    wv.writeframes(np.repeat((sig * 32767).astype("<i2"), ch).tobytes())
    wv.close()
PY
mkdir "$W/f20" "$W/f10"
"${FF[@]}" -f rawvideo -pix_fmt rgb24 -video_size 96x64 -i "$W/f20.rgb" -start_number 1 "$W/f20/img_%d.png"
"${FF[@]}" -f rawvideo -pix_fmt rgb24 -video_size 96x64 -i "$W/f10.rgb" -start_number 1 "$W/f10/img_%d.png"
"${FF[@]}" -f rawvideo -pix_fmt rgb24 -video_size 80x60 -framerate 25 -i "$W/v24.rgb" -i "$W/sound.wav" \
  -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$W/v24.mp4"
"${FF[@]}" -f rawvideo -pix_fmt rgb24 -video_size 80x60 -framerate 25 -i "$W/v24.rgb" -c:v libx264 -pix_fmt yuv420p "$W/mute.mp4"
"${FF[@]}" -f rawvideo -pix_fmt rgb24 -video_size 96x64 -framerate 25 -i "$W/f10.rgb" -i "$W/sound.wav" \
  -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$W/short.mp4"
[ -f "$W/v24.mp4" ] && [ -f "$W/f20/img_20.png" ] || { echo "FAIL making the test media"; exit 1; }

"$BIN" init-weights --seed 2 --variant v --calib-clip "$W/calib.npy" "$W/v.safetensors" 2> /dev/null || bad "init-weights v"
"$BIN" init-weights --seed 2 --variant av --calib-clips 1 "$W/av.safetensors" 2> /dev/null || bad "init-weights av"

# png_count DIR N FIRST LAST WxH: N PNGs in DIR, the first and last names, all of WxH
png_check() {
  local dir=$1 n=$2 first=$3 last=$4 size=$5 what=$6
  local got; got=$(ls "$dir" | grep -c '\.png$')
  local sizes; sizes=$(for f in "$dir"/*.png; do ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x "$f"; done | sort -u)
  if [ "$got" -eq "$n" ] && [ -f "$dir/$first" ] && [ -f "$dir/$last" ] && [ "$sizes" = "$size" ] \
     && [ -z "$(ls -A "$dir" | grep '^\.')" ]; then
    ok "$what: $n PNGs $first..$last of $size, no temporaries"
  else
    bad "$what: $got PNGs (want $n, $first..$last), sizes '$sizes' (want $size):"; ls -A "$dir" | head
  fi
}

# 1. Folder, visual weights: names, sizes, PNG = map scaled to 255, and the maps against caspnet forward.
t0=$SECONDS
"$BIN" predict --weights "$W/v.safetensors" "${S[@]}" --npy --out "$W/o1" "$W/f20" || bad "predict folder (v)"
png_check "$W/o1" 20 img_1.png img_20.png 96x64 "folder, v weights"
"${FF[@]}" -i "$W/o1/img_1.png" -f rawvideo -pix_fmt gray "$W/o1_0.gray"
"${FF[@]}" -i "$W/o1/img_11.png" -f rawvideo -pix_fmt gray "$W/o1_10.gray"
$PY - "$W" <<'PY' && ok "PNGs are the maps scaled to a maximum of 255" || bad "PNG contents"
import sys, numpy as np
w = sys.argv[1]
m = np.load(f"{w}/o1/maps.npy")
assert m.shape == (20, 64, 96) and m.dtype == np.float32, m.shape
for t in (0, 10):
    png = np.fromfile(f"{w}/o1_{t}.gray", np.uint8).reshape(64, 96)
    want = np.floor(m[t] * (255 / m[t].max()) + 0.5)
    assert png.max() == 255 and np.abs(png - want).max() <= 1, (t, np.abs(png - want).max())
# the clips of frames 0 (reversed 15..0), 10 (reversed past the end of a 20-frame video: 19 x 6, then 19..10) and 19
f = np.load(f"{w}/f20.npy")
idx = {0: list(range(15, -1, -1)), 10: [min(25 - k, 19) for k in range(16)], 19: list(range(4, 20))}
clip = np.stack([f[idx[t]] for t in (0, 10, 19)]).transpose(0, 4, 1, 2, 3) * (2 / 255) - 1
np.save(f"{w}/clips.npy", clip.astype(np.float32))
PY
"$BIN" forward --weights "$W/v.safetensors" --clip "$W/clips.npy" --out "$W/fwd.npy" --quiet || bad "forward"
$PY - "$W" <<'PY' && ok "maps of frames 0 (reversed), 10 (reversed, clamped) and 19 equal caspnet forward" || bad "reversed-clip parity"
import sys, numpy as np
w = sys.argv[1]
m = np.load(f"{w}/o1/maps.npy")
ref = np.load(f"{w}/fwd.npy")[:, 0]
err = np.abs(m[[0, 10, 19]] - ref).max()
print(f"     max |predict - forward| = {err:.2e}; map 0 vs map 15: {np.abs(m[0] - m[15]).max():.3f}")
assert err < 1e-4, err
assert all(np.abs(m[t] - m[15]).max() > 1e-3 for t in range(15)), "first maps copy frame 15's"
PY
echo "     (folder, v: $((SECONDS - t0)) s)"

# 2. Folder plus WAV with audio-visual weights, batches of 3 (a partial last batch).
t0=$SECONDS
"$BIN" predict --weights "$W/av.safetensors" "${S[@]}" --batch 3 --audio "$W/sound.wav" --fps 25 \
  --out "$W/o2" "$W/f20" || bad "predict folder + WAV (av)"
png_check "$W/o2" 20 img_1.png img_20.png 96x64 "folder + WAV, av weights"
echo "     (folder + WAV, av: $((SECONDS - t0)) s)"

# 3. mp4 with sound at 80x60: maps at the frame's size, overlays, blur, and the overlay video with the sound.
t0=$SECONDS
"$BIN" predict --weights "$W/v.safetensors" --size 64x96 --overlay --blur 1.5 --video-out "$W/ov.mp4" \
  --out "$W/o3" "$W/v24.mp4" 2> "$W/o3.log" || { bad "predict mp4"; cat "$W/o3.log"; }
png_check "$W/o3" 24 000001.png 000024.png 80x60 "mp4, gray maps"
png_check "$W/o3/overlay" 24 000001.png 000024.png 80x60 "mp4, overlays"
grep -q "wrote 24 maps" "$W/o3.log" && ok "summary line" || bad "no summary line"
streams=$(ffprobe -v error -count_frames -show_entries stream=codec_type,width,height,nb_read_frames -of csv=p=0 "$W/ov.mp4" | sort | tr '\n' ' ')
case "$streams" in
  "audio,"*"video,80,60,24 ") ok "overlay video: $streams" ;;
  *) bad "overlay video streams: '$streams'" ;;
esac
ls -A "$W" | grep -q partial && bad "a temporary video was left" || ok "no temporary video left"
echo "     (mp4 + overlay + video: $((SECONDS - t0)) s)"

# 4. Bad input: non-zero exit, one clear error line (besides the device line), no output.
expect_error() {
  local name=$1 pat=$2 out=$3; shift 3
  local before; before=$(ls -A "$out" 2> /dev/null | wc -l)
  "$@" > "$W/stdout" 2> "$W/stderr"; local rc=$?
  local lines; lines=$(grep -v "^caspnet: device " "$W/stderr" | grep -c .)
  local after; after=$(ls -A "$out" 2> /dev/null | wc -l)
  if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$W/stderr" && [ "$before" -eq "$after" ] \
     && { [ "$before" -gt 0 ] || [ ! -e "$out" ]; }; then
    ok "$name: $(grep -v '^caspnet: device ' "$W/stderr")"
  else
    bad "$name (rc $rc, $lines error lines, pattern '$pat', output entries $before -> $after):"; cat "$W/stderr"
  fi
}
P=("$BIN" predict --weights "$W/v.safetensors" --size 64x96)
touch "$W/afile"
expect_error "missing input"      "nosuch.mp4"     "$W/e1" "${P[@]}" --out "$W/e1" "$W/nosuch.mp4"
expect_error "10-frame folder"    "at least 16"    "$W/e2" "${P[@]}" --out "$W/e2" "$W/f10"
expect_error "10-frame mp4"       "short.mp4"      "$W/e3" "${P[@]}" --out "$W/e3" "$W/short.mp4"
expect_error "out not empty"      "not empty"      "$W/o1" "${P[@]}" --out "$W/o1" "$W/f20"
expect_error "out unwritable"     "afile"          "$W/afile/out" "${P[@]}" --out "$W/afile/out" "$W/f20"
expect_error "out is the input"   "input"          "$W/f20" "${P[@]}" --force --out "$W/f20" "$W/f20"
expect_error "bad size"           "multiples of 32" "$W/e4" "${P[@]}" --size 65x96 --out "$W/e4" "$W/f20"
expect_error "no audio, av"       "mute.mp4"       "$W/e5" "$BIN" predict --weights "$W/av.safetensors" --size 64x96 \
  --out "$W/e5" "$W/mute.mp4"
"$BIN" predict --help | grep -q "usage: caspnet predict" && ok "predict --help" || bad "predict --help"

finish test_predict_e2e
