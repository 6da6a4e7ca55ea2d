// syncbridge-bench-bridge: the kernel bridge's costs, each next to the raw syscalls it wraps,
// measured in this same process (needs sw_sync: run it in the VM; elsewhere it says why and
// exits 0).
//   - SwSyncExporter sync_file_at + advance + release vs the raw CREATE_FENCE + INC + close
//     (goal: within 1.2x), one fence at a time and in batches of 64; the raw form of the
//     mitigation (CREATE + dup + INC + two closes) as the floor the exporter cannot beat;
//   - allocations per exporter operation (operator new counted; goal 0 once warm);
//   - SyncFile::wait wake-up latency vs a raw ppoll() on the same kind of fd, and the cost of
//     looking at an already-signaled fence.
// The goals are judged on the BM_Paired_* figures: there the wrapped and the raw sequence take
// turns in small blocks within one benchmark (order alternating), and the medians of the
// per-block times are compared, so that load drifting on a shared host (and TCG's noise in the
// VM) hits both sides alike. The separate benchmarks are shown for reference.
#include <fcntl.h>
#include <linux/types.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "ratio_reporter.h"
#include "raw_sw_sync.h"
#include "syncbridge/sw_sync.h"
#include "syncbridge/sync_file.h"

using namespace syncbridge;
using namespace std::chrono_literals;

