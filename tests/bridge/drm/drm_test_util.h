// Test support for the DRM syncobj and watcher suites: a fixture that opens a render node with
// timeline syncobjs (or skips, saying why), handle-leak accounting, fd-limit raising.
#pragma once

#include <poll.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <xf86drm.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "bridge_test_util.h"
#include "eventually.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/drm_syncobj.h"
#include "syncbridge/watcher.h"

namespace syncbridge::testing {

inline constexpr const char* kNoDrmReason = "no DRM render node with DRM_CAP_SYNCOBJ_TIMELINE under /dev/dri";

// The handle the kernel would give the next syncobj: it allocates the lowest free handle from
// 1 up (idr_alloc), so this number climbs exactly when a test leaves handles behind.
inline std::uint32_t next_free_handle(const DrmDevice& dev) {
  std::uint32_t h = 0;
  if (drmSyncobjCreate(dev.fd(), 0, &h) != 0) return 0;
  (void)drmSyncobjDestroy(dev.fd(), h);
  return h;
}

// Whether the kernel still knows handle (DRM_IOCTL_SYNCOBJ_QUERY answers ENOENT otherwise).
inline bool handle_exists(int drm_fd, std::uint32_t handle) {
  std::uint64_t point = 0;
  return drmSyncobjQuery(drm_fd, &handle, &point, 1) == 0;
}

// Kernel release as major*100 + minor (6.12 -> 612), 0 when unknown.
inline int kernel_version() {
  utsname u{};
  if (::uname(&u) != 0) return 0;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return 0;
  return major * 100 + minor;
}

// poll() for POLLIN: true when fd became readable within timeout.
inline bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLIN);
}

// eventually() for a watcher's tests: while it waits it dispatches a caller-loop Watcher
// (when its fd is readable), and only sleeps for a threaded one.
template <class Pred>
bool eventually(Watcher& w, Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  return eventually(pred, timeout, [&w] {
    if (w.mode() == WatcherMode::caller_loop) {
      if (readable(w.fd(), std::chrono::milliseconds(1))) (void)w.dispatch();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
}

// Raises RLIMIT_NOFILE to at least want (soft, and hard where allowed). The reason when it
// cannot be done.
inline std::optional<std::string> raise_fd_limit(rlim_t want) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return "getrlimit failed";
  if (r.rlim_cur >= want) return std::nullopt;
  rlimit up{want, r.rlim_max > want ? r.rlim_max : want};
  if (::setrlimit(RLIMIT_NOFILE, &up) == 0) return std::nullopt;
  if (r.rlim_max >= want) {
    up = {want, r.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &up) == 0) return std::nullopt;
  }
  return "RLIMIT_NOFILE is " + std::to_string(r.rlim_cur) + "/" + std::to_string(r.rlim_max) +
         " and cannot be raised to " + std::to_string(want);
}

// A fixture for tests that need timeline syncobjs: opens a render node by capability, or skips
// with the reason. Fails the test when it leaks fds or syncobj handles.
class DrmTest : public FdLeakCheckedTest {
 protected:
  void SetUp() override {
    FdLeakCheckedTest::SetUp();
    auto dev = DrmDevice::open_render_node(options());
    if (!dev) {
      // The library's own sentence starts "no DRM render node with DRM_CAP_SYNCOBJ and
      // DRM_CAP_SYNCOBJ_TIMELINE under /dev/dri" and says why; other failures get the prefix.
      const std::string why = dev.error().describe();
      if (why.rfind("no DRM render node", 0) == 0) SB_SKIP_OR_FAIL_IN_VM(why);
      SB_SKIP_OR_FAIL_IN_VM(std::string(kNoDrmReason) + ": " + why);
    }
    dev_ = std::move(dev).value();
    first_free_handle_ = next_free_handle(dev_);
  }
  void TearDown() override {
    if (dev_.valid()) {
      EXPECT_EQ(next_free_handle(dev_), first_free_handle_) << "the test left syncobj handles behind";
      dev_ = DrmDevice();
    }
    FdLeakCheckedTest::TearDown();
  }
  virtual DrmOpenOptions options() const { return {}; }

  TimelineSyncobj make_timeline_syncobj() { return must(TimelineSyncobj::create(dev_), "TimelineSyncobj::create"); }

  DrmDevice dev_;
  std::uint32_t first_free_handle_ = 0;
};

// The same, also needing sw_sync (pending sync_files to import and error).
class DrmSwSyncTest : public DrmTest {
 protected:
  void SetUp() override {
    DrmTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (auto why = sw_sync_missing()) SB_SKIP_OR_FAIL_IN_VM(*why);
  }
};

}  // namespace syncbridge::testing
