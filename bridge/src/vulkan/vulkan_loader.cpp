#include "syncbridge/vulkan_loader.h"

#include <dlfcn.h>

#include <cstring>
#include <utility>

namespace syncbridge {

Result<VulkanLoader> VulkanLoader::open(const std::string& library) {
  void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return Error(Errc::not_found, ENOENT,
                 "no Vulkan loader: dlopen(\"" + library + "\") failed: " + (why ? why : "unknown"));
  }
  void* sym = ::dlsym(handle, "vkGetInstanceProcAddr");
  if (!sym) {
    ::dlclose(handle);
    return Error(Errc::not_found, ENOENT, library + " has no vkGetInstanceProcAddr");
  }
  VulkanLoader loader;
  loader.handle_ = handle;
  // dlsym returns an object pointer; POSIX guarantees it converts to a function pointer.
  std::memcpy(&loader.gipa_, &sym, sizeof(sym));
  loader.library_ = library;
  return loader;
}

VulkanLoader::VulkanLoader(VulkanLoader&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      gipa_(std::exchange(other.gipa_, nullptr)),
      library_(std::move(other.library_)) {}

VulkanLoader& VulkanLoader::operator=(VulkanLoader&& other) noexcept {
  if (this != &other) {
    if (handle_) ::dlclose(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    gipa_ = std::exchange(other.gipa_, nullptr);
    library_ = std::move(other.library_);
  }
  return *this;
}

VulkanLoader::~VulkanLoader() {
  if (handle_) ::dlclose(handle_);
}

std::uint32_t VulkanLoader::instance_version() const noexcept {
  if (!gipa_) return 0;
  auto enumerate =
      reinterpret_cast<PFN_vkEnumerateInstanceVersion>(gipa_(VK_NULL_HANDLE, "vkEnumerateInstanceVersion"));
  std::uint32_t version = VK_API_VERSION_1_0;
  if (enumerate && enumerate(&version) != VK_SUCCESS) version = VK_API_VERSION_1_0;
  return version;
}

}  // namespace syncbridge
