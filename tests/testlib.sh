# Shared preamble of the shell tests (sourced, not run: CTest only globs tests/test_*.sh).
# Sets BIN (the caspnet program, $1) and PY (Debian's python3, where python3-torch lives),
# makes the scratch folder W (removed on exit, read-only parts included), and gives
# ok/bad for checks and finish for the last line and exit status.
BIN=$1
PY=/usr/bin/python3
W=$(mktemp -d)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
# finish NAME: prints the summary line CTest logs and exits 1 if any check failed.
finish() {
  if [ $fail -ne 0 ]; then echo "$1: FAILED"; exit 1; fi
  echo "$1: all passed"
  exit 0
}
# need_torch WHAT: skips the test (exit 77, which CTest reports as skipped) when $PY lacks torch or PIL.
need_torch() {
  "$PY" -c 'import torch, PIL' >/dev/null 2>&1 && return 0
  echo "SKIP: $PY lacks torch or PIL; $1"
  exit 77
}
