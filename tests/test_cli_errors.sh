#!/usr/bin/env bash
# The program on bad input: bad weights files, bad tensors and bad options each give one clear error line, a non-zero exit and no output file; --help works on every command.
# Usage (from CTest): test_cli_errors.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/testlib.sh"

for cmd in devices forward init-weights info tune; do
  "$BIN" $cmd --help > "$W/help.txt" 2>&1 && grep -q "usage: caspnet $cmd" "$W/help.txt" \
    && ok "$cmd --help" || bad "$cmd --help"
done
"$BIN" --help | grep -q "commands:" && ok "caspnet --help" || bad "caspnet --help"
"$BIN" nosuchcommand 2>/dev/null && bad "unknown command accepted" || ok "unknown command rejected"

# expect_error NAME PATTERN CMD...: non-zero exit, exactly one stderr line matching PATTERN (after the device line), no out.npy
expect_error() {
  local name=$1 pat=$2; shift 2
  rm -f "$W/out.npy"
  "$@" > "$W/stdout" 2> "$W/stderr"; local rc=$?
  local lines; lines=$(grep -v "^caspnet: device " "$W/stderr" | grep -c .)
  if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$W/stderr" && [ ! -e "$W/out.npy" ]; then
    ok "$name: $(grep -v '^caspnet: device ' "$W/stderr")"
  else
    bad "$name (rc $rc, $lines error lines, pattern '$pat'):"; cat "$W/stderr"
  fi
}

"$BIN" init-weights --seed 1 --variant v --calib-clips 1 "$W/v.safetensors" 2>/dev/null || bad "init-weights"
$PY - "$W" <<'PY'
import json, struct, sys, numpy as np
w = sys.argv[1]
np.save(f"{w}/clip.npy", np.zeros((1, 3, 16, 64, 96), np.float32))
np.save(f"{w}/clip8.npy", np.zeros((1, 3, 8, 64, 96), np.float32))
raw = open(f"{w}/v.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
data = raw[8 + n:]
open(f"{w}/trunc.safetensors", "wb").write(raw[: len(raw) // 2])
def write(name, h):
    b = json.dumps(h).encode()
    open(f"{w}/{name}.safetensors", "wb").write(struct.pack("<Q", len(b)) + b + data)
key = "dec.1.head.bias"
h = json.loads(json.dumps(hdr)); h[key]["dtype"] = "F64"; write("dtype", h)
h = json.loads(json.dumps(hdr)); h["dec.1.gen.conv.bias"]["shape"] = [8, 8]; write("shape", h)
# drop a key but keep the data section covered: rename it to an unknown one, and remove one
h = json.loads(json.dumps(hdr)); h["dec.9.extra"] = h.pop(key); write("unexpected", h)
h = json.loads(json.dumps(hdr)); h["__metadata__"]["variant"] = "av"; write("variant", h)
PY
F=(forward --weights)
expect_error "truncated weights"   "trunc.safetensors"  "$BIN" "${F[@]}" "$W/trunc.safetensors" --clip "$W/clip.npy" --out "$W/out.npy"
expect_error "unknown dtype"       "F64"                "$BIN" "${F[@]}" "$W/dtype.safetensors" --clip "$W/clip.npy" --out "$W/out.npy"
expect_error "wrong shape"         "dec.1.gen.conv.bias" "$BIN" "${F[@]}" "$W/shape.safetensors" --clip "$W/clip.npy" --out "$W/out.npy"
expect_error "missing key"         "dec.1.head.bias"    "$BIN" "${F[@]}" "$W/unexpected.safetensors" --clip "$W/clip.npy" --out "$W/out.npy"
expect_error "variant mismatch"    "missing key"        "$BIN" "${F[@]}" "$W/variant.safetensors" --clip "$W/clip.npy" --out "$W/out.npy"
expect_error "missing weights"     "nonexistent"        "$BIN" "${F[@]}" "$W/nonexistent.safetensors" --clip "$W/clip.npy" --out "$W/out.npy"
expect_error "8-frame clip"        "N x 3 x 16"         "$BIN" "${F[@]}" "$W/v.safetensors" --clip "$W/clip8.npy" --out "$W/out.npy"
expect_error "clip is not npy"     "v.safetensors"      "$BIN" "${F[@]}" "$W/v.safetensors" --clip "$W/v.safetensors" --out "$W/out.npy"
expect_error "bad attention"       "linear or quadratic" "$BIN" "${F[@]}" "$W/v.safetensors" --clip "$W/clip.npy" --out "$W/out.npy" --attention cubic
expect_error "bad precision"       "fp32, fp16 or auto" "$BIN" "${F[@]}" "$W/v.safetensors" --clip "$W/clip.npy" --out "$W/out.npy" --precision half
expect_error "bad bench precision" "fp32, fp16 or auto" "$BIN" bench --precision fp32,fp8
expect_error "out is an input"     "refusing"           "$BIN" "${F[@]}" "$W/v.safetensors" --clip "$W/clip.npy" --out "$W/clip.npy"
expect_error "init-weights exists" "exists"             "$BIN" init-weights "$W/v.safetensors"
expect_error "info on bad file"    "F64"                "$BIN" info "$W/dtype.safetensors"
expect_error "tune: bad mode"      "rapid, normal or exhaustive" "$BIN" tune --mode fast
expect_error "tune: bad size"      "multiples of 32"    "$BIN" tune --size 30x40
expect_error "tune: bad class"     "no class"           "$BIN" tune --class conv.nope
expect_error "tune: two outputs"   "exclude each other" "$BIN" tune --out a.json --out-dir b
expect_error "tune: bad precision" "fp32, fp16 or auto" "$BIN" tune --precision half

# the forward that works writes its output
"$BIN" forward --quiet --weights "$W/v.safetensors" --clip "$W/clip.npy" --out "$W/out.npy" && [ -s "$W/out.npy" ] \
  && ok "forward writes its output" || bad "forward on good input"

# --precision fp16 never fails: it runs in fp16, or in fp32 after one note saying why
rm -f "$W/out16.npy"
if "$BIN" forward --precision fp16 --weights "$W/v.safetensors" --clip "$W/clip.npy" --out "$W/out16.npy" \
     2> "$W/stderr" && [ -s "$W/out16.npy" ]; then
  if grep -q "^caspnet: device .*, precision fp16$" "$W/stderr"; then ok "forward --precision fp16 runs in fp16"
  elif grep -q "^caspnet: device .*, precision fp32$" "$W/stderr" && [ "$(grep -c '^caspnet: note: precision fp16' "$W/stderr")" -eq 1 ]; then
    ok "forward --precision fp16 falls back: $(grep '^caspnet: note:' "$W/stderr")"
  else bad "forward --precision fp16: neither fp16 nor one fallback note:"; cat "$W/stderr"; fi
else bad "forward --precision fp16 failed:"; cat "$W/stderr"; fi

finish test_cli_errors
