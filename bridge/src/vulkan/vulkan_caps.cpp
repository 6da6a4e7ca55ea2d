// The capability probe: one physical device's properties, features, extensions and external
// handle support, into a VulkanPhysicalDeviceReport and its VulkanCaps.
#include "syncbridge/vulkan_caps.h"

#include <algorithm>
#include <cstring>

#include "syncbridge/vulkan_device.h"

namespace syncbridge {

namespace {

struct CapName {
  VulkanCaps bit;
  const char* name;
};
constexpr CapName cap_names[] = {
    {VulkanCaps::timeline_semaphore, "timeline_semaphore"},
    {VulkanCaps::synchronization2, "synchronization2"},
    {VulkanCaps::sync_fd_semaphore_import, "sync_fd_semaphore_import"},
    {VulkanCaps::sync_fd_semaphore_export, "sync_fd_semaphore_export"},
    {VulkanCaps::sync_fd_fence_import, "sync_fd_fence_import"},
    {VulkanCaps::sync_fd_fence_export, "sync_fd_fence_export"},
    {VulkanCaps::opaque_fd_timeline_import, "opaque_fd_timeline_import"},
    {VulkanCaps::opaque_fd_timeline_export, "opaque_fd_timeline_export"},
    {VulkanCaps::opaque_fd_maybe_syncobj, "opaque_fd_maybe_syncobj"},
    {VulkanCaps::opaque_fd_is_syncobj, "opaque_fd_is_syncobj"},
    {VulkanCaps::calibrated_timestamps, "calibrated_timestamps"},
};

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
  return std::any_of(exts.begin(), exts.end(),
                     [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, name) == 0; });
}

// The instance-level queries the probe calls (Vulkan 1.1).
struct Queries {
  PFN_vkGetPhysicalDeviceProperties get_props = nullptr;
  PFN_vkGetPhysicalDeviceProperties2 get_props2 = nullptr;
  PFN_vkGetPhysicalDeviceFeatures2 get_feats2 = nullptr;
  PFN_vkGetPhysicalDeviceExternalSemaphoreProperties get_sem = nullptr;
  PFN_vkGetPhysicalDeviceExternalFenceProperties get_fence = nullptr;
  PFN_vkEnumerateDeviceExtensionProperties enum_exts = nullptr;
};

template <class Fn>
void load(Fn& fn, PFN_vkGetInstanceProcAddr gipa, VkInstance instance, const char* name) {
  fn = reinterpret_cast<Fn>(gipa(instance, name));
}

Result<Queries> load_queries(VkInstance instance, PFN_vkGetInstanceProcAddr gipa) {
  Queries q;
  load(q.get_props, gipa, instance, "vkGetPhysicalDeviceProperties");
  load(q.get_props2, gipa, instance, "vkGetPhysicalDeviceProperties2");
  load(q.get_feats2, gipa, instance, "vkGetPhysicalDeviceFeatures2");
  load(q.get_sem, gipa, instance, "vkGetPhysicalDeviceExternalSemaphoreProperties");
  load(q.get_fence, gipa, instance, "vkGetPhysicalDeviceExternalFenceProperties");
  load(q.enum_exts, gipa, instance, "vkEnumerateDeviceExtensionProperties");
  if (!q.get_props2 || !q.get_feats2 || !q.get_sem || !q.get_fence || !q.get_props || !q.enum_exts)
    return Error(Errc::unsupported, EOPNOTSUPP,
                 "the Vulkan instance lacks 1.1 entry points (vkGetPhysicalDeviceProperties2, external "
                 "semaphore/fence queries): create it with apiVersion >= 1.1");
  return q;
}

void query_properties(const Queries& q, VkPhysicalDevice pd, VulkanPhysicalDeviceReport& r) {
  VkPhysicalDeviceProperties base{};
  q.get_props(pd, &base);
  r.device_name = base.deviceName;
  r.device_type = base.deviceType;
  r.api_version = base.apiVersion;
  r.driver_version = base.driverVersion;
  r.vendor_id = base.vendorID;
  r.device_id = base.deviceID;
}

