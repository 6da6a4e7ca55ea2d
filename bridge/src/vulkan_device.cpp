#include "syncbridge/vulkan_device.h"

#include <algorithm>
#include <cstring>

namespace syncbridge {

namespace {

template <class Fn>
Fn load_instance(PFN_vkGetInstanceProcAddr gipa, VkInstance instance, const char* name) {
  return reinterpret_cast<Fn>(gipa(instance, name));
}

template <class Fn>
Fn load_device(PFN_vkGetDeviceProcAddr gdpa, VkDevice device, const char* name,
               const char* fallback = nullptr) {
  auto fn = reinterpret_cast<Fn>(gdpa(device, name));
  if (!fn && fallback) fn = reinterpret_cast<Fn>(gdpa(device, fallback));
  return fn;
}

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

bool enabled(std::span<const char* const> list, const char* name) {
  return std::any_of(list.begin(), list.end(), [&](const char* e) { return e && std::strcmp(e, name) == 0; });
}

int errno_for(VkResult r) {
  switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return ENOMEM;
    case VK_ERROR_INVALID_EXTERNAL_HANDLE: return EBADF;
    case VK_ERROR_FEATURE_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
    case VK_ERROR_INCOMPATIBLE_DRIVER: return EOPNOTSUPP;
    case VK_ERROR_INITIALIZATION_FAILED: return ENODEV;
    case VK_TIMEOUT: return ETIMEDOUT;
    default: return EIO;
  }
}

}  // namespace

const char* vk_result_name(VkResult r) noexcept {
  switch (r) {
#define SB_CASE(x) \
  case x: return #x;
    SB_CASE(VK_SUCCESS)
    SB_CASE(VK_NOT_READY)
    SB_CASE(VK_TIMEOUT)
    SB_CASE(VK_EVENT_SET)
    SB_CASE(VK_EVENT_RESET)
    SB_CASE(VK_INCOMPLETE)
    SB_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    SB_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    SB_CASE(VK_ERROR_INITIALIZATION_FAILED)
    SB_CASE(VK_ERROR_DEVICE_LOST)
    SB_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    SB_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    SB_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    SB_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    SB_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    SB_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    SB_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    SB_CASE(VK_ERROR_FRAGMENTED_POOL)
    SB_CASE(VK_ERROR_UNKNOWN)
    SB_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    SB_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    SB_CASE(VK_ERROR_FRAGMENTATION)
    SB_CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
#undef SB_CASE
    default: return "VK_ERROR_(other)";
  }
}

