#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the test kernel (cached), then builds
# and runs the default, asan and tsan configurations. Kernel tests run inside the VM.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$SYNCBRIDGE_SOURCE_DIR"
scripts/install-deps.sh test

start=$SECONDS
step() { printf '\n=== %s (%ds)\n' "$*" $((SECONDS - start)); }

step "test kernel"
if [[ -x tests/vm/build-kernel.sh ]]; then
  SYNCBRIDGE_VM_KERNEL=$(tests/vm/build-kernel.sh)
  export SYNCBRIDGE_VM_KERNEL
  echo "kernel: $SYNCBRIDGE_VM_KERNEL"
fi

jobs=$(nproc)
for preset in default asan tsan; do
  step "build $preset"
  sb_build "$preset"
  step "test $preset"
  args=(--test-dir "$SYNCBRIDGE_BUILD_ROOT/$preset" --output-on-failure -j "$jobs" --timeout 900)
  if [[ $preset != default ]]; then
    # The sanitizer runs cover everything that runs on the host; VM tests run once, unsanitized.
    args+=(-LE 'vm|bench|kernel-bug-repro')
  fi
  ctest "${args[@]}"
done
step "done"
