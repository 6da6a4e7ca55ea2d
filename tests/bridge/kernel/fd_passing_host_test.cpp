// send_fd/receive_fd with fds any kernel has (eventfds), in one process and across fork().
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "bridge_test_util.h"
#include "child_process.h"
#include "syncbridge/fd_passing.h"

namespace syncbridge::testing {
namespace {

class FdPassingTest : public FdLeakCheckedTest {
 protected:
  void SetUp() override {
    FdLeakCheckedTest::SetUp();
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    a_.reset(sv[0]);
    b_.reset(sv[1]);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    FdLeakCheckedTest::TearDown();
  }
  UniqueFd a_, b_;
};

std::uint64_t read_counter(int efd) {
  std::uint64_t v = 0;
  return ::read(efd, &v, sizeof v) == static_cast<ssize_t>(sizeof v) ? v : UINT64_MAX;
}
bool add_counter(int efd, std::uint64_t v) { return ::write(efd, &v, sizeof v) == static_cast<ssize_t>(sizeof v); }

TEST_F(FdPassingTest, TheReceivedFdIsTheSameFileAndCloseOnExec) {
  UniqueFd efd = make_eventfd();
  SB_ASSERT_OK(send_fd(a_.get(), efd.get()));
  auto got = receive_fd(b_.get());
  SB_ASSERT_OK(got);
  EXPECT_NE(got->get(), efd.get());
  EXPECT_TRUE(::fcntl(got->get(), F_GETFD) & FD_CLOEXEC) << "received with MSG_CMSG_CLOEXEC";
  EXPECT_TRUE(same_open_file(got->get(), efd.get()));
  ASSERT_TRUE(add_counter(efd.get(), 5));
  EXPECT_EQ(read_counter(got->get()), 5u);
}

TEST_F(FdPassingTest, WorksOnSeqpacketSockets) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd s0(sv[0]), s1(sv[1]);
  UniqueFd efd = make_eventfd();
  SB_ASSERT_OK(send_fd(s0.get(), efd.get()));
  auto got = receive_fd(s1.get());
  SB_ASSERT_OK(got);
  EXPECT_TRUE(same_open_file(got->get(), efd.get()));
}

TEST_F(FdPassingTest, AcrossForkInBothDirections) {
  UniqueFd efd = make_eventfd();
  ChildProcess child([](int sock) {
    // Receive the parent's eventfd, bump it by 42, then send one of our own back.
    auto got = receive_fd(sock);
    if (!got) return 10;
    if (!(::fcntl(got->get(), F_GETFD) & FD_CLOEXEC)) return 11;
    if (!add_counter(got->get(), 42)) return 12;
    UniqueFd mine = make_eventfd();
    if (!add_counter(mine.get(), 7)) return 13;
    if (!send_fd(sock, mine.get())) return 14;
    return 0;
  });
  ASSERT_TRUE(child.started());
  SB_ASSERT_OK(send_fd(child.socket(), efd.get()));
  auto back = receive_fd(child.socket());
  ASSERT_TRUE(child.exited_with(0, "the eventfd from the parent and sending its own back"));
  EXPECT_EQ(read_counter(efd.get()), 42u);
  SB_ASSERT_OK(back);
  EXPECT_EQ(read_counter(back->get()), 7u) << "the fd the child created outlives the child";
}

TEST_F(FdPassingTest, SendErrors) {
  UniqueFd efd = make_eventfd();
  SB_EXPECT_ERROR(send_fd(a_.get(), -1), Errc::invalid_handle, EBADF);
  int closed_number;
  {
    UniqueFd tmp = make_eventfd();
    closed_number = tmp.get();
  }
  SB_EXPECT_ERROR(send_fd(a_.get(), closed_number), Errc::invalid_handle, EBADF);
  SB_EXPECT_ERROR(send_fd(efd.get(), efd.get()), Errc::system, ENOTSOCK);
  b_.reset();
  SB_EXPECT_ERROR(send_fd(a_.get(), efd.get()), Errc::system, EPIPE);  // and no SIGPIPE
}

TEST_F(FdPassingTest, ReceiveFromAClosedPeer) {
  b_.reset();
  auto r = receive_fd(a_.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno(), ECONNRESET);
  EXPECT_NE(r.error().message().find("closed by its peer"), std::string::npos);
}

TEST_F(FdPassingTest, ReceiveAMessageWithoutAnFd) {
  const char byte = 'x';
  ASSERT_EQ(::write(a_.get(), &byte, 1), 1);
  SB_EXPECT_ERROR(receive_fd(b_.get()), Errc::invalid_argument, EBADMSG);
}

TEST_F(FdPassingTest, ReceiveTwoFdsClosesBoth) {
  UniqueFd e1 = make_eventfd(), e2 = make_eventfd();
  // A hand-made message with two fds in one SCM_RIGHTS.
  char byte = 'F';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  const int both[2] = {e1.get(), e2.get()};
  std::memcpy(CMSG_DATA(c), both, sizeof both);
  ASSERT_EQ(::sendmsg(a_.get(), &msg, 0), 1);
  auto r = receive_fd(b_.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno(), EBADMSG);
  EXPECT_NE(r.error().message().find("2 fds"), std::string::npos) << r.error().describe();
  // The fd-leak check in TearDown proves both received fds were closed.
}

TEST_F(FdPassingTest, ReceiveOnANonSocket) {
  UniqueFd efd = make_eventfd();
  SB_EXPECT_ERROR(receive_fd(efd.get()), Errc::system, ENOTSOCK);
  SB_EXPECT_ERROR(receive_fd(-1), Errc::invalid_handle, EBADF);
}

}  // namespace
}  // namespace syncbridge::testing