Error vulkan_error(VkResult result, const std::string& what) {
  return Error(Errc::vulkan, errno_for(result), what + " failed: " + vk_result_name(result),
               static_cast<std::int32_t>(result));
}

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
    case VK_DRIVER_ID_IMAGINATION_OPEN_SOURCE_MESA:
      return true;
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
  auto get_props2 = load_instance<PFN_vkGetPhysicalDeviceProperties2>(gipa, instance, "vkGetPhysicalDeviceProperties2");
  auto get_feats2 = load_instance<PFN_vkGetPhysicalDeviceFeatures2>(gipa, instance, "vkGetPhysicalDeviceFeatures2");
  auto get_sem = load_instance<PFN_vkGetPhysicalDeviceExternalSemaphoreProperties>(
      gipa, instance, "vkGetPhysicalDeviceExternalSemaphoreProperties");
  auto get_fence = load_instance<PFN_vkGetPhysicalDeviceExternalFenceProperties>(
      gipa, instance, "vkGetPhysicalDeviceExternalFenceProperties");
  auto get_props = load_instance<PFN_vkGetPhysicalDeviceProperties>(gipa, instance, "vkGetPhysicalDeviceProperties");
  auto enum_exts = load_instance<PFN_vkEnumerateDeviceExtensionProperties>(
      gipa, instance, "vkEnumerateDeviceExtensionProperties");
  if (!get_props2 || !get_feats2 || !get_sem || !get_fence || !get_props || !enum_exts)
    return Error(Errc::unsupported, EOPNOTSUPP,
                 "the Vulkan instance lacks 1.1 entry points (vkGetPhysicalDeviceProperties2, external "
                 "semaphore/fence queries): create it with apiVersion >= 1.1");

  VulkanPhysicalDeviceReport r;
  VkPhysicalDeviceProperties base{};
  get_props(pd, &base);
  r.device_name = base.deviceName;
  r.device_type = base.deviceType;
  r.api_version = base.apiVersion;
  r.driver_version = base.driverVersion;
  r.vendor_id = base.vendorID;
  r.device_id = base.deviceID;
  if (VK_API_VERSION_MINOR(base.apiVersion) < 1 && VK_API_VERSION_MAJOR(base.apiVersion) == 1)
    return Error(Errc::unsupported, EOPNOTSUPP, r.device_name + " is a Vulkan 1.0 device");

  std::uint32_t count = 0;
  std::vector<VkExtensionProperties> exts;
  if (VkResult res = enum_exts(pd, nullptr, &count, nullptr); res != VK_SUCCESS)
    return vulkan_error(res, "vkEnumerateDeviceExtensionProperties");
  exts.resize(count);
  if (VkResult res = enum_exts(pd, nullptr, &count, exts.data()); res != VK_SUCCESS && res != VK_INCOMPLETE)
    return vulkan_error(res, "vkEnumerateDeviceExtensionProperties");
  exts.resize(count);
  const bool has_driver_props = VK_API_VERSION_MINOR(base.apiVersion) >= 2 ||
                                has_extension(exts, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
  r.has_external_semaphore_fd = has_extension(exts, VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
  r.has_external_fence_fd = has_extension(exts, VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME);
  r.has_calibrated_timestamps = has_extension(exts, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
  const bool is_1_2 = VK_API_VERSION_MINOR(base.apiVersion) >= 2;
  const bool is_1_3 = VK_API_VERSION_MINOR(base.apiVersion) >= 3;

  VkPhysicalDeviceDriverProperties driver{};
  driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
  VkPhysicalDeviceProperties2 props2{};
  props2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
  if (has_driver_props) props2.pNext = &driver;
  get_props2(pd, &props2);
  if (has_driver_props) {
    r.driver_id = driver.driverID;
    r.driver_name = driver.driverName;
    r.driver_info = driver.driverInfo;
  }

  VkPhysicalDeviceTimelineSemaphoreFeatures timeline{};
  timeline.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES;
  VkPhysicalDeviceSynchronization2Features sync2{};
  sync2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SYNCHRONIZATION_2_FEATURES;
  const bool can_sync2 = is_1_3 || has_extension(exts, VK_KHR_SYNCHRONIZATION_2_EXTENSION_NAME);
  const bool can_timeline = is_1_2 || has_extension(exts, VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME);
  VkPhysicalDeviceFeatures2 feats2{};
  feats2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  void** tail = &feats2.pNext;
  if (can_timeline) { *tail = &timeline; tail = &timeline.pNext; }
  if (can_sync2) { *tail = &sync2; tail = &sync2.pNext; }
  get_feats2(pd, &feats2);
  r.timeline_semaphore_feature = can_timeline && timeline.timelineSemaphore;
  r.synchronization2_feature = can_sync2 && sync2.synchronization2;

  // External handle support, binary and timeline semaphores and fences.
  struct HandleType {
    const char* name;
    VkExternalSemaphoreHandleTypeFlagBits sem;
    VkExternalFenceHandleTypeFlagBits fence;
  };
  const HandleType types[] = {
      {"SYNC_FD", VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT, VK_EXTERNAL_FENCE_HANDLE_TYPE_SYNC_FD_BIT},
      {"OPAQUE_FD", VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT, VK_EXTERNAL_FENCE_HANDLE_TYPE_OPAQUE_FD_BIT},
  };
  for (const auto& t : types) {
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
      get_sem(pd, &info, &props);
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
    get_fence(pd, &finfo, &fprops);
    h.fence_import = (fprops.externalFenceFeatures & VK_EXTERNAL_FENCE_FEATURE_IMPORTABLE_BIT) && r.has_external_fence_fd;
    h.fence_export = (fprops.externalFenceFeatures & VK_EXTERNAL_FENCE_FEATURE_EXPORTABLE_BIT) && r.has_external_fence_fd;
    r.handles.push_back(h);
  }

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
  if (opaque.timeline_import && vulkan_driver_uses_drm_syncobj(r.driver_id)) caps |= VulkanCaps::opaque_fd_maybe_syncobj;
  if (r.has_calibrated_timestamps) caps |= VulkanCaps::calibrated_timestamps;
  r.caps = caps;
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

Result<VulkanDevice> VulkanDevice::create(const VulkanDeviceInfo& info) {
  if (info.instance == VK_NULL_HANDLE || info.physical_device == VK_NULL_HANDLE || info.device == VK_NULL_HANDLE ||
      !info.get_instance_proc_addr)
    return Error(Errc::invalid_argument, EINVAL,
                 "VulkanDevice::create: instance, physical_device, device and get_instance_proc_addr are required");
  auto report = query_vulkan_physical_device(info.instance, info.physical_device, info.get_instance_proc_addr);
  if (!report) return std::move(report).error();

  VulkanDevice d;
  d.instance_ = info.instance;
  d.physical_device_ = info.physical_device;
  d.device_ = info.device;
  d.report_ = std::move(*report);
  auto gdpa = info.get_device_proc_addr;
  if (!gdpa) gdpa = load_instance<PFN_vkGetDeviceProcAddr>(info.get_instance_proc_addr, info.instance, "vkGetDeviceProcAddr");
  if (!gdpa) return Error(Errc::invalid_argument, EINVAL, "VulkanDevice::create: no vkGetDeviceProcAddr");

  auto& t = d.dispatch_;
  VkDevice dev = info.device;
  t.get_device_proc_addr = gdpa;
  t.create_semaphore = load_device<PFN_vkCreateSemaphore>(gdpa, dev, "vkCreateSemaphore");
  t.destroy_semaphore = load_device<PFN_vkDestroySemaphore>(gdpa, dev, "vkDestroySemaphore");
  t.create_fence = load_device<PFN_vkCreateFence>(gdpa, dev, "vkCreateFence");
  t.destroy_fence = load_device<PFN_vkDestroyFence>(gdpa, dev, "vkDestroyFence");
  const bool timeline_ext = enabled(info.enabled_extensions, VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME);
  const bool core_1_2 = VK_API_VERSION_MINOR(d.report_.api_version) >= 2;
  if (core_1_2 || timeline_ext) {
    t.signal_semaphore = load_device<PFN_vkSignalSemaphore>(gdpa, dev, core_1_2 ? "vkSignalSemaphore" : "vkSignalSemaphoreKHR",
                                                            "vkSignalSemaphoreKHR");
    t.wait_semaphores = load_device<PFN_vkWaitSemaphores>(gdpa, dev, core_1_2 ? "vkWaitSemaphores" : "vkWaitSemaphoresKHR",
                                                          "vkWaitSemaphoresKHR");
    t.get_semaphore_counter_value = load_device<PFN_vkGetSemaphoreCounterValue>(
        gdpa, dev, core_1_2 ? "vkGetSemaphoreCounterValue" : "vkGetSemaphoreCounterValueKHR",
        "vkGetSemaphoreCounterValueKHR");
  }
  if (enabled(info.enabled_extensions, VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME)) {
    t.import_semaphore_fd = load_device<PFN_vkImportSemaphoreFdKHR>(gdpa, dev, "vkImportSemaphoreFdKHR");
    t.get_semaphore_fd = load_device<PFN_vkGetSemaphoreFdKHR>(gdpa, dev, "vkGetSemaphoreFdKHR");
  }
  if (enabled(info.enabled_extensions, VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME)) {
    t.import_fence_fd = load_device<PFN_vkImportFenceFdKHR>(gdpa, dev, "vkImportFenceFdKHR");
    t.get_fence_fd = load_device<PFN_vkGetFenceFdKHR>(gdpa, dev, "vkGetFenceFdKHR");
  }
  if (!t.create_semaphore || !t.destroy_semaphore || !t.create_fence || !t.destroy_fence)
    return Error(Errc::invalid_argument, EINVAL, "VulkanDevice::create: vkGetDeviceProcAddr returned no vkCreateSemaphore");

  // What is usable on this VkDevice: driver support AND enabled by the application.
  const VulkanCaps drv = d.report_.caps;
  VulkanCaps caps = VulkanCaps::none;
  const bool timeline = info.timeline_semaphore_enabled && syncbridge::has(drv, VulkanCaps::timeline_semaphore) &&
                        t.signal_semaphore && t.wait_semaphores && t.get_semaphore_counter_value;
  if (timeline) caps |= VulkanCaps::timeline_semaphore;
  if (info.synchronization2_enabled && syncbridge::has(drv, VulkanCaps::synchronization2))
    caps |= VulkanCaps::synchronization2;
  const VulkanCaps sem_bits = VulkanCaps::sync_fd_semaphore_import | VulkanCaps::sync_fd_semaphore_export |
                              VulkanCaps::opaque_fd_timeline_import | VulkanCaps::opaque_fd_timeline_export |
                              VulkanCaps::opaque_fd_maybe_syncobj;
  if (t.import_semaphore_fd && t.get_semaphore_fd) caps |= drv & sem_bits;
  if (!timeline)  // OPAQUE_FD timeline semaphores need the timeline feature
    caps = static_cast<VulkanCaps>(static_cast<std::uint32_t>(caps) &
                                   ~static_cast<std::uint32_t>(VulkanCaps::opaque_fd_timeline_import |
                                                               VulkanCaps::opaque_fd_timeline_export |
                                                               VulkanCaps::opaque_fd_maybe_syncobj));
  if (t.import_fence_fd && t.get_fence_fd)
    caps |= drv & (VulkanCaps::sync_fd_fence_import | VulkanCaps::sync_fd_fence_export);
  if (enabled(info.enabled_extensions, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME))
    caps |= drv & VulkanCaps::calibrated_timestamps;
  d.caps_ = caps;
  if (!timeline)
    return Error(Errc::unsupported, EOPNOTSUPP,
                 "Vulkan device " + d.report_.device_name +
                     " lacks timeline_semaphore: every bridge path needs the timelineSemaphore feature "
                     "(Vulkan 1.2) enabled on the VkDevice (driver " +
                     (syncbridge::has(drv, VulkanCaps::timeline_semaphore) ? "has it; the application did not enable it"
                                                                           : "does not offer it") +
                     ")");
  return d;
}

std::string VulkanDevice::description() const {
  return report_.device_name + ", " + vulkan_driver_id_name(report_.driver_id) + " " + report_.driver_info +
         ", Vulkan " + vulkan_version_string(report_.api_version) + ": " + describe(caps_);
}

}  // namespace syncbridge
