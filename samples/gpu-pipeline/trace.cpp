#include "trace.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "json_text.h"

namespace gpu_pipeline {

using syncbridge::samples::json_str;

namespace {

// The tracks of one run (tids within the run's pid), top to bottom in the order a frame
// passes them.
enum Track : int { producer = 1, submitter, gpu_queue, consumer };

std::string us(std::int64_t from_ns, std::int64_t to_ns) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", static_cast<double>(to_ns - from_ns) / 1000.0);
  return b;
}

}  // namespace

std::unique_ptr<TraceWriter> TraceWriter::open(const std::string& path, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  std::fputs("{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n", f);
  return std::unique_ptr<TraceWriter>(new TraceWriter(f, path));
}

TraceWriter::~TraceWriter() {
  if (file_) std::fclose(file_);
}

bool TraceWriter::close(std::string& error) {
  std::fputs("\n]}\n", file_);
  const bool write_failed = std::ferror(file_) != 0;
  const bool close_failed = std::fclose(file_) != 0;
  file_ = nullptr;
  if (write_failed || close_failed) error = path_ + ": write failed: " + std::strerror(errno);
  return !write_failed && !close_failed;
}

void TraceWriter::event(const std::string& json) {
  if (!first_) std::fputs(",\n", file_);
  first_ = false;
  std::fputs(json.c_str(), file_);
}

std::string TraceWriter::ts(std::int64_t ns) const { return us(origin_ns_, ns); }

void TraceWriter::metadata(int pid, int tid, const char* what, const std::string& name, int sort_index) {
  const std::string ids = ", \"pid\": " + std::to_string(pid) + ", \"tid\": " + std::to_string(tid);
  event(std::string("{\"name\": \"") + what + "_name\", \"ph\": \"M\"" + ids +
        ", \"args\": {\"name\": " + json_str(name) + "}}");
  event(std::string("{\"name\": \"") + what + "_sort_index\", \"ph\": \"M\"" + ids +
        ", \"args\": {\"sort_index\": " + std::to_string(sort_index) + "}}");
}

void TraceWriter::write_runs(const std::vector<const RunResult*>& runs) {
  if (runs.empty()) return;
  origin_ns_ = runs.front()->start_ns;
  for (const RunResult* r : runs) origin_ns_ = std::min(origin_ns_, r->start_ns);
  int pid = 0;
  for (const RunResult* r : runs) write_run(*r, ++pid);
}

void TraceWriter::write_run(const RunResult& run, int pid) {
  metadata(pid, 0, "process", run.name + " round " + std::to_string(run.round), pid);
  metadata(pid, producer, "thread", "producer (CPU signal)", producer);
  metadata(pid, submitter, "thread", "submitter (vkQueueSubmit2)", submitter);
  metadata(pid, gpu_queue, "thread", "GPU queue", gpu_queue);
  metadata(pid, consumer, "thread", "consumer (CPU sees done)", consumer);
  // Every event names the run's paths: a trace is often looked at without the report.
  const std::string common = "\"run\": " + json_str(run.name) + ", \"round\": " + std::to_string(run.round) +
                             ", \"backend\": " + json_str(run.backend) + ", \"wait_path\": " + json_str(run.wait_path) +
                             ", \"completion_path\": " + json_str(run.completion_path);
  const std::string head = ", \"pid\": " + std::to_string(pid) + ", \"tid\": ";
  auto instant = [&](const char* name, int tid, std::int64_t at, const std::string& args) {
    event(std::string("{\"name\": \"") + name + "\", \"ph\": \"i\", \"s\": \"t\", \"ts\": " + ts(at) + head +
          std::to_string(tid) + ", \"args\": {" + args + "}}");
  };
  for (std::size_t i = 0; i < run.frames.size(); ++i) {
    const FrameRecord& f = run.frames[i];
    const std::string args =
        "\"frame\": " + std::to_string(i) + ", \"point\": " + std::to_string(i + 1) + ", " + common;
    if (f.submitted_ns) instant("submit", submitter, f.submitted_ns, args);
    if (f.signal_ns) instant("CPU signal", producer, f.signal_ns, args);
    if (f.gpu_start_ns && f.gpu_end_ns >= f.gpu_start_ns) {
      std::string gpu_args = args;
      if (f.signal_ns) gpu_args += ", \"signal_to_gpu_start_us\": " + us(f.signal_ns, f.gpu_start_ns);
      event("{\"name\": \"GPU start..GPU done\", \"ph\": \"X\", \"ts\": " + ts(f.gpu_start_ns) + ", \"dur\": " +
            us(f.gpu_start_ns, f.gpu_end_ns) + head + std::to_string(gpu_queue) + ", \"args\": {" + gpu_args + "}}");
    }
    if (f.done_ns) {
      std::string done_args = args;
      if (f.signal_ns) done_args += ", \"signal_to_cpu_done_us\": " + us(f.signal_ns, f.done_ns);
      instant("CPU sees done", consumer, f.done_ns, done_args);
    }
  }
}

}  // namespace gpu_pipeline
