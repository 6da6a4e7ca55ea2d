// syncbridge-gpu-pipeline: CPU producer -> GPU compute -> CPU consumer, gated by the bridge.
//
// Per frame i (point i+1): the submitter queues a compute submission that waits, through the
// Vulkan bridge, on the producer's timeline point; the producer thread fills the frame's input
// buffer and signals the point (a core Timeline, a sw_sync-exported one or a DRM syncobj); the
// GPU runs the transform shader; its completion comes back through the bridge as a core fence;
// the consumer thread waits on it and checks every element. Then the same frames run again with
// a plain host-signaled timeline semaphore and no bridge, as the baseline.
//
//   syncbridge-gpu-pipeline [--backend auto|sw_sync|syncobj|host] [--frames N]
//                           [--frames-in-flight N] [--device INDEX|NAME] [--elements N]
//                           [--rounds N] [--validate] [--no-baseline] [--json]
//                           [--stall-timeout SECONDS] [--trace FILE]
//                           [--require-wait-path NAME] [--require-completion-path NAME]
// Rounds alternate bridge and baseline runs (default 3 of each) so that a noisy machine hurts
// both alike; the statistics pool the rounds. A run that makes no progress for the stall
// timeout is reported (frame, stage, paths) and the program exits: it never hangs silently.
//
// Exit status: 0 verified; 1 wrong data, a failed or stalled frame; 2 usage; 3 the requested
// backend is unsupported on this machine; 4 no usable Vulkan (loader, device, features); 5 the
// bridge did not take a path that --require-wait-path / --require-completion-path asked for.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "compute_job.h"
#include "frame_sync.h"
#include "json_text.h"
#include "pipeline.h"
#include "run_monitor.h"
#include "trace.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/sw_sync.h"
#include "syncbridge/syncobj_exporter.h"
#include "syncbridge/timeline.h"
#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/vulkan_context.h"
#include "syncbridge/vulkan_loader.h"

namespace gpu_pipeline {
namespace {

using namespace syncbridge;

struct Options {
  std::string backend = "auto";
  std::uint32_t frames = 500;
  std::uint32_t in_flight = 2;
  std::uint32_t elements = 16384;
  std::uint32_t rounds = 3;
  std::string device;
  bool json = false;
  bool validate = false;
  bool baseline = true;
  double stall_timeout_s = 10;  // 0: no watchdog, and waits without a deadline
  std::string trace;            // --trace FILE ("": none)
  std::string require_wait_path, require_completion_path;  // "": anything goes

  std::chrono::nanoseconds stall_timeout() const {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(stall_timeout_s * 1e9));
  }
};

[[noreturn]] void usage(const char* why) {
  if (why) std::fprintf(stderr, "syncbridge-gpu-pipeline: %s\n", why);
  std::fprintf(stderr,
               "usage: syncbridge-gpu-pipeline [--backend auto|sw_sync|syncobj|host] [--frames N]\n"
               "         [--frames-in-flight N] [--device INDEX|NAME] [--elements N] [--rounds N]\n"
               "         [--validate] [--no-baseline] [--json] [--stall-timeout SECONDS] [--trace FILE]\n"
               "         [--require-wait-path sync_fd_import|syncobj_timeline|host_signal]\n"
               "         [--require-completion-path sync_fd_export|timeline_wait]\n"
               "Each round runs the frames through the bridge, then through the baseline (a plain\n"
               "host-signaled timeline semaphore, no bridge); statistics pool every round.\n"
               "--stall-timeout (default 10, 0: off): no frame progress for that long reports the\n"
               "stuck frame and its stage and exits 1. --trace writes Chrome trace-event JSON\n"
               "(Perfetto UI, chrome://tracing). --require-*-path: exit 5 when the bridge took another.\n");
  std::exit(2);
}

std::uint32_t parse_u32(const char* s, const char* what, std::uint32_t min, std::uint32_t max) {
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (errno || !end || *end || v < min || v > max) {
    std::string msg = std::string("bad ") + what + ": " + s;
    usage(msg.c_str());
  }
  return static_cast<std::uint32_t>(v);
}

double parse_seconds(const char* s, const char* what) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (errno || !end || end == s || *end || !(v >= 0 && v <= 86400))
    usage((std::string("bad ") + what + ": " + s).c_str());
  return v;
}

