#!/usr/bin/env bash
# Runs COMMAND inside the test VM; when it dies of SIGSEGV and the kernel logged that segfault
# inside lavapipe 25.0.7's own code (libvulkan_lvp.so: a known driver bug, see the README's
# "Known driver issues"), runs it once more, saying so loudly. Any other failure, and a second
# crash of any kind, is the command's own result: a crash in syncbridge, or anywhere but the
# driver, is never retried.
#
# Usage (as a VM test's command): retry-known-driver-crash.sh COMMAND [ARGS...]
set -u

if [[ $# -eq 0 ]]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

driver_segfault='segfault at .* in libvulkan_lvp\.so'
driver_segfaults() {
  dmesg 2>/dev/null | grep -Ec "${driver_segfault}"
}

before=$(driver_segfaults)
"$@"
rc=$?
if [[ ${rc} -ne 139 ]]; then
  exit "${rc}"
fi
# Only a segfault the kernel logged inside the driver during this very run counts.
if [[ $(driver_segfaults) -le ${before} ]]; then
  echo "retry-known-driver-crash: SIGSEGV outside the driver: not retried" >&2
  exit "${rc}"
fi
dmesg | grep -E "${driver_segfault}" | tail -n 1 >&2
echo "retry-known-driver-crash: KNOWN DRIVER CRASH (lavapipe segfault inside libvulkan_lvp.so)," \
  "running the command once more" >&2
"$@"
