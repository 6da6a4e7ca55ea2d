#include "syncbridge/timeline.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "state.h"

namespace syncbridge {
namespace detail {
namespace {

std::uint32_t mix_priority(std::uint64_t point, std::uint64_t seed) noexcept {
  // splitmix64 finaliser: treap priorities must look random for any point pattern.
  std::uint64_t z = point + seed + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<std::uint32_t>(z ^ (z >> 31));
}

void rotate_up(TimelineState& tl, FenceState* x) noexcept {
  FenceState* p = x->parent;
  FenceState* g = p->parent;
  if (p->left == x) {
    p->left = x->right;
    if (x->right) x->right->parent = p;
    x->right = p;
  } else {
    p->right = x->left;
    if (x->left) x->left->parent = p;
    x->left = p;
  }
  p->parent = x;
  x->parent = g;
  if (!g)
    tl.root = x;
  else if (g->left == p)
    g->left = x;
  else
    g->right = x;
}

// Returns the pending fence at `point`, inserting `fresh` there if there is none.
FenceState* find_or_insert(TimelineState& tl, std::uint64_t point, FenceState* fresh) noexcept {
  FenceState* parent = nullptr;
  FenceState** link = &tl.root;
  if (tl.min && point <= tl.min->point) {
    // At or below the minimum (the common case: the next point of a producer that signals
    // in order): its slot is the minimum's empty left link, so no walk from the root, which
    // with a million points pending would cost ~20 cache misses.
    if (point == tl.min->point) return tl.min;
    parent = tl.min;
    link = &parent->left;
  }
  while (*link) {
    parent = *link;
    if (point == parent->point) return parent;
    link = point < parent->point ? &parent->left : &parent->right;
  }
  fresh->parent = parent;
  *link = fresh;
  while (fresh->parent && fresh->priority > fresh->parent->priority) rotate_up(tl, fresh);
  if (!tl.min || point < tl.min->point) tl.min = fresh;
  // Written under the lock only (read without it by pending_count()): no atomic add needed.
  tl.pending.store(tl.pending.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return fresh;
}

// The minimum has no left child, so replacing it by its right subtree keeps both the order
// and the heap property (the right child's priority is below the minimum's).
FenceState* pop_min(TimelineState& tl) noexcept {
  FenceState* m = tl.min;
  FenceState* r = m->right;
  FenceState* p = m->parent;
  if (r) r->parent = p;
  if (p)
    p->left = r;
  else
    tl.root = r;
  if (r) {
    while (r->left) r = r->left;
    tl.min = r;
  } else {
    tl.min = p;
  }
  m->left = m->right = m->parent = nullptr;
  tl.pending.store(tl.pending.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  return m;
}

FenceState* successor(FenceState* n) noexcept {
  if (n->right) {
    n = n->right;
    while (n->left) n = n->left;
    return n;
  }
  while (n->parent && n->parent->right == n) n = n->parent;
  return n->parent;
}

struct CompletedBatch {
  FenceState* head = nullptr;  // chained through `parent`, in point order
  FenceState* tail = nullptr;
};

// Under the lock: takes the minimum out of the treap, with what it leaves behind.
FenceState* unlink_min(TimelineState& tl) noexcept {
  FenceState* f = pop_min(tl);
  if (f->deadline_ns <= tl.earliest_deadline_ns) tl.deadline_summary_stale = true;
  if (f->callbacks) {
    for (CallbackNode* n = f->callbacks; n;) {
      n->in_list = false;
      n = n->next == f->callbacks ? nullptr : n->next;
    }
    drop_attention(tl);  // the fence's callbacks leave with it
  }
  return f;
}

// Under the lock: takes the minimum out of the treap onto the batch with its timestamp and
// error (0: signaled). Its status is published later, by publish(), once every write to it is
// done: a spinning waiter may be reading that cache line.
void take_min(TimelineState& tl, std::int64_t timestamp_ns, std::int32_t error, CompletedBatch& batch) noexcept {
  FenceState* f = unlink_min(tl);
  f->timestamp_ns = timestamp_ns;
  f->error = error;
  if (batch.tail)
    batch.tail->parent = f;
  else
    batch.head = f;
  batch.tail = f;
}

// Under the lock: keeps the state of a fence that nobody holds (it was reached while only the
// treap held it), with its timeline reference, for the next fence_at: a consumer a few points
// ahead of its producer reuses a few states instead of a malloc, a free and two reference
// counts per fence (one in step re-arms its fence in place: see rearm). Drained by close().
bool pool_has_room(const TimelineState& tl) noexcept { return tl.pooled < kPooledStates; }

void pool_put(TimelineState& tl, FenceState* f) noexcept {
  f->refs.store(0, std::memory_order_relaxed);
  f->word.store(kPending, std::memory_order_relaxed);
  f->error = 0;
  f->deadline_ns = kNoDeadline;
  f->callbacks = nullptr;
  f->left = f->right = nullptr;
  f->parent = tl.pool;
  tl.pool = f;
  ++tl.pooled;
}

// Under the lock: nothing is pending at or below `through`, and nothing will be (fence_at
// inserts only above the value). Stored only when it rises: the producer reads this line, and
// a store that changed nothing would still take the line from it.
void publish_settled_through(TimelineState& tl, std::uint64_t through) noexcept {
  if (through > tl.settled_through.load(std::memory_order_relaxed))
    tl.settled_through.store(through, std::memory_order_release);
}

// Under the lock: the set's only fence, when the value has reached it and nobody holds it (the
// set's reference is the last: a callback holds one too), else null. This is where a consumer
// in step with its producer finds the set on every fence_at: the fence it waited for, released.
FenceState* lone_reached_unheld(const TimelineState& tl, std::uint64_t value) noexcept {
  FenceState* f = tl.min;
  if (!f || f != tl.root || f->right || f->point > value) return nullptr;
  // Acquire: whoever dropped the other references is done with it.
  return f->refs.load(std::memory_order_acquire) == 1 ? f : nullptr;
}

// Under the lock: turns the lone reached, unheld fence into the pending fence at `position`
// (above `value`) for a new caller, where it stands: what settling it into the pool and taking
// it back out to insert would do, without unlinking and relinking the treap. Nobody can reach
// it meanwhile but through the lock (no reference, no callback): its old point is unobservable.
void rearm(TimelineState& tl, FenceState* f, std::uint64_t position, std::uint64_t value) noexcept {
  if (f->deadline_ns <= tl.earliest_deadline_ns) tl.deadline_summary_stale = true;
  f->word.store(kPending, std::memory_order_relaxed);  // drops stale wait_any bits
  f->deadline_ns = kNoDeadline;
  f->point = position;
  f->priority = mix_priority(position, tl.priority_seed);
  f->refs.store(2, std::memory_order_relaxed);  // the set's and the caller's
  // As a settle would publish: below the new point, nothing is pending.
  publish_settled_through(tl, value);
}

FenceState* pool_take(TimelineState& tl) noexcept {
  FenceState* f = tl.pool;
  if (f) {
    tl.pool = f->parent;
    f->parent = nullptr;
    --tl.pooled;
  }
  return f;
}

void publish(FenceState* from) noexcept {
  // seq_cst: pairs with a FenceSet::wait_any waiter's re-check (see AnyBucket).
  for (FenceState* f = from; f; f = f->parent)
    f->word.fetch_or(f->error ? kErrored : kSignaled, std::memory_order_seq_cst);
}

// The time of the first record from `seq` to `newest` that reached `point`; `seq` is left
// there for the next (later) point. False when none did: the advance that moved the value
// past `point` has not published its record yet.
bool recorded_time(const TimelineState& tl, std::uint64_t point, std::uint64_t& seq, std::uint64_t newest,
                   std::int64_t& when) noexcept {
  for (; seq <= newest; ++seq) {
    const AdvanceRecord& record = tl.records[seq % kRecordSlots];
    if (record.value.load(std::memory_order_relaxed) >= point) {
      when = record.time_ns.load(std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

// Under the lock: completes every pending fence the value has reached, each with the time of
// the advance that reached it. A consumer settling on its way (`quiet`) stops at the first
// fence with callbacks: those are the producer's to run, and it settles itself when it stores
// the value, as they count in `attention`.
void settle(TimelineState& tl, CompletedBatch& batch, bool quiet) noexcept {
  const std::uint64_t value = tl.value.load(std::memory_order_acquire);
  FenceState* first = nullptr;
  // Read only when a timestamp is needed: they sit on the producer's cache line.
  std::uint64_t seq = 0, newest = 0;
  while (tl.min && tl.min->point <= value) {
    FenceState* f = tl.min;
    if (quiet && f->callbacks) break;
    // Held by the treap alone, the fence dies unread: nobody can get a new reference to a
    // reached point (fence_at hands out a fresh fence there), so it needs no timestamp, no
    // status and no wake. Acquire: whoever dropped the other references is done with it.
    const bool unheld = f->refs.load(std::memory_order_acquire) == 1 && !f->callbacks;
    if (unheld && pool_has_room(tl)) {
      pool_put(tl, unlink_min(tl));
      continue;
    }
    std::int64_t when = 0;
    if (!unheld) {
      if (newest == 0) {
        newest = tl.record_seq.load(std::memory_order_acquire);
        seq = tl.consumed_seq.load(std::memory_order_acquire) + 1;
      }
      // Its advance may not have written its record yet (a producer in the middle of one):
      // left for a later settle. The producer's own settles and close() hold the producer
      // lock, so every record is there for them.
      if (!recorded_time(tl, f->point, seq, newest, when)) break;
    }
    take_min(tl, when, 0, batch);
    if (!first) first = f;
  }
  // Whatever stopped the loop (a fence with callbacks, a record not yet written) is still
  // pending at its point; below it, or up to the value, nothing is.
  publish_settled_through(tl, tl.min && tl.min->point <= value ? tl.min->point - 1 : value);
  publish(first);
}

}  // namespace

std::int64_t reached_time_locked(const TimelineState& tl, std::uint64_t point) noexcept {
  // The producer that stored the value writes its record next, without this lock: a few
  // stores away, unless it was preempted in between.
  for (unsigned i = 0;; ++i) {
    std::uint64_t seq = tl.consumed_seq.load(std::memory_order_acquire) + 1;
    std::int64_t when = 0;
    if (recorded_time(tl, point, seq, tl.record_seq.load(std::memory_order_acquire), when)) return when;
    if (i < 64)
      SYNCBRIDGE_CPU_RELAX();
    else
      std::this_thread::yield();
  }
}

namespace {

// Outside every lock: wake sleepers, notify the timeline's eventfd, run callbacks in point
// order, then drop the references the pending set held. `tl` stays alive through the batch's
// fences (each holds a timeline reference) until the last one is released here. The words
// are final: sleepers only mark a fence while it is pending.
void finish_batch(TimelineState& tl, CompletedBatch& batch, bool notify_event_fd) noexcept {
  for (FenceState* f = batch.head; f; f = f->parent) {
    const std::uint32_t word = f->word.load(std::memory_order_relaxed);
    if (word & kSleepers) futex_wake_all(&f->word);
    if (word >> kAnyShift) wake_any_waiters(word);
  }
  if (notify_event_fd) {
    const int efd = tl.event_fd.load(std::memory_order_acquire);
    if (efd >= 0) {
      const std::uint64_t one = 1;
      // The counter saturating (EAGAIN) still leaves the fd readable: nothing is lost.
      [[maybe_unused]] ssize_t n = ::write(efd, &one, sizeof one);
    }
  }
  for (FenceState* f = batch.head; f;) {
    FenceState* next = f->parent;
    // The list and the link are dead once completed: not cleared, so that no write reaches
    // the fence but the reference count (on_complete and cancel look at the status first).
    CallbackNode* head = f->callbacks;
    for (CallbackNode* n = head; n;) {
      CallbackNode* following = n->next == head ? nullptr : n->next;
      callback_run(n);
      n = following;
    }
    fence_release(f);  // the pending set's reference, dropped only now
    f = next;
  }
}

// Treap priorities only have to defeat regular point patterns, not an adversary, so the seed
// comes from the clock and an address: std::random_device may block on a freshly booted
// machine until the kernel's entropy pool is ready (seen in the test VM: 1.3 s).
std::uint64_t next_seed() {
  static std::atomic<std::uint64_t> counter{static_cast<std::uint64_t>(monotonic_now_ns()) ^
                                            reinterpret_cast<std::uintptr_t>(&counter)};
  return counter.fetch_add(0x9e3779b97f4a7c15ULL, std::memory_order_relaxed);
}

}  // namespace

TimelineState::~TimelineState() {
  const int efd = event_fd.load(std::memory_order_relaxed);
  if (efd >= 0) ::close(efd);
}

void timeline_acquire(TimelineState* timeline) noexcept {
  const std::uint32_t old = timeline->refs.fetch_add(1, std::memory_order_relaxed);
  if (old == 0) {
    std::fprintf(stderr, "syncbridge: timeline reference count went from 0 to 1\n");
    std::abort();
  }
}

void timeline_release(TimelineState* timeline) noexcept {
  if (timeline->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete timeline;
}

namespace {
// A consumer's settle on its way: the batch is finished (sleepers woken, the treap's references
// dropped) after the lock is released, as this is declared before the lock's guard.
struct QuietSettle {
  explicit QuietSettle(TimelineState& timeline) noexcept : tl(timeline) {}
  QuietSettle(const QuietSettle&) = delete;
  QuietSettle& operator=(const QuietSettle&) = delete;
  ~QuietSettle() {
    if (batch.head) finish_batch(tl, batch, false);
  }
  void run() noexcept { settle(tl, batch, true); }  // under the lock
  TimelineState& tl;
  CompletedBatch batch;
};
}  // namespace

void settle_quietly(TimelineState& tl) noexcept {
  QuietSettle settled(tl);
  std::lock_guard guard(tl.lock);
  settled.run();
}

}  // namespace detail

using namespace detail;

namespace {
Error closed_error(const TimelineState& tl) {
  return Error(Errc::timeline_closed, ENOENT, "timeline '" + tl.name + "' is closed");
}
Error empty_timeline_error(const char* what) {
  return Error(Errc::invalid_handle, EBADF, std::string(what) + " on an empty or moved-from Timeline");
}
}  // namespace

Result<Timeline> Timeline::create(TimelineOptions options) {
  if (options.wrap32 && options.initial_value > UINT32_MAX)
    return Error(Errc::out_of_range, ERANGE,
                 "initial value " + std::to_string(options.initial_value) + " does not fit a wrap32 timeline");
  auto* state = new TimelineState;
  state->wrap32 = options.wrap32;
  state->name = std::move(options.name);
  state->priority_seed = next_seed();
  state->value.store(options.initial_value, std::memory_order_relaxed);
  state->settled_through.store(options.initial_value, std::memory_order_relaxed);
  return Timeline(state);
}

Timeline::Timeline(Timeline&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}

Timeline& Timeline::operator=(Timeline&& other) noexcept {
  if (this != &other) {
    close();
    if (state_) timeline_release(state_);
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

Timeline::~Timeline() {
  close();
  if (state_) timeline_release(state_);
}

Result<Fence> Timeline::fence_at(std::uint64_t point) {
  if (!state_) return empty_timeline_error("fence_at");
  TimelineState& tl = *state_;
  if (tl.wrap32 && point > UINT32_MAX)
    return Error(Errc::out_of_range, ERANGE,
                 "point " + std::to_string(point) + " is beyond a wrap32 timeline's u32 range");
  // Where `point` sits against a value: reached or not, and its unwrapped position.
  auto place = [&tl, point](std::uint64_t value, std::uint64_t& position) {
    if (!tl.wrap32) {
      position = point;
      return point <= value;
    }
    const std::uint32_t ahead = static_cast<std::uint32_t>(point) - static_cast<std::uint32_t>(value);
    const bool reached = static_cast<std::int32_t>(ahead) <= 0;
    // A reached point sits behind the value; keep its u32 image for point().
    position =
        reached ? value - (static_cast<std::uint32_t>(value) - static_cast<std::uint32_t>(point)) : value + ahead;
    return reached;
  };
  // A reached point gets a new fence, signaled already and not tracked.
  auto born_signaled = [this](std::uint64_t position) {
    auto* f = new FenceState;
    f->timeline = state_;
    timeline_acquire(state_);
    f->point = position;
    f->timestamp_ns = monotonic_now_ns();
    f->word.store(kSignaled, std::memory_order_relaxed);  // shared only through the handle
    return Fence(f);
  };
  std::uint64_t position = 0;
  // A point the value has reached needs no lock: the value only grows, so it stays reached,
  // and a close() this call does not see is ordered after it.
  if (place(tl.value.load(std::memory_order_acquire), position) && !tl.closed.load(std::memory_order_acquire))
    return born_signaled(position);
  // Fences the value reached since the last settle leave the treap here, on the consumer's
  // side, where their cache lines are: the producer stored the value and nothing else.
  QuietSettle settled(tl);
  std::unique_lock guard(tl.lock);
  if (tl.closed.load(std::memory_order_relaxed)) {
    guard.unlock();
    return closed_error(tl);
  }
  // A consumer in step with its producer: the set holds only the fence this caller waited for.
  if (const std::uint64_t value = tl.value.load(std::memory_order_relaxed); !place(value, position)) {
    if (FenceState* lone = lone_reached_unheld(tl, value)) {
      rearm(tl, lone, position, value);
      return Fence(lone);
    }
  }
  settled.run();
  // Read again: the point must stay above what the settle saw reached (settled_through).
  if (place(tl.value.load(std::memory_order_relaxed), position)) {
    guard.unlock();
    return born_signaled(position);
  }
  // A pooled state (it holds a timeline reference already), or a new one: allocated under the
  // lock, which happens only until the pool fills.
  FenceState* fresh = pool_take(tl);
  if (!fresh) {
    fresh = new FenceState;
    fresh->timeline = state_;
    timeline_acquire(state_);
  }
  fresh->point = position;
  fresh->priority = mix_priority(position, tl.priority_seed);
  // One for the pending set, one for the caller: stored before the insert, as nobody else can
  // reach the fence before the lock is released.
  fresh->refs.store(2, std::memory_order_relaxed);
  FenceState* found = find_or_insert(tl, position, fresh);
  if (found != fresh) {
    fence_acquire(found);  // safe: the pending set holds a reference
    const bool kept = pool_has_room(tl);
    if (kept) pool_put(tl, fresh);
    guard.unlock();
    if (!kept) {
      delete fresh;
      timeline_release(state_);  // never the last: this handle holds one
    }
    return Fence(found);
  }
  return Fence(fresh);
}

// Moves the timeline forward by the step that `step_for(value)` picks under the producer lock
// (so that no concurrent advance can slip between the check and the store). The fast path is
// a record and one store: the treap is settled here only when something needs it at once
// (`attention`: sleepers, callbacks, an eventfd) or every kSettleEvery advances, which keeps
// the records' ring from wrapping onto unconsumed ones. Otherwise the next consumer settles.
// A callback may destroy the handle: the batch's fences keep the state alive until
// finish_batch releases the last of them, and nothing here touches it after that.
template <class StepFor>
Result<void> move_forward(TimelineState* state, StepFor step_for) {
  TimelineState& tl = *state;
  CompletedBatch batch;
  bool settled = false;
  Result<void> outcome;
  {
    std::lock_guard producer(tl.producer);
    const std::uint64_t value = tl.value.load(std::memory_order_relaxed);
    Result<std::uint64_t> step =
        tl.closed.load(std::memory_order_relaxed) ? Result<std::uint64_t>(closed_error(tl)) : step_for(value);
    if (!step.ok()) {
      outcome = std::move(step).error();
    } else if (*step != 0) {
      const std::uint64_t target = value + *step;
      // `attention` is raised under `producer` (raise_attention): a raise made before this
      // lock was taken is read here, and whoever raises after it reads this value.
      tl.value.store(target, std::memory_order_release);
      const bool needed = tl.attention.load(std::memory_order_relaxed) != 0;
      // The clock is read after the store, as the kernel's sw_sync stamps its fences after the
      // value moved: spinning waiters leave ~30 ns sooner. A reached fence's time is then a few
      // stores away; whoever needs it before this record is published waits for it or leaves
      // the fence to a later settle (see settle and reached_time_locked).
      const std::uint64_t seq = tl.record_seq.load(std::memory_order_relaxed) + 1;
      AdvanceRecord& record = tl.records[seq % kRecordSlots];
      record.value.store(target, std::memory_order_relaxed);
      record.time_ns.store(monotonic_now_ns(), std::memory_order_relaxed);
      tl.record_seq.store(seq, std::memory_order_release);
      // Unconsumed records, this one included: consumed_seq is written by this side only.
      if (needed || seq - tl.consumed_seq.load(std::memory_order_relaxed) >= kSettleEvery) {
        if (!needed && tl.settled_through.load(std::memory_order_acquire) >= value) {
          // The consumers settled all that the advances before this one reached: only this
          // record may still be needed. The ring stays intact for a settle that reads records
          // meanwhile (under `lock`, so settled_through holds still): it reads them for a
          // reached fence above settled_through, so above the value this advance started
          // from, and this record stays unconsumed for it. This producer's next decision cannot
          // skip (its starting value is past that fence) and waits for `lock`, so fewer than
          // kRecordSlots records follow whichever consumed_seq that settle read.
          tl.consumed_seq.store(seq - 1, std::memory_order_release);
        } else {
          std::lock_guard guard(tl.lock);
          settle(tl, batch, false);
          tl.consumed_seq.store(seq, std::memory_order_release);
          settled = true;
        }
      }
    }
  }
  if (settled) finish_batch(tl, batch, true);
  return outcome;
}

Result<void> Timeline::advance(std::uint64_t n) {
  if (!state_) return empty_timeline_error("advance");
  if (state_->wrap32 && n > UINT32_MAX)
    return Error(Errc::out_of_range, ERANGE,
                 "advance by " + std::to_string(n) + " exceeds the u32 step of a wrap32 timeline");
  return move_forward(state_, [&](std::uint64_t value) -> Result<std::uint64_t> {
    if (n > UINT64_MAX - value)
      return Error(Errc::out_of_range, EOVERFLOW,
                   "advancing timeline '" + state_->name + "' by " + std::to_string(n) + " would pass 2^64-1");
    return n;
  });
}

Result<void> Timeline::signal_to(std::uint64_t point) {
  if (!state_) return empty_timeline_error("signal_to");
  TimelineState& tl = *state_;
  if (tl.wrap32 && point > UINT32_MAX)
    return Error(Errc::out_of_range, ERANGE,
                 "point " + std::to_string(point) + " is beyond a wrap32 timeline's u32 range");
  return move_forward(state_, [&](std::uint64_t value) -> Result<std::uint64_t> {
    if (tl.wrap32) {
      const std::uint32_t ahead = static_cast<std::uint32_t>(point) - static_cast<std::uint32_t>(value);
      if (static_cast<std::int32_t>(ahead) < 0)
        return Error(Errc::backwards, EINVAL,
                     "signal_to(" + std::to_string(point) + ") is behind timeline '" + tl.name + "' at " +
                         std::to_string(static_cast<std::uint32_t>(value)) + " (u32 comparison)");
      return std::uint64_t{ahead};
    }
    if (point < value)
      return Error(
          Errc::backwards, EINVAL,
          "signal_to(" + std::to_string(point) + ") is behind timeline '" + tl.name + "' at " + std::to_string(value));
    return point - value;
  });
}

void Timeline::close(int error_errno) noexcept {
  if (error_errno <= 0) error_errno = ENOENT;  // a fence that errors must carry an errno
  if (!state_) return;
  TimelineState& tl = *state_;
  CompletedBatch batch;
  FenceState* pooled = nullptr;
  {
    BothTimelineLocks locks(tl);
    if (tl.closed.exchange(true, std::memory_order_acq_rel)) return;
    // What the value reached is signaled (with the time of its advance); the rest errors.
    settle(tl, batch, false);
    tl.consumed_seq.store(tl.record_seq.load(std::memory_order_relaxed), std::memory_order_release);
    FenceState* first_errored = nullptr;
    if (tl.min) {
      const std::int64_t now = monotonic_now_ns();
      first_errored = tl.min;
      while (tl.min) take_min(tl, now, error_errno, batch);
    }
    publish(first_errored);
    pooled = std::exchange(tl.pool, nullptr);
    tl.pooled = 0;
  }
  // A callback may destroy this handle: hold the state through the batch.
  TimelineState* keep = state_;
  timeline_acquire(keep);
  finish_batch(*keep, batch, true);
  while (FenceState* f = pooled) {
    pooled = f->parent;
    delete f;
    timeline_release(keep);  // the pooled state's reference; never the last (`keep` holds one)
  }
  timeline_release(keep);
}

std::uint64_t Timeline::value() const noexcept {
  if (!state_) return 0;
  const std::uint64_t v = state_->value.load(std::memory_order_acquire);
  return state_->wrap32 ? (v & UINT32_MAX) : v;
}

bool Timeline::closed() const noexcept { return !state_ || state_->closed.load(std::memory_order_acquire); }
bool Timeline::wrap32() const noexcept { return state_ && state_->wrap32; }
std::size_t Timeline::pending_count() const noexcept {
  if (!state_) return 0;
  settle_quietly(*state_);  // reached fences that no settle took out yet are not pending
  return state_->pending.load(std::memory_order_relaxed);
}

const std::string& Timeline::name() const noexcept {
  static const std::string empty;
  return state_ ? state_->name : empty;
}

std::optional<MonotonicTime> Timeline::earliest_deadline() const {
  if (!state_) return std::nullopt;
  TimelineState& tl = *state_;
  QuietSettle settled(tl);
  std::lock_guard guard(tl.lock);
  settled.run();
  // A reached fence left in the treap (its callbacks wait for the producer's settle) is no
  // longer pending: its hint does not count.
  const std::uint64_t value = tl.value.load(std::memory_order_acquire);
  if (tl.deadline_summary_stale || (tl.min && tl.min->point <= value)) {
    // Only after the fence holding the earliest hint left: a scan, paid by the reader.
    std::int64_t earliest = kNoDeadline;
    for (FenceState* f = tl.min; f; f = successor(f))
      if (f->point > value && f->deadline_ns < earliest) earliest = f->deadline_ns;
    tl.earliest_deadline_ns = earliest;
    tl.deadline_summary_stale = false;
  }
  if (tl.earliest_deadline_ns == kNoDeadline) return std::nullopt;
  return to_time_point(tl.earliest_deadline_ns);
}

Result<int> Timeline::event_fd() const {
  if (!state_) return empty_timeline_error("event_fd");
  TimelineState& tl = *state_;
  BothTimelineLocks locks(tl);  // `producer` for raise_attention_producer_held
  int efd = tl.event_fd.load(std::memory_order_relaxed);
  if (efd < 0) {
    efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) return Error::from_errno(errno, "eventfd for timeline '" + tl.name + "' failed");
    tl.event_fd.store(efd, std::memory_order_release);
    // From now on every advance settles and writes it (for as long as the timeline lives).
    raise_attention_producer_held(tl);
  }
  return efd;
}

}  // namespace syncbridge
