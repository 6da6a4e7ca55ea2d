#include <sys/syscall.h>

#include <future>
#include <thread>
#include <vector>

#include "test_util.h"
#include "thread_state.h"

namespace syncbridge::testing {
namespace {

class TimelineTest : public FdLeakCheckedTest {};

TEST_F(TimelineTest, FenceAtReachedPointIsSignaledAndUntracked) {
  auto t = make_core_timeline({.name = "t", .initial_value = 5});
  Fence f = fence_at(t, 5);
  EXPECT_EQ(f.status(), FenceStatus::signaled);
  EXPECT_TRUE(f.timestamp().has_value());
  EXPECT_EQ(t.pending_count(), 0u);
  Fence g = fence_at(t, 3);
  EXPECT_EQ(g.status(), FenceStatus::signaled);
  EXPECT_FALSE(f == g) << "untracked fences are fresh objects";
  EXPECT_EQ(g.point(), 3u);
}

TEST_F(TimelineTest, FenceAtPendingPointReturnsTheSameObject) {
  auto t = make_core_timeline();
  Fence a = fence_at(t, 7);
  Fence b = fence_at(t, 7);
  EXPECT_TRUE(a == b);
  EXPECT_EQ(t.pending_count(), 1u);
  EXPECT_EQ(a.status(), FenceStatus::pending);
}

TEST_F(TimelineTest, AdvanceSignalsInPointOrderWithOneTimestamp) {
  auto t = make_core_timeline();
  std::vector<std::uint64_t> order;
  std::vector<Fence> fences;
  std::vector<CallbackRegistration> regs;
  for (std::uint64_t p : {5, 2, 9, 1, 3}) {
    fences.push_back(fence_at(t, p));
    auto r = fences.back().on_complete([&order](const Fence& f) { order.push_back(f.point()); });
    ASSERT_TRUE(r.ok());
    regs.push_back(std::move(*r));
  }
  EXPECT_EQ(t.pending_count(), 5u);
  SB_ASSERT_OK(t.advance(5));
  EXPECT_EQ(order, (std::vector<std::uint64_t>{1, 2, 3, 5}));
  EXPECT_EQ(t.pending_count(), 1u);
  EXPECT_EQ(fences[0].timestamp(), fences[1].timestamp()) << "one clock reading per batch";
  EXPECT_EQ(fences[2].status(), FenceStatus::pending);
  SB_ASSERT_OK(t.signal_to(9));
  EXPECT_EQ(order.back(), 9u);
  EXPECT_EQ(t.value(), 9u);
}

TEST_F(TimelineTest, SignalToCurrentValueIsANoOpAndBackwardsIsAnError) {
  auto t = make_core_timeline({.initial_value = 10});
  SB_ASSERT_OK(t.signal_to(10));
  auto r = t.signal_to(9);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::backwards);
  EXPECT_EQ(r.error().sys_errno(), EINVAL);
  EXPECT_EQ(t.value(), 10u);
}

TEST_F(TimelineTest, PendingSetHoldsItsOwnReference) {
  auto t = make_core_timeline();
  bool ran = false;
  {
    Fence f = fence_at(t, 1);
    auto r = f.on_complete([&ran](const Fence& fence) {
      ran = true;
      EXPECT_EQ(fence.status(), FenceStatus::signaled);
    });
    ASSERT_TRUE(r.ok());
    r->detach();
  }  // the caller's last handle is gone; the timeline still holds the fence
  EXPECT_EQ(t.pending_count(), 1u);
  SB_ASSERT_OK(t.advance());
  EXPECT_TRUE(ran);
  EXPECT_EQ(t.pending_count(), 0u);
}

TEST_F(TimelineTest, CloseErrorsPendingFencesAndKeepsThemValid) {
  auto t = make_core_timeline({.name = "closing"});
  Fence f = fence_at(t, 3);
  Fence done = fence_at(t, 0);
  std::promise<pid_t> tid;
  std::promise<void> finished;
  std::atomic<bool> returned{false};
  std::thread waiter([f, &tid, &finished, &returned] {
    tid.set_value(current_tid());
    auto r = f.wait(wait_forever);
    returned = true;
    finished.set_value();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::fence_error);
    EXPECT_EQ(r.error().sys_errno(), ENOENT);
  });
  // The close must wake a waiter already asleep in futex_wait, not one yet to check.
  EXPECT_TRUE(wait_until_thread_asleep_in(tid.get_future().get(), {SYS_futex}, [&] { return returned.load(); }))
      << "the waiter returned without sleeping";
  t.close();
  join_or_fail(waiter, finished.get_future(), 20s, "close() did not wake a waiter asleep in futex_wait");
  EXPECT_EQ(f.status(), FenceStatus::error);
  EXPECT_EQ(f.error_errno(), ENOENT);
  EXPECT_EQ(done.status(), FenceStatus::signaled);
  EXPECT_TRUE(t.closed());
  auto again = t.fence_at(4);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Errc::timeline_closed);
  auto adv = t.advance();
  ASSERT_FALSE(adv.ok());
  EXPECT_EQ(adv.error().code(), Errc::timeline_closed);
}

