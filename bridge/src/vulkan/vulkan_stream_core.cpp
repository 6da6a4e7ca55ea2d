// The parts of VulkanStreamCore that both completion paths share: start, failure, signaling,
// shutdown.
#include "vulkan/vulkan_stream_core.h"

namespace syncbridge::detail {

thread_local const void* running_stream = nullptr;

VulkanStreamCore::VulkanStreamCore(const VulkanDevice& dev, VulkanCompletionStreamOptions opts)
    : device(dev),
      d(dev.dispatch()),
      vk(dev.device()),
      options(std::move(opts)),
      binaries(d, vk, {.timeline = false, .exportable = true}),
      watch(options.watcher) {}

Result<void> VulkanStreamCore::start() {
  auto tl = Timeline::create({.name = options.name});
  if (!tl) return std::move(tl).error();
  timeline = std::move(*tl);
  if (options.allow_sync_fd_export && device.has(VulkanCaps::sync_fd_semaphore_export)) {
    path = VulkanCompletionPath::sync_fd_export;
    if (auto w = watch.start(); !w) return std::move(w).error();
    exporter = std::thread([c = shared_from_this()] { c->exporter_loop(); });
    return {};
  }
  path = VulkanCompletionPath::timeline_wait;
  auto sem = create_semaphore(d, vk, {.timeline = true});
  if (!sem) return std::move(sem).error();
  timeline_semaphore = *sem;
  auto wake = create_semaphore(d, vk, {.timeline = true});
  if (!wake) return std::move(wake).error();
  wake_semaphore = *wake;
  helper = std::thread([c = shared_from_this()] { c->helper_loop(); });
  return {};
}

void VulkanStreamCore::fail(Error e) {
  {
    std::lock_guard guard(m);
    if (!error) error = std::move(e);
  }
  timeline.close();
}

void VulkanStreamCore::signal_to(std::uint64_t point) {
  auto r = timeline.signal_to(point);
  // backwards: another thread got there first; timeline_closed: shut down or failed.
  (void)r;
}

// A point whose submission never happened is done as if the GPU had finished it.
void VulkanStreamCore::abandon(std::uint64_t point, PooledSemaphore* binary) {
  if (path == VulkanCompletionPath::sync_fd_export) {
    binaries.release(binary);  // never submitted: unsignaled, nothing pending
    mark_done(point);
    return;
  }
  abandon_in_flight(point);
}

void VulkanStreamCore::shutdown() {
  {
    std::lock_guard guard(m);
    if (stopping) return;
    stopping = true;
    if (wake_semaphore != VK_NULL_HANDLE) wake_waiters_locked();
  }
  cv.notify_all();
  export_cv.notify_all();
  // From one of the stream's own callbacks, the thread running it is left to end by itself
  // (it holds a reference to this core and only checks `stopping` once the callback returns).
  const bool own_thread = running_stream == this;
  for (std::thread* t : {&helper, &exporter}) {
    if (!t->joinable()) continue;
    if (own_thread && t->get_id() == std::this_thread::get_id())
      t->detach();
    else
      t->join();
  }
  {
    // Direct waiters were woken above; the semaphores must outlive their driver waits.
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return direct_points.empty(); });
  }
  // Ends the pending watches without their callbacks; a private watcher is destroyed, from its
  // own callback on a thread of its own once the callback has returned.
  watch.stop(own_thread);
  timeline.close();
}

void VulkanStreamCore::destroy() {
  shutdown();
  binaries.destroy_all();
  std::lock_guard guard(m);
  if (destroyed) return;
  destroyed = true;
  if (timeline_semaphore != VK_NULL_HANDLE) d.destroy_semaphore(vk, timeline_semaphore, nullptr);
  if (wake_semaphore != VK_NULL_HANDLE) d.destroy_semaphore(vk, wake_semaphore, nullptr);
}

}  // namespace syncbridge::detail
