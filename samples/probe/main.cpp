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

#include "json_text.h"
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

using syncbridge::samples::json_str;
const char* yn(bool b) { return b ? "yes" : "no"; }
const char* jb(bool b) { return b ? "true" : "false"; }

// /proc/sys/kernel/tainted around the creation of one sw_sync timeline and fence: a recent upstream
// change makes sw_sync (a test-only interface) taint the kernel, which CI kernels that fail on
// any taint then trip over.
struct TaintCheck {
  std::optional<bool> taints;  // null: not probed (no sw_sync, or the taint file unreadable)
  std::optional<std::uint64_t> before, after;
  std::string new_flags;  // letters of the flags set in between, as in "Tainted: G W N"
  std::string note;
};

// /dev/udmabuf turns memfd pages into dma-bufs: a CPU Vulkan driver such as Mesa's lavapipe
// offers SYNC_FD semaphore/fence import and export only where it can open it.
struct Udmabuf {
  bool present = false, openable = false;
  std::string note;
};

struct Kernel {
  std::string release;
  bool sw_sync = false;
  std::string sw_sync_status;  // "available", "permission denied", "missing"
  std::string sw_sync_note;
  TaintCheck taint;
  std::optional<bool> deadline;  // unknown without sw_sync to try it on
  Udmabuf udmabuf;
  std::vector<std::string> notes;
};

struct Node {
  std::string path, driver;
  bool opened = false, syncobj = false, timeline = false, eventfd = false;
  std::string error;
  std::vector<std::string> notes;
};

struct VkDev {
  VulkanDeviceChoice choice;
  std::string syncobj_check;  // "confirmed", "refused: ...", "not tried: ..."
  std::optional<bool> opaque_is_syncobj;
};

struct Path {
  std::string input, wait_path, completion_path;
  bool complete = false;
  std::string why;
};

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

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
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

