// Internal: the shared state behind Timeline and Fence handles. Not installed.
//
// Two locks per timeline, taken in this order when both are needed:
//   - `producer` serialises the writers of the value (advance, signal_to, close) and whoever
//     raises `attention` (a waiter about to sleep, a callback's registration). A producer alone
//     on its timeline keeps its cache line.
//   - `lock` guards the pending treap, every pending fence's callback list and deadline, the
//     deadline summary and the pool of dead fence states. Consumers (fence_at, callback
//     registration, timestamps and deadlines) take it; a producer takes it only when someone
//     needs more than the value (see `attention`) or every kSettleEvery advances.
// A pending fence is signaled the moment the value reaches its point: its status word is
// published later, by whoever next settles the treap under `lock` (the next fence_at, or the
// producer itself), with the time of the advance that reached it (from `records`). Until then
// readers derive "signaled" from the value, and nobody who could observe the word is waiting
// on it: a sleeper or a callback raises `attention` under `producer` before it looks at the
// value, so a producer that stores the value after it sees the raise and settles at once, and
// one that stored before it is seen (see raise_attention).
#pragma once

#include "syncbridge/detail/monotonic_clock.h"

#include <atomic>
#include <cstdint>
#include <mutex>  // std::lock_guard, std::unique_lock over TimelineLock
#include <string>
#include <thread>

#include "syncbridge/fence.h"
#include "timeline_lock.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SYNCBRIDGE_CPU_RELAX() _mm_pause()
#else
#define SYNCBRIDGE_CPU_RELAX() std::this_thread::yield()
#endif

namespace syncbridge::detail {

// Spin budget bounds: the signal-to-wake round trip of two spinning threads is a couple of
// microseconds here; sleeping costs ~57 us. A spin that paid off sets the budget to twice what
// it took (so the next similar wait is caught too); one that did not decays it by an eighth, so
// a single unlucky preemption does not throw away what the timeline learned.
inline constexpr std::int64_t kMinSpinNs = 1'000;
inline constexpr std::int64_t kMaxSpinNs = 50'000;
// Whether this process may run on more than one CPU (its affinity mask when first asked). Alone
// on one CPU the signaler cannot run while a waiter spins: waits sleep at once. A process
// confined later keeps spinning, bounded by the budget's decay.
bool spinning_can_pay() noexcept;

// FenceState::word: low two bits are the status; kSleepers says a waiter may be in futex_wait
// on the word; each bit from kAnyShift up says a FenceSet::wait_any of that bucket may be
// waiting on the fence (see AnyBucket). Completion ORs the status in (fetch_or), so the word
// still carries, after it is published, which sleepers the completing thread has to wake:
// nothing is written to the fence after the status, while its waiters read that cache line.
inline constexpr std::uint32_t kPending = 0;
inline constexpr std::uint32_t kSignaled = 1;
inline constexpr std::uint32_t kErrored = 2;
inline constexpr std::uint32_t kStatusMask = 3;
inline constexpr std::uint32_t kSleepers = 4;
inline constexpr unsigned kAnyShift = 3;
inline constexpr unsigned kAnyBuckets = 32 - kAnyShift;

struct TimelineState;

// Field order packs this into 88 bytes (a 96-byte malloc chunk).
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
  // The eventfd behind Fence::pollable_fd(), shared by every fd it returned (each a dup), or -1.
  // Installed under the lock while the fence is pending, with a callback that makes it readable
  // when the fence completes; never replaced; closed when the state dies. Atomic: read without
  // the lock to decide whether to make one before taking it.
  std::atomic<std::int32_t> pollable_fd{-1};
};
// README and the benchmark promise 96 bytes of heap per pending fence.
static_assert(sizeof(void*) != 8 || sizeof(FenceState) == 88, "FenceState must stay in a 96-byte malloc chunk");

// The waiters of FenceSet::wait_any share one of kAnyBuckets futex words (chosen per thread)
// instead of registering anything per member: a waiter sets its bucket's bit in every member's
// word, and completing a fence whose word carries the bit bumps `epoch` and, when someone
// sleeps there, wakes the bucket. A stale bit (its waiter has returned) costs one increment.
// No wake is lost: the waiter counts itself in `sleepers`, reads `epoch`, then re-reads the
// members; the completer publishes the status, bumps `epoch`, then reads `sleepers`, all
// seq_cst, so either the waiter sees the status or the completer sees the sleeper (and the
// futex sees the new epoch). A fast advance publishes no status: before it sleeps, the waiter
// also counts in the `attention` of every member's timeline, so that a producer reaching a
// member settles (publishes, bumps, wakes) at once, or the waiter's re-read sees its value.
struct alignas(64) AnyBucket {
  std::atomic<std::uint32_t> epoch{0};
  std::atomic<std::uint32_t> sleepers{0};
};
extern AnyBucket any_buckets[kAnyBuckets];
// After `word` (a completed fence's) was published: bumps and wakes the buckets it names.
void wake_any_waiters(std::uint32_t word) noexcept;

void fence_acquire(FenceState* fence) noexcept;  // aborts on a 0 -> 1 transition
void fence_release(FenceState* fence) noexcept;

