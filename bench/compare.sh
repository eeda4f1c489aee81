#!/bin/sh
# bench/compare.sh: caspnet bench against the PyTorch reference, per layer group.
set -eu

usage() {
    cat <<'EOF'
usage: bench/compare.sh [--caspnet BIN] [--weights W] [--size HxW] [--reps N]
                        [--threads N] [--attention linear|quadratic] [--device D]
                        [--python PY] [--keep DIR]

Runs `caspnet bench --json` (batch 1) and bench/pytorch_baseline.py --json on the
same weights, clip size, attention form and thread count, one after the other,
then prints per layer group: our device time (OpenCL profiling events, median
over the passes), PyTorch's time (forward hooks, median over the passes), the
ratio ours/theirs (below 1: we are faster), our GFLOP and GFLOP/s; then the
seconds per clip (median wall time of the timed passes) of both, their ratio,
and our GFLOP/s against the device's GEMM ceiling that caspnet bench measures.

  --caspnet BIN   the caspnet binary (default: $CASPNET, else build/caspnet of
                  this repository, else caspnet on PATH)
  --weights W     a caspnet .safetensors file for both sides; default: random av
                  weights on both sides (uncalibrated; the timing does not depend
                  on the values)
  --size HxW      clip height x width, multiples of 32 (default 224x384)
  --reps N        timed passes after one warm-up, on both sides (default 5)
  --threads N     PyTorch's threads (default: nproc, i.e. the cores PoCL uses);
                  given explicitly it also sets POCL_MAX_PTHREAD_COUNT (PoCL 3.1's
                  pthread device) and POCL_CPU_MAX_CU_COUNT (newer PoCL) for ours
  --attention A   linear (default) or quadratic
  --device D      caspnet's --device (default: its default device)
  --python PY     the Python with torch (default /usr/bin/python3)
  --keep DIR      write ours.json, pytorch.json and both logs to DIR (default:
                  a temporary directory, removed afterwards)

The environment passes through: e.g. OMP_WAIT_POLICY=passive for PyTorch's
OpenMP threads (much faster than the default spinning on a loaded machine),
POCL_MAX_PTHREAD_COUNT for PoCL.
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${CASPNET:-}
weights=
size=224x384
reps=5
threads=
attention=linear
device=
py=/usr/bin/python3
keep=

need() { [ $# -ge 2 ] || { echo "compare.sh: $1 needs a value (see --help)" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --caspnet) need "$@"; bin=$2; shift 2 ;;
    --weights) need "$@"; weights=$2; shift 2 ;;
    --size) need "$@"; size=$2; shift 2 ;;
    --reps) need "$@"; reps=$2; shift 2 ;;
    --threads) need "$@"; threads=$2; shift 2 ;;
    --attention) need "$@"; attention=$2; shift 2 ;;
    --device) need "$@"; device=$2; shift 2 ;;
    --python) need "$@"; py=$2; shift 2 ;;
    --keep) need "$@"; keep=$2; shift 2 ;;
    *) echo "compare.sh: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [ -z "$bin" ]; then
    if [ -x "$root/build/caspnet" ]; then bin=$root/build/caspnet
    else bin=$(command -v caspnet || true); fi
fi
if [ -z "$bin" ] || ! "$bin" bench --help >/dev/null 2>&1; then
    echo "compare.sh: no caspnet binary with a bench command (give --caspnet BIN)" >&2
    exit 2
fi
if [ -n "$weights" ] && [ ! -r "$weights" ]; then
    echo "compare.sh: cannot read weights '$weights'" >&2
    exit 2
fi
case $reps in '' | *[!0-9]*) echo "compare.sh: --reps must be a positive integer" >&2; exit 2 ;; esac
if [ -n "$threads" ]; then
    case $threads in '' | *[!0-9]*) echo "compare.sh: --threads must be a positive integer" >&2; exit 2 ;; esac
    POCL_MAX_PTHREAD_COUNT=$threads
    POCL_CPU_MAX_CU_COUNT=$threads
    export POCL_MAX_PTHREAD_COUNT POCL_CPU_MAX_CU_COUNT
