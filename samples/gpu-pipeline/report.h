// What the rounds measured, summed up: latency statistics per run kind, the runs of several
// rounds combined, and the report (text, or JSON with --json).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "backend.h"
#include "options.h"
#include "run_record.h"
#include "syncbridge/vulkan_device.h"

namespace gpu_pipeline {

// Percentiles in microseconds; NAN where there was nothing to measure.
struct Stats {
  std::size_t n = 0;
  double p50 = NAN, p90 = NAN, p99 = NAN, max = NAN, mean = NAN;
};

struct Summary {
  Stats to_gpu_start, to_cpu_done, gpu_wake;
  double throughput_fps = 0;
};

// The rounds' frames pooled (each run's first frames are warm-up and left out).
Summary summarize(const std::vector<RunResult>& runs, bool timestamps);
// Several rounds as one: paths of the first, counts summed, the first error.
RunResult combine(const std::vector<RunResult>& runs);

struct Report {
  const Options& o;
  const syncbridge::VulkanDevice& dev;
  Backend backend;
  const std::vector<std::string>& notes;
  const RunResult &bridged, &base;
  const Summary &bs, &ss;
  bool verified;
  int validation_errors;
  const std::string& unmet;  // "" when the --require-*-path options were met
};

void print_json(const Report& r);
void print_text(const Report& r);

}  // namespace gpu_pipeline