TEST_F(TimelineTest, CloseCanCarryTheMirroredFencesErrno) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  t.close(EIO);
  EXPECT_EQ(f.error_errno(), EIO);
  auto r = f.wait(0ns);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno(), EIO);
  auto u = make_core_timeline();
  Fence g = fence_at(u, 1);
  u.close(0);  // an error without an errno would read as success: it becomes ENOENT
  EXPECT_EQ(g.error_errno(), ENOENT);
}

TEST_F(TimelineTest, DestroyingTheTimelineClosesIt) {
  Fence f;
  {
    auto t = make_core_timeline();
    f = fence_at(t, 1);
  }
  EXPECT_EQ(f.status(), FenceStatus::error);
  EXPECT_EQ(f.error_errno(), ENOENT);
  EXPECT_EQ(f.timeline_name(), "syncbridge") << "the fence keeps the timeline's state alive";
}

TEST_F(TimelineTest, MovedTimelineKeepsItsFences) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  Timeline moved = std::move(t);
  EXPECT_EQ(f.status(), FenceStatus::pending);
  SB_ASSERT_OK(moved.advance());
  EXPECT_EQ(f.status(), FenceStatus::signaled);
}

TEST_F(TimelineTest, EarliestDeadlineTracksPendingFences) {
  auto t = make_core_timeline();
  EXPECT_FALSE(t.earliest_deadline().has_value());
  Fence a = fence_at(t, 1);
  Fence b = fence_at(t, 2);
  const auto base = std::chrono::steady_clock::now();
  SB_ASSERT_OK(b.set_deadline(base + 20ms));
  SB_ASSERT_OK(a.set_deadline(base + 10ms));
  SB_ASSERT_OK(a.set_deadline(base + 30ms));  // a later hint never loosens an earlier one
  EXPECT_EQ(t.earliest_deadline(), base + 10ms);
  EXPECT_EQ(a.deadline(), base + 10ms);
  SB_ASSERT_OK(t.advance());  // a leaves: b's hint is now the earliest
  EXPECT_EQ(t.earliest_deadline(), base + 20ms);
  SB_ASSERT_OK(t.advance());
  EXPECT_FALSE(t.earliest_deadline().has_value());
}

TEST_F(TimelineTest, EventFdCountsSignalBatches) {
  auto t = make_core_timeline();
  auto efd = t.event_fd();
  ASSERT_TRUE(efd.ok());
  std::uint64_t count = 0;
  EXPECT_EQ(::read(*efd, &count, sizeof count), -1) << "nothing happened yet";
  SB_ASSERT_OK(t.advance());
  SB_ASSERT_OK(t.advance());
  ASSERT_EQ(::read(*efd, &count, sizeof count), 8);
  EXPECT_EQ(count, 2u);
  auto same = t.event_fd();
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, *efd) << "one eventfd per timeline";
}

