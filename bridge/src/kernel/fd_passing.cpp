#include "syncbridge/fd_passing.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstring>
#include <string>

namespace syncbridge {
namespace {

// Room for a few fds, so that a sender passing more than one cannot leave any installed in
// this process unseen (we receive them, then close them).
constexpr std::size_t kMaxFds = 4;

std::string sock_text(int s) { return "socket " + std::to_string(s); }

}  // namespace

Result<void> send_fd(int unix_socket, int fd) {
  if (fd < 0) return Error(Errc::invalid_handle, EBADF, "send_fd of an empty fd over " + sock_text(unix_socket));
  char byte = 'F';
  iovec iov{&byte, 1};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  ssize_t n;
  do {
    n = ::sendmsg(unix_socket, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return Error::from_errno(errno,
                             "sendmsg of fd " + std::to_string(fd) + " over " + sock_text(unix_socket) + " failed");
  return {};
}

Result<UniqueFd> receive_fd(int unix_socket) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * kMaxFds)> control{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do {
    n = ::recvmsg(unix_socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno(errno, "recvmsg on " + sock_text(unix_socket) + " failed");

  // Every fd that arrived is owned here from now on, whatever happens next.
  std::array<UniqueFd, kMaxFds> fds;
  std::size_t count = 0;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t payload = cmsg->cmsg_len - CMSG_LEN(0);
    const unsigned char* data = CMSG_DATA(cmsg);
    for (std::size_t off = 0; off + sizeof(int) <= payload; off += sizeof(int)) {
      int fd;
      std::memcpy(&fd, data + off, sizeof fd);
      if (count < kMaxFds) fds[count] = UniqueFd(fd);
      ++count;
    }
  }
  if (msg.msg_flags & MSG_CTRUNC)
    return Error(
        Errc::system, EMSGSIZE,
        "recvmsg on " + sock_text(unix_socket) + ": control data truncated (more fds than expected were sent)");
  if (count == 0) {
    if (n == 0)
      return Error(Errc::system, ECONNRESET, sock_text(unix_socket) + " was closed by its peer before an fd arrived");
    return Error(Errc::invalid_argument, EBADMSG, "the message on " + sock_text(unix_socket) + " carried no fd");
  }
  if (count > 1)
    return Error(Errc::invalid_argument, EBADMSG,
                 "the message on " + sock_text(unix_socket) + " carried " + std::to_string(count) +
                     " fds, expected one (all closed)");
  return std::move(fds[0]);
}

}  // namespace syncbridge
