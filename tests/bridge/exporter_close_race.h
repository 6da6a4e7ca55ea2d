// The close()-racing-advance() check that both exporters' suites run: one thread advances point
// by point while the test thread closes the exporter right after the value reaches a random
// point (between that kernel step and its core update, where the bug was, or just after it).
// Afterwards advance() must have reported a failure only for steps it did not take, and every
// core fence must be signaled up to value() and failed past it.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "syncbridge/fence.h"

namespace syncbridge::testing {

inline const char* fence_status_name(FenceStatus s) {
  switch (s) {
    case FenceStatus::pending: return "pending";
    case FenceStatus::signaled: return "signaled";
    case FenceStatus::error: return "error";
  }
  return "?";
}

// make() -> a fresh exporter at 0; before_race(exporter, point) runs for points 1..kPoints
// before the race (to take kernel fences); after_race(exporter, point, round) checks the
// kernel side of a point. Returns how many rounds closed before the last advance.
template <class Make, class BeforeRace, class AfterRace>
int run_close_racing_advance(Make make, BeforeRace before_race, AfterRace after_race) {
  // Rounds go on until enough of them closed mid-run (the race the check is about), however
  // the scheduler orders the two threads; the cap only bounds a machine that never lets them.
  constexpr int kMaxRounds = 2000;
  constexpr int kSplitsWanted = 20;
  constexpr std::uint64_t kPoints = 6;
  std::mt19937 rng(20261130);
  int rounds_with_a_split = 0;
  for (int round = 0; round < kMaxRounds && rounds_with_a_split < kSplitsWanted && !::testing::Test::HasFailure();
       ++round) {
    auto exporter = make();
    std::vector<Fence> fences;
    for (std::uint64_t p = 1; p <= kPoints; ++p) {
      before_race(exporter, p);
      auto f = exporter.fence_at(p);
      if (!f.ok()) {
        ADD_FAILURE() << "fence_at(" << p << "): " << f.error().describe();
        return rounds_with_a_split;
      }
      fences.push_back(*f);
    }
    std::atomic<bool> go{false};
    std::uint64_t steps_reported = 0;
    std::thread advancer([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      for (std::uint64_t p = 1; p <= kPoints; ++p) {
        auto r = exporter.advance(1);
        if (!r.ok()) {
          EXPECT_EQ(r.error().code(), Errc::timeline_closed) << r.error().describe();
          break;
        }
        ++steps_reported;
        std::this_thread::yield();  // lets the closer in between two steps as well as within one
      }
    });
    const auto close_at = std::uniform_int_distribution<std::uint64_t>(1, kPoints - 1)(rng);
    go.store(true, std::memory_order_release);
    while (exporter.value() < close_at) {
    }
    exporter.close();
    advancer.join();

    const std::uint64_t value = exporter.value();
    EXPECT_EQ(value, steps_reported) << "round " << round << ": advance() failed after moving the kernel";
    for (std::uint64_t p = 1; p <= kPoints; ++p) {
      const FenceStatus core = fences[p - 1].status();
      EXPECT_EQ(core, p <= value ? FenceStatus::signaled : FenceStatus::error)
          << "round " << round << " point " << p << " (value " << value << "): the core says "
          << fence_status_name(core);
      after_race(exporter, p, round);
    }
    if (value > 0 && value < kPoints) ++rounds_with_a_split;
  }
  return rounds_with_a_split;
}

}  // namespace syncbridge::testing