// A fast advance only stores the value (and a record of when): the fences it reached leave
// the pending set later, each stamped with the time of the advance that reached it.
TEST_F(TimelineTest, FencesReachedByFastAdvancesKeepTheirAdvancesTimes) {
  auto t = make_core_timeline();
  std::vector<Fence> held;
  std::vector<std::pair<MonotonicTime, MonotonicTime>> windows;
  for (std::uint64_t p = 1; p <= 3; ++p) held.push_back(fence_at(t, p));
  for (int i = 0; i < 3; ++i) {
    const auto before = std::chrono::steady_clock::now();
    SB_ASSERT_OK(t.advance());
    windows.emplace_back(before, std::chrono::steady_clock::now());
    EXPECT_EQ(held[i].status(), FenceStatus::signaled) << "reached by the value, before any settle";
    std::this_thread::sleep_for(2ms);  // the three windows do not overlap
  }
  // The first fence's time is read before anything settled it (from the records), the others
  // after fence_at settled them.
  ASSERT_TRUE(held[0].timestamp().has_value());
  EXPECT_GE(*held[0].timestamp(), windows[0].first);
  EXPECT_LE(*held[0].timestamp(), windows[0].second);
  Fence next = fence_at(t, 4);
  EXPECT_EQ(t.pending_count(), 1u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(held[i].timestamp().has_value()) << i;
    EXPECT_GE(*held[i].timestamp(), windows[i].first) << i;
    EXPECT_LE(*held[i].timestamp(), windows[i].second) << i;
    auto r = held[i].wait(0ms);
    EXPECT_TRUE(r.ok() && *r == WaitStatus::signaled) << i;
  }
}

// Forty advances, each reaching one held fence, with nothing else touching the timeline: the
// producer settles itself every 16 of them (its records' ring has 32 slots), so no record a
// timestamp needs is overwritten, and no reached fence stays in the pending set for long.
TEST_F(TimelineTest, ManyFastAdvancesInARowKeepEveryTimestamp) {
  auto t = make_core_timeline();
  constexpr int kFences = 40;
  std::vector<Fence> held;
  for (std::uint64_t p = 1; p <= kFences; ++p) held.push_back(fence_at(t, p));
  std::vector<MonotonicTime> after;
  for (int i = 0; i < kFences; ++i) {
    SB_ASSERT_OK(t.advance());
    after.push_back(std::chrono::steady_clock::now());
  }
  for (int i = 0; i < kFences; ++i) {
    ASSERT_TRUE(held[i].timestamp().has_value()) << i;
    EXPECT_LE(*held[i].timestamp(), after[i]) << "fence " << i << " stamped by a later advance";
    if (i > 0) {
      EXPECT_GE(*held[i].timestamp(), after[i - 1]) << "fence " << i << " stamped by an earlier advance";
    }
  }
  EXPECT_EQ(t.pending_count(), 0u);
}

// A consumer in step with its producer (fence_at the next point before every advance) settles
// the pending set on each call, so every 16 advances the producer finds nothing that its earlier
// advances reached and skips its own settle (settled_through): the records it then counts as
// consumed must be the ones no held fence needs. Every fence is held, so each needs its
// advance's record, read by the next fence_at's settle.
TEST_F(TimelineTest, AProducerInStepWithItsConsumerKeepsEveryTimestamp) {
  auto t = make_core_timeline();
  constexpr std::uint64_t kSteps = 200;  // a dozen skips, the ring lapped six times
  std::vector<std::pair<Fence, std::pair<MonotonicTime, MonotonicTime>>> held;
  for (std::uint64_t p = 1; p <= kSteps; ++p) {
    Fence f = fence_at(t, p);
    const auto before = std::chrono::steady_clock::now();
    SB_ASSERT_OK(t.advance());
    const auto after = std::chrono::steady_clock::now();
    held.push_back({std::move(f), {before, after}});
  }
  for (const auto& [f, window] : held) {
    const auto stamp = f.timestamp();
    ASSERT_TRUE(stamp.has_value()) << f.point();
    EXPECT_GE(*stamp, window.first) << "fence " << f.point() << " stamped by an earlier advance";
    EXPECT_LE(*stamp, window.second) << "fence " << f.point() << " stamped by a later advance";
  }
  EXPECT_EQ(t.pending_count(), 0u);
}

// Fence states that die in the pending set are kept for reuse: a reused one must carry nothing
// of its past (deadline hint, status, callbacks).
TEST_F(TimelineTest, ReusedFenceStatesStartClean) {
  auto t = make_core_timeline();
  for (std::uint64_t p = 1; p <= 40; ++p) {
    {
      Fence f = fence_at(t, p);
      SB_ASSERT_OK(f.set_deadline(std::chrono::steady_clock::now() + 1h));
    }  // only the pending set holds it now
    SB_ASSERT_OK(t.advance());
  }
  Fence fresh = fence_at(t, 41);  // settles the last one, then takes a kept state
  EXPECT_EQ(fresh.status(), FenceStatus::pending);
  EXPECT_FALSE(fresh.deadline().has_value());
  EXPECT_FALSE(t.earliest_deadline().has_value());
  EXPECT_FALSE(fresh.timestamp().has_value());
  EXPECT_EQ(fresh.point(), 41u);
  bool ran = false;
  auto r = fresh.on_complete([&ran](const Fence&) { ran = true; });
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(ran);
  SB_ASSERT_OK(t.advance());
  EXPECT_TRUE(ran);
  EXPECT_EQ(t.pending_count(), 0u);
}

