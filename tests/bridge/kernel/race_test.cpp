// The proof that SwSyncExporter defuses sw_sync's refcount race (label "kernel;stress").
//
// The seed's crash needs a pending fence's last fd to be closed while SW_SYNC_IOC_INC walks
// the timeline's list. Here consumers do exactly what crashes the raw interface (take 64
// pending sync_files, close them all at once) while other threads advance by 1 as fast as they
// can. With the exporter holding its own fd to every pending fence until the INC that signaled
// it has returned, the kernel must stay clean: the VM harness fails the run on any WARNING,
// BUG, Oops or lockdep report in dmesg (tests/bridge/kernel_bug_repro.cpp is the negative
// control that shows the same pattern crashing the kernel without the exporter).
// SYNCBRIDGE_RACE_SECONDS sets the duration (default 20).
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "bridge_test_util.h"

namespace syncbridge::testing {
namespace {

int race_seconds() {
  const char* s = std::getenv("SYNCBRIDGE_RACE_SECONDS");
  const int n = s ? std::atoi(s) : 20;
  return n > 0 ? n : 20;
}

class RaceTest : public KernelTest {};

TEST_F(RaceTest, ConsumersClosingPendingSyncFilesWhileTheExporterAdvances) {
  constexpr int kTakers = 2, kAdvancers = 2, kBatch = 64;
  // Starts just below 2^32 so the run crosses the u32 wrap early on.
  constexpr std::uint32_t kStart = 0xffffffffu - 5000;
  SwSyncExporter e = must(SwSyncExporter::create("race", kStart));
  // One point far ahead (never reached in a run), asked for again and again: one held fence.
  constexpr std::uint32_t kFar = kStart + 0x40000000u;
  std::atomic<bool> stop{false};
  std::atomic<long> taken{0}, batches{0}, advances{0}, errors{0}, early{0}, late{0};
  std::string first_error;  // written by the thread that saw errors go from 0 to 1

  std::vector<std::thread> threads;
  for (int t = 0; t < kTakers; ++t)
    threads.emplace_back([&] {
      std::vector<SyncFile> batch;
      batch.reserve(kBatch);
      while (!stop.load(std::memory_order_relaxed)) {
        const auto base = static_cast<std::uint32_t>(e.value());
        for (std::uint32_t i = 1; i <= kBatch; ++i) {
          auto f = e.sync_file_at(static_cast<std::uint32_t>(base + i));
          if (!f) {
            if (errors++ == 0) first_error = f.error().describe();
            continue;
          }
          batch.push_back(std::move(f).value());
        }
        // Spot checks: what the exporter's value says is reached must be signaled (point
        // base + 1 was reached if the value moved at all), and the far point must not be.
        const auto now = static_cast<std::uint32_t>(e.value());
        if (batch.size() == kBatch && now != base) {
          auto first = batch.front().status();
          if (!first)
            ++errors;
          else if (*first != FenceStatus::signaled)
            ++late;
        }
        auto far = e.sync_file_at(kFar);
        if (!far)
          ++errors;
        else if (auto st = far->status(); !st || *st != FenceStatus::pending)
          ++early;
        taken += static_cast<long>(batch.size());
        ++batches;
        batch.clear();  // closes every consumer fd of the batch at once, mid-advance
      }
    });
  for (int t = 0; t < kAdvancers; ++t)
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        auto r = e.advance(1);
        if (r) {
          ++advances;
        } else if (errors++ == 0) {
          first_error = r.error().describe();
        }
      }
    });

  std::this_thread::sleep_for(std::chrono::seconds(race_seconds()));
  stop = true;
  for (auto& t : threads) t.join();

  std::cout << "  " << race_seconds() << " s: " << taken.load() << " sync_files taken in " << batches.load()
            << " batches, " << advances.load() << " advances, final value " << e.value() << ", " << e.held_fence_count()
            << " fences still held\n";
  EXPECT_EQ(errors.load(), 0) << "first: " << first_error;
  EXPECT_EQ(late.load(), 0) << "a reached point was not signaled";
  EXPECT_EQ(early.load(), 0) << "a point far ahead was signaled";
  EXPECT_GT(taken.load(), 0);
  EXPECT_GT(advances.load(), 0);
  EXPECT_EQ(e.timeline().value(), e.value()) << "core and kernel timelines out of step";
  EXPECT_LE(e.held_fence_count(), static_cast<std::size_t>(kTakers * kBatch + 1));
  // Everything still held is at most kFar: one step there releases it all.
  SB_ASSERT_OK(e.signal_to(kFar));
  EXPECT_EQ(e.held_fence_count(), 0u);
}

}  // namespace
}  // namespace syncbridge::testing