// The names path_name() prints, so that the library and this option never disagree.
void check_path_name(const std::string& name, const char* option, std::initializer_list<const char*> names) {
  std::string list;
  for (const char* n : names) {
    if (name == n) return;
    list += (list.empty() ? "" : ", ") + std::string(n);
  }
  usage((std::string(option) + " must be one of " + list).c_str());
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--backend") o.backend = value();
    else if (a == "--frames") o.frames = parse_u32(value(), "--frames", 1, 10'000'000);
    else if (a == "--frames-in-flight") o.in_flight = parse_u32(value(), "--frames-in-flight", 1, 64);
    else if (a == "--elements") o.elements = parse_u32(value(), "--elements", 64, 1u << 26);
    else if (a == "--rounds") o.rounds = parse_u32(value(), "--rounds", 1, 100);
    else if (a == "--device") o.device = value();
    else if (a == "--json") o.json = true;
    else if (a == "--validate") o.validate = true;
    else if (a == "--no-baseline") o.baseline = false;
    else if (a == "--stall-timeout") o.stall_timeout_s = parse_seconds(value(), "--stall-timeout");
    else if (a == "--trace") o.trace = value();
    else if (a == "--require-wait-path") o.require_wait_path = value();
    else if (a == "--require-completion-path") o.require_completion_path = value();
    else if (a == "--help" || a == "-h") usage(nullptr);
    else usage(("unknown option " + a).c_str());
  }
  if (o.backend != "auto" && o.backend != "sw_sync" && o.backend != "syncobj" && o.backend != "host")
    usage("--backend must be auto, sw_sync, syncobj or host");
  if (!o.require_wait_path.empty())
    check_path_name(o.require_wait_path, "--require-wait-path",
                    {path_name(VulkanWaitPath::sync_fd_import), path_name(VulkanWaitPath::syncobj_timeline),
                     path_name(VulkanWaitPath::host_signal)});
  if (!o.require_completion_path.empty())
    check_path_name(o.require_completion_path, "--require-completion-path",
                    {path_name(VulkanCompletionPath::sync_fd_export), path_name(VulkanCompletionPath::timeline_wait)});
  return o;
}

// ---- the synchronisation under test (FrameSync, frame_sync.h): the bridge or the baseline

class BaselineSync final : public FrameSync {
 public:
  explicit BaselineSync(ComputeJob& job) : job_(job) {
    in_ = job.make_timeline_semaphore();
    done_ = job.make_timeline_semaphore();
  }
  bool ok() const { return in_ != VK_NULL_HANDLE && done_ != VK_NULL_HANDLE; }
  Result<void> prepare(std::uint64_t point, std::vector<VkSemaphoreSubmitInfo>& waits,
                       std::vector<VkSemaphoreSubmitInfo>& signals) override {
    waits.push_back(info(in_, point));
    signals.push_back(info(done_, point));
    return {};
  }
  Result<void> submitted(std::uint64_t) override { return {}; }
  Result<void> signal(std::uint64_t point) override {
    if (VkResult r = job_.host_signal(in_, point); r != VK_SUCCESS) return vulkan_error(r, "vkSignalSemaphore");
    signaled_.store(point);
    return {};
  }
  void release_all(std::uint64_t last_point) override {
    if (signaled_.load() < last_point) (void)job_.host_signal(in_, last_point);
  }
  Result<WaitStatus> wait_done(std::uint64_t point, std::chrono::nanoseconds timeout) override {
    const auto ns = timeout == wait_forever ? UINT64_MAX : static_cast<std::uint64_t>(timeout.count());
    const VkResult r = job_.host_wait(done_, point, ns);
    if (r == VK_TIMEOUT) return WaitStatus::timed_out;
    if (r != VK_SUCCESS) return vulkan_error(r, "vkWaitSemaphores");
    return WaitStatus::signaled;
  }
  void retire(std::uint64_t) override {}
  std::string wait_path() const override { return "plain host-signaled timeline semaphore"; }
  std::string completion_path() const override { return "vkWaitSemaphores on the consumer thread"; }

 private:
  static VkSemaphoreSubmitInfo info(VkSemaphore s, std::uint64_t v) {
    VkSemaphoreSubmitInfo i{};
    i.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO;
    i.semaphore = s;
    i.value = v;
    i.stageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    return i;
  }
  ComputeJob& job_;
  VkSemaphore in_ = VK_NULL_HANDLE, done_ = VK_NULL_HANDLE;
  std::atomic<std::uint64_t> signaled_{0};
};

// The completion streams alive now, for the validation callback: a stream explains the one
// report that old validation layers make about its correct reuse of exported semaphores.
struct LiveStreams {
  std::mutex mutex;
  std::vector<const VulkanCompletionStream*> streams;
  bool explains(const char* text) {
    std::lock_guard guard(mutex);
    return std::any_of(streams.begin(), streams.end(),
                       [&](const VulkanCompletionStream* s) { return s->explains_validation_message(text); });
  }
  void add(const VulkanCompletionStream* s) {
    std::lock_guard guard(mutex);
    streams.push_back(s);
  }
  void remove(const VulkanCompletionStream* s) {
    std::lock_guard guard(mutex);
    std::erase(streams, s);
  }
};
LiveStreams& live_streams() {
  static LiveStreams live;
  return live;
}

