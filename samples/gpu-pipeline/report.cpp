#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "json_text.h"
#include "syncbridge/vulkan_caps.h"
#include "syncbridge/vulkan_context.h"

namespace gpu_pipeline {

using namespace syncbridge;
using syncbridge::samples::json_str;

namespace {

Stats stats_of(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    const double idx = p * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(idx));
    const auto hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
  };
  s.p50 = pct(0.5);
  s.p90 = pct(0.9);
  s.p99 = pct(0.99);
  s.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

std::string num(double v) {
  if (std::isnan(v)) return "null";
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
std::string stats_json(const Stats& s) {
  return "{\"n\": " + std::to_string(s.n) + ", \"p50\": " + num(s.p50) + ", \"p90\": " + num(s.p90) +
         ", \"p99\": " + num(s.p99) + ", \"max\": " + num(s.max) + ", \"mean\": " + num(s.mean) + "}";
}
std::string run_json(const RunResult& r, const Summary& s) {
  return "{\"wait_path\": " + json_str(r.wait_path) + ", \"completion_path\": " + json_str(r.completion_path) +
         ", \"frames\": " + std::to_string(r.frames.size()) + ", \"bad_frames\": " + std::to_string(r.bad_frames) +
         ", \"input_errors\": " + std::to_string(r.input_errors) +
         ", \"error\": " + (r.first_error.empty() ? "null" : json_str(r.first_error)) +
         ", \"seconds\": " + num(r.seconds) + ", \"throughput_fps\": " + num(s.throughput_fps) +
         ", \"signal_to_gpu_start_us\": " + stats_json(s.to_gpu_start) +
         ", \"signal_to_cpu_done_us\": " + stats_json(s.to_cpu_done) +
         ", \"gpu_ready_to_start_us\": " + stats_json(s.gpu_wake) + "}";
}
void print_stats(const char* what, const Stats& s) {
  if (s.n == 0) {
    std::printf("    %-28s n/a\n", what);
    return;
  }
  std::printf("    %-28s p50 %8.1f  p90 %8.1f  p99 %8.1f  max %8.1f us\n", what, s.p50, s.p90, s.p99, s.max);
}

std::string or_null(const std::string& s) { return s.empty() ? "null" : json_str(s); }

void print_run(const char* title, const RunResult& r, const Summary& s) {
  std::printf("  %s: %s, %.1f frames/s\n", title, r.bad_frames ? "WRONG DATA" : "verified", s.throughput_fps);
  print_stats("CPU signal -> GPU start", s.to_gpu_start);
  print_stats("CPU signal -> CPU sees done", s.to_cpu_done);
  print_stats("GPU ready -> GPU start", s.gpu_wake);
  if (!r.first_error.empty()) std::printf("    first error: %s\n", r.first_error.c_str());
}

}  // namespace

Summary summarize(const std::vector<RunResult>& runs, bool timestamps) {
  Summary s;
  std::vector<double> a, b, c;
  double frames = 0, seconds = 0;
  for (const RunResult& r : runs) {
    const std::size_t warmup = std::min<std::size_t>(10, r.frames.size() / 10);
    for (std::size_t i = warmup; i < r.frames.size(); ++i) {
      const auto& f = r.frames[i];
      if (!f.done_ns || !f.signal_ns) continue;
      b.push_back(static_cast<double>(f.done_ns - f.signal_ns) / 1000.0);
      if (timestamps && f.gpu_start_ns) {
        a.push_back(static_cast<double>(f.gpu_start_ns - f.signal_ns) / 1000.0);
        // From the moment the GPU could start (input signaled and the previous frame done).
        const std::int64_t ready = i > 0 ? std::max(f.signal_ns, r.frames[i - 1].gpu_end_ns) : f.signal_ns;
        c.push_back(static_cast<double>(f.gpu_start_ns - ready) / 1000.0);
      }
    }
    if (!r.frames.empty() && r.frames.front().signal_ns && r.frames.back().done_ns > r.frames.front().signal_ns) {
      frames += static_cast<double>(r.frames.size());
      seconds += static_cast<double>(r.frames.back().done_ns - r.frames.front().signal_ns) / 1e9;
    }
  }
  s.to_gpu_start = stats_of(a);
  s.to_cpu_done = stats_of(b);
  s.gpu_wake = stats_of(c);
  if (seconds > 0) s.throughput_fps = frames / seconds;
  return s;
}

RunResult combine(const std::vector<RunResult>& runs) {
  RunResult all;
  if (runs.empty()) return all;
  all.name = runs.front().name;
  all.wait_path = runs.front().wait_path;
  all.completion_path = runs.front().completion_path;
  for (const auto& r : runs) {
    all.frames.insert(all.frames.end(), r.frames.begin(), r.frames.end());
    all.bad_frames += r.bad_frames;
    all.input_errors += r.input_errors;
    all.seconds += r.seconds;
    if (all.first_error.empty()) all.first_error = r.first_error;
  }
  return all;
}

void print_json(const Report& r) {
  const auto& rep = r.dev.report();
  const Options& o = r.o;
  std::string j = "{\n";
  j += "  \"device\": {\"name\": " + json_str(rep.device_name) +
       ", \"driver\": " + json_str(vulkan_driver_id_name(rep.driver_id)) +
       ", \"driver_info\": " + json_str(rep.driver_info) +
       ", \"api_version\": " + json_str(vulkan_version_string(rep.api_version)) +
       ", \"caps\": " + json_str(describe(r.dev.caps())) + "},\n";
  j += "  \"backend\": " + json_str(backend_name(r.backend)) + ", \"requested\": " + json_str(o.backend) + ",\n";
  j += "  \"wait_path\": " + json_str(r.bridged.wait_path) +
       ", \"completion_path\": " + json_str(r.bridged.completion_path) + ",\n";
  j += "  \"required\": {\"wait_path\": " + or_null(o.require_wait_path) +
       ", \"completion_path\": " + or_null(o.require_completion_path) +
       ", \"met\": " + (r.unmet.empty() ? "true" : "false") + ", \"why_not\": " + or_null(r.unmet) + "},\n";
  j += "  \"frames\": " + std::to_string(o.frames) + ", \"rounds\": " + std::to_string(o.rounds) +
       ", \"frames_in_flight\": " + std::to_string(o.in_flight) + ", \"elements\": " + std::to_string(o.elements) +
       ", \"validation\": " + (o.validate ? "true" : "false") + ",\n";
  j += "  \"verified\": " + std::string(r.verified ? "true" : "false") +
       ", \"validation_errors\": " + std::to_string(r.validation_errors) + ",\n";
  j += "  \"bridge\": " + run_json(r.bridged, r.bs) + ",\n";
  j += "  \"baseline\": " + (o.baseline ? run_json(r.base, r.ss) : std::string("null")) + ",\n";
  j += "  \"added_median_us\": {\"signal_to_gpu_start\": " +
       (o.baseline ? num(r.bs.to_gpu_start.p50 - r.ss.to_gpu_start.p50) : "null") +
       ", \"signal_to_cpu_done\": " + (o.baseline ? num(r.bs.to_cpu_done.p50 - r.ss.to_cpu_done.p50) : "null") + "},\n";
  j += "  \"notes\": [";
  for (std::size_t i = 0; i < r.notes.size(); ++i) j += (i ? ", " : "") + json_str(r.notes[i]);
  j += "]\n}\n";
  std::fputs(j.c_str(), stdout);
}

void print_text(const Report& r) {
  const auto& rep = r.dev.report();
  const Options& o = r.o;
  std::printf("device:   %s (%s, %s, Vulkan %s)\n", rep.device_name.c_str(), vulkan_driver_id_name(rep.driver_id),
              rep.driver_info.c_str(), vulkan_version_string(rep.api_version).c_str());
  std::printf("caps:     %s\n", describe(r.dev.caps()).c_str());
  std::printf("backend:  %s (requested %s)\n", backend_name(r.backend), o.backend.c_str());
  std::printf("paths:    CPU->GPU %s, GPU->CPU %s\n", r.bridged.wait_path.c_str(), r.bridged.completion_path.c_str());
  if (!o.require_wait_path.empty() || !o.require_completion_path.empty())
    std::printf("required: CPU->GPU %s, GPU->CPU %s: %s\n",
                o.require_wait_path.empty() ? "any" : o.require_wait_path.c_str(),
                o.require_completion_path.empty() ? "any" : o.require_completion_path.c_str(),
                r.unmet.empty() ? "met" : "NOT MET");
  for (const auto& n : r.notes) std::printf("note:     %s\n", n.c_str());
  std::printf("frames:   %u x %u rounds, %u elements, %u in flight\n", o.frames, o.rounds, o.elements, o.in_flight);
  print_run(("bridge/" + std::string(backend_name(r.backend))).c_str(), r.bridged, r.bs);
  if (o.baseline) {
    print_run("baseline (plain timeline semaphore)", r.base, r.ss);
    std::printf("  added median: %+.1f us to GPU start, %+.1f us to CPU done\n",
                r.bs.to_gpu_start.p50 - r.ss.to_gpu_start.p50, r.bs.to_cpu_done.p50 - r.ss.to_cpu_done.p50);
  }
  std::printf("result:   %s\n", r.verified ? "VERIFIED" : "FAILED");
}

}  // namespace gpu_pipeline
