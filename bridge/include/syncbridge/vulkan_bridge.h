// syncbridge/vulkan_bridge.h: CPU fences to GPU waits, GPU completion to CPU fences.
//
// Model. A GPU submission (vkQueueSubmit2) waits on semaphores and signals semaphores. The
// bridge turns the CPU-side fences of this library into the first, and the second into
// CPU-side fences, choosing per device and per input the best of several paths; the caller's
// code is the same for all of them, and each object says which path it took.
//
// CPU -> GPU (VulkanBridge::wait_for -> VulkanWait, one VkSemaphoreSubmitInfo to wait on):
//   sync_fd_import    a kernel sync_file (SyncFile) imported into a binary semaphore with a
//                     TEMPORARY SYNC_FD import of a dup of its fd. The driver owns the fd only
//                     when the import succeeds; otherwise the bridge closes the dup itself.
//                     Needs VulkanCaps::sync_fd_semaphore_import.
//   syncobj_timeline  a DRM timeline syncobj (its fd, from the syncobj exporter) imported once as
//                     an OPAQUE_FD timeline semaphore (import_syncobj) and waited at the point
//                     (the point must be submitted by then: WAIT_FOR_SUBMIT semantics are the
//                     driver's, Mesa waits for it). Only on Mesa
//                     drivers (opaque_fd_maybe_syncobj); the first successful import confirms
//                     opaque_fd_is_syncobj, a refused one turns the path off for this bridge.
//   host_signal       the fallback, for any Vulkan 1.2 driver (lavapipe included): a timeline
//                     semaphore from a pool, waited at a fresh value that the bridge signals
//                     from the host (vkSignalSemaphore) when the input completes: at once, from
//                     Fence::on_complete, for a core Fence; from a Watcher (watcher.h) thread
//                     for a SyncFile whose import is not possible and for a syncobj point.
//   A core Fence takes host_signal (a Fence is not a kernel object; hand the bridge a SyncFile
//   or a syncobj point from an exporter to go native). An input that completes with an error
//   still releases the GPU wait (the submission runs: it must never hang) and the error is
//   reported by VulkanWait::status().
//
// GPU -> CPU (VulkanCompletionStream: prepare() -> VulkanSignal, submitted() -> Fence):
//   sync_fd_export    the submission signals a binary semaphore (created exportable); the stream
//                     exports it as a sync_file (an export is a wait operation: it unsignals the
//                     semaphore, which goes back to the pool; fd -1 means already signaled) and
//                     watches the sync_file with a Watcher. Needs sync_fd_semaphore_export.
//   timeline_wait     the fallback: the submission signals the stream's timeline semaphore at
//                     its point; a helper thread waits on it (vkWaitSemaphores, ANY with a private
//                     wake-up semaphore) and advances the stream's core Timeline. A consumer that
//                     blocks anyway calls wait(point): it waits on the semaphore itself and
//                     signals the Timeline on return, saving one thread wake-up (the helper then
//                     keeps out of the driver for 2 ms after each such wait).
//   Either way each submission gets a point on the stream's core Timeline, signaled in point
//   order when the GPU is done. For a kernel sync_file another process can wait on, advance an
//   exporter from the fence (e.g. on_complete -> SwSyncExporter::signal_to(point)).
//
// No deadlock, by design. A driver may block a SYNC_FD export until the submission it covers has
//   been handed to the kernel (Mesa holds wait-before-signal submissions back until their waits
//   are pending) or even finished (lavapipe). So submitted() never exports and never waits on
//   the GPU: exports run in point order on the stream's exporter thread, each only once the
//   inputs named with VulkanSignal::depends_on() are released, as the spec requires
//   (VUID-VkSemaphoreGetFdInfoKHR-handleType-03254: every signal operation the export depends
//   on must have been submitted). The rule for callers: name with depends_on() every VulkanWait
//   of this library the submission waits on, and signal any semaphore of your own that it waits
//   on before the work behind it can be needed. Then every call of this header returns without
//   waiting for the GPU, and a thread may submit gated work, take its completion fence and only
//   then signal the input. Completion callbacks run on the exporter, watcher or helper thread.
//   One more rule on sync_fd_export: an input must not wait for the completion of an earlier
//   point of the same stream (frame N+1 released from frame N's fence callback). Drivers may
//   make an export wait for later work on the queue too (lavapipe 25 finishes the whole queue
//   first), and frame N's export would then wait for frame N+1, which waits for it. Such a
//   pipeline takes timeline_wait (allow_sync_fd_export = false), which has no such constraint.
//
// Lifetimes. VkDevice > VulkanBridge / VulkanCompletionStream > VulkanWait / VulkanSignal.
//   - A VulkanWait must live until the submission that waits on it has completed on the GPU
//     (its semaphore may be imported anew once it is destroyed); or hand it to
//     VulkanBridge::retire_after(wait, completion_fence), which keeps it until then.
//   - shutdown() releases every host_signal GPU wait still pending (their inputs are reported
//     as Errc::timeline_closed) and stops the threads. A native wait (sync_fd_import,
//     syncobj_timeline) is gated by the kernel fence itself, which only its producer can
//     complete: reach the point, or close the exporter (closing either exporter releases every
//     point it never reached: sw_sync.h, syncobj_exporter.h). Then let the queue drain
//     (vkQueueWaitIdle) before destroying the bridge or a stream, whose destructors destroy the
//     semaphores (they call shutdown() themselves if you did not). A completion fence that signaled through a
//     sync_file does not tell the validation layer that the batch retired: drain the queue.
// Threads: every member may be called from any thread. Submissions that use a stream's
// VulkanSignals must reach the queue in prepare() order (one stream per queue; prepare and
// submit under the same lock).
#pragma once