Result<std::vector<VkExtensionProperties>> query_extensions(const Queries& q, VkPhysicalDevice pd) {
  std::uint32_t count = 0;
  std::vector<VkExtensionProperties> exts;
  if (VkResult res = q.enum_exts(pd, nullptr, &count, nullptr); res != VK_SUCCESS)
    return vulkan_error(res, "vkEnumerateDeviceExtensionProperties");
  exts.resize(count);
  if (VkResult res = q.enum_exts(pd, nullptr, &count, exts.data()); res != VK_SUCCESS && res != VK_INCOMPLETE)
    return vulkan_error(res, "vkEnumerateDeviceExtensionProperties");
  exts.resize(count);
  return exts;
}

// VkPhysicalDeviceDriverProperties (1.2 core or VK_KHR_driver_properties).
void query_driver(const Queries& q, VkPhysicalDevice pd, const std::vector<VkExtensionProperties>& exts,
                  VulkanPhysicalDeviceReport& r) {
  const bool has_driver_props =
      VK_API_VERSION_MINOR(r.api_version) >= 2 || has_extension(exts, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
  VkPhysicalDeviceDriverProperties driver{};
  driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
  VkPhysicalDeviceProperties2 props2{};
  props2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
  if (has_driver_props) props2.pNext = &driver;
  q.get_props2(pd, &props2);
  if (has_driver_props) {
    r.driver_id = driver.driverID;
    r.driver_name = driver.driverName;
    r.driver_info = driver.driverInfo;
  }
}

// The timelineSemaphore and synchronization2 features, where the version or an extension has them.
void query_features(const Queries& q, VkPhysicalDevice pd, const std::vector<VkExtensionProperties>& exts,
                    VulkanPhysicalDeviceReport& r) {
  VkPhysicalDeviceTimelineSemaphoreFeatures timeline{};
  timeline.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES;
  VkPhysicalDeviceSynchronization2Features sync2{};
  sync2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SYNCHRONIZATION_2_FEATURES;
  const bool can_sync2 =
      VK_API_VERSION_MINOR(r.api_version) >= 3 || has_extension(exts, VK_KHR_SYNCHRONIZATION_2_EXTENSION_NAME);
  const bool can_timeline =
      VK_API_VERSION_MINOR(r.api_version) >= 2 || has_extension(exts, VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME);
  VkPhysicalDeviceFeatures2 feats2{};
  feats2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  void** tail = &feats2.pNext;
  if (can_timeline) {
    *tail = &timeline;
    tail = &timeline.pNext;
  }
  if (can_sync2) {
    *tail = &sync2;
    tail = &sync2.pNext;
  }
  q.get_feats2(pd, &feats2);
  r.timeline_semaphore_feature = can_timeline && timeline.timelineSemaphore;
  r.synchronization2_feature = can_sync2 && sync2.synchronization2;
}

struct HandleType {
  const char* name;
  VkExternalSemaphoreHandleTypeFlagBits sem;
  VkExternalFenceHandleTypeFlagBits fence;
};

// Import/export of one handle type: binary and timeline semaphores (the extension offered) and
// fences.
VulkanHandleSupport query_handle(const Queries& q, VkPhysicalDevice pd, const HandleType& t,
                                 const VulkanPhysicalDeviceReport& r) {
  VulkanHandleSupport h;
  h.handle_type = t.name;
  for (bool is_timeline : {false, true}) {
    if (is_timeline && !r.timeline_semaphore_feature) continue;
    VkSemaphoreTypeCreateInfo type_info{};
    type_info.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO;
    type_info.semaphoreType = is_timeline ? VK_SEMAPHORE_TYPE_TIMELINE : VK_SEMAPHORE_TYPE_BINARY;
    VkPhysicalDeviceExternalSemaphoreInfo info{};
    info.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_SEMAPHORE_INFO;
    info.pNext = &type_info;
    info.handleType = t.sem;
    VkExternalSemaphoreProperties props{};
    props.sType = VK_STRUCTURE_TYPE_EXTERNAL_SEMAPHORE_PROPERTIES;
    q.get_sem(pd, &info, &props);
    const bool imp = props.externalSemaphoreFeatures & VK_EXTERNAL_SEMAPHORE_FEATURE_IMPORTABLE_BIT;
    const bool exp = props.externalSemaphoreFeatures & VK_EXTERNAL_SEMAPHORE_FEATURE_EXPORTABLE_BIT;
    (is_timeline ? h.timeline_import : h.binary_import) = imp && r.has_external_semaphore_fd;
    (is_timeline ? h.timeline_export : h.binary_export) = exp && r.has_external_semaphore_fd;
  }
  VkPhysicalDeviceExternalFenceInfo finfo{};
  finfo.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_FENCE_INFO;
  finfo.handleType = t.fence;
  VkExternalFenceProperties fprops{};
  fprops.sType = VK_STRUCTURE_TYPE_EXTERNAL_FENCE_PROPERTIES;
  q.get_fence(pd, &finfo, &fprops);
  h.fence_import = (fprops.externalFenceFeatures & VK_EXTERNAL_FENCE_FEATURE_IMPORTABLE_BIT) && r.has_external_fence_fd;
  h.fence_export = (fprops.externalFenceFeatures & VK_EXTERNAL_FENCE_FEATURE_EXPORTABLE_BIT) && r.has_external_fence_fd;
  return h;
}

// The bits of a complete report: handles[0] is SYNC_FD, handles[1] OPAQUE_FD.
VulkanCaps caps_of(const VulkanPhysicalDeviceReport& r) {
  VulkanCaps caps = VulkanCaps::none;
  if (r.timeline_semaphore_feature) caps |= VulkanCaps::timeline_semaphore;
  if (r.synchronization2_feature) caps |= VulkanCaps::synchronization2;
  const auto& sync_fd = r.handles[0];
  const auto& opaque = r.handles[1];
  if (sync_fd.binary_import) caps |= VulkanCaps::sync_fd_semaphore_import;
  if (sync_fd.binary_export) caps |= VulkanCaps::sync_fd_semaphore_export;
  if (sync_fd.fence_import) caps |= VulkanCaps::sync_fd_fence_import;
  if (sync_fd.fence_export) caps |= VulkanCaps::sync_fd_fence_export;
  if (opaque.timeline_import) caps |= VulkanCaps::opaque_fd_timeline_import;
  if (opaque.timeline_export) caps |= VulkanCaps::opaque_fd_timeline_export;
  if (opaque.timeline_import && vulkan_driver_uses_drm_syncobj(r.driver_id))
    caps |= VulkanCaps::opaque_fd_maybe_syncobj;
  if (r.has_calibrated_timestamps) caps |= VulkanCaps::calibrated_timestamps;
  return caps;
}

}  // namespace

