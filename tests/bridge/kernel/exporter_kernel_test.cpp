// SwSyncExporter against the real kernel (label "kernel").
#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "bridge_test_util.h"
#include "syncbridge/kernel_probe.h"

namespace syncbridge::testing {
namespace {

using Clock = std::chrono::steady_clock;

class ExporterTest : public KernelTest {
 protected:
  static SwSyncExporter make(std::uint32_t initial = 0, std::string name = "exporter-test") {
    return must(SwSyncExporter::create(std::move(name), initial), "SwSyncExporter::create");
  }
  static bool signaled(const SyncFile& f) {
    auto r = f.wait(0ns);
    return r.ok() && *r == WaitStatus::signaled;
  }
};

TEST_F(ExporterTest, AFuturePointIsPendingUntilAdvancedTo) {
  SwSyncExporter e = make();
  EXPECT_EQ(e.value(), 0u);
  EXPECT_EQ(e.name(), "exporter-test");
  SyncFile f = must(e.sync_file_at(2));
  Fence core = must(e.fence_at(2));
  EXPECT_EQ(e.held_fence_count(), 1u);
  EXPECT_FALSE(signaled(f));
  SB_ASSERT_OK(e.advance(1));
  EXPECT_FALSE(signaled(f));
  EXPECT_EQ(core.status(), FenceStatus::pending);
  EXPECT_EQ(e.held_fence_count(), 1u);
  SB_ASSERT_OK(e.advance());
  EXPECT_TRUE(signaled(f));
  EXPECT_EQ(core.status(), FenceStatus::signaled);
  EXPECT_EQ(e.held_fence_count(), 0u) << "the held fd goes once the INC that signaled it returned";
  EXPECT_EQ(e.value(), 2u);
  EXPECT_EQ(e.timeline().value(), 2u);
  const SyncFileInfo info = must(f.info());
  ASSERT_EQ(info.fences.size(), 1u);
  EXPECT_EQ(info.fences[0].driver_name, "sw_sync");
  EXPECT_EQ(info.fences[0].status, FenceStatus::signaled);
}

TEST_F(ExporterTest, APastOrCurrentPointIsSignaledAndNotHeld) {
  SwSyncExporter e = make(10);
  EXPECT_EQ(e.value(), 10u);
  EXPECT_TRUE(signaled(must(e.sync_file_at(5))));
  EXPECT_TRUE(signaled(must(e.sync_file_at(10))));
  EXPECT_TRUE(signaled(must(e.sync_file_at(0))));
  EXPECT_EQ(e.held_fence_count(), 0u);
  EXPECT_FALSE(signaled(must(e.sync_file_at(11))));
  EXPECT_EQ(e.held_fence_count(), 1u);
}

TEST_F(ExporterTest, TheSamePendingPointTwiceSharesOneKernelFence) {
  SwSyncExporter e = make();
  SyncFile a = must(e.sync_file_at(7));
  SyncFile b = must(e.sync_file_at(7));
  SyncFile c = must(e.sync_file_at(8));
  EXPECT_EQ(e.held_fence_count(), 2u);
  EXPECT_NE(a.fd(), b.fd());
  EXPECT_TRUE(same_open_file(a.fd(), b.fd())) << "both are dups of the one held fd";
  EXPECT_FALSE(same_open_file(a.fd(), c.fd()));
  EXPECT_EQ(must(a.info()).name, must(b.info()).name);
  SB_ASSERT_OK(e.signal_to(7));
  EXPECT_TRUE(signaled(a));
  EXPECT_TRUE(signaled(b));
  EXPECT_FALSE(signaled(c));
  EXPECT_EQ(e.held_fence_count(), 1u);
}

TEST_F(ExporterTest, HeldFdsDropToZeroInAnyOrderOfPoints) {
  SwSyncExporter e = make();
  std::vector<std::uint32_t> points(100);
  for (std::uint32_t i = 0; i < points.size(); ++i) points[i] = i + 1;
  std::shuffle(points.begin(), points.end(), std::mt19937(12345));
  std::vector<std::pair<std::uint32_t, SyncFile>> files;
  for (std::uint32_t p : points) files.emplace_back(p, must(e.sync_file_at(p)));
  for (std::uint32_t p : {50u, 3u, 99u}) files.emplace_back(p, must(e.sync_file_at(p)));  // again
  EXPECT_EQ(e.held_fence_count(), 100u);
  SB_ASSERT_OK(e.signal_to(50));
  EXPECT_EQ(e.held_fence_count(), 50u);
  for (const auto& [p, f] : files) EXPECT_EQ(signaled(f), p <= 50) << "point " << p;
  SB_ASSERT_OK(e.advance(50));
  EXPECT_EQ(e.held_fence_count(), 0u);
  for (const auto& [p, f] : files) EXPECT_TRUE(signaled(f)) << "point " << p;
}

TEST_F(ExporterTest, ConsumersMayCloseEverythingBeforeTheAdvance) {
  SwSyncExporter e = make();
  for (int round = 0; round < 10; ++round) {
    {
      std::vector<SyncFile> batch;
      for (std::uint32_t i = 1; i <= 64; ++i) batch.push_back(must(e.sync_file_at(e.value() + i)));
    }  // every consumer fd closed: only the exporter's keep the 64 kernel fences
    EXPECT_EQ(e.held_fence_count(), 64u);
    for (int i = 0; i < 64; ++i) SB_ASSERT_OK(e.advance(1));
    EXPECT_EQ(e.held_fence_count(), 0u);
  }
  EXPECT_EQ(e.value(), 640u);
}

TEST_F(ExporterTest, PointsBeyondU32AreOutOfRange) {
  SwSyncExporter e = make();
  SB_EXPECT_ERROR(e.sync_file_at(1ULL << 32), Errc::out_of_range, ERANGE);
  SB_EXPECT_ERROR(e.signal_to(1ULL << 32), Errc::out_of_range, ERANGE);
  SB_EXPECT_ERROR(e.fence_at(1ULL << 32), Errc::out_of_range, ERANGE);
  EXPECT_EQ(e.value(), 0u);
}

TEST_F(ExporterTest, SignalToBehindIsBackwardsAndToTheValueIsANoOp) {
  SwSyncExporter e = make(10);
  auto r = e.signal_to(5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::backwards);
  EXPECT_EQ(r.error().sys_errno(), EINVAL);
  SB_ASSERT_OK(e.signal_to(10));
  SB_ASSERT_OK(e.advance(0));
  EXPECT_EQ(e.value(), 10u);
  EXPECT_EQ(e.timeline().value(), 10u);
}

TEST_F(ExporterTest, CloseErrorsPendingKernelAndCoreFencesWithENOENT) {
  SwSyncExporter e = make();
  SyncFile pending = must(e.sync_file_at(5));
  Fence core = must(e.fence_at(5));
  SB_ASSERT_OK(e.advance(1));
  SyncFile done = must(e.sync_file_at(1));
  e.close();
  EXPECT_TRUE(e.closed());
  EXPECT_EQ(e.held_fence_count(), 0u);
  auto w = pending.wait(1s);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code(), Errc::fence_error);
  EXPECT_EQ(w.error().sys_errno(), ENOENT);
  EXPECT_EQ(core.status(), FenceStatus::error);
  EXPECT_EQ(core.error_errno(), ENOENT);
  EXPECT_TRUE(signaled(done));
  SB_EXPECT_ERROR(e.sync_file_at(9), Errc::timeline_closed, ENOENT);
  SB_EXPECT_ERROR(e.advance(1), Errc::timeline_closed, ENOENT);
  SB_EXPECT_ERROR(e.signal_to(9), Errc::timeline_closed, ENOENT);
  SB_EXPECT_ERROR(e.poll_deadlines(), Errc::timeline_closed, ENOENT);
  e.close();  // idempotent
}

TEST_F(ExporterTest, DestroyingTheExporterClosesIt) {
  SyncFile pending;
  Fence core;
  {
    SwSyncExporter e = make();
    pending = must(e.sync_file_at(1));
    core = must(e.fence_at(1));
    SwSyncExporter moved = std::move(e);  // the state moves; e is empty now
    EXPECT_FALSE(e.valid());              // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(moved.held_fence_count(), 1u);
  }
  SB_EXPECT_ERROR(pending.wait(1s), Errc::fence_error, ENOENT);
  EXPECT_EQ(core.status(), FenceStatus::error);
}

TEST_F(ExporterTest, WrapsAcross2To32) {
  SwSyncExporter e = make(0xfffffff0u);
  SyncFile f = must(e.sync_file_at(5));  // 21 ahead, past the wrap
  Fence core = must(e.fence_at(5));
  SyncFile before_wrap = must(e.sync_file_at(0xfffffffeu));
  EXPECT_EQ(e.held_fence_count(), 2u);
  SB_ASSERT_OK(e.advance(20));
  EXPECT_EQ(e.value(), 4u);
  EXPECT_EQ(e.timeline().value(), 4u);
  EXPECT_TRUE(signaled(before_wrap));
  EXPECT_FALSE(signaled(f));
  EXPECT_EQ(core.status(), FenceStatus::pending);
  EXPECT_EQ(e.held_fence_count(), 1u);
  SB_ASSERT_OK(e.advance(1));
  EXPECT_TRUE(signaled(f));
  EXPECT_EQ(core.status(), FenceStatus::signaled);
  EXPECT_EQ(e.held_fence_count(), 0u);
  // A point "behind" by u32 comparison is reached, as the kernel sees it.
  EXPECT_TRUE(signaled(must(e.sync_file_at(0xfffffff8u))));
  const std::string name = must(must(e.sync_file_at(5)).info()).name;
  EXPECT_EQ(name.substr(name.size() - 2), "-5") << name;
}

TEST_F(ExporterTest, AStepOfHalfTheRangeOrMoreReachesEverything) {
  SwSyncExporter e = make();
  std::vector<SyncFile> files;
  for (std::uint32_t p : {1u, 1000u, 0x7fffffffu}) files.push_back(must(e.sync_file_at(p)));
  SB_ASSERT_OK(e.advance(0x90000000u));  // the kernel walks it in INT_MAX steps
  EXPECT_EQ(e.value(), 0x90000000u);
  EXPECT_EQ(e.held_fence_count(), 0u);
  for (const SyncFile& f : files) EXPECT_TRUE(signaled(f));
}

TEST_F(ExporterTest, CoreCallbacksMayCallBackIntoTheExporter) {
  SwSyncExporter e = make();
  Fence core = must(e.fence_at(1));
  std::atomic<bool> ran{false};
  SyncFile from_callback;
  auto reg = must(core.on_complete([&](const Fence&) {
    // Runs on the advancing thread, outside the exporter's lock: no deadlock.
    from_callback = must(e.sync_file_at(3));
    (void)e.advance(1);
    ran = true;
  }));
  SB_ASSERT_OK(e.advance(1));
  EXPECT_TRUE(ran.load());
  EXPECT_EQ(e.value(), 2u);
  EXPECT_FALSE(signaled(from_callback));
  SB_ASSERT_OK(e.advance(1));
  EXPECT_TRUE(signaled(from_callback));
}

TEST_F(ExporterTest, ConsumerDeadlinesReachTheCoreTimeline) {
  const SyncProbe p = probe_sync_features();
  if (!p.has(SyncFeature::sync_file_set_deadline) || !p.has(SyncFeature::sw_sync_get_deadline))
    SB_SKIP_OR_FAIL_IN_VM("kernel without the 6.5+ deadline ioctls:\n" + p.describe());
  SwSyncExporter e = make();
  SyncFile at5 = must(e.sync_file_at(5));
  SyncFile at9 = must(e.sync_file_at(9));
  EXPECT_EQ(must(e.poll_deadlines()), 0u);
  EXPECT_FALSE(e.earliest_deadline().has_value());

  const auto d9 = Clock::now() + 3s;
  const auto d5 = Clock::now() + 5s;
  SB_ASSERT_OK(at9.set_deadline(d9));  // the consumer's side: plain SYNC_IOC_SET_DEADLINE
  SB_ASSERT_OK(at5.set_deadline(d5));
  EXPECT_FALSE(e.earliest_deadline().has_value()) << "not before poll_deadlines()";
  EXPECT_EQ(must(e.poll_deadlines()), 2u);
  ASSERT_TRUE(e.earliest_deadline().has_value());
  EXPECT_EQ(*e.earliest_deadline(), d9);
  EXPECT_EQ(must(e.fence_at(5)).deadline(), d5);

  const auto sooner = Clock::now() + 1s;
  SB_ASSERT_OK(must(e.sync_file_at(5)).set_deadline(sooner));  // another consumer, same fence
  EXPECT_EQ(must(e.poll_deadlines()), 2u);
  EXPECT_EQ(*e.earliest_deadline(), sooner);

  SB_ASSERT_OK(e.advance(5));
  EXPECT_EQ(*e.earliest_deadline(), d9) << "point 5 signaled: its hint left with it";
  EXPECT_EQ(must(e.poll_deadlines()), 1u);
  SB_ASSERT_OK(e.advance(4));
  EXPECT_FALSE(e.earliest_deadline().has_value());
  EXPECT_EQ(must(e.poll_deadlines()), 0u);
}

TEST_F(ExporterTest, ConcurrentTakersAndAdvancersAgree) {
  SwSyncExporter e = make(0xffffff00u);  // crosses the wrap on the way
  std::atomic<bool> stop{false};
  std::atomic<long> wrong{0}, taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      while (!stop.load()) {
        const auto v = static_cast<std::uint32_t>(e.value());
        SyncFile past = must(e.sync_file_at(v));
        SyncFile future = must(e.sync_file_at(static_cast<std::uint32_t>(v + 3)));
        if (!signaled(past)) ++wrong;
        taken += 2;
      }
    });
  int failed_advances = 0;
  for (int i = 0; i < 2000; ++i) failed_advances += e.advance(1).ok() ? 0 : 1;
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed_advances, 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(taken.load(), 0);
  EXPECT_EQ(e.value(), static_cast<std::uint32_t>(0xffffff00u + 2000));
  EXPECT_EQ(e.timeline().value(), e.value());
  SB_ASSERT_OK(e.advance(3));
  EXPECT_EQ(e.held_fence_count(), 0u);
}

}  // namespace
}  // namespace syncbridge::testing
