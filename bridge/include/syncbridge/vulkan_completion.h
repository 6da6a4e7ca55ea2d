// syncbridge/vulkan_completion.h: GPU completion to CPU fences (VulkanCompletionStream).
//
// Model. Before vkQueueSubmit2, prepare() hands out the next point of the stream's core
// Timeline and what the submission must signal (a VulkanSignal); after it, submitted() returns
// that point's core Fence, signaled in point order once the GPU is done. Per device, by:
//   sync_fd_export    the submission signals a binary semaphore (created exportable); the stream
//                     exports it as a sync_file (an export is a wait operation: it unsignals the
//                     semaphore, which goes back to the pool; fd -1 means already signaled) and
//                     watches the sync_file with a Watcher. Needs sync_fd_semaphore_export.
//   timeline_wait     the fallback: the submission signals the stream's timeline semaphore at
//                     its point; a helper thread waits on it (vkWaitSemaphores, ANY with a private
//                     wake-up semaphore) and advances the Timeline. A consumer that blocks anyway
//                     calls wait(point), which waits on the semaphore itself, saving a thread
//                     wake-up (the helper then keeps out of the driver for 2 ms after it).
//   For a kernel sync_file another process can wait on, advance an exporter from the fence
//   (e.g. on_complete -> SwSyncExporter::signal_to(point)).
// No deadlock, by design. A driver may block a SYNC_FD export until the submission it covers has
//   been handed to the kernel (Mesa holds wait-before-signal submissions back until their waits
//   are pending) or even finished (lavapipe). So submitted() never exports and never waits on
//   the GPU: exports run in point order on the stream's exporter thread, each only once the
//   inputs named with VulkanSignal::depends_on() are released, as the spec requires
//   (VUID-VkSemaphoreGetFdInfoKHR-handleType-03254: every signal operation the export depends
//   on must have been submitted). The rule for callers: name with depends_on() every VulkanWait
//   (vulkan_bridge.h) the submission waits on, and signal any semaphore of your own that it
//   waits on before the work behind it can be needed. Then no call of the bridge or the stream
//   waits for the GPU, and a thread may submit gated work, take its completion fence and only
//   then signal the input. One more rule on sync_fd_export: an input must not wait for the
//   completion of an earlier point of the same stream (frame N+1 released from frame N's fence
//   callback). Drivers may make an export wait for later work on the queue too (lavapipe 25
//   finishes the whole queue first), and frame N's export would then wait for frame N+1, which
//   waits for it. Such a pipeline takes timeline_wait (allow_sync_fd_export = false).
// Ownership. The stream owns its semaphores, the exported sync_files (closed once signaled)
//   and its threads: the exporter (sync_fd_export) or the helper (timeline_wait), and on
//   sync_fd_export a Watcher thread, unless VulkanCompletionStreamOptions::watcher shares the
//   caller's. Completion callbacks run on the exporter, watcher or helper thread.
// Lifetimes. VkDevice > VulkanCompletionStream > VulkanSignal. Shut a stream down or destroy it
//   only when the GPU has finished every submission of it: drain the queue (vkQueueWaitIdle);
//   a completion fence that signaled through a sync_file does not tell the validation layer
//   that the batch retired.
// Threads: every member may be called from any thread. Submissions that use a stream's
// VulkanSignals must reach the queue in prepare() order (one stream per queue; prepare and
// submit under the same lock).
#pragma once

#include "syncbridge/export.h"

#include <vulkan/vulkan.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/timeline.h"
#include "syncbridge/vulkan_device.h"

namespace syncbridge {

class VulkanWait;  // vulkan_bridge.h
class Watcher;     // watcher.h
namespace detail {
struct VulkanStreamCore;
struct VulkanWaitState;
struct PooledSemaphore;
}  // namespace detail

enum class VulkanCompletionPath : std::uint8_t { sync_fd_export, timeline_wait };
SYNCBRIDGE_API const char* path_name(VulkanCompletionPath path) noexcept;  // "sync_fd_export"...

// What one submission signals. Move-only.
class SYNCBRIDGE_API VulkanSignal {
 public:
  VulkanSignal() noexcept = default;
  VulkanSignal(VulkanSignal&&) noexcept;
  VulkanSignal& operator=(VulkanSignal&&) noexcept;
  VulkanSignal(const VulkanSignal&) = delete;
  VulkanSignal& operator=(const VulkanSignal&) = delete;
  ~VulkanSignal();  // an unsubmitted signal is abandoned (see VulkanCompletionStream::abandon)