std::string handle_json(const VulkanHandleSupport& h) {
  return std::string("{\"handle_type\": \"") + h.handle_type +
         "\", \"binary_semaphore\": {\"import\": " + jb(h.binary_import) + ", \"export\": " + jb(h.binary_export) +
         "}, \"timeline_semaphore\": {\"import\": " + jb(h.timeline_import) + ", \"export\": " + jb(h.timeline_export) +
         "}, \"fence\": {\"import\": " + jb(h.fence_import) + ", \"export\": " + jb(h.fence_export) + "}}";
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete_gpu";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated_gpu";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual_gpu";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
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
  const Kernel k = probe_kernel();
  const std::vector<Node> nodes = probe_nodes();
  std::string vulkan_error_text;
  std::vector<VkDev> devs;
  auto loader = VulkanLoader::open();
  if (!loader) {
    vulkan_error_text = loader.error().message();
  } else {
    auto list = list_vulkan_devices(loader->get_instance_proc_addr());
    if (!list)
      vulkan_error_text = list.error().message();
    else if (list->empty())
      vulkan_error_text = "no Vulkan physical device (no ICD found by the loader)";
    else
      for (auto& c : *list) {
        VkDev v;
        v.choice = std::move(c);
        if (v.choice.why_not.empty() || v.choice.report.device_name.size())
          check_syncobj_import(v, *loader, nodes, import_check);
        devs.push_back(std::move(v));
      }
  }
  bool any_complete = false;
  std::vector<std::vector<Path>> all_paths;
  for (const auto& v : devs) {
    all_paths.push_back(paths_for(v, k, nodes));
    for (const auto& p : all_paths.back()) any_complete |= p.complete;
  }

  if (json) {
    std::string j = "{\n  \"schema\": \"syncbridge-probe/1\",\n";
    j += "  \"kernel\": {\"release\": " + json_str(k.release) +
         ", \"sw_sync\": {\"status\": " + json_str(k.sw_sync_status) + ", \"usable\": " + jb(k.sw_sync) +
         ", \"note\": " + json_str(k.sw_sync_note) +
         "}, \"sw_sync_taints\": " + (k.taint.taints ? jb(*k.taint.taints) : "null") +
         ", \"taint\": {\"before\": " + (k.taint.before ? std::to_string(*k.taint.before) : "null") +
         ", \"after\": " + (k.taint.after ? std::to_string(*k.taint.after) : "null") +
         ", \"new_flags\": " + json_str(k.taint.new_flags) + ", \"note\": " + json_str(k.taint.note) +
         "}, \"sync_file_deadline\": " + (k.deadline ? jb(*k.deadline) : "null") +
         ", \"udmabuf\": {\"present\": " + jb(k.udmabuf.present) + ", \"openable\": " + jb(k.udmabuf.openable) +
         ", \"note\": " + json_str(k.udmabuf.note) + "}, \"notes\": [";
    for (std::size_t i = 0; i < k.notes.size(); ++i) j += (i ? ", " : "") + json_str(k.notes[i]);
    j += "]},\n  \"drm_render_nodes\": [";
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const auto& n = nodes[i];
      j += std::string(i ? ",\n    " : "\n    ") + "{\"path\": " + json_str(n.path) +
           ", \"driver\": " + json_str(n.driver) + ", \"opened\": " + jb(n.opened) + ", \"syncobj\": " + jb(n.syncobj) +
           ", \"syncobj_timeline\": " + jb(n.timeline) + ", \"syncobj_eventfd\": " + jb(n.eventfd) +
           ", \"error\": " + json_str(n.error) + "}";
    }
    j += "],\n  \"vulkan\": {\"error\": " +
         (vulkan_error_text.empty() ? std::string("null") : json_str(vulkan_error_text)) + ", \"devices\": [";
    for (std::size_t i = 0; i < devs.size(); ++i) {
      const auto& v = devs[i];
      const auto& r = v.choice.report;
      j += std::string(i ? ",\n    " : "\n    ") + "{\"index\": " + std::to_string(v.choice.index) +
           ", \"name\": " + json_str(r.device_name) + ", \"type\": \"" + type_name(r.device_type) +
           "\", \"driver_id\": \"" + vulkan_driver_id_name(r.driver_id) +
           "\", \"driver_name\": " + json_str(r.driver_name) + ", \"driver_info\": " + json_str(r.driver_info) +
           ", \"api_version\": " + json_str(vulkan_version_string(r.api_version)) +
           ", \"usable\": " + jb(v.choice.usable) + ", \"why_not\": " + json_str(v.choice.why_not) +
           ", \"timeline_semaphore\": " + jb(r.timeline_semaphore_feature) +
           ", \"synchronization2\": " + jb(r.synchronization2_feature) +
           ", \"external_semaphore_fd\": " + jb(r.has_external_semaphore_fd) +
           ", \"external_fence_fd\": " + jb(r.has_external_fence_fd) + ", \"handles\": [";
      for (std::size_t h = 0; h < r.handles.size(); ++h) j += (h ? ", " : "") + handle_json(r.handles[h]);
      j += "], \"caps\": " + json_str(describe(r.caps)) +
           ", \"opaque_fd_is_syncobj\": " + (v.opaque_is_syncobj ? jb(*v.opaque_is_syncobj) : "null") +
           ", \"opaque_fd_syncobj_check\": " + json_str(v.syncobj_check) + ", \"paths\": [";
      const auto& ps = all_paths[i];
      for (std::size_t p = 0; p < ps.size(); ++p)
        j += std::string(p ? ", " : "") + "{\"input\": " + json_str(ps[p].input) +
             ", \"cpu_to_gpu\": " + json_str(ps[p].wait_path) + ", \"gpu_to_cpu\": " + json_str(ps[p].completion_path) +
             ", \"complete\": " + jb(ps[p].complete) + ", \"why_not\": " + json_str(ps[p].why) + "}";
      j += "]}";
    }
    j += "]},\n  \"complete_path\": " + std::string(jb(any_complete)) + "\n}\n";
    std::fputs(j.c_str(), stdout);
  } else {
    std::printf("kernel:      %s\n", k.release.c_str());
    std::printf("sw_sync:     %s%s%s\n", k.sw_sync_status.c_str(), k.sw_sync_note.empty() ? "" : " — ",
                k.sw_sync_note.c_str());
    std::printf("taint:       a sw_sync fence taints the kernel: %s — %s",
                k.taint.taints ? yn(*k.taint.taints) : "unknown", k.taint.note.c_str());
    if (k.taint.before) std::printf(" (tainted %s before", hex(*k.taint.before).c_str());
    if (k.taint.after) std::printf(", %s after", hex(*k.taint.after).c_str());
    if (k.taint.before) std::printf(")");
    std::printf("\n");
    std::printf("deadline:    %s\n", k.deadline ? yn(*k.deadline) : "unknown (needs sw_sync to probe)");
    std::printf("udmabuf:     %s — %s\n",
                k.udmabuf.openable  ? "opens"
                : k.udmabuf.present ? "present, cannot open"
                                    : "missing",
                k.udmabuf.note.c_str());
    for (const auto& n : k.notes) std::printf("             note: %s\n", n.c_str());
    if (nodes.empty()) std::printf("DRM nodes:   none (/dev/dri has no render node)\n");
    for (const auto& n : nodes) {
      if (!n.opened)
        std::printf("DRM node:    %s: %s\n", n.path.c_str(), n.error.c_str());
      else
        std::printf("DRM node:    %s (%s): syncobj %s, timeline %s, eventfd %s\n", n.path.c_str(), n.driver.c_str(),
                    yn(n.syncobj), yn(n.timeline), yn(n.eventfd));
    }
    if (!vulkan_error_text.empty()) std::printf("Vulkan:      %s\n", vulkan_error_text.c_str());
    for (std::size_t i = 0; i < devs.size(); ++i) {
      const auto& v = devs[i];
      const auto& r = v.choice.report;
      std::printf("Vulkan %u:    %s (%s, %s %s, Vulkan %s)%s%s\n", v.choice.index, r.device_name.c_str(),
                  type_name(r.device_type), vulkan_driver_id_name(r.driver_id), r.driver_info.c_str(),
                  vulkan_version_string(r.api_version).c_str(),
                  v.choice.usable ? "" : " — not usable: ", v.choice.why_not.c_str());
      std::printf(
          "             timeline semaphores %s, synchronization2 %s, VK_KHR_external_semaphore_fd %s, "
          "VK_KHR_external_fence_fd %s\n",
          yn(r.timeline_semaphore_feature), yn(r.synchronization2_feature), yn(r.has_external_semaphore_fd),
          yn(r.has_external_fence_fd));
      std::printf("             %-10s %-22s %-22s %-16s\n", "handle", "binary sem imp/exp", "timeline sem imp/exp",
                  "fence imp/exp");
      for (const auto& h : r.handles)
        std::printf("             %-10s %-3s / %-16s %-3s / %-16s %-3s / %-3s\n", h.handle_type, yn(h.binary_import),
                    yn(h.binary_export), yn(h.timeline_import), yn(h.timeline_export), yn(h.fence_import),
                    yn(h.fence_export));
      std::printf("             OPAQUE_FD is a DRM syncobj: %s\n", v.syncobj_check.c_str());
      for (const auto& p : all_paths[i])
        std::printf("             path %-18s CPU->GPU %-22s GPU->CPU %-15s %s%s\n", p.input.c_str(),
                    p.wait_path.c_str(), p.completion_path.c_str(),
                    p.complete ? "complete" : "unavailable: ", p.why.c_str());
    }
    std::printf("result:      %s\n",
                any_complete ? "at least one complete CPU->GPU->CPU path" : "no complete CPU->GPU->CPU path");
  }
  return any_complete ? 0 : 1;
}

}  // namespace
}  // namespace probe

int main(int argc, char** argv) { return probe::main_impl(argc, argv); }
