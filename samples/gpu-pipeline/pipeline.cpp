#include "pipeline.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "run_monitor.h"
#include "syncbridge/vulkan_completion.h"  // path_name(VulkanCompletionPath)

namespace gpu_pipeline {
namespace {

using namespace syncbridge;

std::uint32_t lowbias32(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}
std::uint32_t input_value(std::uint64_t frame, std::uint32_t k) {
  return static_cast<std::uint32_t>(frame) * 0x9E3779B9u + k * 0x85EBCA6Bu + 1u;
}

// A test knob, not an option: SYNCBRIDGE_SAMPLE_STALL_FRAME=N makes the producer never signal
// frame N (0-based), so that the watchdog can be seen to fire on any machine.
std::optional<std::uint32_t> stall_frame_for_test() {
  const char* v = std::getenv("SYNCBRIDGE_SAMPLE_STALL_FRAME");
  if (!v || !*v) return std::nullopt;
  return static_cast<std::uint32_t>(std::strtoul(v, nullptr, 10));
}

// "3.0 s" style, but a short timeout (--stall-timeout 0.05) must not print as "0.0 s".
std::string seconds(std::int64_t ns) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g s", static_cast<double>(ns) / 1e9);
  return b;
}
// As of at_ns, when the stall was seen (the line follows within the 1 s the driver may take).
std::string ago(std::int64_t at_ns, std::int64_t ns) { return seconds(at_ns - ns) + " ago"; }

class Pipeline {
 public:
  Pipeline(ComputeJob& job, FrameSync& sync, const RunSetup& setup)
      : job_(job), sync_(sync), setup_(setup), slots_(job.slots()) {}
  RunResult run();

 private:
  void produce();
  void consume();
  void submit_all();
  bool output_ok(std::uint32_t frame);
  void fail(const std::string& what);
  bool wait_for(FrameProgress::Step step, std::uint32_t at_least);  // false: the run failed
  Result<WaitStatus> wait_done(std::uint64_t point);                // never timed_out
  std::string stall_line(const RunMonitor::StallMoment& moment) const;
  const char* stage_of(std::uint32_t frame, const RunMonitor::StallMoment& moment, std::string& detail) const;