enum class Backend { host, sw_sync, syncobj };
const char* backend_name(Backend b) {
  switch (b) {
    case Backend::host: return "host";
    case Backend::sw_sync: return "sw_sync";
    case Backend::syncobj: return "syncobj";
  }
  return "?";
}

// The bridge: the producer's timeline is a core Timeline (host), a SwSyncExporter (sw_sync) or a
// SyncobjExporter (syncobj); the caller code below is the same for all three.
class BridgeSync final : public FrameSync {
 public:
  struct Kernel {
    SwSyncExporter sw_sync;
    DrmDevice drm;
    SyncobjExporter syncobj;
  };

  static Result<std::unique_ptr<BridgeSync>> create(const VulkanDevice& dev, Backend backend, Kernel kernel,
                                                    std::uint32_t frames) {
    std::unique_ptr<BridgeSync> s(new BridgeSync);
    s->backend_ = backend;
    s->kernel_ = std::move(kernel);
    auto bridge = VulkanBridge::create(dev);
    if (!bridge) return std::move(bridge).error();
    s->bridge_ = std::move(*bridge);
    auto stream = VulkanCompletionStream::create(dev, {.name = "gpu-pipeline-done"});
    if (!stream) return std::move(stream).error();
    s->stream_ = std::move(*stream);
    live_streams().add(s->stream_.get());
    if (backend == Backend::host) {
      auto t = Timeline::create({.name = "gpu-pipeline-input"});
      if (!t) return std::move(t).error();
      s->input_ = std::move(*t);
    }
    if (backend == Backend::syncobj && s->bridge_->caps() != VulkanCaps::none &&
        has(s->bridge_->caps(), VulkanCaps::opaque_fd_maybe_syncobj)) {
      auto fd = s->kernel_.syncobj.export_syncobj_fd();
      if (!fd) return std::move(fd).error();
      auto imported = s->bridge_->import_syncobj(std::move(*fd));
      if (imported) s->imported_ = std::move(*imported);
      else s->notes_.push_back("OPAQUE_FD import of the syncobj failed (" + imported.error().message() +
                               "): waiting through the watcher instead");
    }
    s->frames_.resize(frames + 1);
    return s;
  }

  Result<void> prepare(std::uint64_t point, std::vector<VkSemaphoreSubmitInfo>& waits,
                       std::vector<VkSemaphoreSubmitInfo>& signals) override {
    Frame& f = frames_[point];
    Result<VulkanWait> w = Error(Errc::invalid_argument, EINVAL, "no backend");
    switch (backend_) {
      case Backend::host: {
        auto fence = input_.fence_at(point);
        if (!fence) return std::move(fence).error();
        w = bridge_->wait_for(*fence);
        break;
      }
      case Backend::sw_sync: {
        auto file = kernel_.sw_sync.sync_file_at(point);  // a pending kernel fence
        if (!file) return std::move(file).error();
        w = bridge_->wait_for(*file);
        break;
      }
      case Backend::syncobj:
        w = imported_.valid() ? bridge_->wait_for(imported_, point) : bridge_->wait_for(kernel_.syncobj.syncobj(), point);
        break;
    }
    if (!w) return std::move(w).error();
    f.wait = std::move(*w);
    wait_paths_.fetch_or(1u << static_cast<unsigned>(f.wait.path()), std::memory_order_relaxed);
    auto sig = stream_->prepare();
    if (!sig) return std::move(sig).error();
    f.signal = std::move(*sig);
    f.signal.depends_on(f.wait);  // a SYNC_FD export waits for this input's release
    waits.push_back(f.wait.submit_info());
    signals.push_back(f.signal.submit_info());
    return {};
  }
  Result<void> submitted(std::uint64_t point) override {
    Frame& f = frames_[point];
    auto done = stream_->submitted(std::move(f.signal));
    if (!done) return std::move(done).error();
    f.done = std::move(*done);
    return {};
  }
  Result<void> signal(std::uint64_t point) override {
    switch (backend_) {
      case Backend::host: return input_.signal_to(point);
      case Backend::sw_sync: return kernel_.sw_sync.signal_to(point);
      case Backend::syncobj: return kernel_.syncobj.signal_to(point);
    }
    return {};
  }
  Result<WaitStatus> wait_done(std::uint64_t point, std::chrono::nanoseconds timeout) override {
    // The stream's own wait: on timeline_wait it waits on the semaphore on this thread, which
    // saves the helper thread's wake-up; frames_[point].done is signaled at the same moment.
    return stream_->wait(point, timeout);
  }
  void retire(std::uint64_t point) override {
    Frame& f = frames_[point];
    if (auto st = f.wait.status(); !st) ++input_errors_;
    f.wait = VulkanWait();  // the GPU is done with it
    f.done = Fence();
  }
  // Every path the run's waits took: "sync_fd_import+host_signal" when an import the driver
  // refused fell back, so that a mixed run never passes for a native one.
  std::string wait_path() const override {
    std::string names;
    for (auto p : {VulkanWaitPath::sync_fd_import, VulkanWaitPath::syncobj_timeline, VulkanWaitPath::host_signal})
      if (wait_paths_.load() & (1u << static_cast<unsigned>(p)))
        names += (names.empty() ? "" : "+") + std::string(path_name(p));
    return names.empty() ? "?" : names;
  }
  std::string completion_path() const override { return path_name(stream_->path()); }
  std::uint64_t input_errors() const override { return input_errors_; }
  void release_all(std::uint64_t last_point) override {
    (void)signal(last_point);  // kernel fences too (sync_fd_import waits on them directly)
    bridge_->shutdown();       // every host_signal wait still pending
  }
  const std::vector<std::string>& notes() const { return notes_; }
  VulkanBridge& bridge() { return *bridge_; }

