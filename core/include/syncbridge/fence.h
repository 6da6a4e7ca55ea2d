// syncbridge/fence.h: a point on a software timeline, as a waitable object.
//
// Model: a Fence is a counted reference to one point of a Timeline (see timeline.h). It
// starts pending and completes exactly once, either signaled (the timeline reached the point)
// or with an error (the timeline closed first: ENOENT, as the kernel's sw_sync does). Copying
// a Fence takes another reference; the object lives while any Fence, callback registration or
// the timeline's pending list refers to it. A completed fence keeps its status and timestamp
// (CLOCK_MONOTONIC, the clock the kernel uses for sync_file timestamps) forever.
//
// Callbacks run once, on the thread that completed the fence, after waiters were woken and
// outside every lock: a callback may drop references, create points, advance or close the
// very timeline it was called from. A callback registered on a fence that has already
// completed runs at once on the registering thread.
//
// Threads: every const member is safe to call concurrently; a Fence object itself (the handle)
// is like a shared_ptr: do not assign to one handle from two threads at once.
#pragma once

#include "syncbridge/export.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "syncbridge/result.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

namespace detail {
struct FenceState;
struct CallbackNode;
struct FenceAccess;
}  // namespace detail

enum class FenceStatus : std::uint8_t { pending, signaled, error };
// The outcome of a wait that did not fail: an errored fence is an Error, not a status.
enum class WaitStatus : std::uint8_t { signaled, timed_out };

using MonotonicTime = std::chrono::steady_clock::time_point;  // CLOCK_MONOTONIC on Linux
inline constexpr std::chrono::nanoseconds wait_forever = std::chrono::nanoseconds::max();

class Fence;

// A callback registered with Fence::on_complete. Destroying or cancel()ing it unregisters the
// callback; when the callback is running on another thread at that moment, cancel() waits for
// it to return (it never waits when called from inside the callback itself). detach() lets the
// callback run whenever the fence completes, with nobody holding the registration.
class [[nodiscard]] SYNCBRIDGE_API CallbackRegistration {
 public:
  CallbackRegistration() noexcept = default;
  CallbackRegistration(CallbackRegistration&& other) noexcept;
  CallbackRegistration& operator=(CallbackRegistration&& other) noexcept;
  CallbackRegistration(const CallbackRegistration&) = delete;
  CallbackRegistration& operator=(const CallbackRegistration&) = delete;
  ~CallbackRegistration();

  // true when the callback was removed before it started; false when it already ran (or is
  // running on this thread), or when the registration is empty.
  bool cancel() noexcept;
  void detach() noexcept;
  bool active() const noexcept { return node_ != nullptr; }

 private:
  friend class Fence;
  explicit CallbackRegistration(detail::CallbackNode* node) noexcept : node_(node) {}
  detail::CallbackNode* node_ = nullptr;
};

class SYNCBRIDGE_API Fence {
 public:
  using Callback = std::function<void(const Fence&)>;

  Fence() noexcept = default;  // empty: every call reports Errc::invalid_handle
  Fence(const Fence& other) noexcept;
  Fence(Fence&& other) noexcept;
  Fence& operator=(const Fence& other) noexcept;
  Fence& operator=(Fence&& other) noexcept;
  ~Fence();

  bool valid() const noexcept { return state_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }

  // An empty fence reports FenceStatus::error with errno EBADF.
  FenceStatus status() const noexcept;
  // The positive errno the fence completed with (ENOENT: its timeline closed); 0 otherwise.
  int error_errno() const noexcept;
  // The point on the timeline (0..2^32-1 on a wrap32 timeline).
  std::uint64_t point() const noexcept;
  // When the fence completed, if it has.
  std::optional<MonotonicTime> timestamp() const noexcept;

  // Blocks until completion or timeout: a short adaptive spin, then a futex sleep. Returns
  // signaled or timed_out; a fence that completed with an error returns Errc::fence_error
  // (errno from the fence); a negative timeout is Errc::invalid_argument.
  Result<WaitStatus> wait(std::chrono::nanoseconds timeout) const;
  Result<WaitStatus> wait_until(MonotonicTime deadline) const;

  Result<CallbackRegistration> on_complete(Callback callback) const;

  // Deadline hint: the consumer needs the point by then. The earliest hint of the pending
  // points is readable as Timeline::earliest_deadline(). Ignored once completed.
  Result<void> set_deadline(MonotonicTime deadline) const;
  std::optional<MonotonicTime> deadline() const noexcept;

  // An fd for epoll loops that becomes readable when the fence completes (signaled or errored)
  // and stays readable from then on, like a sync_file. The caller owns the returned fd and may
  // close it at any time; it costs nothing after it is closed.
  // What it is: while the fence is pending, every call returns a new dup (F_DUPFD_CLOEXEC) of
  // one eventfd (EFD_NONBLOCK | EFD_SEMAPHORE) that the fence creates on the first call and
  // owns until its last reference goes: one fd for the fence however often it is asked, plus
  // the caller's dups. On completion the fence writes the eventfd's maximum count once, so
  // a read (which takes 1) never makes it unreadable for the other holders; reading is not
  // needed. On a fence that has already completed, each call returns a new eventfd of its own,
  // readable at once.
  Result<UniqueFd> pollable_fd() const;

  // Timeline identity, for merging (fences of one timeline compare by point).
  const void* timeline_id() const noexcept;
  std::string timeline_name() const;

  friend bool operator==(const Fence& a, const Fence& b) noexcept { return a.state_ == b.state_; }

 private:
  friend class Timeline;
  friend struct detail::FenceAccess;
  explicit Fence(detail::FenceState* adopted) noexcept : state_(adopted) {}  // adopts one reference
  detail::FenceState* state_ = nullptr;
};

}  // namespace syncbridge
