#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

#include "state.h"

namespace syncbridge::detail {

void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, std::int64_t abs_deadline_ns) noexcept {
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a wait interrupted by a
  // signal or a spurious wake-up resumes with the right remaining time for free.
  timespec abs{};
  timespec* abs_ptr = nullptr;
  if (abs_deadline_ns != kNoDeadline) {
    abs.tv_sec = abs_deadline_ns / 1'000'000'000;
    abs.tv_nsec = abs_deadline_ns % 1'000'000'000;
    abs_ptr = &abs;
  }
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, abs_ptr,
          nullptr, FUTEX_BITSET_MATCH_ANY);
}

void futex_wake_all(std::atomic<std::uint32_t>* word) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, nullptr, nullptr,
          0);
}

namespace {
void futex_wake_one(std::atomic<std::uint32_t>* word) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr, nullptr, 0);
}
}  // namespace

void TimelineLock::lock_contended() noexcept {
  // ~1-2 us of spinning covers a critical section whose holder is running; past that the
  // holder was most likely preempted, and sleeping frees the core for it. On one CPU the
  // holder cannot run while we spin.
  const int rounds = spinning_can_pay() ? 256 : 0;
  for (int i = 0; i < rounds; ++i) {
    SYNCBRIDGE_CPU_RELAX();
    std::uint32_t expected = 0;
    if (state_.load(std::memory_order_relaxed) == 0 &&
        state_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
  }
  // From here on the lock is taken as "held with sleepers": whoever unlocks it wakes one.
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2, kNoDeadline);
}

void TimelineLock::wake_one() noexcept { futex_wake_one(&state_); }

}  // namespace syncbridge::detail
