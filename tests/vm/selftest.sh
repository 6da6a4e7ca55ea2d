#!/usr/bin/env bash
# Self-test of the VM harness: boots the test kernel several times and checks
# what the real-kernel tests rely on.
#
# Usage: selftest.sh [--kernel PATH]
#
#   - the command's exit status comes back, also with stdin closed (as on CI);
#   - arguments and whitelisted environment reach the command intact;
#   - the guest has sw_sync in debugfs, a virtio_gpu render node with timeline
#     syncobjs, writable /tmp and /dev/shm, /dev/null;
#   - host binaries run inside (python3, a C probe doing sw_sync CREATE_FENCE
#     and INC, a GoogleTest program);
#   - a command in a /tmp directory (a build tree on CI) runs from there, can
#     write to its current directory and read a /tmp file named in its
#     arguments, while the rest of the host's /tmp stays hidden;
#   - a kernel panic and a non-fatal kernel backtrace give status 3, a hung
#     command gives status 4, a missing QEMU or kernel gives 77.
#
# Exit status: 0 all passed, 1 a check failed, 77 no QEMU or no test kernel.
# Helper programs are compiled into the cache dir, not /tmp: the guest has its
# own /tmp.
# The sh -c scripts below are expanded by the guest's shell, not here:
# shellcheck disable=SC2016
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir
readonly run=$script_dir/run-in-vm.sh
work=${SYNCBRIDGE_CACHE_DIR:-/var/cache/syncbridge}/selftest
readonly work

run_args=()
while (($# > 0)); do
  case $1 in
    --kernel)
      run_args+=(--kernel "$2")
      shift 2
      ;;
    *)
      echo "usage: selftest.sh [--kernel PATH]" >&2
      exit 2
      ;;
  esac
done

mkdir -p "$work"
# The guest cds to the host's current directory; the checks run from the cache
# dir, except the one about directories under /tmp.
cd "$work"

# Directories in the host's /tmp for the tmp-build-dir check, removed on exit.
tmp_build=$(mktemp -d /tmp/syncbridge-selftest-build.XXXXXX)
tmp_input=$(mktemp -d /tmp/syncbridge-selftest-input.XXXXXX)
tmp_hidden=$(mktemp -d /tmp/syncbridge-selftest-hidden.XXXXXX)
readonly tmp_build tmp_input tmp_hidden
# shellcheck disable=SC2317 # run by the EXIT trap
remove_tmp_dirs() { rm -rf "$tmp_build" "$tmp_input" "$tmp_hidden" "$tmp_hidden.guest"; }
trap remove_tmp_dirs EXIT

failures=0
passed=0
log_of() { printf '%s/%s.log' "$work" "$1"; }

# expect NAME STATUS [run-in-vm options] -- COMMAND...: run it in the VM and
# compare the harness's exit status with STATUS.
expect() {
  local name=$1 want=$2
  shift 2
  local log status=0 start=$SECONDS
  log=$(log_of "$name")
  "$run" "${run_args[@]}" --name "selftest-$name" "$@" >"$log" 2>&1 || status=$?
  if [[ $status == 77 && $want != 77 ]]; then
    cat "$log" >&2
    echo "selftest: SKIP: the VM cannot run here" >&2
    exit 77
  fi
  if [[ $status == "$want" ]]; then
    echo "PASS $name (status $status, $((SECONDS - start)) s)"
    passed=$((passed + 1))
    return 0
  fi
  echo "FAIL $name: wanted status $want, got $status; output ($log):"
  sed 's/^/    /' "$log"
  failures=$((failures + 1))
  return 1
}

# expect_output NAME TEXT: the last run's output must contain TEXT.
expect_output() {
  if grep -qF -- "$2" "$(log_of "$1")"; then
    echo "PASS $1 output has '$2'"
    passed=$((passed + 1))
  else
    echo "FAIL $1: output lacks '$2' ($(log_of "$1"))"
    failures=$((failures + 1))
  fi
}

# --- Helper programs, built on the host, run in the guest.
cat >"$work/vm-probe.c" <<'EOF'
/* sw_sync and DRM probe for the VM self-test. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sync_file.h>
#include <linux/types.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Not in the uAPI headers: drivers/dma-buf/sw_sync.c. */
struct sw_sync_create_fence_data { __u32 value; char name[32]; __s32 fence; };
#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC _IOW('W', 1, __u32)

/* From drm.h, so the probe needs no libdrm-dev. */
struct drm_version_min {
    int major, minor, patch;
    size_t name_len; char *name; size_t date_len; char *date; size_t desc_len; char *desc;
};
struct drm_get_cap_min { __u64 capability; __u64 value; };
#define DRM_IOCTL_VERSION_MIN _IOWR('d', 0x00, struct drm_version_min)
#define DRM_IOCTL_GET_CAP_MIN _IOWR('d', 0x0c, struct drm_get_cap_min)
#define DRM_CAP_SYNCOBJ 0x13
#define DRM_CAP_SYNCOBJ_TIMELINE 0x14

