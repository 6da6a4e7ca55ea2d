#!/usr/bin/env bash
# The exported symbols of the shared libraries against the lists committed in tests/abi/, so
# that an accidental ABI change fails the build. The C API (syncbridge_*) is the stable ABI
# (README: "What is stable"); the C++ symbols are listed too, demangled, so a change to them is
# seen and made on purpose.
#
# Usage: check-abi.sh <build-dir> [--update]
#   --update rewrites the lists from the build (review the diff before committing it).
# Exit status: 0 when every library matches its list, 1 otherwise (the diff is printed), 77
# when the build has no shared libraries (BUILD_SHARED_LIBS=OFF).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly lists=$script_dir/../tests/abi

build=${1:?usage: check-abi.sh <build-dir> [--update]}
update=0
[[ ${2:-} == --update ]] && update=1

# Defined dynamic symbols with their version, demangled, sorted: one per line.
exported() {
  nm --dynamic --defined-only --demangle --with-symbol-versions "$1" \
    | awk '{ $1 = ""; sub(/^ /, ""); print }' | LC_ALL=C sort -u
}

status=0
found=0
for name in syncbridge-core syncbridge-bridge; do
  lib=$(find "$build" -name "lib$name.so.*" -type f 2>/dev/null | sort | head -n 1)
  [[ -n $lib ]] || continue
  found=1
  list=$lists/lib$name.symbols
  if ((update)); then
    exported "$lib" >"$list"
    echo "check-abi.sh: wrote $list ($(wc -l <"$list") symbols)"
    continue
  fi
  if ! diff -u "$list" <(exported "$lib") >/tmp/check-abi.$$.diff 2>&1; then
    echo "check-abi.sh: the exported symbols of $lib differ from $list (+ new, - gone):" >&2
    cat /tmp/check-abi.$$.diff >&2
    echo "check-abi.sh: if the change is intended, run: scripts/check-abi.sh $build --update" >&2
    status=1
  fi
  rm -f /tmp/check-abi.$$.diff
  # Nothing but the public API: no standard-library or internal symbols.
  if leaks=$(exported "$lib" | grep -E '^[A-Za-z] (std::|__gnu_cxx::)'); then
    echo "check-abi.sh: $lib exports symbols outside the public API:" >&2
    echo "$leaks" >&2
    status=1
  fi
done
if ((!found)); then
  echo "check-abi.sh: SKIP: no shared libsyncbridge in $build (built with BUILD_SHARED_LIBS=OFF?)" >&2
  exit 77
fi
exit "$status"
