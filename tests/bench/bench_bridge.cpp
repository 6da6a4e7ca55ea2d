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
#include <functional>
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

// ---- the measured sequences, each written once: a separate benchmark loops over one, a paired
// benchmark alternates two ----

// Raw: CREATE_FENCE + INC + close, one fence.
struct RawSingle {
  SwSyncTimeline tl = must_open();
  std::uint32_t value = 0;
  void operator()() {
    const int fd = raw_create(tl.fd(), ++value);
    raw_inc(tl.fd(), 1);
    ::close(fd);
  }
};

// What the mitigation costs when written by hand (CREATE + dup + INC + two closes): the
// exporter's floor.
struct RawMitigation {
  SwSyncTimeline tl = must_open();
  std::uint32_t value = 0;
  void operator()() {
    const int held = raw_create(tl.fd(), ++value);
    const int user = ::fcntl(held, F_DUPFD_CLOEXEC, 0);
    raw_inc(tl.fd(), 1);
    ::close(held);
    ::close(user);
  }
};

// The exporter: sync_file_at + advance + release, one fence.
struct ExporterSingle {
  static constexpr int kFences = 1;
  SwSyncExporter e = must_export();
  void operator()() {
    SyncFile f = std::move(e.sync_file_at(e.value() + 1)).value();
    (void)e.advance(1);
    benchmark::DoNotOptimize(f);
  }  // f released (closed) here, as the raw sequence closes its fd
};

// Raw, kBatch fences: kBatch CREATE_FENCEs, one INC, kBatch closes.
struct RawBatch {
  SwSyncTimeline tl = must_open();
  std::uint32_t value = 0;
  int fds[kBatch];
  void operator()() {
    for (int i = 0; i < kBatch; ++i) fds[i] = raw_create(tl.fd(), value + static_cast<std::uint32_t>(i) + 1);
    raw_inc(tl.fd(), kBatch);
    value += kBatch;
    for (int fd : fds) ::close(fd);
  }
};

// The exporter, kBatch fences: kBatch sync_file_ats, one advance, kBatch releases.
struct ExporterBatch {
  static constexpr int kFences = kBatch;
  SwSyncExporter e = must_export();
  std::vector<SyncFile> files = std::vector<SyncFile>(kBatch);  // reused: nothing allocated per batch
  void operator()() {
    const auto base = static_cast<std::uint32_t>(e.value());
    for (int i = 0; i < kBatch; ++i)
      files[static_cast<std::size_t>(i)] = std::move(e.sync_file_at(base + static_cast<std::uint32_t>(i) + 1)).value();
    (void)e.advance(kBatch);
    for (SyncFile& f : files) f = SyncFile();
  }
};

// An exporter sequence's separate benchmark: warmed up first (the held-fd array reaches its
// steady capacity), then its allocations per fence counted (goal 0); no fence may stay held.
template <class ExporterOp>
void exporter_loop(benchmark::State& state) {
  ExporterOp op;
  for (int i = 0; i < 4; ++i) op();
  const std::size_t allocs_before = bench::allocations();
  for (auto _ : state) op();
  const auto fences = state.iterations() * ExporterOp::kFences;
  state.counters["allocs_per_op"] =
      static_cast<double>(bench::allocations() - allocs_before) / static_cast<double>(fences);
  if (ExporterOp::kFences > 1) state.SetItemsProcessed(fences);
  if (op.e.held_fence_count() != 0) state.SkipWithError("fences still held");
}

// ---- create + signal + release, one fence ----

void BM_Raw_CreateIncClose(benchmark::State& state) {
  RawSingle raw;
  for (auto _ : state) raw();
}

void BM_Raw_CreateDupIncCloseClose(benchmark::State& state) {
  RawMitigation raw;
  for (auto _ : state) raw();
}

void BM_Exporter_SyncFileAtAdvanceRelease(benchmark::State& state) { exporter_loop<ExporterSingle>(state); }

// ---- batches of 64 ----

