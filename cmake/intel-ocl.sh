#!/usr/bin/env bash
# Installs Intel's OpenCL CPU runtime from PyPI into .deps/intel-ocl/ (a venv of the project's own) and writes a vendors folder for the ICD loader; cmake/ocl-env.sh points the loader at it.
# Usage: bash cmake/intel-ocl.sh    (idempotent: a second run only rewrites the vendors folder)
#
# The system Python and /etc are left alone: the runtime lives in a venv made by
# Debian's /usr/bin/python3, and the loader (ocl-icd) is told about it through
# OCL_ICD_VENDORS, a folder holding a copy of every system .icd file (PoCL, any
# GPU driver) plus intel-cpu.icd naming libintelocl.so by absolute path (not intel.icd,
# the name of Intel's GPU driver's file). libintelocl.so finds tbb, svml and its
# compiler through its own RUNPATH ($ORIGIN), so nothing goes on LD_LIBRARY_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEPS=$ROOT/.deps/intel-ocl
VENV=$DEPS/venv
# Pinned together: the runtime's own requirements (tbb 2023.*, tcmlib 1.*, the
# licence package) are resolved by pip at these versions.
VERSION=2026.2.0
PKGS=(intel-opencl-rt==$VERSION intel-cmplr-lib-rt==$VERSION)
STAMP=$DEPS/installed-$VERSION

if [ -f "$STAMP" ] && [ -f "$VENV/lib/libintelocl.so" ]; then
  echo "intel-ocl: Intel OpenCL CPU runtime $VERSION already installed in $DEPS"
else
  echo "intel-ocl: installing Intel OpenCL CPU runtime $VERSION into $DEPS (about 270 MB download)"
  rm -rf "$VENV" "$DEPS"/installed-*
  mkdir -p "$DEPS"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input "${PKGS[@]}"
  [ -f "$VENV/lib/libintelocl.so" ] || { echo "intel-ocl: $VENV/lib/libintelocl.so missing after install" >&2; exit 1; }
  touch "$STAMP"
fi

# The vendors folder is rebuilt each time (a new system driver then shows up too),
# in a fresh folder renamed into place so that a test reading it never sees it half written.
tmp=$(mktemp -d "$DEPS/vendors.XXXXXX")
for f in /etc/OpenCL/vendors/*.icd; do
  [ -e "$f" ] && cp "$f" "$tmp/"
done
echo "$VENV/lib/libintelocl.so" > "$tmp/intel-cpu.icd"
chmod 755 "$tmp"
rm -rf "$DEPS/vendors.old"
[ -d "$DEPS/vendors" ] && mv "$DEPS/vendors" "$DEPS/vendors.old"
mv "$tmp" "$DEPS/vendors"
rm -rf "$DEPS/vendors.old"
echo "intel-ocl: ICD files in $DEPS/vendors: $(cd "$DEPS/vendors" && echo *.icd)"
