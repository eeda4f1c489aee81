# Sourced, not run: makes the OpenCL implementations installed by cmake/intel-ocl.sh visible to the ICD loader (OCL_ICD_VENDORS), next to the system's own.
# Usage: . cmake/ocl-env.sh          (from anywhere; prints what it set unless OCL_ENV_QUIET=1)
#
# Without .deps/intel-ocl/vendors (the set-up not run, or its download failed) it
# changes nothing: the loader then reads /etc/OpenCL/vendors as usual. A vendors
# folder the caller chose already (OCL_ICD_VENDORS set) is respected.
_ocl_env_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ocl_env_vendors=$_ocl_env_root/.deps/intel-ocl/vendors
if [ -n "${OCL_ICD_VENDORS:-}" ]; then
  [ "${OCL_ENV_QUIET:-0}" = 1 ] || echo "ocl-env: OCL_ICD_VENDORS already set to $OCL_ICD_VENDORS; left as it is"
elif [ -f "$_ocl_env_vendors/intel-cpu.icd" ]; then
  export OCL_ICD_VENDORS=$_ocl_env_vendors
  # No LD_LIBRARY_PATH: libintelocl.so finds tbb, svml and its compiler through its
  # RUNPATH ($ORIGIN), and the venv's lib folder also holds Intel's own libOpenCL.so.1,
  # libtbb and libhwloc, which on the library path would replace the system loader
  # and the libraries PoCL and PyTorch were built against.
  [ "${OCL_ENV_QUIET:-0}" = 1 ] || echo "ocl-env: OCL_ICD_VENDORS=$OCL_ICD_VENDORS"
else
  [ "${OCL_ENV_QUIET:-0}" = 1 ] || echo "ocl-env: no $_ocl_env_vendors (run cmake/intel-ocl.sh); using /etc/OpenCL/vendors"
fi
unset _ocl_env_root _ocl_env_vendors
