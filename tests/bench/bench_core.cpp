// syncbridge-bench-core: every figure next to a baseline measured in this same process.
//   - signal-to-wake round trip through two timelines vs a raw std::atomic wait/notify ping-pong
//     and vs two threads spinning on plain atomics (the floor)
//   - fence_at + advance + release with 0, 1k and 1M points pending (goal: 1M within 2x of 1k)
//   - memory per pending fence and allocations per steady-state op (operator new counted)
//   - waiting on a 64-fence set vs 64 separate waits, and wait_any on 64 vs one fence, woken
// Every benchmark runs 5 times unless --benchmark_repetitions says otherwise (once with
// --smoke); the ratio table compares medians and prints the spread of the runs. The goals of
// issue 12 are judged on the paired table: BM_Paired_* alternate the raw and the wrapped side
// in blocks on the same threads, which is what keeps two runs on this host within 20%. Two
// unjudged rows split the round trip's gap to the raw spin: fences vs the floor of their own
// rules written by hand (FloorChannel), and that floor vs the raw spin.
#include <malloc.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_support.h"
#include "ratio_reporter.h"
#include "syncbridge/fence_set.h"
#include "syncbridge/timeline.h"

using namespace syncbridge;
using namespace std::chrono_literals;

namespace {

Timeline must_create(TimelineOptions options = {}) { return std::move(Timeline::create(std::move(options))).value(); }

// No fence wait here is unbounded: one that outlasts kDeadline fails the benchmark, naming what
// it waited for (the raw baselines spin on plain atomics their partner always answers).
constexpr auto kDeadline = 10s;

bool signaled(const Result<WaitStatus>& r) { return r.ok() && *r == WaitStatus::signaled; }
bool signaled(const Result<WaitAnyResult>& r) { return r.ok() && r->status == WaitStatus::signaled; }

template <class R>
bool in_time(benchmark::State& state, const R& waited, const char* what) {
  if (signaled(waited)) return true;
  const std::string why = waited.ok() ? ": not signaled within " + std::to_string(kDeadline.count()) + " s"
                                      : ": the wait failed: " + waited.error().message();
  state.SkipWithError((what + why).c_str());
  return false;
}

// The partner of the "woken" benchmarks: on each wake(), advances from its own thread.
class Waker {
 public:
  explicit Waker(std::function<void(std::uint64_t round)> advance)
      : advance_(std::move(advance)), thread_([this] { run(); }) {}
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;
  ~Waker() {
    stop_ = true;
    thread_.join();
  }
  void wake() { round_.store(++sent_, std::memory_order_release); }

 private:
  void run() {
    for (std::uint64_t seen = 0; !stop_.load();) {
      const std::uint64_t r = round_.load(std::memory_order_acquire);
      if (r == seen) continue;
      seen = r;
      advance_(r);
    }
  }
  std::function<void(std::uint64_t)> advance_;
  std::atomic<std::uint64_t> round_{0};
  std::atomic<bool> stop_{false};
  std::uint64_t sent_ = 0;
  std::thread thread_;  // last: it starts once the members it reads exist
};

// ---- signal-to-wake ----

void BM_PingPong_RawAtomic(benchmark::State& state) {
  std::atomic<std::uint32_t> to_partner{0}, to_main{0};
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    std::uint32_t seen = 0;
    for (;;) {
      to_partner.wait(seen, std::memory_order_acquire);
      seen = to_partner.load(std::memory_order_acquire);
      if (stop.load(std::memory_order_acquire)) return;
      to_main.store(seen, std::memory_order_release);
      to_main.notify_one();
    }
  });
  std::uint32_t i = 0;
  for (auto _ : state) {
    ++i;
    to_partner.store(i, std::memory_order_release);
    to_partner.notify_one();
    for (std::uint32_t got; (got = to_main.load(std::memory_order_acquire)) != i;) to_main.wait(got);
  }
  stop.store(true);
  to_partner.store(i + 1, std::memory_order_release);
  to_partner.notify_one();
  partner.join();
}