  ~BridgeSync() override {
    if (bridge_) bridge_->shutdown();
    if (stream_) {
      stream_->shutdown();
      live_streams().remove(stream_.get());
    }
  }

 private:
  BridgeSync() = default;
  struct Frame {
    VulkanWait wait;
    VulkanSignal signal;
    Fence done;
  };
  Backend backend_ = Backend::host;
  Kernel kernel_;
  Timeline input_;
  std::unique_ptr<VulkanBridge> bridge_;
  std::unique_ptr<VulkanCompletionStream> stream_;
  VulkanSyncobjTimeline imported_;
  std::vector<Frame> frames_;
  std::atomic<std::uint32_t> wait_paths_{0};  // bit per VulkanWaitPath; read by the stall report
  std::uint64_t input_errors_ = 0;
  std::vector<std::string> notes_;
};

// ---- statistics

struct Stats {
  std::size_t n = 0;
  double p50 = NAN, p90 = NAN, p99 = NAN, max = NAN, mean = NAN;
};

Stats stats_of(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    const double idx = p * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(idx));
    const auto hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
  };
  s.p50 = pct(0.5);
  s.p90 = pct(0.9);
  s.p99 = pct(0.99);
  s.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

struct Summary {
  Stats to_gpu_start, to_cpu_done, gpu_wake;
  double throughput_fps = 0;
};

Summary summarize(const std::vector<RunResult>& runs, bool timestamps) {
  Summary s;
  std::vector<double> a, b, c;
  double frames = 0, seconds = 0;
  for (const RunResult& r : runs) {
  const std::size_t warmup = std::min<std::size_t>(10, r.frames.size() / 10);
  for (std::size_t i = warmup; i < r.frames.size(); ++i) {
    const auto& f = r.frames[i];
    if (!f.done_ns || !f.signal_ns) continue;
    b.push_back(static_cast<double>(f.done_ns - f.signal_ns) / 1000.0);
    if (timestamps && f.gpu_start_ns) {
      a.push_back(static_cast<double>(f.gpu_start_ns - f.signal_ns) / 1000.0);
      // From the moment the GPU could start (input signaled and the previous frame done).
      const std::int64_t ready = i > 0 ? std::max(f.signal_ns, r.frames[i - 1].gpu_end_ns) : f.signal_ns;
      c.push_back(static_cast<double>(f.gpu_start_ns - ready) / 1000.0);
    }
  }
  if (!r.frames.empty() && r.frames.front().signal_ns && r.frames.back().done_ns > r.frames.front().signal_ns) {
    frames += static_cast<double>(r.frames.size());
    seconds += static_cast<double>(r.frames.back().done_ns - r.frames.front().signal_ns) / 1e9;
  }
  }
  s.to_gpu_start = stats_of(a);
  s.to_cpu_done = stats_of(b);
  s.gpu_wake = stats_of(c);
  if (seconds > 0) s.throughput_fps = frames / seconds;
  return s;
}

// Several rounds as one: paths of the first, counts summed, the first error.
RunResult combine(const std::vector<RunResult>& runs) {
  RunResult all;
  if (runs.empty()) return all;
  all.name = runs.front().name;
  all.wait_path = runs.front().wait_path;
  all.completion_path = runs.front().completion_path;
  for (const auto& r : runs) {
    all.frames.insert(all.frames.end(), r.frames.begin(), r.frames.end());
    all.bad_frames += r.bad_frames;
    all.input_errors += r.input_errors;
    all.seconds += r.seconds;
    if (all.first_error.empty()) all.first_error = r.first_error;
  }
  return all;
}

