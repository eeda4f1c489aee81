#!/usr/bin/env bash
# Held-out CC and SIM of fp16 against fp32 on trained weights (issue 14 item 3): predicts a dataset split in both precisions on a device with cl_khr_fp16 and fails when a metric moves by more than 0.005.
# Usage: bash bench/fp16_heldout.sh [--bin CASPNET] [--device D] [--split K|all] [--size HxW] [--tol 0.005] WEIGHTS ROOT DB OUT_DIR
#   WEIGHTS  trained weights (.safetensors)
#   ROOT     a dataset in the STAViS layout (caspnet eval --help), DB its name (e.g. DIEM)
#   OUT_DIR  where the predictions (OUT_DIR/fp32, OUT_DIR/fp16) and the metric JSONs go
# The device defaults to Intel's OpenCL CPU runtime ("Intel(R) OpenCL"), which has
# cl_khr_fp16; a device without it would run both in fp32, which this script refuses.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/caspnet DEV="Intel(R) OpenCL" SPLIT=all TOL=0.005 SIZE=224x384
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --device) DEV=$2; shift 2 ;;
    --split) SPLIT=$2; shift 2 ;;
    --tol) TOL=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fp16_heldout: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 4 ] || { sed -n '3p' "$0" | sed 's/^# //' >&2; exit 2; }
WEIGHTS=$1 ROOT=$2 DB=$3 OUT=$4
[ -f "$WEIGHTS" ] || { echo "fp16_heldout: no weights file '$WEIGHTS'" >&2; exit 2; }
[ -x "$BIN" ] || { echo "fp16_heldout: '$BIN' is not built (cmake --build build)" >&2; exit 2; }
OCL_ENV_QUIET=1 . cmake/ocl-env.sh
mkdir -p "$OUT"
for p in fp32 fp16; do
  echo "== predict, precision $p, device $DEV" >&2
  "$BIN" predict --weights "$WEIGHTS" --out "$OUT/$p" --dataset "$ROOT" --db "$DB" --split "$SPLIT" \
    --size "$SIZE" --device "$DEV" --precision $p 2> >(tee "$OUT/predict-$p.log" >&2)
  if [ $p = fp16 ] && grep -q "note: precision fp16" "$OUT/predict-$p.log"; then
    echo "fp16_heldout: '$DEV' ran fp16 as fp32 (no cl_khr_fp16): nothing to compare" >&2
    exit 1
  fi
  "$BIN" eval --pred "$OUT/$p" --data "$ROOT" --db "$DB" --split "$SPLIT" --json "$OUT/eval-$p.json"
done
/usr/bin/python3 - "$OUT/eval-fp32.json" "$OUT/eval-fp16.json" "$TOL" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
tol = float(sys.argv[3])
def dataset(j):  # the dataset means: "mean" of caspnet eval --json
    d = j["mean"]
    return {k: d[k] for k in ("cc", "sim", "nss", "auc_judd", "sauc") if d.get(k) is not None}
m32, m16 = dataset(a), dataset(b)
bad = 0
for k in m32:
    if k in m16:
        d = abs(m16[k] - m32[k])
        limit = tol if k in ("cc", "sim") else None
        flag = "" if limit is None else ("ok  " if d <= limit else "FAIL")
        bad += flag == "FAIL"
        print(f"{flag:4s} {k:6s} fp32 {m32[k]:.4f}  fp16 {m16[k]:.4f}  |diff| {d:.4f}"
              + (f"  (limit {limit})" if limit is not None else ""))
if "cc" not in m32 or "sim" not in m32:
    sys.exit("fp16_heldout: no CC or SIM in the eval JSON (keys: %s)" % sorted(a))
sys.exit(1 if bad else 0)
PY