// The floor: both threads spin on plain atomics, no sleeping at all.
void BM_PingPong_RawSpin(benchmark::State& state) {
  std::atomic<std::uint64_t> to_partner{0}, to_main{0};
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    for (std::uint64_t seen = 0;;) {
      std::uint64_t got;
      while ((got = to_partner.load(std::memory_order_acquire)) == seen) __builtin_ia32_pause();
      seen = got;
      if (stop.load(std::memory_order_acquire)) return;
      to_main.store(seen, std::memory_order_release);
    }
  });
  std::uint64_t i = 0;
  for (auto _ : state) {
    to_partner.store(++i, std::memory_order_release);
    while (to_main.load(std::memory_order_acquire) != i) __builtin_ia32_pause();
  }
  stop.store(true);
  to_partner.store(i + 1, std::memory_order_release);
  partner.join();
}

void BM_PingPong_Fence(benchmark::State& state) {
  Timeline to_partner = must_create({.name = "to-partner"});
  Timeline to_main = must_create({.name = "to-main"});
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    for (std::uint64_t k = 1;; ++k) {
      Fence f = std::move(to_partner.fence_at(k)).value();
      // Late: return without answering, and the main thread's deadline names the trip.
      if (!signaled(f.wait(kDeadline)) || stop.load(std::memory_order_acquire)) return;
      (void)to_main.advance(1);
    }
  });
  std::uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    Fence back = std::move(to_main.fence_at(i)).value();
    (void)to_partner.advance(1);
    if (!in_time(state, back.wait(kDeadline), "the round trip's answer")) break;
  }
  stop.store(true);
  (void)to_partner.advance(1);
  partner.join();
}

// ---- throughput with pending points ----

void BM_FenceAdvanceRelease(benchmark::State& state) {
  const auto pending = static_cast<std::uint64_t>(state.range(0));
  Timeline t = must_create();
  std::vector<Fence> parked;
  parked.reserve(pending);
  // Parked far ahead: the pending set has `pending` entries throughout the loop.
  for (std::uint64_t i = 0; i < pending; ++i) parked.push_back(std::move(t.fence_at((1ULL << 40) + i)).value());
  parked.clear();  // only the timeline's references remain
  std::uint64_t point = 0;
  const std::size_t allocs_before = bench::allocations();
  for (auto _ : state) {
    Fence f = std::move(t.fence_at(++point)).value();
    (void)t.advance(1);
    benchmark::DoNotOptimize(f);
  }
  state.counters["allocs_per_op"] =
      static_cast<double>(bench::allocations() - allocs_before) / static_cast<double>(state.iterations());
  state.counters["pending"] = static_cast<double>(t.pending_count());
}

// ---- memory per pending fence ----

void BM_MemoryPerPendingFence(benchmark::State& state) {
  constexpr std::uint64_t kFences = 100'000;
  for (auto _ : state) {
    Timeline t = must_create();
    const std::size_t bytes_before = bench::bytes_reserved();
    const std::size_t allocs_before = bench::allocations();
    for (std::uint64_t i = 1; i <= kFences; ++i) {
      auto f = t.fence_at(i);  // handle dropped at once: only the timeline's reference stays
      benchmark::DoNotOptimize(f);
    }
    state.counters["bytes_per_pending_fence"] =
        static_cast<double>(bench::bytes_reserved() - bytes_before) / static_cast<double>(kFences);
    state.counters["allocs_per_fence"] =
        static_cast<double>(bench::allocations() - allocs_before) / static_cast<double>(kFences);
    t.close();
  }
}

// ---- 64-fence sets ----

struct SixtyFour {
  std::vector<Timeline> timelines;
  std::vector<Fence> fences;
  FenceSet set;
  SixtyFour() {
    for (int i = 0; i < 64; ++i) {
      timelines.push_back(must_create());
      fences.push_back(std::move(timelines.back().fence_at(1)).value());
      (void)set.add(fences.back());
    }
  }
};

void BM_Set64_WaitAll_Signaled(benchmark::State& state) {
  SixtyFour s;
  for (auto& t : s.timelines) (void)t.advance(1);
  for (auto _ : state)
    if (!in_time(state, s.set.wait_all(kDeadline), "wait_all on 64 signaled fences")) break;
}