  ComputeJob& job_;
  FrameSync& sync_;
  const RunSetup& setup_;
  const std::uint32_t slots_;
  const std::optional<std::uint32_t> stall_frame_ = stall_frame_for_test();
  RunResult res_;
  FrameProgress progress_;
  RunMonitor* monitor_ = nullptr;  // while run() runs
  std::mutex error_mutex_;
  std::string error_text_;
};

RunResult Pipeline::run() {
  res_.name = setup_.name;
  res_.backend = setup_.backend;
  res_.round = setup_.round;
  res_.frames.resize(setup_.frames);
  job_.calibrate();
  MonitorOptions mo{setup_.stall_timeout, setup_.progress_line, setup_.program_start_ns,
                    setup_.name + ", round " + std::to_string(setup_.round) + "/" + std::to_string(setup_.rounds),
                    setup_.frames};
  // Watches the teardown below too: a queue that never drains is a stall as well.
  RunMonitor monitor(progress_, std::move(mo), [this](const RunMonitor::StallMoment& m) { return stall_line(m); });
  monitor_ = &monitor;
  std::thread producer([this] { produce(); });
  std::thread consumer([this] { consume(); });
  res_.start_ns = now_ns();
  submit_all();
  producer.join();
  if (progress_.aborted()) sync_.release_all(setup_.frames);  // whatever the GPU may still wait on: let it drain
  consumer.join();
  res_.seconds = static_cast<double>(now_ns() - res_.start_ns) / 1e9;
  job_.wait_idle();
  res_.wait_path = sync_.wait_path();
  res_.completion_path = sync_.completion_path();
  res_.input_errors = sync_.input_errors();
  if (!error_text_.empty() && res_.first_error.empty()) res_.first_error = error_text_;
  if (!error_text_.empty()) res_.bad_frames = std::max<std::uint64_t>(res_.bad_frames, 1);
  return std::move(res_);
}

void Pipeline::fail(const std::string& what) {
  {
    std::lock_guard guard(error_mutex_);
    if (error_text_.empty()) error_text_ = what;
  }
  progress_.abort();
}

bool Pipeline::wait_for(FrameProgress::Step step, std::uint32_t at_least) {
  switch (progress_.wait_for(step, at_least, setup_.stall_timeout)) {
    case FrameProgress::WaitResult::reached: return true;
    case FrameProgress::WaitResult::aborted: return false;
    case FrameProgress::WaitResult::timed_out: break;
  }
  monitor_->stalled();  // the thread it waits for is stuck: report it rather than wait on
}

void Pipeline::produce() {
  for (std::uint32_t i = 0; i < setup_.frames; ++i) {
    if (!wait_for(FrameProgress::submitted, i + 1)) return;  // the GPU is already waiting on frame i
    if (stall_frame_ == i) return;                           // the test knob: this input never comes
    std::uint32_t* in = job_.input(i % slots_);
    for (std::uint32_t k = 0; k < job_.elements(); ++k) in[k] = input_value(i, k);
    res_.frames[i].signal_ns = now_ns();
    if (auto r = sync_.signal(i + 1); !r) return fail("signal " + std::to_string(i + 1) + ": " + r.error().describe());
    progress_.advance(FrameProgress::signaled, i + 1);
  }
}

// The consumer's wait, with the watchdog's deadline: no frame progress for the stall timeout
// (re-armed while other frames move: the producer and the submitter run ahead of it).
Result<WaitStatus> Pipeline::wait_done(std::uint64_t point) {
  if (setup_.stall_timeout <= std::chrono::nanoseconds::zero()) return sync_.wait_done(point, wait_forever);
  for (;;) {
    const std::chrono::nanoseconds left = progress_.left(setup_.stall_timeout);
    if (left <= std::chrono::nanoseconds::zero()) monitor_->stalled();
    auto r = sync_.wait_done(point, left);
    if (!r || *r == WaitStatus::signaled) return r;
  }
}

void Pipeline::consume() {
  for (std::uint32_t i = 0; i < setup_.frames; ++i) {
    if (!wait_for(FrameProgress::submitted, i + 1)) return;
    auto r = wait_done(i + 1);
    const std::int64_t done = now_ns();
    if (!r) return fail("frame " + std::to_string(i) + ": " + r.error().describe());
    res_.frames[i].done_ns = done;
    progress_.advance(FrameProgress::seen, i + 1);
    const std::uint32_t slot = i % slots_;
    if (auto t = job_.gpu_times(slot)) {
      res_.frames[i].gpu_start_ns = t->first;
      res_.frames[i].gpu_end_ns = t->second;
    }
    if (!output_ok(i)) ++res_.bad_frames;
    sync_.retire(i + 1);
    progress_.advance(FrameProgress::done, i + 1);
  }
}

bool Pipeline::output_ok(std::uint32_t i) {
  const std::uint32_t* out = job_.output(i % slots_);
  for (std::uint32_t k = 0; k < job_.elements(); ++k) {
    const std::uint32_t want = lowbias32(input_value(i, k)) + k;
    if (out[k] == want) continue;
    std::lock_guard guard(error_mutex_);
    if (res_.first_error.empty()) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "frame %u element %u: got 0x%08x, want 0x%08x", i, k, out[k], want);
      res_.first_error = buf;
    }
    return false;
  }
  return true;
}

void Pipeline::submit_all() {
  for (std::uint32_t i = 0; i < setup_.frames && !progress_.aborted(); ++i) {
    if (i >= slots_ && !wait_for(FrameProgress::done, i - slots_ + 1)) break;  // the slot is free
    std::vector<VkSemaphoreSubmitInfo> waits, signals;
    if (auto r = sync_.prepare(i + 1, waits, signals); !r)
      return fail("prepare " + std::to_string(i + 1) + ": " + r.error().describe());
    if (VkResult r = job_.submit(i % slots_, waits, signals); r != VK_SUCCESS)
      return fail(vulkan_error(r, "vkQueueSubmit2").describe());
    if (auto r = sync_.submitted(i + 1); !r)
      return fail("submitted " + std::to_string(i + 1) + ": " + r.error().describe());
    res_.frames[i].submitted_ns = now_ns();
    progress_.advance(FrameProgress::submitted, i + 1);
  }
}

