// syncbridge/vulkan_device.h: the application's Vulkan device, as the bridge sees it.
//
// Model: the bridge works with the application's own VkInstance, VkPhysicalDevice and VkDevice
// and with the application's own loader: it is given vkGetInstanceProcAddr (and optionally
// vkGetDeviceProcAddr) and loads only the handful of entry points it needs into a small
// dispatch table (as vk-bootstrap's DispatchTable and VMA's VmaVulkanFunctions do). Nothing
// in the library links libvulkan; an application using volk or a custom loader passes its own
// function. What the device can do for the bridge is probed once, at creation, into a
// VulkanCaps bitmask (vulkan_caps.h): the driver's support, limited to what the application
// enabled on its VkDevice.
//
// Lifetimes: VkInstance outlives VkDevice outlives every VulkanDevice made for it, which
// outlives every VulkanBridge and VulkanCompletionStream made from it (they copy the dispatch
// table but own semaphores of that VkDevice). VulkanDevice owns no Vulkan object and destroys
// nothing; the loader behind get_instance_proc_addr must stay loaded while any of them lives.
// Threads: a VulkanDevice is immutable after create(); share it freely.
#pragma once

#include "syncbridge/export.h"

#include <vulkan/vulkan.h>

#include <span>
#include <string>

#include "syncbridge/result.h"
#include "syncbridge/vulkan_caps.h"

namespace syncbridge {

// The entry points the bridge calls: nothing else is loaded. Device-level ones come from
// vkGetDeviceProcAddr, so they skip the loader's trampoline.
struct SYNCBRIDGE_API VulkanDispatch {
  PFN_vkGetDeviceProcAddr get_device_proc_addr = nullptr;
  PFN_vkCreateSemaphore create_semaphore = nullptr;
  PFN_vkDestroySemaphore destroy_semaphore = nullptr;
  PFN_vkSignalSemaphore signal_semaphore = nullptr;  // 1.2 core, or ...KHR
  PFN_vkWaitSemaphores wait_semaphores = nullptr;    // 1.2 core, or ...KHR
  PFN_vkGetSemaphoreCounterValue get_semaphore_counter_value = nullptr;
  PFN_vkCreateFence create_fence = nullptr;
  PFN_vkDestroyFence destroy_fence = nullptr;
  PFN_vkImportSemaphoreFdKHR import_semaphore_fd = nullptr;  // null without the extension
  PFN_vkGetSemaphoreFdKHR get_semaphore_fd = nullptr;
  PFN_vkImportFenceFdKHR import_fence_fd = nullptr;
  PFN_vkGetFenceFdKHR get_fence_fd = nullptr;
};

// The application's device, as created: handles, loader and what it enabled.
struct SYNCBRIDGE_API VulkanDeviceInfo {
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

class SYNCBRIDGE_API VulkanDevice {
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
SYNCBRIDGE_API Error vulkan_error(VkResult result, const std::string& what);
SYNCBRIDGE_API const char* vk_result_name(VkResult result) noexcept;

}  // namespace syncbridge
