// syncbridge/unique_fd.h: ownership of file descriptors.
//
// Model: UniqueFd owns exactly one fd and closes it on destruction; it moves, never copies.
// A function that takes `UniqueFd` by value (or `&&`) consumes the fd; one that takes a plain
// `int` borrows it for the duration of the call; one that returns `UniqueFd` hands you a new
// fd that you now own. dup() is explicit and fallible.
#pragma once

#include "syncbridge/export.h"

#include <utility>

#include "syncbridge/result.h"

namespace syncbridge {

class SYNCBRIDGE_API UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}  // takes ownership of fd (-1 for none)
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }  // borrowed: stays owned by this object
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }  // caller owns it now
  void reset(int fd = -1) noexcept;  // closes the current fd (if any), then owns fd

  // A new fd (F_DUPFD_CLOEXEC) for the same open file; fails with EBADF on an empty UniqueFd.
  [[nodiscard]] Result<UniqueFd> dup() const;
  // Duplicates a borrowed fd into a new owned one.
  [[nodiscard]] static Result<UniqueFd> dup_of(int borrowed_fd);

 private:
  int fd_ = -1;
};

}  // namespace syncbridge
