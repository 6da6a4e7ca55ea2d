#include "syncbridge/fence_set.h"

#include <algorithm>
#include <bit>

#include "state.h"

namespace syncbridge {
namespace detail {

AnyBucket any_buckets[kAnyBuckets];

void wake_any_waiters(std::uint32_t word) noexcept {
  for (std::uint32_t bits = word >> kAnyShift; bits; bits &= bits - 1) {
    AnyBucket& bucket = any_buckets[std::countr_zero(bits)];
    bucket.epoch.fetch_add(1, std::memory_order_seq_cst);
    if (bucket.sleepers.load(std::memory_order_seq_cst) != 0) futex_wake_all(&bucket.epoch);
  }
}

}  // namespace detail

using namespace detail;

namespace {
constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// Threads spread over the buckets, so that a completion wakes only the waiters of its bucket.
unsigned this_thread_bucket() noexcept {
  static std::atomic<unsigned> next{0};
  thread_local const unsigned mine = next.fetch_add(1, std::memory_order_relaxed) % kAnyBuckets;
  return mine;
}

// The status of a member: its word, or signaled when the value reached it first (a fast
// advance leaves the word to the next settle).
std::uint32_t status_bits(const Fence& f, std::memory_order order) noexcept {
  const FenceState& state = *FenceAccess::state(f);
  const std::uint32_t status = state.word.load(order) & kStatusMask;
  return status == kPending && value_reached(state, order) ? kSignaled : status;
}

std::size_t first_completed(std::span<const Fence> fences, std::memory_order order) noexcept {
  for (std::size_t i = 0; i < fences.size(); ++i)
    if (status_bits(fences[i], order) != kPending) return i;
  return kNone;
}

// While asleep, a waiter counts in the `attention` of every member's timeline (one member per
// timeline in a set), so that their producers settle, publish and wake at once.
class AttentionOfAll {
 public:
  explicit AttentionOfAll(std::span<const Fence> fences) noexcept : fences_(fences) {
    for (const Fence& f : fences_) raise_attention(*FenceAccess::state(f)->timeline);
  }
  AttentionOfAll(const AttentionOfAll&) = delete;
  AttentionOfAll& operator=(const AttentionOfAll&) = delete;
  ~AttentionOfAll() {
    for (const Fence& f : fences_) drop_attention(*FenceAccess::state(f)->timeline);
  }

