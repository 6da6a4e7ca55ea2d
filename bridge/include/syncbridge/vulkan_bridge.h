// syncbridge/vulkan_bridge.h: CPU fences to GPU waits (VulkanBridge -> VulkanWait).
//
// Model. A GPU submission (vkQueueSubmit2) waits on semaphores and signals semaphores. The
// bridge turns this library's CPU-side fences into the first; the completion stream
// (vulkan_completion.h, included here) turns the second into CPU-side fences. Each picks the
// best path per device and input; the caller's code is the same for all, and each object says
// which it took. wait_for() -> VulkanWait (one VkSemaphoreSubmitInfo to wait on) by:
//   sync_fd_import    a kernel sync_file (SyncFile) imported into a binary semaphore with a
//                     TEMPORARY SYNC_FD import (sync_fd_semaphore_import).
//   syncobj_timeline  a DRM timeline syncobj's fd (from the syncobj exporter) imported once as an
//                     OPAQUE_FD timeline semaphore (import_syncobj), waited at the point (which
//                     must be submitted by then: WAIT_FOR_SUBMIT is the driver's, Mesa waits).
//                     Only on Mesa drivers (opaque_fd_maybe_syncobj); the first successful import
//                     confirms opaque_fd_is_syncobj, a refused one turns the path off.
//   host_signal       the fallback, for any Vulkan 1.2 driver (lavapipe included): a pooled
//                     timeline semaphore, waited at a fresh value that the bridge signals from
//                     the host (vkSignalSemaphore) when the input completes: from
//                     Fence::on_complete for a core Fence (not a kernel object: hand the bridge a
//                     SyncFile or an exporter's syncobj point to go native), from a Watcher
//                     (watcher.h) for a SyncFile it cannot import and for a syncobj point.
//   An input that completes with an error still releases the GPU wait (a submission must never
//   hang); VulkanWait::status() reports the error.
// Ownership. wait_for(const SyncFile&) borrows the sync_file (the bridge works on a dup);
//   wait_for(SyncFile&&) consumes it, saving the dup. An imported fd is the driver's only when
//   the import succeeds; else the bridge closes (or watches) it. A TimelineSyncobj is borrowed.
//   The bridge owns its semaphores and, unless VulkanBridgeOptions::watcher shares the
//   caller's, a Watcher thread made on first use.
// Lifetimes. VkDevice > VulkanBridge > VulkanWait.
//   - A VulkanWait lives until the submission that waits on it has completed on the GPU (its
//     semaphore may be imported anew once it is destroyed), or goes to retire_after().
//   - shutdown() releases every pending host_signal GPU wait (their inputs report
//     Errc::timeline_closed) and stops watching. A native wait is gated by the kernel fence
//     itself, which only its producer can complete: reach the point, or close the exporter
//     (which releases every point it never reached: sw_sync.h, syncobj_exporter.h). Then drain
//     the queue (vkQueueWaitIdle) before destroying the bridge, which destroys the semaphores.
// Threads: every member may be called from any thread.
#pragma once

#include "syncbridge/export.h"

#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>

#include "syncbridge/drm_syncobj.h"
#include "syncbridge/fence.h"
#include "syncbridge/result.h"
#include "syncbridge/sync_file.h"
#include "syncbridge/vulkan_completion.h"
#include "syncbridge/vulkan_device.h"

namespace syncbridge {

class Watcher;
namespace detail {
struct VulkanBridgeCore;
struct VulkanWaitState;
struct VulkanSyncobjState;
}  // namespace detail

enum class VulkanWaitPath : std::uint8_t { sync_fd_import, syncobj_timeline, host_signal };
SYNCBRIDGE_API const char* path_name(VulkanWaitPath path) noexcept;  // "sync_fd_import"...

// A DRM timeline syncobj imported as an OPAQUE_FD timeline semaphore (import_syncobj), waited at
// any point. Copies share the semaphore, destroyed with the last copy and VulkanWait of it.
class SYNCBRIDGE_API VulkanSyncobjTimeline {
 public:
  VulkanSyncobjTimeline() noexcept = default;
  bool valid() const noexcept { return state_ != nullptr; }
  VkSemaphore semaphore() const noexcept;

