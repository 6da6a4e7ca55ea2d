// What closing a SwSyncExporter means while another thread advances it (label "kernel"): the
// kernel and the core must tell the same story about every point, and advance() must not
// report a failure for a step the kernel took.
#include <vector>

#include "bridge_test_util.h"
#include "exporter_close_race.h"

namespace syncbridge::testing {
namespace {

using ExporterCloseTest = KernelTest;

// Regression: close() used to close the core between an advance's kernel INC and its core
// update, so fences the kernel signaled failed with ENOENT on the core side, and advance()
// reported timeline_closed after a successful INC. The kernel's sync_files must agree too.
TEST_F(ExporterCloseTest, CloseRacingAdvanceLeavesKernelAndCoreAgreeing) {
  std::vector<SyncFile> files;
  const int split = run_close_racing_advance(
      [&] {
        files.clear();
        return must(SwSyncExporter::create("close-race"));
      },
      [&](SwSyncExporter& e, std::uint64_t p) { files.push_back(must(e.sync_file_at(p))); },
      [&](SwSyncExporter& e, std::uint64_t p, int round) {
        const SyncFileInfo kernel = must(files[p - 1].info());
        EXPECT_EQ(kernel.status, p <= e.value() ? FenceStatus::signaled : FenceStatus::error)
            << "round " << round << " point " << p << " (value " << e.value() << "): the kernel says "
            << fence_status_name(kernel.status);
      });
  EXPECT_GT(split, 0) << "close() never landed before the last advance";
}

// Closing from a core callback that runs inside advance(): the core close waits for that
// advance to finish its own points, which stay signaled.
TEST_F(ExporterCloseTest, CloseFromACallbackOfItsOwnAdvance) {
  SwSyncExporter e = must(SwSyncExporter::create("close-in-callback"));
  Fence two = must(e.fence_at(2));
  Fence three = must(e.fence_at(3));
  SyncFile three_file = must(e.sync_file_at(3));
  auto reg = must(two.on_complete([&](const Fence&) { e.close(); }));
  SB_ASSERT_OK(e.advance(2));
  EXPECT_TRUE(e.closed());
  EXPECT_EQ(two.status(), FenceStatus::signaled);
  EXPECT_EQ(three.status(), FenceStatus::error);
  EXPECT_EQ(three.error_errno(), ENOENT);
  const SyncFileInfo info = must(three_file.info());
  EXPECT_EQ(info.status, FenceStatus::error);
  EXPECT_EQ(info.error_errno, ENOENT);
  SB_EXPECT_ERROR(e.advance(1), Errc::timeline_closed, ENOENT);
}

}  // namespace
}  // namespace syncbridge::testing
