#include "vulkan/vulkan_semaphore_pool.h"

#include <algorithm>

namespace syncbridge::detail {

Result<VkSemaphore> create_semaphore(const VulkanDispatch& d, VkDevice device, SemaphoreKind kind) {
  VkSemaphoreTypeCreateInfo type{};
  type.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO;
  type.semaphoreType = kind.timeline ? VK_SEMAPHORE_TYPE_TIMELINE : VK_SEMAPHORE_TYPE_BINARY;
  VkExportSemaphoreCreateInfo exp{};
  exp.sType = VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO;
  exp.handleTypes = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
  if (kind.exportable) type.pNext = &exp;
  VkSemaphoreCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
  ci.pNext = &type;
  VkSemaphore s = VK_NULL_HANDLE;
  if (VkResult r = d.create_semaphore(device, &ci, nullptr, &s); r != VK_SUCCESS)
    return vulkan_error(r, "vkCreateSemaphore");
  return s;
}

Result<PooledSemaphore*> SemaphorePool::acquire() {
  {
    std::lock_guard guard(mutex_);
    if (destroyed_) return Error(Errc::invalid_handle, EBADF, "the semaphore pool is destroyed");
    if (!free_.empty()) {
      PooledSemaphore* s = free_.back();
      free_.pop_back();
      return s;
    }
  }
  auto created = create_semaphore(d_, device_, kind_);
  if (!created) return std::move(created).error();
  auto s = std::make_unique<PooledSemaphore>();
  s->semaphore = *created;
  PooledSemaphore* raw = s.get();
  std::lock_guard guard(mutex_);
  if (destroyed_) {
    d_.destroy_semaphore(device_, *created, nullptr);
    return Error(Errc::invalid_handle, EBADF, "the semaphore pool is destroyed");
  }
  all_.push_back(std::move(s));
  size_.fetch_add(1, std::memory_order_relaxed);
  return raw;
}

void SemaphorePool::release(PooledSemaphore* s) {
  std::lock_guard guard(mutex_);
  if (!destroyed_) free_.push_back(s);
}

bool SemaphorePool::owns_handle(std::uint64_t handle) const {
  std::lock_guard guard(mutex_);
  return std::any_of(all_.begin(), all_.end(), [&](const std::unique_ptr<PooledSemaphore>& s) {
    return reinterpret_cast<std::uint64_t>(s->semaphore) == handle;
  });
}

void SemaphorePool::destroy_all() {
  std::lock_guard guard(mutex_);
  if (destroyed_) return;
  destroyed_ = true;
  for (auto& s : all_) d_.destroy_semaphore(device_, s->semaphore, nullptr);
  all_.clear();
  free_.clear();
  size_.store(0, std::memory_order_relaxed);
}

}  // namespace syncbridge::detail
