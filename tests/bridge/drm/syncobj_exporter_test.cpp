// SyncobjExporter (core timeline -> syncobj points) and SyncobjImporter (syncobj points -> core
// fences, through the watcher) against a real DRM driver (label "kernel").
#include <sys/syscall.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "drm/drm_test_util.h"
#include "syncbridge/syncobj_exporter.h"
#include "syncbridge/syncobj_importer.h"
#include "syncbridge/watcher.h"
#include "thread_state.h"

namespace syncbridge::testing {
namespace {

using SyncobjExporterTest = DrmTest;

TEST_F(SyncobjExporterTest, AdvanceSignalsTheSyncobjPointThenTheCoreFence) {
  SyncobjExporter ex = must(SyncobjExporter::create(dev_, "ex"));
  EXPECT_EQ(ex.name(), "ex");
  Fence f3 = must(ex.fence_at(3));
  SB_ASSERT_OK(ex.advance(2));
  EXPECT_EQ(ex.value(), 2u);
  EXPECT_EQ(must(ex.syncobj().query()), 2u);
  EXPECT_EQ(f3.status(), FenceStatus::pending);
  SB_ASSERT_OK(ex.advance());
  EXPECT_EQ(f3.status(), FenceStatus::signaled);
  EXPECT_EQ(must(ex.syncobj().query()), 3u);
  SB_ASSERT_OK(ex.signal_to(10));
  SB_ASSERT_OK(ex.signal_to(10));  // no-op
  SB_EXPECT_ERROR(ex.signal_to(9), Errc::backwards, EINVAL);
  SB_ASSERT_OK(ex.advance(0));
  EXPECT_EQ(ex.timeline().value(), 10u);
  EXPECT_EQ(must(ex.syncobj().query()), 10u);
  SB_EXPECT_ERROR(ex.advance(~std::uint64_t{0}), Errc::out_of_range, ERANGE);
}

// Regression: point 0 of a new exporter is reached (fence_at(0) is signaled, and the sw_sync
// exporter hands out a signaled sync_file for it), though the syncobj has no fence yet.
TEST_F(SyncobjExporterTest, SyncFileAtZeroOfANewExporterIsSignaled) {
  SyncobjExporter ex = must(SyncobjExporter::create(dev_, "ex"));
  EXPECT_EQ(must(ex.fence_at(0)).status(), FenceStatus::signaled);
  SyncFile file = must(ex.sync_file_at(0));
  EXPECT_EQ(must(file.wait(std::chrono::nanoseconds::zero())), WaitStatus::signaled);
  bool delivered = false;
  SB_ASSERT_OK(ex.sync_file_at(0, [&](Result<SyncFile> f) {
    if (!f.ok()) return;
    auto w = f->wait(std::chrono::nanoseconds::zero());
    delivered = w.ok() && *w == WaitStatus::signaled;
  }));
  EXPECT_TRUE(delivered);
}

TEST_F(SyncobjExporterTest, StartsAtItsInitialValue) {
  SyncobjExporter ex = must(SyncobjExporter::create(dev_, "ex", 41));
  EXPECT_EQ(ex.value(), 41u);
  EXPECT_EQ(must(ex.syncobj().query()), 41u);
  EXPECT_EQ(must(ex.fence_at(41)).status(), FenceStatus::signaled);
}

TEST_F(SyncobjExporterTest, SyncFilesOfSubmittedPointsAtOnceAndOfFuturePointsWhenReached) {
  SyncobjExporter ex = must(SyncobjExporter::create(dev_));
  SB_ASSERT_OK(ex.advance(1));
  SyncFile now = must(ex.sync_file_at(1));
  EXPECT_EQ(must(now.status()), FenceStatus::signaled);
  SB_EXPECT_ERROR(ex.sync_file_at(2), Errc::invalid_argument, EINVAL);

  std::vector<std::uint64_t> got;
  auto collect = [&](std::uint64_t p) {
    return [&got, p](Result<SyncFile> f) {
      ASSERT_TRUE(f.ok()) << f.error().describe();
      EXPECT_EQ(must(f->status()), FenceStatus::signaled);
      got.push_back(p);
    };
  };
  SB_ASSERT_OK(ex.sync_file_at(1, collect(1)));  // submitted: at once
  SB_ASSERT_OK(ex.sync_file_at(3, collect(3)));
  SB_ASSERT_OK(ex.sync_file_at(5, collect(5)));
  SB_ASSERT_OK(ex.sync_file_at(3, collect(33)));
  EXPECT_EQ(got, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(ex.pending_sync_file_requests(), 3u);
  SB_ASSERT_OK(ex.advance(2));  // reaches 3
  EXPECT_EQ(got, (std::vector<std::uint64_t>{1, 3, 33}));
  SB_ASSERT_OK(ex.signal_to(7));
  EXPECT_EQ(got, (std::vector<std::uint64_t>{1, 3, 33, 5}));
  EXPECT_EQ(ex.pending_sync_file_requests(), 0u);
}

TEST_F(SyncobjExporterTest, CloseFailsPendingRequestsAndFences) {
  SyncobjExporter ex = must(SyncobjExporter::create(dev_));
  Fence f = must(ex.fence_at(2));
  bool told = false;
  SB_ASSERT_OK(ex.sync_file_at(2, [&](Result<SyncFile> r) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::timeline_closed);
    told = true;
  }));
  ex.close();
  EXPECT_TRUE(told);
  EXPECT_EQ(f.status(), FenceStatus::error);
  EXPECT_EQ(f.error_errno(), ENOENT);
  SB_EXPECT_ERROR(ex.advance(), Errc::timeline_closed, ENOENT);
  SB_EXPECT_ERROR(ex.sync_file_at(1, [](Result<SyncFile>) {}), Errc::timeline_closed, ENOENT);
  EXPECT_TRUE(ex.closed());
  SyncobjExporter empty;
  SB_EXPECT_ERROR(empty.advance(), Errc::invalid_handle, EBADF);
}

TEST_F(SyncobjExporterTest, ASecondDrmFileImportingTheSyncobjFdSeesTheAdvances) {
  SyncobjExporter ex = must(SyncobjExporter::create(dev_));
  DrmDevice other = must(DrmDevice::open(dev_.path()));  // another handle table, as a Vulkan driver has
  UniqueFd fd = must(ex.export_syncobj_fd());
  TimelineSyncobj theirs = must(TimelineSyncobj::import_fd(other, fd.get()));
  std::atomic<bool> woke{false}, returned{false};
  std::promise<pid_t> tid;
  std::thread waiter([&] {
    tid.set_value(current_tid());
    auto w = theirs.wait(2, 20s, SyncobjWait::for_submit);
    woke = w.ok() && *w == WaitStatus::signaled;
    returned = true;
  });
  // The advance comes once the other DRM file's waiter sleeps in the wait ioctl.
  EXPECT_TRUE(wait_until_thread_asleep_in(tid.get_future().get(), {SYS_ioctl}, [&] { return returned.load(); }))
      << "the wait returned without sleeping in the kernel";
  EXPECT_TRUE(ex.advance(2).ok());
  waiter.join();
  EXPECT_TRUE(woke);
}

TEST_F(SyncobjExporterTest, ConcurrentAdvancesKeepThePointsInOrder) {
  SyncobjExporter ex = must(SyncobjExporter::create(dev_));
  constexpr int kThreads = 4, kEach = 250;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < kEach; ++k) {
        EXPECT_TRUE(ex.advance(1).ok());
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ex.value(), std::uint64_t{kThreads * kEach});
  EXPECT_EQ(must(ex.syncobj().query()), std::uint64_t{kThreads * kEach});
  EXPECT_EQ(ex.timeline().value(), std::uint64_t{kThreads * kEach});
}

