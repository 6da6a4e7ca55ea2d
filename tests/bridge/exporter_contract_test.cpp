// The exporter contract of exporter.h, once for both backends: every test runs on a
// SwSyncExporter and on a SyncobjExporter, and drives it through Exporter& where it can, as a
// caller that writes its code once would. Needs sw_sync and a render node with timeline
// syncobjs (label "kernel": the test VM has both; elsewhere it skips, saying why).
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "drm/drm_test_util.h"
#include "syncbridge/exporter.h"
#include "syncbridge/sw_sync.h"
#include "syncbridge/syncobj_exporter.h"

namespace syncbridge::testing {
namespace {

// How each backend is made, and the first step that passes what its kernel timeline holds
// from value 1 (sw_sync: a u32; a syncobj: a u64).
template <class E>
struct Backend;

template <>
struct Backend<SwSyncExporter> {
  static Result<SwSyncExporter> make(const DrmDevice&, std::uint64_t initial) {
    return SwSyncExporter::create("contract", initial);
  }
  static constexpr std::uint64_t kStepTooFar = std::uint64_t{1} << 32;
};

template <>
struct Backend<SyncobjExporter> {
  static Result<SyncobjExporter> make(const DrmDevice& dev, std::uint64_t initial) {
    return SyncobjExporter::create(dev, "contract", initial);
  }
  static constexpr std::uint64_t kStepTooFar = std::numeric_limits<std::uint64_t>::max();
};

template <class E>
class ExporterContractTest : public DrmSwSyncTest {
 protected:
  E make(std::uint64_t initial = 0) { return must(Backend<E>::make(this->dev_, initial), "create"); }
  static bool signaled(const SyncFile& f) {
    auto r = f.wait(0ns);
    return r.ok() && *r == WaitStatus::signaled;
  }
};

struct BackendNames {
  template <class E>
  static std::string GetName(int) {
    return std::is_same_v<E, SwSyncExporter> ? "sw_sync" : "syncobj";
  }
};
using Exporters = ::testing::Types<SwSyncExporter, SyncobjExporter>;
TYPED_TEST_SUITE(ExporterContractTest, Exporters, BackendNames);

TYPED_TEST(ExporterContractTest, AdvanceMovesBothSidesByN) {
  TypeParam e = this->make();
  Exporter& x = e;
  Fence f3 = must(x.fence_at(3));
  SB_ASSERT_OK(x.advance(2));
  EXPECT_EQ(x.value(), 2u);
  EXPECT_EQ(x.timeline().value(), 2u);
  EXPECT_EQ(f3.status(), FenceStatus::pending);
  SB_ASSERT_OK(x.advance());  // n defaults to 1
  EXPECT_EQ(x.value(), 3u);
  EXPECT_EQ(f3.status(), FenceStatus::signaled);
  SB_ASSERT_OK(x.advance(0));  // a no-op
  EXPECT_EQ(x.value(), 3u);
  EXPECT_EQ(x.timeline().value(), 3u);
}

TYPED_TEST(ExporterContractTest, SignalToMovesForwardAndNeverBack) {
  TypeParam e = this->make(1);
  Exporter& x = e;
  SB_ASSERT_OK(x.signal_to(5));
  SB_ASSERT_OK(x.signal_to(5));  // a no-op at value()
  SB_EXPECT_ERROR(x.signal_to(4), Errc::backwards, EINVAL);
  EXPECT_EQ(x.value(), 5u);
  EXPECT_EQ(x.timeline().value(), 5u);
}

TYPED_TEST(ExporterContractTest, AStepPastTheKernelRangeIsOutOfRangeAndMovesNothing) {
  TypeParam e = this->make(1);
  Exporter& x = e;
  SB_EXPECT_ERROR(x.advance(Backend<TypeParam>::kStepTooFar), Errc::out_of_range, ERANGE);
  EXPECT_EQ(x.value(), 1u);
  EXPECT_EQ(x.timeline().value(), 1u);
}

TYPED_TEST(ExporterContractTest, FenceAtIsSignaledForReachedPointsAndPendingAhead) {
  TypeParam e = this->make(4);
  Exporter& x = e;
  EXPECT_EQ(must(x.fence_at(0)).status(), FenceStatus::signaled);
  EXPECT_EQ(must(x.fence_at(4)).status(), FenceStatus::signaled);
  Fence ahead = must(x.fence_at(6));
  EXPECT_EQ(ahead.status(), FenceStatus::pending);
  SB_ASSERT_OK(x.signal_to(6));
  EXPECT_EQ(ahead.status(), FenceStatus::signaled);
}

TYPED_TEST(ExporterContractTest, SyncFileAtAReachedPointIsSignaled) {
  TypeParam e = this->make(4);
  Exporter& x = e;
  for (std::uint64_t p = 0; p <= 4; ++p) EXPECT_TRUE(this->signaled(must(x.sync_file_at(p)))) << "point " << p;
  SB_ASSERT_OK(x.advance(3));
  EXPECT_TRUE(this->signaled(must(x.sync_file_at(7))));
}

TYPED_TEST(ExporterContractTest, CloseReleasesPendingCoreFencesWithEnoentAndLaterCallsFail) {
  TypeParam e = this->make();
  Exporter& x = e;
  SB_ASSERT_OK(x.advance(2));
  Fence pending = must(x.fence_at(10));
  Fence reached = must(x.fence_at(2));
  x.close();
  EXPECT_TRUE(x.closed());
  EXPECT_EQ(pending.status(), FenceStatus::error);
  EXPECT_EQ(pending.error_errno(), ENOENT);
  EXPECT_EQ(reached.status(), FenceStatus::signaled);
  EXPECT_EQ(x.value(), 2u) << "value() keeps the last value";
  SB_EXPECT_ERROR(x.advance(1), Errc::timeline_closed, ENOENT);
  SB_EXPECT_ERROR(x.signal_to(5), Errc::timeline_closed, ENOENT);
  SB_EXPECT_ERROR(x.sync_file_at(1), Errc::timeline_closed, ENOENT);
  SB_EXPECT_ERROR(x.fence_at(12), Errc::timeline_closed, 0);
  x.close();  // idempotent
  EXPECT_EQ(x.value(), 2u);
}

TYPED_TEST(ExporterContractTest, AnEmptyExporterAnswersInvalidHandle) {
  TypeParam e;
  Exporter& x = e;
  EXPECT_FALSE(x.valid());
  EXPECT_TRUE(x.closed());
  EXPECT_EQ(x.value(), 0u);
  EXPECT_EQ(x.name(), "");
  SB_EXPECT_ERROR(x.advance(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(x.signal_to(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(x.fence_at(1), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(x.sync_file_at(0), Errc::invalid_handle, EBADF);
  x.close();  // harmless
}

TYPED_TEST(ExporterContractTest, AMovedFromExporterIsEmptyAndTheMoveKeepsWorking) {
  TypeParam a = this->make();
  Fence f = must(a.fence_at(1));
  TypeParam b = std::move(a);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the contract says what it answers
  SB_EXPECT_ERROR(a.advance(1), Errc::invalid_handle, EBADF);
  SB_ASSERT_OK(b.advance(1));
  EXPECT_EQ(f.status(), FenceStatus::signaled);
}

TYPED_TEST(ExporterContractTest, AMoveAssignmentClosesWhatTheTargetHeldAndTakesTheSource) {
  TypeParam a = this->make();
  TypeParam b = this->make();
  Fence taken = must(a.fence_at(1));
  Fence dropped = must(b.fence_at(1));
  b = std::move(a);
  EXPECT_EQ(dropped.status(), FenceStatus::error) << "b closed its own timeline, as its destructor would";
  EXPECT_EQ(dropped.error_errno(), ENOENT);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the contract says what it answers
  EXPECT_FALSE(b.closed());
  SB_ASSERT_OK(b.advance(1));
  EXPECT_EQ(taken.status(), FenceStatus::signaled);
}

}  // namespace
}  // namespace syncbridge::testing
