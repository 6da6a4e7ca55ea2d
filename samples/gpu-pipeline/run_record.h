// What one run of the pipeline measured, per frame: read by the statistics, the reports and
// the trace once the run's threads are joined.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gpu_pipeline {

// now_ns() times (CLOCK_MONOTONIC); 0 where the frame never got there. The GPU times come from
// the command buffer's timestamps, calibrated to the same clock (0 without timestamps).
struct FrameRecord {
  std::int64_t submitted_ns = 0;  // vkQueueSubmit2 returned (submitter thread)
  std::int64_t signal_ns = 0;     // the producer signals the input (producer thread)
  std::int64_t gpu_start_ns = 0, gpu_end_ns = 0;
  std::int64_t done_ns = 0;  // the consumer's wait returned (consumer thread)
};

struct RunResult {
  std::string name, wait_path, completion_path;
  std::string backend;        // the bridge's backend; the baseline says it has none
  std::uint32_t round = 0;    // 1-based
  std::int64_t start_ns = 0;  // before the first submission
  std::vector<FrameRecord> frames;
  std::uint64_t bad_frames = 0, input_errors = 0;
  std::string first_error;
  double seconds = 0;
};

}  // namespace gpu_pipeline
