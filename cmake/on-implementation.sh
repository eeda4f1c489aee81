#!/usr/bin/env bash
# Runs one test on the OpenCL implementation named by CASPNET_DEVICE, or reports it skipped (exit 77, CTest's SKIP_RETURN_CODE) with the reason when no such device is visible.
# Usage (from tests/implementations.cmake): on-implementation.sh CASPNET_BIN COMMAND [ARGS...]
# with CASPNET_DEVICE (a platform/device name substring) and CASPNET_IMPL (its short name) set.
#
# Availability is decided here, when the test runs, not when CMake configures:
# an optional runtime (Intel's, installed by cmake/intel-ocl.sh) may be absent
# because its download failed, and then every test on it says so instead of
# passing silently or failing for a reason that is not the engine's.
set -uo pipefail
BIN=$1
shift
: "${CASPNET_DEVICE:?on-implementation.sh: CASPNET_DEVICE must name the implementation}"
impl=${CASPNET_IMPL:-$CASPNET_DEVICE}
OCL_ENV_QUIET=1 . "$(dirname "$0")/ocl-env.sh"

listing=$(CASPNET_DEVICE= "$BIN" devices 2>&1) || listing="(caspnet devices failed: $listing)"
# The engine matches CASPNET_DEVICE against "platform device"; the listing shows
# each on its own line, so look for it in either.
platforms=$(printf '%s\n' "$listing" | sed -n 's/^platform: //p')
devices=$(printf '%s\n' "$listing" | sed -n 's/^  \[[0-9]*\] //p')
if ! printf '%s\n%s\n' "$platforms" "$devices" | grep -qiF -- "$CASPNET_DEVICE"; then
  echo "SKIPPED: no OpenCL device matching '$CASPNET_DEVICE' ($impl) is visible to the ICD loader"
  echo "  platforms found: $(printf '%s' "$platforms" | paste -sd ',' - | sed 's/,/, /g')"
  echo "  vendors folder: ${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}"
  [ "$impl" = intel ] && echo "  install Intel's OpenCL CPU runtime with: bash cmake/intel-ocl.sh"
  exit 77
fi
exec "$@"
