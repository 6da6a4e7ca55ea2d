// Internal: the state of one VulkanCompletionStream, shared by the stream, its threads and its
// callbacks. Common parts in vulkan_stream_core.cpp; the timeline_wait path (helper thread,
// direct waits) in vulkan_stream_core_wait.cpp; the sync_fd_export path (exporter thread,
// watched sync_files) in vulkan_stream_core_export.cpp.
#pragma once

#include <vulkan/vulkan.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "syncbridge/vulkan_bridge.h"
#include "vulkan/vulkan_semaphore_pool.h"
#include "vulkan/vulkan_wait_state.h"
#include "vulkan/vulkan_watcher_slot.h"

namespace syncbridge::detail {

// The stream whose thread (helper, exporter, or watcher callback) this thread is running, if
// any: shutdown() from one of its own callbacks must not join the thread it runs on.
extern thread_local const void* running_stream;

struct VulkanStreamCore : std::enable_shared_from_this<VulkanStreamCore> {
  VulkanStreamCore(const VulkanDevice& dev, VulkanCompletionStreamOptions opts);

  const VulkanDevice device;
  const VulkanDispatch d;
  const VkDevice vk;
  const VulkanCompletionStreamOptions options;
  VulkanCompletionPath path = VulkanCompletionPath::timeline_wait;
  Timeline timeline;

  std::mutex m;  // guards what follows, unless atomic or said otherwise
  std::condition_variable cv;
  std::uint64_t next_point = 0;  // the last point handed out by prepare()
  bool stopping = false;
  bool destroyed = false;
  std::optional<Error> error;

  // ---- timeline_wait
  VkSemaphore timeline_semaphore = VK_NULL_HANDLE;
  std::set<std::uint64_t> in_flight;           // submitted, not yet seen complete
  std::set<std::uint64_t> abandoned;           // never submitted: done once every earlier point is
  std::uint64_t seen_value = 0;                // the highest counter value seen (plus abandoned points)
  std::multiset<std::uint64_t> direct_points;  // points that threads inside wait() wait for
  bool direct_seen = false;
  bool helper_untimed = false;                        // the helper sleeps until notified
  std::chrono::steady_clock::time_point last_direct;  // when a direct wait last ended
  static constexpr std::chrono::milliseconds direct_grace{2};
  // Host-signaled to interrupt the driver waits (the helper's and the direct waiters'): each
  // waits for the timeline OR this semaphore past the value it saw when it started.
  VkSemaphore wake_semaphore = VK_NULL_HANDLE;
  std::uint64_t wake_value = 0;
  bool helper_in_wait = false, kicked = false;
  std::uint64_t helper_target = 0;  // the point the helper waits for, while helper_in_wait
  std::thread helper;

  // ---- sync_fd_export. The export is a wait operation that a driver may block in: Mesa holds
  // a wait-before-signal submission back until its waits are pending and blocks the export
  // until then; lavapipe finishes the work first. So exports never run on the caller's thread
  // (which may be the one that still has to release the submission's inputs): they run in
  // submission order on the exporter thread, each once the inputs given to
  // VulkanSignal::depends_on() are released (VUID-VkSemaphoreGetFdInfoKHR-handleType-03254:
  // the signal operations it depends on must have been submitted).
  struct PendingExport {
    std::uint64_t point = 0;
    PooledSemaphore* semaphore = nullptr;
    std::vector<std::shared_ptr<VulkanWaitState>> inputs;
    bool ready() const;
  };
  std::deque<PendingExport> exports;  // submitted, not exported yet, in point order
  std::condition_variable export_cv;
  std::thread exporter;
  SemaphorePool binaries;        // exportable binary semaphores (own lock)
  std::set<std::uint64_t> done;  // completed out of order, above `retired`
  std::uint64_t retired = 0;
  WatcherSlot watch;  // the exported sync_files' (own lock)

  // Common (vulkan_stream_core.cpp).
  Result<void> start();  // the path's semaphores and threads
  void fail(Error e);    // closes the timeline: every pending fence completes with ENOENT
  void signal_to(std::uint64_t point);
  void abandon(std::uint64_t point, PooledSemaphore* binary);
  void shutdown();
  void destroy();

  // timeline_wait (vulkan_stream_core_wait.cpp).
  void wake_waiters_locked();
  void kick_helper_locked(std::uint64_t direct_point);
  std::uint64_t seen_locked(std::uint64_t value);
  Result<std::optional<std::uint64_t>> driver_wait(std::uint64_t point, std::uint64_t wake_seen,
                                                   std::uint64_t timeout_ns);
  bool helper_next_locked(std::unique_lock<std::mutex>& lock, std::uint64_t& target);
  void helper_loop();
  void submitted_in_flight(std::uint64_t point);
  void abandon_in_flight(std::uint64_t point);
  Result<WaitStatus> direct_wait(std::uint64_t point, std::chrono::nanoseconds timeout, const Fence& fence);
  void leave_direct_wait_locked(std::uint64_t point);

  // sync_fd_export (vulkan_stream_core_export.cpp).
  void queue_export(std::uint64_t point, PooledSemaphore* semaphore,
                    std::vector<std::shared_ptr<VulkanWaitState>> inputs);
  void exporter_loop();
  void export_one(const PendingExport& job);
  void point_outcome(std::uint64_t point, const Result<void>& outcome);
  void mark_done(std::uint64_t point);
};

}  // namespace syncbridge::detail
