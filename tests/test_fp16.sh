#!/usr/bin/env bash
# Half precision end to end: the engine in fp16 against the float64 PyTorch reference on the parity weights (every tap, the map), on a device with cl_khr_fp16, and the fp32 fallback where a device has none.
# Usage (from CTest): test_fp16.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
#
# Reuses the fixture test_parity_reference (BUILD_DIR/parity-ref/: inputs,
# weights, the float64 reference's taps). The fp16 device is the first one
# whose "platform device" name contains $CASPNET_FP16_DEVICE (default Intel's
# CPU runtime, "Intel(R) OpenCL", as tests/implementations.cmake pins it) and
# that reports cl_khr_fp16; with none the fp16 part is skipped (exit 77, the
# reason printed) after the fallback check has run.
#
# Bounds. In fp16 every feature map and weight is stored as half (unit
# roundoff u16 = 2^-11 = 4.9e-4) and every sum stays float. The parity
# weights are random and calibrated (spec section 9), and such a network
# amplifies any rounding error ~1000-fold by its last stage: fp32's own
# errors against float64 are up to ~4700 u32 at 224 x 384 (README,
# "Exactness"). fp16 is judged two ways:
#  1. Against fp32 on the same device and tap: the same network amplifies
#     either precision's roundoff alike, so fp16's error may not exceed
#     u16/u32 = 8192 times fp32's (plus one half rounding of the tap's scale).
#     Measured 580-1760 on Intel's CPU runtime (2026-12-02): well inside, and
#     a kernel that mishandled half storage (a wrong element, a value
#     truncated instead of rounded, a sum kept in half) would break it at the
#     first tap it touched, where fp32's errors are ~1e-6 relative.
#  2. Absolutely: every tap within FP16_TAP_RTOL of its largest magnitude and
#     the map within FP16_SAL_ATOL (64 x 96; FP16_BIG_* at 224 x 384), about
#     2.5x the worst measured (tap 0.10 and map 0.066 at 64 x 96; tap 0.24 and
#     map 0.18 at 224 x 384). This is half precision's floor on these weights,
#     not a kernel's error: keeping either the weights or the activations
#     float alone (measured) only takes the 64 x 96 map error from 0.058 to
#     0.04. Trained weights are judged by held-out CC and SIM instead
#     (bench/fp16_heldout.sh, README "Half precision").
# The float32 parity bounds (1e-3 per tap, 1e-4 at the map) stay as they are
# for fp32 (tests/test_parity.sh): this test never loosens them.
set -euo pipefail
SRC=$2 BUILD=${3:-}
. "$(dirname "$0")/testlib.sh"
R=$BUILD/parity-ref
# every tap within this fraction of its largest magnitude, the map within this
# absolute error: at 64 x 96 and at 224 x 384 (see "Bounds" above)
FP16_TAP_RTOL=${FP16_TAP_RTOL:-0.25} FP16_SAL_ATOL=${FP16_SAL_ATOL:-0.17}
FP16_BIG_TAP_RTOL=${FP16_BIG_TAP_RTOL:-0.6} FP16_BIG_SAL_ATOL=${FP16_BIG_SAL_ATOL:-0.45}
if [ -z "$BUILD" ] || [ ! -f "$R/complete" ]; then
  echo "test_fp16: no complete reference in '$R'; it is made by the test_parity_reference fixture"
  echo "  (ctest -R test_fp16 runs it first; by hand: bash tests/test_parity_reference.sh CASPNET SRC BUILD)"
  exit 1
fi
OCL_ENV_QUIET=1 . "$SRC/cmake/ocl-env.sh"
run() { echo "+ $*"; "$@" || { echo "FAILED: $*"; fail=1; }; }

# "platform device<TAB>yes|no" for every device (the fp16 column of caspnet devices)
CASPNET_DEVICE= "$BIN" devices | awk '
  /^platform: / { p = substr($0, 11); next }
  /^  \[[0-9]+\] / { sub(/^  \[[0-9]+\] /, ""); d = $0; next }
  /fp16 (yes|no)/ { match($0, /fp16 (yes|no)/); print p " " d "\t" substr($0, RSTART + 5, RLENGTH - 5) }
' > "$W/devices"
echo "devices (fp16):"; sed 's/^/  /' "$W/devices"

# --- the fallback: a device without cl_khr_fp16 runs fp32, bit for bit, after one note
nofp16=$(awk -F'\t' '$2 == "no" { print $1; exit }' "$W/devices")
if [ -n "$nofp16" ]; then
  dev=$nofp16  # CASPNET_DEVICE matches a substring of "platform device"
  for p in fp32 fp16; do
    run env CASPNET_DEVICE="$dev" "$BIN" forward --weights "$R/av.safetensors" --clip "$R/clip.npy" \
      --logmel "$R/mel.npy" --out "$W/fb-$p.npy" --precision $p 2> "$W/fb-$p.err"
  done
  if cmp -s "$W/fb-fp32.npy" "$W/fb-fp16.npy"; then ok "fallback on '$dev': --precision fp16 gives the fp32 map bit for bit"
  else bad "fallback on '$dev': --precision fp16 and fp32 maps differ"; fi
  notes=$(grep -c "note: precision fp16: .*has no cl_khr_fp16; running in fp32" "$W/fb-fp16.err" || true)
  if [ "$notes" = 1 ]; then ok "fallback: one note ($(grep 'note: precision' "$W/fb-fp16.err"))"
  else bad "fallback: $notes notes about fp16 (want 1); stderr:"; sed 's/^/  | /' "$W/fb-fp16.err"; fi
  if grep -q "note: precision" "$W/fb-fp32.err"; then bad "fallback: fp32 printed a precision note"; fi
