// SyncFile error paths that need no sw_sync: foreign fds (an eventfd or a pipe is not a
// sync_file), closed fds, empty objects. Runs on any kernel (label "bridge").
#include <unistd.h>

#include "bridge_test_util.h"

namespace syncbridge::testing {
namespace {

class SyncFileHostTest : public FdLeakCheckedTest {};

TEST_F(SyncFileHostTest, AdoptingAnEventfdIsRefusedAndClosesIt) {
  UniqueFd efd = make_eventfd();
  ASSERT_TRUE(efd.valid());
  const int number = efd.get();
  auto r = SyncFile::adopt(std::move(efd));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_handle);
  // eventfd has no ioctls: the kernel answers ENOTTY (some files answer EINVAL).
  EXPECT_TRUE(r.error().sys_errno() == ENOTTY || r.error().sys_errno() == EINVAL) << r.error().describe();
  EXPECT_NE(r.error().message().find("fd " + std::to_string(number) + " is not a sync_file"), std::string::npos)
      << r.error().describe();
  EXPECT_FALSE(fd_is_open(number)) << "adopt consumes the fd even when it refuses it";
}

TEST_F(SyncFileHostTest, AdoptingAPipeIsRefused) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd write_end(p[1]);
  auto r = SyncFile::adopt(UniqueFd(p[0]));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_handle);
  EXPECT_TRUE(r.error().sys_errno() == ENOTTY || r.error().sys_errno() == EINVAL) << r.error().describe();
  EXPECT_FALSE(fd_is_open(p[0]));
}

TEST_F(SyncFileHostTest, AdoptingNothingOrAClosedNumber) {
  SB_EXPECT_ERROR(SyncFile::adopt(UniqueFd()), Errc::invalid_handle, EBADF);
  int number;
  {
    UniqueFd efd = make_eventfd();
    number = efd.get();
  }
  ASSERT_FALSE(fd_is_open(number));
  auto r = SyncFile::adopt(UniqueFd(number));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_handle);
  EXPECT_EQ(r.error().sys_errno(), EBADF);
}

TEST_F(SyncFileHostTest, DupFromABorrowedForeignFdLeavesItOpen) {
  UniqueFd efd = make_eventfd();
  auto r = SyncFile::dup_from(efd.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_handle);
  EXPECT_NE(r.error().message().find("fd " + std::to_string(efd.get()) + " is not a sync_file"), std::string::npos)
      << r.error().describe();
  EXPECT_TRUE(fd_is_open(efd.get())) << "dup_from borrows: the caller's fd stays open";
}

TEST_F(SyncFileHostTest, DupFromAClosedOrNegativeFd) {
  SB_EXPECT_ERROR(SyncFile::dup_from(-1), Errc::invalid_handle, EBADF);
  int number;
  {
    UniqueFd efd = make_eventfd();
    number = efd.get();
  }
  SB_EXPECT_ERROR(SyncFile::dup_from(number), Errc::invalid_handle, EBADF);
}

TEST_F(SyncFileHostTest, AnEmptySyncFileReportsInvalidHandleEverywhere) {
  SyncFile s;
  EXPECT_FALSE(s.valid());
  EXPECT_EQ(s.fd(), -1);
  SB_EXPECT_ERROR(s.wait(1ms), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(s.wait(wait_forever), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(s.wait_until(std::chrono::steady_clock::now()), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(s.status(), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(s.info(), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(s.dup(), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(SyncFile::merge(s, s), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(s.set_deadline(std::chrono::steady_clock::now()), Errc::invalid_handle, EBADF);
  UniqueFd released = std::move(s).release();
  EXPECT_FALSE(released.valid());
}

TEST_F(SyncFileHostTest, ANegativeTimeoutIsAnInvalidArgument) {
  SyncFile s;
  auto r = s.wait(-1ns);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  EXPECT_EQ(r.error().sys_errno(), EINVAL);
  EXPECT_NE(r.error().message().find("negative timeout"), std::string::npos);
}

}  // namespace
}  // namespace syncbridge::testing