// One advance: the value it stored and when (CLOCK_MONOTONIC, read right after the store). A
// fence reached by a fast advance takes its timestamp from the first record at or past its
// point.
struct AdvanceRecord {
  std::atomic<std::uint64_t> value{0};
  std::atomic<std::int64_t> time_ns{0};
};
// Ring of records not yet consumed by a settle. Every kSettleEvery fast advances a producer
// consumes them: it settles itself, or skips that when the consumers' settles have left nothing
// its earlier advances reached (see settled_through). Either way at most kSettleEvery are
// unconsumed, and a slot is never rewritten while a settle may read it.
inline constexpr std::uint64_t kRecordSlots = 32;
inline constexpr unsigned kSettleEvery = kRecordSlots / 2;
// Dead fence states a timeline keeps for reuse (each with its timeline reference).
inline constexpr unsigned kPooledStates = 16;

struct TimelineState {
  // What consumers touch under `lock` (and the fences they create and free).
  std::atomic<std::uint32_t> refs{1};
  TimelineLock lock;
  FenceState* root = nullptr;
  FenceState* min = nullptr;
  std::atomic<std::size_t> pending{0};
  std::int64_t earliest_deadline_ns = kNoDeadline;
  bool deadline_summary_stale = false;
  std::atomic<int> event_fd{-1};
  FenceState* pool = nullptr;  // dead states kept for fence_at, chained through `parent`
  unsigned pooled = 0;
  // Read by both sides, written once: a line of its own, so that it stays in both caches.
  alignas(64) std::atomic<bool> closed{false};  // written under both locks
  bool wrap32 = false;
  std::uint64_t priority_seed = 0;
  std::string name;
  // What producers touch under `producer`. Records up to `consumed_seq` are consumed: a
  // producer's own settle consumes all of them (a consumer's needs none consumed), and so does a
  // producer that finds `settled_through` at or past the value its advance started from.
  // Written under `producer` only; atomic because settles read it under `lock` alone.
  // record_seq - consumed_seq is how many records are unconsumed.
  alignas(64) TimelineLock producer;
  std::atomic<std::uint64_t> consumed_seq{0};
  std::atomic<std::uint64_t> record_seq{0};  // the newest record; release-stored after it
  AdvanceRecord records[kRecordSlots];
  // Unwrapped; stored (release) under `producer`, before its record. Waiters spin on it; a
  // fence whose point it reached is signaled (nothing moves it after close, which errors only
  // fences it did not reach). `attention` counts what needs the producer to settle under
  // `lock` right after the store: sleeping waiters, fences with callbacks, a timeline eventfd.
  // Raised under `producer` only; dropped anywhere.
  alignas(64) std::atomic<std::uint64_t> value{0};
  std::atomic<std::uint32_t> attention{0};
  // Written by waiters (rarely: only when it changes).
  alignas(64) std::atomic<std::int64_t> spin_budget_ns{4000};
  // Written by every settle, under `lock` (release): no pending fence sits at or below this
  // point, and none ever will (fence_at inserts only above the value). A producer reads it
  // (acquire) every kSettleEvery advances: when the consumers' settles have taken out all that
  // its earlier advances reached, their records are no longer needed and it skips its own
  // settle, so a producer and a consumer in step never meet on `lock` (README: the round trip).
  // On the waiters' line: settles run on the consumers' side.
  std::atomic<std::uint64_t> settled_through{0};
  ~TimelineState();
};

// Under `lock`, for a pending fence at `point` that the value has reached but no settle has
// completed yet: the time of the advance that reached it.
std::int64_t reached_time_locked(const TimelineState& tl, std::uint64_t point) noexcept;
// Takes `lock`, completes what the value reached (no callbacks run), and finishes that batch.
void settle_quietly(TimelineState& tl) noexcept;

// Has the timeline's value reached the pending fence `f`'s point? Then `f` is signaled, though
// its word may not say so yet.
inline bool value_reached(const FenceState& f, std::memory_order order = std::memory_order_acquire) noexcept;

void timeline_acquire(TimelineState* timeline) noexcept;
void timeline_release(TimelineState* timeline) noexcept;

// The waiter's half of the `attention` handshake. It is raised under `producer`, which every
// store of the value holds too: a producer that takes the lock after the raise reads it after
// its store, and one that held it before has stored a value that the caller, reading the value
// after the raise, sees. So the producer's side is a plain store and a plain read: no
// store-load barrier while the other side spins on the line. Dropped whenever the reason is
// gone (a stale raise costs one settle).
inline void raise_attention_producer_held(TimelineState& tl) noexcept {
  tl.attention.fetch_add(1, std::memory_order_relaxed);
}
inline void raise_attention(TimelineState& tl) noexcept {
  std::lock_guard producer(tl.producer);
  raise_attention_producer_held(tl);
}
inline void drop_attention(TimelineState& tl) noexcept { tl.attention.fetch_sub(1, std::memory_order_release); }

// Both locks, in the order above (`producer` first): for whoever decides under `lock` and may
// raise `attention` (a callback's or a pollable fd's registration, the timeline eventfd), and
// for close. The members are built in declaration order and released in reverse.
struct BothTimelineLocks {
  explicit BothTimelineLocks(TimelineState& tl) noexcept : producer(tl.producer), lock(tl.lock) {}
  std::lock_guard<TimelineLock> producer;
  std::lock_guard<TimelineLock> lock;
};

inline bool value_reached(const FenceState& f, std::memory_order order) noexcept {
  return f.timeline->value.load(order) >= f.point;
}

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
