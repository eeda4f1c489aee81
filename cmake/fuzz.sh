#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz, runs each for CASPNET_FUZZ_SECONDS on the project's own seeds, and files every crash under tests/fuzz/regressions/<target>/.
# Usage: bash cmake/fuzz.sh [TARGET...]   (targets: safetensors npy wav image; default all)
# Environment: CASPNET_FUZZ_RUNS inputs per target (default: a per-target count that takes about
# 60 s on a 2-core machine; 0 = no count limit); CASPNET_FUZZ_SECONDS time limit per target
# (default 120); CASPNET_FUZZ_SEED (default 1); CASPNET_FUZZ_KEEP_CORPUS=1 to grow the corpus of
# earlier runs instead of starting from the seeds; CASPNET_FUZZ_JOBS targets at a time (default:
# the number of cores); CASPNET_FUZZ_BUILD (default build-fuzz).
# Reproducible by default: a fixed seed, a fixed number of inputs and a fresh corpus make the same
# inputs on every machine (a slower one may stop at the time limit, on a prefix of them), so CI
# cannot turn red on a finding that a run here would not have made. For a search of new ground,
# CASPNET_FUZZ_RUNS=0 CASPNET_FUZZ_SECONDS=600 CASPNET_FUZZ_SEED=<other> bash cmake/fuzz.sh.
# Exit status 1 when any target found a crash, leak, timeout or out-of-memory input: the input
# is then a new file under tests/fuzz/regressions/, which tests/test_fuzz_regressions.c replays
# in the normal test suite; fix the reader, then commit the file with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${CASPNET_FUZZ_SECONDS:-120}
JOBS=${CASPNET_FUZZ_JOBS:-$(nproc)}
B=${CASPNET_FUZZ_BUILD:-build-fuzz}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(safetensors npy wav image)

command -v clang >/dev/null || { echo "fuzz.sh: clang is not installed (bash cmake/install-deps.sh)" >&2; exit 2; }
# Only the library and the fuzz targets: the tests are built and run by check.sh and sanitize.sh.
# Static, so the coverage counters of the readers live in the fuzz program itself.
mkdir -p "$B"
# -ffile-prefix-map: the same binary wherever the checkout lies (paths in __FILE__ move its
# data, and compared addresses steer the mutations)
CC=clang CXX=clang++ CFLAGS="-ffile-prefix-map=$PWD=." CXXFLAGS="-ffile-prefix-map=$PWD=." cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASPNET_FUZZ=ON \
  -DCASPNET_BUILD_TESTS=OFF -DBUILD_SHARED_LIBS=OFF > "$B/configure.log" 2>&1 \
  || { cat "$B/configure.log" >&2; exit 2; }
cmake --build "$B" -j "$(nproc)" --target fuzz > "$B/build.log" 2>&1 \
  || { tail -40 "$B/build.log" >&2; exit 2; }
rm -rf "$B/seeds"
"$B/fuzz_make_corpus" "$B/seeds"

# halt_on_error: UBSan findings are crashes too. The readers never touch OpenCL,
# so none of cmake/sanitize.sh's PoCL settings are needed here.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# libFuzzer's comparison tracing feeds compared values, pointers among them, into its
# mutations: with address randomisation off they are the same on every run.
# Where that is not allowed (some container sandboxes refuse the personality call), the
# comparison guidance is turned off instead, which keeps the runs reproducible.
norand= cmpflag=
if setarch "$(uname -m)" -R true 2>/dev/null; then
  norand="setarch $(uname -m) -R"
else
  cmpflag=-use_cmp=0
  echo "fuzz: address randomisation cannot be turned off here: running with -use_cmp=0"
fi

run_one() {
  local t=$1 exe=$B/fuzz_$1 rc=0
  local work=$B/corpus/$t art=$B/artifacts/$t log=$B/fuzz_$t.log
  rm -rf "$art" # only this run's findings are filed below
  [ "${CASPNET_FUZZ_KEEP_CORPUS:-0}" = 1 ] || rm -rf "$work"
  mkdir -p "$work" "$art"
  # inputs per target measured to take about 60 s each, two targets at a time on this
  # project's 2-core machine (cmake/fuzz.sh prints the rate of each run)
  local runs_default
  case $t in
    safetensors) runs_default=2500000 ;;
    npy) runs_default=3000000 ;;
    image) runs_default=100000 ;;
    wav) runs_default=60000 ;;
    *) runs_default=0 ;;
  esac
  local nruns=${CASPNET_FUZZ_RUNS:-$runs_default}
  [ "$nruns" -gt 0 ] || nruns=-1 # libFuzzer: -1 is no limit
  local dirs=("$work" "$B/seeds/$t")
  # start from every input that ever crashed this reader, so a regression shows at once
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  # -timeout: one input that takes 10 s is a hang; -rss_limit_mb: a small file that makes a
  # reader allocate gigabytes is a bug (the OOM input is kept like a crash).
  # -seed, -runs and the fresh corpus: the same inputs on every run, so CI does not turn red at random
  local t0=$SECONDS
  # env -i: the environment's size moves the stack, and stack addresses are compared too
  env -i PATH=/usr/bin:/bin ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
    $norand "$exe" $cmpflag -runs="$nruns" -max_total_time="$SECS" -seed="${CASPNET_FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -reload=0 \
    -print_final_stats=1 -artifact_prefix="$art/" "${dirs[@]}" > "$log" 2>&1 || rc=$?
  local runs; runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  local cov; cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  echo "fuzz $t: exit $rc, ${runs:-?} runs (limit ${nruns/#-1/none}) in $((SECONDS - t0)) s (limit ${SECS} s), ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) files"
  return $rc
}

skipped=()
pids=()
names=()
for t in "${TARGETS[@]}"; do
  if [ ! -x "$B/fuzz_$t" ]; then
    skipped+=("$t") # fuzz.cmake leaves out a target whose header is not there yet
    continue
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
  run_one "$t" &
  pids+=($!)
  names+=("$t")
done
for p in "${pids[@]}"; do wait "$p" || true; done
[ ${#skipped[@]} -eq 0 ] || echo "fuzz: no target for: ${skipped[*]}"

# Every artifact becomes a regression input (named by libFuzzer: kind and SHA-1).
found=0
for t in "${names[@]}"; do
  for f in "$B/artifacts/$t"/crash-* "$B/artifacts/$t"/leak-* "$B/artifacts/$t"/timeout-* \
           "$B/artifacts/$t"/oom-*; do
    [ -e "$f" ] || continue
    found=1
    # an input already filed (the run starts from them) is reported, not copied again
    sum=$(sha1sum < "$f" | cut -d' ' -f1)
    if [ -d "tests/fuzz/regressions/$t" ] && \
       sha1sum "tests/fuzz/regressions/$t"/* 2>/dev/null | grep -q "^$sum "; then
      echo "STILL $t: an input already in tests/fuzz/regressions/$t fails (log: $B/fuzz_$t.log)"
      continue
    fi
    mkdir -p "tests/fuzz/regressions/$t"
    cp "$f" "tests/fuzz/regressions/$t/"
    echo "FOUND $t: tests/fuzz/regressions/$t/$(basename "$f")  (log: $B/fuzz_$t.log)"
    grep -m1 -E "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz: " \
      "$B/fuzz_$t.log" | sed 's/^/      /' || true
  done
done
if [ $found -ne 0 ]; then
  echo "fuzz: failing inputs (see above); new ones are filed under tests/fuzz/regressions/" >&2
  exit 1
fi
echo "fuzz: no crash in ${#names[@]} target(s)"
