#!/usr/bin/env bash
# caspnet make-sample end to end (frames, a WAV that knocks exactly at the bounces, an mp4 with video and audio), its refusals, and ffmpeg missing from PATH (make-sample and predict).
# Usage (from CTest): test_video_sample.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/testlib.sh"

if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  echo "note: ffmpeg/ffprobe not installed; make-sample needs them, test skipped"
  exit 0
fi

"$BIN" make-sample --help | grep -q "usage: caspnet make-sample" && ok "make-sample --help" || bad "make-sample --help"
"$BIN" make-sample 2>/dev/null && bad "no OUTDIR accepted" || ok "OUTDIR required"

S="$W/sample dir"   # a space in the path: nothing goes through a shell
"$BIN" make-sample "$S" > "$W/out" 2>&1 && ok "make-sample" || { bad "make-sample:"; cat "$W/out"; }
n=$(ls "$S/frames" | grep -c '^[0-9]\{6\}\.png$')
[ "$n" -eq 48 ] && [ -f "$S/frames/000001.png" ] && [ -f "$S/frames/000048.png" ] \
  && ok "48 frames 000001..000048.png" || bad "frames: $n"
[ "$(ls -A "$S" | tr '\n' ' ')" = "audio.wav frames sample.mp4 " ] && ok "nothing else in OUTDIR" \
  || bad "OUTDIR holds: $(ls -A "$S")"
ls -A "$W" | grep -q '\.tmp-' && bad "temporary folder left" || ok "no temporary folder left"

# the WAV: 16 kHz mono 16-bit, 2 s; loud just after each bounce (0.25 + 0.5 k s), quiet elsewhere
"$PY" - "$S/audio.wav" <<'PY' && ok "audio.wav knocks at 0.25, 0.75, 1.25, 1.75 s only" || bad "audio.wav"
import math, struct, sys, wave
w = wave.open(sys.argv[1])
assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 32000), \
    (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes())
x = [v / 32768 for v in struct.unpack("<%dh" % w.getnframes(), w.readframes(w.getnframes()))]
rms = lambda a, b: math.sqrt(sum(v * v for v in x[int(a * 16000):int(b * 16000)]) / ((b - a) * 16000))
quiet = [rms(0.0, 0.24)] + [rms(t + 0.2, t + 0.49) for t in (0.25, 0.75, 1.25)]
for t in (0.25, 0.75, 1.25, 1.75):
    on, before = rms(t, t + 0.05), rms(t - 0.01, t - 0.0005)
    assert on > 30 * max(quiet) and on > 30 * before, (t, on, before, quiet)
    # the knock starts at the bounce sample, not before
    k = round(t * 16000)
    assert max(abs(v) for v in x[k - 40:k]) < 0.01 < max(abs(v) for v in x[k:k + 40]), t
print("bounce rms", [round(rms(t, t + 0.05), 3) for t in (0.25, 0.75, 1.25, 1.75)], "quiet", [round(q, 4) for q in quiet])
PY

# the mp4: one video stream 384x224 of 48 frames at 24 fps, one audio stream of about 2 s
probe=$(ffprobe -v error -show_entries stream=codec_type,width,height,nb_frames,avg_frame_rate,duration -of compact "$S/sample.mp4")
echo "$probe" | grep -q "codec_type=video|width=384|height=224|avg_frame_rate=24/1|duration=2.000000|nb_frames=48" \
  && ok "sample.mp4 video stream" || bad "sample.mp4 video: $probe"
echo "$probe" | grep -q "codec_type=audio" && ok "sample.mp4 audio stream" || bad "sample.mp4 has no audio: $probe"
adur=$(ffprobe -v error -select_streams a -show_entries stream=duration -of csv=p=0 "$S/sample.mp4")
"$PY" -c "import sys; sys.exit(0 if abs(float('$adur') - 2.0) < 0.05 else 1)" && ok "audio lasts 2 s" || bad "audio duration $adur"

# refusals: a non-empty OUTDIR, a file as OUTDIR; --force replaces the sample and keeps other files
"$BIN" make-sample "$S" 2> "$W/err" && bad "non-empty OUTDIR accepted" \
  || { grep -q "not empty" "$W/err" && [ "$(wc -l < "$W/err")" -eq 1 ] && ok "non-empty OUTDIR: $(cat "$W/err")" || bad "non-empty message: $(cat "$W/err")"; }
touch "$W/afile"
"$BIN" make-sample "$W/afile" 2> "$W/err" && bad "file as OUTDIR accepted" || ok "file as OUTDIR: $(cat "$W/err")"
echo keep > "$S/mine.txt"
"$BIN" make-sample --force --frames 20 "$S" > /dev/null 2>&1 && [ "$(ls "$S/frames" | wc -l)" -eq 20 ] && [ -f "$S/mine.txt" ] \
  && ok "--force replaces the sample, keeps other files" || bad "--force"

# ffmpeg not installed: a clear message, a non-zero exit, nothing written
EMPTY="$W/emptybin"; mkdir "$EMPTY"
env PATH="$EMPTY" "$BIN" make-sample "$W/nosample" 2> "$W/err" && bad "make-sample without ffmpeg succeeded" \
  || { grep -q "ffmpeg not found on PATH" "$W/err" && [ ! -e "$W/nosample" ] \
       && ok "make-sample without ffmpeg: $(cat "$W/err")" || bad "make-sample without ffmpeg: $(cat "$W/err")"; }

if "$BIN" predict --help 2>&1 | grep -q "usage: caspnet predict"; then
  if "$BIN" init-weights --seed 1 --variant v --calib-clips 1 "$W/v.safetensors" > /dev/null 2>&1; then
    env PATH="$EMPTY" "$BIN" predict --weights "$W/v.safetensors" --out "$W/pred" "$S/sample.mp4" > /dev/null 2> "$W/err"
    rc=$?
    if [ $rc -ne 0 ] && grep -q "ffmpeg not found on PATH" "$W/err" && grep -q "sample.mp4" "$W/err" && [ ! -e "$W/pred" ]; then
      ok "predict without ffmpeg: $(grep -v '^caspnet: device' "$W/err")"
    else
      bad "predict without ffmpeg (rc $rc, output dir $( [ -e "$W/pred" ] && echo exists || echo absent)):"; cat "$W/err"
    fi
  else
    echo "note: init-weights failed here (no OpenCL device?); predict without ffmpeg not checked"
  fi
else
  echo "note: caspnet predict is still a placeholder; predict without ffmpeg not checked"
fi

finish test_video_sample
