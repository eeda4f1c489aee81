#!/usr/bin/env bash
# Installs the speed anchors of bench/anchors.py (ONNX Runtime, OpenVINO, NumPy's OpenBLAS, threadpoolctl) from PyPI into .deps/bench-venv, a venv of the project's own.
# Usage: bash bench/setup-anchors.sh [--force]    (idempotent: a second run only checks)
#
# A separate venv, made by Debian's /usr/bin/python3 WITHOUT --system-site-packages: its
# NumPy (2.x, with OpenBLAS) must not shadow Debian's NumPy 1.24, against which Debian's
# torch 1.13 was built. The ONNX export (bench/anchors_export.py) and the PyTorch anchor
# run under /usr/bin/python3 with Debian's torch; the venv only reads the .onnx file and
# the .npy files the export writes. Nothing of the test suite uses this venv.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps
# the physical path: in a git worktree .deps may be a link to the main checkout's
VENV=$(cd .deps && pwd -P)/bench-venv
# Pinned together so that a re-measurement runs the same engines (the newest on PyPI
# when this was written, 2026-12-02; all have cp311 wheels for Debian 12's Python 3.11).
PKGS=(onnxruntime==1.32.0 openvino==2026.4.1 numpy==2.4.6 threadpoolctl==3.8.0)
STAMP=$VENV/installed-$(printf '%s\n' "${PKGS[@]}" | sha256sum | cut -c1-12)

if [ "${1:-}" = --force ]; then
  rm -rf "$VENV"
elif [ $# -gt 0 ]; then
  echo "setup-anchors: unexpected argument '$1' (usage: bash bench/setup-anchors.sh [--force])" >&2
  exit 2
fi
if [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ]; then
  echo "setup-anchors: ${PKGS[*]} already installed in $VENV"
else
  echo "setup-anchors: installing ${PKGS[*]} into $VENV (about 120 MB download)"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input "${PKGS[@]}"
fi
# The check every run: the engines import, and OpenVINO sees the CPU.
"$VENV/bin/python" - <<'EOF'
import numpy, onnxruntime, openvino, threadpoolctl
dev = openvino.Core().available_devices
assert "CPU" in dev, f"OpenVINO sees no CPU device: {dev}"
print(f"setup-anchors: ok: onnxruntime {onnxruntime.__version__}, openvino {openvino.__version__}, "
      f"numpy {numpy.__version__}, threadpoolctl {threadpoolctl.__version__}")
EOF
touch "$STAMP"