// ---- importer, with the eventfd and with the fallback thread ----

class SyncobjImporterTest : public DrmTest, public ::testing::WithParamInterface<bool> {
 protected:
  // GetParam(): true = pretend the kernel lacks DRM_IOCTL_SYNCOBJ_EVENTFD (fallback thread).
  DrmOpenOptions options() const override {
    DrmOpenOptions o;
    if (GetParam()) o.ignore = DrmCap::syncobj_eventfd;
    return o;
  }
  void SetUp() override {
    DrmTest::SetUp();
    if (IsSkipped()) return;
    if (!GetParam() && !dev_.has(DrmCap::syncobj_eventfd)) GTEST_SKIP() << "no syncobj eventfd: " << dev_.describe();
  }
};

TEST_P(SyncobjImporterTest, CoreFencesSignalWithTheKernelPoints) {
  Watcher w = must(Watcher::create());
  TimelineSyncobj t = make_timeline_syncobj();
  SB_ASSERT_OK(t.signal(1));
  {
    SyncobjImporter im = must(SyncobjImporter::create(w, t, "imported"));
    EXPECT_EQ(im.timeline().value(), 1u);
    Fence f3 = must(im.fence_at(3));
    Fence f5 = must(im.fence_at(5));
    Fence f5b = must(im.fence_at(5));
    EXPECT_EQ(f5, f5b);
    EXPECT_EQ(im.watch_count(), 2u);
    EXPECT_EQ(w.stats().syncobj_fallback, GetParam() ? 2u : 0u);
    SB_ASSERT_OK(t.signal(3));
    EXPECT_EQ(must(f3.wait(20s)), WaitStatus::signaled);
    EXPECT_EQ(f5.status(), FenceStatus::pending);
    SB_ASSERT_OK(t.signal(7));  // past 5: one kernel event covers it
    EXPECT_EQ(must(f5.wait(20s)), WaitStatus::signaled);
    // A point the kernel reached before anyone asked: the watch's re-check fires it.
    Fence f6 = must(im.fence_at(6));
    EXPECT_EQ(must(f6.wait(20s)), WaitStatus::signaled);
    // The watches are gone once they fired.
    for (int i = 0; i < 2000 && im.watch_count() != 0; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(im.watch_count(), 0u);
    Fence f9 = must(im.fence_at(9));
    im.close();  // removes the watch of 9, errors the fence
    EXPECT_EQ(f9.status(), FenceStatus::error);
    SB_EXPECT_ERROR(im.fence_at(10), Errc::timeline_closed, 0);
  }
  EXPECT_EQ(w.stats().watches, 0u);
}

TEST_P(SyncobjImporterTest, LowerPointsShareTheFirstKernelEvent) {
  Watcher w = must(Watcher::create(WatcherMode::caller_loop));
  TimelineSyncobj t = make_timeline_syncobj();
  SyncobjImporter im = must(SyncobjImporter::create(w, t));
  std::vector<Fence> fences;
  for (std::uint64_t p = 1; p <= 8; ++p) fences.push_back(must(im.fence_at(p)));
  EXPECT_EQ(im.watch_count(), 8u);
  SB_ASSERT_OK(t.signal(8));
  // Drive it from "our loop": poll the watcher's fd, dispatch.
  for (int i = 0; i < 200 && fences.back().status() == FenceStatus::pending; ++i) {
    if (readable(w.fd(), 100ms)) (void)must(w.dispatch());
  }
  for (const Fence& f : fences) {
    EXPECT_EQ(f.status(), FenceStatus::signaled);
  }
  EXPECT_EQ(im.watch_count(), 0u);
  (void)must(w.dispatch());
}

INSTANTIATE_TEST_SUITE_P(Mode, SyncobjImporterTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "fallback" : "eventfd"; });

// The fallback thread sees the kernel refuse its wait (ENOENT) when the syncobj goes away; the
// eventfd path has nothing to see (the kernel drops a destroyed syncobj's eventfds silently).
class SyncobjImporterFallbackTest : public DrmTest {
 protected:
  DrmOpenOptions options() const override { return {.ignore = DrmCap::syncobj_eventfd}; }
};

TEST_F(SyncobjImporterFallbackTest, ASyncobjThatDisappearsErrorsTheCoreSide) {
  Watcher w = must(Watcher::create());
  TimelineSyncobj t = make_timeline_syncobj();
  SyncobjImporter im = must(SyncobjImporter::create(w, t));
  Fence f = must(im.fence_at(2));
  // A contract violation on purpose: the importer's own handle vanishes behind its back (the
  // caller's t no longer can: the importer holds a second handle), so the fallback's wait now
  // fails with ENOENT.
  ASSERT_EQ(drmSyncobjDestroy(dev_.fd(), im.syncobj().handle()), 0);
  auto r = f.wait(20s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(f.status(), FenceStatus::error);
  SB_EXPECT_ERROR(im.fence_at(3), Errc::timeline_closed, 0);
}

}  // namespace
}  // namespace syncbridge::testing
