// Lost wake-ups on the lock-free paths (issue 12): a fence's status is published with one
// fetch_or that also tells the completer whom to wake, and FenceSet::wait_any sleeps on a
// futex word shared per bucket of threads (more waiters here than buckets, so buckets are
// shared) instead of registering a callback per member. Every wait has a deadline far beyond
// what the workload needs: a waiter that times out was not woken, and the test fails.
// SYNCBRIDGE_STRESS_SECONDS overrides the duration of each test (default 1.5 s).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace syncbridge::testing {
namespace {

std::chrono::duration<double> stress_duration() {
  const char* env = std::getenv("SYNCBRIDGE_STRESS_SECONDS");
  return std::chrono::duration<double>(env ? std::atof(env) / 2 : 1.5);
}

// Far beyond any fair schedule of the workloads below, even under TSan on a loaded machine.
constexpr auto kLostWakeDeadline = 20s;

class WakeStress : public FdLeakCheckedTest {};

// A worker's wait: true when `f` signaled. False when the worker should stop: its timeline was
// closed (ENOENT, as at the end of a test), or the wait timed out (a lost wake-up: `lost`) or
// failed otherwise (`wrong`).
bool waited_in_the_books(const Fence& f, std::atomic<long>& lost, std::atomic<long>& wrong) {
  auto r = f.wait(kLostWakeDeadline);
  if (!r.ok()) {
    if (r.error().sys_errno() != ENOENT) wrong++;
    return false;
  }
  if (*r == WaitStatus::timed_out) {
    lost++;
    return false;
  }
  return true;
}

// A fast advance only stores the value and a record of when; the fences it reached are stamped
// later, by whoever settles them (a consumer's fence_at, a timestamp() call, the producer every
// 16 advances or when someone sleeps). Consumers take points just ahead of a producer that
// advances by one, some of them sleep on theirs, and every fence a consumer took before the
// advance to its point began must carry a time inside that advance's window. (A fence taken
// at a point already reached is born signaled, at the time of the call.)
TEST_F(WakeStress, LazilySettledFencesCarryTheirAdvancesTimes) {
  auto t = make_core_timeline({.name = "stamps"});
  constexpr std::uint64_t kMaxAdvances = 2'000'000;
  // However late the producer gets a CPU (one CPU, a loaded machine), it makes this many.
  constexpr std::uint64_t kMinAdvances = 20'000;
  std::vector<std::int64_t> before(kMaxAdvances + 1), after(kMaxAdvances + 1);
  std::atomic<std::uint64_t> advanced{0};
  std::atomic<bool> done{false};
  auto ns = [] { return std::chrono::steady_clock::now().time_since_epoch().count(); };
  const auto until = std::chrono::steady_clock::now() + stress_duration();
  std::thread producer([&] {
    for (std::uint64_t v = 1; v <= kMaxAdvances && (v <= kMinAdvances || std::chrono::steady_clock::now() < until);
         ++v) {
      before[v] = ns();
      EXPECT_TRUE(t.advance().ok());
      after[v] = ns();
      advanced.store(v, std::memory_order_release);
      if (v % 64 == 0) std::this_thread::yield();  // let consumers fall asleep now and then
    }
    done.store(true, std::memory_order_release);
  });
  constexpr int kConsumers = 3;
  struct Taken {
    Fence fence;
    std::int64_t call_ended;
  };
  std::vector<std::vector<Taken>> held(kConsumers);
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c)
    consumers.emplace_back([&, c] {
      std::mt19937_64 rng(0x57a3 + c);
      while (!done.load(std::memory_order_acquire)) {
        auto f = t.fence_at(t.value() + 1 + rng() % 8);
        const std::int64_t call_ended = ns();
        if (!f.ok()) break;
        if (rng() % 4 == 0) (void)f->wait(1ms);    // sometimes asleep when reached
        if (rng() % 8 == 0) (void)f->timestamp();  // sometimes stamped from the records
        if (held[c].size() < 200'000) held[c].push_back({std::move(*f), call_ended});
      }
    });
  producer.join();
  for (auto& c : consumers) c.join();
  const std::uint64_t last = advanced.load();
  std::size_t checked = 0, failures = 0;
  for (const auto& taken : held)
    for (const auto& [f, call_ended] : taken) {
      if (f.point() > last) continue;  // never reached: closed with the timeline
      const bool taken_pending = call_ended < before[f.point()];
      if (!taken_pending && call_ended < after[f.point()]) continue;  // raced the advance: either
      ++checked;
      const auto stamp = f.timestamp();
      // Taken pending: the advance's time. Taken after the advance: born signaled, in the call.
      const std::int64_t low = before[f.point()], high = taken_pending ? after[f.point()] : call_ended;
      const bool inside =
          stamp && stamp->time_since_epoch().count() >= low && stamp->time_since_epoch().count() <= high;
      if (!inside && failures++ < 5)
        ADD_FAILURE() << "fence at " << f.point() << ": timestamp "
                      << (stamp ? std::to_string(stamp->time_since_epoch().count()) : "none") << " outside [" << low
                      << ", " << high << "] (taken " << (taken_pending ? "pending" : "signaled") << ")";
    }
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(checked, 1000u) << "too few reached fences to say anything";
  std::printf("stamps: %llu advances, %zu reached fences checked\n", static_cast<unsigned long long>(last), checked);
}

// Many threads sleep on the same points of one timeline while another advances it in small
// bursts with pauses (so that the waiters get past their spin into futex_wait).
TEST_F(WakeStress, ManySleepersOnOneTimelineAreAllWoken) {
  auto t = make_core_timeline({.name = "sleepers"});
  constexpr int kWaiters = 12;
  std::atomic<bool> stop{false};
  std::atomic<long> waits{0}, lost{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(i);
      while (!stop.load(std::memory_order_relaxed)) {
        auto f = t.fence_at(t.value() + 1 + rng() % 3);
        if (!f.ok() || !waited_in_the_books(*f, lost, wrong)) return;  // not ok: closed at the end
        if (f->status() != FenceStatus::signaled || f->point() > t.value()) wrong++;
        waits++;
      }
    });
  }
  std::mt19937 rng(99);
  const auto end = std::chrono::steady_clock::now() + stress_duration();
  // A failed advance ends the loop, not the test body: the waiters must still be joined.
  bool advanced = true;
  while (advanced && std::chrono::steady_clock::now() < end) {
    const int burst = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < burst && advanced; ++k) advanced = t.advance(1).ok();
    if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
  }
  EXPECT_TRUE(advanced) << "an advance of the open timeline failed";
  stop = true;
  // Waiters still in a wait are released by the value racing past their points or by close.
  EXPECT_TRUE(t.advance(4).ok());
  t.close();
  for (auto& th : threads) th.join();
  EXPECT_EQ(lost.load(), 0) << "waiters not woken within " << kLostWakeDeadline.count() << " s";
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(waits.load(), kWaiters) << "the workload did not run";
}