namespace {

constexpr int kBatch = 64;

// Raw ioctls, exactly as a program without this library would issue them.
using namespace syncbridge::testing::raw_sw_sync;

int raw_create(int timeline, std::uint32_t value) {
  create_fence_data data{};
  data.value = value;
  std::memcpy(data.name, "raw", 4);
  if (::ioctl(timeline, kCreateFence, &data) < 0) std::abort();
  return data.fence;
}
void raw_inc(int timeline, std::uint32_t n) {
  __u32 arg = n;
  if (::ioctl(timeline, kInc, &arg) < 0) std::abort();
}

SwSyncTimeline must_open() { return std::move(SwSyncTimeline::open()).value(); }
SwSyncExporter must_export() { return std::move(SwSyncExporter::create("bench")).value(); }

// ---- create + signal + release, one fence ----

void BM_Raw_CreateIncClose(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  std::uint32_t value = 0;
  for (auto _ : state) {
    const int fd = raw_create(tl.fd(), ++value);
    raw_inc(tl.fd(), 1);
    ::close(fd);
  }
}

// What the mitigation costs when written by hand: the exporter's floor.
void BM_Raw_CreateDupIncCloseClose(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  std::uint32_t value = 0;
  for (auto _ : state) {
    const int held = raw_create(tl.fd(), ++value);
    const int user = ::fcntl(held, F_DUPFD_CLOEXEC, 0);
    raw_inc(tl.fd(), 1);
    ::close(held);
    ::close(user);
  }
}

void BM_Exporter_SyncFileAtAdvanceRelease(benchmark::State& state) {
  SwSyncExporter e = must_export();
  // Warm up: the held-fd array reaches its steady capacity.
  for (int i = 0; i < 4; ++i) {
    SyncFile f = std::move(e.sync_file_at(e.value() + 1)).value();
    (void)e.advance(1);
  }
  const std::size_t allocs_before = bench::allocations();
  for (auto _ : state) {
    SyncFile f = std::move(e.sync_file_at(e.value() + 1)).value();
    (void)e.advance(1);
    benchmark::DoNotOptimize(f);
  }  // f released (closed) here, as the raw loop closes its fd
  state.counters["allocs_per_op"] =
      static_cast<double>(bench::allocations() - allocs_before) / static_cast<double>(state.iterations());
  if (e.held_fence_count() != 0) state.SkipWithError("fences still held");
}

// ---- batches of 64 ----

void BM_Raw_CreateIncClose_Batch64(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  std::uint32_t value = 0;
  int fds[kBatch];
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) fds[i] = raw_create(tl.fd(), value + static_cast<std::uint32_t>(i) + 1);
    raw_inc(tl.fd(), kBatch);
    value += kBatch;
    for (int fd : fds) ::close(fd);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_Raw_CreateDupIncCloseClose_Batch64(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  std::uint32_t value = 0;
  int held[kBatch], user[kBatch];
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      held[i] = raw_create(tl.fd(), value + static_cast<std::uint32_t>(i) + 1);
      user[i] = ::fcntl(held[i], F_DUPFD_CLOEXEC, 0);
    }
    raw_inc(tl.fd(), kBatch);
    value += kBatch;
    for (int fd : held) ::close(fd);
    for (int fd : user) ::close(fd);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_Exporter_SyncFileAtAdvanceRelease_Batch64(benchmark::State& state) {
  SwSyncExporter e = must_export();
  std::vector<SyncFile> files(kBatch);  // reused: the benchmark itself allocates nothing per batch
  auto one_batch = [&] {
    const auto base = static_cast<std::uint32_t>(e.value());
    for (int i = 0; i < kBatch; ++i)
      files[static_cast<std::size_t>(i)] = std::move(e.sync_file_at(base + static_cast<std::uint32_t>(i) + 1)).value();
    (void)e.advance(kBatch);
    for (SyncFile& f : files) f = SyncFile();
  };
  for (int i = 0; i < 4; ++i) one_batch();
  const std::size_t allocs_before = bench::allocations();
  for (auto _ : state) one_batch();
  state.counters["allocs_per_op"] =
      static_cast<double>(bench::allocations() - allocs_before) / static_cast<double>(state.iterations() * kBatch);
  state.SetItemsProcessed(state.iterations() * kBatch);
  if (e.held_fence_count() != 0) state.SkipWithError("fences still held");
}

// ---- wake-up latency: the main thread waits, a partner INCs on request ----

struct Partner {
  explicit Partner(const SwSyncTimeline& tl)
      : thread([this, &tl] {
          std::uint64_t seen = 0;
          for (;;) {
            std::uint64_t r;
            while ((r = round.load(std::memory_order_acquire)) == seen) __builtin_ia32_pause();
            seen = r;
            if (stop.load(std::memory_order_acquire)) return;
            (void)tl.inc(1);
          }
        }) {}
  ~Partner() {
    stop.store(true, std::memory_order_release);
    round.fetch_add(1, std::memory_order_acq_rel);
    thread.join();
  }
  void request() { round.fetch_add(1, std::memory_order_acq_rel); }
  std::atomic<std::uint64_t> round{0};
  std::atomic<bool> stop{false};
  std::thread thread;
};

template <class Wait>
void woken_wait(benchmark::State& state, Wait wait) {
  SwSyncTimeline tl = must_open();
  Partner partner(tl);
  std::uint32_t value = 0;
  for (auto _ : state) {
    SyncFile f = std::move(tl.create_fence(++value)).value();
    partner.request();
    if (!wait(f)) state.SkipWithError("wait failed");
  }
}

void BM_Wake_RawPpoll(benchmark::State& state) {
  woken_wait(state, [](const SyncFile& f) {
    pollfd p{f.fd(), POLLIN, 0};
    int r;
    do {
      r = ::ppoll(&p, 1, nullptr, nullptr);
    } while (r < 0 && errno == EINTR);
    return r == 1 && (p.revents & POLLIN);
  });
}

void BM_Wake_SyncFileWait(benchmark::State& state) {
  woken_wait(state, [](const SyncFile& f) {
    auto r = f.wait(wait_forever);
    return r.ok() && *r == WaitStatus::signaled;
  });
}

// ---- looking at an already-signaled fence ----

void BM_Signaled_RawPoll0(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  SyncFile f = std::move(tl.create_fence(0)).value();
  for (auto _ : state) {
    pollfd p{f.fd(), POLLIN, 0};
    benchmark::DoNotOptimize(::poll(&p, 1, 0));
  }
}

void BM_Signaled_SyncFileWait0(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  SyncFile f = std::move(tl.create_fence(0)).value();
  for (auto _ : state) benchmark::DoNotOptimize(f.wait(0ns).ok());
}

// ---- paired: raw and wrapped take turns, medians compared ----

double median(std::vector<double>& v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Each benchmark iteration runs `block` raw operations and `block` wrapped ones, in alternating
// order, timing each block. Counters: raw_ns and wrapped_ns (median ns per operation), ratio.
template <class Raw, class Wrapped>
void paired(benchmark::State& state, int block, Raw raw, Wrapped wrapped) {
  std::vector<double> raw_ns, wrapped_ns;
  raw_ns.reserve(1 << 16);
  wrapped_ns.reserve(1 << 16);
  auto timed = [block](auto& op) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < block; ++i) op();
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / block;
  };
  bool raw_first = true;
  for (auto _ : state) {
    if (raw_first) {
      raw_ns.push_back(timed(raw));
      wrapped_ns.push_back(timed(wrapped));
    } else {
      wrapped_ns.push_back(timed(wrapped));
      raw_ns.push_back(timed(raw));
    }
    raw_first = !raw_first;
  }
  const double r = median(raw_ns), w = median(wrapped_ns);
  state.counters["raw_ns"] = r;
  state.counters["wrapped_ns"] = w;
  state.counters["ratio"] = r > 0 ? w / r : 0;
}

