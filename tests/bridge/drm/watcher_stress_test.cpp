// Watcher races (label "bridge;stress", host fds only, meant for TSan too): threads add watches,
// fire them and remove them while the dispatcher runs their callbacks. Every watch must end
// exactly one way: removed before firing (remove() true, callback never runs) or fired (its
// callback ran once and had returned before any remove() of it returned).
#include <sys/eventfd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "drm/drm_test_util.h"
#include "syncbridge/watcher.h"

namespace syncbridge::testing {
namespace {

struct Record {
  std::atomic<int> runs{0};
  std::atomic<bool> finished{false};
  std::atomic<int> removed{0};  // successful remove() calls (the worker's or the thief's)
};

// After a remove() that returned false: the callback has run to its end, or another thread's
// remove() won (and is about to count it). Give that thread a moment to count.
bool ended_elsewhere(const Record& rec) {
  for (int i = 0; i < 100000; ++i) {
    if (rec.finished.load() || rec.removed.load() > 0) return true;
    std::this_thread::yield();
  }
  return false;
}

class WatcherStressTest : public FdLeakCheckedTest, public ::testing::WithParamInterface<WatcherMode> {};

TEST_P(WatcherStressTest, AddFireAndRemoveFromManyThreads) {
  if (auto why = raise_fd_limit(4096)) GTEST_SKIP() << *why;
  Watcher w = must(Watcher::create(GetParam()));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::atomic<bool> done{false};

  // Published watches, for the thief thread that removes other threads' watches.
  std::mutex published_mu;
  std::vector<std::pair<WatchId, std::shared_ptr<Record>>> published;

  std::vector<std::thread> dispatchers;
  if (GetParam() == WatcherMode::caller_loop)
    for (int i = 0; i < 2; ++i)
      dispatchers.emplace_back([&] {
        while (!done.load()) {
          if (readable(w.fd(), 1ms)) {
            EXPECT_TRUE(w.dispatch().ok());
          }
        }
      });

  auto worker = [&](unsigned seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < kPerThread; ++i) {
      auto rec = std::make_shared<Record>();
      UniqueFd watched(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      UniqueFd ours = must(watched.dup());
      const bool slow = rng() % 8 == 0;
      WatchId id = must(w.watch_fd(std::move(watched), [rec, slow](const Result<void>& r) {
        EXPECT_TRUE(r.ok());
        EXPECT_EQ(rec->removed.load(), 0) << "a removed watch fired";
        rec->runs.fetch_add(1);
        // Load shape, not synchronization: a slow callback widens the window remove() races.
        if (slow) std::this_thread::sleep_for(std::chrono::microseconds(200));
        rec->finished.store(true);
      }));
      {
        std::lock_guard lk(published_mu);
        published.emplace_back(id, rec);
      }
      switch (rng() % 4) {
        case 0:  // fire only
        case 3: (void)::eventfd_write(ours.get(), 1); break;
        case 1:  // remove only
          if (w.remove(id)) {
            rec->removed.fetch_add(1);
          } else {
            EXPECT_TRUE(ended_elsewhere(*rec)) << "remove() returned false before the callback ended";
          }
          break;
        default:  // fire, then remove at once: races the dispatcher
          (void)::eventfd_write(ours.get(), 1);
          if (w.remove(id)) {
            rec->removed.fetch_add(1);
          } else {
            EXPECT_TRUE(ended_elsewhere(*rec)) << "remove() returned false before the callback ended";
          }
          break;
      }
    }
  };

  std::thread thief([&] {
    std::mt19937 rng(99);
    while (!done.load()) {
      std::pair<WatchId, std::shared_ptr<Record>> victim;
      {
        std::lock_guard lk(published_mu);
        if (published.empty()) continue;
        victim = published[rng() % published.size()];
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));  // a thief, not a flood
      if (w.remove(victim.first)) {
        victim.second->removed.fetch_add(1);
      } else {
        EXPECT_TRUE(ended_elsewhere(*victim.second));
      }
    }
  });

  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) workers.emplace_back(worker, static_cast<unsigned>(t + 1));
  for (auto& t : workers) t.join();

  // Everything not removed gets fired by now or soon: wait until every watch has ended.
  auto all_ended = [&] {
    std::lock_guard lk(published_mu);
    for (auto& [id, rec] : published)
      if (rec->removed.load() == 0 && !rec->finished.load()) return false;
    return true;
  };
  for (int i = 0; i < 20000 && !all_ended(); ++i) std::this_thread::sleep_for(1ms);  // polls the condition
  done.store(true);
  thief.join();
  for (auto& d : dispatchers) d.join();

  std::size_t fired = 0, removed = 0;
  for (auto& [id, rec] : published) {
    const int runs = rec->runs.load();
    EXPECT_LE(runs, 1);
    EXPECT_EQ(runs + rec->removed.load(), 1) << "a watch must end exactly one way";
    fired += static_cast<std::size_t>(runs);
    removed += static_cast<std::size_t>(rec->removed.load());
  }
  EXPECT_EQ(fired + removed, std::size_t{kThreads * kPerThread});
  EXPECT_EQ(w.stats().watches, 0u);
  std::printf("fired %zu, removed %zu\n", fired, removed);
}

INSTANTIATE_TEST_SUITE_P(Modes, WatcherStressTest, ::testing::Values(WatcherMode::own_thread, WatcherMode::caller_loop),
                         [](const ::testing::TestParamInfo<WatcherMode>& i) {
                           return i.param == WatcherMode::own_thread ? "own_thread" : "caller_loop";
                         });

}  // namespace
}  // namespace syncbridge::testing
