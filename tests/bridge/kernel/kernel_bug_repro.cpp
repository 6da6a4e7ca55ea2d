// syncbridge-kernel-bug-repro: the negative control for tests/bridge/kernel/race_test.cpp.
//
// It does what the seed thread describes, with raw ioctls and no mitigation: one thread
// closes the only fds of 64 pending sw_sync fences while another INCs the timeline by one, 64
// times; repeated for up to N seconds. On kernels with the unfixed sw_sync (6.12 included) the
// INC's walk takes a reference on a fence whose count already reached zero: the kernel logs
// "refcount_t: addition on 0; use-after-free" from sync_timeline_signal, and may go on to a
// NULL dereference in rb_erase or a spinlock hang in timeline_fence_release.
//
// The program watches the kernel log (/dev/kmsg, from the moment it starts) and stops at the
// first such report. RUN IT ONLY IN A THROWAWAY VM (tests/vm/run-in-vm.sh, which also fails the
// run on the report). ctest has it only with the label "kernel-bug-repro", disabled unless
// -DSYNCBRIDGE_RUN_KERNEL_BUG_REPRO=ON.
//
// Usage: syncbridge-kernel-bug-repro [SECONDS]   (default 30)
// Exit: 0 the kernel bug was reproduced (the report is printed); 1 no report within SECONDS
// (a fixed kernel, or the race was not hit); 2 an ioctl failed; 77 no sw_sync here. A kernel
// that crashes outright never lets it exit.
#include <fcntl.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "raw_sw_sync.h"

namespace {

using namespace syncbridge::testing::raw_sw_sync;
constexpr int kBatch = 64;

// The kernel log from now on (needs root or CAP_SYSLOG; -1 when unreadable).
int open_kmsg() {
  const int fd = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) ::lseek(fd, 0, SEEK_END);
  return fd;
}

// Reads the records logged since the last call; returns the first that reports a kernel
// problem, or "".
std::string kernel_problem(int kmsg) {
  static const char* const kSigns[] = {
      "refcount_t:", "use-after-free", "BUG:", "Oops", "general protection", "WARNING:"};
  char record[8192];
  for (;;) {
    const ssize_t n = ::read(kmsg, record, sizeof record - 1);
    if (n < 0 && errno == EPIPE) continue;  // overwritten records: skip on
    if (n <= 0) return "";
    record[n] = '\0';
    const char* text = std::strchr(record, ';');
    text = text ? text + 1 : record;
    for (const char* sign : kSigns)
      if (std::strstr(text, sign)) return text;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 30;
  const char* path = "/sys/kernel/debug/sync/sw_sync";
  const int timeline = ::open(path, O_RDWR | O_CLOEXEC);
  if (timeline < 0) {
    std::printf(
        "syncbridge-kernel-bug-repro: SKIP: cannot open %s (%s): kernel without CONFIG_SW_SYNC or debugfs "
        "not mounted\n",
        path, std::strerror(errno));
    return 77;
  }
  const int kmsg = open_kmsg();
  std::printf(
      "syncbridge-kernel-bug-repro: racing close() of 64 pending fences against 64 INCs for up to %d s; "
      "an unfixed kernel breaks now%s\n",
      seconds, kmsg < 0 ? " (cannot read /dev/kmsg: check dmesg yourself)" : "");
  std::fflush(stdout);

  int fds[kBatch];
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::barrier sync(2);
  std::thread closer([&] {
    for (;;) {
      sync.arrive_and_wait();  // fds ready
      if (stop.load()) return;
      for (int& fd : fds) ::close(fd);
      sync.arrive_and_wait();  // round done
    }
  });

  __u32 value = 0;
  long rounds = 0;
  std::string problem;
  const auto start = std::chrono::steady_clock::now();
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < kBatch; ++i) {
      create_fence_data data{};
      data.value = value + static_cast<__u32>(i) + 1;
      std::strcpy(data.name, "repro");
      if (::ioctl(timeline, kCreateFence, &data) < 0) {
        std::printf("SW_SYNC_IOC_CREATE_FENCE failed: %s\n", std::strerror(errno));
        failed = true;
        break;
      }
      fds[i] = data.fence;
    }
    if (failed) break;
    sync.arrive_and_wait();
    for (int i = 0; i < kBatch; ++i) {
      __u32 one = 1;
      if (::ioctl(timeline, kInc, &one) < 0) {
        std::printf("SW_SYNC_IOC_INC failed: %s\n", std::strerror(errno));
        failed = true;
      }
    }
    value += kBatch;
    sync.arrive_and_wait();
    if (failed) break;
    ++rounds;
    if (kmsg >= 0 && rounds % 16 == 0 && !(problem = kernel_problem(kmsg)).empty()) break;
  }
  if (!failed && kmsg >= 0 && problem.empty()) problem = kernel_problem(kmsg);
  // The closer waits at the top of its loop: release it, and it sees stop.
  stop = true;
  sync.arrive_and_wait();
  closer.join();
  ::close(timeline);
  if (kmsg >= 0) ::close(kmsg);
  if (failed) return 2;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!problem.empty()) {
    std::printf("syncbridge-kernel-bug-repro: REPRODUCED after %ld rounds (%.1f s): the kernel logged: %s", rounds,
                secs, problem.c_str());
    return 0;
  }
  std::printf("syncbridge-kernel-bug-repro: no kernel report in %ld rounds (%ld fences, %.1f s): race not hit%s\n",
              rounds, rounds * kBatch, secs, kmsg < 0 ? " (or not visible: /dev/kmsg unreadable)" : "");
  return 1;
}