void BM_Paired_Single(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  SwSyncExporter e = must_export();
  std::uint32_t value = 0;
  paired(
      state, 8,
      [&] {
        const int fd = raw_create(tl.fd(), ++value);
        raw_inc(tl.fd(), 1);
        ::close(fd);
      },
      [&] {
        SyncFile f = std::move(e.sync_file_at(e.value() + 1)).value();
        (void)e.advance(1);
      });
}

void BM_Paired_Batch64(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  SwSyncExporter e = must_export();
  std::uint32_t value = 0;
  int fds[kBatch];
  std::vector<SyncFile> files(kBatch);
  paired(
      state, 1,
      [&] {
        for (int i = 0; i < kBatch; ++i) fds[i] = raw_create(tl.fd(), value + static_cast<std::uint32_t>(i) + 1);
        raw_inc(tl.fd(), kBatch);
        value += kBatch;
        for (int fd : fds) ::close(fd);
      },
      [&] {
        const auto base = static_cast<std::uint32_t>(e.value());
        for (int i = 0; i < kBatch; ++i)
          files[static_cast<std::size_t>(i)] =
              std::move(e.sync_file_at(base + static_cast<std::uint32_t>(i) + 1)).value();
        (void)e.advance(kBatch);
        for (SyncFile& f : files) f = SyncFile();
      });
}

// The hand-written mitigation against the plain sequence: the price of the held fd itself.
void BM_Paired_MitigationFloor(benchmark::State& state) {
  SwSyncTimeline tl = must_open(), tl2 = must_open();
  std::uint32_t value = 0, value2 = 0;
  paired(
      state, 8,
      [&] {
        const int fd = raw_create(tl.fd(), ++value);
        raw_inc(tl.fd(), 1);
        ::close(fd);
      },
      [&] {
        const int held = raw_create(tl2.fd(), ++value2);
        const int user = ::fcntl(held, F_DUPFD_CLOEXEC, 0);
        raw_inc(tl2.fd(), 1);
        ::close(held);
        ::close(user);
      });
}

// The exporter against the hand-written mitigation: what the wrapper itself costs.
void BM_Paired_WrapperOverFloor(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  SwSyncExporter e = must_export();
  std::uint32_t value = 0;
  paired(
      state, 8,
      [&] {
        const int held = raw_create(tl.fd(), ++value);
        const int user = ::fcntl(held, F_DUPFD_CLOEXEC, 0);
        raw_inc(tl.fd(), 1);
        ::close(held);
        ::close(user);
      },
      [&] {
        SyncFile f = std::move(e.sync_file_at(e.value() + 1)).value();
        (void)e.advance(1);
      });
}

void BM_Paired_Wake(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  Partner partner(tl);
  std::uint32_t value = 0;
  bool ok = true;
  paired(
      state, 1,
      [&] {
        SyncFile f = std::move(tl.create_fence(++value)).value();
        partner.request();
        pollfd p{f.fd(), POLLIN, 0};
        int r;
        do {
          r = ::ppoll(&p, 1, nullptr, nullptr);
        } while (r < 0 && errno == EINTR);
        ok &= r == 1;
      },
      [&] {
        SyncFile f = std::move(tl.create_fence(++value)).value();
        partner.request();
        auto r = f.wait(wait_forever);
        ok &= r.ok() && *r == WaitStatus::signaled;
      });
  if (!ok) state.SkipWithError("a wait failed");
}

void BM_Paired_Signaled(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  SyncFile f = std::move(tl.create_fence(0)).value();
  paired(
      state, 64,
      [&] {
        pollfd p{f.fd(), POLLIN, 0};
        benchmark::DoNotOptimize(::poll(&p, 1, 0));
      },
      [&] { benchmark::DoNotOptimize(f.wait(0ns).ok()); });
}

}  // namespace

