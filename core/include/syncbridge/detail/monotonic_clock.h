// syncbridge/detail/monotonic_clock.h: CLOCK_MONOTONIC nanoseconds and deadlines, the one copy
// that core and bridge share (futexes, poll and the DRM wait ioctls take absolute
// CLOCK_MONOTONIC times; MonotonicTime is std::chrono::steady_clock, the same clock on Linux).
// Header-only and not part of the API.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace syncbridge::detail {

// An absolute time that never comes: "no deadline".
inline constexpr std::int64_t kNoDeadline = INT64_MAX;

inline std::int64_t monotonic_now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// now + timeout, saturating: a timeout too long to represent (wait_forever included) gives
// kNoDeadline. A timeout of 0 or less gives now.
inline std::int64_t deadline_after(std::chrono::nanoseconds timeout) noexcept {
  const std::int64_t now = monotonic_now_ns();
  if (timeout.count() <= 0) return now;
  return timeout.count() >= kNoDeadline - now ? kNoDeadline : now + timeout.count();
}

inline std::int64_t to_ns(std::chrono::steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

inline std::chrono::steady_clock::time_point to_time_point(std::int64_t ns) noexcept {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace syncbridge::detail
