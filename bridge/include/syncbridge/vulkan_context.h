// syncbridge/vulkan_context.h: a ready-made instance and device for programs without their own.
//
// Model: the bridge is meant for applications that own their Vulkan objects (vulkan_device.h).
// The samples, the probe, the tests and small tools have none, so VulkanContext makes them:
// an instance (optionally with VK_LAYER_KHRONOS_validation and a VK_EXT_debug_utils messenger
// that reports every message to a callback), one physical device picked by type or by the
// caller, and a VkDevice with one compute-capable queue, the timelineSemaphore and
// synchronization2 features and every extension the bridge can use on it
// (vulkan_bridge_device_extensions). bridge_device() is the VulkanDevice for it.
//
// Ownership and lifetimes: VulkanContext owns the instance, messenger and device and destroys
// them in its destructor (device first); the VulkanLoader (or whatever supplied
// get_instance_proc_addr) must outlive it, and every VulkanBridge/VulkanCompletionStream and
// application object made on its device must be destroyed before it. Not movable: the
// messenger holds a pointer to it.
// Threads: the queue is externally synchronized (Vulkan's rule): submit under queue_mutex().
#pragma once

#include "syncbridge/export.h"

#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "syncbridge/result.h"
#include "syncbridge/vulkan_device.h"

namespace syncbridge {

struct SYNCBRIDGE_API VulkanContextOptions {
  std::string application_name = "syncbridge";
  // Enable VK_LAYER_KHRONOS_validation. When the layer is missing: Errc::not_found, unless
  // validation_optional, which goes on without it (validation_enabled() says which).
  bool validation = false;
  bool validation_optional = false;
  // Every VK_EXT_debug_utils message (warnings and errors, plus info with verbose_messages).
  // Called on whatever thread the driver or layer reports from. Without it, warnings and
  // errors are printed to stderr.
  std::function<void(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
                     const char* message)>
      on_message;
  bool verbose_messages = false;
  // Which physical device: "" picks the best (discrete GPU, integrated, virtual, then CPU, among
  // those with timeline semaphores and a compute queue); a number is an index into
  // vkEnumeratePhysicalDevices; anything else is a case-insensitive substring of the name.
  std::string device;
};

// One physical device as enumerated, for listings (--device help, the probe).
struct SYNCBRIDGE_API VulkanDeviceChoice {
  std::uint32_t index = 0;
  VkPhysicalDevice physical_device = VK_NULL_HANDLE;
  VulkanPhysicalDeviceReport report;
  bool usable = false;  // timeline semaphores and a compute queue
  std::string why_not;  // when not usable
};

class SYNCBRIDGE_API VulkanContext {
 public:
  [[nodiscard]] static Result<std::unique_ptr<VulkanContext>> create(PFN_vkGetInstanceProcAddr get_instance_proc_addr,
                                                                     VulkanContextOptions options = {});
  VulkanContext(const VulkanContext&) = delete;
  VulkanContext& operator=(const VulkanContext&) = delete;
  ~VulkanContext();

  VkInstance instance() const noexcept { return instance_; }
  VkPhysicalDevice physical_device() const noexcept { return physical_device_; }
  VkDevice device() const noexcept { return device_; }
  VkQueue queue() const noexcept { return queue_; }
  std::uint32_t queue_family() const noexcept { return queue_family_; }
  std::mutex& queue_mutex() const noexcept { return queue_mutex_; }
  std::uint32_t api_version() const noexcept { return api_version_; }  // instance/device version used
  PFN_vkGetInstanceProcAddr get_instance_proc_addr() const noexcept { return gipa_; }
  PFN_vkGetDeviceProcAddr get_device_proc_addr() const noexcept { return gdpa_; }
  const VulkanDevice& bridge_device() const noexcept { return *bridge_device_; }
  const std::vector<const char*>& enabled_extensions() const noexcept { return extensions_; }
  bool validation_enabled() const noexcept { return validation_; }
  // Every usable or not physical device of the instance, in enumeration order.
  const std::vector<VulkanDeviceChoice>& choices() const noexcept { return choices_; }

  // Loads an instance- or device-level entry point for the application's own calls.
  template <class Fn>
  Fn instance_fn(const char* name) const {
    return reinterpret_cast<Fn>(gipa_(instance_, name));
  }
  template <class Fn>
  Fn device_fn(const char* name) const {
    return reinterpret_cast<Fn>(gdpa_(device_, name));
  }

 private:
  VulkanContext() = default;
  // create()'s steps, in order.
  Result<void> create_instance();
  Result<const VulkanDeviceChoice*> pick_physical_device() const;
  Result<void> create_device(const VulkanDeviceChoice& chosen);
  static VKAPI_ATTR VkBool32 VKAPI_CALL messenger_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                           VkDebugUtilsMessageTypeFlagsEXT type,
                                                           const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                           void* user);

  PFN_vkGetInstanceProcAddr gipa_ = nullptr;
  PFN_vkGetDeviceProcAddr gdpa_ = nullptr;
  VulkanContextOptions options_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  std::uint32_t queue_family_ = 0;
  std::uint32_t api_version_ = 0;
  bool validation_ = false;
  mutable std::mutex queue_mutex_;
  std::vector<const char*> extensions_;
  std::vector<VulkanDeviceChoice> choices_;
  std::unique_ptr<VulkanDevice> bridge_device_;
};

// Lists the instance's physical devices without creating a device (for the probe). Creates and
// destroys its own instance (no validation).
[[nodiscard]] SYNCBRIDGE_API Result<std::vector<VulkanDeviceChoice>> list_vulkan_devices(
    PFN_vkGetInstanceProcAddr get_instance_proc_addr);

}  // namespace syncbridge
