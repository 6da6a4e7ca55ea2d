#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "test_util.h"

namespace syncbridge::testing {
namespace {

class FenceTest : public FdLeakCheckedTest {};

TEST_F(FenceTest, WaitTimesOutOnPendingAndSignalsWhenReached) {
  auto t = make_timeline();
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
  auto t = make_timeline();
  Fence f = fence_at(t, 1);
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    auto r = f.wait(wait_forever);
    EXPECT_TRUE(r.ok() && *r == WaitStatus::signaled);
    woke = true;
  });
  std::this_thread::sleep_for(50ms);  // long past any spin: the waiter is in futex_wait
  EXPECT_FALSE(woke.load());
  SB_ASSERT_OK(t.advance());
  waiter.join();
  EXPECT_TRUE(woke.load());
}

TEST_F(FenceTest, TimestampIsMonotonicAndSetOnCompletion) {
  auto t = make_timeline();
  Fence f = fence_at(t, 1);
  EXPECT_FALSE(f.timestamp().has_value());
  const auto before = std::chrono::steady_clock::now();
  SB_ASSERT_OK(t.advance());
  const auto after = std::chrono::steady_clock::now();
  ASSERT_TRUE(f.timestamp().has_value());
  EXPECT_GE(*f.timestamp(), before);
  EXPECT_LE(*f.timestamp(), after);
}

TEST_F(FenceTest, HugeTimeoutsSaturateInsteadOfOverflowing) {
  auto t = make_timeline();
  Fence f = fence_at(t, 1);
  std::thread later([&] {
    std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(t.advance().ok());
  });
  auto r = f.wait(std::chrono::nanoseconds::max() - 1ns);
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
    std::thread advance([&] {
      std::this_thread::sleep_for(5ms);
      EXPECT_TRUE(t.advance().ok());
    });
    auto all = set.wait_all(timeout);
    advance.join();
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(*all, WaitStatus::signaled) << "timeout " << timeout.count() << " ns overflowed";
  }
  Fence last = fence_at(t, point + 1);
  std::thread advance([&] {
    std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(t.advance().ok());
  });
  auto until = last.wait_until(MonotonicTime::max());
  advance.join();
  SB_ASSERT_OK(until);
  EXPECT_EQ(*until, WaitStatus::signaled);
}

TEST_F(FenceTest, WaitUntilAPastDeadlineTimesOut) {
  auto t = make_timeline();
  Fence f = fence_at(t, 1);
  auto r = f.wait_until(std::chrono::steady_clock::now() - 1s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WaitStatus::timed_out);
}

TEST_F(FenceTest, PollableFdBecomesReadableOnCompletion) {
  auto t = make_timeline();
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
  auto t = make_timeline({.initial_value = 3});
  Fence f = fence_at(t, 1);
  auto fd = f.pollable_fd();
  ASSERT_TRUE(fd.ok());
  pollfd p{fd->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);
}

TEST_F(FenceTest, PollableFdClosedEarlyLeaksNothing) {
  auto t = make_timeline();
  Fence f = fence_at(t, 1);
  { auto fd = f.pollable_fd(); ASSERT_TRUE(fd.ok()); }
  SB_ASSERT_OK(t.advance());  // the callback's own dup is written and closed now
}

TEST_F(FenceTest, CopiesShareOneObject) {
  auto t = make_timeline();
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