std::string num(double v) {
  if (std::isnan(v)) return "null";
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
using syncbridge::samples::json_str;
std::string stats_json(const Stats& s) {
  return "{\"n\": " + std::to_string(s.n) + ", \"p50\": " + num(s.p50) + ", \"p90\": " + num(s.p90) +
         ", \"p99\": " + num(s.p99) + ", \"max\": " + num(s.max) + ", \"mean\": " + num(s.mean) + "}";
}
std::string run_json(const RunResult& r, const Summary& s) {
  return "{\"wait_path\": " + json_str(r.wait_path) + ", \"completion_path\": " + json_str(r.completion_path) +
         ", \"frames\": " + std::to_string(r.frames.size()) + ", \"bad_frames\": " + std::to_string(r.bad_frames) +
         ", \"input_errors\": " + std::to_string(r.input_errors) +
         ", \"error\": " + (r.first_error.empty() ? "null" : json_str(r.first_error)) +
         ", \"seconds\": " + num(r.seconds) + ", \"throughput_fps\": " + num(s.throughput_fps) +
         ", \"signal_to_gpu_start_us\": " + stats_json(s.to_gpu_start) +
         ", \"signal_to_cpu_done_us\": " + stats_json(s.to_cpu_done) +
         ", \"gpu_ready_to_start_us\": " + stats_json(s.gpu_wake) + "}";
}
void print_stats(const char* what, const Stats& s) {
  if (s.n == 0) {
    std::printf("    %-28s n/a\n", what);
    return;
  }
  std::printf("    %-28s p50 %8.1f  p90 %8.1f  p99 %8.1f  max %8.1f us\n", what, s.p50, s.p90, s.p99, s.max);
}

// ---- backend choice

struct Choice {
  Backend backend = Backend::host;
  BridgeSync::Kernel kernel;
  std::vector<std::string> notes;  // why other backends were not taken
};

std::string sw_sync_unavailable(SwSyncExporter& out) {
  auto e = SwSyncExporter::create("gpu-pipeline");
  if (e) {
    out = std::move(*e);
    return "";
  }
  return e.error().message();
}
std::string syncobj_unavailable(DrmDevice& drm, SyncobjExporter& out) {
  auto d = DrmDevice::open_render_node();
  if (!d) return d.error().message();
  auto e = SyncobjExporter::create(*d, "gpu-pipeline");
  if (!e) return e.error().message();
  drm = std::move(*d);
  out = std::move(*e);
  return "";
}

// Explicit backend: unsupported is an error (exit 3). auto: the best available, else host.
Result<Choice> choose(const std::string& wanted, const VulkanDevice& dev) {
  Choice c;
  if (wanted == "host") return c;
  if (wanted == "sw_sync") {
    if (auto why = sw_sync_unavailable(c.kernel.sw_sync); !why.empty())
      return Error(Errc::unsupported, EOPNOTSUPP, "sw_sync: " + why);
    c.backend = Backend::sw_sync;
    return c;
  }
  if (wanted == "syncobj") {
    if (auto why = syncobj_unavailable(c.kernel.drm, c.kernel.syncobj); !why.empty())
      return Error(Errc::unsupported, EOPNOTSUPP, "syncobj: " + why);
    c.backend = Backend::syncobj;
    return c;
  }
  // auto: a kernel backend the GPU can wait on natively first; host otherwise.
  const bool native_syncobj = dev.has(VulkanCaps::opaque_fd_maybe_syncobj);
  const bool native_sync_fd = dev.has(VulkanCaps::sync_fd_semaphore_import);
  if (native_syncobj) {
    if (auto why = syncobj_unavailable(c.kernel.drm, c.kernel.syncobj); why.empty()) {
      c.backend = Backend::syncobj;
      return c;
    } else {
      c.notes.push_back("syncobj not taken: " + why);
    }
  } else {
    c.notes.push_back("syncobj not taken: the device cannot import a syncobj (no Mesa OPAQUE_FD timeline import)");
  }
  if (native_sync_fd) {
    if (auto why = sw_sync_unavailable(c.kernel.sw_sync); why.empty()) {
      c.backend = Backend::sw_sync;
      return c;
    } else {
      c.notes.push_back("sw_sync not taken: " + why);
    }
  } else {
    c.notes.push_back("sw_sync not taken: the device has no sync_fd_semaphore_import (it would be host_signal too)");
  }
  return c;
}

// ---- the rounds

struct Rounds {
  std::vector<RunResult> bridged, base;
  std::vector<std::string> notes;
};

RunSetup run_setup(const Options& o, Backend backend, std::int64_t program_start_ns) {
  RunSetup s;
  s.backend = backend_name(backend);
  s.rounds = o.rounds;
  s.frames = o.frames;
  s.stall_timeout = o.stall_timeout();
  s.progress_line = !o.json && isatty(STDERR_FILENO);
  s.program_start_ns = program_start_ns;
  return s;
}

// Each round: a bridge run, then a baseline run. An exit status when one could not be set up.
std::optional<int> run_rounds(ComputeJob& job, const VulkanDevice& dev, const Options& o, Choice& choice,
                              std::int64_t program_start_ns, Rounds& out) {
  const Backend backend = choice.backend;
  RunSetup setup = run_setup(o, backend, program_start_ns);
  for (std::uint32_t round = 0; round < o.rounds; ++round) {
    setup.round = round + 1;
    if (round > 0) {  // fresh kernel objects for each round's fresh points
      auto again = choose(backend_name(backend), dev);
      if (!again) {
        std::fprintf(stderr, "syncbridge-gpu-pipeline: %s\n", again.error().message().c_str());
        return 1;
      }
      choice = std::move(*again);
    }
    {
      auto sync = BridgeSync::create(dev, backend, std::move(choice.kernel), o.frames);
      if (!sync) {
        std::fprintf(stderr, "syncbridge-gpu-pipeline: bridge: %s\n", sync.error().describe().c_str());
        return 1;
      }
      if (round == 0)
        for (const auto& n : (*sync)->notes()) out.notes.push_back(n);
      setup.name = std::string("bridge/") + backend_name(backend);
      setup.backend = backend_name(backend);
      out.bridged.push_back(run_pipeline(job, **sync, setup));
    }
    if (o.baseline) {
      BaselineSync sync(job);
      if (!sync.ok()) {
        std::fprintf(stderr, "syncbridge-gpu-pipeline: baseline semaphores could not be created\n");
        return 1;
      }
      setup.name = "baseline";
      setup.backend = "none (baseline, no bridge)";
      out.base.push_back(run_pipeline(job, sync, setup));
    }
  }
  return std::nullopt;
}

// --trace: the runs in the order they ran (each round: bridge, then baseline).
bool write_trace(TraceWriter& trace, const Rounds& rounds) {
  std::vector<const RunResult*> order;
  for (std::size_t i = 0; i < rounds.bridged.size(); ++i) {
    order.push_back(&rounds.bridged[i]);
    if (i < rounds.base.size()) order.push_back(&rounds.base[i]);
  }
  trace.write_runs(order);
  std::string why;
  if (trace.close(why)) return true;
  std::fprintf(stderr, "syncbridge-gpu-pipeline: --trace %s\n", why.c_str());
  return false;
}

// ---- --require-wait-path / --require-completion-path

// Why the bridge may not have taken `wanted` here (the report's notes say more).
std::string why_not_path(const std::string& wanted, Backend backend, VulkanCaps caps) {
  if (wanted == path_name(VulkanWaitPath::sync_fd_import)) {
    if (backend != Backend::sw_sync) return "only --backend sw_sync hands the bridge sync_files to import";
    if (!has(caps, VulkanCaps::sync_fd_semaphore_import)) return "the device cannot import a SYNC_FD semaphore";
  } else if (wanted == path_name(VulkanWaitPath::syncobj_timeline)) {
    if (backend != Backend::syncobj) return "only --backend syncobj hands the bridge syncobj points";
    if (!has(caps, VulkanCaps::opaque_fd_maybe_syncobj)) return "the driver's OPAQUE_FD semaphores are not DRM syncobjs";
  } else if (wanted == path_name(VulkanWaitPath::host_signal)) {
    return "the device waits on this backend's kernel fences natively; --backend host always takes host_signal";
  } else if (wanted == path_name(VulkanCompletionPath::sync_fd_export)) {
    if (!has(caps, VulkanCaps::sync_fd_semaphore_export)) return "the device cannot export a SYNC_FD semaphore";
  } else if (wanted == path_name(VulkanCompletionPath::timeline_wait)) {
    return "the device exports SYNC_FD semaphores, so the completion stream takes sync_fd_export";
  }
  return "the bridge fell back at run time (see the report's notes)";
}

// "" when every bridge run took the required paths; else which run took what, and why.
std::string unmet_requirement(const Options& o, const std::vector<RunResult>& runs, Backend backend, VulkanCaps caps) {
  for (const RunResult& r : runs) {
    const bool wait_ok = o.require_wait_path.empty() || r.wait_path == o.require_wait_path;
    const bool completion_ok = o.require_completion_path.empty() || r.completion_path == o.require_completion_path;
    if (wait_ok && completion_ok) continue;
    const std::string& wanted = wait_ok ? o.require_completion_path : o.require_wait_path;
    return std::string(wait_ok ? "--require-completion-path " : "--require-wait-path ") + wanted + ": the " + r.name +
           " run (round " + std::to_string(r.round) + ") took " + (wait_ok ? r.completion_path : r.wait_path) + ": " +
           why_not_path(wanted, backend, caps) + " (device caps: " + describe(caps) + ")";
  }
  return "";
}

// ---- the report

struct Report {
  const Options& o;
  const VulkanDevice& dev;
  Backend backend;
  const std::vector<std::string>& notes;
  const RunResult &bridged, &base;
  const Summary &bs, &ss;
  bool verified;
  int validation_errors;
  const std::string& unmet;  // see unmet_requirement()
};

std::string or_null(const std::string& s) { return s.empty() ? "null" : json_str(s); }

void print_json(const Report& r) {
  const auto& rep = r.dev.report();
  const Options& o = r.o;
  std::string j = "{\n";
  j += "  \"device\": {\"name\": " + json_str(rep.device_name) + ", \"driver\": " +
       json_str(vulkan_driver_id_name(rep.driver_id)) + ", \"driver_info\": " + json_str(rep.driver_info) +
       ", \"api_version\": " + json_str(vulkan_version_string(rep.api_version)) +
       ", \"caps\": " + json_str(describe(r.dev.caps())) + "},\n";
  j += "  \"backend\": " + json_str(backend_name(r.backend)) + ", \"requested\": " + json_str(o.backend) + ",\n";
  j += "  \"wait_path\": " + json_str(r.bridged.wait_path) + ", \"completion_path\": " +
       json_str(r.bridged.completion_path) + ",\n";
  j += "  \"required\": {\"wait_path\": " + or_null(o.require_wait_path) + ", \"completion_path\": " +
       or_null(o.require_completion_path) + ", \"met\": " + (r.unmet.empty() ? "true" : "false") +
       ", \"why_not\": " + or_null(r.unmet) + "},\n";
  j += "  \"frames\": " + std::to_string(o.frames) + ", \"rounds\": " + std::to_string(o.rounds) +
       ", \"frames_in_flight\": " + std::to_string(o.in_flight) + ", \"elements\": " + std::to_string(o.elements) +
       ", \"validation\": " + (o.validate ? "true" : "false") + ",\n";
  j += "  \"verified\": " + std::string(r.verified ? "true" : "false") +
       ", \"validation_errors\": " + std::to_string(r.validation_errors) + ",\n";
  j += "  \"bridge\": " + run_json(r.bridged, r.bs) + ",\n";
  j += "  \"baseline\": " + (o.baseline ? run_json(r.base, r.ss) : std::string("null")) + ",\n";
  j += "  \"added_median_us\": {\"signal_to_gpu_start\": " +
       (o.baseline ? num(r.bs.to_gpu_start.p50 - r.ss.to_gpu_start.p50) : "null") + ", \"signal_to_cpu_done\": " +
       (o.baseline ? num(r.bs.to_cpu_done.p50 - r.ss.to_cpu_done.p50) : "null") + "},\n";
  j += "  \"notes\": [";
  for (std::size_t i = 0; i < r.notes.size(); ++i) j += (i ? ", " : "") + json_str(r.notes[i]);
  j += "]\n}\n";
  std::fputs(j.c_str(), stdout);
}

void print_run(const char* title, const RunResult& r, const Summary& s) {
  std::printf("  %s: %s, %.1f frames/s\n", title, r.bad_frames ? "WRONG DATA" : "verified", s.throughput_fps);
  print_stats("CPU signal -> GPU start", s.to_gpu_start);
  print_stats("CPU signal -> CPU sees done", s.to_cpu_done);
  print_stats("GPU ready -> GPU start", s.gpu_wake);
  if (!r.first_error.empty()) std::printf("    first error: %s\n", r.first_error.c_str());
}

void print_text(const Report& r) {
  const auto& rep = r.dev.report();
  const Options& o = r.o;
  std::printf("device:   %s (%s, %s, Vulkan %s)\n", rep.device_name.c_str(), vulkan_driver_id_name(rep.driver_id),
              rep.driver_info.c_str(), vulkan_version_string(rep.api_version).c_str());
  std::printf("caps:     %s\n", describe(r.dev.caps()).c_str());
  std::printf("backend:  %s (requested %s)\n", backend_name(r.backend), o.backend.c_str());
  std::printf("paths:    CPU->GPU %s, GPU->CPU %s\n", r.bridged.wait_path.c_str(), r.bridged.completion_path.c_str());
  if (!o.require_wait_path.empty() || !o.require_completion_path.empty())
    std::printf("required: CPU->GPU %s, GPU->CPU %s: %s\n",
                o.require_wait_path.empty() ? "any" : o.require_wait_path.c_str(),
                o.require_completion_path.empty() ? "any" : o.require_completion_path.c_str(),
                r.unmet.empty() ? "met" : "NOT MET");
  for (const auto& n : r.notes) std::printf("note:     %s\n", n.c_str());
  std::printf("frames:   %u x %u rounds, %u elements, %u in flight\n", o.frames, o.rounds, o.elements, o.in_flight);
  print_run(("bridge/" + std::string(backend_name(r.backend))).c_str(), r.bridged, r.bs);
  if (o.baseline) {
    print_run("baseline (plain timeline semaphore)", r.base, r.ss);
    std::printf("  added median: %+.1f us to GPU start, %+.1f us to CPU done\n",
                r.bs.to_gpu_start.p50 - r.ss.to_gpu_start.p50, r.bs.to_cpu_done.p50 - r.ss.to_cpu_done.p50);
  }
  std::printf("result:   %s\n", r.verified ? "VERIFIED" : "FAILED");
}

// ---- main

int main_impl(int argc, char** argv) {
  const std::int64_t program_start_ns = now_ns();
  const Options o = parse(argc, argv);
  std::unique_ptr<TraceWriter> trace;  // opened first: a path that cannot be written fails at once
  if (std::string why; !o.trace.empty() && !(trace = TraceWriter::open(o.trace, why)))
    usage(("--trace " + why).c_str());
  auto loader = VulkanLoader::open();
  if (!loader) {
    std::fprintf(stderr, "syncbridge-gpu-pipeline: %s\n", loader.error().message().c_str());
    return 4;
  }
  std::atomic<int> validation_errors{0};
  VulkanContextOptions co;
  co.application_name = "syncbridge-gpu-pipeline";
  co.device = o.device;
  co.validation = o.validate;
  co.on_message = [&](VkDebugUtilsMessageSeverityFlagBitsEXT sev, VkDebugUtilsMessageTypeFlagsEXT, const char* text) {
    const bool error = sev >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    const bool explained = error && live_streams().explains(text);
    if (error && !explained) ++validation_errors;
    std::fprintf(stderr, "vulkan %s: %s\n", explained ? "error (explained by the completion stream)" : error ? "error" : "warning",
                 text);
  };
  auto ctx = VulkanContext::create(loader->get_instance_proc_addr(), co);
  if (!ctx) {
    std::fprintf(stderr, "syncbridge-gpu-pipeline: %s\n", ctx.error().describe().c_str());
    return 4;
  }
  const VulkanDevice& dev = (*ctx)->bridge_device();
  auto choice = choose(o.backend, dev);
  if (!choice) {
    std::fprintf(stderr, "syncbridge-gpu-pipeline: --backend %s: unsupported on this machine: %s\n", o.backend.c_str(),
                 choice.error().message().c_str());
    if (o.json)
      std::printf("{\"backend\": %s, \"unsupported\": %s}\n", json_str(o.backend).c_str(),
                  json_str(choice.error().message()).c_str());
    return 3;
  }
  auto job = ComputeJob::create(**ctx, o.in_flight, o.elements);
  if (!job) {
    std::fprintf(stderr, "syncbridge-gpu-pipeline: %s\n", job.error().describe().c_str());
    return 4;
  }
  const Backend backend = choice->backend;
  Rounds rounds;
  rounds.notes = choice->notes;
  if (!(*job)->has_timestamps()) rounds.notes.push_back("no GPU start times: " + (*job)->timestamp_note());
  if (auto failed = run_rounds(**job, dev, o, *choice, program_start_ns, rounds)) return *failed;

  const bool ts = (*job)->has_timestamps();
  const Summary bs = summarize(rounds.bridged, ts);
  const Summary ss = summarize(rounds.base, ts);
  const RunResult bridged = combine(rounds.bridged);
  const RunResult base = combine(rounds.base);
  const bool verified = bridged.bad_frames == 0 && (!o.baseline || base.bad_frames == 0) && validation_errors == 0;
  const std::string unmet = unmet_requirement(o, rounds.bridged, backend, dev.caps());
  const Report report{o, dev, backend, rounds.notes, bridged, base, bs, ss, verified, validation_errors.load(), unmet};
  if (o.json) print_json(report);
  else print_text(report);
  if (trace && !write_trace(*trace, rounds)) return 1;
  if (!unmet.empty()) std::fprintf(stderr, "syncbridge-gpu-pipeline: %s\n", unmet.c_str());
  if (!verified) return 1;
  return unmet.empty() ? 0 : 5;
}

}  // namespace
}  // namespace gpu_pipeline

int main(int argc, char** argv) { return gpu_pipeline::main_impl(argc, argv); }
