#include "syncbridge/fence.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "state.h"

namespace syncbridge {
namespace detail {
namespace {
thread_local const char this_thread_marker = 0;
}  // namespace

bool spinning_can_pay() noexcept {
  static const bool more_than_one = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    return ::sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) > 1;
  }();
  return more_than_one;
}

void fence_acquire(FenceState* fence) noexcept {
  const std::uint32_t old = fence->refs.fetch_add(1, std::memory_order_relaxed);
  if (old == 0) {
    std::fprintf(stderr, "syncbridge: fence reference count went from 0 to 1 (use after release)\n");
    std::abort();
  }
}

void fence_release(FenceState* fence) noexcept {
  if (fence->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  TimelineState* tl = fence->timeline;
  delete fence;
  timeline_release(tl);
}

void callback_release(CallbackNode* node) noexcept {
  if (node->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  FenceState* fence = node->fence;
  delete node;  // destroys the callable (and whatever it captured) outside every lock
  fence_release(fence);
}

void callback_run(CallbackNode* node) noexcept {
  std::uint32_t expected = CallbackNode::queued;
  node->runner.store(&this_thread_marker, std::memory_order_relaxed);
  if (node->phase.compare_exchange_strong(expected, CallbackNode::running, std::memory_order_acq_rel)) {
    fence_acquire(node->fence);
    const Fence view = FenceAccess::adopt(node->fence);
    node->fn(view);
    node->phase.store(CallbackNode::done, std::memory_order_release);
    node->phase.notify_all();
  }
  callback_release(node);
}

}  // namespace detail

using namespace detail;

namespace {
Error empty_fence_error(const char* what) {
  return Error(Errc::invalid_handle, EBADF, std::string(what) + " on an empty or moved-from Fence");
}

enum class Place { first, last };

// Under both timeline locks (`producer` first), on a fence whose word says pending: whether it
// is still pending and will stay so until a settle under `lock` publishes it. A fence with
// callbacks counts in the timeline's `attention`, so the producer that reaches it settles at
// once and runs them; no producer can store the value while this holds `producer`.
bool hold_pending_locked(FenceState& f) noexcept {
  if (value_reached(f, std::memory_order_relaxed)) return false;
  if (!f.callbacks) raise_attention_producer_held(*f.timeline);  // else counted already
  return true;
}

// Under the timeline lock, after hold_pending_locked said yes: queues `node` on the fence's
// callback list, with a new fence reference for the node.
void add_callback_locked(FenceState& f, CallbackNode* node, Place place) noexcept {
  fence_acquire(&f);
  node->fence = &f;
  node->in_list = true;
  if (!f.callbacks) {
    node->next = node->prev = node;
    f.callbacks = node;
  } else {
    CallbackNode* tail = f.callbacks->prev;
    node->prev = tail;
    node->next = f.callbacks;
    tail->next = node;
    f.callbacks->prev = node;
    if (place == Place::first) f.callbacks = node;
  }
}

// A signaler running on another core right now answers within a few hundred nanoseconds;
// this many rounds cover that without reading the clock (~30 ns a read, twice per wait in the
// adaptive spin that follows). Nothing is learned from a quick win: the budget is for waits
// that take longer. On success `word` holds the status.
constexpr unsigned kQuickSpinRounds = 32;
bool quick_spin(const FenceState& f, std::uint32_t& word) noexcept {
  if (!spinning_can_pay()) {
    word = f.word.load(std::memory_order_acquire);
    return (word & kStatusMask) != kPending;
  }
  for (unsigned i = 0; i < kQuickSpinRounds; ++i) {
    SYNCBRIDGE_CPU_RELAX();
    if (value_reached(f)) {
      word = kSignaled;
      return true;
    }
  }
  word = f.word.load(std::memory_order_acquire);
  return (word & kStatusMask) != kPending;
}

Result<WaitStatus> completed_result(const FenceState& f, std::uint32_t word) {
  if ((word & kStatusMask) == kSignaled) return WaitStatus::signaled;
  return Error(
      Errc::fence_error, f.error,
      "fence at point " + std::to_string(f.point) + " of timeline '" + f.timeline->name + "' completed with an error");
}
}  // namespace

// ---- CallbackRegistration ----

CallbackRegistration::CallbackRegistration(CallbackRegistration&& other) noexcept
    : node_(std::exchange(other.node_, nullptr)) {}

CallbackRegistration& CallbackRegistration::operator=(CallbackRegistration&& other) noexcept {
  if (this != &other) {
    (void)cancel();
    node_ = std::exchange(other.node_, nullptr);
  }
  return *this;
}

CallbackRegistration::~CallbackRegistration() { (void)cancel(); }

void CallbackRegistration::detach() noexcept {
  if (CallbackNode* node = std::exchange(node_, nullptr)) callback_release(node);
}

bool CallbackRegistration::cancel() noexcept {
  CallbackNode* node = std::exchange(node_, nullptr);
  if (!node) return false;
  FenceState* f = node->fence;
  bool removed = false;
  {
    std::lock_guard guard(f->timeline->lock);
    if (node->in_list) {
      // Still on the pending fence's list: unlink it; the list's reference is ours to drop.
      node->in_list = false;
      if (node->next == node) {
        f->callbacks = nullptr;
        drop_attention(*f->timeline);  // its last callback
      } else {
        node->prev->next = node->next;
        node->next->prev = node->prev;
        if (f->callbacks == node) f->callbacks = node->next;
      }
      node->phase.store(CallbackNode::cancelled, std::memory_order_relaxed);
      node->refs.fetch_sub(1, std::memory_order_relaxed);  // never the last: we hold one
      removed = true;
    }
  }
  if (!removed) {
    // Taken by a completion batch: win the race to `cancelled`, or wait out a running callback
    // unless it is this very thread that runs it.
    std::uint32_t phase = CallbackNode::queued;
    if (node->phase.compare_exchange_strong(phase, CallbackNode::cancelled, std::memory_order_acq_rel)) {
      removed = true;
    } else if (phase == CallbackNode::running && node->runner.load(std::memory_order_relaxed) != &this_thread_marker) {
      while ((phase = node->phase.load(std::memory_order_acquire)) == CallbackNode::running)
        node->phase.wait(phase, std::memory_order_acquire);
    }
  }
  callback_release(node);
  return removed;
}

// ---- Fence ----

Fence::Fence(const Fence& other) noexcept : state_(other.state_) {
  if (state_) fence_acquire(state_);
}
Fence::Fence(Fence&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
Fence& Fence::operator=(const Fence& other) noexcept {
  if (other.state_) fence_acquire(other.state_);
  if (state_) fence_release(state_);
  state_ = other.state_;
  return *this;
}
Fence& Fence::operator=(Fence&& other) noexcept {
  if (this != &other) {
    if (state_) fence_release(state_);
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}
Fence::~Fence() {
  if (state_) fence_release(state_);
}

FenceStatus Fence::status() const noexcept {
  if (!state_) return FenceStatus::error;
  switch (state_->word.load(std::memory_order_acquire) & kStatusMask) {
    case kPending: return value_reached(*state_) ? FenceStatus::signaled : FenceStatus::pending;
    case kSignaled: return FenceStatus::signaled;
    default: return FenceStatus::error;
  }
}

int Fence::error_errno() const noexcept {
  if (!state_) return EBADF;
  return (state_->word.load(std::memory_order_acquire) & kStatusMask) == kErrored ? state_->error : 0;
}

std::uint64_t Fence::point() const noexcept {
  if (!state_) return 0;
  return state_->timeline->wrap32 ? (state_->point & UINT32_MAX) : state_->point;
}

std::optional<MonotonicTime> Fence::timestamp() const noexcept {
  if (!state_) return std::nullopt;
  if ((state_->word.load(std::memory_order_acquire) & kStatusMask) == kPending) {
    if (!value_reached(*state_)) return std::nullopt;
    // Signaled (status() said so already), but no settle has published it yet: its time is
    // that of the advance that reached it, which the timeline's records still hold.
    TimelineState& tl = *state_->timeline;
    std::lock_guard guard(tl.lock);
    if ((state_->word.load(std::memory_order_relaxed) & kStatusMask) == kPending)
      return to_time_point(reached_time_locked(tl, state_->point));
  }
  return to_time_point(state_->timestamp_ns);
}

namespace {
// A pending fence's wait, after the caller's own checks: a quick spin, the adaptive spin, then
// the futex. `deadline()` gives the absolute deadline (or kNoDeadline); it is asked only after
// the quick spin, so that a wait answered within it reads no clock.
template <class Deadline>
Result<WaitStatus> wait_pending(FenceState& f, Deadline deadline) {
  TimelineState& tl = *f.timeline;
  std::uint32_t word = 0;
  if (quick_spin(f, word)) return completed_result(f, word);
  const std::int64_t deadline_ns = deadline();

  // Adaptive spin: cheap when the signaler is running on another core right now. It watches
  // the timeline's value, which the signaler stores first, before it takes the fence out of
  // the pending set: the waiter leaves one cache-line transfer after the store, and does not
  // read the fence's line while the signaler writes it. The fence's own word is read too, as
  // close() completes fences without moving the value.
  // Alone on one CPU the signaler cannot run while we spin: sleep at once.
  const std::int64_t budget = spinning_can_pay() ? tl.spin_budget_ns.load(std::memory_order_relaxed) : 0;
  const std::int64_t spin_start = monotonic_now_ns();
  const std::int64_t spin_end = std::min(spin_start + budget, deadline_ns);
  // What a wait that ended after `took` ns teaches: spin twice that long next time. Stored only
  // when it raises the budget: the signaler reads this cache line on every batch.
  auto learn = [&tl](std::int64_t took) {
    const std::int64_t learned = std::clamp(2 * took, kMinSpinNs, kMaxSpinNs);
    if (learned > tl.spin_budget_ns.load(std::memory_order_relaxed))
      tl.spin_budget_ns.store(learned, std::memory_order_relaxed);
  };
  for (unsigned i = 0; budget > 0; ++i) {
    // The word only every 8th round: it shares its line with what the signaler writes.
    if (value_reached(f))
      word = kSignaled;
    else
      word = (i & 7) == 7 ? f.word.load(std::memory_order_acquire) : kPending;
    if ((word & kStatusMask) != kPending) {
      if (i >= 16) learn(monotonic_now_ns() - spin_start);
      return completed_result(f, word);
    }
    SYNCBRIDGE_CPU_RELAX();
    if ((i & 15) == 15 && monotonic_now_ns() >= spin_end) break;
  }
  if (budget > kMinSpinNs)
    tl.spin_budget_ns.store(std::max(budget - budget / 8, kMinSpinNs), std::memory_order_relaxed);

  // A wait that ended asleep teaches the budget too, when the fence completed sooner after the
  // spin began than sleeping is worth (kMaxSpinNs): without it, two threads that answer each
  // other slowly because both sleep would never find out that spinning, on both sides, answers
  // in a fraction of a microsecond. When it completed is its timestamp, not when this thread
  // woke: in a VM a wake takes 50 us to over a millisecond, so judging by the wake taught
  // nothing there, and a fence round trip, once one side had slept, went on sleeping on both
  // sides (README: 5-10x the futex calls).
  auto learn_from_sleep = [&](std::int64_t completed_ns) {
    if (budget == 0) return;  // one CPU: nothing to learn
    if (const std::int64_t took = completed_ns - spin_start; took < kMaxSpinNs) learn(took);
  };
  // Asleep, the waiter needs the word published by the producer's own settle: it counts in
  // the timeline's `attention` (raised under `producer`, before it reads the value again) while
  // it sleeps.
  struct Attention {
    explicit Attention(TimelineState& t) noexcept : tl(t) { raise_attention(tl); }
    Attention(const Attention&) = delete;
    Attention& operator=(const Attention&) = delete;
    ~Attention() { drop_attention(tl); }
    TimelineState& tl;
  } attention(tl);
  for (;;) {
    word = f.word.load(std::memory_order_seq_cst);
    if ((word & kStatusMask) != kPending) {
      learn_from_sleep(f.timestamp_ns);  // written before the status was published
      return completed_result(f, word);
    }
    if (value_reached(f, std::memory_order_seq_cst)) {
      learn_from_sleep(monotonic_now_ns());  // seen, not woken: now is when
      return WaitStatus::signaled;
    }
    if (!(word & kSleepers)) {
      if (!f.word.compare_exchange_weak(word, word | kSleepers, std::memory_order_acq_rel)) continue;
      word |= kSleepers;
    }
    if (deadline_ns != kNoDeadline && monotonic_now_ns() >= deadline_ns) return WaitStatus::timed_out;
    futex_wait(&f.word, word, deadline_ns);  // EINTR, EAGAIN and ETIMEDOUT all loop back
  }
}
}  // namespace

Result<WaitStatus> Fence::wait(std::chrono::nanoseconds timeout) const {
  if (!state_) return empty_fence_error("wait");
  if (timeout.count() < 0)
    return Error(Errc::invalid_argument, EINVAL, "negative wait timeout " + std::to_string(timeout.count()) + " ns");
  const std::uint32_t word = state_->word.load(std::memory_order_acquire);
  if ((word & kStatusMask) != kPending) return completed_result(*state_, word);
  if (value_reached(*state_)) return WaitStatus::signaled;
  if (timeout.count() == 0) return WaitStatus::timed_out;
  // The clock is read for the deadline only after wait_pending's quick spin found nothing:
  // the deadline starts a little later, which a timeout (a lower bound) allows.
  return wait_pending(*state_, [timeout] { return deadline_after(timeout); });
}

Result<WaitStatus> Fence::wait_until(MonotonicTime deadline) const {
  if (!state_) return empty_fence_error("wait_until");
  const std::uint32_t word = state_->word.load(std::memory_order_acquire);
  if ((word & kStatusMask) != kPending) return completed_result(*state_, word);
  if (value_reached(*state_)) return WaitStatus::signaled;
  return wait_pending(*state_, [deadline] { return deadline == MonotonicTime::max() ? kNoDeadline : to_ns(deadline); });
}

Result<CallbackRegistration> Fence::on_complete(Callback callback) const {
  if (!state_) return empty_fence_error("on_complete");
  if (!callback) return Error(Errc::invalid_argument, EINVAL, "on_complete with an empty callback");
  FenceState& f = *state_;
  auto node = std::make_unique<CallbackNode>();
  {
    BothTimelineLocks locks(*f.timeline);  // `producer` for hold_pending_locked
    // Decided under the lock: a settle publishes the word under this lock too.
    if ((f.word.load(std::memory_order_relaxed) & kStatusMask) == kPending && hold_pending_locked(f)) {
      node->fn = std::move(callback);
      CallbackNode* raw = node.release();
      add_callback_locked(f, raw, Place::last);
      return CallbackRegistration(raw);
    }
  }
  callback(*this);  // already complete: run now, on this thread, outside the lock
  return CallbackRegistration();
}

Result<void> Fence::set_deadline(MonotonicTime deadline) const {
  if (!state_) return empty_fence_error("set_deadline");
  FenceState& f = *state_;
  TimelineState& tl = *f.timeline;
  const std::int64_t ns = to_ns(deadline);
  std::lock_guard guard(tl.lock);
  if ((f.word.load(std::memory_order_relaxed) & kStatusMask) != kPending || value_reached(f)) return {};
  if (ns < f.deadline_ns) f.deadline_ns = ns;
  if (ns < tl.earliest_deadline_ns) tl.earliest_deadline_ns = ns;
  return {};
}

std::optional<MonotonicTime> Fence::deadline() const noexcept {
  if (!state_) return std::nullopt;
  std::lock_guard guard(state_->timeline->lock);
  if (state_->deadline_ns == kNoDeadline) return std::nullopt;
  return to_time_point(state_->deadline_ns);
}

namespace {
// An eventfd that reads as readable from now on: a semaphore eventfd holding the largest count
// it can, so a read (which takes one) never makes it unreadable in practice, whoever else
// holds a dup of it. Like a sync_file, it stays readable once its fence completed.
constexpr std::uint64_t kForeverReadable = 0xfffffffffffffffe;  // eventfd's maximum count
constexpr int kPollableFlags = EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE;

Result<UniqueFd> readable_eventfd() {
  UniqueFd efd(::eventfd(0, kPollableFlags));
  if (!efd) return Error::from_errno(errno, "eventfd for a completed fence failed");
  if (::write(efd.get(), &kForeverReadable, sizeof kForeverReadable) != sizeof kForeverReadable)
    return Error::from_errno(errno, "writing the eventfd of a completed fence failed");
  return efd;
}
}  // namespace

namespace detail {
FenceState::~FenceState() {
  if (const int fd = pollable_fd.load(std::memory_order_relaxed); fd >= 0) ::close(fd);
}
}  // namespace detail

Result<UniqueFd> Fence::pollable_fd() const {
  if (!state_) return empty_fence_error("pollable_fd");
  FenceState& f = *state_;
  // The shared eventfd and its writer are made before the locks, which hold up every advance
  // (`producer`), when the fence looks as if it needs them. The guess holds under the locks: a
  // fence this handle keeps alive never goes back to pending, and its eventfd is never
  // replaced. Made for nothing (the fence completed, or another call installed one first),
  // they are dropped.
  UniqueFd fresh;
  std::unique_ptr<CallbackNode> writer;
  int shared = -1;
  for (bool needed = (f.word.load(std::memory_order_acquire) & kStatusMask) == kPending &&
                     f.pollable_fd.load(std::memory_order_acquire) < 0;
       ; needed = true) {
    if (needed && !fresh) {
      fresh = UniqueFd(::eventfd(0, kPollableFlags));
      if (!fresh) return Error::from_errno(errno, "eventfd for a pending fence failed");
      writer = std::make_unique<CallbackNode>();
    }
    BothTimelineLocks locks(*f.timeline);  // `producer` for hold_pending_locked
    // Decided under the lock, as a settle publishes the word under it: the eventfd of a fence
    // still pending here is written by the callback that settle runs, once.
    // A reached fence whose settle has yet to run that callback gets a fresh readable fd.
    if ((f.word.load(std::memory_order_relaxed) & kStatusMask) != kPending || !hold_pending_locked(f)) break;
    if (f.pollable_fd.load(std::memory_order_relaxed) < 0) {
      if (!fresh) {
        // The guess said none was needed (see above: it cannot be wrong, but costs nothing to
        // survive). hold_pending_locked counted the fence in `attention` for the callback it
        // was about to get: it gets none this time round.
        if (!f.callbacks) drop_attention(*f.timeline);
        continue;
      }
      f.pollable_fd.store(fresh.release(), std::memory_order_release);
      // Runs first of the fence's callbacks (readiness, like waking the waiters, comes
      // before user code); the node's fence reference keeps the fd open.
      writer->fn = [](const Fence& done) {
        const int fd = FenceAccess::state(done)->pollable_fd.load(std::memory_order_relaxed);
        // The count is 0 until this one write: it cannot fail (EAGAIN would still leave the
        // fd readable).
        [[maybe_unused]] ssize_t n = ::write(fd, &kForeverReadable, sizeof kForeverReadable);
      };
      writer->refs.store(1, std::memory_order_relaxed);  // the list's only: never registered
      add_callback_locked(f, writer.release(), Place::first);
    }
    shared = f.pollable_fd.load(std::memory_order_relaxed);
    break;
  }
  // Completed: a fresh fd, readable at once (the shared one may not be written yet, and a
  // fence that never had one needs none now).
  if (shared < 0) return readable_eventfd();
  // Every caller gets its own fd for the one open eventfd, which lives as long as the state
  // (and this handle keeps the state alive).
  return UniqueFd::dup_of(shared);
}

const void* Fence::timeline_id() const noexcept { return state_ ? state_->timeline : nullptr; }

std::string Fence::timeline_name() const { return state_ ? state_->timeline->name : std::string(); }

}  // namespace syncbridge
