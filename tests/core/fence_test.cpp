#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <latch>
#include <thread>
#include <vector>

#include "test_util.h"
#include "thread_state.h"

namespace syncbridge::testing {
namespace {

class FenceTest : public FdLeakCheckedTest {};

TEST_F(FenceTest, WaitTimesOutOnPendingAndSignalsWhenReached) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 2);
  auto r = f.wait(0ns);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WaitStatus::timed_out);
  r = f.wait(2ms);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WaitStatus::timed_out);
  SB_ASSERT_OK(t.advance(2));
  r = f.wait(0ns);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WaitStatus::signaled);
}

TEST_F(FenceTest, WaiterSleepingInTheKernelIsWoken) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  std::atomic<bool> woke{false};
  std::promise<pid_t> tid;
  std::promise<void> finished;
  std::thread waiter([&] {
    tid.set_value(current_tid());
    auto r = f.wait(wait_forever);
    EXPECT_TRUE(r.ok() && *r == WaitStatus::signaled);
    woke = true;
    finished.set_value();
  });
  // Past the spin, asleep in futex_wait: only the advance's futex wake can end that.
  EXPECT_TRUE(wait_until_thread_asleep_in(tid.get_future().get(), {SYS_futex}, [&] { return woke.load(); }))
      << "the waiter never went to sleep in futex_wait";
  EXPECT_FALSE(woke.load());
  EXPECT_TRUE(t.advance().ok());
  join_or_fail(waiter, finished.get_future(), 20s, "a waiter asleep in futex_wait was not woken by the advance");
  EXPECT_TRUE(woke.load());
}

TEST_F(FenceTest, TimestampIsMonotonicAndSetOnCompletion) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  EXPECT_FALSE(f.timestamp().has_value());
  const auto before = std::chrono::steady_clock::now();
  SB_ASSERT_OK(t.advance());
  const auto after = std::chrono::steady_clock::now();
  ASSERT_TRUE(f.timestamp().has_value());
  EXPECT_GE(*f.timestamp(), before);
  EXPECT_LE(*f.timestamp(), after);
}

// Advances `t` once the thread `waiter_tid` sleeps in futex_wait, from a thread of its own:
// the wait must still be in progress when the advance comes. A wait whose deadline overflowed
// into the past never sleeps: it returns timed_out (and `returned` stops the watch).
std::thread advance_once_asleep(Timeline& t, pid_t waiter_tid, const std::atomic<bool>& returned) {
  return std::thread([&t, waiter_tid, &returned] {
    EXPECT_TRUE(wait_until_thread_asleep_in(waiter_tid, {SYS_futex}, [&] { return returned.load(); }))
        << "the wait returned without sleeping";
    EXPECT_TRUE(t.advance().ok());
  });
}

TEST_F(FenceTest, HugeTimeoutsSaturateInsteadOfOverflowing) {
  auto t = make_core_timeline();
  const pid_t me = current_tid();
  Fence f = fence_at(t, 1);
  std::atomic<bool> returned{false};
  std::thread later = advance_once_asleep(t, me, returned);
  auto r = f.wait(std::chrono::nanoseconds::max() - 1ns);
  returned = true;
  later.join();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WaitStatus::signaled);
  // The same on pending fences, for each way a huge timeout can reach the deadline arithmetic:
  // an overflowed deadline lies in the past, and the wait would time out at once instead of
  // being woken by the advance.
  const std::chrono::nanoseconds huge[] = {std::chrono::nanoseconds::max(), std::chrono::hours(2'000'000),
                                           std::chrono::nanoseconds(INT64_MAX) - 1ns};
  std::uint64_t point = 1;
  for (const auto timeout : huge) {
    ++point;
    Fence pending = fence_at(t, point);
    FenceSet set;
    SB_ASSERT_OK(set.add(pending));
    std::atomic<bool> all_returned{false};
    std::thread advance = advance_once_asleep(t, me, all_returned);
    auto all = set.wait_all(timeout);
    all_returned = true;
    advance.join();
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(*all, WaitStatus::signaled) << "timeout " << timeout.count() << " ns overflowed";
  }
  Fence last = fence_at(t, point + 1);
  std::atomic<bool> until_returned{false};
  std::thread advance = advance_once_asleep(t, me, until_returned);
  auto until = last.wait_until(MonotonicTime::max());
  until_returned = true;
  advance.join();
  SB_ASSERT_OK(until);
  EXPECT_EQ(*until, WaitStatus::signaled);
}

TEST_F(FenceTest, WaitUntilAPastDeadlineTimesOut) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  auto r = f.wait_until(std::chrono::steady_clock::now() - 1s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WaitStatus::timed_out);
}

TEST_F(FenceTest, PollableFdBecomesReadableOnCompletion) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  auto fd = f.pollable_fd();
  ASSERT_TRUE(fd.ok());
  pollfd p{fd->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  SB_ASSERT_OK(t.advance());
  EXPECT_EQ(::poll(&p, 1, 1000), 1);
  EXPECT_TRUE(p.revents & POLLIN);
}

TEST_F(FenceTest, PollableFdOfACompletedFenceIsReadableAtOnce) {
  auto t = make_core_timeline({.initial_value = 3});
  Fence f = fence_at(t, 1);
  auto fd = f.pollable_fd();
  ASSERT_TRUE(fd.ok());
  pollfd p{fd->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);
}

TEST_F(FenceTest, PollableFdClosedEarlyLeaksNothing) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  {
    auto fd = f.pollable_fd();
    ASSERT_TRUE(fd.ok());
  }
  SB_ASSERT_OK(t.advance());  // the callback's own dup is written and closed now
}