void BM_Separate64_Wait_Signaled(benchmark::State& state) {
  SixtyFour s;
  for (auto& t : s.timelines) (void)t.advance(1);
  for (auto _ : state)
    for (const Fence& f : s.fences)
      if (!in_time(state, f.wait(kDeadline), "one of 64 signaled fences")) return;
}

// wait_any on 64 pending fences, woken by another thread advancing one of them.
void BM_Set64_WaitAny_Woken(benchmark::State& state) {
  SixtyFour s;
  Waker waker([&](std::uint64_t round) { (void)s.timelines[round % 64].advance(1); });
  for (auto _ : state) {
    state.PauseTiming();
    FenceSet set;
    for (auto& t : s.timelines) (void)set.add(std::move(t.fence_at(t.value() + 1)).value());
    state.ResumeTiming();
    waker.wake();
    if (!in_time(state, set.wait_any(kDeadline), "wait_any on 64 fences, one advanced by the partner")) break;
  }
}

// Baseline: a single fence waited on, woken the same way.
void BM_Single_Wait_Woken(benchmark::State& state) {
  Timeline t = must_create();
  Waker waker([&](std::uint64_t) { (void)t.advance(1); });
  for (auto _ : state) {
    state.PauseTiming();
    Fence f = std::move(t.fence_at(t.value() + 1)).value();
    state.ResumeTiming();
    waker.wake();
    if (!in_time(state, f.wait(kDeadline), "one fence advanced by the partner")) break;
  }
}

// ---- paired: the goals of issue 12, judged on both sides taking turns ----
//
// The host moves its two vCPUs around (the raw ping-pong takes 30 ns on SMT siblings, 75 ns on
// two cores and 200 ns or more across caches, from one run to the next), so a ratio of two
// benchmarks run seconds apart says as much about the host as about the code. Here the raw and
// the wrapped sequence alternate in blocks on the same threads, and the medians of their
// per-block times are compared.

constexpr int kTripsPerBlock = 64;

// The floor of the previous design's rules (a producer that took the pending set's lock on
// every signal), written by hand for one pending point; kept so that figures stay comparable
// across versions. The consumer allocates a node (the fence), publishes it
// under the channel's lock (the pending set), and spins on the value; the producer takes the
// lock, stores the value, unlinks, stamps (a clock read) and publishes the node, and drops the
// list's reference; the consumer drops its own. Same cache lines as the real thing, none of
// its generality (no tree, no callbacks, no sleepers, no errors).
class FloorChannel {
 public:
  struct Node {
    std::atomic<std::uint32_t> refs{2};  // the list's and the consumer's
    std::atomic<std::uint32_t> status{0};
    std::uint64_t point = 0;
    std::int64_t timestamp_ns = 0;
  };
  Node* insert(std::uint64_t point) {
    auto* node = new Node;
    node->point = point;
    lock();
    pending_ = node;
    unlock();
    return node;
  }
  void signal() {
    lock();
    const std::uint64_t v = value_.load(std::memory_order_relaxed) + 1;
    value_.store(v, std::memory_order_release);
    Node* done = pending_ && pending_->point <= v ? std::exchange(pending_, nullptr) : nullptr;
    if (done) {
      timespec ts{};
      ::clock_gettime(CLOCK_MONOTONIC, &ts);
      done->timestamp_ns = ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
      done->status.store(1, std::memory_order_release);
    }
    unlock();
    if (done) drop(done);
  }
  // Spins until the value reaches the node's point, or `give_up()` says to stop.
  template <class GiveUp>
  bool wait(const Node* node, GiveUp give_up) const {
    while (value_.load(std::memory_order_acquire) < node->point)
      if (give_up()) return false;
    return true;
  }
  static void drop(Node* node) {
    if (node->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete node;
  }
  void unblock() { value_.store(~0ULL, std::memory_order_release); }

 private:
  void lock() {
    while (lock_.exchange(1, std::memory_order_acquire) != 0)
      while (lock_.load(std::memory_order_relaxed) != 0) __builtin_ia32_pause();
  }
  void unlock() { lock_.store(0, std::memory_order_release); }
  alignas(64) std::atomic<std::uint32_t> lock_{0};
  Node* pending_ = nullptr;
  alignas(64) std::atomic<std::uint64_t> value_{0};
};

// A raw spinning channel: the main thread stores a trip number, the partner stores it back.
// Unsplit, both directions share one cache line; split, each has its own.
template <bool Split>
struct RawChannel {
  alignas(64) std::atomic<std::uint64_t> to_partner{0};
  alignas(Split ? 64 : alignof(std::atomic<std::uint64_t>)) std::atomic<std::uint64_t> to_main{0};
};

// One partner thread that answers either protocol: a raw block (spin on an atomic, store the
// answer) or a fence block (wait for a point, advance the other timeline).
class RoundTripRig {
 public:
  RoundTripRig() : partner_([this] { run(); }) {}
  RoundTripRig(const RoundTripRig&) = delete;
  RoundTripRig& operator=(const RoundTripRig&) = delete;
  ~RoundTripRig() {
    command_.store(kStop, std::memory_order_release);
    raw_.to_partner.store(~0ULL, std::memory_order_release);
    raw_split_.to_partner.store(~0ULL, std::memory_order_release);
    atomic_to_partner_.store(~0U, std::memory_order_release);
    atomic_to_partner_.notify_one();
    floor_to_partner_.unblock();
    (void)to_partner_.advance(1);
    partner_.join();
  }
  bool failed() const { return gone_.load(std::memory_order_acquire); }