// More wait_any threads than buckets, each on sets over a shared pool of timelines that
// others advance round-robin (so every member is reached within a few rounds) and sometimes
// close and replace: a wait_any must return as soon as any member completed, signaled or
// errored, and name a member that has.
TEST_F(WakeStress, WaitAnySetsRacingAdvanceAndClose) {
  constexpr int kTimelines = 16;
  constexpr int kWaiters = 34;  // > kAnyBuckets (29): threads share buckets
  constexpr int kSetSize = 6;
  std::mutex pool_mutex;
  std::vector<std::shared_ptr<Timeline>> pool;
  for (int i = 0; i < kTimelines; ++i)
    pool.push_back(std::make_shared<Timeline>(make_core_timeline({.name = "pool-" + std::to_string(i)})));
  auto snapshot = [&] {
    std::lock_guard guard(pool_mutex);
    return pool;
  };

  std::atomic<bool> stop{false};
  std::atomic<long> returned{0}, errored{0}, lost{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(1000 + i);
      while (!stop.load(std::memory_order_relaxed)) {
        auto timelines = snapshot();
        FenceSet set;
        for (int k = 0; k < kSetSize; ++k) {
          Timeline& tl = *timelines[rng() % kTimelines];
          auto f = tl.fence_at(tl.value() + 1 + rng() % 3);
          if (f.ok()) (void)set.add(*f);
        }
        if (set.empty()) continue;  // every pick was closed: try again
        auto r = set.wait_any(kLostWakeDeadline);
        if (!r.ok()) {
          wrong++;
          continue;
        }
        if (r->status == WaitStatus::timed_out) {
          lost++;
          return;
        }
        const Fence& done = set.fences()[r->index];
        if (done.status() == FenceStatus::pending) wrong++;
        if (done.status() == FenceStatus::error) errored++;
        returned++;
      }
    });
  }
  std::mt19937 rng(7);
  std::vector<std::shared_ptr<Timeline>> retired;  // closed ones stay alive for their users
  const auto end = std::chrono::steady_clock::now() + stress_duration();
  long rounds = 0;
  while (std::chrono::steady_clock::now() < end) {
    auto timelines = snapshot();
    for (auto& tl : timelines) (void)tl->advance(1);  // fails only on a timeline just closed
    if (++rounds % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    if (rounds % 64 == 0) {
      const int victim = static_cast<int>(rng() % kTimelines);
      auto fresh = std::make_shared<Timeline>(make_core_timeline({.name = "pool-new"}));
      std::shared_ptr<Timeline> old;
      {
        std::lock_guard guard(pool_mutex);
        old = std::exchange(pool[victim], fresh);
      }
      old->close();
      retired.push_back(std::move(old));
    }
  }
  stop = true;
  // Release every waiter still in a wait: complete whatever it may hold.
  for (auto& tl : snapshot()) tl->close();
  for (auto& th : threads) th.join();
  EXPECT_EQ(lost.load(), 0) << "wait_any not woken within " << kLostWakeDeadline.count() << " s";
  EXPECT_EQ(wrong.load(), 0) << "wait_any failed or named a member still pending";
  EXPECT_GT(returned.load(), kWaiters) << "the workload did not run";
  EXPECT_GT(rounds, 64) << "no timeline was closed mid-run";
}

