#include "test_util.h"

namespace syncbridge::testing {
namespace {

class ErrorsTest : public FdLeakCheckedTest {};

TEST_F(ErrorsTest, AdvancingPastTheRepresentableRange) {
  auto t = make_core_timeline({.initial_value = UINT64_MAX - 1});
  SB_ASSERT_OK(t.advance(1));
  auto r = t.advance(1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::out_of_range);
  EXPECT_EQ(r.error().sys_errno(), EOVERFLOW);
  EXPECT_EQ(t.value(), UINT64_MAX);
  EXPECT_NE(r.error().describe().find("2^64"), std::string::npos) << r.error().describe();
}

TEST_F(ErrorsTest, NegativeTimeout) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  auto r = f.wait(-1ns);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  EXPECT_EQ(r.error().sys_errno(), EINVAL);
  FenceSet set;
  SB_ASSERT_OK(set.add(f));
  EXPECT_FALSE(set.wait_all(-5ms).ok());
  EXPECT_FALSE(set.wait_any(-5ms).ok());
}

TEST_F(ErrorsTest, MovedFromHandles) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  Fence g = std::move(f);
  auto w = f.wait(1ms);  // NOLINT(bugprone-use-after-move): that is the point
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code(), Errc::invalid_handle);
  EXPECT_EQ(w.error().sys_errno(), EBADF);
  EXPECT_EQ(f.status(), FenceStatus::error);
  EXPECT_FALSE(f.on_complete([](const Fence&) {}).ok());
  EXPECT_FALSE(f.set_deadline(std::chrono::steady_clock::now()).ok());
  EXPECT_FALSE(f.pollable_fd().ok());

  Timeline u = std::move(t);
  auto fa = t.fence_at(1);  // NOLINT(bugprone-use-after-move)
  ASSERT_FALSE(fa.ok());
  EXPECT_EQ(fa.error().code(), Errc::invalid_handle);
  EXPECT_FALSE(t.advance().ok());
  EXPECT_FALSE(t.signal_to(3).ok());
  EXPECT_FALSE(t.event_fd().ok());
  EXPECT_TRUE(t.closed());
  t.close();  // harmless
}

TEST_F(ErrorsTest, EmptyCallbackIsRejected) {
  auto t = make_core_timeline();
  Fence f = fence_at(t, 1);
  auto r = f.on_complete(nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
}

TEST_F(ErrorsTest, ErrorsAreStdErrorCodes) {
  const std::error_code ec = Errc::timeline_closed;
  EXPECT_EQ(ec.category().name(), std::string("syncbridge"));
  EXPECT_EQ(ec.message(), "timeline closed");
  const Error e = Error::from_errno(EACCES, "open /dev/x");
  EXPECT_EQ(e.code(), Errc::permission_denied);
  EXPECT_NE(e.describe().find("errno 13"), std::string::npos);
}

TEST(ResultDeathTest, ValueOfAFailedResultAbortsWithTheMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Result<int> r = Error(Errc::backwards, EINVAL, "went backwards");
  EXPECT_DEATH((void)r.value(), "went backwards");
}

}  // namespace
}  // namespace syncbridge::testing