  // Each returns ns per round trip over a block, or -1 when the partner stopped answering.
  double raw_block() {
    return block(kRaw, [this] { return raw_trip(raw_, ++raw_sent_); });
  }

  // The same raw trip with each direction on a cache line of its own, as two timelines are: the
  // floor of any protocol whose two directions are two objects.
  double raw_two_lines_block() {
    return block(kRawTwoLines, [this] { return raw_trip(raw_split_, ++raw_split_sent_); });
  }

  // The same trip through std::atomic wait/notify (futex when the answer is late).
  double atomic_block() {
    return block(kAtomic, [this] {
      const std::uint32_t trip = ++atomic_sent_;
      atomic_to_partner_.store(trip, std::memory_order_release);
      atomic_to_partner_.notify_one();
      for (std::uint32_t got; (got = atomic_to_main_.load(std::memory_order_acquire)) != trip;) {
        if (failed()) return false;
        atomic_to_main_.wait(got);  // the partner answers every trip: it cannot be missed
      }
      return true;
    });
  }

  // The same trip through FloorChannel: the design's cache-line traffic and nothing else.
  double floor_block() {
    return block(kFloor, [this] {
      FloorChannel::Node* back = floor_to_main_.insert(++floor_sent_);
      floor_to_partner_.signal();
      const bool answered = floor_to_main_.wait(back, [this] { return failed(); });
      FloorChannel::drop(back);
      return answered;
    });
  }

  double fence_block() {
    return block(kFence, [this] {
      auto back = to_main_.fence_at(++fence_sent_);
      return back.ok() && to_partner_.advance(1).ok() && signaled(back->wait(kDeadline));
    });
  }

  // The same, asking for the answer's fence only after signaling (the partner answers as in
  // fence_block): when the answer is there first, the fence is born signaled. This order is
  // where waits in a VM used to fall asleep in chains.
  double fence_signal_first_block() {
    return block(kFenceSignalFirst, [this] {
      if (!to_partner_.advance(1).ok()) return false;
      auto back = to_main_.fence_at(++fence_sent_);
      return back.ok() && signaled(back->wait(kDeadline));
    });
  }

