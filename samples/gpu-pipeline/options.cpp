#include "options.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "syncbridge/vulkan_bridge.h"

namespace gpu_pipeline {

using namespace syncbridge;

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

namespace {

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

}  // namespace

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--backend")
      o.backend = value();
    else if (a == "--frames")
      o.frames = parse_u32(value(), "--frames", 1, 10'000'000);
    else if (a == "--frames-in-flight")
      o.in_flight = parse_u32(value(), "--frames-in-flight", 1, 64);
    else if (a == "--elements")
      o.elements = parse_u32(value(), "--elements", 64, 1u << 26);
    else if (a == "--rounds")
      o.rounds = parse_u32(value(), "--rounds", 1, 100);
    else if (a == "--device")
      o.device = value();
    else if (a == "--json")
      o.json = true;
    else if (a == "--validate")
      o.validate = true;
    else if (a == "--no-baseline")
      o.baseline = false;
    else if (a == "--stall-timeout")
      o.stall_timeout_s = parse_seconds(value(), "--stall-timeout");
    else if (a == "--trace")
      o.trace = value();
    else if (a == "--require-wait-path")
      o.require_wait_path = value();
    else if (a == "--require-completion-path")
      o.require_completion_path = value();
    else if (a == "--help" || a == "-h")
      usage(nullptr);
    else
      usage(("unknown option " + a).c_str());
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

}  // namespace gpu_pipeline
