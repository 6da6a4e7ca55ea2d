#!/usr/bin/env bash
# Sourced by the scripts: where cached kernels and build trees live (outside the clone, so a
# fresh clone reuses them), and a configure+build helper. No set -euo pipefail here: sourcing
# must not change the caller's options (every caller sets them itself).
SYNCBRIDGE_SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SYNCBRIDGE_CACHE_DIR=${SYNCBRIDGE_CACHE_DIR:-/var/cache/syncbridge}
# Build trees are keyed by the source path: CMake refuses a cache made for another source dir.
_sb_key=$(printf '%s' "$SYNCBRIDGE_SOURCE_DIR" | sha256sum | cut -c1-12)
SYNCBRIDGE_BUILD_ROOT=${SYNCBRIDGE_BUILD_ROOT:-$SYNCBRIDGE_CACHE_DIR/build/$_sb_key}

# sb_build PRESET [extra cmake args...]: configures and builds a preset into the build root.
sb_build() {
  local preset=$1
  shift
  local dir=$SYNCBRIDGE_BUILD_ROOT/$preset
  mkdir -p "$dir"
  cmake --preset "$preset" -S "$SYNCBRIDGE_SOURCE_DIR" -B "$dir" "$@" >"$dir/configure.log" 2>&1 \
    || {
      cat "$dir/configure.log"
      return 1
    }
  cmake --build "$dir" -j "$(($(nproc) + 1))"
}
