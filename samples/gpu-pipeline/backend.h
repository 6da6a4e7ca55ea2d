// Which producer timeline the bridge runs on (--backend): host (a core Timeline), sw_sync (a
// SwSyncExporter) or syncobj (a SyncobjExporter on a render node). An explicit backend the
// machine lacks is an error (exit 3); auto takes a kernel backend the GPU waits on natively,
// else host.
#pragma once

#include <string>
#include <vector>

#include "bridge_sync.h"
#include "syncbridge/result.h"
#include "syncbridge/vulkan_caps.h"
#include "syncbridge/vulkan_device.h"

namespace gpu_pipeline {

enum class Backend { host, sw_sync, syncobj };
const char* backend_name(Backend b);

struct Choice {
  Backend backend = Backend::host;
  KernelTimeline kernel;           // fresh kernel objects: one Choice per bridge run
  std::vector<std::string> notes;  // why other backends were not taken
};

syncbridge::Result<Choice> choose(const std::string& wanted, const syncbridge::VulkanDevice& dev);

// Why the bridge may not have taken the path named wanted (--require-*-path) on this backend.
std::string why_not_path(const std::string& wanted, Backend backend, syncbridge::VulkanCaps caps);

}  // namespace gpu_pipeline