 private:
  enum : std::uint32_t { kIdle, kRaw, kFence, kAtomic, kFloor, kRawTwoLines, kFenceSignalFirst, kStop = 0xffffffff };
  // The main thread's side of a raw trip, and the partner's answer (false: told to stop).
  template <bool Split>
  bool raw_trip(RawChannel<Split>& channel, std::uint64_t trip) const {
    channel.to_partner.store(trip, std::memory_order_release);
    while (channel.to_main.load(std::memory_order_acquire) != trip)
      if (failed()) return false;
    return true;
  }
  template <bool Split>
  bool raw_answer(RawChannel<Split>& channel, std::uint64_t& seen) const {
    std::uint64_t got;
    while ((got = channel.to_partner.load(std::memory_order_acquire)) == seen) __builtin_ia32_pause();
    if (command_.load(std::memory_order_acquire) == kStop) return false;
    seen = got;
    channel.to_main.store(got, std::memory_order_release);
    return true;
  }
  template <class Trip>
  double block(std::uint32_t mode, Trip trip) {
    begin(mode);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kTripsPerBlock; ++i)
      if (!trip()) return -1;
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / kTripsPerBlock;
  }
  // The partner is told the protocol before the block's clock starts, and acknowledges it. A
  // command is a block number and a mode, so that two blocks of one mode in a row are two.
  void begin(std::uint32_t mode) {
    const std::uint32_t command = (++blocks_ << 3) | mode;
    command_.store(command, std::memory_order_release);
    while (ack_.load(std::memory_order_acquire) != command && !failed()) __builtin_ia32_pause();
  }
  void run() {
    std::uint64_t raw_seen = 0, raw_split_seen = 0, fence_seen = 0;
    std::uint32_t atomic_seen = 0;
    std::uint64_t floor_seen = 0;
    for (std::uint32_t done = kIdle;;) {
      const std::uint32_t command = command_.load(std::memory_order_acquire);
      if (command == kStop) break;
      if (command == done) {
        __builtin_ia32_pause();
        continue;
      }
      done = command;
      ack_.store(command, std::memory_order_release);
      for (int i = 0; i < kTripsPerBlock; ++i) {
        if ((command & 7) == kAtomic) {
          std::uint32_t got;
          while ((got = atomic_to_partner_.load(std::memory_order_acquire)) == atomic_seen)
            atomic_to_partner_.wait(got);
          if (command_.load(std::memory_order_acquire) == kStop) break;
          atomic_seen = got;
          atomic_to_main_.store(got, std::memory_order_release);
          atomic_to_main_.notify_one();
        } else if ((command & 7) == kRaw) {
          if (!raw_answer(raw_, raw_seen)) break;
        } else if ((command & 7) == kRawTwoLines) {
          if (!raw_answer(raw_split_, raw_split_seen)) break;
        } else if ((command & 7) == kFloor) {
          FloorChannel::Node* f = floor_to_partner_.insert(++floor_seen);
          const bool reached =
              floor_to_partner_.wait(f, [this] { return command_.load(std::memory_order_acquire) == kStop; });
          if (reached && command_.load(std::memory_order_acquire) != kStop) floor_to_main_.signal();
          FloorChannel::drop(f);
          if (!reached) break;
        } else {  // kFence, kFenceSignalFirst
          auto f = to_partner_.fence_at(++fence_seen);
          // Late or failed: leave, and the main thread's block fails (it checks `gone_`).
          if (!f.ok() || !signaled(f->wait(kDeadline)) || command_.load(std::memory_order_acquire) == kStop ||
              !to_main_.advance(1).ok()) {
            gone_.store(true, std::memory_order_release);
            return;
          }
        }
      }
    }
    gone_.store(true, std::memory_order_release);
  }

  // Both threads read the two handles on every fence trip; only the main thread writes the
  // counters below, on every trip. On one cache line, each trip moved that line between the
  // cores twice, on the fence side only (the raw trip reads no handle): a controlled two-thread
  // loop took 380 ns a trip with them together, 315 ns apart (README).
  Timeline to_partner_ = must_create({.name = "paired-to-partner"});
  Timeline to_main_ = must_create({.name = "paired-to-main"});
  alignas(64) std::uint64_t fence_sent_ = 0;
  std::uint64_t raw_sent_ = 0, raw_split_sent_ = 0;
  std::uint32_t blocks_ = 0;
  std::uint32_t atomic_sent_ = 0;
  std::uint64_t floor_sent_ = 0;
  FloorChannel floor_to_partner_, floor_to_main_;
  alignas(64) std::atomic<std::uint32_t> atomic_to_partner_{0};
  std::atomic<std::uint32_t> atomic_to_main_{0};
  RawChannel<false> raw_;       // as BM_PingPong_RawSpin: the fastest the two threads can talk here
  RawChannel<true> raw_split_;  // one line per direction
  alignas(64) std::atomic<std::uint32_t> command_{kIdle};
  std::atomic<std::uint32_t> ack_{kIdle};
  std::atomic<bool> gone_{false};
  std::thread partner_;  // last: it starts once the members it reads exist
};

