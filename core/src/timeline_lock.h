// Internal: the lock of a timeline's pending set. Not installed.
//
// Its critical sections are a few dozen nanoseconds (a treap insert, a batch unlink), and the
// two threads that meet on it are typically a producer and a consumer running on different
// cores at the same moment. std::mutex (glibc) sleeps in the kernel at the first failed
// attempt, which turns every such meeting into two futex system calls (microseconds). This
// lock spins briefly first, then sleeps on a futex: 0 free, 1 held, 2 held with sleepers
// (the classic three-state futex mutex).
#pragma once

#include <atomic>
#include <cstdint>

namespace syncbridge::detail {

class TimelineLock {
 public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      lock_contended();
  }
  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
  }

 private:
  void lock_contended() noexcept;
  void wake_one() noexcept;
  std::atomic<std::uint32_t> state_{0};
};

}  // namespace syncbridge::detail
