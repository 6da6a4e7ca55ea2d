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

class VulkanStressTest : public VulkanTest {};

TEST_F(VulkanStressTest, HundredThousandHostSignalsNoLostOrEarlySignal) {
  const int threads = 4;
  const std::uint64_t per_thread = std::stoull(env_or("SYNCBRIDGE_VK_STRESS_POINTS", "25000"));
  const std::size_t max_in_flight = 1500;  // submissions per thread before waiting for the oldest
  const std::uint64_t lag = 1200;           // inputs pending per thread in gated segments
  const std::uint64_t segment = 5000;
  const std::uint64_t waits_per_submit = 4;

  auto bridge = make_bridge();
  ASSERT_TRUE(bridge);
  std::atomic<std::uint64_t> early{0}, completed{0}, submitted{0};
  std::atomic<bool> failed{false};
  std::atomic<std::uint64_t> max_pending{0};  // most bridged inputs of one thread pending at once

  auto worker = [&](int id) {
    auto stream = VulkanCompletionStream::create(device(), {.name = "stress" + std::to_string(id)});
    auto tl = Timeline::create({.name = "input" + std::to_string(id)});
    if (!stream || !tl) {
      failed = true;
      return;
    }
    Timeline& input = *tl;
    // The producer signals points one by one. In even segments it stays `lag` points behind
    // the submitter, so ~lag bridged submissions wait on the GPU at once; in odd segments it
    // races ahead (inputs already signaled when bridged) with random pauses.
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> bridged_upto{0};
    std::thread producer([&] {
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
    });
    struct InFlight {
      Fence completion;
      std::vector<VulkanWait> waits;  // destroyed only once completion signaled
    };
    std::deque<InFlight> in_flight;
    for (std::uint64_t p = 1; p <= per_thread && !failed; p += waits_per_submit) {
      std::vector<VkSemaphoreSubmitInfo> waits;
      std::vector<VulkanWait> held;
      Fence last_input;
      for (std::uint64_t k = p; k < p + waits_per_submit && k <= per_thread; ++k) {
        auto f = input.fence_at(k);
        auto w = f ? bridge->wait_for(*f) : Result<VulkanWait>(f.error());
        if (!w) {
          failed = true;
          break;
        }
        waits.push_back(w->submit_info());
        held.push_back(std::move(*w));
        last_input = *f;
      }
      if (failed) break;
      auto sig = (*stream)->prepare();
      if (!sig) {
        failed = true;
        break;
      }
      if (submit_vec(waits, {sig->submit_info()}) != VK_SUCCESS) {
        failed = true;
        break;
      }
      auto done = (*stream)->submitted(std::move(*sig));
      if (!done) {
        failed = true;
        break;
      }
      submitted.fetch_add(1);
      // No early signal: when the GPU is seen done, its last input must have signaled.
      auto reg = done->on_complete([&early, &completed, last_input](const Fence& f) {
        if (f.status() == FenceStatus::signaled && last_input.status() != FenceStatus::signaled) early.fetch_add(1);
        completed.fetch_add(1);
      });
      if (reg) reg->detach();
      // Each VulkanWait lives until its submission completed, as the header requires: half of
      // them through retire_after(), half kept here next to the completion fence.
      if ((p / waits_per_submit) % 2 == 0) {
        for (auto& w : held) bridge->retire_after(std::move(w), *done);
        held.clear();
      }
      in_flight.push_back({*done, std::move(held)});
      bridged_upto.store(std::min(p + waits_per_submit - 1, per_thread));
      while (in_flight.size() > max_in_flight) {
        auto r = in_flight.front().completion.wait(30s);
        if (!r || *r != WaitStatus::signaled) {
          failed = true;
          break;
        }
        in_flight.pop_front();
      }
    }
    for (auto& f : in_flight) {
      auto r = f.completion.wait(60s);
      if (!r || *r != WaitStatus::signaled) failed = true;
    }
    stop = true;
    producer.join();
    // Every submission of this stream completed (waited above). Not vkQueueWaitIdle here: it
    // holds the queue while other workers' submissions wait for inputs that need the queue.
    (*stream)->shutdown();
  };

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker, i);
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
  std::printf("stress: %llu host-signaled values, %llu submissions, %d threads, %.2f s, up to %llu inputs pending "
              "per thread, %llu semaphores pooled\n",
              static_cast<unsigned long long>(per_thread * threads), static_cast<unsigned long long>(submitted.load()),
              threads, secs, static_cast<unsigned long long>(max_pending.load()),
              static_cast<unsigned long long>(stats.semaphores));
}

}  // namespace
}  // namespace syncbridge::testing
