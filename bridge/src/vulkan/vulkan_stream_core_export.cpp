// The sync_fd_export path of VulkanCompletionStream: exports queued by submitted(), run in
// point order on the exporter thread, and the watched sync_files that complete the points.
#include "vulkan/vulkan_stream_core.h"

namespace syncbridge::detail {

bool VulkanStreamCore::PendingExport::ready() const {
  for (const auto& in : inputs)
    if (!in->released.load(std::memory_order_acquire)) return false;
  return true;
}

// submitted(): queued for the exporter thread, never exported here (see PendingExport).
void VulkanStreamCore::queue_export(std::uint64_t point, PooledSemaphore* semaphore,
                                    std::vector<std::shared_ptr<VulkanWaitState>> inputs) {
  PendingExport job;
  job.point = point;
  job.semaphore = semaphore;
  job.inputs = std::move(inputs);
  std::erase_if(job.inputs, [](const auto& in) { return in->released.load(std::memory_order_acquire); });
  std::vector<std::shared_ptr<VulkanWaitState>> pending_inputs = job.inputs;
  {
    std::lock_guard guard(m);
    if (stopping) return;  // shutdown() closes the timeline: the fence errors
    exports.push_back(std::move(job));
  }
  export_cv.notify_one();
  // Each input that releases later wakes the exporter (the listener may run right here).
  std::weak_ptr<VulkanStreamCore> weak = weak_from_this();
  for (auto& in : pending_inputs) {
    in->when_released([weak] {
      if (auto core = weak.lock()) {
        std::lock_guard guard(core->m);
        core->export_cv.notify_all();
      }
    });
  }
}

void VulkanStreamCore::exporter_loop() {
  running_stream = this;
  for (;;) {
    PendingExport job;
    {
      std::unique_lock lock(m);
      export_cv.wait(lock, [&] { return stopping || (!exports.empty() && exports.front().ready()); });
      if (stopping) return;
      job = std::move(exports.front());
      exports.pop_front();
    }
    export_one(job);
  }
}

void VulkanStreamCore::export_one(const PendingExport& job) {
  VkSemaphoreGetFdInfoKHR gi{};
  gi.sType = VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR;
  gi.semaphore = job.semaphore->semaphore;
  gi.handleType = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
  int fd = -1;
  if (VkResult r = d.get_semaphore_fd(vk, &gi, &fd); r != VK_SUCCESS) {
    // The point can never be observed: close the timeline rather than hang its waiters. The
    // semaphore's state is unknown, so it is not reused (destroyed with the stream).
    fail(vulkan_error(r, "vkGetSemaphoreFdKHR(SYNC_FD) of completion point " + std::to_string(job.point)));
    return;
  }
  binaries.release(job.semaphore);  // the export unsignaled it: free for the next submission
  if (fd < 0) {                     // already signaled
    mark_done(job.point);
    return;
  }
  auto file = SyncFile::adopt(UniqueFd(fd));
  if (!file) {
    fail(file.error());
    return;
  }
  // A driver that finishes the work before exporting (lavapipe) hands out a signaled
  // sync_file: complete it here rather than through a watcher wake-up.
  if (auto now = file->wait(std::chrono::nanoseconds::zero()); !now || *now == WaitStatus::signaled) {
    point_outcome(job.point, now ? Result<void>{} : Result<void>(now.error()));
    return;
  }
  std::weak_ptr<VulkanStreamCore> weak = weak_from_this();
  auto watched =
      watch.watch([&file](Watcher& w, WatchCallback cb) { return w.watch_sync_file(std::move(*file), std::move(cb)); },
                  [weak, point = job.point](const Result<void>& outcome) {
                    if (auto core = weak.lock()) {
                      const void* outer = std::exchange(running_stream, core.get());
                      core->point_outcome(point, outcome);
                      running_stream = outer;
                    }
                  });
  if (!watched) fail(watched.error());
}

void VulkanStreamCore::point_outcome(std::uint64_t point, const Result<void>& outcome) {
  if (outcome.ok()) {
    mark_done(point);
    return;
  }
  fail(Error(Errc::fence_error, outcome.error().sys_errno(),
             "the exported sync_file of completion point " + std::to_string(point) +
                 " completed with an error: " + outcome.error().message()));
}

// Point p is done; advance over every contiguous done point.
void VulkanStreamCore::mark_done(std::uint64_t p) {
  std::uint64_t to = 0;
  {
    std::lock_guard guard(m);
    done.insert(p);
    while (!done.empty() && *done.begin() == retired + 1) {
      done.erase(done.begin());
      ++retired;
    }
    to = retired;
  }
  signal_to(to);
}

}  // namespace syncbridge::detail
