#!/usr/bin/env bash
# Installs dependencies, builds in build/ and runs the whole test suite with CTest (what .ci/run runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCASPNET_WERROR=ON
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j 2 --timeout 1500 "$@"
