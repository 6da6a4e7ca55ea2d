// syncbridge/vulkan_caps.h: what a Vulkan device offers the bridge, probed once into a bitmask.
//
// Model: each capability is one bit of VulkanCaps, set from the driver's own answers at run
// time, never guessed:
//   - Vulkan's external-semaphore queries (vkGetPhysicalDeviceExternalSemaphoreProperties with
//     a binary and a timeline VkSemaphoreTypeCreateInfo) and external-fence queries decide the
//     SYNC_FD import/export and OPAQUE_FD timeline bits. A VulkanPhysicalDeviceReport holds what
//     the driver reports; a VulkanDevice (vulkan_device.h) keeps a bit only where the
//     application also enabled the extension (VK_KHR_external_semaphore_fd /
//     VK_KHR_external_fence_fd) on its VkDevice, since a disabled extension's entry points may
//     not be called.
//   - A SYNC_FD handle is a kernel sync_file (binary, temporary import only). An OPAQUE_FD
//     handle is driver-defined: no Vulkan spec says it is a DRM syncobj. Mesa's drivers
//     implement it as one (vk_drm_syncobj), so for Mesa driver IDs the device reports
//     opaque_fd_maybe_syncobj; only a successful import of a real syncobj fd (VulkanBridge)
//     confirms it (opaque_fd_is_syncobj). NVIDIA's proprietary driver rejects a syncobj fd as
//     OPAQUE_FD; there the portable path is a sync_file through a SYNC_FD binary semaphore.
//   - Every path needs timeline semaphores (Vulkan 1.2's timelineSemaphore feature, enabled)
//     and vkQueueSubmit2 (Vulkan 1.3 or VK_KHR_synchronization2, enabled) in the application's
//     submissions; the bridge itself submits nothing.
// Ownership: plain values. The query borrows the instance and physical device; it creates and
// keeps nothing.
#pragma once

#include "syncbridge/export.h"

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

#include "syncbridge/result.h"

namespace syncbridge {

// What a device offers the bridge. Each bit names one capability; see describe().
enum class VulkanCaps : std::uint32_t {
  none = 0,
  timeline_semaphore = 1u << 0,         // timelineSemaphore feature (enabled on the VkDevice)
  synchronization2 = 1u << 1,           // vkQueueSubmit2 (1.3 core or the KHR extension, enabled)
  sync_fd_semaphore_import = 1u << 2,   // binary VkSemaphore <- sync_file (temporary import)
  sync_fd_semaphore_export = 1u << 3,   // binary VkSemaphore -> sync_file
  sync_fd_fence_import = 1u << 4,       // VkFence <- sync_file (temporary import)
  sync_fd_fence_export = 1u << 5,       // VkFence -> sync_file
  opaque_fd_timeline_import = 1u << 6,  // timeline VkSemaphore <- OPAQUE_FD
  opaque_fd_timeline_export = 1u << 7,  // timeline VkSemaphore -> OPAQUE_FD
  opaque_fd_maybe_syncobj = 1u << 8,    // Mesa driver: OPAQUE_FD is expected to be a DRM syncobj
  opaque_fd_is_syncobj = 1u << 9,       // confirmed by a successful syncobj import (VulkanBridge)
  calibrated_timestamps = 1u << 10,     // VK_EXT_calibrated_timestamps with CLOCK_MONOTONIC
};
constexpr VulkanCaps operator|(VulkanCaps a, VulkanCaps b) noexcept {
  return static_cast<VulkanCaps>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
constexpr VulkanCaps operator&(VulkanCaps a, VulkanCaps b) noexcept {
  return static_cast<VulkanCaps>(static_cast<std::uint32_t>(a) & static_cast<std::uint32_t>(b));
}
constexpr VulkanCaps operator~(VulkanCaps a) noexcept {
  return static_cast<VulkanCaps>(~static_cast<std::uint32_t>(a));
}
constexpr VulkanCaps& operator|=(VulkanCaps& a, VulkanCaps b) noexcept { return a = a | b; }
// true when every bit of `wanted` is in `caps`.
constexpr bool has(VulkanCaps caps, VulkanCaps wanted) noexcept { return (caps & wanted) == wanted; }
// "timeline_semaphore|synchronization2|sync_fd_semaphore_import" ("none" for none).
SYNCBRIDGE_API std::string describe(VulkanCaps caps);
// The name of one bit ("sync_fd_semaphore_import"); "" for none or several bits.
SYNCBRIDGE_API const char* cap_name(VulkanCaps bit) noexcept;

// Import/export support of one external handle type, as the driver reports it.
struct SYNCBRIDGE_API VulkanHandleSupport {
  const char* handle_type = "";                           // "SYNC_FD", "OPAQUE_FD"
  bool binary_import = false, binary_export = false;      // binary semaphore
  bool timeline_import = false, timeline_export = false;  // timeline semaphore
  bool fence_import = false, fence_export = false;        // VkFence
};

// Everything the probe prints about one physical device, and what the bridge would get if the
// device were created with vulkan_bridge_device_extensions() and its features.
struct SYNCBRIDGE_API VulkanPhysicalDeviceReport {
  std::string device_name;
  VkPhysicalDeviceType device_type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  std::uint32_t api_version = 0;  // VkPhysicalDeviceProperties::apiVersion
  std::uint32_t driver_version = 0;
  VkDriverId driver_id = static_cast<VkDriverId>(0);
  std::string driver_name;  // VkPhysicalDeviceDriverProperties::driverName ("llvmpipe")
  std::string driver_info;  // "Mesa 22.3.6 (LLVM 15.0.6)"
  std::uint32_t vendor_id = 0, device_id = 0;
  bool timeline_semaphore_feature = false;
  bool synchronization2_feature = false;
  bool has_external_semaphore_fd = false;    // VK_KHR_external_semaphore_fd offered
  bool has_external_fence_fd = false;        // VK_KHR_external_fence_fd offered
  bool has_calibrated_timestamps = false;    // VK_EXT_calibrated_timestamps offered
  std::vector<VulkanHandleSupport> handles;  // SYNC_FD and OPAQUE_FD
  VulkanCaps caps = VulkanCaps::none;        // if created with everything the bridge wants
};

// Probes one physical device (needs a Vulkan 1.1 instance: properties2, external queries).
[[nodiscard]] SYNCBRIDGE_API Result<VulkanPhysicalDeviceReport> query_vulkan_physical_device(
    VkInstance instance, VkPhysicalDevice physical_device, PFN_vkGetInstanceProcAddr get_instance_proc_addr);
// The device extensions the bridge can use on that device (those it offers, among
// VK_KHR_external_semaphore_fd, VK_KHR_external_fence_fd, VK_KHR_synchronization2 for 1.2
// devices, VK_KHR_timeline_semaphore for 1.1 devices, VK_EXT_calibrated_timestamps).
SYNCBRIDGE_API std::vector<const char*> vulkan_bridge_device_extensions(const VulkanPhysicalDeviceReport& report);
// True for driver IDs of Mesa's drivers whose OPAQUE_FD semaphores are DRM syncobjs.
SYNCBRIDGE_API bool vulkan_driver_uses_drm_syncobj(VkDriverId driver_id) noexcept;
SYNCBRIDGE_API const char* vulkan_driver_id_name(VkDriverId driver_id) noexcept;  // "MESA_LLVMPIPE"
SYNCBRIDGE_API std::string vulkan_version_string(std::uint32_t version);          // "1.3.230"

}  // namespace syncbridge
