// Eight threads mixing every operation on a few shared timelines (two plain, two wrap32 ones
// that cross 2^32 while the test runs), with books kept so that a lost, doubled or early
// signal, a waiter that never wakes, or a leaked fd fails the test:
//   - early: every thread that advances a timeline first PUBLISHES the value it is about to
//     reach (Reach::announced, raised before the advance call). A fence that reports signaled
//     for point p, seen by a waiter as it wakes or by a callback as it runs, must have
//     p <= announced: otherwise no advance reaching p had even started. The timeline's value
//     never exceeds `announced` (each step is announced before it is taken), so the check
//     cannot fire on a correct timeline, and it reads `announced` after the fence's completion
//     was observed (an acquire of the status word, which the advance released after its own
//     announcement), so it cannot miss an announcement either.
//   - errored only after a close was announced the same way.
//   - lost wake-ups: a watchdog thread watches every wait in progress. When a waiter has not
//     returned SYNCBRIDGE_STRESS_WATCHDOG_SECONDS (default 5) after its point was reached (or its
//     timeline closed, or its timeout passed), it reports the timeline, the point and how long
//     ago, and exits the process: a lost wake-up fails instead of hanging.
//   - lost or doubled callbacks: counted; every fence held at the end must have completed.
//   - fds: pollable fds are taken and dropped throughout; the fixture compares the open fds.
// Run under ASan and TSan in CI (label "stress"). SYNCBRIDGE_STRESS_SECONDS overrides the
// default duration (3 s).
#include <poll.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
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

constexpr std::uint64_t kU32Max = 0xffffffffu;

double env_seconds(const char* name, double fallback) {
  const char* env = std::getenv(name);
  return env ? std::atof(env) : fallback;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What the advancing threads have announced for one timeline, shared with the callbacks and
// waiters that check against it (it holds no timeline, so a callback may keep it alive).
struct Reach {
  std::string label;
  bool wrap32 = false;
  // Unwrapped: the initial value plus every step announced so far (wrap32 compares its low
  // 32 bits). Raised BEFORE the advance it announces.
  std::atomic<std::uint64_t> announced{0};
  std::atomic<bool> close_announced{false};

  // Is `point` (as Fence::point() reports it) at or below what was announced?
  bool announced_reach_of(std::uint64_t point) const {
    const std::uint64_t a = announced.load(std::memory_order_seq_cst);
    if (!wrap32) return point <= a;
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(point) - static_cast<std::uint32_t>(a)) <= 0;
  }
};

struct Tracked {
  Timeline timeline;
  std::shared_ptr<Reach> reach;

  std::uint64_t ahead(std::uint64_t d) const {  // the point d past the current value
    const std::uint64_t p = timeline.value() + d;
    return reach->wrap32 ? (p & kU32Max) : p;
  }
  // `crossed`: this step was announced across 2^32 on a wrap32 timeline.
  Result<void> advance(std::uint64_t n, bool* crossed = nullptr) {
    const std::uint64_t before = reach->announced.fetch_add(n, std::memory_order_seq_cst);  // published first
    if (crossed) *crossed = reach->wrap32 && (before & kU32Max) + n > kU32Max;
    return timeline.advance(n);
  }
  void close() {
    reach->close_announced.store(true, std::memory_order_seq_cst);
    timeline.close();
  }
  // Has the timeline reached `point`, or closed? For the watchdog.
  const char* why_complete(std::uint64_t point) const {
    const std::uint64_t v = timeline.value();
    const bool reached =
        reach->wrap32
            ? static_cast<std::int32_t>(static_cast<std::uint32_t>(point) - static_cast<std::uint32_t>(v)) <= 0
            : v >= point;
    if (reached) return "was reached";
    return timeline.closed() ? "was closed" : nullptr;
  }
};

struct Books {
  std::atomic<long> registered{0};
  std::atomic<long> ran{0};
  std::atomic<long> cancelled_before_run{0};
  std::atomic<long> ran_twice{0};
  std::atomic<long> early_signals{0};
  std::atomic<long> early_errors{0};
  std::atomic<long> waits{0};
  std::atomic<long> fences_taken{0};
  std::atomic<long> pollable_fds{0};
  std::atomic<long> closes{0};
  std::atomic<long> advances_in_callbacks{0};
  std::atomic<long> wrap32_fences{0};
  std::atomic<long> wrap32_crossings{0};  // advances by a worker that took a wrap32 timeline across 2^32

