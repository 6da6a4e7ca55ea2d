// syncbridge/vulkan_loader.h: finding vkGetInstanceProcAddr at run time.
//
// Model: the bridge never links the Vulkan loader; every Vulkan call goes through function
// pointers the application hands over (see vulkan_device.h). An application that links
// libvulkan already has vkGetInstanceProcAddr; one using volk or its own loader passes that.
// VulkanLoader is for programs that want to start even where no loader is installed (the
// samples, the probe, the tests): it dlopen()s libvulkan.so.1 and reports a clear error,
// not a dynamic-linker failure, when it is missing.
//
// Ownership: the library stays loaded while the VulkanLoader lives; every Vulkan object made
// through its vkGetInstanceProcAddr must be destroyed before it is.
#pragma once

#include "syncbridge/export.h"

#include <vulkan/vulkan.h>

#include <string>

#include "syncbridge/result.h"

namespace syncbridge {

class SYNCBRIDGE_API VulkanLoader {
 public:
  // Opens `library` (default "libvulkan.so.1", searched as dlopen() does: LD_LIBRARY_PATH,
  // the ld.so cache, /usr/lib...). Errc::not_found with dlerror()'s text when it cannot.
  [[nodiscard]] static Result<VulkanLoader> open(const std::string& library = "libvulkan.so.1");

  VulkanLoader() noexcept = default;
  VulkanLoader(VulkanLoader&& other) noexcept;
  VulkanLoader& operator=(VulkanLoader&& other) noexcept;
  VulkanLoader(const VulkanLoader&) = delete;
  VulkanLoader& operator=(const VulkanLoader&) = delete;
  ~VulkanLoader();

  bool valid() const noexcept { return handle_ != nullptr; }
  PFN_vkGetInstanceProcAddr get_instance_proc_addr() const noexcept { return gipa_; }
  // The loader's instance version (vkEnumerateInstanceVersion), VK_API_VERSION_1_0 if absent.
  std::uint32_t instance_version() const noexcept;
  const std::string& library() const noexcept { return library_; }

 private:
  void* handle_ = nullptr;
  PFN_vkGetInstanceProcAddr gipa_ = nullptr;
  std::string library_;
};

}  // namespace syncbridge
