// syncbridge-probe: what this machine offers the bridge, and which path each combination takes.
//
//   syncbridge-probe [--json] [--no-import-check]
//
// Reports the kernel (version, sw_sync and its permission, whether creating a sw_sync fence taints
// the kernel, sync_file deadlines, /dev/udmabuf), every DRM
// render node (driver, syncobj, timeline, eventfd), every Vulkan device (driver, API version,
// each external semaphore/fence handle type for import/export, timeline semaphores, whether
// OPAQUE_FD is a DRM syncobj: tried for real with one import on Mesa drivers when a render node
// with timeline syncobjs exists), and for each Vulkan device the bridge path of each input
// kind (core fence, sw_sync sync_file, DRM syncobj point) and of the completion.
// Exit status: 0 when at least one complete CPU -> GPU -> CPU path exists, 1 otherwise.
#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "probe.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/kernel_probe.h"
#include "syncbridge/result.h"
#include "syncbridge/sw_sync.h"
#include "syncbridge/syncobj_exporter.h"
#include "syncbridge/unique_fd.h"
#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/vulkan_caps.h"
#include "syncbridge/vulkan_context.h"
#include "syncbridge/vulkan_loader.h"

namespace probe {
namespace {

using namespace syncbridge;

constexpr const char* kTaintPath = "/proc/sys/kernel/tainted";
constexpr const char* kUdmabufPath = "/dev/udmabuf";

Result<UniqueFd> open_file(const char* path, int flags) {
  const int fd = ::open(path, flags | O_CLOEXEC);
  if (fd < 0) return Error::from_errno(errno, std::string("open ") + path + " failed");
  return UniqueFd(fd);
}

// The kernel's taint mask (one decimal number: bit n is flag n of taint_flags[] in kernel/panic.c).
Result<std::uint64_t> read_taint() {
  auto fd = open_file(kTaintPath, O_RDONLY);
  if (!fd) return std::move(fd).error();
  char buf[32];
  const ssize_t n = ::read(fd->get(), buf, sizeof buf - 1);
  if (n < 0) return Error::from_errno(errno, std::string("read ") + kTaintPath + " failed");
  std::uint64_t mask = 0;
  const auto [end, ec] = std::from_chars(buf, buf + n, mask);
  if (ec != std::errc() || end == buf)
    return Error(Errc::invalid_argument, EINVAL, std::string(kTaintPath) + " does not hold a number");
  return mask;
}

// The letters `Tainted:` lines print for the bits of mask (kernel/panic.c, taint_flags[]).
std::string taint_letters(std::uint64_t mask) {
  static constexpr char kLetters[] = "PFSRMBUDAWCIOELKXTNJ";
  std::string out;
  for (std::size_t bit = 0; bit < 64; ++bit) {
    if (!(mask >> bit & 1)) continue;
    if (bit < sizeof kLetters - 1)
      out += kLetters[bit];
    else
      out += "?";  // a flag newer than this table
  }
  return out;
}

// Must run before anything else in the process touches sw_sync: taint flags stay set until
// reboot, so only a flag that appears between the two reads is known to come from the fence.
// Another process tainting the kernel in that window would be blamed on sw_sync (unlikely).
TaintCheck check_sw_sync_taint(const Result<SwSyncTimeline>& tl, const Result<std::uint64_t>& before) {
  TaintCheck t;
  if (!before) {
    t.note = "not probed: " + before.error().message();
    return t;
  }
  const std::uint64_t was = before.value();
  t.before = was;
  if (!tl) {
    t.note = "not probed: sw_sync is not usable here (see its note)";
    return t;
  }
  auto fence = tl->create_fence(1, "probe-taint");
  if (!fence) {
    t.note = "not probed: " + fence.error().message();
    return t;
  }
  auto after = read_taint();
  if (!after) {
    t.note = "not probed: " + after.error().message();
    return t;
  }
  t.after = *after;
  const std::uint64_t added = *after & ~was;
  t.taints = added != 0;
  t.new_flags = taint_letters(added);
  if (added)
    t.note = "opening sw_sync and creating a fence set taint flag(s) " + t.new_flags + " (" + hex(added) + ")";
  else if (was)
    t.note = "no new taint flag; flags set before (" + taint_letters(was) + ", " + hex(was) +
             ") cannot show again: an earlier sw_sync user may have set one of them";
  else
    t.note = "the kernel stayed untainted";
  return t;
}

Udmabuf probe_udmabuf() {
  Udmabuf u;
  std::error_code ec;
  u.present = std::filesystem::exists(kUdmabufPath, ec);
  if (!u.present) {
    u.note = std::string("no ") + kUdmabufPath + " (kernel without CONFIG_UDMABUF, or the udmabuf module not loaded)";
    return u;
  }
  // Read-write, as a driver opens it to create dma-bufs; nothing is created here.
  auto fd = open_file(kUdmabufPath, O_RDWR);
  u.openable = fd.ok();
  u.note = fd ? "a CPU Vulkan driver (lavapipe) can back its memory with dma-bufs: SYNC_FD import/export possible"
              : fd.error().describe() + ": a CPU Vulkan driver cannot offer SYNC_FD here";
  return u;
}

Kernel probe_kernel() {
  Kernel k;
  utsname u{};
  if (::uname(&u) == 0) k.release = std::string(u.sysname) + " " + u.release;
  const auto taint_before = read_taint();
  auto tl = SwSyncTimeline::open();
  k.taint = check_sw_sync_taint(tl, taint_before);
  if (tl) {
    k.sw_sync_status = "available";
  } else if (tl.error().code() == Errc::permission_denied) {
    k.sw_sync_status = "permission denied";
    k.sw_sync_note = tl.error().message();
  } else {
    k.sw_sync_status = "missing";
    k.sw_sync_note = tl.error().message();
  }
  const SyncProbe p = probe_sync_features();
  k.sw_sync = p.has(SyncFeature::sw_sync);
  if (k.sw_sync) k.deadline = p.has(SyncFeature::sync_file_set_deadline);
  k.notes = p.notes;
  k.udmabuf = probe_udmabuf();
  return k;
}

std::vector<Node> probe_nodes() {
  std::vector<Node> out;
  std::error_code ec;
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::directory_iterator("/dev/dri", ec))
    if (e.path().filename().string().rfind("renderD", 0) == 0) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    Node n;
    n.path = path;
    DrmOpenOptions o;
    o.required = DrmCap::none;  // report every node, whatever it lacks
    auto d = DrmDevice::open(path, o);
    if (!d) {
      n.error = d.error().message();
    } else {
      n.opened = true;
      n.driver = d->driver_name();
      n.syncobj = d->has(DrmCap::syncobj);
      n.timeline = d->has(DrmCap::syncobj_timeline);
      n.eventfd = d->has(DrmCap::syncobj_eventfd);
      n.notes = d->notes();
    }
    out.push_back(std::move(n));
  }
  return out;
}

