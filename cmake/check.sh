#!/usr/bin/env bash
# Installs dependencies, builds in build/ and runs the whole test suite with CTest, then the sanitizer and fuzzing stages (what .ci/run runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/install-deps.sh
# Intel's OpenCL CPU runtime (PyPI, into .deps/), the second implementation the suite runs on;
# if it cannot be installed the *_intel tests report themselves skipped, with the reason
bash cmake/intel-ocl.sh || echo "check: WARNING: Intel's OpenCL CPU runtime not installed; the *_intel tests will be skipped" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCASPNET_WERROR=ON
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j 2 --timeout 1500 "$@"
# The unit tests and short CLI tests again under AddressSanitizer + UBSan, leaks checked
bash cmake/sanitize.sh
# libFuzzer on the safetensors, .npy, WAV and image readers, about 60 s each, two at a time
# (a fixed seed and input count: the same inputs as on a developer's machine)
bash cmake/fuzz.sh
# Every op kernel family under Oclgrind, a simulated device with GPU-like limits
# (work-group 256, local memory 48 KiB), with data-race and API checks
bash cmake/oclgrind.sh build
# the worst parity errors on each OpenCL implementation, as test_parity recorded them
cat build/parity-*.txt 2>/dev/null || true