// Two protocols of one rig taking turns: `raw` is the baseline side, `wrapped` the measured.
void paired_trips(benchmark::State& state, double (RoundTripRig::*raw)(), double (RoundTripRig::*wrapped)()) {
  RoundTripRig rig;
  bench::paired(
      state, [&] { return (rig.*raw)(); }, [&] { return (rig.*wrapped)(); });
  if (rig.failed()) state.SkipWithError("a paired round trip was not answered within 10 s");
}

void BM_Paired_RoundTrip(benchmark::State& state) {
  paired_trips(state, &RoundTripRig::raw_block, &RoundTripRig::fence_block);
}
void BM_Paired_RoundTripVsAtomicWait(benchmark::State& state) {
  paired_trips(state, &RoundTripRig::atomic_block, &RoundTripRig::fence_block);
}
// Fences vs the hand-written floor of the previous design (a producer that took the pending
// set's lock on every signal), and that floor vs the raw spin.
void BM_Paired_RoundTripVsFloor(benchmark::State& state) {
  paired_trips(state, &RoundTripRig::floor_block, &RoundTripRig::fence_block);
}
void BM_Paired_FloorVsRawSpin(benchmark::State& state) {
  paired_trips(state, &RoundTripRig::raw_block, &RoundTripRig::floor_block);
}
// The round trip in the other order: signal, then ask for the answer's fence (unjudged).
void BM_Paired_RoundTripSignalFirst(benchmark::State& state) {
  paired_trips(state, &RoundTripRig::raw_block, &RoundTripRig::fence_signal_first_block);
}
// Fences vs the raw trip with one cache line per direction, and that trip vs the one-line raw
// spin (the judged baseline): what the second line costs by itself.
void BM_Paired_RoundTripVsRawTwoLines(benchmark::State& state) {
  paired_trips(state, &RoundTripRig::raw_two_lines_block, &RoundTripRig::fence_block);
}
void BM_Paired_RawTwoLinesVsOneLine(benchmark::State& state) {
  paired_trips(state, &RoundTripRig::raw_block, &RoundTripRig::raw_two_lines_block);
}

// fence_at + advance + release with 1k (raw side) vs 1M (wrapped side) points pending.
void BM_Paired_PendingScaling(benchmark::State& state) {
  struct Parked {
    Timeline timeline = must_create();
    std::uint64_t point = 0;
    explicit Parked(std::uint64_t pending) {
      for (std::uint64_t i = 0; i < pending; ++i) (void)timeline.fence_at((1ULL << 40) + i);
    }
    void op() {
      Fence f = std::move(timeline.fence_at(++point)).value();
      (void)timeline.advance(1);
      benchmark::DoNotOptimize(f);
    }
  };
  Parked few(1000), many(static_cast<std::uint64_t>(state.range(0)));
  auto few_op = [&] { few.op(); };
  auto many_op = [&] { many.op(); };
  bench::paired_blocks(state, 256, few_op, many_op);
}

// wait_all on 64 signaled fences (wrapped side) vs 64 separate waits (raw side).
void BM_Paired_WaitAll64(benchmark::State& state) {
  SixtyFour s;
  for (auto& t : s.timelines) (void)t.advance(1);
  bool late = false;
  auto separate = [&] {
    for (const Fence& f : s.fences) late |= !signaled(f.wait(kDeadline));
  };
  auto set = [&] { late |= !signaled(s.set.wait_all(kDeadline)); };
  bench::paired_blocks(state, 64, separate, set);
  if (late) state.SkipWithError("a wait on a signaled fence did not return signaled");
}

