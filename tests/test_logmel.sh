#!/usr/bin/env bash
# caspnet logmel against the independent numpy VGGish reference (tests/torch_reference/vggish_ref.py) on synthesised speech-like and tonal WAVs, a 44.1 kHz stereo file end to end, and bad input through the CLI.
# Usage (from CTest): test_logmel.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
SRC=$2
. "$(dirname "$0")/testlib.sh"
REF=$SRC/tests/torch_reference/vggish_ref.py

if ! $PY -c 'import numpy' 2>/dev/null; then
  echo "note: /usr/bin/python3 with numpy not available, test_logmel skipped"
  exit 0
fi

"$BIN" logmel --help > "$W/help.txt" && grep -q "usage: caspnet logmel" "$W/help.txt" \
  && grep -q -- "--reversed" "$W/help.txt" && ok "logmel --help" || bad "logmel --help"

# Test signals, 16-bit PCM through Python's wave module (what the reference reads):
#   speech.wav  4 s of vowel-like speech: ~120 Hz glottal pulses with vibrato through
#               formant resonators, syllable-rate modulation, fricative noise bursts
#   tones.wav   3 s of sines at band edges (125, 7500 Hz), mid band, a chirp, and a
#               quiet stretch in the middle (bands near the 0.01 offset)
#   stereo44.wav 3 s at 44.1 kHz, float32, left and right different tones;
#   mix16.npy   the same mono mix generated analytically at 16 kHz
$PY - "$W" <<'PY' || { echo "FAIL signal generation"; exit 1; }
import struct, sys, wave
import numpy as np
w = sys.argv[1]
rng = np.random.default_rng(7)

def save16(path, x, rate=16000):
    q = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as f:
        f.setnchannels(1); f.setsampwidth(2); f.setframerate(rate)
        f.writeframes(q.tobytes())

def speech(n, rate):
    t = np.arange(n) / rate
    f0 = 120 * (1 + 0.06 * np.sin(2 * np.pi * 2.5 * t))
    ph = np.cumsum(f0 / rate)
    src = np.diff(np.floor(ph), prepend=0.0)           # one pulse per glottal period
    y = np.zeros(n)
    for F, B, G in ((700, 80, 1.0), (1220, 90, 0.6), (2600, 120, 0.25)):
        r = np.exp(-np.pi * B / rate); a1 = 2 * r * np.cos(2 * np.pi * F / rate); a2 = -r * r
        o = np.zeros(n); p1 = p2 = 0.0
        for i in range(n):                             # two-pole resonator
            v = src[i] + a1 * p1 + a2 * p2
            o[i] = v; p2 = p1; p1 = v
        y += G * o
    y *= 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    nz = rng.standard_normal(n)
    y += 6 * np.diff(nz, prepend=0.0) * (np.mod(t, 0.45) < 0.08)
    return 0.7 * y / np.abs(y).max()

n = 4 * 16000
save16(f"{w}/speech.wav", speech(n, 16000))
t = np.arange(3 * 16000) / 16000
x = (0.25 * np.sin(2 * np.pi * 125 * t) + 0.2 * np.sin(2 * np.pi * 7500 * t + 1)
     + 0.2 * np.sin(2 * np.pi * 1000 * t) + 0.15 * np.sin(2 * np.pi * (300 * t + 900 * t * t)))
x[int(1.2 * 16000):int(1.8 * 16000)] *= 1e-3   # quiet stretch
save16(f"{w}/tones.wav", x)

def stereo_parts(rate, n):
    t = np.arange(n) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t)
    right = 0.3 * np.sin(2 * np.pi * 1750 * t + 0.5) + 0.2 * np.sin(2 * np.pi * 6200 * t)
    return left, right

l, r = stereo_parts(44100, 3 * 44100)
data = np.stack([l, r], axis=1).astype("<f4").tobytes()
fmt = struct.pack("<HHIIHH", 3, 2, 44100, 44100 * 8, 8, 32)  # IEEE float, 2 ch, 32-bit
with open(f"{w}/stereo44.wav", "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE")
    f.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
    f.write(b"data" + struct.pack("<I", len(data)) + data)
l, r = stereo_parts(16000, 3 * 16000)
np.save(f"{w}/mix16.npy", ((l + r) / 2).astype(np.float32))
PY

