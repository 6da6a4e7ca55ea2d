// One run: producer, submitter and consumer threads over the same ComputeJob, gated by a
// FrameSync, watched by a RunMonitor (stall watchdog, progress line).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "compute_job.h"
#include "frame_sync.h"
#include "run_record.h"

namespace gpu_pipeline {

struct RunSetup {
  std::string name;     // "bridge/host", "baseline"
  std::string backend;  // the bridge's backend: the stall line names it
  std::uint32_t round = 1, rounds = 1;
  std::uint32_t frames = 0;
  // No frame progress for this long: the stall line and exit 1; also every wait's deadline.
  // Zero: no watchdog, waits without a deadline.
  std::chrono::nanoseconds stall_timeout{0};
  bool progress_line = false;  // stderr is a terminal and the report is not JSON
  std::int64_t program_start_ns = 0;
};

RunResult run_pipeline(ComputeJob& job, FrameSync& sync, const RunSetup& setup);

}  // namespace gpu_pipeline