  // Checks a completed fence as the one who just saw it complete; reports the first few
  // violations in full (from whichever thread), counts all of them.
  void check_completion(const Fence& f, const Reach& reach, const char* seen_by) {
    const FenceStatus status = f.status();
    if (status == FenceStatus::signaled && !reach.announced_reach_of(f.point())) {
      if (early_signals.fetch_add(1) < 5)
        ADD_FAILURE() << "early signal: " << seen_by << " saw point " << f.point() << " of timeline '" << reach.label
                      << "' signaled, but the advancing threads had announced only "
                      << (reach.wrap32 ? reach.announced.load() & kU32Max : reach.announced.load());
    } else if (status == FenceStatus::error && !reach.close_announced.load(std::memory_order_seq_cst)) {
      if (early_errors.fetch_add(1) < 5)
        ADD_FAILURE() << "early error: " << seen_by << " saw point " << f.point() << " of timeline '" << reach.label
                      << "' errored (errno " << f.error_errno() << ") before any close was announced";
    }
  }
};

class Slots {
 public:
  static constexpr int kCount = 4;  // 0, 1: plain; 2, 3: wrap32, each starting just below 2^32
  Slots() {
    for (int i = 0; i < kCount; ++i) slots_[i] = fresh(i);
  }
  std::shared_ptr<Tracked> get(int i) {
    std::lock_guard guard(mutex_);
    return slots_[i];
  }
  void replace(int i) {
    std::shared_ptr<Tracked> old;
    {
      std::lock_guard guard(mutex_);
      old = std::exchange(slots_[i], fresh(i));
    }
    old->close();
  }
  void close_all() {
    std::lock_guard guard(mutex_);
    for (auto& s : slots_) s->close();
  }

 private:
  std::shared_ptr<Tracked> fresh(int i) {
    const bool wrap32 = i >= 2;
    // A timeline lives ~100 operations before a worker replaces it (25 advances of 1..8): it
    // starts close enough below 2^32 to cross it in most generations.
    const std::uint64_t initial = wrap32 ? kU32Max - (generation_ * 13) % 100 : 0;
    auto reach = std::make_shared<Reach>();
    reach->label =
        std::string(wrap32 ? "stress-wrap32-" : "stress-") + std::to_string(i) + "." + std::to_string(generation_++);
    reach->wrap32 = wrap32;
    reach->announced.store(initial);
    auto t = Timeline::create({.name = reach->label, .wrap32 = wrap32, .initial_value = initial});
    return std::make_shared<Tracked>(Tracked{std::move(t).value(), std::move(reach)});
  }
  std::mutex mutex_;
  std::array<std::shared_ptr<Tracked>, kCount> slots_;
  std::uint64_t generation_ = 0;
};

// One per waiting thread: the wait in progress, if any, for the watchdog.
struct WaitRecord {
  std::mutex mutex;
  bool active = false;
  std::uint64_t generation = 0;
  std::shared_ptr<Tracked> timeline;
  std::uint64_t point = 0;
  std::int64_t started_ns = 0;
  std::int64_t timeout_ns = -1;  // -1: forever
  std::string who;

  void begin(std::shared_ptr<Tracked> tl, std::uint64_t p, std::int64_t timeout) {
    std::lock_guard guard(mutex);
    active = true;
    ++generation;
    timeline = std::move(tl);
    point = p;
    started_ns = now_ns();
    timeout_ns = timeout;
  }
  void end() {
    std::lock_guard guard(mutex);
    active = false;
    timeline.reset();
  }
};