// Where frame i (the oldest one the consumer has not seen done) is stuck. A frame's record is
// read only once its count says the thread that writes it is past it.
const char* Pipeline::stage_of(std::uint32_t i, const RunMonitor::StallMoment& moment, std::string& detail) const {
  const FrameRecord& f = res_.frames[i];
  if (progress_.count(FrameProgress::submitted) <= i) {
    detail = "not submitted: the submitter is inside prepare, vkQueueSubmit2 or the stream's submitted()";
    return "submit";
  }
  if (progress_.count(FrameProgress::signaled) <= i) {
    detail =
        "submitted " + ago(moment.at_ns, f.submitted_ns) + ", waiting for its input: the producer has not signaled it";
    return "GPU start";
  }
  std::string signaled = "input signaled " + ago(moment.at_ns, f.signal_ns);
  if (!moment.ask_gpu) {
    detail =
        signaled + "; the driver did not answer a timestamp query within 1 s: whether the GPU started it is unknown";
    return "GPU start or GPU done";
  }
  const std::int64_t asked_ns = now_ns();
  const ComputeJob::GpuState gpu = job_.gpu_state(i % slots_);
  // A driver may hold the answer until its queue drained (lavapipe): then it is the state after.
  if (const std::int64_t took = now_ns() - asked_ns; took > 100'000'000)
    signaled += " (the driver took " + seconds(took) + " to say where the GPU is)";
  switch (gpu) {
    case ComputeJob::GpuState::unknown:
      detail = signaled + "; no GPU timestamps to tell whether the GPU started it";
      return "GPU start or GPU done";
    case ComputeJob::GpuState::not_started:
      detail = signaled + ", the GPU has not started the frame: the input signal has not reached it";
      return "GPU start";
    case ComputeJob::GpuState::running:
      detail = signaled + ", the GPU started the frame and has not finished it";
      return "GPU done";
    case ComputeJob::GpuState::finished: break;
  }
  if (sync_.completion_path() == path_name(VulkanCompletionPath::sync_fd_export)) {
    detail = signaled + ", the GPU finished the frame; its completion sync_file export has not signaled";
    return "export";
  }
  detail = signaled + ", the GPU finished the frame; the consumer's wait has not returned";
  return "CPU sees done";
}

std::string Pipeline::stall_line(const RunMonitor::StallMoment& moment) const {
  // The oldest frame not seen done is the one holding the others up: a consumer stuck after
  // its wait (lavapipe holds a timestamp read until the queue drains) waits on it too.
  const std::uint32_t i = progress_.count(FrameProgress::seen);
  const std::uint32_t done = progress_.count(FrameProgress::done);
  std::string detail = "every frame is done; the queue does not drain";
  const char* stage = i < setup_.frames ? stage_of(i, moment, detail) : "teardown";
  if (done < i)
    detail += "; the consumer is still busy with frame " + std::to_string(done) + " (GPU times, output check)";
  char frame[160];
  std::snprintf(frame, sizeof frame, "frame %u (point %u) of %s, round %u/%u, is stuck in \"%s\" (", i, i + 1,
                setup_.name.c_str(), setup_.round, setup_.rounds, stage);
  return "stalled: no frame made progress for " + seconds(moment.idle_ns) + " (--stall-timeout " +
         seconds(setup_.stall_timeout.count()) + "): " + frame + detail + "); wait path " + sync_.wait_path() +
         ", completion path " + sync_.completion_path() + ", backend " + setup_.backend;
}

}  // namespace

RunResult run_pipeline(ComputeJob& job, FrameSync& sync, const RunSetup& setup) {
  return Pipeline(job, sync, setup).run();
}

}  // namespace gpu_pipeline
