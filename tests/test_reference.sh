#!/usr/bin/env bash
# Self-test of the PyTorch reference itself: CPC adjoint against autograd, keys against the spec, safetensors round trips, both variants and attention modes.
# Usage (from CTest): test_reference.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -euo pipefail
SRC=$2
PY=/usr/bin/python3   # Debian's python3-torch lives here, not in the pyenv python3
$PY "$SRC/tests/torch_reference/test_cpc_autograd.py"
$PY "$SRC/tests/torch_reference/selftest.py"
