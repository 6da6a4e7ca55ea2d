// syncbridge-probe's two report formats: JSON (schema syncbridge-probe/1) and text.
#include <cinttypes>
#include <cstdio>
#include <string>

#include "json_text.h"
#include "probe.h"

namespace probe {

using namespace syncbridge;
using syncbridge::samples::json_str;

namespace {

const char* yn(bool b) { return b ? "yes" : "no"; }
const char* jb(bool b) { return b ? "true" : "false"; }

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

}  // namespace

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

namespace {

std::string kernel_json(const Kernel& k) {
  std::string j = "{\"release\": " + json_str(k.release) + ", \"sw_sync\": {\"status\": " + json_str(k.sw_sync_status) +
                  ", \"usable\": " + jb(k.sw_sync) + ", \"note\": " + json_str(k.sw_sync_note) +
                  "}, \"sw_sync_taints\": " + (k.taint.taints ? jb(*k.taint.taints) : "null") +
                  ", \"taint\": {\"before\": " + (k.taint.before ? std::to_string(*k.taint.before) : "null") +
                  ", \"after\": " + (k.taint.after ? std::to_string(*k.taint.after) : "null") +
                  ", \"new_flags\": " + json_str(k.taint.new_flags) + ", \"note\": " + json_str(k.taint.note) +
                  "}, \"sync_file_deadline\": " + (k.deadline ? jb(*k.deadline) : "null") +
                  ", \"udmabuf\": {\"present\": " + jb(k.udmabuf.present) +
                  ", \"openable\": " + jb(k.udmabuf.openable) + ", \"note\": " + json_str(k.udmabuf.note) +
                  "}, \"notes\": [";
  for (std::size_t i = 0; i < k.notes.size(); ++i) j += (i ? ", " : "") + json_str(k.notes[i]);
  return j + "]}";
}

std::string node_json(const Node& n) {
  return "{\"path\": " + json_str(n.path) + ", \"driver\": " + json_str(n.driver) + ", \"opened\": " + jb(n.opened) +
         ", \"syncobj\": " + jb(n.syncobj) + ", \"syncobj_timeline\": " + jb(n.timeline) +
         ", \"syncobj_eventfd\": " + jb(n.eventfd) + ", \"error\": " + json_str(n.error) + "}";
}

std::string path_json(const Path& p) {
  return "{\"input\": " + json_str(p.input) + ", \"cpu_to_gpu\": " + json_str(p.wait_path) +
         ", \"gpu_to_cpu\": " + json_str(p.completion_path) + ", \"complete\": " + jb(p.complete) +
         ", \"why_not\": " + json_str(p.why) + "}";
}

std::string device_json(const VkDev& v, const std::vector<Path>& paths) {
  const auto& r = v.choice.report;
  std::string j =
      "{\"index\": " + std::to_string(v.choice.index) + ", \"name\": " + json_str(r.device_name) + ", \"type\": \"" +
      type_name(r.device_type) + "\", \"driver_id\": \"" + vulkan_driver_id_name(r.driver_id) +
      "\", \"driver_name\": " + json_str(r.driver_name) + ", \"driver_info\": " + json_str(r.driver_info) +
      ", \"api_version\": " + json_str(vulkan_version_string(r.api_version)) + ", \"usable\": " + jb(v.choice.usable) +
      ", \"why_not\": " + json_str(v.choice.why_not) + ", \"timeline_semaphore\": " + jb(r.timeline_semaphore_feature) +
      ", \"synchronization2\": " + jb(r.synchronization2_feature) +
      ", \"external_semaphore_fd\": " + jb(r.has_external_semaphore_fd) +
      ", \"external_fence_fd\": " + jb(r.has_external_fence_fd) + ", \"handles\": [";
  for (std::size_t h = 0; h < r.handles.size(); ++h) j += (h ? ", " : "") + handle_json(r.handles[h]);
  j += "], \"caps\": " + json_str(describe(r.caps)) +
       ", \"opaque_fd_is_syncobj\": " + (v.opaque_is_syncobj ? jb(*v.opaque_is_syncobj) : "null") +
       ", \"opaque_fd_syncobj_check\": " + json_str(v.syncobj_check) + ", \"paths\": [";
  for (std::size_t p = 0; p < paths.size(); ++p) j += (p ? ", " : "") + path_json(paths[p]);
  return j + "]}";
}

void print_kernel_text(const Kernel& k) {
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
}

void print_device_text(const VkDev& v, const std::vector<Path>& paths) {
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
  for (const auto& p : paths)
    std::printf("             path %-18s CPU->GPU %-22s GPU->CPU %-15s %s%s\n", p.input.c_str(), p.wait_path.c_str(),
                p.completion_path.c_str(), p.complete ? "complete" : "unavailable: ", p.why.c_str());
}

}  // namespace

void print_json(const Findings& f) {
  std::string j = "{\n  \"schema\": \"syncbridge-probe/1\",\n  \"kernel\": " + kernel_json(f.kernel) +
                  ",\n  \"drm_render_nodes\": [";
  for (std::size_t i = 0; i < f.nodes.size(); ++i) j += (i ? ",\n    " : "\n    ") + node_json(f.nodes[i]);
  j += "],\n  \"vulkan\": {\"error\": " + (f.vulkan_error.empty() ? std::string("null") : json_str(f.vulkan_error)) +
       ", \"devices\": [";
  for (std::size_t i = 0; i < f.devices.size(); ++i)
    j += (i ? ",\n    " : "\n    ") + device_json(f.devices[i], f.paths[i]);
  j += "]},\n  \"complete_path\": " + std::string(jb(f.any_complete)) + "\n}\n";
  std::fputs(j.c_str(), stdout);
}

void print_text(const Findings& f) {
  print_kernel_text(f.kernel);
  if (f.nodes.empty()) std::printf("DRM nodes:   none (/dev/dri has no render node)\n");
  for (const auto& n : f.nodes) {
    if (!n.opened)
      std::printf("DRM node:    %s: %s\n", n.path.c_str(), n.error.c_str());
    else
      std::printf("DRM node:    %s (%s): syncobj %s, timeline %s, eventfd %s\n", n.path.c_str(), n.driver.c_str(),
                  yn(n.syncobj), yn(n.timeline), yn(n.eventfd));
  }
  if (!f.vulkan_error.empty()) std::printf("Vulkan:      %s\n", f.vulkan_error.c_str());
  for (std::size_t i = 0; i < f.devices.size(); ++i) print_device_text(f.devices[i], f.paths[i]);
  std::printf("result:      %s\n",
              f.any_complete ? "at least one complete CPU->GPU->CPU path" : "no complete CPU->GPU->CPU path");
}

}  // namespace probe
