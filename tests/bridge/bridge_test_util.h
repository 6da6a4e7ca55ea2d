// Test support for the bridge suites: sw_sync detection (skip with a reason where the kernel
// lacks it), fd helpers, and the fixtures every suite derives from.
#pragma once

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "fd_leak_check.h"
#include "kernel_requirement.h"
#include "must.h"
#include "result_assertions.h"
#include "syncbridge/sw_sync.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge::testing {

using namespace std::chrono_literals;

// Why the real-kernel tests cannot run here, or nullopt when they can.
inline std::optional<std::string> sw_sync_missing() {
  const std::string path(kSwSyncPath);
  if (::access(path.c_str(), R_OK | W_OK) == 0) return std::nullopt;
  if (errno == EACCES || errno == EPERM) return "no access to " + path + " (run as root)";
  return "no " + path + " (kernel without CONFIG_SW_SYNC or debugfs not mounted)";
}

// A fixture for tests that need a real sw_sync timeline: skips, saying why, where there is none.
class KernelTest : public FdLeakCheckedTest {
 protected:
  void SetUp() override {
    FdLeakCheckedTest::SetUp();
    if (auto why = sw_sync_missing()) SB_SKIP_OR_FAIL_IN_VM(*why);
  }
};

inline UniqueFd make_eventfd() { return UniqueFd(::eventfd(0, EFD_CLOEXEC)); }

// True when fd is an open descriptor in this process.
inline bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Two fds share one open file description exactly when a status flag set through one shows
// through the other (dup and SCM_RIGHTS share it; a new open or CREATE_FENCE does not).
inline bool same_open_file(int a, int b) {
  const int fa = ::fcntl(a, F_GETFL);
  const int fb = ::fcntl(b, F_GETFL);
  if (fa < 0 || fb < 0 || (fa & O_NONBLOCK) || (fb & O_NONBLOCK)) return false;
  ::fcntl(a, F_SETFL, fa | O_NONBLOCK);
  const bool shared = (::fcntl(b, F_GETFL) & O_NONBLOCK) != 0;
  ::fcntl(a, F_SETFL, fa);
  return shared;
}

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace syncbridge::testing
