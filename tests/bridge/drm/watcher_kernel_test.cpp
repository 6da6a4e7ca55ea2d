// The watcher with real kernel fences (label "kernel"): sw_sync sync_files (signaled and
// errored) and timeline syncobj points, with the eventfd and with the fallback thread.
#include <atomic>
#include <thread>
#include <vector>

#include "drm/drm_test_util.h"
#include "syncbridge/timeline.h"
#include "syncbridge/watcher.h"

namespace syncbridge::testing {
namespace {

// ---- sync_files (sw_sync) ----

class WatcherSyncFileTest : public KernelTest, public ::testing::WithParamInterface<WatcherMode> {};

TEST_P(WatcherSyncFileTest, ASignaledSyncFileAdvancesACoreTimeline) {
  Watcher w = must(Watcher::create(GetParam()));
  SwSyncTimeline sw = must(SwSyncTimeline::open());
  Timeline core = must(Timeline::create({.name = "mirror"}));
  Fence f = must(core.fence_at(1));
  (void)must(w.watch_sync_file(must(sw.create_fence(1)), signal_timeline(core, 1)));
  // Time to go wrong, not a synchronization: a watch that fires before the fence signals does
  // so within it (and the check below fails); a slow machine only proves less.
  std::this_thread::sleep_for(10ms);
  if (GetParam() == WatcherMode::caller_loop) {
    EXPECT_EQ(must(w.dispatch()), 0u);
  }
  EXPECT_EQ(f.status(), FenceStatus::pending);
  SB_ASSERT_OK(sw.inc(1));
  ASSERT_TRUE(eventually(w, [&] { return f.status() != FenceStatus::pending; }));
  EXPECT_EQ(f.status(), FenceStatus::signaled);
}

TEST_P(WatcherSyncFileTest, AnErroredSyncFileErrorsTheCoreSide) {
  Watcher w = must(Watcher::create(GetParam()));
  auto sw = std::make_unique<SwSyncTimeline>(must(SwSyncTimeline::open()));
  Timeline core = must(Timeline::create({.name = "mirror"}));
  Fence f = must(core.fence_at(1));
  std::atomic<int> err{0};
  std::atomic<int> code{0};
  auto to_core = signal_timeline(core, 1);
  (void)must(w.watch_sync_file(must(sw->create_fence(1)), [&](const Result<void>& out) {
    if (!out) {
      err = out.error().sys_errno();
      code = static_cast<int>(out.error().code());
    }
    to_core(out);
  }));
  sw.reset();  // closing the kernel timeline completes its pending fence with -ENOENT
  ASSERT_TRUE(eventually(w, [&] { return f.status() != FenceStatus::pending; }));
  EXPECT_EQ(code.load(), static_cast<int>(Errc::fence_error));
  EXPECT_EQ(err.load(), ENOENT);
  EXPECT_EQ(f.status(), FenceStatus::error);
  EXPECT_EQ(f.error_errno(), ENOENT) << "the kernel fence's errno reaches the core fence";
}

TEST_P(WatcherSyncFileTest, AnAlreadySignaledSyncFileFires) {
  Watcher w = must(Watcher::create(GetParam()));
  SwSyncTimeline sw = must(SwSyncTimeline::open());
  SB_ASSERT_OK(sw.inc(3));
  std::atomic<bool> ok{false};
  (void)must(w.watch_sync_file(must(sw.create_fence(2)), [&](const Result<void>& r) { ok = r.ok(); }));
  EXPECT_TRUE(eventually(w, [&] { return ok.load(); }));
}

INSTANTIATE_TEST_SUITE_P(Modes, WatcherSyncFileTest,
                         ::testing::Values(WatcherMode::own_thread, WatcherMode::caller_loop),
                         [](const ::testing::TestParamInfo<WatcherMode>& i) {
                           return i.param == WatcherMode::own_thread ? "own_thread" : "caller_loop";
                         });

// ---- syncobj points ----

struct SyncobjCase {
  WatcherMode mode;
  bool fallback;  // pretend the kernel lacks DRM_IOCTL_SYNCOBJ_EVENTFD
};

class WatcherSyncobjTest : public DrmTest, public ::testing::WithParamInterface<SyncobjCase> {
 protected:
  DrmOpenOptions options() const override {
    DrmOpenOptions o;
    if (GetParam().fallback) o.ignore = DrmCap::syncobj_eventfd;
    return o;
  }
  void SetUp() override {
    DrmTest::SetUp();
    if (IsSkipped()) return;
    if (!GetParam().fallback && !dev_.has(DrmCap::syncobj_eventfd))
      GTEST_SKIP() << "no DRM_IOCTL_SYNCOBJ_EVENTFD: " << dev_.describe();
  }
  Watcher make() { return must(Watcher::create(GetParam().mode)); }
};

TEST_P(WatcherSyncobjTest, APointSignaledLaterFiresItsWatch) {
  Watcher w = make();
  TimelineSyncobj t = make_timeline_syncobj();
  std::atomic<int> calls{0};
  (void)must(w.watch_syncobj(t, 2, [&](const Result<void>& r) {
    EXPECT_TRUE(r.ok()) << r.error().describe();
    ++calls;
  }));
  EXPECT_EQ(w.stats().syncobj_fallback, GetParam().fallback ? 1u : 0u);
  SB_ASSERT_OK(t.signal(1));
  std::this_thread::sleep_for(20ms);  // time for point 1 to fire point 2's watch wrongly
  if (w.mode() == WatcherMode::caller_loop) (void)must(w.dispatch());
  EXPECT_EQ(calls.load(), 0);
  SB_ASSERT_OK(t.signal(3));  // past the point
  ASSERT_TRUE(eventually(w, [&] { return calls.load() == 1; }));
  EXPECT_EQ(w.stats().watches, 0u);
}

TEST_P(WatcherSyncobjTest, APointAlreadySignaledFires) {
  Watcher w = make();
  TimelineSyncobj t = make_timeline_syncobj();
  SB_ASSERT_OK(t.signal(1));
  SB_ASSERT_OK(t.signal(2));
  std::atomic<bool> fired{false};
  (void)must(w.watch_syncobj(t, 1, [&](const Result<void>&) { fired = true; }));
  EXPECT_TRUE(eventually(w, [&] { return fired.load(); }));
}

TEST_P(WatcherSyncobjTest, RegistrationRacingTheSignalNeverLosesIt) {
  // KWin's SyncReleasePointHolder lesson: the point may signal between "check" and "watch".
  Watcher w = make();
  TimelineSyncobj t = make_timeline_syncobj();
  constexpr int kRounds = 100;
  std::atomic<int> fired{0};
  std::atomic<std::uint64_t> next{0};
  std::thread signaler([&] {
    for (std::uint64_t p = 1; p <= kRounds; ++p) {
      while (next.load() < p) std::this_thread::yield();
      EXPECT_TRUE(t.signal(p).ok());
    }
  });
  for (std::uint64_t p = 1; p <= kRounds; ++p) {
    next.store(p);  // the signaler goes now, while we register
    (void)must(w.watch_syncobj(t, p, [&](const Result<void>&) { ++fired; }));
  }
  signaler.join();
  EXPECT_TRUE(eventually(w, [&] { return fired.load() == kRounds; }));
  EXPECT_EQ(fired.load(), kRounds);
}

TEST_P(WatcherSyncobjTest, RemovingAPendingSyncobjWatchLeavesNothingBehind) {
  Watcher w = make();
  TimelineSyncobj t = make_timeline_syncobj();
  std::atomic<bool> fired{false};
  WatchId a = must(w.watch_syncobj(t, 5, [&](const Result<void>&) { fired = true; }));
  WatchId b = must(w.watch_syncobj(t, 6, [&](const Result<void>&) { fired = true; }));
  EXPECT_TRUE(w.remove(a));
  EXPECT_TRUE(w.remove(b));
  EXPECT_EQ(w.stats().syncobj_fallback, 0u);
  SB_ASSERT_OK(t.signal(6));
  std::this_thread::sleep_for(30ms);  // time for a removed watch to fire wrongly; valid either way
  if (w.mode() == WatcherMode::caller_loop) {
    EXPECT_EQ(must(w.dispatch()), 0u);
  }
  EXPECT_FALSE(fired.load());
}

TEST_P(WatcherSyncobjTest, ManyPointsOfSeveralSyncobjs) {
  Watcher w = make();
  std::vector<TimelineSyncobj> ts;
  for (int i = 0; i < 3; ++i) ts.push_back(make_timeline_syncobj());
  std::atomic<int> fired{0};
  for (auto& t : ts)
    for (std::uint64_t p = 1; p <= 20; ++p) (void)must(w.watch_syncobj(t, p, [&](const Result<void>&) { ++fired; }));
  for (std::uint64_t p = 1; p <= 20; ++p)
    for (auto& t : ts) {
      SB_ASSERT_OK(t.signal(p));
    }
  EXPECT_TRUE(eventually(w, [&] { return fired.load() == 60; }));
}

INSTANTIATE_TEST_SUITE_P(Modes, WatcherSyncobjTest,
                         ::testing::Values(SyncobjCase{WatcherMode::own_thread, false},
                                           SyncobjCase{WatcherMode::caller_loop, false},
                                           SyncobjCase{WatcherMode::own_thread, true},
                                           SyncobjCase{WatcherMode::caller_loop, true}),
                         [](const ::testing::TestParamInfo<SyncobjCase>& i) {
                           return std::string(i.param.mode == WatcherMode::own_thread ? "own_thread" : "caller_loop") +
                                  (i.param.fallback ? "_fallback" : "_eventfd");
                         });

// 10,000 is the eventfd path's job (the fallback thread is O(n) per change, see watcher.h).
class WatcherManySyncobjTest : public DrmTest, public ::testing::WithParamInterface<WatcherMode> {
 protected:
  void SetUp() override {
    DrmTest::SetUp();
    if (IsSkipped()) return;
    if (!dev_.has(DrmCap::syncobj_eventfd)) GTEST_SKIP() << "no DRM_IOCTL_SYNCOBJ_EVENTFD: " << dev_.describe();
  }
};

TEST_P(WatcherManySyncobjTest, TenThousandSyncobjPointWatches) {
  constexpr std::uint64_t kWatches = 10'000;
  if (auto why = raise_fd_limit(kWatches + 256)) GTEST_SKIP() << *why;
  Watcher w = must(Watcher::create(GetParam()));
  TimelineSyncobj t = make_timeline_syncobj();
  std::atomic<std::uint64_t> fired{0};
  for (std::uint64_t p = 1; p <= kWatches; ++p)
    (void)must(w.watch_syncobj(t, p, [&](const Result<void>&) { ++fired; }));
  EXPECT_EQ(w.stats().watches, kWatches);
  SB_ASSERT_OK(t.signal(kWatches));  // one kernel signal, 10,000 eventfds
  EXPECT_TRUE(eventually(
      w, [&] { return fired.load() == kWatches; }, 60s));
  EXPECT_EQ(w.stats().watches, 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, WatcherManySyncobjTest,
                         ::testing::Values(WatcherMode::own_thread, WatcherMode::caller_loop),
                         [](const ::testing::TestParamInfo<WatcherMode>& i) {
                           return i.param == WatcherMode::own_thread ? "own_thread" : "caller_loop";
                         });

}  // namespace
}  // namespace syncbridge::testing
