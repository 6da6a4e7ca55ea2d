// What closing a SyncobjExporter means (label "kernel"): every waiter of a point never reached
// is released, kernel and GPU waiters included, and a close() racing advance() leaves the core
// and the exporter's value telling the same story.
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "drm/drm_test_util.h"
#include "exporter_close_race.h"
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
  const int split =
      run_close_racing_advance([&] { return must(SyncobjExporter::create(dev_, "close-race")); },
                               [](SyncobjExporter&, std::uint64_t) {}, [](SyncobjExporter&, std::uint64_t, int) {});
  EXPECT_GT(split, 0) << "close() never landed before the last advance";
}

}  // namespace
}  // namespace syncbridge::testing