// OPAQUE_FD is a syncobj only if an import of a real syncobj fd succeeds (Mesa drivers only).
void check_syncobj_import(VkDev& v, const VulkanLoader& loader, const std::vector<Node>& nodes, bool allowed) {
  const auto& r = v.choice.report;
  if (!vulkan_driver_uses_drm_syncobj(r.driver_id)) {
    v.syncobj_check = std::string("no: ") + vulkan_driver_id_name(r.driver_id) +
                      " is not a Mesa DRM driver (OPAQUE_FD is driver-defined; not a syncobj)";
    v.opaque_is_syncobj = false;
    return;
  }
  if (!has(r.caps, VulkanCaps::opaque_fd_timeline_import)) {
    v.syncobj_check = "no: no OPAQUE_FD timeline semaphore import";
    v.opaque_is_syncobj = false;
    return;
  }
  if (!allowed) {
    v.syncobj_check = "not tried (--no-import-check): expected yes for this Mesa driver";
    return;
  }
  auto node = std::find_if(nodes.begin(), nodes.end(), [](const Node& n) { return n.timeline; });
  if (node == nodes.end()) {
    v.syncobj_check = "not tried: no render node with timeline syncobjs to take one from";
    return;
  }
  VulkanContextOptions o;
  o.application_name = "syncbridge-probe";
  o.device = std::to_string(v.choice.index);
  o.on_message = [](VkDebugUtilsMessageSeverityFlagBitsEXT, VkDebugUtilsMessageTypeFlagsEXT, const char*) {};
  auto ctx = VulkanContext::create(loader.get_instance_proc_addr(), o);
  if (!ctx) {
    v.syncobj_check = "not tried: " + ctx.error().message();
    return;
  }
  auto drm = DrmDevice::open(node->path);
  if (!drm) {
    v.syncobj_check = "not tried: " + drm.error().message();
    return;
  }
  auto exporter = SyncobjExporter::create(*drm, "probe");
  auto bridge = VulkanBridge::create((*ctx)->bridge_device());
  if (!exporter || !bridge) {
    v.syncobj_check = "not tried: " + (!exporter ? exporter.error().message() : bridge.error().message());
    return;
  }
  auto fd = exporter->export_syncobj_fd();
  if (!fd) {
    v.syncobj_check = "not tried: " + fd.error().message();
    return;
  }
  auto imported = (*bridge)->import_syncobj(std::move(*fd));
  if (imported) {
    v.syncobj_check = "yes: a syncobj from " + node->path + " imported as an OPAQUE_FD timeline semaphore";
    v.opaque_is_syncobj = true;
  } else {
    v.syncobj_check = "no: the driver refused a syncobj fd: " + imported.error().message();
    v.opaque_is_syncobj = false;
  }
}

