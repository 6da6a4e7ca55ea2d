#include "syncbridge/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

namespace syncbridge {

void UniqueFd::reset(int fd) noexcept {
  // close() may fail with EINTR, but on Linux the fd is released either way: never retry.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<UniqueFd> UniqueFd::dup_of(int borrowed_fd) {
  if (borrowed_fd < 0) return Error(Errc::invalid_handle, EBADF, "dup of an empty fd");
  const int fd = ::fcntl(borrowed_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return Error::from_errno(errno, "dup of fd " + std::to_string(borrowed_fd) + " failed");
  return UniqueFd(fd);
}

Result<UniqueFd> UniqueFd::dup() const { return dup_of(fd_); }

}  // namespace syncbridge