// wait_any on 64 pending fences (wrapped side) vs one fence (raw side), each woken by the same
// partner thread advancing one timeline; only the wait is timed.
void BM_Paired_WaitAny64(benchmark::State& state) {
  SixtyFour s;
  Timeline single = must_create();
  std::atomic<bool> wake_single{false};
  Waker waker([&](std::uint64_t round) {
    if (wake_single.load(std::memory_order_acquire))
      (void)single.advance(1);
    else
      (void)s.timelines[round % 64].advance(1);
  });
  bool late = false;
  auto timed_wait = [&](auto&& wait) {
    const auto t0 = std::chrono::steady_clock::now();
    waker.wake();
    late |= !signaled(wait());
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  };
  auto one = [&] {
    Fence f = std::move(single.fence_at(single.value() + 1)).value();
    wake_single.store(true, std::memory_order_release);
    return timed_wait([&] { return f.wait(kDeadline); });
  };
  auto any = [&] {
    FenceSet set;
    for (auto& t : s.timelines) (void)set.add(std::move(t.fence_at(t.value() + 1)).value());
    wake_single.store(false, std::memory_order_release);
    return timed_wait([&] { return set.wait_any(kDeadline); });
  };
  bench::paired(state, one, any);
  if (late) state.SkipWithError("a woken wait did not return signaled within 10 s");
}

}  // namespace

BENCHMARK(BM_PingPong_RawSpin)->UseRealTime();
BENCHMARK(BM_PingPong_RawAtomic)->UseRealTime();
BENCHMARK(BM_PingPong_Fence)->UseRealTime();
BENCHMARK(BM_FenceAdvanceRelease)->Arg(0)->Arg(1000)->Arg(1'000'000)->UseRealTime();
BENCHMARK(BM_MemoryPerPendingFence)->Iterations(1);
BENCHMARK(BM_Separate64_Wait_Signaled);
BENCHMARK(BM_Set64_WaitAll_Signaled);
BENCHMARK(BM_Single_Wait_Woken)->UseRealTime();
BENCHMARK(BM_Set64_WaitAny_Woken)->UseRealTime();
BENCHMARK(BM_Paired_RoundTrip)->UseRealTime();
BENCHMARK(BM_Paired_RoundTripVsAtomicWait)->UseRealTime();
BENCHMARK(BM_Paired_RoundTripVsFloor)->UseRealTime();
BENCHMARK(BM_Paired_FloorVsRawSpin)->UseRealTime();
BENCHMARK(BM_Paired_RoundTripVsRawTwoLines)->UseRealTime();
BENCHMARK(BM_Paired_RoundTripSignalFirst)->UseRealTime();
BENCHMARK(BM_Paired_RawTwoLinesVsOneLine)->UseRealTime();
BENCHMARK(BM_Paired_PendingScaling)->Arg(1'000'000)->UseRealTime();
BENCHMARK(BM_Paired_WaitAll64)->UseRealTime();
BENCHMARK(BM_Paired_WaitAny64)->UseRealTime();