// A consumer in step with its producer finds the pending set holding only the fence it waited
// for, reached and released: fence_at turns that state into the next point's fence where it
// stands. Only when it is the set's only fence: beside other pending points, moving it would
// break the set's order (fence_at(5) would no longer find the held fence at 5).
TEST_F(TimelineTest, AReachedReleasedFenceBesideOthersKeepsThePointOrder) {
  auto t = make_core_timeline();
  Fence five = fence_at(t, 5);
  { Fence one = fence_at(t, 1); }  // only the pending set holds it now
  SB_ASSERT_OK(t.advance());       // reaches 1, settles nothing
  Fence ten = fence_at(t, 10);
  Fence three = fence_at(t, 3);
  EXPECT_TRUE(fence_at(t, 5) == five) << "the held fence at 5 is no longer found";
  EXPECT_EQ(t.pending_count(), 3u);
  SB_ASSERT_OK(t.signal_to(4));
  EXPECT_EQ(three.status(), FenceStatus::signaled);
  EXPECT_EQ(t.pending_count(), 2u) << "3 left the set, and only 3";
  SB_ASSERT_OK(t.signal_to(5));
  EXPECT_EQ(t.pending_count(), 1u) << "5 left the set, and only 5";
  EXPECT_EQ(ten.status(), FenceStatus::pending);
  SB_ASSERT_OK(t.signal_to(10));
  EXPECT_EQ(t.pending_count(), 0u);
  EXPECT_EQ(ten.point(), 10u);
}

// The fence a consumer in step takes over must be its own: one somebody still holds (the
// waiter that has not dropped it yet, a copy) keeps its point and its status.
TEST_F(TimelineTest, AReachedFenceStillHeldIsNotReusedForTheNextPoint) {
  auto t = make_core_timeline();
  Fence first = fence_at(t, 1);
  SB_ASSERT_OK(t.advance());
  Fence second = fence_at(t, 2);
  EXPECT_FALSE(first == second);
  EXPECT_EQ(first.point(), 1u);
  EXPECT_EQ(first.status(), FenceStatus::signaled);
  EXPECT_TRUE(first.timestamp().has_value());
  EXPECT_EQ(second.status(), FenceStatus::pending);
  EXPECT_EQ(t.pending_count(), 1u);
}

// A reached fence's deadline hint stops counting at once, though the fence may still sit in the
// pending set until the next settle.
TEST_F(TimelineTest, EarliestDeadlineForgetsAFenceTheValueReached) {
  auto t = make_core_timeline();
  Fence a = fence_at(t, 1);
  Fence b = fence_at(t, 2);
  const auto base = std::chrono::steady_clock::now();
  SB_ASSERT_OK(a.set_deadline(base + 10ms));
  SB_ASSERT_OK(b.set_deadline(base + 20ms));
  SB_ASSERT_OK(t.advance());
  EXPECT_EQ(t.earliest_deadline(), base + 20ms);
  SB_ASSERT_OK(a.set_deadline(base + 1ms));  // too late: a is signaled
  EXPECT_EQ(t.earliest_deadline(), base + 20ms);
}

TEST_F(TimelineTest, ManyPointsInRandomOrderSignalSorted) {
  auto t = make_core_timeline();
  std::vector<Fence> fences;
  std::uint64_t x = 12345;
  std::vector<std::uint64_t> seen;
  for (int i = 0; i < 5000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    Fence f = fence_at(t, 1 + (x >> 40) % 100000);
    auto r = f.on_complete([&seen](const Fence& done) { seen.push_back(done.point()); });
    ASSERT_TRUE(r.ok());
    r->detach();
    fences.push_back(f);
  }
  SB_ASSERT_OK(t.signal_to(100000));
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  for (const Fence& f : fences) EXPECT_EQ(f.status(), FenceStatus::signaled);
  EXPECT_EQ(t.pending_count(), 0u);
}

}  // namespace
}  // namespace syncbridge::testing
