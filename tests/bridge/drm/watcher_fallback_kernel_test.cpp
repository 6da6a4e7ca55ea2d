// The watcher's syncobj fallback thread (the path for kernels without
// DRM_IOCTL_SYNCOBJ_EVENTFD) against a real DRM driver (label "kernel").
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "drm/drm_test_util.h"
#include "syncbridge/watcher.h"

namespace syncbridge::testing {
namespace {

// Polls pred for up to `limit`; the watcher runs its own thread.
template <class Pred>
bool within(std::chrono::milliseconds limit, Pred pred) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class WatcherFallbackTest : public DrmTest {
 protected:
  DrmOpenOptions options() const override {
    DrmOpenOptions o;
    o.ignore = DrmCap::syncobj_eventfd;  // force the fallback thread
    return o;
  }
  // A lost wake-up of the helper then stalls it for a minute, past every deadline below, instead
  // of the default half second that would hide it.
  void SetUp() override {
    ::setenv("SYNCBRIDGE_WATCHER_FALLBACK_SLICE_MS", "60000", 1);
    DrmTest::SetUp();
  }
  void TearDown() override {
    ::unsetenv("SYNCBRIDGE_WATCHER_FALLBACK_SLICE_MS");
    DrmTest::TearDown();
  }
};

// Regression: removing a device's last fallback watch destroyed the group's wake syncobj while
// the helper slept on it; the next watch made a new group whose wake the helper never saw, so
// its point went unnoticed until the slice ran out (500 ms by default).
TEST_F(WatcherFallbackTest, ANewWatchAfterTheLastOneWasRemovedIsSeenAtOnce) {
  Watcher w = must(Watcher::create(WatcherMode::own_thread));
  for (int round = 0; round < 5 && !HasFailure(); ++round) {
    TimelineSyncobj first = make_timeline_syncobj();
    TimelineSyncobj parked = make_timeline_syncobj();
    TimelineSyncobj next = make_timeline_syncobj();
    std::atomic<bool> first_fired{false};
    std::atomic<bool> next_fired{false};
    (void)must(w.watch_syncobj(first, 1, [&](const Result<void>&) { first_fired = true; }));
    WatchId parked_watch = must(w.watch_syncobj(parked, 5, [](const Result<void>&) {}));
    ASSERT_EQ(w.stats().syncobj_fallback, 2u);
    // Once the first watch fired, the helper goes back to sleep on the group: wake + parked.
    SB_ASSERT_OK(first.signal(1));
    ASSERT_TRUE(within(10s, [&] { return first_fired.load(); })) << "round " << round << ": first watch never fired";
    ASSERT_TRUE(w.remove(parked_watch));  // the group's last watch
    (void)must(w.watch_syncobj(next, 1, [&](const Result<void>&) { next_fired = true; }));
    SB_ASSERT_OK(next.signal(1));
    EXPECT_TRUE(within(10s, [&] { return next_fired.load(); }))
        << "round " << round << ": the helper did not see a watch added after the last one was removed";
  }
}

}  // namespace
}  // namespace syncbridge::testing
