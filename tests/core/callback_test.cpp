#include <sys/syscall.h>

#include <atomic>
#include <thread>

#include "test_util.h"
#include "thread_state.h"

namespace syncbridge::testing {
namespace {

class CallbackTest : public FdLeakCheckedTest {};

TEST_F(CallbackTest, RunsOnceAfterWaitersWokeAndOutsideTheLock) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  int runs = 0;
  auto reg = f.on_complete([&](const Fence& done) {
    ++runs;
    EXPECT_EQ(done.status(), FenceStatus::signaled);
    // Would deadlock if the timeline lock were held here.
    auto again = t.fence_at(1);
    EXPECT_TRUE(again.ok());
    EXPECT_EQ(t.pending_count(), 0u);
  });
  ASSERT_TRUE(reg.ok());
  SB_ASSERT_OK(t.advance());
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(reg->cancel()) << "it already ran";
}

TEST_F(CallbackTest, RegisteredOnACompletedFenceRunsImmediately) {
  auto t = make_core_timeline({.initial_value = 1});
  Fence f = fence_at(t, 1);
  bool ran = false;
  auto reg = f.on_complete([&](const Fence&) { ran = true; });
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(ran);
  EXPECT_FALSE(reg->active());
}

TEST_F(CallbackTest, CancelledCallbackNeverRuns) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  bool ran_a = false, ran_b = false, ran_c = false;
  auto a = f.on_complete([&](const Fence&) { ran_a = true; });
  auto b = f.on_complete([&](const Fence&) { ran_b = true; });
  auto c = f.on_complete([&](const Fence&) { ran_c = true; });
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_TRUE(b->cancel());
  EXPECT_FALSE(b->cancel()) << "a second cancel is a no-op";
  { CallbackRegistration dropped = std::move(*c); }  // destruction cancels too
  SB_ASSERT_OK(t.advance());
  EXPECT_TRUE(ran_a);
  EXPECT_FALSE(ran_b);
  EXPECT_FALSE(ran_c);
}

TEST_F(CallbackTest, CallbackMayDropTheLastReferenceToAnyFence) {
  auto t = make_core_timeline();
  auto held = std::make_unique<Fence>(fence_at(t, 2));
  Fence first = fence_at(t, 1);
  auto reg = first.on_complete([&](const Fence&) { held.reset(); });
  ASSERT_TRUE(reg.ok());
  reg->detach();
  first = Fence();             // now only the pending set refers to `first`
  SB_ASSERT_OK(t.advance(2));  // point 2 signals in the same batch after its last user handle died
  EXPECT_EQ(held, nullptr);
}

TEST_F(CallbackTest, CallbackMayAdvanceAndCreatePointsOnItsOwnTimeline) {
  auto t = make_core_timeline();
  Fence f1 = fence_at(t, 1);
  Fence f3;
  bool chained = false;
  auto reg = f1.on_complete([&](const Fence&) {
    f3 = fence_at(t, 3);
    auto r = f3.on_complete([&](const Fence&) { chained = true; });
    ASSERT_TRUE(r.ok());
    r->detach();
    EXPECT_TRUE(t.advance(2).ok());  // re-entrant advance from inside a callback
  });
  ASSERT_TRUE(reg.ok());
  SB_ASSERT_OK(t.advance());
  EXPECT_TRUE(chained);
  EXPECT_EQ(t.value(), 3u);
}

TEST_F(CallbackTest, CallbackMayCloseAndEvenDestroyItsTimeline) {
  auto t = std::make_unique<Timeline>(make_core_timeline());
  Fence f1 = fence_at(*t, 1);
  Fence f2 = fence_at(*t, 2);
  auto reg = f1.on_complete([&](const Fence&) { t.reset(); });  // closes: f2 errors
  ASSERT_TRUE(reg.ok());
  SB_ASSERT_OK(t->advance());
  EXPECT_EQ(t, nullptr);
  EXPECT_EQ(f1.status(), FenceStatus::signaled);
  EXPECT_EQ(f2.status(), FenceStatus::error);
}

TEST_F(CallbackTest, CallbackMayCancelItselfAndOthers) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  CallbackRegistration self, other;
  bool other_ran = false;
  auto a = f.on_complete([&](const Fence&) {
    EXPECT_FALSE(self.cancel()) << "running on this thread: cancel must not wait for itself";
    EXPECT_TRUE(other.cancel());
  });
  auto b = f.on_complete([&](const Fence&) { other_ran = true; });
  ASSERT_TRUE(a.ok() && b.ok());
  self = std::move(*a);
  other = std::move(*b);
  SB_ASSERT_OK(t.advance());
  EXPECT_FALSE(other_ran);
}

TEST_F(CallbackTest, CancelFromAnotherThreadWaitsForARunningCallback) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  const pid_t me = current_tid();
  std::atomic<int> stage{0};
  std::atomic<bool> finished{false}, cancel_returned{false};
  auto reg = f.on_complete([&](const Fence&) {
    stage = 1;
    while (stage.load() != 2) std::this_thread::yield();
    // Returns only once cancel() sleeps waiting for it (a cancel() that does not wait returns
    // first, and the check below fails).
    EXPECT_TRUE(wait_until_thread_asleep_in(me, {SYS_futex}, [&] { return cancel_returned.load(); }))
        << "cancel() returned without waiting";
    finished = true;
  });
  ASSERT_TRUE(reg.ok());
  std::thread signaler([&] { EXPECT_TRUE(t.advance().ok()); });
  while (stage.load() != 1) std::this_thread::yield();
  stage = 2;
  EXPECT_FALSE(reg->cancel());
  cancel_returned = true;
  EXPECT_TRUE(finished.load()) << "cancel returned while the callback was still running";
  signaler.join();
}

TEST_F(CallbackTest, CloseRunsCallbacksWithTheError) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 5);
  int seen_errno = 0;
  auto reg = f.on_complete([&](const Fence& done) { seen_errno = done.error_errno(); });
  ASSERT_TRUE(reg.ok());
  t.close();
  EXPECT_EQ(seen_errno, ENOENT);
}

}  // namespace
}  // namespace syncbridge::testing
