// The synchronisation under test (FrameSync, frame_sync.h): BridgeSync, the bridge with one of
// three producer timelines, and BaselineSync, a plain host-signaled timeline semaphore.
//
// BridgeSync's producer timeline is a core Timeline (backend host) or a kernel timeline behind
// syncbridge::Exporter (exporter.h: SwSyncExporter or SyncobjExporter), so the producer's code
// (signal, release_all) is written once. Only how the GPU waits for an input point depends on
// what the kernel side is: a pending sync_file (sw_sync), the syncobj's point (syncobj, imported
// into Vulkan where the driver can), or the core fence (host).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compute_job.h"
#include "frame_sync.h"
#include "syncbridge/drm_device.h"
#include "syncbridge/exporter.h"
#include "syncbridge/syncobj_exporter.h"
#include "syncbridge/timeline.h"
#include "syncbridge/vulkan_bridge.h"
#include "syncbridge/vulkan_caps.h"
#include "syncbridge/vulkan_completion.h"

namespace gpu_pipeline {

// The completion streams alive now, for the validation callback: a stream explains the one
// report that old validation layers make about its correct reuse of exported semaphores.
class LiveStreams {
 public:
  bool explains(const char* text);
  void add(const syncbridge::VulkanCompletionStream* s);
  void remove(const syncbridge::VulkanCompletionStream* s);

 private:
  std::mutex mutex_;
  std::vector<const syncbridge::VulkanCompletionStream*> streams_;
};
LiveStreams& live_streams();

class BaselineSync final : public FrameSync {
 public:
  explicit BaselineSync(ComputeJob& job);
  bool ok() const { return in_ != VK_NULL_HANDLE && done_ != VK_NULL_HANDLE; }
  syncbridge::Result<void> prepare(std::uint64_t point, std::vector<VkSemaphoreSubmitInfo>& waits,
                                   std::vector<VkSemaphoreSubmitInfo>& signals) override;
  syncbridge::Result<void> submitted(std::uint64_t) override { return {}; }
  syncbridge::Result<void> signal(std::uint64_t point) override;
  void release_all(std::uint64_t last_point) override;
  syncbridge::Result<syncbridge::WaitStatus> wait_done(std::uint64_t point, std::chrono::nanoseconds timeout) override;
  void retire(std::uint64_t) override {}
  std::string wait_path() const override { return "plain host-signaled timeline semaphore"; }
  std::string completion_path() const override { return "vkWaitSemaphores on the consumer thread"; }

 private:
  ComputeJob& job_;
  VkSemaphore in_ = VK_NULL_HANDLE, done_ = VK_NULL_HANDLE;
  std::atomic<std::uint64_t> signaled_{0};
};

// The producer's kernel timeline for one bridge run; an empty one means backend host.
struct KernelTimeline {
  syncbridge::DrmDevice drm;                       // the syncobj exporter's device: outlives it
  std::unique_ptr<syncbridge::Exporter> exporter;  // SwSyncExporter or SyncobjExporter
};

class BridgeSync final : public FrameSync {
 public:
  static syncbridge::Result<std::unique_ptr<BridgeSync>> create(const syncbridge::VulkanDevice& dev,
                                                                KernelTimeline kernel, std::uint32_t frames);
  ~BridgeSync() override;

  syncbridge::Result<void> prepare(std::uint64_t point, std::vector<VkSemaphoreSubmitInfo>& waits,
                                   std::vector<VkSemaphoreSubmitInfo>& signals) override;
  syncbridge::Result<void> submitted(std::uint64_t point) override;
  syncbridge::Result<void> signal(std::uint64_t point) override;
  syncbridge::Result<syncbridge::WaitStatus> wait_done(std::uint64_t point, std::chrono::nanoseconds timeout) override;
  void retire(std::uint64_t point) override;
  std::string wait_path() const override;
  std::string completion_path() const override;
  std::uint64_t input_errors() const override { return input_errors_; }
  void release_all(std::uint64_t last_point) override;
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  BridgeSync() = default;
  syncbridge::Result<void> import_syncobj();
  syncbridge::Result<syncbridge::VulkanWait> wait_for_input(std::uint64_t point);
  struct Frame {
    syncbridge::VulkanWait wait;
    syncbridge::VulkanSignal signal;
    syncbridge::Fence done;
  };
  KernelTimeline kernel_;
  const syncbridge::SyncobjExporter* syncobj_ = nullptr;  // kernel_.exporter, when a syncobj
  syncbridge::Timeline input_;                            // backend host only
  std::unique_ptr<syncbridge::VulkanBridge> bridge_;
  std::unique_ptr<syncbridge::VulkanCompletionStream> stream_;
  syncbridge::VulkanSyncobjTimeline imported_;
  std::vector<Frame> frames_;
  std::atomic<std::uint32_t> wait_paths_{0};  // bit per VulkanWaitPath; read by the stall report
  std::uint64_t input_errors_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace gpu_pipeline
