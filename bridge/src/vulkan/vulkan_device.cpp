// VulkanDevice: the dispatch table from the application's loader, and Vulkan errors.
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
Fn load_device(PFN_vkGetDeviceProcAddr gdpa, VkDevice device, const char* name, const char* fallback = nullptr) {
  auto fn = reinterpret_cast<Fn>(gdpa(device, name));
  if (!fn && fallback) fn = reinterpret_cast<Fn>(gdpa(device, fallback));
  return fn;
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

// The bridge's entry points: core ones always, the others only where the application enabled
// the feature or extension (a disabled extension's entry points may not be called).
VulkanDispatch load_dispatch(PFN_vkGetDeviceProcAddr gdpa, const VulkanDeviceInfo& info, std::uint32_t api_version) {
  VulkanDispatch t;
  VkDevice dev = info.device;
  t.get_device_proc_addr = gdpa;
  t.create_semaphore = load_device<PFN_vkCreateSemaphore>(gdpa, dev, "vkCreateSemaphore");
  t.destroy_semaphore = load_device<PFN_vkDestroySemaphore>(gdpa, dev, "vkDestroySemaphore");
  t.create_fence = load_device<PFN_vkCreateFence>(gdpa, dev, "vkCreateFence");
  t.destroy_fence = load_device<PFN_vkDestroyFence>(gdpa, dev, "vkDestroyFence");
  const bool timeline_ext = enabled(info.enabled_extensions, VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME);
  const bool core_1_2 = VK_API_VERSION_MINOR(api_version) >= 2;
  if (core_1_2 || timeline_ext) {
    t.signal_semaphore = load_device<PFN_vkSignalSemaphore>(
        gdpa, dev, core_1_2 ? "vkSignalSemaphore" : "vkSignalSemaphoreKHR", "vkSignalSemaphoreKHR");
    t.wait_semaphores = load_device<PFN_vkWaitSemaphores>(
        gdpa, dev, core_1_2 ? "vkWaitSemaphores" : "vkWaitSemaphoresKHR", "vkWaitSemaphoresKHR");
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
  return t;
}

// What is usable on this VkDevice: driver support (drv) AND enabled by the application.
VulkanCaps usable_caps(VulkanCaps drv, const VulkanDispatch& t, const VulkanDeviceInfo& info) {
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
    caps = caps & ~(VulkanCaps::opaque_fd_timeline_import | VulkanCaps::opaque_fd_timeline_export |
                    VulkanCaps::opaque_fd_maybe_syncobj);
  if (t.import_fence_fd && t.get_fence_fd)
    caps |= drv & (VulkanCaps::sync_fd_fence_import | VulkanCaps::sync_fd_fence_export);
  if (enabled(info.enabled_extensions, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME))
    caps |= drv & VulkanCaps::calibrated_timestamps;
  return caps;
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
  if (!gdpa)
    gdpa = load_instance<PFN_vkGetDeviceProcAddr>(info.get_instance_proc_addr, info.instance, "vkGetDeviceProcAddr");
  if (!gdpa) return Error(Errc::invalid_argument, EINVAL, "VulkanDevice::create: no vkGetDeviceProcAddr");
  d.dispatch_ = load_dispatch(gdpa, info, d.report_.api_version);
  const auto& t = d.dispatch_;
  if (!t.create_semaphore || !t.destroy_semaphore || !t.create_fence || !t.destroy_fence)
    return Error(Errc::invalid_argument, EINVAL,
                 "VulkanDevice::create: vkGetDeviceProcAddr returned no vkCreateSemaphore");
  d.caps_ = usable_caps(d.report_.caps, t, info);
  if (!d.has(VulkanCaps::timeline_semaphore))
    return Error(Errc::unsupported, EOPNOTSUPP,
                 "Vulkan device " + d.report_.device_name +
                     " lacks timeline_semaphore: every bridge path needs the timelineSemaphore feature "
                     "(Vulkan 1.2) enabled on the VkDevice (driver " +
                     (syncbridge::has(d.report_.caps, VulkanCaps::timeline_semaphore)
                          ? "has it; the application did not enable it"
                          : "does not offer it") +
                     ")");
  return d;
}

std::string VulkanDevice::description() const {
  return report_.device_name + ", " + vulkan_driver_id_name(report_.driver_id) + " " + report_.driver_info +
         ", Vulkan " + vulkan_version_string(report_.api_version) + ": " + describe(caps_);
}

}  // namespace syncbridge