# maxdiff A.npy B.npy: prints the max absolute difference (shapes must agree)
maxdiff() {
  $PY -c "
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.shape == b.shape == (1, 1, 96, 64), (a.shape, b.shape)
assert np.isfinite(a).all() and np.isfinite(b).all()
print('%.3g' % np.abs(a.astype(np.float64) - b).max())" "$1" "$2"
}
# within X LIMIT: X <= LIMIT
within() { $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$1" "$2"; }

# The spec's bound against VGGish on the same 16 kHz samples: 1e-4 absolute.
worst=0
for wav in speech tones; do
  for spec in "0:15 30" "20:35 30" "45:60 25" "70:85 29.97" "100:115 30" "0:1 30" "180:195 30" "300:315 30"; do
    set -- $spec
    fr=$1 fps=$2
    if ! "$BIN" logmel --quiet --wav "$W/$wav.wav" --fps "$fps" --frames "$fr" --out "$W/c.npy"; then
      bad "caspnet logmel $wav $fr @$fps"; continue
    fi
    if ! $PY "$REF" --wav "$W/$wav.wav" --fps "$fps" --frames "$fr" --out "$W/r.npy"; then
      bad "vggish_ref.py $wav $fr @$fps"; continue
    fi
    d=$(maxdiff "$W/c.npy" "$W/r.npy") || { bad "compare $wav $fr"; continue; }
    within "$d" 1e-4 && ok "$wav frames $fr at $fps fps: max |C - numpy| $d" \
      || bad "$wav frames $fr at $fps fps: max |C - numpy| $d > 1e-4"
    within "$d" "$worst" || worst=$d
  done
done
echo "worst |C - numpy VGGish reference| on 16 kHz files: $worst"

# --reversed uses the forward clip's window: identical bytes
"$BIN" logmel --quiet --wav "$W/speech.wav" --fps 30 --frames 0:15 --out "$W/f.npy" \
  && "$BIN" logmel --quiet --wav "$W/speech.wav" --fps 30 --frames 0:15 --reversed --out "$W/rev.npy" \
  && cmp -s "$W/f.npy" "$W/rev.npy" && ok "--reversed gives the forward window" || bad "--reversed"

# The summary line names the window
"$BIN" logmel --wav "$W/speech.wav" --fps 30 --frames 0:15 --out "$W/f.npy" | grep -q "samples \[-3533, 12067) of 64000" \
  && ok "summary line" || bad "summary line"

# 44.1 kHz stereo float end to end (mono mix + libsamplerate) against the mix made
# analytically at 16 kHz. Bound 1e-3: the only difference is the resampler's own
# error (libsamplerate's best converter quotes 97 dB SNR) and float32 storage,
# which in the quietest bands sits next to the 0.01 offset; test_audio measures
# about 5e-5 for a single tone. The windows stay clear of the file's ends: an
# abrupt start is not band-limited, so there the resampled signal rings (Gibbs)
# and rightly differs from the abruptly started 16 kHz one.
for spec in "20:35 30" "40:55 25" "60:75 30"; do
  set -- $spec
  if "$BIN" logmel --quiet --wav "$W/stereo44.wav" --fps "$2" --frames "$1" --out "$W/c.npy" \
     && $PY "$REF" --raw16k "$W/mix16.npy" --fps "$2" --frames "$1" --out "$W/r.npy"; then
    d=$(maxdiff "$W/c.npy" "$W/r.npy")
    within "$d" 1e-3 && ok "44.1 kHz stereo frames $1 at $2 fps vs analytic 16 kHz mix: max $d" \
      || bad "44.1 kHz stereo frames $1 at $2 fps: max $d > 1e-3"
  else
    bad "44.1 kHz stereo frames $1"
  fi
done

# Bad input: non-zero exit, exactly one stderr line matching PATTERN, no output file.
expect_error() {
  local name=$1 pat=$2; shift 2
  rm -f "$W/out.npy"
  "$@" > "$W/stdout" 2> "$W/stderr"; local rc=$?
  local lines; lines=$(grep -c . "$W/stderr")
  if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$W/stderr" && [ ! -e "$W/out.npy" ]; then
    ok "$name: $(cat "$W/stderr")"
  else
    bad "$name (rc $rc, $lines error lines, pattern '$pat'):"; cat "$W/stderr"
  fi
}
head -c 4096 /dev/urandom > "$W/random.wav"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\10\2\0\0\0' > "$W/image.png"
echo "not audio at all" > "$W/text.wav"
mkdir "$W/adir"
L="$BIN logmel --quiet --fps 30 --frames 0:15"
expect_error "random bytes" "random.wav: not an audio file" $L --wav "$W/random.wav" --out "$W/out.npy"
expect_error "PNG" "image.png: not an audio file" $L --wav "$W/image.png" --out "$W/out.npy"
expect_error "text" "text.wav: not an audio file" $L --wav "$W/text.wav" --out "$W/out.npy"
expect_error "missing file" "missing.wav: cannot open" $L --wav "$W/missing.wav" --out "$W/out.npy"
expect_error "directory" "adir: is a directory" $L --wav "$W/adir" --out "$W/out.npy"
expect_error "frames equal" "--frames '5:5'" "$BIN" logmel --wav "$W/speech.wav" --fps 30 --frames 5:5 --out "$W/out.npy"
expect_error "frames reversed" "--frames '9:2'" "$BIN" logmel --wav "$W/speech.wav" --fps 30 --frames 9:2 --out "$W/out.npy"
expect_error "frames junk" "--frames 'x'" "$BIN" logmel --wav "$W/speech.wav" --fps 30 --frames x --out "$W/out.npy"
expect_error "fps zero" "--fps '0'" "$BIN" logmel --wav "$W/speech.wav" --fps 0 --frames 0:15 --out "$W/out.npy"
expect_error "fps junk" "--fps 'abc'" "$BIN" logmel --wav "$W/speech.wav" --fps abc --frames 0:15 --out "$W/out.npy"
expect_error "missing --out" "required" "$BIN" logmel --wav "$W/speech.wav" --fps 30 --frames 0:15
expect_error "unknown option" "unknown argument '--bogus'" "$BIN" logmel --bogus --wav "$W/speech.wav" --fps 30 --frames 0:15 --out "$W/out.npy"
expect_error "value missing" "--fps needs a value" "$BIN" logmel --wav "$W/speech.wav" --out "$W/out.npy" --frames 0:15 --fps
cp "$W/speech.wav" "$W/keep.wav"
expect_error "out is the input" "refusing to overwrite" "$BIN" logmel --wav "$W/keep.wav" --fps 30 --frames 0:15 --out "$W/keep.wav"
cmp -s "$W/speech.wav" "$W/keep.wav" && ok "input left intact" || bad "input was modified"
expect_error "unwritable output" "out.npy" $L --wav "$W/speech.wav" --out "$W/nodir/out.npy"

finish test_logmel
