// syncbridge-bench-drm: the DRM syncobj exporter and the watcher, each next to the raw calls it
// wraps, measured in this same process (needs a render node with timeline syncobjs: run it in
// the VM; elsewhere it says why and exits 0).
//   - SyncobjExporter::advance vs a raw drmSyncobjTimelineSignal (goal: within 1.2x), and the
//     allocations per advance (goal 0);
//   - watcher latency: from a kernel signal (drmSyncobjTimelineSignal, eventfd registered on
//     the point) to the core fence signaled (the fence's own CLOCK_MONOTONIC timestamp), vs a
//     raw poll() loop on a thread of its own blocked on the same kind of eventfd (timestamp
//     taken when poll returns). One kernel wake-up on both sides, all threads on one CPU (see
//     OneCpu), the measuring thread asleep in a futex on both sides (Doorbell); the difference
//     is the watcher's epoll dispatch and the core signal (goal: within 1.1x);
//   - the same latency with 10,000 idle watches vs 10 (goal: flat, within 1.2x), and add +
//     remove of a watch with 10,000 vs 10 watches armed.
// As in bench_bridge.cpp, the goals are judged on paired figures: both sides take turns within
// one benchmark and the medians of their per-block times are compared, so that load drifting
// on a shared host (and TCG's noise in the VM) hits both alike. Under TCG compare ratios only.
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "must.h"
#include "ratio_reporter.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/drm_syncobj.h"
#include "syncbridge/syncobj_exporter.h"
#include "syncbridge/timeline.h"
#include "syncbridge/watcher.h"

using namespace syncbridge;
using namespace std::chrono_literals;

namespace {

DrmDevice g_dev;  // opened once in main()

using syncbridge::testing::must;  // throws: an error ends the benchmark with its message

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void raw_signal(std::uint32_t handle, std::uint64_t point) {
  if (drmSyncobjTimelineSignal(g_dev.fd(), &handle, &point, 1) != 0) std::abort();
}

// ---- exporter advance vs raw timeline signal ----

void BM_Raw_TimelineSignal(benchmark::State& state) {
  TimelineSyncobj t = must(TimelineSyncobj::create(g_dev));
  std::uint64_t point = 0;
  for (auto _ : state) raw_signal(t.handle(), ++point);
}

void BM_Exporter_Advance(benchmark::State& state) {
  SyncobjExporter e = must(SyncobjExporter::create(g_dev, "bench"));
  for (int i = 0; i < 4; ++i) (void)e.advance(1);
  const std::size_t allocs_before = bench::allocations();
  for (auto _ : state)
    if (!e.advance(1)) state.SkipWithError("advance failed");
  state.counters["allocs_per_op"] =
      static_cast<double>(bench::allocations() - allocs_before) / static_cast<double>(state.iterations());
}

void BM_Paired_ExporterAdvance(benchmark::State& state) {
  TimelineSyncobj t = must(TimelineSyncobj::create(g_dev));
  SyncobjExporter e = must(SyncobjExporter::create(g_dev, "bench"));
  std::uint64_t point = 0;
  auto raw = [&] { raw_signal(t.handle(), ++point); };
  auto wrapped = [&] { (void)e.advance(1); };
  bench::paired_blocks(state, 16, raw, wrapped);
}

// ---- latency: kernel signal -> core fence signaled, vs a raw poll loop ----

// No wait here is unbounded: one that outlasts kDeadline ends the program, naming it.
constexpr std::int64_t kDeadlineNs = 10'000'000'000;
[[noreturn]] void late(const char* what) {
  std::fprintf(stderr, "syncbridge-bench-drm: %s: not done within %lld s\n", what,
               static_cast<long long>(kDeadlineNs / 1'000'000'000));
  std::exit(1);
}

// How the measuring thread waits on both sides: asleep in a futex at once (it must not hold
// the one CPU the woken thread needs, see OneCpu), rung by the thread that took the timestamp.
class Doorbell {
 public:
  void reset() { rung_.store(0, std::memory_order_relaxed); }
  void ring() {
    rung_.store(1, std::memory_order_release);
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&rung_), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr, nullptr,
              0);
  }
  void wait(const char* what) {
    const std::int64_t deadline = now_ns() + kDeadlineNs;
    const timespec abs{deadline / 1'000'000'000, deadline % 1'000'000'000};
    while (rung_.load(std::memory_order_acquire) == 0) {
      if (now_ns() >= deadline) late(what);
      ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&rung_), FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, &abs,
                nullptr, FUTEX_BITSET_MATCH_ANY);
    }
  }

 private:
  std::atomic<std::uint32_t> rung_{0};
};

