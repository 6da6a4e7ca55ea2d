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
  FenceSet set;
  SB_ASSERT_OK(set.add(f));
  // ~7.2e18 ns: representable, but now + that would overflow the deadline.
  auto all = set.wait_all(std::chrono::hours(2'000'000));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, WaitStatus::signaled);
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