 private:
  std::span<const Fence> fences_;
};

bool by_timeline(const Fence& a, const Fence& b) { return a.timeline_id() < b.timeline_id(); }

// Of two fences of one timeline, the one that completes last: the later point (positions are
// unwrapped, so this holds across a wrap32 boundary too).
// Of two fences of one timeline, the one that completes last (as SYNC_IOC_MERGE keeps the later
// point). A pending fence is always later than a completed one: on a wrap32 timeline a reached
// point's unwrapped position says nothing about its order against a pending one.
const Fence& later_of(const Fence& a, const Fence& b) {
  const bool a_done = a.status() != FenceStatus::pending, b_done = b.status() != FenceStatus::pending;
  if (a_done != b_done) return a_done ? b : a;
  if (a_done && (a.status() == FenceStatus::error) != (b.status() == FenceStatus::error))
    return a.status() == FenceStatus::error ? a : b;  // both done: an error must not be dropped
  return FenceAccess::state(b)->point > FenceAccess::state(a)->point ? b : a;
}
}  // namespace

Result<void> FenceSet::add(const Fence& fence) {
  if (!fence.valid()) return Error(Errc::invalid_handle, EBADF, "FenceSet::add of an empty or moved-from Fence");
  auto it = std::lower_bound(fences_.begin(), fences_.end(), fence, by_timeline);
  if (it != fences_.end() && it->timeline_id() == fence.timeline_id()) {
    *it = later_of(*it, fence);
  } else {
    fences_.insert(it, fence);
  }
  return {};
}

FenceSet FenceSet::merge(const FenceSet& a, const FenceSet& b) {
  FenceSet out;
  out.fences_.reserve(a.size() + b.size());
  auto ia = a.fences_.begin();
  auto ib = b.fences_.begin();
  while (ia != a.fences_.end() || ib != b.fences_.end()) {
    if (ib == b.fences_.end() || (ia != a.fences_.end() && by_timeline(*ia, *ib))) {
      out.fences_.push_back(*ia++);
    } else if (ia == a.fences_.end() || by_timeline(*ib, *ia)) {
      out.fences_.push_back(*ib++);
    } else {
      out.fences_.push_back(later_of(*ia++, *ib++));
    }
  }
  return out;
}

FenceStatus FenceSet::status() const noexcept {
  FenceStatus overall = FenceStatus::signaled;
  for (const Fence& f : fences_) {
    const FenceStatus s = f.status();
    if (s == FenceStatus::error) return FenceStatus::error;
    if (s == FenceStatus::pending) overall = FenceStatus::pending;
  }
  return overall;
}

Result<WaitStatus> FenceSet::wait_all(std::chrono::nanoseconds timeout) const {
  if (timeout.count() < 0)
    return Error(Errc::invalid_argument, EINVAL, "negative wait timeout " + std::to_string(timeout.count()) + " ns");
  // An errored member fails the whole set even while others are pending, so look first; the
  // same pass answers a set that is complete already without reading the clock.
  bool pending = false;
  for (std::size_t i = 0; i < fences_.size(); ++i) {
    const std::uint32_t status = status_bits(fences_[i], std::memory_order_acquire);
    if (status == kErrored)
      return Error(Errc::fence_error, fences_[i].error_errno(),
                   "fence " + std::to_string(i) + " of the set (timeline '" + fences_[i].timeline_name() + "', point " +
                       std::to_string(fences_[i].point()) + ") completed with an error");
    if (status == kPending) pending = true;
  }
  if (!pending || timeout.count() == 0) {
    if (pending) return WaitStatus::timed_out;
    return WaitStatus::signaled;
  }
  const std::int64_t deadline_ns = deadline_after(timeout);
  const MonotonicTime deadline = deadline_ns == kNoDeadline ? MonotonicTime::max() : to_time_point(deadline_ns);
  for (std::size_t i = 0; i < fences_.size(); ++i) {
    auto r = fences_[i].wait_until(deadline);
    if (!r.ok()) {
      Error e = std::move(r).error();
      return Error(e.code(), e.sys_errno(), "fence " + std::to_string(i) + " of the set: " + e.message());
    }
    if (*r == WaitStatus::timed_out) return WaitStatus::timed_out;
  }
  return WaitStatus::signaled;
}

Result<WaitAnyResult> FenceSet::wait_any(std::chrono::nanoseconds timeout) const {
  if (fences_.empty()) return Error(Errc::invalid_argument, EINVAL, "wait_any on an empty FenceSet");
  if (timeout.count() < 0)
    return Error(Errc::invalid_argument, EINVAL, "negative wait timeout " + std::to_string(timeout.count()) + " ns");
  std::size_t done = first_completed(fences_, std::memory_order_acquire);
  if (done != kNone) return WaitAnyResult{WaitStatus::signaled, done};
  if (timeout.count() == 0) return WaitAnyResult{WaitStatus::timed_out, 0};
  const std::int64_t deadline_ns = deadline_after(timeout);

  // Adaptive spin, as Fence::wait, with the first member's timeline keeping the budget: each
  // round scans every member's word and value (a fast advance only stores its value).
  TimelineState& tl = *FenceAccess::state(fences_[0])->timeline;
  const std::int64_t budget = spinning_can_pay() ? tl.spin_budget_ns.load(std::memory_order_relaxed) : 0;
  const std::int64_t spin_start = monotonic_now_ns();
  const std::int64_t spin_end = std::min(spin_start + budget, deadline_ns);
  // As Fence::wait: a win after `took` ns sets the budget to twice that.
  auto learn = [&tl, budget](std::int64_t took) {
    const std::int64_t learned = std::clamp(std::max(budget, 2 * took), kMinSpinNs, kMaxSpinNs);
    if (learned != budget) tl.spin_budget_ns.store(learned, std::memory_order_relaxed);
  };
  for (unsigned k = 0; budget > 0; ++k) {
    done = first_completed(fences_, std::memory_order_acquire);
    if (done != kNone) {
      if (k >= 16) learn(monotonic_now_ns() - spin_start);
      return WaitAnyResult{WaitStatus::signaled, done};
    }
    SYNCBRIDGE_CPU_RELAX();
    if ((k & 15) == 15 && monotonic_now_ns() >= spin_end) break;
  }
  if (budget > kMinSpinNs)
    tl.spin_budget_ns.store(std::max(budget - budget / 8, kMinSpinNs), std::memory_order_relaxed);

  // Nothing is registered per member: this thread's bucket bit goes into every member's word
  // (one CAS each, no lock, no allocation), and the completion of any of them bumps the
  // bucket's epoch. A member that completes first is found by the CAS or the scans below.
  const unsigned b = this_thread_bucket();
  AnyBucket& bucket = any_buckets[b];
  const std::uint32_t mask = 1u << (kAnyShift + b);
  for (std::size_t i = 0; i < fences_.size(); ++i) {
    std::atomic<std::uint32_t>& word = FenceAccess::state(fences_[i])->word;
    std::uint32_t w = word.load(std::memory_order_acquire);
    while ((w & kStatusMask) == kPending && !(w & mask) &&
           !word.compare_exchange_weak(w, w | mask, std::memory_order_seq_cst, std::memory_order_acquire)) {
    }
    if ((w & kStatusMask) != kPending) return WaitAnyResult{WaitStatus::signaled, i};
  }

  // Sleep (the protocol is in state.h, AnyBucket): count in, read the epoch, re-read every
  // member, all seq_cst, then sleep on the epoch read.
  const AttentionOfAll attention(fences_);
  for (;;) {
    bucket.sleepers.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t epoch = bucket.epoch.load(std::memory_order_seq_cst);
    done = first_completed(fences_, std::memory_order_seq_cst);
    if (done == kNone && (deadline_ns == kNoDeadline || monotonic_now_ns() < deadline_ns))
      futex_wait(&bucket.epoch, epoch, deadline_ns);  // EINTR, EAGAIN and ETIMEDOUT loop back
    bucket.sleepers.fetch_sub(1, std::memory_order_relaxed);
    if (done != kNone) {
      // A wait that ended asleep learns too, as Fence::wait's: from when the member completed
      // (its timestamp, once published), not from a VM's slow wake.
      if (budget > 0) {
        const FenceState& member = *FenceAccess::state(fences_[done]);
        const bool published = (member.word.load(std::memory_order_acquire) & kStatusMask) != kPending;
        const std::int64_t took = (published ? member.timestamp_ns : monotonic_now_ns()) - spin_start;
        if (took < kMaxSpinNs) learn(took);
      }
      return WaitAnyResult{WaitStatus::signaled, done};
    }
    if (deadline_ns != kNoDeadline && monotonic_now_ns() >= deadline_ns) return WaitAnyResult{WaitStatus::timed_out, 0};
  }
}

}  // namespace syncbridge
