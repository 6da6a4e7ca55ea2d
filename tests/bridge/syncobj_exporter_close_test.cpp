// What closing a SyncobjExporter means (label "kernel"): every waiter of a point never reached
// is released, kernel and GPU waiters included, and a close() racing advance() leaves the core
// and the exporter's value telling the same story.
#include <atomic>
#include <future>
#include <random>
#include <thread>
#include <vector>

#include "drm_test_util.h"
#include "syncbridge/syncobj_exporter.h"

namespace syncbridge::testing {
namespace {

using SyncobjExporterCloseTest = DrmTest;

// A kernel wait for a point never reached, as a GPU wait on a timeline semaphore imported from
// the syncobj's fd is: on its own handle (another importer's), blocked before the close.
// Regression: close() and destruction left it waiting forever.
class SyncobjWaiter {
 public:
  SyncobjWaiter(const DrmDevice& device, const SyncobjExporter& exporter, std::uint64_t point) {
    UniqueFd fd = must(exporter.export_syncobj_fd());
    handle_ = must(TimelineSyncobj::import_fd(device, fd.get()));
    result_ = std::async(std::launch::async, [this, point] {
      started_.store(true);
      return handle_.wait(point, std::chrono::seconds(20), SyncobjWait::for_submit);
    });
    while (!started_.load()) std::this_thread::yield();
  }
  // Blocks for at most the wait's own 20 s deadline.
  Result<WaitStatus> result() { return result_.get(); }

 private:
  TimelineSyncobj handle_;
  std::atomic<bool> started_{false};
  std::future<Result<WaitStatus>> result_;
};

TEST_F(SyncobjExporterCloseTest, CloseReleasesKernelWaitersOfPointsNeverReached) {
  SyncobjExporter ex = must(SyncobjExporter::create(dev_, "close-releases", 3));
  Fence five = must(ex.fence_at(5));
  SyncobjWaiter waiter(dev_, ex, 5);
  // Whether or not the waiter is asleep in the kernel yet, the point must end up signaled.
  ex.close();
  auto r = waiter.result();
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(*r, WaitStatus::signaled) << "the waiter of point 5 was not released by close()";
  EXPECT_EQ(five.status(), FenceStatus::error);
  EXPECT_EQ(five.error_errno(), ENOENT);
  EXPECT_EQ(ex.value(), 3u) << "value() keeps the last value advanced to";
  SB_EXPECT_ERROR(ex.advance(), Errc::timeline_closed, ENOENT);
}

TEST_F(SyncobjExporterCloseTest, DestructionReleasesKernelWaitersOfPointsNeverReached) {
  std::optional<SyncobjExporter> ex(must(SyncobjExporter::create(dev_, "destroy-releases")));
  SyncobjWaiter waiter(dev_, *ex, 1000);
  ex.reset();
  auto r = waiter.result();
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(*r, WaitStatus::signaled) << "the waiter of point 1000 was not released when the exporter went";
}

// Regression: close() used to close the core between an advance's syncobj signal and its core
// update: fences of a point the syncobj reached failed with ENOENT, and advance() reported
// timeline_closed for a step that was taken.
TEST_F(SyncobjExporterCloseTest, CloseRacingAdvanceLeavesValueAndCoreAgreeing) {
  constexpr int kRounds = 200;
  constexpr std::uint64_t kPoints = 6;
  std::mt19937 rng(20261130);
  int rounds_with_a_split = 0;
  for (int round = 0; round < kRounds && !HasFailure(); ++round) {
    SyncobjExporter ex = must(SyncobjExporter::create(dev_, "close-race"));
    std::vector<Fence> fences;
    for (std::uint64_t p = 1; p <= kPoints; ++p) fences.push_back(must(ex.fence_at(p)));
    std::atomic<bool> go{false};
    std::uint64_t steps_reported = 0;
    std::thread advancer([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      for (std::uint64_t p = 1; p <= kPoints; ++p) {
        auto r = ex.advance(1);
        if (!r.ok()) {
          EXPECT_EQ(r.error().code(), Errc::timeline_closed) << r.error().describe();
          break;
        }
        ++steps_reported;
      }
    });
    // Close right after the value moves to a random point: between that kernel step and its
    // core update, where the defect was, or just after it.
    const auto close_at = std::uniform_int_distribution<std::uint32_t>(1, kPoints - 1)(rng);
    go.store(true, std::memory_order_release);
    while (ex.value() < close_at) {
    }
    ex.close();
    advancer.join();

    EXPECT_EQ(ex.value(), steps_reported) << "round " << round << ": advance() failed after moving the syncobj";
    for (std::uint64_t p = 1; p <= kPoints; ++p) {
      const FenceStatus core = fences[p - 1].status();
      EXPECT_EQ(core, p <= ex.value() ? FenceStatus::signaled : FenceStatus::error)
          << "round " << round << " point " << p << " (value " << ex.value() << ")";
    }
    if (ex.value() > 0 && ex.value() < kPoints) ++rounds_with_a_split;
  }
  EXPECT_GT(rounds_with_a_split, 0) << "close() never landed before the last advance";
}

}  // namespace
}  // namespace syncbridge::testing