int main(int argc, char** argv) {
  // --smoke: a ctest run that proves the benchmark works; its figures are not the report.
  auto command_line = syncbridge::bench::parse_command_line(argc, argv);
  const bool smoke = command_line.smoke;
  bool repetitions_given = false;
  for (char* arg : command_line.args)
    if (std::strncmp(arg, "--benchmark_repetitions", 23) == 0) repetitions_given = true;
  char default_repetitions[] = "--benchmark_repetitions=5";
  if (!smoke && !repetitions_given) command_line.args.push_back(default_repetitions);
  int n = command_line.argc();
  benchmark::Initialize(&n, command_line.args.data());
  syncbridge::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  int missed = reporter.print_ratios({
      {"signal-to-wake round trip: fences vs raw atomic wait/notify", "BM_PingPong_Fence/real_time",
       "BM_PingPong_RawAtomic/real_time", 0},
      {"signal-to-wake round trip: fences vs raw spinning atomics", "BM_PingPong_Fence/real_time",
       "BM_PingPong_RawSpin/real_time", 0},
      {"fence_at+advance+release: 1k pending vs none", "BM_FenceAdvanceRelease/1000/real_time",
       "BM_FenceAdvanceRelease/0/real_time", 0},
      {"fence_at+advance+release: 1M pending vs 1k pending", "BM_FenceAdvanceRelease/1000000/real_time",
       "BM_FenceAdvanceRelease/1000/real_time", 2.0},
      {"64 signaled fences: FenceSet::wait_all vs 64 waits", "BM_Set64_WaitAll_Signaled", "BM_Separate64_Wait_Signaled",
       0},
      {"woken wait: FenceSet::wait_any on 64 vs one fence", "BM_Set64_WaitAny_Woken/real_time",
       "BM_Single_Wait_Woken/real_time", 0},
      // The physical floor (issue 12), measured separately: for reference; the goals are judged
      // on the paired figures below.
      {"round trip vs raw spinning ping-pong", "BM_PingPong_Fence/real_time", "BM_PingPong_RawSpin/real_time", 0},
      {"wait_any on 64 vs one fence, woken", "BM_Set64_WaitAny_Woken/real_time", "BM_Single_Wait_Woken/real_time", 0},
      {"wait_all on 64 signaled vs 64 waits", "BM_Set64_WaitAll_Signaled", "BM_Separate64_Wait_Signaled", 0},
      {"fence_at+advance+release: 1M vs 1k pending", "BM_FenceAdvanceRelease/1000000/real_time",
       "BM_FenceAdvanceRelease/1000/real_time", 0},
  });
  missed += reporter.print_paired({
      {"round trip vs raw atomic wait/notify, same threads", "BM_Paired_RoundTripVsAtomicWait/real_time", 1.5},
      {"round trip vs raw spinning ping-pong, same threads", "BM_Paired_RoundTrip/real_time", 3.0},
      {"  round trip vs the locked design's floor by hand", "BM_Paired_RoundTripVsFloor/real_time", 0},
      {"  that floor vs raw spinning ping-pong", "BM_Paired_FloorVsRawSpin/real_time", 0},
      {"  round trip vs raw ping-pong, one line per direction", "BM_Paired_RoundTripVsRawTwoLines/real_time", 0},
      {"  raw ping-pong: one line per direction vs one line", "BM_Paired_RawTwoLinesVsOneLine/real_time", 0},
      {"  round trip, fence_at after signaling, vs raw ping-pong", "BM_Paired_RoundTripSignalFirst/real_time", 0},
      {"wait_any on 64 vs one fence, woken", "BM_Paired_WaitAny64/real_time", 2.0},
      {"wait_all on 64 signaled vs 64 waits", "BM_Paired_WaitAll64/real_time", 1.2},
      {"fence_at+advance+release: 1M vs 1k pending", "BM_Paired_PendingScaling/1000000/real_time", 1.1},
  });
  // Two spinning threads need two idle cores: on a loaded machine one is preempted while the
  // other spins, and the floor measures the scheduler instead (microseconds to milliseconds).
  const double spin = reporter.ns_per_iteration("BM_PingPong_RawSpin/real_time");
  if (spin > 1000)
    std::printf(
        "NOTE: the raw spinning ping-pong took %.0f ns (idle 2-core host: 65-130 ns): the machine is "
        "loaded, and ratios against it say little\n",
        spin);
  const double bytes = reporter.counter("BM_MemoryPerPendingFence/iterations:1", "bytes_per_pending_fence");
  const double allocs = reporter.counter("BM_FenceAdvanceRelease/1000/real_time", "allocs_per_op");
  std::printf("%-58s %12.1f bytes (goal <= 128)%s\n", "memory per pending fence (malloc chunks)", bytes,
              bytes <= 128 ? "" : "  MISSED");
  std::printf("%-58s %12.2f\n", "allocations per fence_at+advance+release", allocs);
  if (smoke) return 0;  // timings of a 10 ms smoke run are noise: never judge them
  return missed + (bytes > 128 ? 1 : 0) == 0 ? 0 : 1;
}
