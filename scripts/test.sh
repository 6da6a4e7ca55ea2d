#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the test kernels (cached: stock, and
# patched with tests/vm/sw_sync-refcount-fix.patch), then builds and runs the default, asan and
# tsan configurations. Kernel tests run inside the VM, on both kernels in the default build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$SYNCBRIDGE_SOURCE_DIR"
scripts/install-deps.sh test

start=$SECONDS
step() { printf '\n=== %s (%ds)\n' "$*" $((SECONDS - start)); }

step "test kernels"
if [[ -x tests/vm/build-kernel.sh ]]; then
  # Stock first: a cold stock build leaves its object tree, and the patched build then only
  # re-makes sw_sync.o and the link in it.
  SYNCBRIDGE_VM_KERNEL=$(tests/vm/build-kernel.sh)
  SYNCBRIDGE_VM_KERNEL_PATCHED=$(tests/vm/build-kernel.sh --patched)
  export SYNCBRIDGE_VM_KERNEL SYNCBRIDGE_VM_KERNEL_PATCHED
  echo "kernel: $SYNCBRIDGE_VM_KERNEL"
  echo "patched kernel: $SYNCBRIDGE_VM_KERNEL_PATCHED"
fi

# The native Vulkan paths run in the VM on bookworm-backports' lavapipe (SYNC_FD import/export),
# fetched unpacked into the cache and selected for those VM tests only: the machine's own Mesa
# stays, and every other Vulkan test runs on it.
step "lavapipe with SYNC_FD for the VM"
native_icd=$(scripts/fetch-lavapipe.sh) || {
  echo "test.sh: could not fetch lavapipe from bookworm-backports: the native Vulkan tests cannot run" >&2
  exit 1
}
echo "native driver: $native_icd"

jobs=$(nproc)
for preset in default asan tsan; do
  step "build $preset"
  if [[ $preset == default ]]; then
    sb_build "$preset" "-DSYNCBRIDGE_NATIVE_ICD=$native_icd"
  else
    sb_build "$preset"
  fi
  step "test $preset"
  args=(--test-dir "$SYNCBRIDGE_BUILD_ROOT/$preset" --output-on-failure -j "$jobs" --timeout 900)
  if [[ $preset != default ]]; then
    # Sanitized runs cover every suite, the kernel suites in the VM included; the harness
    # selftest and the benchmark smoke runs say nothing new there.
    args+=(-LE 'bench|kernel-bug-repro' -E '^vm\.harness_selftest$')
  fi
  ctest "${args[@]}"
done
step "done"
