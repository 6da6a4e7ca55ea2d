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
//
// Files: options (the command line), backend (which producer timeline), bridge_sync (the
// FrameSync under test: bridge or baseline), pipeline and run_monitor (one run's threads and
// its watchdog), compute_job (the Vulkan work), report (statistics and output), trace (--trace).
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "bridge_sync.h"
#include "compute_job.h"
#include "json_text.h"
#include "options.h"
#include "pipeline.h"
#include "report.h"
#include "run_monitor.h"
#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/vulkan_caps.h"
#include "syncbridge/vulkan_context.h"
#include "syncbridge/vulkan_loader.h"
#include "trace.h"

namespace gpu_pipeline {
namespace {

using namespace syncbridge;
using syncbridge::samples::json_str;

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
      auto sync = BridgeSync::create(dev, std::move(choice.kernel), o.frames);
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

// ---- main

// The Vulkan context the runs share, with the validation callback (errors the completion
// stream does not explain are counted); null after printing why.
std::unique_ptr<VulkanContext> open_context(const VulkanLoader& loader, const Options& o,
                                            std::atomic<int>& validation_errors) {
  VulkanContextOptions co;
  co.application_name = "syncbridge-gpu-pipeline";
  co.device = o.device;
  co.validation = o.validate;
  co.on_message = [&](VkDebugUtilsMessageSeverityFlagBitsEXT sev, VkDebugUtilsMessageTypeFlagsEXT, const char* text) {
    const bool error = sev >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    const bool explained = error && live_streams().explains(text);
    if (error && !explained) ++validation_errors;
    std::fprintf(stderr, "vulkan %s: %s\n",
                 explained ? "error (explained by the completion stream)"
                 : error   ? "error"
                           : "warning",
                 text);
  };
  auto ctx = VulkanContext::create(loader.get_instance_proc_addr(), co);
  if (!ctx) {
    std::fprintf(stderr, "syncbridge-gpu-pipeline: %s\n", ctx.error().describe().c_str());
    return nullptr;
  }
  return std::move(*ctx);
}

// The summaries, the report, --trace and the exit status of rounds that ran.
int report(const Options& o, const ComputeJob& job, const VulkanDevice& dev, Backend backend, const Rounds& rounds,
           int validation_errors, TraceWriter* trace) {
  const bool ts = job.has_timestamps();
  const Summary bs = summarize(rounds.bridged, ts);
  const Summary ss = summarize(rounds.base, ts);
  const RunResult bridged = combine(rounds.bridged);
  const RunResult base = combine(rounds.base);
  const bool verified = bridged.bad_frames == 0 && (!o.baseline || base.bad_frames == 0) && validation_errors == 0;
  const std::string unmet = unmet_requirement(o, rounds.bridged, backend, dev.caps());
  const Report r{o, dev, backend, rounds.notes, bridged, base, bs, ss, verified, validation_errors, unmet};
  if (o.json)
    print_json(r);
  else
    print_text(r);
  if (trace && !write_trace(*trace, rounds)) return 1;
  if (!unmet.empty()) std::fprintf(stderr, "syncbridge-gpu-pipeline: %s\n", unmet.c_str());
  if (!verified) return 1;
  return unmet.empty() ? 0 : 5;
}

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
  std::unique_ptr<VulkanContext> ctx = open_context(*loader, o, validation_errors);
  if (!ctx) return 4;
  const VulkanDevice& dev = ctx->bridge_device();
  auto choice = choose(o.backend, dev);
  if (!choice) {
    std::fprintf(stderr, "syncbridge-gpu-pipeline: --backend %s: unsupported on this machine: %s\n", o.backend.c_str(),
                 choice.error().message().c_str());
    if (o.json)
      std::printf("{\"backend\": %s, \"unsupported\": %s}\n", json_str(o.backend).c_str(),
                  json_str(choice.error().message()).c_str());
    return 3;
  }
  auto job = ComputeJob::create(*ctx, o.in_flight, o.elements);
  if (!job) {
    std::fprintf(stderr, "syncbridge-gpu-pipeline: %s\n", job.error().describe().c_str());
    return 4;
  }
  Rounds rounds;
  rounds.notes = choice->notes;
  if (!(*job)->has_timestamps()) rounds.notes.push_back("no GPU start times: " + (*job)->timestamp_note());
  if (auto failed = run_rounds(**job, dev, o, *choice, program_start_ns, rounds)) return *failed;
  return report(o, **job, dev, choice->backend, rounds, validation_errors.load(), trace.get());
}

}  // namespace
}  // namespace gpu_pipeline

int main(int argc, char** argv) { return gpu_pipeline::main_impl(argc, argv); }
