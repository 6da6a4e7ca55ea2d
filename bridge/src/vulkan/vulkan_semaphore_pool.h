// Internal: the semaphores a VulkanBridge or a VulkanCompletionStream owns, made on demand and
// reused. Each core holds its pools and decides when a semaphore is free again (the GPU is done
// with it: a host_signal wait released, a SYNC_FD import consumed, an export that unsignaled
// it); destroy_all() destroys every semaphore a pool ever made, once the queue has drained.
// Thread-safe; creation runs outside the pool's lock.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "syncbridge/result.h"
#include "syncbridge/vulkan_device.h"

namespace syncbridge::detail {

struct SemaphoreKind {
  bool timeline = false;
  bool exportable = false;  // created SYNC_FD-exportable (VkExportSemaphoreCreateInfo)
};

// One semaphore of a pool. `value` is its user's: the last timeline value handed out on it.
struct PooledSemaphore {
  VkSemaphore semaphore = VK_NULL_HANDLE;
  std::uint64_t value = 0;
};

// One new semaphore of `kind`; the caller owns it.
Result<VkSemaphore> create_semaphore(const VulkanDispatch& d, VkDevice device, SemaphoreKind kind);

class SemaphorePool {
 public:
  SemaphorePool(const VulkanDispatch& d, VkDevice device, SemaphoreKind kind) : d_(d), device_(device), kind_(kind) {}
  SemaphorePool(const SemaphorePool&) = delete;
  SemaphorePool& operator=(const SemaphorePool&) = delete;

  // A released semaphore, or a new one. Errc::invalid_handle after destroy_all().
  Result<PooledSemaphore*> acquire();
  // Free for the next acquire(); ignored after destroy_all().
  void release(PooledSemaphore* s);
  // Whether the handle (as a validation message prints it) is one of this pool's semaphores.
  bool owns_handle(std::uint64_t handle) const;
  std::uint64_t size() const noexcept { return size_.load(std::memory_order_relaxed); }  // alive
  // Destroys every semaphore the pool made; the GPU must be done with all of them. Idempotent.
  void destroy_all();

 private:
  const VulkanDispatch d_;
  const VkDevice device_;
  const SemaphoreKind kind_;
  mutable std::mutex mutex_;
  bool destroyed_ = false;
  std::vector<std::unique_ptr<PooledSemaphore>> all_;
  std::vector<PooledSemaphore*> free_;
  std::atomic<std::uint64_t> size_{0};
};

}  // namespace syncbridge::detail