static int fence_ready(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static int check_sw_sync(void) {
    int tl = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);
    if (tl < 0) { perror("open sw_sync"); return 1; }
    struct sw_sync_create_fence_data data = {.value = 1};
    strcpy(data.name, "selftest");
    if (ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &data) < 0) { perror("CREATE_FENCE"); return 1; }
    struct sync_file_info info = {0};
    if (ioctl(data.fence, SYNC_IOC_FILE_INFO, &info) < 0) { perror("SYNC_IOC_FILE_INFO"); return 1; }
    if (fence_ready(data.fence) || info.status != 0) {
        fprintf(stderr, "fence signaled before INC\n"); return 1;
    }
    __u32 inc = 1;
    if (ioctl(tl, SW_SYNC_IOC_INC, &inc) < 0) { perror("INC"); return 1; }
    if (!fence_ready(data.fence)) { fprintf(stderr, "fence not signaled after INC\n"); return 1; }
    printf("sw_sync ok: fence '%s' pending then signaled\n", info.name);
    close(data.fence);
    close(tl);
    return 0;
}

static int check_drm(void) {
    DIR *dir = opendir("/dev/dri");
    if (!dir) { perror("opendir /dev/dri"); return 1; }
    int found = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, "renderD", 7) != 0) continue;
        char path[300], name[64] = {0};
        snprintf(path, sizeof path, "/dev/dri/%s", e->d_name);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) { perror(path); continue; }
        struct drm_version_min v = {.name_len = sizeof name - 1, .name = name};
        struct drm_get_cap_min so = {.capability = DRM_CAP_SYNCOBJ};
        struct drm_get_cap_min tl = {.capability = DRM_CAP_SYNCOBJ_TIMELINE};
        ioctl(fd, DRM_IOCTL_VERSION_MIN, &v);
        ioctl(fd, DRM_IOCTL_GET_CAP_MIN, &so);
        ioctl(fd, DRM_IOCTL_GET_CAP_MIN, &tl);
        printf("%s: driver %s, syncobj %llu, timeline %llu\n", path, name,
               (unsigned long long)so.value, (unsigned long long)tl.value);
        if (strcmp(name, "virtio_gpu") == 0 && so.value && tl.value) found = 1;
        close(fd);
    }
    closedir(dir);
    if (!found) fprintf(stderr, "no virtio_gpu render node with timeline syncobjs\n");
    return !found;
}

int main(void) { return check_sw_sync() | check_drm(); }
EOF

cat >"$work/vm-gtest.cc" <<'EOF'
// A GoogleTest program with threads, to prove libstdc++ and gtest run in the guest.
#include <gtest/gtest.h>
#include <atomic>
#include <thread>
#include <vector>
TEST(VmSelftest, ThreadsAndAtomics) {
    std::atomic<int> n{0};
    std::vector<std::jthread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([&n] { for (int k = 0; k < 1000; ++k) ++n; });
    threads.clear();
    EXPECT_EQ(n.load(), 4000);
}
EOF

have_probe=0 have_gtest=0
if command -v cc >/dev/null && cc -O2 -Wall -o "$work/vm-probe" "$work/vm-probe.c"; then
  have_probe=1
else
  echo "NOTE: no C compiler, sw_sync/DRM probe not run"
fi
if command -v c++ >/dev/null && [[ -f /usr/include/gtest/gtest.h ]] \
  && c++ -std=c++20 -O1 -pthread -o "$work/vm-gtest" "$work/vm-gtest.cc" -lgtest_main -lgtest; then
  have_gtest=1
else
  echo "NOTE: no C++ compiler or GoogleTest, gtest check not run"
fi

# --- Checks that need no VM.
empty_bin=$work/empty-bin
mkdir -p "$empty_bin"
# bash too: the scripts start with #!/usr/bin/env bash, which looks bash up in PATH.
for tool in bash dirname basename mktemp date cat sed tr cut grep mkdir chmod cp find sort timeout tail awk dpkg-query sha256sum; do
  ln -sf "$(command -v "$tool")" "$empty_bin/$tool"
done
status=0
PATH=$empty_bin "$run" "${run_args[@]}" -- true >"$(log_of no-qemu)" 2>&1 || status=$?
if [[ $status == 77 ]] && grep -q 'no qemu-system-x86_64' "$(log_of no-qemu)"; then
  echo "PASS no-qemu (status 77)"
  passed=$((passed + 1))
else
  echo "FAIL no-qemu: wanted 77 with a reason, got $status: $(cat "$(log_of no-qemu)")"
  failures=$((failures + 1))
fi
expect no-kernel 77 --kernel "$work/no-such-bzImage" -- true || true

