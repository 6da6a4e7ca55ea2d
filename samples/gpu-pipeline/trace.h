// --trace FILE: the runs as Chrome trace-event JSON, which the Perfetto UI (ui.perfetto.dev) and
// chrome://tracing open. One "process" per run (bridge or baseline, per round) with four tracks:
// producer, submitter, GPU queue and consumer; "ts" in microseconds from the first run's start.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "run_record.h"

namespace gpu_pipeline {

class TraceWriter {
 public:
  // Opened before the runs, so that a path that cannot be written fails at once.
  static std::unique_ptr<TraceWriter> open(const std::string& path, std::string& error);
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;
  ~TraceWriter();

  // Every run of the program, in the order they ran.
  void write_runs(const std::vector<const RunResult*>& runs);
  // Ends the JSON document; false (and why) when the file could not be written.
  bool close(std::string& error);

 private:
  TraceWriter(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  void write_run(const RunResult& run, int pid);
  void metadata(int pid, int tid, const char* what, const std::string& name, int sort_index);
  void event(const std::string& json);
  std::string ts(std::int64_t ns) const;  // microseconds since origin_ns_

  std::FILE* file_;
  std::string path_;
  bool first_ = true;
  std::int64_t origin_ns_ = 0;
};

}  // namespace gpu_pipeline
