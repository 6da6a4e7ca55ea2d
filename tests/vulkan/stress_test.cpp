// Stress: 100,000 host-signaled timeline values through the bridge, thousands of bridged
// submissions in flight across several threads, validation on; books prove that no signal is
// lost (every submission completes) and none is early (a submission never completes before
// its input fence signaled).
#include <atomic>
#include <deque>
#include <random>
#include <thread>

#include "vulkan_fixture.h"

namespace syncbridge::testing {
namespace {

class VulkanStressTest : public VulkanTest {
 protected:
  const int threads = 4;
  const std::uint64_t per_thread = std::stoull(env_or("SYNCBRIDGE_VK_STRESS_POINTS", "25000"));
  const std::size_t max_in_flight = 1500;  // submissions per thread before waiting for the oldest
  const std::uint64_t lag = 1200;          // inputs pending per thread in gated segments
  const std::uint64_t segment = 5000;
  const std::uint64_t waits_per_submit = 4;

  // The books, over every worker.
  std::atomic<std::uint64_t> early{0}, completed{0}, submitted{0};
  std::atomic<bool> failed{false};
  std::atomic<std::uint64_t> max_pending{0};  // most bridged inputs of one thread pending at once

  // One submission in flight and the waits it holds: destroyed only once completion signaled.
  struct InFlight {
    Fence completion;
    std::vector<VulkanWait> waits;
  };

  // The producer signals points one by one. In even segments it stays `lag` points behind the
  // submitter, so ~lag bridged submissions wait on the GPU at once; in odd segments it races
  // ahead (inputs already signaled when bridged) with random pauses.
  void produce(int id, Timeline& input, const std::atomic<bool>& stop, const std::atomic<std::uint64_t>& bridged_upto) {
    std::mt19937 rng(static_cast<unsigned>(id));
    for (std::uint64_t p = 1; p <= per_thread && !stop; ++p) {
      const bool gated = (p / segment) % 2 == 0;
      if (gated) {
        const std::uint64_t want = std::min(p + lag, per_thread);
        while (bridged_upto.load() < want && !stop) std::this_thread::sleep_for(std::chrono::microseconds(50));
        const std::uint64_t pending_now = bridged_upto.load() - (p - 1);
        std::uint64_t seen = max_pending.load();
        while (pending_now > seen && !max_pending.compare_exchange_weak(seen, pending_now)) {
        }
      }
      if (!input.advance().ok()) return;
      if (!gated && (rng() & 255) == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    }
  }

  // One submission waiting for inputs p .. p + waits_per_submit - 1; false when a call failed.
  bool submit_one(VulkanBridge& bridge, VulkanCompletionStream& stream, Timeline& input, std::uint64_t p,
                  std::deque<InFlight>& in_flight) {
    std::vector<VulkanWait> held;
    Fence last_input;
    for (std::uint64_t k = p; k < p + waits_per_submit && k <= per_thread; ++k) {
      auto f = input.fence_at(k);
      auto w = f ? bridge.wait_for(*f) : Result<VulkanWait>(f.error());
      if (!w) return false;
      held.push_back(std::move(*w));
      last_input = *f;
    }
    auto done = submit_gated(stream, held);
    if (!done) return false;
    submitted.fetch_add(1);
    // No early signal: when the GPU is seen done, its last input must have signaled.
    auto reg = done->on_complete([this, last_input](const Fence& f) {
      if (f.status() == FenceStatus::signaled && last_input.status() != FenceStatus::signaled) early.fetch_add(1);
      completed.fetch_add(1);
    });
    if (reg) reg->detach();
    // Each VulkanWait lives until its submission completed, as the header requires: half of
    // them through retire_after(), half kept here next to the completion fence.
    if ((p / waits_per_submit) % 2 == 0) {
      for (auto& w : held) bridge.retire_after(std::move(w), *done);
      held.clear();
    }
    in_flight.push_back({*done, std::move(held)});
    return true;
  }

  // Waits for the oldest submissions until at most `keep` are in flight; false on a failed wait.
  static bool drain(std::deque<InFlight>& in_flight, std::size_t keep, std::chrono::nanoseconds timeout) {
    while (in_flight.size() > keep) {
      if (!signals_within(in_flight.front().completion, timeout)) return false;
      in_flight.pop_front();
    }
    return true;
  }

  // One worker thread: its own stream and input timeline, a producer thread for the inputs.
  void run_worker(int id, VulkanBridge& bridge) {
    auto stream = VulkanCompletionStream::create(device(), {.name = "stress" + std::to_string(id)});
    auto input = Timeline::create({.name = "input" + std::to_string(id)});
    if (!stream || !input) {
      failed = true;
      return;
    }
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> bridged_upto{0};
    std::thread producer([&] { produce(id, *input, stop, bridged_upto); });
    std::deque<InFlight> in_flight;
    for (std::uint64_t p = 1; p <= per_thread && !failed; p += waits_per_submit) {
      if (!submit_one(bridge, **stream, *input, p, in_flight)) failed = true;
      bridged_upto.store(std::min(p + waits_per_submit - 1, per_thread));
      if (!failed && !drain(in_flight, max_in_flight, 30s)) failed = true;
    }
    if (!drain(in_flight, 0, 60s)) failed = true;
    stop = true;
    producer.join();
    // Every submission of this stream completed (waited above). Not vkQueueWaitIdle here: it
    // holds the queue while other workers' submissions wait for inputs that need the queue.
    (*stream)->shutdown();
  }
};

TEST_F(VulkanStressTest, HundredThousandHostSignalsNoLostOrEarlySignal) {
  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back([this, i, &bridge] { run_worker(i, *bridge); });
  for (auto& t : pool) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ASSERT_FALSE(failed.load()) << "a bridge call, a submit or a wait failed";
  const auto stats = bridge->stats();
  EXPECT_EQ(stats.waits[static_cast<int>(VulkanWaitPath::host_signal)], per_thread * threads);
  EXPECT_EQ(stats.input_errors, 0u);
  EXPECT_EQ(stats.signal_failures, 0u);
  EXPECT_EQ(completed.load(), submitted.load()) << "lost completions";
  EXPECT_EQ(early.load(), 0u) << "submissions completed before their input signaled";
  EXPECT_GE(max_pending.load(), std::min<std::uint64_t>(lag, per_thread) - waits_per_submit)
      << "the GPU never had thousands of bridged waits pending";
  std::printf(
      "stress: %llu host-signaled values, %llu submissions, %d threads, %.2f s, up to %llu inputs pending "
      "per thread, %llu semaphores pooled\n",
      static_cast<unsigned long long>(per_thread * threads), static_cast<unsigned long long>(submitted.load()), threads,
      secs, static_cast<unsigned long long>(max_pending.load()), static_cast<unsigned long long>(stats.semaphores));
}

}  // namespace
}  // namespace syncbridge::testing
