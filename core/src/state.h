// Internal: the shared state behind Timeline and Fence handles. Not installed.
//
// Locking: one mutex per timeline (TimelineState::lock) guards the pending treap, every
// pending fence's callback list and deadline, and the timeline's deadline summary. A fence's
// status word is atomic and is written under that lock, so "is it still pending?" decided
// under the lock is final; readers and waiters use it without the lock.
#pragma once

#include "syncbridge/detail/monotonic_clock.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "syncbridge/fence.h"

namespace syncbridge::detail {

// FenceState::word: low two bits are the status; kSleepers says a waiter may be in futex_wait.
inline constexpr std::uint32_t kPending = 0;
inline constexpr std::uint32_t kSignaled = 1;
inline constexpr std::uint32_t kErrored = 2;
inline constexpr std::uint32_t kStatusMask = 3;
inline constexpr std::uint32_t kSleepers = 4;

struct TimelineState;

// Field order packs this into 88 bytes (a 96-byte malloc chunk) with no padding holes.
struct FenceState {
  FenceState() = default;
  FenceState(const FenceState&) = delete;
  FenceState& operator=(const FenceState&) = delete;
  ~FenceState();  // closes pollable_fd
  std::atomic<std::uint32_t> refs{1};
  std::atomic<std::uint32_t> word{kPending};
  std::uint64_t point = 0;            // unwrapped 64-bit position on the timeline
  TimelineState* timeline = nullptr;  // counted reference
  std::int64_t timestamp_ns = 0;      // written before `word` is published
  std::int32_t error = 0;             // positive errno once errored
  std::uint32_t priority = 0;         // treap heap key
  std::int64_t deadline_ns = kNoDeadline;
  CallbackNode* callbacks = nullptr;  // circular list, head->prev is the tail
  // Treap links while pending; after removal, `parent` chains the signaled batch.
  FenceState* left = nullptr;
  FenceState* right = nullptr;
  FenceState* parent = nullptr;
  bool wake_sleepers = false;  // set under the lock at completion, consumed after unlock
  // The eventfd behind Fence::pollable_fd(), shared by every fd it returned (each a dup), or -1.
  // Created under the lock while the fence is pending, with a callback that makes it readable
  // when the fence completes; never replaced; closed when the state dies.
  std::int32_t pollable_fd = -1;
};
// README and the benchmark promise 96 bytes of heap per pending fence: the fd lives in what
// was padding after `wake_sleepers`.
static_assert(sizeof(void*) != 8 || sizeof(FenceState) == 88, "FenceState must stay in a 96-byte malloc chunk");

void fence_acquire(FenceState* fence) noexcept;  // aborts on a 0 -> 1 transition
void fence_release(FenceState* fence) noexcept;

struct TimelineState {
  std::atomic<std::uint32_t> refs{1};
  std::mutex lock;
  std::atomic<std::uint64_t> value{0};  // unwrapped; written under lock, read anywhere
  std::atomic<bool> closed{false};
  bool wrap32 = false;
  std::string name;
  std::uint64_t priority_seed = 0;
  FenceState* root = nullptr;
  FenceState* min = nullptr;
  std::atomic<std::size_t> pending{0};
  std::int64_t earliest_deadline_ns = kNoDeadline;
  bool deadline_summary_stale = false;
  std::atomic<int> event_fd{-1};
  std::atomic<std::int64_t> spin_budget_ns{4000};
  ~TimelineState();
};

void timeline_acquire(TimelineState* timeline) noexcept;
void timeline_release(TimelineState* timeline) noexcept;

struct CallbackNode {
  enum Phase : std::uint32_t { queued, running, done, cancelled };
  CallbackNode* next = nullptr;
  CallbackNode* prev = nullptr;
  FenceState* fence = nullptr;  // counted reference
  Fence::Callback fn;
  std::atomic<std::uint32_t> refs{2};  // the fence's list (or a run batch) + the registration
  std::atomic<std::uint32_t> phase{queued};
  std::atomic<const void*> runner{nullptr};
  bool in_list = false;  // under the timeline lock
};

// The one door from the internals to Fence's private parts.
struct FenceAccess {
  static Fence adopt(FenceState* state) noexcept { return Fence(state); }  // takes one reference
  static FenceState* state(const Fence& fence) noexcept { return fence.state_; }
};

void callback_release(CallbackNode* node) noexcept;
// Runs a detached callback unless it was cancelled, then drops the batch's reference.
void callback_run(CallbackNode* node) noexcept;

// Futex on a 32-bit atomic; abs_deadline_ns is CLOCK_MONOTONIC, or kNoDeadline.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, std::int64_t abs_deadline_ns) noexcept;
void futex_wake_all(std::atomic<std::uint32_t>* word) noexcept;

}  // namespace syncbridge::detail