// A thread blocked in poll() on one eventfd at a time; stamps the moment poll returns.
class RawPoller {
 public:
  RawPoller() : thread_([this] { run(); }) {}
  ~RawPoller() {
    stop_.store(true);
    arm(-1);
    thread_.join();
  }
  // Hands the poller an fd and waits until it is about to block on it.
  void arm(int fd) {
    woke_ns_.store(0, std::memory_order_relaxed);
    woke_.reset();
    fd_.store(fd, std::memory_order_release);
    const std::uint64_t g = generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
    generation_.notify_one();
    const std::int64_t deadline = now_ns() + kDeadlineNs;
    while (polling_.load(std::memory_order_acquire) != g)
      if (now_ns() >= deadline) late("the raw poller picking up its eventfd");
  }
  // Sleeps until poll returned; the timestamp taken when it did.
  std::int64_t woke() {
    woke_.wait("the raw poller's eventfd becoming readable");
    const std::int64_t ns = woke_ns_.load(std::memory_order_acquire);
    if (ns < 0) late("the raw poller's poll()");
    return ns;
  }

 private:
  void run() {
    std::uint64_t seen = 0;
    for (;;) {
      // Sleeps (futex) between samples: idle rigs must not eat a CPU.
      generation_.wait(seen, std::memory_order_acquire);
      const std::uint64_t g = generation_.load(std::memory_order_acquire);
      seen = g;
      if (stop_.load()) {
        polling_.store(g, std::memory_order_release);
        return;
      }
      pollfd p{fd_.load(std::memory_order_acquire), POLLIN, 0};
      polling_.store(g, std::memory_order_release);
      const std::int64_t deadline = now_ns() + kDeadlineNs;
      int ready = 0;
      while (ready != 1 && now_ns() < deadline) ready = ::poll(&p, 1, static_cast<int>(kDeadlineNs / 1'000'000));
      woke_ns_.store(ready == 1 ? now_ns() : -1, std::memory_order_release);
      woke_.ring();
    }
  }
  std::atomic<int> fd_{-1};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> polling_{0};
  std::atomic<std::int64_t> woke_ns_{0};
  Doorbell woke_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Let the armed thread (the raw poller, or the watcher's) reach its blocking call: sleep, so
// that it gets the CPU (see OneCpu).
void settle() {
  timespec ts{0, 200'000};
  ::nanosleep(&ts, nullptr);
}

// The latency benchmarks run every thread on one CPU. Under TCG, waking a thread on another,
// idle vCPU waits for that vCPU's next timer tick (milliseconds, measured: a raw eventfd
// wake-up across vCPUs has a median of 2-4 ms, on one vCPU 60 us), which would drown what is
// measured here in scheduler noise. On one CPU both sides pay the same switch: the figures
// are the syscalls and the dispatch. Threads inherit the mask: construct the rigs after this.
class OneCpu {
 public:
  OneCpu() {
    ok_ = ::sched_getaffinity(0, sizeof saved_, &saved_) == 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(::sched_getcpu() >= 0 ? ::sched_getcpu() : 0, &one);
    if (ok_) ok_ = ::sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~OneCpu() {
    if (ok_) (void)::sched_setaffinity(0, sizeof saved_, &saved_);
  }
  OneCpu(const OneCpu&) = delete;
  OneCpu& operator=(const OneCpu&) = delete;

 private:
  cpu_set_t saved_{};
  bool ok_ = false;
};

struct LatencyRig {
  TimelineSyncobj raw_t = must(TimelineSyncobj::create(g_dev));
  TimelineSyncobj watched_t = must(TimelineSyncobj::create(g_dev));
  Timeline core = must(Timeline::create({.name = "bench-core"}));
  Watcher watcher = must(Watcher::create(WatcherMode::own_thread));
  RawPoller poller;
  std::uint64_t raw_point = 0;
  std::uint64_t point = 0;
  std::vector<WatchId> idle;
  std::vector<int> idle_fds;

  explicit LatencyRig(int idle_watches) {
    for (int i = 0; i < idle_watches; ++i) {
      UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!efd) std::abort();
      idle.push_back(must(watcher.watch_fd(std::move(efd), [](const Result<void>&) {})));
    }
  }
  ~LatencyRig() {
    for (WatchId id : idle) (void)watcher.remove(id);
  }

  // Raw: an eventfd registered on the next point, a thread in poll() on it.
  double raw_sample() {
    ++raw_point;
    UniqueFd efd = must(raw_t.eventfd_at(raw_point));
    poller.arm(efd.get());
    settle();
    const std::int64_t t0 = now_ns();
    raw_signal(raw_t.handle(), raw_point);
    return static_cast<double>(poller.woke() - t0);
  }

  // Watcher: the same registration through watch_syncobj, the callback signals the core fence.
  double watcher_sample() {
    ++point;
    Fence f = must(core.fence_at(point));
    // The measuring thread sleeps as on the raw side (a spinning Fence::wait would hold the
    // CPU the watcher needs); the callback runs after the timestamp was taken.
    Doorbell done;
    CallbackRegistration ring = must(f.on_complete([&done](const Fence&) { done.ring(); }));
    (void)must(watcher.watch_syncobj(watched_t, point, signal_timeline(core, point)));
    settle();
    const std::int64_t t0 = now_ns();
    raw_signal(watched_t.handle(), point);
    done.wait("the watcher signaling the core fence");
    const auto ts = f.timestamp();
    if (!ts) late("the core fence's timestamp");
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(ts->time_since_epoch()).count() -
                               t0);
  }
};

void BM_Paired_WatcherLatency(benchmark::State& state) {
  OneCpu pin;
  LatencyRig rig(10);
  bench::paired(
      state, [&] { return rig.raw_sample(); }, [&] { return rig.watcher_sample(); });
}

// Same watcher sample with 10 (raw side) vs N idle watches (wrapped side), in two watchers.
void BM_Paired_IdleWatches(benchmark::State& state) {
  OneCpu pin;
  LatencyRig few(10);
  LatencyRig many(static_cast<int>(state.range(0)));
  bench::paired(
      state, [&] { return few.watcher_sample(); }, [&] { return many.watcher_sample(); });
  state.counters["idle"] = static_cast<double>(state.range(0));
}

// Add + remove of one watch with 10 vs N others armed.
void BM_Paired_AddRemove(benchmark::State& state) {
  LatencyRig few(10);
  LatencyRig many(static_cast<int>(state.range(0)));
  // One eventfd per side, reused: watch_fd consumes an fd, so hand it a dup (same cost both sides).
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  auto add_remove = [&](Watcher& w) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 16; ++i) {
      WatchId id = must(w.watch_fd(must(efd.dup()), [](const Result<void>&) {}));
      (void)w.remove(id);
    }
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / 16;
  };
  bench::paired(
      state, [&] { return add_remove(few.watcher); }, [&] { return add_remove(many.watcher); });
  state.counters["idle"] = static_cast<double>(state.range(0));
}

}  // namespace

