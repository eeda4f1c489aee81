#!/usr/bin/env bash
# Installs every build, test and run-time dependency of casp-net-opencl from Debian packages.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo   # OpenCL loader, headers, CPU device
  libclblast-dev libkissfft-dev libstb-dev libcjson-dev       # engine libraries
  libsndfile1-dev libsamplerate0-dev libmatio-dev ffmpeg      # audio, datasets, video
  python3-numpy python3-torch                                 # the PyTorch reference (tests, bench)
  python3-pil                                                 # images in weights/ (train.py, knockdata.py) and tests/sample_attention.py
  libopenblas0-pthread   # becomes libblas.so.3 (Debian's alternatives): the float64 reference's
                         # products 3-5x faster than the netlib BLAS torch and numpy link by default
  clang libclang-rt-14-dev                                    # libFuzzer and sanitizer runtimes (cmake/fuzz.sh)
  oclgrind                                                    # simulated device with GPU limits (cmake/oclgrind.sh)
  python3-venv                                                # the venv Intel's OpenCL CPU runtime goes in (cmake/intel-ocl.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