void BM_Raw_CreateIncClose_Batch64(benchmark::State& state) {
  RawBatch raw;
  for (auto _ : state) raw();
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

void BM_Exporter_SyncFileAtAdvanceRelease_Batch64(benchmark::State& state) { exporter_loop<ExporterBatch>(state); }

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

// One woken wait: a new fence, the partner asked to signal it, wait(fence) until it has.
struct Woken {
  SwSyncTimeline tl = must_open();
  Partner partner{tl};
  std::uint32_t value = 0;
  template <class Wait>
  bool operator()(Wait wait) {
    SyncFile f = std::move(tl.create_fence(++value)).value();
    partner.request();
    return wait(f);
  }
};

// The raw wait: ppoll() until the fd is readable.
bool ppoll_signaled(const SyncFile& f) {
  pollfd p{f.fd(), POLLIN, 0};
  int r;
  do {
    r = ::ppoll(&p, 1, nullptr, nullptr);
  } while (r < 0 && errno == EINTR);
  return r == 1 && (p.revents & POLLIN);
}

bool wait_signaled(const SyncFile& f) {
  auto r = f.wait(wait_forever);
  return r.ok() && *r == WaitStatus::signaled;
}

template <class Wait>
void woken_wait(benchmark::State& state, Wait wait) {
  Woken woken;
  for (auto _ : state)
    if (!woken(wait)) state.SkipWithError("wait failed");
}

void BM_Wake_RawPpoll(benchmark::State& state) { woken_wait(state, ppoll_signaled); }

void BM_Wake_SyncFileWait(benchmark::State& state) { woken_wait(state, wait_signaled); }

// ---- looking at an already-signaled fence ----

int poll0(const SyncFile& f) {
  pollfd p{f.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0);
}

void BM_Signaled_RawPoll0(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  SyncFile f = std::move(tl.create_fence(0)).value();
  for (auto _ : state) benchmark::DoNotOptimize(poll0(f));
}

void BM_Signaled_SyncFileWait0(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  SyncFile f = std::move(tl.create_fence(0)).value();
  for (auto _ : state) benchmark::DoNotOptimize(f.wait(0ns).ok());
}

// ---- paired: raw and wrapped take turns in blocks, medians compared (bench::paired) ----

template <class Raw, class Wrapped>
void paired_sequences(benchmark::State& state, int block) {
  Raw raw;
  Wrapped wrapped;
  bench::paired_blocks(state, block, std::ref(raw), std::ref(wrapped));
}

void BM_Paired_Single(benchmark::State& state) { paired_sequences<RawSingle, ExporterSingle>(state, 8); }

void BM_Paired_Batch64(benchmark::State& state) { paired_sequences<RawBatch, ExporterBatch>(state, 1); }

// The hand-written mitigation against the plain sequence: the price of the held fd itself.
void BM_Paired_MitigationFloor(benchmark::State& state) { paired_sequences<RawSingle, RawMitigation>(state, 8); }

// The exporter against the hand-written mitigation: what the wrapper itself costs.
void BM_Paired_WrapperOverFloor(benchmark::State& state) { paired_sequences<RawMitigation, ExporterSingle>(state, 8); }

void BM_Paired_Wake(benchmark::State& state) {
  Woken woken;
  bool ok = true;
  bench::paired_blocks(
      state, 1, [&] { ok &= woken(ppoll_signaled); }, [&] { ok &= woken(wait_signaled); });
  if (!ok) state.SkipWithError("a wait failed");
}

void BM_Paired_Signaled(benchmark::State& state) {
  SwSyncTimeline tl = must_open();
  SyncFile f = std::move(tl.create_fence(0)).value();
  bench::paired_blocks(
      state, 64, [&] { benchmark::DoNotOptimize(poll0(f)); }, [&] { benchmark::DoNotOptimize(f.wait(0ns).ok()); });
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
  if (auto tl = SwSyncTimeline::open(); !tl) return bench::skip("syncbridge-bench-bridge", tl.error().describe());
  syncbridge::bench::RatioReporter reporter;
  bench::run_benchmarks(command_line, reporter);
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
