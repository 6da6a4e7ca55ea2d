// The watcher with host-only fds (eventfds, pipes, core fences' pollable fds): label "bridge",
// so it runs on any kernel and under ASan and TSan.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "drm/drm_test_util.h"
#include "syncbridge/timeline.h"
#include "syncbridge/watcher.h"
#include "thread_state.h"

namespace syncbridge::testing {
namespace {

// An eventfd the test keeps a dup of, so it can fire the watched one.
struct Trigger {
  UniqueFd watched;
  UniqueFd ours;
  Trigger() : watched(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) { ours = must(watched.dup()); }
  void fire() const { EXPECT_EQ(::eventfd_write(ours.get(), 1), 0); }
};

class WatcherTest : public FdLeakCheckedTest, public ::testing::WithParamInterface<WatcherMode> {
 protected:
  Watcher make() { return must(Watcher::create(GetParam())); }
};

TEST_P(WatcherTest, AWatchFiresOnceWhenItsFdBecomesReadable) {
  Watcher w = make();
  Trigger t;
  std::atomic<int> calls{0};
  WatchId id = must(w.watch_fd(std::move(t.watched), [&](const Result<void>& r) {
    EXPECT_TRUE(r.ok());
    ++calls;
  }));
  EXPECT_TRUE(id);
  EXPECT_EQ(w.stats().watches, 1u);
  // Time to go wrong, not a synchronization: a watch that fires before its fd is readable does
  // so within it (and the check below fails); a slow machine only proves less.
  std::this_thread::sleep_for(10ms);
  if (w.mode() == WatcherMode::caller_loop) {
    EXPECT_EQ(must(w.dispatch()), 0u);  // nothing ready: returns at once
  }
  EXPECT_EQ(calls.load(), 0);
  t.fire();
  ASSERT_TRUE(eventually(w, [&] { return calls.load() == 1; }));
  t.fire();
  std::this_thread::sleep_for(10ms);  // time for a second firing to go wrong, as above
  if (w.mode() == WatcherMode::caller_loop) (void)must(w.dispatch());
  EXPECT_EQ(calls.load(), 1);  // one-shot
  EXPECT_EQ(w.stats().watches, 0u);
  EXPECT_EQ(w.stats().fired, 1u);
  EXPECT_FALSE(w.remove(id));  // spent
}

TEST_P(WatcherTest, AnFdAlreadyReadableWhenAddedFiresToo) {
  Watcher w = make();
  Trigger t;
  t.fire();  // before the watch exists
  std::atomic<bool> fired{false};
  (void)must(w.watch_fd(std::move(t.watched), [&](const Result<void>&) { fired = true; }));
  EXPECT_TRUE(eventually(w, [&] { return fired.load(); }));
}

TEST_P(WatcherTest, RemoveBeforeFiringDropsTheCallbackUnrun) {
  Watcher w = make();
  Trigger t;
  std::atomic<bool> fired{false};
  WatchId id = must(w.watch_fd(std::move(t.watched), [&](const Result<void>&) { fired = true; }));
  EXPECT_TRUE(w.remove(id));
  EXPECT_FALSE(w.remove(id));
  t.fire();
  // Time for a removed watch to fire wrongly, not a synchronization: the test holds either way.
  std::this_thread::sleep_for(20ms);
  if (w.mode() == WatcherMode::caller_loop) {
    EXPECT_EQ(must(w.dispatch()), 0u);
  }
  EXPECT_FALSE(fired.load());
  EXPECT_EQ(w.stats().watches, 0u);
}

TEST_P(WatcherTest, AStaleIdNeverRemovesTheWatchThatReusedItsSlot) {
  Watcher w = make();
  Trigger a;
  WatchId old = must(w.watch_fd(std::move(a.watched), [](const Result<void>&) {}));
  EXPECT_TRUE(w.remove(old));
  Trigger b;
  std::atomic<bool> fired{false};
  WatchId fresh = must(w.watch_fd(std::move(b.watched), [&](const Result<void>&) { fired = true; }));
  EXPECT_NE(fresh, old);
  EXPECT_FALSE(w.remove(old));
  b.fire();
  EXPECT_TRUE(eventually(w, [&] { return fired.load(); }));
}

TEST_P(WatcherTest, ACallbackMayRemoveItselfAndOthersAndAddNewWatches) {
  Watcher w = make();
  Trigger a, b, c;
  std::atomic<bool> b_fired{false}, c_fired{false};
  WatchId id_b = must(w.watch_fd(std::move(b.watched), [&](const Result<void>&) { b_fired = true; }));
  WatchId id_a{};
  std::atomic<bool> a_done{false};
  UniqueFd c_fd = std::move(c.watched);
  id_a = must(w.watch_fd(std::move(a.watched), [&](const Result<void>&) {
    EXPECT_FALSE(w.remove(id_a));  // itself: false at once, no deadlock
    EXPECT_TRUE(w.remove(id_b));
    EXPECT_TRUE(w.watch_fd(std::move(c_fd), [&](const Result<void>&) { c_fired = true; }).ok());
    a_done = true;
  }));
  a.fire();
  ASSERT_TRUE(eventually(w, [&] { return a_done.load(); }));
  b.fire();
  c.fire();
  EXPECT_TRUE(eventually(w, [&] { return c_fired.load(); }));
  EXPECT_FALSE(b_fired.load());
}

TEST_P(WatcherTest, RemoveWhileTheCallbackRunsWaitsForIt) {
  Watcher w = make();
  Trigger t;
  std::atomic<bool> entered{false}, finished{false}, remove_returned{false};
  const pid_t me = current_tid();
  WatchId id = must(w.watch_fd(std::move(t.watched), [&](const Result<void>&) {
    entered = true;
    // Returns only once remove() sleeps waiting for it (a remove() that does not wait returns
    // first, and the check below fails).
    EXPECT_TRUE(wait_until_thread_asleep_in(me, {SYS_futex}, [&] { return remove_returned.load(); }))
        << "remove() returned without waiting";
    finished = true;
  }));
  t.fire();
  std::thread loop;
  if (w.mode() == WatcherMode::caller_loop)
    loop = std::thread([&] { (void)eventually(w, [&] { return finished.load(); }); });
  while (!entered.load()) std::this_thread::yield();
  EXPECT_FALSE(w.remove(id));
  remove_returned = true;
  EXPECT_TRUE(finished.load());  // remove() returned only after the callback did
  if (loop.joinable()) loop.join();
}

TEST_P(WatcherTest, CoreFencesAndTimelinesAsSourcesAndTargets) {
  Watcher w = make();
  Timeline source = must(Timeline::create({.name = "source"}));
  Timeline target = must(Timeline::create({.name = "target"}));
  Fence watched = must(source.fence_at(2));
  Fence mirrored = must(target.fence_at(7));
  (void)must(w.watch_fd(must(watched.pollable_fd()), signal_timeline(target, 7)));
  SB_ASSERT_OK(source.advance(2));
  EXPECT_TRUE(eventually(w, [&] { return mirrored.status() == FenceStatus::signaled; }));
  EXPECT_EQ(target.value(), 7u);
}

TEST_P(WatcherTest, AHangUpWithoutDataIsAnErrorThatClosesATargetTimeline) {
  Watcher w = make();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  UniqueFd r(p[0]), wr(p[1]);
  Timeline target = must(Timeline::create({.name = "target"}));
  Fence f = must(target.fence_at(1));
  std::atomic<int> err{0};
  auto to_target = signal_timeline(target, 1);
  (void)must(w.watch_fd(std::move(r), [&](const Result<void>& out) {
    if (!out) err = out.error().sys_errno();
    to_target(out);
  }));
  wr.reset();  // EPOLLHUP, no EPOLLIN
  ASSERT_TRUE(eventually(w, [&] { return f.status() != FenceStatus::pending; }));
  EXPECT_EQ(err.load(), EPIPE);
  EXPECT_EQ(f.status(), FenceStatus::error);
  EXPECT_TRUE(target.closed());
}

TEST_P(WatcherTest, TypedErrorsForBadInput) {
  Watcher w = make();
  SB_EXPECT_ERROR(w.watch_fd(UniqueFd(), [](const Result<void>&) {}), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(w.watch_sync_file(SyncFile(), [](const Result<void>&) {}), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(w.watch_syncobj(TimelineSyncobj(), 1, [](const Result<void>&) {}), Errc::invalid_handle, EBADF);
  // epoll refuses regular files (EPERM).
  UniqueFd file(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(file.valid());
  SB_EXPECT_ERROR(w.watch_fd(std::move(file), [](const Result<void>&) {}), Errc::permission_denied, EPERM);
  EXPECT_EQ(w.stats().watches, 0u);
  if (w.mode() == WatcherMode::own_thread) {
    SB_EXPECT_ERROR(w.dispatch(), Errc::invalid_argument, EINVAL);
  }
  Watcher empty;
  SB_EXPECT_ERROR(empty.watch_fd(UniqueFd(), [](const Result<void>&) {}), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(empty.dispatch(), Errc::invalid_handle, EBADF);
  EXPECT_EQ(empty.fd(), -1);
  EXPECT_FALSE(empty.remove(WatchId{1}));
}

TEST_P(WatcherTest, DestroyingTheWatcherDropsPendingWatchesUnrun) {
  std::atomic<bool> fired{false};
  {
    Watcher w = make();
    Trigger t;
    (void)must(w.watch_fd(std::move(t.watched), [&](const Result<void>&) { fired = true; }));
    Watcher moved = std::move(w);
    EXPECT_EQ(moved.stats().watches, 1u);
  }
  EXPECT_FALSE(fired.load());
}

TEST_P(WatcherTest, TenThousandWatches) {
  constexpr int kWatches = 10'000;
  if (auto why = raise_fd_limit(kWatches + 256)) GTEST_SKIP() << *why;
  Watcher w = must(Watcher::create(GetParam()));
  // One fd per watch: the test writes to the watched eventfds through their numbers, each
  // once and before it fires (the watcher closes an fd only after its callback ran). The
  // mutex shows TSan what the kernel guarantees: the write comes before that close.
  std::vector<int> fds;
  std::vector<WatchId> ids;
  std::atomic<int> calls{0};
  std::mutex writing;
  for (int i = 0; i < kWatches; ++i) {
    UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    ASSERT_TRUE(efd.valid());
    fds.push_back(efd.get());
    ids.push_back(must(w.watch_fd(std::move(efd), [&](const Result<void>&) {
      std::lock_guard lk(writing);
      ++calls;
    })));
  }
  EXPECT_EQ(w.stats().watches, std::size_t{kWatches});
  // Remove every tenth (its fd closes), fire the rest.
  int removed = 0;
  for (std::size_t i = 0; i < ids.size(); i += 10) {
    EXPECT_TRUE(w.remove(ids[i]));
    fds[i] = -1;
    ++removed;
  }
  for (int fd : fds) {
    if (fd >= 0) {
      std::lock_guard lk(writing);
      EXPECT_EQ(::eventfd_write(fd, 1), 0);
    }
  }
  ASSERT_TRUE(eventually(w, [&] { return calls.load() == kWatches - removed; }));
  EXPECT_EQ(w.stats().watches, 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, WatcherTest, ::testing::Values(WatcherMode::own_thread, WatcherMode::caller_loop),
                         [](const ::testing::TestParamInfo<WatcherMode>& i) {
                           return i.param == WatcherMode::own_thread ? "own_thread" : "caller_loop";
                         });

}  // namespace
}  // namespace syncbridge::testing
