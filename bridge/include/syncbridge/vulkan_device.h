// syncbridge/vulkan_device.h: the application's Vulkan device, as the bridge sees it.
//
// Model: the bridge works with the application's own VkInstance, VkPhysicalDevice and VkDevice
// and with the application's own loader: it is given vkGetInstanceProcAddr (and optionally
// vkGetDeviceProcAddr) and loads only the handful of entry points it needs into a small
// dispatch table (as vk-bootstrap's DispatchTable and VMA's VmaVulkanFunctions do). Nothing
// in the library links libvulkan; an application using volk or a custom loader passes its own
// function. What a device can do for the bridge is probed once, at creation, into a bitmask:
//
//   - Vulkan's external-semaphore queries (vkGetPhysicalDeviceExternalSemaphoreProperties with
//     a binary and a timeline VkSemaphoreTypeCreateInfo) and external-fence queries decide the
//     SYNC_FD import/export and OPAQUE_FD timeline bits; a bit is set only when the driver
//     reports the feature AND the application enabled the extension (VK_KHR_external_semaphore_fd
//     / VK_KHR_external_fence_fd) on its VkDevice, since a disabled extension's entry points
//     may not be called.
//   - A SYNC_FD handle is a kernel sync_file (binary, temporary import only). An OPAQUE_FD
//     handle is driver-defined: no Vulkan spec says it is a DRM syncobj. Mesa's drivers
//     implement it as one (vk_drm_syncobj), so for Mesa driver IDs the device reports
//     opaque_fd_maybe_syncobj; only a successful import of a real syncobj fd (VulkanBridge)
//     confirms it (opaque_fd_is_syncobj). NVIDIA's proprietary driver rejects a syncobj fd as
//     OPAQUE_FD; there the portable path is a sync_file through a SYNC_FD binary semaphore.
//   - Every path needs timeline semaphores (Vulkan 1.2's timelineSemaphore feature, enabled)
//     and vkQueueSubmit2 (Vulkan 1.3 or VK_KHR_synchronization2, enabled) in the application's
//     submissions; the bridge itself submits nothing.
//
// Lifetimes: VkInstance outlives VkDevice outlives every VulkanDevice made for it, which
// outlives every VulkanBridge and VulkanCompletionStream made from it (they copy the dispatch
// table but own semaphores of that VkDevice). VulkanDevice owns no Vulkan object and destroys
// nothing; the loader behind get_instance_proc_addr must stay loaded while any of them lives.
// Threads: a VulkanDevice is immutable after create(); share it freely.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <span>
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
constexpr VulkanCaps operator~(VulkanCaps a) noexcept { return static_cast<VulkanCaps>(~static_cast<std::uint32_t>(a)); }
constexpr VulkanCaps& operator|=(VulkanCaps& a, VulkanCaps b) noexcept { return a = a | b; }
// true when every bit of `wanted` is in `caps`.
constexpr bool has(VulkanCaps caps, VulkanCaps wanted) noexcept { return (caps & wanted) == wanted; }
// "timeline_semaphore|synchronization2|sync_fd_semaphore_import" ("none" for none).
std::string describe(VulkanCaps caps);
// The name of one bit ("sync_fd_semaphore_import"); "" for none or several bits.
const char* cap_name(VulkanCaps bit) noexcept;

// Import/export support of one external handle type, as the driver reports it.
struct VulkanHandleSupport {
  const char* handle_type = "";  // "SYNC_FD", "OPAQUE_FD"
  bool binary_import = false, binary_export = false;      // binary semaphore
  bool timeline_import = false, timeline_export = false;  // timeline semaphore
  bool fence_import = false, fence_export = false;        // VkFence
};

// Everything the probe prints about one physical device, and what the bridge would get if the
// device were created with vulkan_bridge_device_extensions() and its features.
struct VulkanPhysicalDeviceReport {
  std::string device_name;
  VkPhysicalDeviceType device_type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  std::uint32_t api_version = 0;    // VkPhysicalDeviceProperties::apiVersion
  std::uint32_t driver_version = 0;
  VkDriverId driver_id = static_cast<VkDriverId>(0);
  std::string driver_name;          // VkPhysicalDeviceDriverProperties::driverName ("llvmpipe")
  std::string driver_info;          // "Mesa 22.3.6 (LLVM 15.0.6)"
  std::uint32_t vendor_id = 0, device_id = 0;
  bool timeline_semaphore_feature = false;
  bool synchronization2_feature = false;
  bool has_external_semaphore_fd = false;  // VK_KHR_external_semaphore_fd offered
  bool has_external_fence_fd = false;      // VK_KHR_external_fence_fd offered
  bool has_calibrated_timestamps = false;  // VK_EXT_calibrated_timestamps offered
  std::vector<VulkanHandleSupport> handles;  // SYNC_FD and OPAQUE_FD
  VulkanCaps caps = VulkanCaps::none;        // if created with everything the bridge wants
};

