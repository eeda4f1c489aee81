#!/usr/bin/env bash
# The two shared libraries' dynamic symbol tables and dependencies: only cn_ symbols exported, and the engine linking OpenCL, CLBlast and cJSON only (issue 10: what an embedded user links).
# Usage (from CTest): test_exports.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
source "$2/tests/testlib.sh"
B=$3
# a sanitizer build links the sanitizer runtimes into both libraries: neither their
# dependencies nor their symbol tables are what a user links (cmake/sanitize.sh runs this)
if grep -q '^CASPNET_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null; then
  echo "note: sanitizer build, test_exports skipped"
  exit 77
fi

for lib in libcaspnet.so libcaspnet_io.so; do
  f=$B/$lib
  if [ ! -e "$f" ]; then
    # a static build (BUILD_SHARED_LIBS=OFF) has no dynamic symbol table to check
    echo "note: $f absent (static build), test_exports skipped"
    exit 77
  fi
  nm -D --defined-only "$f" | awk '{print $NF}' | sort -u > "$W/$lib.syms"
  n=$(wc -l < "$W/$lib.syms")
  other=$(grep -v '^cn_' "$W/$lib.syms" | grep -v '^_\(init\|fini\)$' | head -5 | tr '\n' ' ')
  if [ "$n" -gt 10 ] && [ -z "$other" ]; then ok "$lib exports $n symbols, all cn_"
  else bad "$lib exports $n symbols; not cn_: ${other:-none}"; fi
done

# the engine's own dependencies (NEEDED entries), not the loader's transitive ones
readelf -d "$B/libcaspnet.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort > "$W/needed"
extra=$(grep -v -E '^(libOpenCL|libclblast|libcjson|libm|libc|libpthread|ld-linux[-a-z0-9_]*)\.so' "$W/needed" | tr '\n' ' ')
if [ -z "$extra" ]; then ok "libcaspnet needs only: $(tr '\n' ' ' < "$W/needed")"
else bad "libcaspnet needs more than OpenCL, CLBlast, cJSON: $extra"; fi
for dep in libOpenCL libclblast libcjson; do
  grep -q "^$dep" "$W/needed" && ok "libcaspnet links $dep" || bad "libcaspnet does not link $dep"
done

# the unprefixed internals really are gone from the table (they were exported before)
for sym in model_s3d unit_conv calib_moments; do
  nm -D "$B/libcaspnet.so" | grep -qw "$sym" && bad "$sym exported" || ok "$sym hidden"
done

# the installed pkg-config files name both libraries and the engine's deps only
d=$(mktemp -d -p "$W")
cmake --install "$B" --prefix "$d" > "$W/install.log" 2>&1 || bad "cmake --install failed: $(tail -3 "$W/install.log")"
pc=$(find "$d" -name caspnet.pc | head -1)
pcio=$(find "$d" -name caspnet-io.pc | head -1)
if [ -n "$pc" ] && [ -n "$pcio" ]; then
  export PKG_CONFIG_PATH=$(dirname "$pc")
  libs=$(pkg-config --libs caspnet-io 2>&1)
  case "$libs" in *-lcaspnet_io*-lcaspnet*) ok "pkg-config caspnet-io: $libs";; *) bad "pkg-config caspnet-io: $libs";; esac
  priv=$(pkg-config --print-requires-private caspnet | tr '\n' ' ')
  case "$priv" in *sndfile*|*matio*|*samplerate*) bad "caspnet.pc requires I/O libraries: $priv";; *) ok "caspnet.pc private requires: $priv";; esac
  # a program built against the installed engine alone
  printf '#include <caspnet.h>\nint main(void){cn_engine_opts o={0}; (void)o; return cn_status_name(CN_OK)[0] == 0;}\n' > "$W/u.c"
  if cc "$W/u.c" -o "$W/u" $(pkg-config --cflags --libs caspnet) 2> "$W/cc.log"; then
    LD_LIBRARY_PATH=$(dirname "$(find "$d" -name 'libcaspnet.so' | head -1)") "$W/u" \
      && ok "a program links and runs against the installed engine alone" || bad "installed program failed"
  else bad "compiling against the installed headers: $(head -3 "$W/cc.log")"; fi
else
  bad "pkg-config files not installed (caspnet.pc: ${pc:-none}, caspnet-io.pc: ${pcio:-none})"
fi
finish test_exports