// The `attention` handshake between a waiter on its way to sleep and the one advance that
// reaches its point. Two threads answer each other through two timelines, each answer after a
// random delay of up to three spin ceilings (so that waits end in the spin, in the move to
// sleep or asleep, and the answer races each of them), and nothing else ever advances either
// timeline. An advance that misses a waiter's raise leaves it asleep with nothing left to wake
// it: its deadline fails the test.
TEST_F(WakeStress, SleepersInAPingPongMissNoAnswer) {
  auto to_partner = make_core_timeline({.name = "to-partner"});
  auto to_main = make_core_timeline({.name = "to-main"});
  // Busy below a spin ceiling (so that the answer can land anywhere in the waiter's spin),
  // asleep above it (so that the test does not hold a CPU that other tests need).
  auto delay = [](std::mt19937& rng) {
    const auto length = std::chrono::nanoseconds(rng() % 150'000);
    if (length > 50us) return std::this_thread::sleep_for(length);
    const auto until = std::chrono::steady_clock::now() + length;
    while (std::chrono::steady_clock::now() < until) {
    }
  };
  std::atomic<long> lost{0}, wrong{0};
  std::thread partner([&] {
    std::mt19937 rng(7);
    for (std::uint64_t k = 1;; ++k) {
      auto f = to_partner.fence_at(k);
      if (!f.ok() || !waited_in_the_books(*f, lost, wrong)) return;  // not ok: closed at the end
      delay(rng);
      if (!to_main.advance(1).ok()) return;
    }
  });
  std::mt19937 rng(11);
  long trips = 0;
  const auto end = std::chrono::steady_clock::now() + stress_duration();
  // A failure ends the loop, not the test body: the partner must still be joined.
  while (std::chrono::steady_clock::now() < end) {
    auto back = to_main.fence_at(trips + 1);
    if (!back.ok()) {
      ADD_FAILURE() << back.error().describe();
      break;
    }
    delay(rng);
    if (auto sent = to_partner.advance(1); !sent.ok()) {
      ADD_FAILURE() << sent.error().describe();
      break;
    }
    auto r = back->wait(kLostWakeDeadline);
    if (!r.ok()) {
      ADD_FAILURE() << r.error().describe();
      break;
    }
    if (*r == WaitStatus::timed_out) {
      lost++;
      break;
    }
    ++trips;
  }
  to_partner.close();
  to_main.close();
  partner.join();
  EXPECT_EQ(lost.load(), 0) << "an answer did not wake its waiter within " << kLostWakeDeadline.count() << " s";
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(trips, 100) << "the workload did not run";
}

// A fence marked by wait_any calls that have long returned (stale bucket bits) still wakes
// its own sleepers, and a later wait_any on it from another thread still sleeps and wakes.
TEST_F(WakeStress, StaleWaitAnyMarksDoNotConfuseLaterWaits) {
  auto a = make_core_timeline();
  auto b = make_core_timeline();
  Fence fa = fence_at(a, 1), fb = fence_at(b, 1);
  FenceSet set;
  SB_ASSERT_OK(set.add(fa));
  SB_ASSERT_OK(set.add(fb));
  for (int i = 0; i < 3; ++i) {  // marks from several threads (several buckets)
    std::thread([&] {
      auto r = set.wait_any(1ms);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->status, WaitStatus::timed_out);
    }).join();
  }
  std::atomic<int> woke{0};
  std::thread single([&] {
    auto r = fa.wait(kLostWakeDeadline);
    ASSERT_TRUE(r.ok());
    if (*r == WaitStatus::signaled) woke++;
  });
  std::thread any([&] {
    auto r = set.wait_any(kLostWakeDeadline);
    ASSERT_TRUE(r.ok());
    if (r->status == WaitStatus::signaled && set.fences()[r->index] == fa) woke++;
  });
  std::this_thread::sleep_for(20ms);  // both asleep by now, most likely; correct either way
  SB_ASSERT_OK(a.advance());
  single.join();
  any.join();
  EXPECT_EQ(woke.load(), 2);
  EXPECT_EQ(fb.status(), FenceStatus::pending);
}

}  // namespace
}  // namespace syncbridge::testing