// Wakes every 10 ms; fails the test and exits when a wait outlives its reason to wait by
// more than `grace`. Stops (at once) with stop().
class Watchdog {
 public:
  Watchdog(std::vector<std::unique_ptr<WaitRecord>>& records, std::chrono::nanoseconds grace)
      : records_(records), grace_ns_(grace.count()), seen_(records.size()) {
    thread_ = std::thread([this] { run(); });
  }
  ~Watchdog() { stop(); }
  void stop() {
    {
      std::lock_guard guard(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Seen {
    std::uint64_t generation = 0;
    std::int64_t reached_ns = -1;  // when the watchdog first saw the point reached (or closed)
    const char* why = "timed out";
  };

  void run() {
    std::unique_lock lock(mutex_);
    // The 10 ms is a sampling period, not a synchronization: how late a stuck waiter is caught.
    while (!cv_.wait_for(lock, std::chrono::milliseconds(10), [this] { return stopping_; })) {
      for (std::size_t i = 0; i < records_.size(); ++i) check(i, *records_[i]);
    }
  }

  void check(std::size_t index, WaitRecord& r) {
    std::unique_lock guard(r.mutex);
    if (!r.active) return;
    Seen& seen = seen_[index];
    if (seen.generation != r.generation) seen = Seen{r.generation};
    const std::int64_t now = now_ns();
    if (seen.reached_ns < 0) {
      if (const char* why = r.timeline->why_complete(r.point)) seen = Seen{r.generation, now, why};
    }
    std::int64_t due = INT64_MAX;  // when the wait had to return by
    if (seen.reached_ns >= 0) due = seen.reached_ns;
    if (r.timeout_ns >= 0) due = std::min(due, r.started_ns + r.timeout_ns);
    if (due == INT64_MAX || now - due < grace_ns_) return;
    const Reach& reach = *r.timeline->reach;
    char msg[1024];
    std::snprintf(msg, sizeof msg,
                  "stuck waiter: %s has waited %.3f s (timeout %s) on point %llu of timeline '%s'%s, "
                  "which %s %.3f s ago (timeline value now %llu%s); a lost wake-up",
                  r.who.c_str(), static_cast<double>(now - r.started_ns) / 1e9,
                  r.timeout_ns < 0 ? "forever" : (std::to_string(r.timeout_ns / 1000) + " us").c_str(),
                  static_cast<unsigned long long>(r.point), reach.label.c_str(), reach.wrap32 ? " (wrap32)" : "",
                  seen.reached_ns >= 0 && (r.timeout_ns < 0 || seen.reached_ns < r.started_ns + r.timeout_ns)
                      ? seen.why
                      : "timed out",
                  static_cast<double>(now - due) / 1e9, static_cast<unsigned long long>(r.timeline->timeline.value()),
                  r.timeline->timeline.closed() ? ", closed" : "");
    // The stuck thread can never be joined: report, then leave the process with a failure.
    std::fprintf(stderr, "%s\n", msg);
    ADD_FAILURE() << msg;
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(1);
  }

  std::vector<std::unique_ptr<WaitRecord>>& records_;
  const std::int64_t grace_ns_;
  std::vector<Seen> seen_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

struct Held {
  Fence fence;
  std::shared_ptr<Reach> reach;
  std::weak_ptr<Tracked> owner;  // for advancing from inside a callback; does not keep it alive
};

void register_counted(Books& books, const Held& held, bool advance_inside, std::vector<CallbackRegistration>* keep) {
  auto runs = std::make_shared<std::atomic<int>>(0);
  Fence self = held.fence;  // the callback drops this reference: maybe the fence's last user handle
  auto reg = held.fence.on_complete(
      [&books, runs, self, reach = held.reach, owner = held.owner, advance_inside](const Fence& done) mutable {
        if (runs->fetch_add(1) != 0) books.ran_twice++;
        books.ran++;
        books.check_completion(done, *reach, "a callback");
        self = Fence();
        if (advance_inside) {
          if (auto tl = owner.lock()) {
            (void)tl->timeline.fence_at(tl->ahead(2));  // create a point from inside a callback
            if (tl->advance(1).ok()) books.advances_in_callbacks++;
          }
        }
      });
  ASSERT_TRUE(reg.ok());
  books.registered++;
  if (keep) {
    keep->push_back(std::move(*reg));
  } else {
    reg->detach();
  }
}

class CoreStress : public FdLeakCheckedTest {};

TEST_F(CoreStress, EightThreadsLoseNothing) {
  const double seconds = env_seconds("SYNCBRIDGE_STRESS_SECONDS", 3.0);
  const double watchdog_seconds = env_seconds("SYNCBRIDGE_STRESS_WATCHDOG_SECONDS", 5.0);
  constexpr int kWorkers = 8;
  Books books;
  Slots slots;
  std::atomic<bool> stop{false};
  std::mutex held_mutex;
  std::vector<Fence> all_held;  // every fence any thread held at the end, checked after close

  std::vector<std::unique_ptr<WaitRecord>> records;
  for (int i = 0; i < kWorkers + Slots::kCount; ++i) {
    records.push_back(std::make_unique<WaitRecord>());
    records.back()->who =
        i < kWorkers ? "worker " + std::to_string(i) : "forever-waiter " + std::to_string(i - kWorkers);
  }
  Watchdog watchdog(
      records, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(watchdog_seconds)));

  std::vector<std::thread> threads;
  for (int id = 0; id < kWorkers; ++id) {
    threads.emplace_back([&, id] {
      std::mt19937_64 rng(0x5eed + id);
      WaitRecord& record = *records[id];
      std::vector<Held> ring(16);
      std::size_t next = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const int slot = static_cast<int>(rng() % Slots::kCount);
        auto tl = slots.get(slot);
        const auto op = rng() % 100;
        if (op < 40) {
          auto f = tl->timeline.fence_at(tl->ahead(1 + rng() % 64));
          if (!f.ok()) {
            EXPECT_EQ(f.error().code(), Errc::timeline_closed) << f.error().describe();
            continue;
          }
          books.fences_taken++;
          if (tl->reach->wrap32) books.wrap32_fences++;
          Held held{std::move(*f), tl->reach, tl};
          register_counted(books, held, rng() % 8 == 0, nullptr);
          ring[next++ % ring.size()] = std::move(held);  // drops whatever the slot held
        } else if (op < 65) {
          bool crossed = false;
          auto r = tl->advance(1 + rng() % 8, &crossed);
          if (!r.ok()) {
            EXPECT_EQ(r.error().code(), Errc::timeline_closed) << r.error().describe();
          } else if (crossed)
            books.wrap32_crossings++;
        } else if (op < 80) {
          const Held& held = ring[rng() % ring.size()];
          if (!held.fence.valid()) continue;
          auto owner = held.owner.lock();
          const auto timeout = std::chrono::microseconds(rng() % 2000);
          if (owner) record.begin(owner, held.fence.point(), std::chrono::nanoseconds(timeout).count());
          auto r = held.fence.wait(timeout);
          record.end();
          books.waits++;
          if (!r.ok()) {
            EXPECT_EQ(r.error().code(), Errc::fence_error) << r.error().describe();
          }
          if (!r.ok() || *r == WaitStatus::signaled) books.check_completion(held.fence, *held.reach, "a timed waiter");
        } else if (op < 88) {
          const Held& held = ring[rng() % ring.size()];
          if (!held.fence.valid()) continue;
          std::vector<CallbackRegistration> keep;
          register_counted(books, held, false, &keep);
          if (keep.back().cancel()) books.cancelled_before_run++;
        } else if (op < 95) {
          // Pollable fds, taken and dropped at once: one completed before the call is readable now.
          const Held& held = ring[rng() % ring.size()];
          if (!held.fence.valid()) continue;
          const bool complete_before = held.fence.status() != FenceStatus::pending;
          auto fd = held.fence.pollable_fd();
          if (!fd.ok()) {
            ADD_FAILURE() << "pollable_fd: " << fd.error().describe();
            continue;
          }
          books.pollable_fds++;
          if (complete_before) {
            pollfd p{fd->get(), POLLIN, 0};
            EXPECT_EQ(::poll(&p, 1, 0), 1) << "the pollable fd of a completed fence is not readable";
          }
        } else if (op < 96) {
          slots.replace(slot);
          books.closes++;
        } else {
          (void)tl->timeline.earliest_deadline();
          if (const Fence& f = ring[rng() % ring.size()].fence; f.valid())
            (void)f.set_deadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(rng() % 100));
        }
      }
      std::lock_guard guard(held_mutex);
      for (Held& h : ring)
        if (h.fence.valid()) all_held.push_back(std::move(h.fence));
    });
  }

  // Waiters that sleep forever, one per timeline: only a signal or a close may wake them.
  std::atomic<long> forever_waits{0};
  std::vector<std::thread> sleepers;
  for (int i = 0; i < Slots::kCount; ++i) {
    sleepers.emplace_back([&, i] {
      WaitRecord& record = *records[kWorkers + i];
      while (!stop.load()) {
        auto tl = slots.get(i);
        auto f = tl->timeline.fence_at(tl->ahead(3));
        if (!f.ok()) continue;
        record.begin(tl, f->point(), -1);
        auto r = f->wait(wait_forever);
        record.end();
        forever_waits++;
        if (!r.ok()) {
          EXPECT_EQ(r.error().code(), Errc::fence_error) << r.error().describe();
        }
        books.check_completion(*f, *tl->reach, "a forever-waiter");
      }
    });
  }

  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the test's duration
  stop = true;
  for (auto& t : threads) t.join();
  slots.close_all();  // wakes the forever-waiters and completes every remaining fence
  for (auto& t : sleepers) t.join();
  watchdog.stop();  // only now: a waiter stuck after the close is caught too

  for (const Fence& f : all_held) EXPECT_NE(f.status(), FenceStatus::pending);
  all_held.clear();
  EXPECT_GT(books.fences_taken.load(), 1000) << "the stress loop barely ran";
  EXPECT_GT(books.wrap32_fences.load(), 100) << "the wrap32 timelines barely took part";
  EXPECT_GT(books.wrap32_crossings.load(), 0) << "no wrap32 timeline crossed 2^32";
  EXPECT_EQ(books.ran.load() + books.cancelled_before_run.load(), books.registered.load())
      << "a callback was lost or ran after being cancelled";
  EXPECT_EQ(books.ran_twice.load(), 0);
  EXPECT_EQ(books.early_signals.load(), 0);
  EXPECT_EQ(books.early_errors.load(), 0);
  std::printf(
      "stress: %ld fences (%ld on wrap32 timelines), %ld callbacks (%ld cancelled), %ld waits "
      "(%ld forever), %ld pollable fds, %ld closes, %ld nested advances, %ld crossings of 2^32\n",
      books.fences_taken.load(), books.wrap32_fences.load(), books.registered.load(), books.cancelled_before_run.load(),
      books.waits.load() + forever_waits.load(), forever_waits.load(), books.pollable_fds.load(), books.closes.load(),
      books.advances_in_callbacks.load(), books.wrap32_crossings.load());
}

}  // namespace
}  // namespace syncbridge::testing
