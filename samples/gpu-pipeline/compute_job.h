// The sample's own Vulkan work: per frame slot, an input and an output buffer (host-visible),
// a descriptor set and a pre-recorded command buffer that timestamps its start, runs the
// transform shader over the input and makes the output visible to the host. Timestamps are
// converted to CLOCK_MONOTONIC with VK_EXT_calibrated_timestamps, so they compare with the
// CPU's steady_clock.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "syncbridge/result.h"
#include "syncbridge/vulkan_context.h"

namespace gpu_pipeline {

class ComputeJob {
 public:
  static syncbridge::Result<std::unique_ptr<ComputeJob>> create(syncbridge::VulkanContext& ctx, std::uint32_t slots,
                                                                std::uint32_t elements);
  ComputeJob(const ComputeJob&) = delete;
  ComputeJob& operator=(const ComputeJob&) = delete;
  ~ComputeJob();

  std::uint32_t slots() const { return static_cast<std::uint32_t>(slots_.size()); }
  std::uint32_t elements() const { return elements_; }
  std::uint32_t* input(std::uint32_t slot) { return slots_[slot].in_map; }
  const std::uint32_t* output(std::uint32_t slot) const { return slots_[slot].out_map; }

  // One submission of the slot's command buffer (under the context's queue lock).
  VkResult submit(std::uint32_t slot, const std::vector<VkSemaphoreSubmitInfo>& waits,
                  const std::vector<VkSemaphoreSubmitInfo>& signals);

  // Re-reads the GPU/CPU clock offset (call before each measured run).
  void calibrate();
  bool has_timestamps() const { return timestamps_; }
  const std::string& timestamp_note() const { return timestamp_note_; }
  // The slot's last GPU start and end, in CLOCK_MONOTONIC nanoseconds.
  std::optional<std::pair<std::int64_t, std::int64_t>> gpu_times(std::uint32_t slot);
  // Where the slot's current submission is on the GPU, without waiting (for a stall report;
  // any thread). Told apart by its timestamps: until its command buffer starts, the slot's
  // queries hold the values of the slot's previous frame, the one gpu_times() read last.
  enum class GpuState { unknown, not_started, running, finished };  // unknown: no timestamps
  GpuState gpu_state(std::uint32_t slot);

  // Plain timeline semaphores for the baseline (no bridge): made and destroyed here.
  VkSemaphore make_timeline_semaphore();
  VkResult host_signal(VkSemaphore s, std::uint64_t value);
  VkResult host_wait(VkSemaphore s, std::uint64_t value, std::uint64_t timeout_ns);
  void wait_idle();

 private:
  explicit ComputeJob(syncbridge::VulkanContext& ctx) : ctx_(ctx) {}
  // create()'s steps: init() runs the next three in order, then init_slot() and record() per slot.
  syncbridge::Result<void> init(std::uint32_t slots, std::uint32_t elements);
  syncbridge::Result<void> create_pipeline();
  syncbridge::Result<void> create_pools(std::uint32_t slots);
  syncbridge::Result<void> init_timestamps(std::uint32_t slots);
  syncbridge::Result<void> init_slot(std::uint32_t slot);
  syncbridge::Result<void> record(std::uint32_t slot);
  syncbridge::Result<void> reset_queries();
  syncbridge::Result<VkCommandBuffer> begin_commands(VkCommandBufferUsageFlags usage);
  VkResult submit_locked(VkCommandBuffer cmd, const std::vector<VkSemaphoreSubmitInfo>& waits,
                         const std::vector<VkSemaphoreSubmitInfo>& signals);
  syncbridge::Result<VkBuffer> make_buffer(VkDeviceMemory& memory, void*& map, VkDeviceSize size);
  std::int64_t to_monotonic_ns(std::uint64_t ticks) const;

  struct Slot {
    VkBuffer in = VK_NULL_HANDLE, out = VK_NULL_HANDLE;
    VkDeviceMemory in_mem = VK_NULL_HANDLE, out_mem = VK_NULL_HANDLE;
    std::uint32_t* in_map = nullptr;
    std::uint32_t* out_map = nullptr;
    VkDescriptorSet set = VK_NULL_HANDLE;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
  };

  syncbridge::VulkanContext& ctx_;
  std::uint32_t elements_ = 0;
  std::vector<Slot> slots_;
  VkShaderModule shader_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
  VkDescriptorPool descriptor_pool_ = VK_NULL_HANDLE;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkQueryPool query_pool_ = VK_NULL_HANDLE;
  std::vector<VkSemaphore> semaphores_;
  bool timestamps_ = false;
  std::string timestamp_note_;
  double period_ns_ = 1.0;
  std::uint64_t timestamp_mask_ = ~0ull;
  std::int64_t cal_gpu_ns_ = 0, cal_cpu_ns_ = 0;
  // Per slot, the raw start timestamp gpu_times() read last (~0: none yet).
  std::unique_ptr<std::atomic<std::uint64_t>[]> last_start_;
  PFN_vkGetCalibratedTimestampsEXT get_calibrated_ = nullptr;
};

}  // namespace gpu_pipeline
