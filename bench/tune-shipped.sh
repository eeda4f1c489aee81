#!/bin/bash
# Re-measures the shipped tuning database: `caspnet tune --mode normal` on every OpenCL device (or those given), one cl/tuning/<device>.json each; then rebuild and commit them.
# Usage: bash bench/tune-shipped.sh [BUILD_DIR] [DEVICE...]   (BUILD_DIR default: build; devices: indices or names as --device takes)
# NOTES="..." overrides the note stored in each file (default: the date and the load average before the run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
shift || true
bin=$build/caspnet
[ -x "$bin" ] || { echo "tune-shipped: no $bin (build first: cmake --build $build)" >&2; exit 2; }
[ -f "$root/cmake/ocl-env.sh" ] && . "$root/cmake/ocl-env.sh" >/dev/null
# a scratch cache: neither the user's tuning file nor old program binaries take part
export CASPNET_CACHE_DIR=$(mktemp -d)
trap 'rm -rf "$CASPNET_CACHE_DIR"' EXIT
devices=("$@")
if [ ${#devices[@]} -eq 0 ]; then
  n=$("$bin" devices | grep -c '^  \[') || true
  for ((i = 0; i < n; i++)); do devices+=("$i"); done
fi
cd "$root"   # the files record the command as run: a relative --out-dir
for d in "${devices[@]}"; do
  note=${NOTES:-"caspnet tune --mode normal, $(date -u '+%Y-%m-%d %H:%M UTC'), load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"}
  "$bin" tune --device "$d" --mode normal --out-dir cl/tuning --notes "$note"
done
echo "tune-shipped: rebuild ($build) to embed cl/tuning/, then commit cl/tuning/*.json"