// Out of fds, pollable_fd() reports EMFILE and leaves the fence as it was: it still signals,
// wakes a sleeper, and a later pollable_fd() works.
TEST_F(FenceTest, PollableFdOutOfFdsIsAClearErrorAndChangesNothing) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest_free = ::dup(2);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free);  // every fd below it is open: no new one fits
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  auto fd = f.pollable_fd();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().sys_errno(), EMFILE) << fd.error().describe();
  EXPECT_EQ(f.status(), FenceStatus::pending);
  auto again = f.pollable_fd();
  ASSERT_TRUE(again.ok()) << again.error().describe();
  auto waiter = std::async(std::launch::async, [&f] { return f.wait(10s); });
  std::this_thread::sleep_for(5ms);
  SB_ASSERT_OK(t.advance());
  auto r = waiter.get();
  EXPECT_TRUE(r.ok() && *r == WaitStatus::signaled);
  pollfd p{again->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);
}

// Issue 9, defect 7: each call used to leave a dup open (owned by a detached callback) until
// the fence completed, so re-arming on a long-pending fence ran into EMFILE.
TEST_F(FenceTest, PollableFdCallsOnAPendingFenceKeepNoFdOpen) {
  const OpenFds at_start = open_fds();
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  {
    auto first = f.pollable_fd();
    ASSERT_TRUE(first.ok());
  }
  const OpenFds with_one = open_fds();
  EXPECT_EQ(with_one.size(), at_start.size() + 1) << "the fence's own eventfd, and nothing else:\n"
                                                  << describe_fd_changes(at_start, with_one);
  for (int i = 0; i < 1000; ++i) {
    auto fd = f.pollable_fd();
    ASSERT_TRUE(fd.ok()) << "call " << i << ": " << fd.error().describe();
  }
  const std::string left_open = describe_fd_changes(with_one, open_fds());
  EXPECT_TRUE(left_open.empty()) << "1000 pollable_fd() calls, each fd closed at once, changed the open fds:\n"
                                 << left_open;
  SB_ASSERT_OK(t.advance());
  f = Fence();  // the last reference: the fence closes its eventfd
  const std::string at_end = describe_fd_changes(at_start, open_fds());
  EXPECT_TRUE(at_end.empty()) << "the fence's last reference is gone, its fds are not:\n" << at_end;
}

UniqueFd must_ok(Result<UniqueFd> r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.error().describe();
    return UniqueFd();
  }
  return std::move(r).value();
}

bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST_F(FenceTest, EveryPollableFdOfAFenceBecomesReadableWhenItSignals) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  std::vector<UniqueFd> fds;
  for (int i = 0; i < 8; ++i) fds.push_back(must_ok(f.pollable_fd()));
  for (const UniqueFd& fd : fds) EXPECT_FALSE(readable_now(fd.get()));
  SB_ASSERT_OK(t.advance());
  for (const UniqueFd& fd : fds) EXPECT_TRUE(readable_now(fd.get()));
  // They share one eventfd: a holder that reads its fd does not take readiness from the others.
  std::uint64_t value = 0;
  ASSERT_EQ(::read(fds[0].get(), &value, sizeof value), static_cast<ssize_t>(sizeof value));
  EXPECT_EQ(value, 1u);  // a semaphore eventfd
  for (const UniqueFd& fd : fds) EXPECT_TRUE(readable_now(fd.get()));
}

TEST_F(FenceTest, PollableFdTakenAfterCompletionIsReadableAtOnce) {
  auto t = make_core_timeline();
  Fence signaled = fence_at(t, 1);
  Fence errored = fence_at(t, 2);
  UniqueFd before = must_ok(signaled.pollable_fd());  // the fence has its eventfd already
  SB_ASSERT_OK(t.advance());
  EXPECT_TRUE(readable_now(before.get()));
  EXPECT_TRUE(readable_now(must_ok(signaled.pollable_fd()).get()));
  t.close();
  EXPECT_TRUE(readable_now(must_ok(errored.pollable_fd()).get()));
}

TEST_F(FenceTest, PollableFdsRacingCompletionAllBecomeReadable) {
  // Threads take fds while the fence completes: whether a thread got the shared eventfd or a
  // fresh readable one, its fd must become readable (a lost write would time the poll out).
  constexpr int kThreads = 4;
  for (int round = 0; round < 100; ++round) {
    auto t = make_core_timeline();
    Fence f = fence_at(t, 1);
    std::latch start(kThreads + 1);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        auto fd = f.pollable_fd();
        ASSERT_TRUE(fd.ok()) << fd.error().describe();
        pollfd p{fd->get(), POLLIN, 0};
        EXPECT_EQ(::poll(&p, 1, 10'000), 1) << "round " << round << ": a pollable fd never became readable";
      });
    }
    start.arrive_and_wait();
    SB_ASSERT_OK(t.advance());
    for (auto& th : threads) th.join();
  }
}

TEST_F(FenceTest, CopiesShareOneObject) {
  auto t = make_core_timeline();
  Fence a = fence_at(t, 1);
  Fence b = a;
  Fence c;
  c = b;
  EXPECT_TRUE(a == c);
  Fence d = std::move(c);
  EXPECT_FALSE(c.valid());
  EXPECT_TRUE(d == a);
  SB_ASSERT_OK(t.advance());
  EXPECT_EQ(d.status(), FenceStatus::signaled);
}

}  // namespace
}  // namespace syncbridge::testing