else
    threads=$(nproc)
fi

if [ -n "$keep" ]; then
    mkdir -p "$keep"
    dir=$keep
else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/caspnet-compare.XXXXXX")
    trap 'rm -rf "$dir"' EXIT INT TERM
fi

rm -f "$dir/ours.json" "$dir/pytorch.json"
set -- bench --size "$size" --reps "$reps" --batches 1 --precision fp32 --attention "$attention" --json "$dir/ours.json"
[ -n "$weights" ] && set -- "$@" --weights "$weights"
[ -n "$device" ] && set -- "$@" --device "$device"
echo "# load before: $(uptime)"
echo "\$ $bin $*"
"$bin" "$@" 2>&1 | tee "$dir/ours.log"
[ -s "$dir/ours.json" ] || { echo "compare.sh: caspnet bench failed" >&2; exit 1; }

set -- "$here/pytorch_baseline.py" --size "$size" --reps "$reps" --threads "$threads" \
    --attention "$attention" --json "$dir/pytorch.json"
if [ -n "$weights" ]; then set -- "$@" --weights "$weights"; else set -- "$@" --random; fi
echo
echo "\$ $py $*"
"$py" "$@" 2>&1 | tee "$dir/pytorch.log"
[ -s "$dir/pytorch.json" ] || { echo "compare.sh: pytorch_baseline.py failed" >&2; exit 1; }
echo "# load after: $(uptime)"

"$py" - "$dir/ours.json" "$dir/pytorch.json" <<'EOF'
import json, sys
ours = json.load(open(sys.argv[1]))["devices"][0]
pt = json.load(open(sys.argv[2]))
og = {g["name"]: g for g in ours["groups"]}
pg = {g["name"]: g["seconds"] for g in pt["groups"]}
if pt.get("other_seconds", 0) > 0:
    pg["(other)"] = pt["other_seconds"]
names = [g["name"] for g in ours["groups"]] + [n for n in pg if n not in og]

def ms(v):
    return f"{v * 1e3:10.1f}" if v is not None else f"{'-':>10}"

def ratio(a, b):
    return f"{a / b:8.2f}" if a is not None and b else f"{'-':>8}"

print()
print(f"16 x {ours['height']} x {ours['width']}, batch 1; ours: {ours['device']}; "
      f"PyTorch {pt['torch_version']} on {pt['device']} ({pt['threads']} threads, "
      f"OMP_WAIT_POLICY {pt.get('omp_wait_policy', '?')}); weights: {pt['weights']}")
print(f"{'layer group':<14} {'ours ms':>10} {'PyTorch ms':>10} {'ours/PT':>8} {'GFLOP':>8} {'GFLOP/s':>8}")
to = tp = fl = 0.0
for n in names:
    a = og[n]["seconds"] if n in og else None
    b = pg.get(n)
    f = og[n].get("gflop", 0.0) if n in og else 0.0
    to += a or 0.0
    tp += b or 0.0
    fl += f
    rate = f"{f / a:8.1f}" if a and f else f"{'-':>8}"
    print(f"{n:<14} {ms(a)} {ms(b)} {ratio(a, b)} {f:8.2f} {rate}")
print(f"{'sum of groups':<14} {ms(to)} {ms(tp)} {ratio(to, tp)} {fl:8.2f} {fl / to:8.1f}")
om, pm = ours["seconds_median"], pt["seconds_median"]
print(f"{'per clip':<14} {ms(om)} {ms(pm)} {ratio(om, pm)}   "
      f"(median wall; min {ours['seconds_min']:.3f} vs {pt['seconds_min']:.3f} s, "
      f"max {ours['seconds_max']:.3f} vs {pt['seconds_max']:.3f} s)")
g = ours.get("gemm_gflops", 0.0)
print(f"ours: {fl:.2f} GFLOP per clip at {fl / om:.1f} GFLOP/s (wall) / {fl / to:.1f} GFLOP/s (device time); "
      f"device GEMM ceiling {g:.1f} GFLOP/s (1024^3) -> {100 * fl / om / g:.0f}% / {100 * fl / to / g:.0f}% of it")
EOF