 private:
  friend class VulkanBridge;
  std::shared_ptr<detail::VulkanSyncobjState> state_;
};

// What one submission waits on. Move-only.
class SYNCBRIDGE_API VulkanWait {
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
  // The input's outcome so far: ok while pending and once signaled; Errc::fence_error: the
  // input errored (the GPU wait was released all the same); Errc::vulkan: the host signal
  // failed (e.g. VK_ERROR_DEVICE_LOST); Errc::timeline_closed: shutdown() released it first.
  Result<void> status() const;
  // Whether the GPU wait is released (host_signal: signaled; native paths: always).
  bool released() const noexcept;

 private:
  friend class VulkanBridge;
  friend class VulkanSignal;
  friend struct detail::VulkanBridgeCore;
  std::shared_ptr<detail::VulkanWaitState> state_;
  VkSemaphoreSubmitInfo info_{};
  VulkanWaitPath path_ = VulkanWaitPath::host_signal;
};

struct SYNCBRIDGE_API VulkanBridgeOptions {
  // Stage mask of the waits (VkSemaphoreSubmitInfo::stageMask).
  VkPipelineStageFlags2 wait_stage_mask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
  bool allow_sync_fd_import = true;  // false: a SyncFile input always takes host_signal
  bool allow_syncobj = true;         // false: a syncobj point is exported as a sync_file instead
  // The caller's Watcher for the kernel inputs of host_signal (shared; keep your reference
  // while you dispatch it): no bridge thread; shutdown() removes the bridge's pending watches;
  // in caller_loop mode the GPU waits release when the caller dispatches. Null: a private one.
  std::shared_ptr<Watcher> watcher = nullptr;
};

class SYNCBRIDGE_API VulkanBridge {
 public:
  // Errc::unsupported when the device lacks timeline semaphores (every path needs them).
  [[nodiscard]] static Result<std::unique_ptr<VulkanBridge>> create(const VulkanDevice& device,
                                                                    VulkanBridgeOptions options = {});
  VulkanBridge(const VulkanBridge&) = delete;
  VulkanBridge& operator=(const VulkanBridge&) = delete;
  ~VulkanBridge();

  // A core fence: host_signal. An empty fence is Errc::invalid_handle.
  [[nodiscard]] Result<VulkanWait> wait_for(const Fence& fence);
  // A sync_file: sync_fd_import where the device has it, else host_signal from the watcher.
  // Borrowed (a dup is made), or consumed, even on an error, by the && overload.
  [[nodiscard]] Result<VulkanWait> wait_for(const SyncFile& sync_file);
  [[nodiscard]] Result<VulkanWait> wait_for(SyncFile&& sync_file);
  // A point of a DRM timeline syncobj (borrowed: it must outlive the wait's completion): its
  // sync_file imported once submitted, if the device can; else host_signal (the Watcher's).
  [[nodiscard]] Result<VulkanWait> wait_for(const TimelineSyncobj& syncobj, std::uint64_t point);
  // Imports a DRM timeline syncobj fd (TimelineSyncobj::export_fd(), consumed). Errc::unsupported
  // naming why where the path is off (then wait on a sync_file of the point instead).
  [[nodiscard]] Result<VulkanSyncobjTimeline> import_syncobj(UniqueFd syncobj_fd);
  // A point of an imported syncobj: syncobj_timeline.
  [[nodiscard]] Result<VulkanWait> wait_for(const VulkanSyncobjTimeline& syncobj, std::uint64_t point);

  // Keeps `wait` until `completion` completes (signaled or errored), then drops it.
  void retire_after(VulkanWait&& wait, const Fence& completion);

  VulkanCaps caps() const noexcept;  // the device's, plus what it learned (opaque_fd_is_syncobj)
  const VulkanDevice& device() const noexcept;
  struct Stats {                         // counters for reports and tests
    std::uint64_t waits[3] = {0, 0, 0};  // by VulkanWaitPath
    std::uint64_t input_errors = 0;      // inputs that completed with an error
    std::uint64_t signal_failures = 0;   // vkSignalSemaphore failures
    std::uint64_t import_failures = 0;   // SYNC_FD imports refused (then host_signal)
    std::uint64_t semaphores = 0;        // semaphores the bridge owns now
  };
  Stats stats() const;

  // Releases every pending host_signal GPU wait (see "Lifetimes") and stops watching; later
  // wait_for() calls fail with Errc::invalid_handle. Idempotent; the destructor calls it.
  void shutdown();

 private:
  VulkanBridge() = default;
  std::shared_ptr<detail::VulkanBridgeCore> core_;
};

}  // namespace syncbridge
