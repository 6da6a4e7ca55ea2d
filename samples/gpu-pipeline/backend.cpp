#include "backend.h"

#include <cerrno>
#include <memory>
#include <utility>

#include "syncbridge/sw_sync.h"
#include "syncbridge/syncobj_exporter.h"
#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/vulkan_completion.h"

namespace gpu_pipeline {

using namespace syncbridge;

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::host: return "host";
    case Backend::sw_sync: return "sw_sync";
    case Backend::syncobj: return "syncobj";
  }
  return "?";
}

namespace {

// "" when the kernel timeline was made (into out), else why not.
std::string sw_sync_unavailable(KernelTimeline& out) {
  auto e = SwSyncExporter::create("gpu-pipeline");
  if (!e) return e.error().message();
  out.exporter = std::make_unique<SwSyncExporter>(std::move(*e));
  return "";
}
std::string syncobj_unavailable(KernelTimeline& out) {
  auto d = DrmDevice::open_render_node();
  if (!d) return d.error().message();
  auto e = SyncobjExporter::create(*d, "gpu-pipeline");
  if (!e) return e.error().message();
  out.drm = std::move(*d);
  out.exporter = std::make_unique<SyncobjExporter>(std::move(*e));
  return "";
}

// auto: a kernel backend the GPU can wait on natively first; host otherwise.
Choice choose_auto(const VulkanDevice& dev) {
  struct Candidate {
    Backend backend;
    VulkanCaps native;       // what the device needs to wait on it without the watcher
    const char* not_native;  // the note when it lacks that
    std::string (*make)(KernelTimeline&);
  };
  static const Candidate kCandidates[] = {
      {Backend::syncobj, VulkanCaps::opaque_fd_maybe_syncobj,
       "the device cannot import a syncobj (no Mesa OPAQUE_FD timeline import)", syncobj_unavailable},
      {Backend::sw_sync, VulkanCaps::sync_fd_semaphore_import,
       "the device has no sync_fd_semaphore_import (it would be host_signal too)", sw_sync_unavailable},
  };
  Choice c;
  for (const Candidate& k : kCandidates) {
    const std::string prefix = std::string(backend_name(k.backend)) + " not taken: ";
    if (!dev.has(k.native)) {
      c.notes.push_back(prefix + k.not_native);
    } else if (auto why = k.make(c.kernel); !why.empty()) {
      c.notes.push_back(prefix + why);
    } else {
      c.backend = k.backend;
      return c;
    }
  }
  return c;
}

}  // namespace

Result<Choice> choose(const std::string& wanted, const VulkanDevice& dev) {
  Choice c;
  if (wanted == "host") return c;
  if (wanted == "sw_sync") {
    if (auto why = sw_sync_unavailable(c.kernel); !why.empty())
      return Error(Errc::unsupported, EOPNOTSUPP, "sw_sync: " + why);
    c.backend = Backend::sw_sync;
    return c;
  }
  if (wanted == "syncobj") {
    if (auto why = syncobj_unavailable(c.kernel); !why.empty())
      return Error(Errc::unsupported, EOPNOTSUPP, "syncobj: " + why);
    c.backend = Backend::syncobj;
    return c;
  }
  return choose_auto(dev);
}

std::string why_not_path(const std::string& wanted, Backend backend, VulkanCaps caps) {
  if (wanted == path_name(VulkanWaitPath::sync_fd_import)) {
    if (backend != Backend::sw_sync) return "only --backend sw_sync hands the bridge sync_files to import";
    if (!has(caps, VulkanCaps::sync_fd_semaphore_import)) return "the device cannot import a SYNC_FD semaphore";
  } else if (wanted == path_name(VulkanWaitPath::syncobj_timeline)) {
    if (backend != Backend::syncobj) return "only --backend syncobj hands the bridge syncobj points";
    if (!has(caps, VulkanCaps::opaque_fd_maybe_syncobj))
      return "the driver's OPAQUE_FD semaphores are not DRM syncobjs";
  } else if (wanted == path_name(VulkanWaitPath::host_signal)) {
    return "the device waits on this backend's kernel fences natively; --backend host always takes host_signal";
  } else if (wanted == path_name(VulkanCompletionPath::sync_fd_export)) {
    if (!has(caps, VulkanCaps::sync_fd_semaphore_export)) return "the device cannot export a SYNC_FD semaphore";
  } else if (wanted == path_name(VulkanCompletionPath::timeline_wait)) {
    return "the device exports SYNC_FD semaphores, so the completion stream takes sync_fd_export";
  }
  return "the bridge fell back at run time (see the report's notes)";
}

}  // namespace gpu_pipeline