std::vector<Path> paths_for(const VkDev& v, const Kernel& k, const std::vector<Node>& nodes) {
  std::vector<Path> out;
  const auto& r = v.choice.report;
  const VulkanCaps c = r.caps;
  const std::string completion = has(c, VulkanCaps::sync_fd_semaphore_export) ? "sync_fd_export" : "timeline_wait";
  const bool usable = v.choice.usable;
  const bool syncobj_node = std::any_of(nodes.begin(), nodes.end(), [](const Node& n) { return n.timeline; });
  Path host{"core fence", "host_signal", completion, usable, usable ? "" : v.choice.why_not};
  out.push_back(host);
  Path sw{"sw_sync sync_file",
          has(c, VulkanCaps::sync_fd_semaphore_import) ? "sync_fd_import" : "host_signal (watcher)", completion,
          usable && k.sw_sync, ""};
  if (!usable)
    sw.why = v.choice.why_not;
  else if (!k.sw_sync)
    sw.why = "sw_sync " + k.sw_sync_status;
  out.push_back(sw);
  const bool native_syncobj = v.opaque_is_syncobj.value_or(has(c, VulkanCaps::opaque_fd_maybe_syncobj));
  // Without OPAQUE_FD syncobj import, a point that has materialized goes native through its
  // sync_file; one not submitted yet is released from the host by the watcher.
  const std::string syncobj_wait = native_syncobj ? "syncobj_timeline"
                                   : has(c, VulkanCaps::sync_fd_semaphore_import)
                                       ? "sync_fd_import (submitted point), host_signal (watcher) before"
                                       : "host_signal (watcher)";
  Path so{"DRM syncobj point", syncobj_wait, completion, usable && syncobj_node, ""};
  if (!usable)
    so.why = v.choice.why_not;
  else if (!syncobj_node)
    so.why = "no render node with timeline syncobjs";
  out.push_back(so);
  return out;
}

// Probes the kernel, the render nodes and every Vulkan device, in that order (the taint check
// must come first: see check_sw_sync_taint).
Findings probe_machine(bool import_check) {
  Findings f;
  f.kernel = probe_kernel();
  f.nodes = probe_nodes();
  auto loader = VulkanLoader::open();
  if (!loader) {
    f.vulkan_error = loader.error().message();
  } else {
    auto list = list_vulkan_devices(loader->get_instance_proc_addr());
    if (!list)
      f.vulkan_error = list.error().message();
    else if (list->empty())
      f.vulkan_error = "no Vulkan physical device (no ICD found by the loader)";
    else
      for (auto& c : *list) {
        VkDev v;
        v.choice = std::move(c);
        if (v.choice.why_not.empty() || v.choice.report.device_name.size())
          check_syncobj_import(v, *loader, f.nodes, import_check);
        f.devices.push_back(std::move(v));
      }
  }
  for (const auto& v : f.devices) {
    f.paths.push_back(paths_for(v, f.kernel, f.nodes));
    for (const auto& p : f.paths.back()) f.any_complete |= p.complete;
  }
  return f;
}

int main_impl(int argc, char** argv) {
  bool json = false, import_check = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json"))
      json = true;
    else if (!std::strcmp(argv[i], "--no-import-check"))
      import_check = false;
    else {
      std::fprintf(stderr, "usage: syncbridge-probe [--json] [--no-import-check]\n");
      return 2;
    }
  }
  const Findings f = probe_machine(import_check);
  if (json)
    print_json(f);
  else
    print_text(f);
  return f.any_complete ? 0 : 1;
}

}  // namespace
}  // namespace probe

int main(int argc, char** argv) { return probe::main_impl(argc, argv); }
