// Binary and timeline syncobjs against a real DRM driver (label "kernel": virtio_gpu in the VM).
// Every test checks that no fd and no syncobj handle is left behind (DrmTest).
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "child_process.h"
#include "drm/drm_test_util.h"
#include "syncbridge/fd_passing.h"
#include "thread_state.h"

namespace syncbridge::testing {
namespace {

using SyncobjTest = DrmTest;
using SyncobjSwSyncTest = DrmSwSyncTest;

// ---- timeline basics ----

TEST_F(SyncobjTest, SignalQueryAndWaitFollowTheTimeline) {
  TimelineSyncobj t = make_timeline_syncobj();
  EXPECT_EQ(must(t.query()), 0u);
  // Not submitted: a plain wait is EINVAL (kernel), for_submit makes it "not yet".
  SB_EXPECT_ERROR(t.wait(1, 0ns), Errc::invalid_argument, EINVAL);
  EXPECT_EQ(must(t.wait(1, 0ns, SyncobjWait::for_submit)), WaitStatus::timed_out);
  EXPECT_EQ(must(t.wait(1, 0ns, SyncobjWait::available)), WaitStatus::timed_out);
  SB_ASSERT_OK(t.signal(1));
  EXPECT_EQ(must(t.query()), 1u);
  EXPECT_EQ(must(t.wait(1, 0ns)), WaitStatus::signaled);
  SB_ASSERT_OK(t.signal(5));
  EXPECT_EQ(must(t.query()), 5u);
  EXPECT_EQ(must(t.query_last_submitted()), 5u);
  EXPECT_EQ(must(t.wait(3, 0ns)), WaitStatus::signaled);  // between signaled points
  EXPECT_EQ(must(t.wait(6, 0ns, SyncobjWait::for_submit)), WaitStatus::timed_out);
  SB_EXPECT_ERROR(t.wait(6, -1ns, SyncobjWait::for_submit), Errc::invalid_argument, EINVAL);
}

TEST_F(SyncobjTest, ATimedOutWaitHonoursItsDeadline) {
  TimelineSyncobj t = make_timeline_syncobj();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(must(t.wait(1, 50ms, SyncobjWait::for_submit)), WaitStatus::timed_out);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 45ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(must(t.wait_until(1, std::chrono::steady_clock::now() + 20ms, SyncobjWait::for_submit)),
            WaitStatus::timed_out);
}

TEST_F(SyncobjTest, WaitForSubmitWakesWhenAnotherThreadSignals) {
  TimelineSyncobj t = make_timeline_syncobj();
  // The signal comes once this thread sleeps in the wait ioctl (WAIT_FOR_SUBMIT: no fence at
  // the point yet), so the wake-up is what is tested.
  const pid_t me = current_tid();
  std::atomic<bool> returned{false};
  std::thread signaler([&] {
    EXPECT_TRUE(wait_until_thread_asleep_in(me, {SYS_ioctl}, [&] { return returned.load(); }))
        << "the wait returned without sleeping in the kernel";
    EXPECT_TRUE(t.signal(2).ok());
  });
  auto w = t.wait(2, 20s, SyncobjWait::for_submit);
  returned = true;
  signaler.join();
  EXPECT_EQ(must(std::move(w)), WaitStatus::signaled);
}

TEST_F(SyncobjTest, WaitAllAndWaitAnyOverSeveralSyncobjs) {
  TimelineSyncobj a = make_timeline_syncobj();
  TimelineSyncobj b = make_timeline_syncobj();
  const SyncobjPoint both[] = {{a.handle(), 1}, {b.handle(), 1}};
  SB_ASSERT_OK(b.signal(1));
  auto any = must(wait_syncobjs(dev_, both, 0ns, SyncobjWait::for_submit));
  EXPECT_EQ(any.status, WaitStatus::signaled);
  EXPECT_EQ(any.index, 1u);
  EXPECT_EQ(must(wait_syncobjs(dev_, both, 10ms, SyncobjWait::for_submit | SyncobjWait::all)).status,
            WaitStatus::timed_out);
  SB_ASSERT_OK(a.signal(1));
  EXPECT_EQ(must(wait_syncobjs(dev_, both, 0ns, SyncobjWait::all)).status, WaitStatus::signaled);
  // Zero handles: signaled, as the kernel (IGT wait-zero-handles) and an empty FenceSet say.
  EXPECT_EQ(must(wait_syncobjs(dev_, {}, 0ns)).status, WaitStatus::signaled);
  EXPECT_EQ(must(wait_syncobjs(dev_, {}, 0ns, SyncobjWait::all)).status, WaitStatus::signaled);
  SB_EXPECT_ERROR(wait_syncobjs(dev_, {}, -1ns), Errc::invalid_argument, EINVAL);
}

TEST_F(SyncobjTest, WaitingOnADestroyedHandleIsNotFound) {
  TimelineSyncobj t = make_timeline_syncobj();
  SB_ASSERT_OK(t.signal(1));
  const std::uint32_t h = t.handle();
  t.destroy();
  EXPECT_FALSE(handle_exists(dev_.fd(), h));
  const SyncobjPoint p[] = {{h, 1}};
  SB_EXPECT_ERROR(wait_syncobjs(dev_, p, 0ns), Errc::not_found, ENOENT);
  SB_EXPECT_ERROR(wait_syncobjs(dev_, p, 10ms, SyncobjWait::for_submit), Errc::not_found, ENOENT);
}

// ---- binary ----

TEST_F(SyncobjTest, BinarySyncobjSignalResetAndWait) {
  BinarySyncobj b = must(BinarySyncobj::create(dev_));
  SB_EXPECT_ERROR(b.wait(0ns), Errc::invalid_argument, EINVAL);  // no fence at all
  EXPECT_EQ(must(b.wait(0ns, SyncobjWait::for_submit)), WaitStatus::timed_out);
  SB_ASSERT_OK(b.signal());
  EXPECT_EQ(must(b.wait(0ns)), WaitStatus::signaled);
  SB_ASSERT_OK(b.reset_fence());
  EXPECT_EQ(must(b.wait(0ns, SyncobjWait::for_submit)), WaitStatus::timed_out);
  SB_EXPECT_ERROR(b.export_sync_file(), Errc::invalid_argument, EINVAL);
  BinarySyncobj s = must(BinarySyncobj::create(dev_, /*signaled=*/true));
  EXPECT_EQ(must(s.wait(0ns)), WaitStatus::signaled);
  SyncFile f = must(s.export_sync_file());
  EXPECT_EQ(must(f.status()), FenceStatus::signaled);
}

// ---- transfer ----

TEST_F(SyncobjTest, TransferMovesFencesBetweenPointsAndBinarySyncobjs) {
  TimelineSyncobj a = make_timeline_syncobj();
  TimelineSyncobj b = make_timeline_syncobj();
  BinarySyncobj bin = must(BinarySyncobj::create(dev_));
  SB_ASSERT_OK(a.signal(3));
  SB_ASSERT_OK(b.transfer_from(7, a, 3));
  EXPECT_EQ(must(b.query()), 7u);
  SB_ASSERT_OK(a.transfer_to(bin, 2));
  EXPECT_EQ(must(bin.wait(0ns)), WaitStatus::signaled);
  SB_ASSERT_OK(b.transfer_from(9, bin));
  EXPECT_EQ(must(b.query()), 9u);
}

TEST_F(SyncobjTest, TransferOrExportFromAnUnsubmittedPointIsAnInvalidArgument) {
  TimelineSyncobj a = make_timeline_syncobj();
  TimelineSyncobj b = make_timeline_syncobj();
  BinarySyncobj bin = must(BinarySyncobj::create(dev_));
  SB_ASSERT_OK(a.signal(1));
  SB_EXPECT_ERROR(a.transfer_to(bin, 4), Errc::invalid_argument, EINVAL);
  SB_EXPECT_ERROR(b.transfer_from(1, a, 4), Errc::invalid_argument, EINVAL);
  const std::uint32_t before = next_free_handle(dev_);
  auto r = a.export_sync_file(4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  EXPECT_EQ(r.error().sys_errno(), EINVAL);
  EXPECT_NE(r.error().message().find("not submitted"), std::string::npos) << r.error().describe();
  EXPECT_EQ(next_free_handle(dev_), before);
}

// ---- sync_file export/import of a point, through a temporary binary syncobj ----

TEST_F(SyncobjTest, ExportingAPointLeavesNoTemporaryHandleBehind) {
  TimelineSyncobj t = make_timeline_syncobj();
  SB_ASSERT_OK(t.signal(2));
  const std::uint32_t before = next_free_handle(dev_);
  for (int i = 0; i < 16; ++i) {
    SyncFile f = must(t.export_sync_file(i % 2 + 1));
    EXPECT_EQ(must(f.status()), FenceStatus::signaled);
  }
  // The temporary was `before` each time and is gone again.
  EXPECT_EQ(next_free_handle(dev_), before);
  EXPECT_FALSE(handle_exists(dev_.fd(), before));
}

TEST_F(SyncobjSwSyncTest, APendingSyncFileImportedAtAPointKeepsTheEarlierPoints) {
  TimelineSyncobj t = make_timeline_syncobj();
  SB_ASSERT_OK(t.signal(2));
  SwSyncTimeline sw = must(SwSyncTimeline::open());
  SyncFile pending = must(sw.create_fence(1));
  const std::uint32_t before = next_free_handle(dev_);
  SB_ASSERT_OK(t.import_sync_file(5, pending.fd()));
  EXPECT_EQ(next_free_handle(dev_), before);  // the temporary is gone
  // Imported into point 5 through a transfer: point 2 is still there and signaled. (Importing
  // straight into the timeline handle would have replaced the whole chain: query() 0.)
  EXPECT_EQ(must(t.query()), 2u);
  EXPECT_EQ(must(t.query_last_submitted()), 5u);
  EXPECT_EQ(must(t.wait(2, 0ns)), WaitStatus::signaled);
  EXPECT_EQ(must(t.wait(5, 0ns, SyncobjWait::available)), WaitStatus::signaled);
  EXPECT_EQ(must(t.wait(5, 0ns)), WaitStatus::timed_out);
  // Its exported sync_file is pending too, and both signal with the sw_sync timeline.
  SyncFile out = must(t.export_sync_file(5));
  EXPECT_EQ(must(out.status()), FenceStatus::pending);
  EXPECT_EQ(next_free_handle(dev_), before);
  SB_ASSERT_OK(sw.inc(1));
  EXPECT_EQ(must(t.wait(5, 10s)), WaitStatus::signaled);
  EXPECT_EQ(must(out.wait(10s)), WaitStatus::signaled);
  EXPECT_EQ(must(t.query()), 5u);
}

TEST_F(SyncobjTest, AFailedImportLeavesNoTemporaryHandleBehind) {
  TimelineSyncobj t = make_timeline_syncobj();
  const std::uint32_t before = next_free_handle(dev_);
  UniqueFd not_a_sync_file(::eventfd(0, EFD_CLOEXEC));
  auto r = t.import_sync_file(3, not_a_sync_file.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_argument) << r.error().describe();
  SB_EXPECT_ERROR(t.import_sync_file(3, -1), Errc::invalid_argument, EINVAL);
  EXPECT_EQ(next_free_handle(dev_), before);
  EXPECT_EQ(must(t.query_last_submitted()), 0u);  // nothing reached the timeline
  SB_EXPECT_ERROR(BinarySyncobj::from_sync_file(dev_, not_a_sync_file.get()), Errc::invalid_argument, EINVAL);
  EXPECT_EQ(next_free_handle(dev_), before);
}

TEST_F(SyncobjSwSyncTest, ABinarySyncobjFromASyncFileWaitsForIt) {
  SwSyncTimeline sw = must(SwSyncTimeline::open());
  SyncFile pending = must(sw.create_fence(1));
  BinarySyncobj b = must(BinarySyncobj::from_sync_file(dev_, pending.fd()));
  EXPECT_EQ(must(b.wait(0ns)), WaitStatus::timed_out);
  SB_ASSERT_OK(sw.inc(1));
  EXPECT_EQ(must(b.wait(10s)), WaitStatus::signaled);
}

// What watcher.h documents about errors: a binary syncobj holds the errored fence itself, but
// a timeline point does not keep the error in 6.12 (the transfer replaces an already-completed
// fence by a stub, and dma_fence_chain signals without its contained fence's error).
TEST_F(SyncobjSwSyncTest, AFenceErrorSurvivesInABinarySyncobjButNotAtATimelinePoint) {
  auto sw = std::make_unique<SwSyncTimeline>(must(SwSyncTimeline::open()));
  SyncFile early = must(sw->create_fence(1));
  SyncFile late = must(sw->create_fence(2));
  TimelineSyncobj t = make_timeline_syncobj();
  SB_ASSERT_OK(t.import_sync_file(2, late.fd()));  // pending when imported, errors later
  sw.reset();                                      // both fences complete with -ENOENT
  ASSERT_EQ(must(early.status()), FenceStatus::error);
  SB_ASSERT_OK(t.import_sync_file(1, early.fd()));  // errored when imported (out of order: a test)

  BinarySyncobj b = must(BinarySyncobj::from_sync_file(dev_, early.fd()));
  SyncFileInfo binary = must(must(b.export_sync_file()).info());
  EXPECT_EQ(binary.status, FenceStatus::error);
  EXPECT_EQ(binary.error_errno, ENOENT);

  EXPECT_EQ(must(t.wait(2, 10s)), WaitStatus::signaled);
  for (std::uint64_t p : {1u, 2u}) {
    SyncFileInfo point = must(must(t.export_sync_file(p)).info());
    std::printf("timeline point %llu after an errored fence: status %d, errno %d, %zu fence(s), driver '%s'\n",
                static_cast<unsigned long long>(p), static_cast<int>(point.status), point.error_errno,
                point.fences.size(), point.fences.empty() ? "" : point.fences[0].driver_name.c_str());
    EXPECT_NE(point.status, FenceStatus::pending);
    if (kernel_version() <= 612) {
      EXPECT_EQ(point.status, FenceStatus::signaled) << "the kernel now keeps the error: update watcher.h";
    }
  }
}

// ---- syncobj fds: handle <-> fd, and across processes ----

TEST_F(SyncobjTest, ASyncobjFdGivesASecondHandleToTheSameSyncobj) {
  TimelineSyncobj t = make_timeline_syncobj();
  UniqueFd fd = must(t.export_fd());
  TimelineSyncobj again = must(TimelineSyncobj::import_fd(dev_, fd.get()));
  EXPECT_NE(again.handle(), t.handle());
  SB_ASSERT_OK(t.signal(4));
  EXPECT_EQ(must(again.query()), 4u);
  UniqueFd foreign(::eventfd(0, EFD_CLOEXEC));
  SB_EXPECT_ERROR(TimelineSyncobj::import_fd(dev_, foreign.get()), Errc::invalid_argument, EINVAL);
}

TEST_F(SyncobjTest, ASyncobjFdSignaledInAnotherProcessWakesThisOne) {
  TimelineSyncobj t = make_timeline_syncobj();
  ChildProcess child([](int sock) {
    // Its own DRM file (a handle table of its own), as another process would have.
    auto dev = DrmDevice::open_render_node();
    if (!dev) return 10;
    auto fd = receive_fd(sock);
    if (!fd) return 11;
    auto imported = TimelineSyncobj::import_fd(*dev, fd->get());
    if (!imported) return 12;
    auto w = imported->wait(1, 0ns);  // the parent signaled point 1 before sending
    if (!w || *w != WaitStatus::signaled) return 13;
    char go = 0;  // the parent says when it sleeps in its wait for point 3
    if (::read(sock, &go, 1) != 1) return 15;
    if (!imported->signal(3)) return 14;
    return 0;
  });
  ASSERT_TRUE(child.started());
  SB_ASSERT_OK(t.signal(1));
  UniqueFd fd = must(t.export_fd());
  SB_ASSERT_OK(send_fd(child.socket(), fd.get()));
  fd.reset();
  // The child signals point 3 only once this thread sleeps in the wait ioctl for it: the wake
  // crosses processes, it is not found done on arrival.
  const pid_t me = current_tid();
  std::atomic<bool> returned{false};
  std::thread go([&] {
    EXPECT_TRUE(wait_until_thread_asleep_in(me, {SYS_ioctl}, [&] { return returned.load(); }))
        << "the wait returned without sleeping in the kernel";
    const char g = 'g';
    EXPECT_EQ(::send(child.socket(), &g, 1, MSG_NOSIGNAL), 1);
  });
  auto w = t.wait(3, 20s, SyncobjWait::for_submit);
  returned = true;
  go.join();
  EXPECT_EQ(must(std::move(w)), WaitStatus::signaled);
  EXPECT_TRUE(child.exited_with(0, "the parent's wake-up to signal point 3"));
  EXPECT_EQ(must(t.query()), 3u);
}

// ---- eventfd (DRM_IOCTL_SYNCOBJ_EVENTFD) ----

class SyncobjEventfdTest : public DrmTest {
 protected:
  void SetUp() override {
    DrmTest::SetUp();
    if (IsSkipped()) return;
    if (!dev_.has(DrmCap::syncobj_eventfd))
      GTEST_SKIP() << "no DRM_IOCTL_SYNCOBJ_EVENTFD (kernel before 6.6): " << dev_.describe();
  }
};

TEST_F(SyncobjEventfdTest, FiresWhenThePointSignals) {
  TimelineSyncobj t = make_timeline_syncobj();
  UniqueFd efd = must(t.eventfd_at(2));
  EXPECT_FALSE(readable(efd.get(), 0ms));
  SB_ASSERT_OK(t.signal(1));
  EXPECT_FALSE(readable(efd.get(), 20ms));
  SB_ASSERT_OK(t.signal(2));
  EXPECT_TRUE(readable(efd.get(), 10000ms));
}

TEST_F(SyncobjEventfdTest, APointAlreadySignaledFiresAtOnceEvenAfterALaterPoint) {
  // The case upstream fix 2aa6f5b0fd05 is about: point 1 signaled, point 2 submitted, then the
  // registration for point 1. The re-check makes it fire on any kernel.
  TimelineSyncobj t = make_timeline_syncobj();
  SB_ASSERT_OK(t.signal(1));
  SB_ASSERT_OK(t.signal(2));
  UniqueFd efd = must(t.eventfd_at(1));
  EXPECT_TRUE(readable(efd.get(), 0ms));
}

TEST_F(SyncobjEventfdTest, WhenAvailableFiresOnSubmissionNotCompletion) {
  if (auto why = sw_sync_missing()) GTEST_SKIP() << *why;
  TimelineSyncobj t = make_timeline_syncobj();
  UniqueFd avail = must(t.eventfd_at(4, /*when_available=*/true));
  UniqueFd done = must(t.eventfd_at(4));
  SwSyncTimeline sw = must(SwSyncTimeline::open());
  SyncFile pending = must(sw.create_fence(1));
  SB_ASSERT_OK(t.import_sync_file(4, pending.fd()));
  EXPECT_TRUE(readable(avail.get(), 10000ms));
  EXPECT_FALSE(readable(done.get(), 20ms));
  SB_ASSERT_OK(sw.inc(1));
  EXPECT_TRUE(readable(done.get(), 10000ms));
}

TEST_F(SyncobjEventfdTest, RegisteringOnAnotherFdThanAnEventfdFails) {
  TimelineSyncobj t = make_timeline_syncobj();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  SB_EXPECT_ERROR(t.register_eventfd(1, r.get()), Errc::invalid_argument, EINVAL);
}

TEST_F(SyncobjTest, EventfdMissingIsUnsupported) {
  DrmDevice no_eventfd = must(DrmDevice::open(dev_.path(), {.ignore = DrmCap::syncobj_eventfd}));
  TimelineSyncobj t = must(TimelineSyncobj::create(no_eventfd));
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
  auto r = t.register_eventfd(1, efd.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::unsupported);
  EXPECT_EQ(r.error().sys_errno(), EOPNOTSUPP);
  EXPECT_NE(r.error().message().find("syncobj_eventfd"), std::string::npos) << r.error().describe();
}

}  // namespace
}  // namespace syncbridge::testing
