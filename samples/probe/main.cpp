// syncbridge-probe: what this machine offers the bridge, and which path each combination takes.
//
//   syncbridge-probe [--json] [--no-import-check]
//
// Reports the kernel (version, sw_sync and its permission, sync_file deadlines), every DRM
// render node (driver, syncobj, timeline, eventfd), every Vulkan device (driver, API version,
// each external semaphore/fence handle type for import/export, timeline semaphores, whether
// OPAQUE_FD is a DRM syncobj: tried for real with one import on Mesa drivers when a render node
// with timeline syncobjs exists), and for each Vulkan device the bridge path of each input
// kind (core fence, sw_sync sync_file, DRM syncobj point) and of the completion.
// Exit status: 0 when at least one complete CPU -> GPU -> CPU path exists, 1 otherwise.
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "json_text.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/kernel_probe.h"
#include "syncbridge/sw_sync.h"
#include "syncbridge/syncobj_exporter.h"
#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/vulkan_context.h"
#include "syncbridge/vulkan_loader.h"

namespace probe {
namespace {

using namespace syncbridge;

using syncbridge::samples::json_str;
const char* yn(bool b) { return b ? "yes" : "no"; }
const char* jb(bool b) { return b ? "true" : "false"; }

struct Kernel {
  std::string release;
  bool sw_sync = false;
  std::string sw_sync_status;  // "available", "permission denied", "missing"
  std::string sw_sync_note;
  std::optional<bool> deadline;  // unknown without sw_sync to try it on
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
  std::string syncobj_check;         // "confirmed", "refused: ...", "not tried: ..."
  std::optional<bool> opaque_is_syncobj;
};

struct Path {
  std::string input, wait_path, completion_path;
  bool complete = false;
  std::string why;
};

Kernel probe_kernel() {
  Kernel k;
  utsname u{};
  if (::uname(&u) == 0) k.release = std::string(u.sysname) + " " + u.release;
  auto tl = SwSyncTimeline::open();
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
    o.required = 0;  // report every node, whatever it lacks
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
  Path sw{"sw_sync sync_file", has(c, VulkanCaps::sync_fd_semaphore_import) ? "sync_fd_import" : "host_signal (watcher)",
          completion, usable && k.sw_sync, ""};
  if (!usable) sw.why = v.choice.why_not;
  else if (!k.sw_sync) sw.why = "sw_sync " + k.sw_sync_status;
  out.push_back(sw);
  const bool native_syncobj = v.opaque_is_syncobj.value_or(has(c, VulkanCaps::opaque_fd_maybe_syncobj));
  Path so{"DRM syncobj point", native_syncobj ? "syncobj_timeline" : "host_signal (watcher)", completion,
          usable && syncobj_node, ""};
  if (!usable) so.why = v.choice.why_not;
  else if (!syncobj_node) so.why = "no render node with timeline syncobjs";
  out.push_back(so);
  return out;
}

std::string handle_json(const VulkanHandleSupport& h) {
  return std::string("{\"handle_type\": \"") + h.handle_type + "\", \"binary_semaphore\": {\"import\": " +
         jb(h.binary_import) + ", \"export\": " + jb(h.binary_export) + "}, \"timeline_semaphore\": {\"import\": " +
         jb(h.timeline_import) + ", \"export\": " + jb(h.timeline_export) + "}, \"fence\": {\"import\": " +
         jb(h.fence_import) + ", \"export\": " + jb(h.fence_export) + "}}";
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
    if (!std::strcmp(argv[i], "--json")) json = true;
    else if (!std::strcmp(argv[i], "--no-import-check")) import_check = false;
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
    if (!list) vulkan_error_text = list.error().message();
    else if (list->empty()) vulkan_error_text = "no Vulkan physical device (no ICD found by the loader)";
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
    j += "  \"kernel\": {\"release\": " + json_str(k.release) + ", \"sw_sync\": {\"status\": " + json_str(k.sw_sync_status) +
         ", \"usable\": " + jb(k.sw_sync) + ", \"note\": " + json_str(k.sw_sync_note) + "}, \"sync_file_deadline\": " +
         (k.deadline ? jb(*k.deadline) : "null") + ", \"notes\": [";
    for (std::size_t i = 0; i < k.notes.size(); ++i) j += (i ? ", " : "") + json_str(k.notes[i]);
    j += "]},\n  \"drm_render_nodes\": [";
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const auto& n = nodes[i];
      j += std::string(i ? ",\n    " : "\n    ") + "{\"path\": " + json_str(n.path) + ", \"driver\": " + json_str(n.driver) +
           ", \"opened\": " + jb(n.opened) + ", \"syncobj\": " + jb(n.syncobj) + ", \"syncobj_timeline\": " +
           jb(n.timeline) + ", \"syncobj_eventfd\": " + jb(n.eventfd) + ", \"error\": " + json_str(n.error) + "}";
    }
    j += "],\n  \"vulkan\": {\"error\": " + (vulkan_error_text.empty() ? std::string("null") : json_str(vulkan_error_text)) +
         ", \"devices\": [";
    for (std::size_t i = 0; i < devs.size(); ++i) {
      const auto& v = devs[i];
      const auto& r = v.choice.report;
      j += std::string(i ? ",\n    " : "\n    ") + "{\"index\": " + std::to_string(v.choice.index) +
           ", \"name\": " + json_str(r.device_name) + ", \"type\": \"" + type_name(r.device_type) +
           "\", \"driver_id\": \"" + vulkan_driver_id_name(r.driver_id) + "\", \"driver_name\": " + json_str(r.driver_name) +
           ", \"driver_info\": " + json_str(r.driver_info) + ", \"api_version\": " +
           json_str(vulkan_version_string(r.api_version)) + ", \"usable\": " + jb(v.choice.usable) +
           ", \"why_not\": " + json_str(v.choice.why_not) + ", \"timeline_semaphore\": " + jb(r.timeline_semaphore_feature) +
           ", \"synchronization2\": " + jb(r.synchronization2_feature) + ", \"external_semaphore_fd\": " +
           jb(r.has_external_semaphore_fd) + ", \"external_fence_fd\": " + jb(r.has_external_fence_fd) +
           ", \"handles\": [";
      for (std::size_t h = 0; h < r.handles.size(); ++h) j += (h ? ", " : "") + handle_json(r.handles[h]);
      j += "], \"caps\": " + json_str(describe(r.caps)) + ", \"opaque_fd_is_syncobj\": " +
           (v.opaque_is_syncobj ? jb(*v.opaque_is_syncobj) : "null") + ", \"opaque_fd_syncobj_check\": " +
           json_str(v.syncobj_check) + ", \"paths\": [";
      const auto& ps = all_paths[i];
      for (std::size_t p = 0; p < ps.size(); ++p)
        j += std::string(p ? ", " : "") + "{\"input\": " + json_str(ps[p].input) + ", \"cpu_to_gpu\": " +
             json_str(ps[p].wait_path) + ", \"gpu_to_cpu\": " + json_str(ps[p].completion_path) +
             ", \"complete\": " + jb(ps[p].complete) + ", \"why_not\": " + json_str(ps[p].why) + "}";
      j += "]}";
    }
    j += "]},\n  \"complete_path\": " + std::string(jb(any_complete)) + "\n}\n";
    std::fputs(j.c_str(), stdout);
  } else {
    std::printf("kernel:      %s\n", k.release.c_str());
    std::printf("sw_sync:     %s%s%s\n", k.sw_sync_status.c_str(), k.sw_sync_note.empty() ? "" : " — ",
                k.sw_sync_note.c_str());
    std::printf("deadline:    %s\n", k.deadline ? yn(*k.deadline) : "unknown (needs sw_sync to probe)");
    for (const auto& n : k.notes) std::printf("             note: %s\n", n.c_str());
    if (nodes.empty()) std::printf("DRM nodes:   none (/dev/dri has no render node)\n");
    for (const auto& n : nodes) {
      if (!n.opened) std::printf("DRM node:    %s: %s\n", n.path.c_str(), n.error.c_str());
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
                  vulkan_version_string(r.api_version).c_str(), v.choice.usable ? "" : " — not usable: ",
                  v.choice.why_not.c_str());
      std::printf("             timeline semaphores %s, synchronization2 %s, VK_KHR_external_semaphore_fd %s, "
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
        std::printf("             path %-18s CPU->GPU %-22s GPU->CPU %-15s %s%s\n", p.input.c_str(), p.wait_path.c_str(),
                    p.completion_path.c_str(), p.complete ? "complete" : "unavailable: ", p.why.c_str());
    }
    std::printf("result:      %s\n", any_complete ? "at least one complete CPU->GPU->CPU path"
                                                  : "no complete CPU->GPU->CPU path");
  }
  return any_complete ? 0 : 1;
}

}  // namespace
}  // namespace probe

int main(int argc, char** argv) { return probe::main_impl(argc, argv); }