else
  echo "every device here has cl_khr_fp16: no fallback to check"
fi

# --- fp16 on a device that has it
want=${CASPNET_FP16_DEVICE:-Intel(R) OpenCL}
dev=$(awk -F'\t' -v w="$want" 'index(tolower($1), tolower(w)) && $2 == "yes" { print $1; exit }' "$W/devices")
if [ -z "$dev" ]; then
  [ $fail -ne 0 ] && finish test_fp16
  echo "SKIPPED: no OpenCL device matching '$want' with cl_khr_fp16 is visible (devices above);"
  echo "  Intel's OpenCL CPU runtime has it: bash cmake/intel-ocl.sh"
  exit 77
fi
echo "fp16 device: $dev"
ours() { CASPNET_DEVICE="$dev" "$BIN" forward --quiet "$@"; }
for tag in av-linear av-quadratic v-linear big; do
  variant=${tag%%-*} mode=${tag#*-}
  args=(--weights "$R/$variant.safetensors" --clip "$R/clip.npy" --attention "$mode")
  [ $variant = av ] && args+=(--logmel "$R/mel.npy")
  [ $tag = big ] && args=(--weights "$R/big.safetensors" --clip "$R/big.npy" --logmel "$R/bigmel.npy")
  for p in fp32 fp16; do
    run ours "${args[@]}" --precision $p --out "$W/$tag-$p.npy" --dump-dir "$W/$tag-$p" 2> "$W/$tag-$p.err"
    if grep -q "note: precision" "$W/$tag-$p.err"; then bad "$tag: $p fell back on '$dev'"; fi
  done
done
run $PY - "$W" "$R" "$dev" "$FP16_TAP_RTOL" "$FP16_SAL_ATOL" "$FP16_BIG_TAP_RTOL" "$FP16_BIG_SAL_ATOL" <<'PY'
import sys, numpy as np
w, r, dev = sys.argv[1:4]
bounds = {"64x96": (float(sys.argv[4]), float(sys.argv[5])),
          "224x384": (float(sys.argv[6]), float(sys.argv[7]))}
RATIO = 2.0 ** 13  # half's unit roundoff over float's: 2^-11 / 2^-24
TAPS = ["X1", "X2", "X3", "X4", "fA", "V1", "V2", "V3", "V4", "F1", "F2", "F3", "F4", "F4p", "sal"]
bad, worst = 0, {}
for tag in ("av-linear", "av-quadratic", "v-linear", "big"):
    for name in TAPS:
        try:
            ref = np.load(f"{r}/ref-{tag}/{name}.npy").astype(np.float64)
        except FileNotFoundError:
            continue
        e = {}
        for p in ("fp32", "fp16"):
            ours = np.load(f"{w}/{tag}-{p}/{name}.npy").astype(np.float64)
            assert ours.shape == ref.shape, (tag, name, p, ours.shape, ref.shape)
            e[p] = float(np.abs(ours - ref).max()) if np.isfinite(ours).all() else float("inf")
        scale = max(float(np.abs(ref).max()), 1e-12)
        rel16 = e["fp16"] / scale
        # the same network amplifies either precision's roundoff alike: fp16's
        # error may not exceed fp32's times the ratio of their unit roundoffs
        # (plus a floor of one half rounding of the tap's scale, for taps where
        # fp32 happens to land very close)
        ratio_ok = e["fp16"] <= RATIO * e["fp32"] + 2.0 ** -11 * scale
        size = "224x384" if tag == "big" else "64x96"
        tap_rtol, sal_atol = bounds[size]
        if name == "sal":
            ok, what = ratio_ok and e["fp16"] <= sal_atol, f"abs {e['fp16']:.3e} (bound {sal_atol:g})"
        else:
            ok, what = ratio_ok and rel16 <= tap_rtol, f"rel {rel16:.3e} (bound {tap_rtol:g})"
        print(f"{'ok  ' if ok else 'FAIL'} fp16-{tag:12s} {name:4s} {what}; fp16/fp32 error "
              f"{e['fp16'] / max(e['fp32'], 1e-30):8.1f} (bound {RATIO:g})")
        bad += not ok
        kind, err = ("map abs", e["fp16"]) if name == "sal" else ("tap rel", rel16)
        if (size, kind) not in worst or err > worst[(size, kind)][0]:
            worst[(size, kind)] = (err, f"{tag} {name}")
print(f"fp16 on {dev}: worst errors against the float64 reference")
for k in sorted(worst):
    print(f"  {k[0]:8s} {k[1]}  {worst[k][0]:.3e}  ({worst[k][1]})")
sys.exit(1 if bad else 0)
PY
finish test_fp16
