#include "syncbridge/fence_set.h"

#include <algorithm>
#include <memory>

#include "state.h"

namespace syncbridge {

using namespace detail;

namespace {
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
  const std::int64_t deadline_ns = deadline_after(timeout);
  const MonotonicTime deadline = deadline_ns == kNoDeadline ? MonotonicTime::max() : to_time_point(deadline_ns);
  // An errored member fails the whole set even while others are pending, so look first.
  for (std::size_t i = 0; i < fences_.size(); ++i)
    if (fences_[i].status() == FenceStatus::error)
      return Error(Errc::fence_error, fences_[i].error_errno(),
                   "fence " + std::to_string(i) + " of the set (timeline '" + fences_[i].timeline_name() + "', point " +
                       std::to_string(fences_[i].point()) + ") completed with an error");
  for (std::size_t i = 0; i < fences_.size(); ++i) {
    auto r = timeout.count() == 0 ? fences_[i].wait(timeout) : fences_[i].wait_until(deadline);
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
  for (std::size_t i = 0; i < fences_.size(); ++i)
    if (fences_[i].status() != FenceStatus::pending) return WaitAnyResult{WaitStatus::signaled, i};
  if (timeout.count() == 0) return WaitAnyResult{WaitStatus::timed_out, 0};

  // One futex word shared by callbacks on every member: 0 until the first completes, then its
  // index + 1. Registrations are cancelled (and waited out) before returning.
  auto first = std::make_shared<std::atomic<std::uint32_t>>(0);
  std::vector<CallbackRegistration> registrations;
  registrations.reserve(fences_.size());
  for (std::size_t i = 0; i < fences_.size(); ++i) {
    auto reg = fences_[i].on_complete([first, i](const Fence&) {
      std::uint32_t none = 0;
      if (first->compare_exchange_strong(none, static_cast<std::uint32_t>(i + 1), std::memory_order_acq_rel))
        futex_wake_all(first.get());
    });
    if (!reg) return std::move(reg).error();
    registrations.push_back(std::move(*reg));
  }
  const std::int64_t deadline_ns = deadline_after(timeout);
  for (;;) {
    const std::uint32_t got = first->load(std::memory_order_acquire);
    if (got != 0) return WaitAnyResult{WaitStatus::signaled, got - 1};
    if (deadline_ns != kNoDeadline && monotonic_now_ns() >= deadline_ns) return WaitAnyResult{WaitStatus::timed_out, 0};
    futex_wait(first.get(), 0, deadline_ns);
  }
}

}  // namespace syncbridge
