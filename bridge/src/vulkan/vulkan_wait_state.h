// Internal: the shared state of one VulkanWait, seen by the bridge (which releases it) and by
// completion streams (whose SYNC_FD export must not run before the wait's signal operation
// exists: VUID-VkSemaphoreGetFdInfoKHR-handleType-03254).
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "syncbridge/result.h"
#include "syncbridge/vulkan_bridge.h"
#include "vulkan/vulkan_semaphore_pool.h"

namespace syncbridge::detail {

struct VulkanWaitState {
  std::shared_ptr<VulkanBridgeCore> core;
  VulkanWaitPath path = VulkanWaitPath::host_signal;
  PooledSemaphore* slot = nullptr;              // host_signal: a timeline semaphore of the pool
  std::uint64_t value = 0;                      // host_signal
  PooledSemaphore* binary = nullptr;            // sync_fd_import: back to the pool when this dies
  std::shared_ptr<VulkanSyncobjState> syncobj;  // syncobj_timeline: keeps the semaphore alive
  std::atomic<bool> claimed{false};             // host_signal: whoever sets it signals the semaphore
  std::atomic<bool> released{false};
  mutable std::mutex mutex;  // error and listeners
  std::optional<Error> error;
  std::vector<std::function<void()>> release_listeners;

  // Runs `listener` once the GPU wait is released: now, on this thread, if it already is;
  // otherwise on the thread that releases it, outside this state's lock.
  void when_released(std::function<void()> listener) {
    {
      std::lock_guard guard(mutex);
      if (!released.load(std::memory_order_acquire)) {
        release_listeners.push_back(std::move(listener));
        return;
      }
    }
    listener();
  }
  void mark_released() {
    std::vector<std::function<void()>> listeners;
    {
      std::lock_guard guard(mutex);
      released.store(true, std::memory_order_release);
      listeners.swap(release_listeners);
    }
    for (auto& l : listeners) l();
  }
  ~VulkanWaitState();
};

}  // namespace syncbridge::detail