  bool valid() const noexcept { return stream_ != nullptr; }
  // One entry for VkSubmitInfo2::pSignalSemaphoreInfos.
  const VkSemaphoreSubmitInfo& submit_info() const noexcept { return info_; }
  std::uint64_t point() const noexcept { return point_; }  // on the stream's Timeline
  VulkanCompletionPath path() const noexcept { return path_; }
  // The submission waits on `input` (borrowed; its state is shared until the export): on
  // sync_fd_export the export waits until the input is released (see "No deadlock" above).
  void depends_on(const VulkanWait& input);

 private:
  friend class VulkanCompletionStream;
  std::shared_ptr<detail::VulkanStreamCore> stream_;
  std::vector<std::shared_ptr<detail::VulkanWaitState>> inputs_;
  detail::PooledSemaphore* binary_ = nullptr;  // sync_fd_export: the semaphore info_ names
  VkSemaphoreSubmitInfo info_{};
  std::uint64_t point_ = 0;
  VulkanCompletionPath path_ = VulkanCompletionPath::timeline_wait;
};

struct SYNCBRIDGE_API VulkanCompletionStreamOptions {
  std::string name = "vulkan-completions";  // the core Timeline's name
  bool allow_sync_fd_export = true;         // false: always timeline_wait
  VkPipelineStageFlags2 signal_stage_mask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
  // sync_fd_export: the caller's Watcher for the exported sync_files (shared; keep your
  // reference while you dispatch it): no watcher thread of the stream's; shutdown() removes its
  // pending watches; in caller_loop mode fences signal when the caller dispatches. Null: a
  // private own_thread Watcher.
  std::shared_ptr<Watcher> watcher = nullptr;
};

class SYNCBRIDGE_API VulkanCompletionStream {
 public:
  [[nodiscard]] static Result<std::unique_ptr<VulkanCompletionStream>> create(
      const VulkanDevice& device, VulkanCompletionStreamOptions options = {});
  VulkanCompletionStream(const VulkanCompletionStream&) = delete;
  VulkanCompletionStream& operator=(const VulkanCompletionStream&) = delete;
  ~VulkanCompletionStream();

  VulkanCompletionPath path() const noexcept;

  // Before vkQueueSubmit2: the next point and what the submission must signal.
  [[nodiscard]] Result<VulkanSignal> prepare();
  // After vkQueueSubmit2 returned VK_SUCCESS: the core fence that signals when the GPU has
  // finished the submission. Never blocks on the GPU (sync_fd_export: the export is queued).
  [[nodiscard]] Result<Fence> submitted(VulkanSignal&& signal);
  // After a failed submit: the point is signaled by the stream itself (as if done) so later
  // points are not held up. Its fence is not handed out.
  void abandon(VulkanSignal&& signal);

  // A fence for any point handed out so far (or already reached).
  [[nodiscard]] Result<Fence> fence_at(std::uint64_t point);
  // Like fence_at(point)->wait(timeout), but on timeline_wait the caller's thread waits on the
  // semaphore itself and signals the Timeline on return (no helper wake-up). Errc::fence_error
  // when the stream failed (see error()).
  [[nodiscard]] Result<WaitStatus> wait(std::uint64_t point, std::chrono::nanoseconds timeout);
  std::uint64_t completed_point() const noexcept;  // the stream Timeline's value
  // The first Vulkan or kernel error the stream hit (VK_ERROR_DEVICE_LOST, a failed export);
  // the Timeline is closed then: pending fences complete with ENOENT (Errc::fence_error).
  std::optional<Error> error() const;

  // True for a validation report that this stream's correct use causes: a binary semaphore of
  // it signaled again after its SYNC_FD export (a wait operation, which layers 1.3.239, Debian
  // 12's, do not model: UNASSIGNED-CoreValidation-DrawState-QueueForwardProgress). Nothing else.
  bool explains_validation_message(std::string_view message) const;

  // Stops the helper, exporter and watcher threads and closes the Timeline (pending fences
  // error). Only when the GPU has finished every submission of the stream (see "Lifetimes").
  void shutdown();

 private:
  VulkanCompletionStream() = default;
  std::shared_ptr<detail::VulkanStreamCore> core_;
};

}  // namespace syncbridge
