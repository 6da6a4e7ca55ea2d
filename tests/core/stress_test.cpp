// Eight threads mixing every operation on a few shared timelines, with books kept so that a
// lost, doubled or early signal, or a waiter that never wakes, fails the test. Run under ASan
// and TSan in CI (label "stress"). SYNCBRIDGE_STRESS_SECONDS overrides the default duration.
#include <array>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "test_util.h"

namespace syncbridge::testing {
namespace {

struct Books {
  std::atomic<long> registered{0};
  std::atomic<long> ran{0};
  std::atomic<long> cancelled_before_run{0};
  std::atomic<long> ran_twice{0};
  std::atomic<long> early_signals{0};
  std::atomic<long> waits_started{0};
  std::atomic<long> waits_returned{0};
  std::atomic<long> fences_taken{0};
  std::atomic<long> closes{0};
  std::atomic<long> advances_in_callbacks{0};
};

class Slots {
 public:
  static constexpr int kCount = 4;
  Slots() {
    for (auto& s : slots_) s = fresh();
  }
  std::shared_ptr<Timeline> get(int i) {
    std::lock_guard guard(mutex_);
    return slots_[i];
  }
  void replace(int i) {
    std::shared_ptr<Timeline> old;
    {
      std::lock_guard guard(mutex_);
      old = std::exchange(slots_[i], fresh());
    }
    old->close();
  }
  void close_all() {
    std::lock_guard guard(mutex_);
    for (auto& s : slots_) s->close();
  }

 private:
  static std::shared_ptr<Timeline> fresh() {
    auto t = Timeline::create({.name = "stress"});
    return std::make_shared<Timeline>(std::move(t).value());
  }
  std::mutex mutex_;
  std::array<std::shared_ptr<Timeline>, kCount> slots_;
};

void register_counted(Books& books, const Fence& fence, const std::weak_ptr<Timeline>& owner, bool advance_inside,
                      std::vector<CallbackRegistration>* keep) {
  auto runs = std::make_shared<std::atomic<int>>(0);
  Fence self = fence;  // the callback drops this reference: maybe the fence's last user handle
  auto reg = fence.on_complete([&books, runs, self, owner, advance_inside](const Fence& done) mutable {
    if (runs->fetch_add(1) != 0) books.ran_twice++;
    books.ran++;
    if (done.status() == FenceStatus::signaled) {
      if (auto tl = owner.lock(); tl && !tl->closed() && done.point() > tl->value()) books.early_signals++;
    }
    self = Fence();
    if (advance_inside) {
      if (auto tl = owner.lock()) {
        (void)tl->fence_at(tl->value() + 2);  // create a point from inside a callback
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

TEST(CoreStress, EightThreadsLoseNothing) {
  const char* env = std::getenv("SYNCBRIDGE_STRESS_SECONDS");
  const double seconds = env ? std::atof(env) : 3.0;
  Books books;
  Slots slots;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::mutex held_mutex;
  std::vector<Fence> all_held;  // every fence any thread held at the end, checked after close

  for (int id = 0; id < 8; ++id) {
    threads.emplace_back([&, id] {
      std::mt19937_64 rng(0x5eed + id);
      struct Held {
        Fence fence;
        std::weak_ptr<Timeline> owner;  // the timeline the fence is on, for the early-signal check
      };
      std::vector<Held> ring(16);
      std::size_t next = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const int slot = static_cast<int>(rng() % Slots::kCount);
        auto tl = slots.get(slot);
        const auto op = rng() % 100;
        if (op < 40) {
          auto f = tl->fence_at(tl->value() + 1 + rng() % 64);
          if (!f.ok()) {
            EXPECT_EQ(f.error().code(), Errc::timeline_closed);
            continue;
          }
          books.fences_taken++;
          register_counted(books, *f, tl, rng() % 8 == 0, nullptr);
          ring[next++ % ring.size()] = Held{std::move(*f), tl};  // drops whatever the slot held
        } else if (op < 65) {
          auto r = tl->advance(1 + rng() % 8);
          if (!r.ok()) { EXPECT_EQ(r.error().code(), Errc::timeline_closed); }
        } else if (op < 80) {
          const Fence& f = ring[rng() % ring.size()].fence;
          if (!f.valid()) continue;
          books.waits_started++;
          auto r = f.wait(std::chrono::microseconds(rng() % 2000));
          if (!r.ok()) { EXPECT_EQ(r.error().code(), Errc::fence_error); }
          books.waits_returned++;
        } else if (op < 95) {
          const Held& held = ring[rng() % ring.size()];
          if (!held.fence.valid()) continue;
          std::vector<CallbackRegistration> keep;
          register_counted(books, held.fence, held.owner, false, &keep);
          if (keep.back().cancel()) books.cancelled_before_run++;
        } else if (op < 96) {
          slots.replace(slot);
          books.closes++;
        } else {
          (void)tl->earliest_deadline();
          if (const Fence& f = ring[rng() % ring.size()].fence; f.valid())
            (void)f.set_deadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(rng() % 100));
        }
      }
      std::lock_guard guard(held_mutex);
      for (Held& h : ring)
        if (h.fence.valid()) all_held.push_back(std::move(h.fence));
    });
  }

  // Waiters that sleep forever: only a signal or a close may wake them.
  std::atomic<long> forever_started{0}, forever_returned{0};
  std::vector<std::thread> sleepers;
  for (int i = 0; i < 2; ++i) {
    sleepers.emplace_back([&, i] {
      while (!stop.load()) {
        auto tl = slots.get(i);
        auto f = tl->fence_at(tl->value() + 3);
        if (!f.ok()) continue;
        forever_started++;
        (void)f->wait(wait_forever);
        forever_returned++;
      }
    });
  }

  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  slots.close_all();  // wakes the forever-waiters and completes every remaining fence
  for (auto& t : sleepers) t.join();

  for (const Fence& f : all_held) EXPECT_NE(f.status(), FenceStatus::pending);
  EXPECT_GT(books.fences_taken.load(), 1000) << "the stress loop barely ran";
  EXPECT_EQ(books.ran.load() + books.cancelled_before_run.load(), books.registered.load())
      << "a callback was lost or ran after being cancelled";
  EXPECT_EQ(books.ran_twice.load(), 0);
  EXPECT_EQ(books.early_signals.load(), 0);
  EXPECT_EQ(books.waits_started.load(), books.waits_returned.load());
  EXPECT_EQ(forever_started.load(), forever_returned.load());
  std::printf("stress: %ld fences, %ld callbacks (%ld cancelled), %ld waits, %ld closes, %ld nested advances\n",
              books.fences_taken.load(), books.registered.load(), books.cancelled_before_run.load(),
              books.waits_started.load() + forever_started.load(), books.closes.load(),
              books.advances_in_callbacks.load());
}

}  // namespace
}  // namespace syncbridge::testing