BENCHMARK(BM_Raw_TimelineSignal)->UseRealTime();
BENCHMARK(BM_Exporter_Advance)->UseRealTime();
BENCHMARK(BM_Paired_ExporterAdvance)->UseRealTime();
BENCHMARK(BM_Paired_AddRemove)->Arg(10'000)->UseRealTime();

int main(int argc, char** argv) {
  // --smoke: a ctest run that proves the benchmark works; its figures are not the report.
  auto command_line = syncbridge::bench::parse_command_line(argc, argv);
  const bool smoke = command_line.smoke;
  auto dev = DrmDevice::open_render_node();
  if (!dev) return bench::skip("syncbridge-bench-drm", dev.error().describe());
  g_dev = std::move(dev).value();
  if (!g_dev.has(DrmCap::syncobj_eventfd))
    return bench::skip("syncbridge-bench-drm",
                       g_dev.describe() + " has no DRM_IOCTL_SYNCOBJ_EVENTFD (kernel before 6.6)");
  // Two rigs of 10,000 idle eventfds each, plus the DRM side.
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < 30'000) {
    rlimit up{30'000, std::max<rlim_t>(r.rlim_max, 30'000)};
    if (::setrlimit(RLIMIT_NOFILE, &up) != 0) {
      up = {std::min<rlim_t>(r.rlim_max, 30'000), r.rlim_max};
      (void)::setrlimit(RLIMIT_NOFILE, &up);
    }
  }
  std::printf("device: %s\n", g_dev.describe().c_str());
  // One event per latency sample, a few hundred microseconds each under TCG: take thousands
  // so that the medians hold on a loaded host; a smoke run keeps --benchmark_min_time.
  auto* latency = benchmark::RegisterBenchmark("BM_Paired_WatcherLatency", BM_Paired_WatcherLatency)->UseRealTime();
  auto* idle = benchmark::RegisterBenchmark("BM_Paired_IdleWatches", BM_Paired_IdleWatches)->Arg(10'000)->UseRealTime();
  std::string latency_name = "BM_Paired_WatcherLatency/real_time";
  std::string idle_name = "BM_Paired_IdleWatches/10000/real_time";
  if (!smoke) {
    latency->MinTime(2.0);
    idle->MinTime(2.0);
    latency_name = "BM_Paired_WatcherLatency/min_time:2.000/real_time";
    idle_name = "BM_Paired_IdleWatches/10000/min_time:2.000/real_time";
  }
  syncbridge::bench::RatioReporter reporter;
  bench::run_benchmarks(command_line, reporter);
  // Separately measured: for reference only (the goal is judged on the paired figure).
  reporter.print_ratios({
      {"exporter advance vs raw drmSyncobjTimelineSignal", "BM_Exporter_Advance/real_time",
       "BM_Raw_TimelineSignal/real_time", 0},
  });

  const std::vector<syncbridge::bench::PairedRatio> rows = {
      {"exporter advance vs raw drmSyncobjTimelineSignal", "BM_Paired_ExporterAdvance/real_time", 1.2},
      {"signal->core fence: watcher vs raw poll loop (same fd)", latency_name.c_str(), 1.1},
      {"signal->core fence: 10k idle watches vs 10", idle_name.c_str(), 1.2},
      {"watch add+remove: 10k armed vs 10", "BM_Paired_AddRemove/10000/real_time", 1.2},
  };
  int missed = reporter.print_paired(rows);
  const double allocs = reporter.counter("BM_Exporter_Advance/real_time", "allocs_per_op");
  if (allocs >= 0) {
    std::printf("%-58s %12.3f (goal 0)%s\n", "allocations per exporter advance", allocs, allocs == 0 ? "" : "  MISSED");
    if (allocs != 0) ++missed;
  }
  g_dev = DrmDevice();
  if (smoke) return 0;  // timings of a 10 ms smoke run are noise: never judge them
  return missed == 0 ? 0 : 1;
}