# --- Checks in the VM.
# Stdin closed, as on CI: QEMU must still start.
expect exit-status 5 -- sh -c 'echo from-the-guest; exit 5' <&- || true
expect_output exit-status from-the-guest
expect arguments 0 -- sh -c 'test "$1" = "a b'\''c\$HOME" && test -z "$2" && test $# = 2' x "a b'c\$HOME" "" || true
SYNCBRIDGE_SELFTEST_VAR='x y' NOT_WHITELISTED=1 expect environment 0 --env EXTRA=1 -- \
  sh -c 'test "$SYNCBRIDGE_SELFTEST_VAR" = "x y" && test -z "${NOT_WHITELISTED-}" && test "$EXTRA" = 1' || true
expect guest-fs 0 -- sh -c '
    set -e
    test -e /sys/kernel/debug/sync/sw_sync
    ls -l /dev/dri
    echo data >/dev/null
    echo data >/tmp/file && echo data >/dev/shm/file
    test "$(pwd)" = "'"$work"'"
    ! touch /usr/syncbridge-must-be-read-only 2>/dev/null
    uname -r' || true
expect_output guest-fs renderD128
expect python 0 -- /usr/bin/python3 -c 'import os, threading; print("python in", os.uname().release)' || true
# A build tree in /tmp, as CI runners make it: an ELF program copied there (so
# the kernel execs and maps it from the share) runs from a subdirectory of it,
# writes a file there and reads a file in another /tmp directory named in its
# arguments; a third /tmp directory, not named, stays hidden.
mkdir -p "$tmp_build/tests/sub"
cp "$(command -v env)" "$tmp_build/env"
echo input-from-host >"$tmp_input/input"
cd "$tmp_build/tests/sub"
expect tmp-build-dir 0 -- "$tmp_build/env" sh -c '
    set -e
    test "$(pwd)" = "'"$tmp_build/tests/sub"'"
    test "$(cat "$1")" = input-from-host
    echo written-in-guest >written
    test ! -e "'"$tmp_hidden"'"
    echo guest >"'"$tmp_hidden.guest"'"
    echo tmp-build-dir-ok' x "$tmp_input/input" || true
cd "$work"
expect_output tmp-build-dir tmp-build-dir-ok
# The write to the build tree reached the host; the one to the guest's own
# /tmp did not.
if [[ $(cat "$tmp_build/tests/sub/written" 2>/dev/null) == written-in-guest && ! -e $tmp_hidden.guest ]]; then
  echo "PASS tmp-build-dir: the write to $tmp_build/tests/sub reached the host, the guest's /tmp stayed its own"
  passed=$((passed + 1))
else
  echo "FAIL tmp-build-dir: $tmp_build/tests/sub/written missing on the host, or $tmp_hidden.guest present"
  failures=$((failures + 1))
fi
if ((have_probe)); then
  expect sw-sync-probe 0 -- "$work/vm-probe" || true
  expect_output sw-sync-probe 'sw_sync ok'
fi
if ((have_gtest)); then
  expect gtest 0 -- "$work/vm-gtest" || true
  expect_output gtest '[  PASSED  ] 1 test'
fi
# sysrq 'l' prints a backtrace of every CPU (Call Trace:) and carries on: a
# kernel report must fail the run even though the command succeeded.
expect kernel-backtrace 3 -- sh -c 'echo l >/proc/sysrq-trigger; sleep 1' || true
expect_output kernel-backtrace 'kernel reported a problem while running selftest-kernel-backtrace'
expect kernel-panic 3 -- sh -c 'echo c >/proc/sysrq-trigger' || true
expect_output kernel-panic 'Kernel panic'
expect timeout 4 --timeout 20 -- sleep 1000 || true
expect_output timeout 'VM timed out after 20 s while running selftest-timeout'

# The native sample tests' wrapper (retry-known-driver-crash.sh): only a SIGSEGV that the guest
# kernel logged inside libvulkan_lvp.so during that run is retried, once.
retry=$script_dir/retry-known-driver-crash.sh
fake_driver_segfault='echo "selftest: segfault at 0 ip 1 sp 2 error 4 in libvulkan_lvp.so[1,2+3]" >/dev/kmsg'
expect retry-other-crash 139 -- "$retry" sh -c 'kill -SEGV $$' || true
expect_output retry-other-crash 'SIGSEGV outside the driver: not retried'
expect retry-stale-driver-crash 139 -- sh -c "$fake_driver_segfault; \"\$0\" sh -c 'kill -SEGV \$\$'" "$retry" || true
expect retry-driver-crash-once 0 -- "$retry" sh -c \
  "test -e /tmp/once && exit 0; touch /tmp/once; $fake_driver_segfault; kill -SEGV \$\$" || true
expect_output retry-driver-crash-once 'KNOWN DRIVER CRASH'
expect retry-driver-crash-twice 139 -- "$retry" sh -c "$fake_driver_segfault; kill -SEGV \$\$" || true
expect retry-other-status 5 -- "$retry" sh -c 'exit 5' || true

echo "selftest: $passed passed, $failures failed (logs in $work)"
((failures == 0))