#include <vulkan/vulkan.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syncbridge/drm_syncobj.h"
#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/timeline.h"
#include "syncbridge/vulkan_device.h"

namespace syncbridge {

namespace detail {
struct VulkanBridgeCore;
struct VulkanWaitState;
struct VulkanStreamCore;
struct VulkanSyncobjState;
}  // namespace detail

enum class VulkanWaitPath : std::uint8_t { sync_fd_import, syncobj_timeline, host_signal };
enum class VulkanCompletionPath : std::uint8_t { sync_fd_export, timeline_wait };
const char* path_name(VulkanWaitPath path) noexcept;        // "sync_fd_import"...
const char* path_name(VulkanCompletionPath path) noexcept;  // "sync_fd_export"...

// A DRM timeline syncobj imported once as an OPAQUE_FD timeline semaphore (VulkanBridge::
// import_syncobj), then waited at any of its points. Copies share the semaphore; it is
// destroyed when the last copy and the last VulkanWait made from it are gone.
class VulkanSyncobjTimeline {
 public:
  VulkanSyncobjTimeline() noexcept = default;
  bool valid() const noexcept { return state_ != nullptr; }
  VkSemaphore semaphore() const noexcept;

 private:
  friend class VulkanBridge;
  std::shared_ptr<detail::VulkanSyncobjState> state_;
};

// What one submission waits on. Move-only.
class VulkanWait {
 public:
  VulkanWait() noexcept;
  VulkanWait(VulkanWait&&) noexcept;
  VulkanWait& operator=(VulkanWait&&) noexcept;
  VulkanWait(const VulkanWait&) = delete;
  VulkanWait& operator=(const VulkanWait&) = delete;
  ~VulkanWait();

  bool valid() const noexcept { return state_ != nullptr; }
  // One entry for VkSubmitInfo2::pWaitSemaphoreInfos (semaphore, value, stage mask).
  const VkSemaphoreSubmitInfo& submit_info() const noexcept { return info_; }
  VulkanWaitPath path() const noexcept { return path_; }
  // The input's outcome so far: ok while pending and once signaled; Errc::fence_error when
  // the input fence errored (the GPU wait was released all the same); Errc::vulkan with the
  // VkResult when the host signal failed (e.g. VK_ERROR_DEVICE_LOST); Errc::timeline_closed
  // when shutdown() released it first; Errc::invalid_handle for an empty VulkanWait.
  Result<void> status() const;
  // Whether the GPU wait is released (host_signal: signaled; native paths: always true, the
  // kernel fence itself gates the GPU).
  bool released() const noexcept;

 private:
  friend class VulkanBridge;
  friend class VulkanSignal;
  friend struct detail::VulkanBridgeCore;
  std::shared_ptr<detail::VulkanWaitState> state_;
  VkSemaphoreSubmitInfo info_{};
  VulkanWaitPath path_ = VulkanWaitPath::host_signal;
};

struct VulkanBridgeOptions {
  // Stage mask of the waits (VkSemaphoreSubmitInfo::stageMask).
  VkPipelineStageFlags2 wait_stage_mask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
  bool allow_sync_fd_import = true;  // false: a SyncFile input always takes host_signal
  bool allow_syncobj = true;         // false: a syncobj point is exported as a sync_file instead
};

class VulkanBridge {
 public:
  // Errc::unsupported when the device lacks timeline semaphores (every path needs them).
  [[nodiscard]] static Result<std::unique_ptr<VulkanBridge>> create(const VulkanDevice& device,
                                                                    VulkanBridgeOptions options = {});
  VulkanBridge(const VulkanBridge&) = delete;
  VulkanBridge& operator=(const VulkanBridge&) = delete;
  ~VulkanBridge();

