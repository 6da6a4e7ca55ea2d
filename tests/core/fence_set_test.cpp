#include <sys/syscall.h>

#include <thread>

#include "test_util.h"
#include "thread_state.h"

namespace syncbridge::testing {
namespace {

class FenceSetTest : public FdLeakCheckedTest {};

TEST_F(FenceSetTest, KeepsOneEntryPerTimelineWithTheLaterPoint) {
  auto a = make_core_timeline({.name = "a"});
  auto b = make_core_timeline({.name = "b"});
  FenceSet set;
  SB_ASSERT_OK(set.add(fence_at(a, 3)));
  SB_ASSERT_OK(set.add(fence_at(a, 1)));
  SB_ASSERT_OK(set.add(fence_at(b, 2)));
  SB_ASSERT_OK(set.add(fence_at(a, 5)));
  ASSERT_EQ(set.size(), 2u);
  for (const Fence& f : set.fences()) EXPECT_EQ(f.point(), f.timeline_name() == "a" ? 5u : 2u);
}

TEST_F(FenceSetTest, MergeMatchesSyncFileMerge) {
  auto a = make_core_timeline();
  auto b = make_core_timeline();
  auto c = make_core_timeline();
  FenceSet x, y;
  SB_ASSERT_OK(x.add(fence_at(a, 4)));
  SB_ASSERT_OK(x.add(fence_at(b, 1)));
  SB_ASSERT_OK(y.add(fence_at(a, 2)));
  SB_ASSERT_OK(y.add(fence_at(b, 6)));
  SB_ASSERT_OK(y.add(fence_at(c, 1)));
  FenceSet m = FenceSet::merge(x, y);
  ASSERT_EQ(m.size(), 3u);
  const void* ida = fence_at(a, 0).timeline_id();
  const void* idb = fence_at(b, 0).timeline_id();
  for (const Fence& f : m.fences()) {
    const std::uint64_t expected = f.timeline_id() == ida ? 4u : f.timeline_id() == idb ? 6u : 1u;
    EXPECT_EQ(f.point(), expected);
  }
  EXPECT_EQ(m.status(), FenceStatus::pending);
  SB_ASSERT_OK(a.advance(4));
  SB_ASSERT_OK(b.advance(6));
  EXPECT_EQ(m.status(), FenceStatus::pending);
  SB_ASSERT_OK(c.advance(1));
  EXPECT_EQ(m.status(), FenceStatus::signaled);
}

TEST_F(FenceSetTest, WaitAllWaitsForEveryFence) {
  auto a = make_core_timeline();
  auto b = make_core_timeline();
  FenceSet set;
  SB_ASSERT_OK(set.add(fence_at(a, 1)));
  SB_ASSERT_OK(set.add(fence_at(b, 1)));
  SB_ASSERT_OK(a.advance());
  auto r = set.wait_all(1ms);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WaitStatus::timed_out);
  // b advances only once this thread sleeps in wait_all, still waiting for it.
  const pid_t me = current_tid();
  std::atomic<bool> returned{false};
  std::thread later([&] {
    EXPECT_TRUE(wait_until_thread_asleep_in(me, {SYS_futex}, [&] { return returned.load(); }))
        << "wait_all returned without sleeping";
    EXPECT_TRUE(b.advance().ok());
  });
  r = set.wait_all(wait_forever);
  returned = true;
  later.join();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WaitStatus::signaled);
}

TEST_F(FenceSetTest, AnErroredMemberFailsTheSet) {
  auto a = make_core_timeline();
  auto b = make_core_timeline({.name = "dies"});
  FenceSet set;
  SB_ASSERT_OK(set.add(fence_at(a, 1)));
  SB_ASSERT_OK(set.add(fence_at(b, 1)));
  b.close();
  EXPECT_EQ(set.status(), FenceStatus::error);
  auto r = set.wait_all(wait_forever);  // must not hang on a's pending fence
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::fence_error);
  EXPECT_EQ(r.error().sys_errno(), ENOENT);
}

TEST_F(FenceSetTest, WaitAnyReturnsTheFirstToComplete) {
  std::vector<Timeline> timelines;
  FenceSet set;
  for (int i = 0; i < 64; ++i) {
    timelines.push_back(make_core_timeline());
    SB_ASSERT_OK(set.add(fence_at(timelines.back(), 1)));
  }
  auto r = set.wait_any(1ms);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, WaitStatus::timed_out);
  const void* chosen = fence_at(timelines[37], 0).timeline_id();
  // The one advance comes once this thread sleeps in wait_any, still waiting for it.
  const pid_t me = current_tid();
  std::atomic<bool> returned{false};
  std::thread later([&] {
    EXPECT_TRUE(wait_until_thread_asleep_in(me, {SYS_futex}, [&] { return returned.load(); }))
        << "wait_any returned without sleeping";
    EXPECT_TRUE(timelines[37].advance().ok());
  });
  r = set.wait_any(wait_forever);
  returned = true;
  later.join();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, WaitStatus::signaled);
  EXPECT_EQ(set.fences()[r->index].timeline_id(), chosen);
}

TEST_F(FenceSetTest, EmptySetIsSignaledButCannotWaitAny) {
  FenceSet set;
  EXPECT_EQ(set.status(), FenceStatus::signaled);
  auto r = set.wait_any(0ns);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  auto add = set.add(Fence());
  ASSERT_FALSE(add.ok());
  EXPECT_EQ(add.error().code(), Errc::invalid_handle);
}

}  // namespace
}  // namespace syncbridge::testing

namespace syncbridge::testing {
namespace {

// Regression: on a wrap32 timeline at 0 (what SwSyncExporter builds), 0xFFFFFFFF is a reached
// point whose unwrapped position is huge; add/merge must still keep the pending fence.
TEST_F(FenceSetTest, Wrap32ReachedPointNeverHidesAPendingOne) {
  auto t = make_core_timeline({.name = "wrap", .wrap32 = true});
  Fence pending = fence_at(t, 1);
  Fence reached = fence_at(t, 0xFFFFFFFFu);
  ASSERT_EQ(reached.status(), FenceStatus::signaled);
  for (const bool pending_first : {true, false}) {
    FenceSet set;
    SB_ASSERT_OK(set.add(pending_first ? pending : reached));
    SB_ASSERT_OK(set.add(pending_first ? reached : pending));
    auto r = set.wait_all(std::chrono::nanoseconds::zero());
    SB_ASSERT_OK(r);
    EXPECT_EQ(*r, WaitStatus::timed_out) << "signaled while a member is pending (pending added "
                                         << (pending_first ? "first" : "second") << ")";
    FenceSet only_pending, only_reached;
    SB_ASSERT_OK(only_pending.add(pending));
    SB_ASSERT_OK(only_reached.add(reached));
    const FenceSet merged =
        pending_first ? FenceSet::merge(only_pending, only_reached) : FenceSet::merge(only_reached, only_pending);
    EXPECT_EQ(merged.status(), FenceStatus::pending);
  }
  SB_ASSERT_OK(t.advance(1));
}

}  // namespace
}  // namespace syncbridge::testing
