#!/usr/bin/env bash
# Self-test of the PyTorch reference itself: CPC adjoint against autograd, keys against the spec, safetensors round trips, both variants and attention modes.
# Usage (from CTest): test_reference.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -euo pipefail
SRC=$2
. "$(dirname "$0")/testlib.sh"
for t in test_cpc_autograd selftest; do
  $PY "$SRC/tests/torch_reference/$t.py" && ok "$t.py" || bad "$t.py"
done
finish test_reference