  // A core fence: host_signal. An empty fence is Errc::invalid_handle.
  [[nodiscard]] Result<VulkanWait> wait_for(const Fence& fence);
  // A sync_file (borrowed; the bridge imports or watches its own dup): sync_fd_import where the
  // device has it, else host_signal from the bridge's Watcher (watcher.h) thread.
  [[nodiscard]] Result<VulkanWait> wait_for(const SyncFile& sync_file);
  // A point of a DRM timeline syncobj (borrowed: it must outlive the wait's completion), when
  // the device cannot import it: host_signal from the Watcher (syncobj eventfd, kernel 6.6+,
  // or its helper thread), so the kernel object still gates the GPU. No sync_file is needed
  // for a point that is not submitted yet.
  [[nodiscard]] Result<VulkanWait> wait_for(const TimelineSyncobj& syncobj, std::uint64_t point);
  // Imports a DRM timeline syncobj fd (TimelineSyncobj::export_fd(), consumed: the driver owns
  // it when the import succeeds, the bridge closes it when it fails). Only where the driver's
  // OPAQUE_FD is known to be a syncobj (opaque_fd_maybe_syncobj); otherwise Errc::unsupported
  // naming why, and the caller exports a sync_file for the point instead. The first success
  // sets opaque_fd_is_syncobj; a refusal (Errc::vulkan) turns the path off for this bridge.
  [[nodiscard]] Result<VulkanSyncobjTimeline> import_syncobj(UniqueFd syncobj_fd);
  // A point of an imported syncobj: syncobj_timeline.
  [[nodiscard]] Result<VulkanWait> wait_for(const VulkanSyncobjTimeline& syncobj, std::uint64_t point);

  // Keeps `wait` until `completion` completes (signaled or errored), then drops it.
  void retire_after(VulkanWait&& wait, const Fence& completion);

  // The device's capabilities plus what this bridge learned (opaque_fd_is_syncobj).
  VulkanCaps caps() const noexcept;
  const VulkanDevice& device() const noexcept;
  // Counters for reports and tests.
  struct Stats {
    std::uint64_t waits[3] = {0, 0, 0};  // by VulkanWaitPath
    std::uint64_t input_errors = 0;       // inputs that completed with an error
    std::uint64_t signal_failures = 0;    // vkSignalSemaphore failures
    std::uint64_t import_failures = 0;    // SYNC_FD imports refused (then host_signal)
    std::uint64_t semaphores = 0;         // semaphores the bridge owns now
  };
  Stats stats() const;

  // Releases every pending host_signal GPU wait (native ones wait for their kernel fence: see
  // "Lifetimes") and stops watching; later wait_for() calls fail with Errc::invalid_handle.
  // Idempotent.
  void shutdown();

 private:
  VulkanBridge() = default;
  std::shared_ptr<detail::VulkanBridgeCore> core_;
};

// What one submission signals. Move-only.
class VulkanSignal {
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
  VkSemaphoreSubmitInfo info_{};
  std::uint64_t point_ = 0;
  VulkanCompletionPath path_ = VulkanCompletionPath::timeline_wait;
};

struct VulkanCompletionStreamOptions {
  std::string name = "vulkan-completions";  // the core Timeline's name
  bool allow_sync_fd_export = true;         // false: always timeline_wait
  VkPipelineStageFlags2 signal_stage_mask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
};

class VulkanCompletionStream {
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
  // Blocks the calling thread until point is done: like fence_at(point)->wait(timeout), but on
  // timeline_wait it waits on the semaphore itself (vkWaitSemaphores) and signals the Timeline
  // as soon as it returns, saving the helper thread's wake-up for a consumer that blocks anyway.
  // Errc::fence_error when the stream failed (see error()).
  [[nodiscard]] Result<WaitStatus> wait(std::uint64_t point, std::chrono::nanoseconds timeout);
  std::uint64_t completed_point() const noexcept;  // the stream Timeline's value
  // The first Vulkan or kernel error the stream hit (VK_ERROR_DEVICE_LOST from
  // vkWaitSemaphores, a failed export); then the stream's Timeline is closed, so every pending
  // fence completes with ENOENT (Errc::fence_error for its waiters).
  std::optional<Error> error() const;

  // True for a validation-layer report that this stream's own correct use causes: a binary
  // semaphore of the stream signaled again after its SYNC_FD export, which the spec makes a wait
  // operation but which layers that do not model it so (1.3.239, Debian 12's) report as
  // UNASSIGNED-CoreValidation-DrawState-QueueForwardProgress. For apps that fail on every
  // validation message; nothing else is ever explained away.
  bool explains_validation_message(std::string_view message) const;

  // Stops the helper and watcher threads and closes the Timeline (pending fences error). Call it
  // (or the destructor) only when the GPU has finished every submission of the stream.
  void shutdown();

 private:
  VulkanCompletionStream() = default;
  std::shared_ptr<detail::VulkanStreamCore> core_;
};

}  // namespace syncbridge
