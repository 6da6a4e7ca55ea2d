#include "test_util.h"

namespace syncbridge::testing {
namespace {

constexpr std::uint64_t kU32Max = 0xffffffffu;

class Wrap32Test : public FdLeakCheckedTest {};

TEST_F(Wrap32Test, PointsAcrossTheBoundaryStayPendingUntilReached) {
  auto t = make_core_timeline({.name = "wrap", .wrap32 = true, .initial_value = kU32Max - 2});
  Fence before = fence_at(t, kU32Max);      // 2 ahead
  Fence after = fence_at(t, 3);             // 6 ahead, past the wrap
  Fence behind = fence_at(t, kU32Max - 5);  // behind the value: already signaled
  EXPECT_EQ(before.status(), FenceStatus::pending);
  EXPECT_EQ(after.status(), FenceStatus::pending);
  EXPECT_EQ(behind.status(), FenceStatus::signaled);
  SB_ASSERT_OK(t.advance(2));
  EXPECT_EQ(t.value(), kU32Max);
  EXPECT_EQ(before.status(), FenceStatus::signaled);
  EXPECT_EQ(after.status(), FenceStatus::pending);
  SB_ASSERT_OK(t.advance(3));
  EXPECT_EQ(t.value(), 2u);
  EXPECT_EQ(after.status(), FenceStatus::pending);
  SB_ASSERT_OK(t.signal_to(3));
  EXPECT_EQ(after.status(), FenceStatus::signaled);
  EXPECT_EQ(after.point(), 3u);
}

// A consumer in step gets the fence it dropped back, re-armed at the next point: across the
// boundary that point is stored unwrapped, so it stays pending until the value reaches it.
TEST_F(Wrap32Test, AConsumerInStepAcrossTheBoundaryWaitsForEachPoint) {
  auto t = make_core_timeline({.name = "wrap", .wrap32 = true, .initial_value = kU32Max - 2});
  for (int i = 0; i < 6; ++i) {
    const std::uint64_t next = (t.value() + 1) & kU32Max;
    Fence f = fence_at(t, next);
    EXPECT_EQ(f.point(), next);
    EXPECT_EQ(f.status(), FenceStatus::pending) << "point " << next;
    SB_ASSERT_OK(t.advance());
    EXPECT_EQ(f.status(), FenceStatus::signaled) << "point " << next;
  }
  EXPECT_EQ(t.value(), 3u);
  Fence last = fence_at(t, 4);
  EXPECT_EQ(last.status(), FenceStatus::pending);
  EXPECT_EQ(t.pending_count(), 1u);
}

TEST_F(Wrap32Test, KernelComparisonHalfRange) {
  // As the kernel: p is reached when (int32_t)(p - value) <= 0.
  auto t = make_core_timeline({.wrap32 = true, .initial_value = 10});
  EXPECT_EQ(fence_at(t, 10 + 0x7fffffffu).status(), FenceStatus::pending);               // furthest ahead
  EXPECT_EQ(fence_at(t, (10 + 0x80000000u) & kU32Max).status(), FenceStatus::signaled);  // counts as behind
  EXPECT_EQ(fence_at(t, 10).status(), FenceStatus::signaled);
}

TEST_F(Wrap32Test, SamePendingPointAfterWrapIsTheSameFence) {
  auto t = make_core_timeline({.wrap32 = true, .initial_value = kU32Max - 1});
  Fence a = fence_at(t, 5);
  SB_ASSERT_OK(t.advance(3));  // value wraps to 1
  Fence b = fence_at(t, 5);
  EXPECT_TRUE(a == b);
}

TEST_F(Wrap32Test, SignalToBackwardsAcrossTheBoundaryIsAnError) {
  auto t = make_core_timeline({.wrap32 = true, .initial_value = 1});
  auto r = t.signal_to(kU32Max);  // (int32)(0xffffffff - 1) < 0: behind
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::backwards);
  SB_ASSERT_OK(t.signal_to(0x80000000u));  // exactly 2^31 - 1 ahead: forward
  EXPECT_EQ(t.value(), 0x80000000u);
}

TEST_F(Wrap32Test, U32RangeIsEnforced) {
  auto t = make_core_timeline({.wrap32 = true});
  auto f = t.fence_at(kU32Max + 1);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code(), Errc::out_of_range);
  auto a = t.advance(kU32Max + 1);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code(), Errc::out_of_range);
  auto bad = Timeline::create({.wrap32 = true, .initial_value = kU32Max + 1});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Errc::out_of_range);
}

TEST_F(Wrap32Test, ManyWrapsKeepOrder) {
  auto t = make_core_timeline({.wrap32 = true, .initial_value = kU32Max - 1000});
  std::vector<std::uint64_t> order;
  for (int round = 0; round < 3; ++round) {
    for (std::uint64_t d = 1; d <= 2000; d += 7) {
      Fence f = fence_at(t, (t.value() + d) & kU32Max);
      auto r = f.on_complete([&order, d](const Fence&) { order.push_back(d); });
      ASSERT_TRUE(r.ok());
      r->detach();
    }
    order.clear();
    SB_ASSERT_OK(t.advance(2000));
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
    EXPECT_EQ(order.size(), 286u);
    EXPECT_EQ(t.pending_count(), 0u);
  }
}

}  // namespace
}  // namespace syncbridge::testing
