// The synchronisation under test, as one run of the pipeline sees it: the bridge (one of three
// backends) or the baseline (a plain host-signaled timeline semaphore), both in main.cpp.
#pragma once

#include <vulkan/vulkan.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "syncbridge/fence.h"
#include "syncbridge/result.h"

namespace gpu_pipeline {

class FrameSync {
 public:
  virtual ~FrameSync() = default;
  // Submitter, before vkQueueSubmit2 of point's frame: what it waits on and signals.
  virtual syncbridge::Result<void> prepare(std::uint64_t point, std::vector<VkSemaphoreSubmitInfo>& waits,
                                           std::vector<VkSemaphoreSubmitInfo>& signals) = 0;
  // Submitter, after the submit (VK_SUCCESS).
  virtual syncbridge::Result<void> submitted(std::uint64_t point) = 0;
  // Producer: the input of point is ready.
  virtual syncbridge::Result<void> signal(std::uint64_t point) = 0;
  // Consumer: block until point's frame is done on the GPU, or timeout (wait_forever: none)
  // passed: WaitStatus::timed_out.
  virtual syncbridge::Result<syncbridge::WaitStatus> wait_done(std::uint64_t point,
                                                               std::chrono::nanoseconds timeout) = 0;
  // After the consumer is done with point: release what the frame held.
  virtual void retire(std::uint64_t point) = 0;
  // Both may be called from any thread, while the run goes on (the stall report does).
  virtual std::string wait_path() const = 0;
  virtual std::string completion_path() const = 0;
  virtual std::uint64_t input_errors() const { return 0; }
  // After a failure: release every GPU wait so that the queue drains.
  virtual void release_all(std::uint64_t last_point) = 0;
};

}  // namespace gpu_pipeline
