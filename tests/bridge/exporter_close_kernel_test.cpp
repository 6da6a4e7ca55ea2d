// What closing a SwSyncExporter means while another thread advances it (label "kernel"): the
// kernel and the core must tell the same story about every point, and advance() must not
// report a failure for a step the kernel took.
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "bridge_test_util.h"

namespace syncbridge::testing {
namespace {

using ExporterCloseTest = KernelTest;

const char* name_of(FenceStatus s) {
  switch (s) {
    case FenceStatus::pending: return "pending";
    case FenceStatus::signaled: return "signaled";
    case FenceStatus::error: return "error";
  }
  return "?";
}

// Regression: close() used to close the core between an advance's kernel INC and its core
// update, so fences the kernel signaled failed with ENOENT on the core side, and advance()
// reported timeline_closed after a successful INC.
TEST_F(ExporterCloseTest, CloseRacingAdvanceLeavesKernelAndCoreAgreeing) {
  constexpr int kRounds = 200;
  constexpr std::uint32_t kPoints = 6;
  std::mt19937 rng(20261130);
  int rounds_with_a_split = 0;
  for (int round = 0; round < kRounds && !HasFailure(); ++round) {
    SwSyncExporter e = must(SwSyncExporter::create("close-race"));
    std::vector<SyncFile> files;
    std::vector<Fence> fences;
    for (std::uint32_t p = 1; p <= kPoints; ++p) {
      files.push_back(must(e.sync_file_at(p)));
      fences.push_back(must(e.fence_at(p)));
    }
    std::atomic<bool> go{false};
    std::uint32_t steps_reported = 0;
    std::thread advancer([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      for (std::uint32_t p = 1; p <= kPoints; ++p) {
        auto r = e.advance(1);
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
    while (e.value() < close_at) {
    }
    e.close();
    advancer.join();

    EXPECT_EQ(e.value(), steps_reported) << "round " << round << ": advance() failed after moving the kernel";
    for (std::uint32_t p = 1; p <= kPoints; ++p) {
      const SyncFileInfo kernel = must(files[p - 1].info());
      const FenceStatus core = fences[p - 1].status();
      ASSERT_NE(kernel.status, FenceStatus::pending) << "round " << round << " point " << p;
      ASSERT_NE(core, FenceStatus::pending) << "round " << round << " point " << p;
      EXPECT_EQ(core, kernel.status) << "round " << round << " point " << p << " (value " << e.value()
                                     << "): the kernel says " << name_of(kernel.status) << ", the core "
                                     << name_of(core);
      EXPECT_EQ(kernel.status == FenceStatus::signaled, p <= e.value()) << "round " << round << " point " << p;
    }
    if (e.value() > 0 && e.value() < kPoints) ++rounds_with_a_split;
  }
  // The test means something only when close() landed mid-run in some rounds.
  EXPECT_GT(rounds_with_a_split, 0) << "close() never landed before the last advance";
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