BENCHMARK(BM_Raw_CreateIncClose)->UseRealTime();
BENCHMARK(BM_Raw_CreateDupIncCloseClose)->UseRealTime();
BENCHMARK(BM_Exporter_SyncFileAtAdvanceRelease)->UseRealTime();
BENCHMARK(BM_Raw_CreateIncClose_Batch64)->UseRealTime();
BENCHMARK(BM_Raw_CreateDupIncCloseClose_Batch64)->UseRealTime();
BENCHMARK(BM_Exporter_SyncFileAtAdvanceRelease_Batch64)->UseRealTime();
BENCHMARK(BM_Wake_RawPpoll)->UseRealTime();
BENCHMARK(BM_Wake_SyncFileWait)->UseRealTime();
BENCHMARK(BM_Signaled_RawPoll0);
BENCHMARK(BM_Signaled_SyncFileWait0);
BENCHMARK(BM_Paired_Single)->UseRealTime();
BENCHMARK(BM_Paired_Batch64)->UseRealTime();
BENCHMARK(BM_Paired_MitigationFloor)->UseRealTime();
BENCHMARK(BM_Paired_WrapperOverFloor)->UseRealTime();
BENCHMARK(BM_Paired_Wake)->UseRealTime();
BENCHMARK(BM_Paired_Signaled)->UseRealTime();

int main(int argc, char** argv) {
  // --smoke: a ctest run that proves the benchmark works; its figures are not the report.
  auto command_line = syncbridge::bench::parse_command_line(argc, argv);
  const bool smoke = command_line.smoke;
  {
    auto tl = SwSyncTimeline::open();
    if (!tl) {
      std::printf("syncbridge-bench-bridge: SKIP: %s\n", tl.error().describe().c_str());
      return 0;
    }
  }
  int n = command_line.argc();
  benchmark::Initialize(&n, command_line.args.data());
  syncbridge::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  // Separately measured: for reference only (the goals are judged on the paired figures).
  reporter.print_ratios({
      {"exporter sync_file_at+advance+release vs raw create+INC+close",
       "BM_Exporter_SyncFileAtAdvanceRelease/real_time", "BM_Raw_CreateIncClose/real_time", 0},
      {"  same, batches of 64", "BM_Exporter_SyncFileAtAdvanceRelease_Batch64/real_time",
       "BM_Raw_CreateIncClose_Batch64/real_time", 0},
      {"raw mitigation (create+dup+INC+2 closes) vs raw", "BM_Raw_CreateDupIncCloseClose/real_time",
       "BM_Raw_CreateIncClose/real_time", 0},
      {"  same, batches of 64", "BM_Raw_CreateDupIncCloseClose_Batch64/real_time",
       "BM_Raw_CreateIncClose_Batch64/real_time", 0},
      {"woken wait: SyncFile::wait vs raw ppoll (create+INC+wake)", "BM_Wake_SyncFileWait/real_time",
       "BM_Wake_RawPpoll/real_time", 0},
      {"signaled fence: SyncFile::wait(0) vs raw poll(0)", "BM_Signaled_SyncFileWait0", "BM_Signaled_RawPoll0", 0},
  });

  const std::vector<syncbridge::bench::PairedRatio> paired_rows = {
      {"exporter sync_file_at+advance+release vs raw create+INC+close", "BM_Paired_Single/real_time", 1.2},
      {"  same, batches of 64", "BM_Paired_Batch64/real_time", 1.2},
      {"raw mitigation (create+dup+INC+2 closes) vs raw", "BM_Paired_MitigationFloor/real_time", 0},
      {"exporter vs the raw mitigation (the wrapper's own cost)", "BM_Paired_WrapperOverFloor/real_time", 0},
      {"woken wait: SyncFile::wait vs raw ppoll (create+INC+wake)", "BM_Paired_Wake/real_time", 0},
      {"signaled fence: SyncFile::wait(0) vs raw poll(0)", "BM_Paired_Signaled/real_time", 0},
  };
  int missed = reporter.print_paired(paired_rows);
  // A counter of a benchmark that did not run (filtered out) reads -1: not judged.
  int alloc_misses = 0;
  auto print_allocs = [&](const char* what, const char* name) {
    const double allocs = reporter.counter(name, "allocs_per_op");
    if (allocs < 0) {
      std::printf("%-58s %12s\n", what, "(not run)");
      return;
    }
    if (allocs != 0) ++alloc_misses;
    std::printf("%-58s %12.3f (goal 0)%s\n", what, allocs, allocs == 0 ? "" : "  MISSED");
  };
  print_allocs("allocations per exporter fence, one at a time", "BM_Exporter_SyncFileAtAdvanceRelease/real_time");
  print_allocs("allocations per exporter fence, batches of 64",
               "BM_Exporter_SyncFileAtAdvanceRelease_Batch64/real_time");
  if (smoke) return 0;  // timings of a 10 ms smoke run are noise: never judge them
  return missed + alloc_misses == 0 ? 0 : 1;
}
