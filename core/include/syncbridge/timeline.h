// syncbridge/timeline.h: the software timeline, with the kernel's sw_sync semantics.
//
// Model: a Timeline is a monotonic counter (its value) and the ordered set of fences waiting
// for it to reach their points. It mirrors a kernel sw_sync timeline, with the lifetime rules
// of the fix proposed for sw_sync's refcount race:
//   - fence_at(p) with p <= value returns an already-signaled fence, not tracked by the
//     timeline; with a pending fence at p returns that same fence object (one more reference);
//     otherwise inserts a new pending fence in point order (O(log n)).
//   - The pending set holds a reference to every fence in it. A fence leaves it only when it
//     signals or the timeline closes, and that reference is dropped after its callbacks ran,
//     never before; no reference count ever goes from 0 to 1.
//   - advance(n) / signal_to(p) signal every reached fence at once (a fence is signaled when
//     the value reaches its point, as sw_sync's are), with one CLOCK_MONOTONIC reading per
//     advance as their timestamp; waiters wake, then callbacks run outside every lock, on the
//     advancing thread, in point order. A reached fence leaves the pending set at the next
//     fence_at (or within 16 advances, or at once when it has sleepers or callbacks), and the
//     set's reference is dropped only then.
//   - close() (and the destructor) complete every pending fence with ENOENT. Holders keep
//     valid fences; fence_at and advance on a closed timeline fail with Errc::timeline_closed.
//   - wrap32 mode compares points as the kernel compares sw_sync's u32 seqnos: p is reached
//     when (int32_t)(p - value) <= 0, so a core timeline can mirror a kernel one across 2^32.
//
// Ownership: Timeline is move-only; it is the producer's handle and closes the timeline when
// destroyed. Fences keep the timeline's shared state alive, not the producer's handle.
// Threads: every member may be called concurrently from any thread, callbacks included.
#pragma once

#include "syncbridge/export.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "syncbridge/fence.h"
#include "syncbridge/result.h"

namespace syncbridge {

namespace detail {
struct TimelineState;
}

struct SYNCBRIDGE_API TimelineOptions {
  std::string name = "syncbridge";
  bool wrap32 = false;              // u32 seqnos with wrap-around, as sw_sync
  std::uint64_t initial_value = 0;  // < 2^32 in wrap32 mode
};

class SYNCBRIDGE_API Timeline {
 public:
  [[nodiscard]] static Result<Timeline> create(TimelineOptions options = {});

  Timeline() noexcept = default;  // empty: every call reports Errc::invalid_handle
  Timeline(Timeline&& other) noexcept;
  Timeline& operator=(Timeline&& other) noexcept;
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;
  ~Timeline();  // closes

  bool valid() const noexcept { return state_ != nullptr; }

  [[nodiscard]] Result<Fence> fence_at(std::uint64_t point);
  // Errc::out_of_range past 2^64-1 (any n is fine in wrap32 mode, n < 2^32).
  [[nodiscard]] Result<void> advance(std::uint64_t n = 1);
  // Errc::backwards when point is below value; reaching the current value is a no-op.
  [[nodiscard]] Result<void> signal_to(std::uint64_t point);
  // Pending fences complete with `error_errno` (positive; ENOENT, as the kernel's sw_sync, by
  // default; a bridge passes on the errno of the kernel fence it mirrors).
  void close(int error_errno = ENOENT) noexcept;

  std::uint64_t value() const noexcept;  // 0 on an empty handle
  bool closed() const noexcept;          // true on an empty handle
  bool wrap32() const noexcept;
  std::size_t pending_count() const noexcept;
  const std::string& name() const noexcept;
  // The earliest Fence::set_deadline() hint among pending fences, if any.
  std::optional<MonotonicTime> earliest_deadline() const;
  // A borrowed eventfd, owned by the timeline, whose counter grows by one on every signal
  // batch and on close: poll it, read it to reset, then look at the fences you care about.
  [[nodiscard]] Result<int> event_fd() const;

 private:
  explicit Timeline(detail::TimelineState* state) noexcept : state_(state) {}
  detail::TimelineState* state_ = nullptr;
};

}  // namespace syncbridge
