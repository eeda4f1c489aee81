#!/usr/bin/env bash
# Runs the op test cases of every kernel family under Oclgrind, a simulated device with GPU-like limits (work-group 256, local memory 48 KiB) that checks each work-item for out-of-bounds access, data races and API misuse; any Oclgrind message fails the stage.
# Usage: bash cmake/oclgrind.sh [BUILD_DIR]     (default build/; needs BUILD_DIR/tests/test_ops)
#
# The families are the ones `test_ops --list` names, so a family or case added
# later is checked without editing this file. Cases on shapes too large for a
# simulator (minutes each) are left out by the patterns in SKIP below; each
# family keeps its small cases, which run the same kernels, tunings and ragged
# edges. CLBlast's cases are left out (and CASPNET_GEMM=own): its kernels are
# not this project's.
# --uninitialized is not used: in Oclgrind 21.10 it aborts on LLVM's freeze
# instruction (seen on resize_bilinear), a limitation of the tool.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
OPS=$B/tests/test_ops
FLAGS=(--max-wgsize 256 --local-mem-size 49152 --data-races --check-api)
# Case names (test_ops --list, "family/case") matching this extended regex are not run.
# The conv3d cases that take a minute each in the simulator run with the default
# tuning only; the other tunings get the small cases, which reach the same
# ragged edges. Half storage: every conv3d case all-half under both tunings
# but those three (which take 15-37 s each in half as well), and the mixed
# storages (float input or output; the same index arithmetic, 3 min in all)
# only on the native implementations. The stem's (1x7x7 s(1,2,2)) other
# tunings likewise (13 s each here; the im2col variant's 23 s): its default
# and tiled cases run. The transposed convs' [im2col; half] cases run the
# direct half kernel (im2col takes float weights only), as [half] does.
SKIP='clblast|model width|VGGish|S3D layer|65536 columns|ASPP 16x112x96|(all fused|1x7x7[^[]*|wide rows) \[(-D|default tuning; half)|; half [wx]|\[im2col; half\]'
PER_INVOCATION_LIMIT=600   # seconds; a hung simulation fails the stage instead of CI

command -v oclgrind >/dev/null || { echo "oclgrind: not installed (bash cmake/install-deps.sh)" >&2; exit 2; }
[ -x "$OPS" ] || { echo "oclgrind: $OPS not built (cmake --build $B)" >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
start=$(date +%s)

# check LOG WHAT: an empty Oclgrind log is a pass; anything in it is an error report.
check() {
  if [ -s "$1" ]; then
    echo "FAIL $2: Oclgrind reported $(grep -cE 'Invalid|data race|error|Error' "$1") problem line(s):"
    head -60 "$1" | sed 's/^/  | /'
    fail=1
    return 1
  fi
  return 0
}

# First, that this Oclgrind reports what the stage relies on: a kernel writing
# past its buffer and a read-write race, each must leave a message in the log.
cat > "$W/k.cl" <<'CL'
kernel void past_end(global float *x) { x[get_global_id(0) + 1] = 1.0f; }
kernel void race(global float *x) { x[get_global_id(0)] = x[(get_global_id(0) + 1) % 4]; }
CL
for k in past_end race; do
  printf '%s\n%s\n4 1 1\n4 1 1\n<size=16 fill=1>\n' "$W/k.cl" "$k" > "$W/$k.sim"
  oclgrind-kernel --log "$W/$k.log" --data-races "$W/$k.sim" > /dev/null 2>&1
  if [ -s "$W/$k.log" ]; then echo "ok   self-check: Oclgrind reports the faulty kernel '$k'"
  else echo "FAIL self-check: Oclgrind reported nothing for the faulty kernel '$k'"; fail=1; fi
done

"$OPS" --list > "$W/cases" || { echo "FAIL: $OPS --list"; exit 1; }
families=$(cut -d/ -f1 "$W/cases" | uniq)
# a fresh program cache per family (run_family): every program is built by Oclgrind's compiler
# The own GEMM kernels throughout: the AUTO choice would time CLBlast against
# them on every context, minutes in a simulator, for kernels that are not ours.
export CASPNET_GEMM=own
# run_family FAM: every kept case of one family; prints its report, exits 1 on any failure.
run_family() {
  local fam=$1 fail=0 all big run c b keep skipped t0 i chunk log rc note
  mapfile -t all < <(grep "^$fam/" "$W/cases")
  mapfile -t big < <(printf '%s\n' "${all[@]}" | grep -E "$SKIP")
  # The runner selects by substring, so a case whose name is part of a skipped
  # one's ("scale 1/L" of "model width, scale 1/L") would bring that one back.
  run=()
  while IFS= read -r c; do
    keep=1
    for b in "${big[@]}"; do [[ ${b#*/} == *"${c#*/}"* ]] && keep=0; done
    [ $keep -eq 1 ] && run+=("$c")
  done < <(printf '%s\n' "${all[@]}" | grep -Ev "$SKIP")
  skipped=$(( ${#all[@]} - ${#run[@]} ))
  if [ ${#run[@]} -eq 0 ]; then
    echo "FAIL $fam: every case is skipped; the family would go unchecked"
    return 1
  fi
  t0=$(date +%s)
  # the runner takes at most 16 FAMILY/SUBSTRING selections at a time
  for ((i = 0; i < ${#run[@]}; i += 16)); do
    chunk=("${run[@]:i:16}")
    log=$W/$fam-$i.log
    # each family its own program cache: families run side by side
    CASPNET_CACHE_DIR=$W/cache-$fam timeout "$PER_INVOCATION_LIMIT" \
      oclgrind --log "$log" "${FLAGS[@]}" "$OPS" "${chunk[@]}" > "$W/$fam-$i.out" 2>&1
    rc=$?
    grep -E '^(ok|FAIL) ' "$W/$fam-$i.out" | sed 's/^/  /'
    if [ $rc -ne 0 ]; then
      echo "FAIL $fam: test_ops exited $rc under Oclgrind$([ $rc -eq 124 ] && echo " (over ${PER_INVOCATION_LIMIT} s)")"
      grep -E '^FAIL|error' "$W/$fam-$i.out" | head -20 | sed 's/^/  | /'
      tail -5 "$W/$fam-$i.out" | sed 's/^/  | /'
      fail=1
    fi
    check "$log" "$fam" || { echo "  in one of these cases (run one alone: oclgrind ... $OPS 'FAMILY/CASE'):";
                             printf '    %s\n' "${chunk[@]}"; fail=1; }
  done
  note=""
  [ $skipped -gt 0 ] && note=" ($skipped left out: $SKIP)"
  echo "done $fam: ${#run[@]} case(s) in $(( $(date +%s) - t0 )) s$note"
  return $fail
}

# The simulator runs a program on about one core, so the families run
# side by side, one per core (CASPNET_OCLGRIND_JOBS overrides); each report is
# printed whole, in the order the families finish.
jobs_max=${CASPNET_OCLGRIND_JOBS:-$(nproc)}
running=0
for fam in $families; do
  if [ $running -ge "$jobs_max" ]; then
    wait -n || fail=1
    running=$((running - 1))
  fi
  ( run_family "$fam" > "$W/report-$fam" 2>&1; rc=$?; cat "$W/report-$fam"; exit $rc ) &
  running=$((running + 1))
done
while [ $running -gt 0 ]; do
  wait -n || fail=1
  running=$((running - 1))
done

echo "oclgrind: $(( $(date +%s) - start )) s in all"
if [ $fail -ne 0 ]; then echo "oclgrind: FAILED"; exit 1; fi
echo "oclgrind: every family clean (max work-group 256, local memory 48 KiB, data races, API checks)"