// Probes one physical device (needs a Vulkan 1.1 instance: properties2, external queries).
[[nodiscard]] Result<VulkanPhysicalDeviceReport> query_vulkan_physical_device(
    VkInstance instance, VkPhysicalDevice physical_device, PFN_vkGetInstanceProcAddr get_instance_proc_addr);
// The device extensions the bridge can use on that device (those it offers, among
// VK_KHR_external_semaphore_fd, VK_KHR_external_fence_fd, VK_KHR_synchronization2 for 1.2
// devices, VK_KHR_timeline_semaphore for 1.1 devices, VK_EXT_calibrated_timestamps).
std::vector<const char*> vulkan_bridge_device_extensions(const VulkanPhysicalDeviceReport& report);
// True for driver IDs of Mesa's drivers whose OPAQUE_FD semaphores are DRM syncobjs.
bool vulkan_driver_uses_drm_syncobj(VkDriverId driver_id) noexcept;
const char* vulkan_driver_id_name(VkDriverId driver_id) noexcept;  // "MESA_LLVMPIPE"
std::string vulkan_version_string(std::uint32_t version);          // "1.3.230"

// The entry points the bridge calls: nothing else is loaded. Device-level ones come from
// vkGetDeviceProcAddr, so they skip the loader's trampoline.
struct VulkanDispatch {
  PFN_vkGetDeviceProcAddr get_device_proc_addr = nullptr;
  PFN_vkCreateSemaphore create_semaphore = nullptr;
  PFN_vkDestroySemaphore destroy_semaphore = nullptr;
  PFN_vkSignalSemaphore signal_semaphore = nullptr;        // 1.2 core, or ...KHR
  PFN_vkWaitSemaphores wait_semaphores = nullptr;          // 1.2 core, or ...KHR
  PFN_vkGetSemaphoreCounterValue get_semaphore_counter_value = nullptr;
  PFN_vkCreateFence create_fence = nullptr;
  PFN_vkDestroyFence destroy_fence = nullptr;
  PFN_vkImportSemaphoreFdKHR import_semaphore_fd = nullptr;  // null without the extension
  PFN_vkGetSemaphoreFdKHR get_semaphore_fd = nullptr;
  PFN_vkImportFenceFdKHR import_fence_fd = nullptr;
  PFN_vkGetFenceFdKHR get_fence_fd = nullptr;
};

// The application's device, as created: handles, loader and what it enabled.
struct VulkanDeviceInfo {
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  PFN_vkGetInstanceProcAddr get_instance_proc_addr = nullptr;  // required
  PFN_vkGetDeviceProcAddr get_device_proc_addr = nullptr;      // null: from get_instance_proc_addr
  // Exactly what VkDeviceCreateInfo::ppEnabledExtensionNames held, and the features enabled
  // (Vulkan cannot tell which were enabled; the bridge only uses what was).
  std::span<const char* const> enabled_extensions;
  bool timeline_semaphore_enabled = false;  // VkPhysicalDeviceVulkan12Features::timelineSemaphore
  bool synchronization2_enabled = false;    // VkPhysicalDeviceVulkan13Features::synchronization2
};

class VulkanDevice {
 public:
  // Loads the dispatch table and probes the capabilities. Errc::invalid_argument for missing
  // handles or loader; Errc::unsupported (naming what is missing) when the device lacks an
  // enabled timelineSemaphore feature, which every bridge path needs.
  [[nodiscard]] static Result<VulkanDevice> create(const VulkanDeviceInfo& info);

  VkInstance instance() const noexcept { return instance_; }
  VkPhysicalDevice physical_device() const noexcept { return physical_device_; }
  VkDevice device() const noexcept { return device_; }
  const VulkanDispatch& dispatch() const noexcept { return dispatch_; }
  // Driver support AND enabled on this VkDevice (the report's caps are driver support only).
  VulkanCaps caps() const noexcept { return caps_; }
  bool has(VulkanCaps wanted) const noexcept { return syncbridge::has(caps_, wanted); }
  const VulkanPhysicalDeviceReport& report() const noexcept { return report_; }
  // "llvmpipe (LLVM 15.0.6, 256 bits), MESA_LLVMPIPE, Vulkan 1.3.230: timeline_semaphore|..."
  std::string description() const;

 private:
  VulkanDevice() = default;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VulkanDispatch dispatch_;
  VulkanCaps caps_ = VulkanCaps::none;
  VulkanPhysicalDeviceReport report_;
};

// Errc::vulkan with the VkResult and "<what> failed: VK_ERROR_DEVICE_LOST".
Error vulkan_error(VkResult result, const std::string& what);
const char* vk_result_name(VkResult result) noexcept;

}  // namespace syncbridge