std::string describe(VulkanCaps caps) {
  std::string out;
  for (const auto& c : cap_names) {
    if (!syncbridge::has(caps, c.bit)) continue;
    if (!out.empty()) out += '|';
    out += c.name;
  }
  return out.empty() ? "none" : out;
}

const char* cap_name(VulkanCaps bit) noexcept {
  for (const auto& c : cap_names)
    if (c.bit == bit) return c.name;
  return "";
}

std::string vulkan_version_string(std::uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

bool vulkan_driver_uses_drm_syncobj(VkDriverId id) noexcept {
  switch (id) {
    case VK_DRIVER_ID_MESA_RADV:
    case VK_DRIVER_ID_INTEL_OPEN_SOURCE_MESA:  // anv and hasvk
    case VK_DRIVER_ID_MESA_TURNIP:
    case VK_DRIVER_ID_MESA_V3DV:
    case VK_DRIVER_ID_MESA_PANVK:
    case VK_DRIVER_ID_MESA_NVK:
    case VK_DRIVER_ID_IMAGINATION_OPEN_SOURCE_MESA: return true;
    default:  // lavapipe (no DRM device), venus (virtualised), dozen, and every non-Mesa driver
      return false;
  }
}

const char* vulkan_driver_id_name(VkDriverId id) noexcept {
  switch (id) {
    case VK_DRIVER_ID_AMD_PROPRIETARY: return "AMD_PROPRIETARY";
    case VK_DRIVER_ID_AMD_OPEN_SOURCE: return "AMD_OPEN_SOURCE";
    case VK_DRIVER_ID_MESA_RADV: return "MESA_RADV";
    case VK_DRIVER_ID_NVIDIA_PROPRIETARY: return "NVIDIA_PROPRIETARY";
    case VK_DRIVER_ID_INTEL_PROPRIETARY_WINDOWS: return "INTEL_PROPRIETARY_WINDOWS";
    case VK_DRIVER_ID_INTEL_OPEN_SOURCE_MESA: return "INTEL_OPEN_SOURCE_MESA";
    case VK_DRIVER_ID_IMAGINATION_PROPRIETARY: return "IMAGINATION_PROPRIETARY";
    case VK_DRIVER_ID_QUALCOMM_PROPRIETARY: return "QUALCOMM_PROPRIETARY";
    case VK_DRIVER_ID_ARM_PROPRIETARY: return "ARM_PROPRIETARY";
    case VK_DRIVER_ID_GOOGLE_SWIFTSHADER: return "GOOGLE_SWIFTSHADER";
    case VK_DRIVER_ID_BROADCOM_PROPRIETARY: return "BROADCOM_PROPRIETARY";
    case VK_DRIVER_ID_MESA_LLVMPIPE: return "MESA_LLVMPIPE";
    case VK_DRIVER_ID_MOLTENVK: return "MOLTENVK";
    case VK_DRIVER_ID_MESA_TURNIP: return "MESA_TURNIP";
    case VK_DRIVER_ID_MESA_V3DV: return "MESA_V3DV";
    case VK_DRIVER_ID_MESA_PANVK: return "MESA_PANVK";
    case VK_DRIVER_ID_MESA_VENUS: return "MESA_VENUS";
    case VK_DRIVER_ID_MESA_DOZEN: return "MESA_DOZEN";
    case VK_DRIVER_ID_MESA_NVK: return "MESA_NVK";
    case VK_DRIVER_ID_IMAGINATION_OPEN_SOURCE_MESA: return "IMAGINATION_OPEN_SOURCE_MESA";
    default: return "OTHER";
  }
}

Result<VulkanPhysicalDeviceReport> query_vulkan_physical_device(VkInstance instance, VkPhysicalDevice pd,
                                                                PFN_vkGetInstanceProcAddr gipa) {
  if (!gipa || instance == VK_NULL_HANDLE || pd == VK_NULL_HANDLE)
    return Error(Errc::invalid_argument, EINVAL, "query_vulkan_physical_device: null instance, device or loader");
  auto q = load_queries(instance, gipa);
  if (!q) return std::move(q).error();
  VulkanPhysicalDeviceReport r;
  query_properties(*q, pd, r);
  if (VK_API_VERSION_MINOR(r.api_version) < 1 && VK_API_VERSION_MAJOR(r.api_version) == 1)
    return Error(Errc::unsupported, EOPNOTSUPP, r.device_name + " is a Vulkan 1.0 device");
  auto exts = query_extensions(*q, pd);
  if (!exts) return std::move(exts).error();
  r.has_external_semaphore_fd = has_extension(*exts, VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
  r.has_external_fence_fd = has_extension(*exts, VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME);
  r.has_calibrated_timestamps = has_extension(*exts, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
  query_driver(*q, pd, *exts, r);
  query_features(*q, pd, *exts, r);
  const HandleType types[] = {
      {"SYNC_FD", VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT, VK_EXTERNAL_FENCE_HANDLE_TYPE_SYNC_FD_BIT},
      {"OPAQUE_FD", VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT, VK_EXTERNAL_FENCE_HANDLE_TYPE_OPAQUE_FD_BIT},
  };
  for (const auto& t : types) r.handles.push_back(query_handle(*q, pd, t, r));
  r.caps = caps_of(r);
  return r;
}

std::vector<const char*> vulkan_bridge_device_extensions(const VulkanPhysicalDeviceReport& r) {
  std::vector<const char*> out;
  const bool is_1_2 = VK_API_VERSION_MINOR(r.api_version) >= 2;
  const bool is_1_3 = VK_API_VERSION_MINOR(r.api_version) >= 3;
  if (r.has_external_semaphore_fd) out.push_back(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
  if (r.has_external_fence_fd) out.push_back(VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME);
  if (!is_1_2 && r.timeline_semaphore_feature) out.push_back(VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME);
  if (!is_1_3 && r.synchronization2_feature) out.push_back(VK_KHR_SYNCHRONIZATION_2_EXTENSION_NAME);
  if (r.has_calibrated_timestamps) out.push_back(VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
  return out;
}

}  // namespace syncbridge
