// How far the frames of one run have got, and a thread that watches it: the stall watchdog (a
// run that stops making progress is reported and the process exits; it never hangs silently)
// and, on a terminal, a progress line.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace gpu_pipeline {

// The sample's one clock (steady_clock is CLOCK_MONOTONIC, the domain the GPU timestamps are
// calibrated to): frame records, the watchdog and the trace all use it.
std::int64_t now_ns();

// Frames pass each step in frame order (each step is one thread's loop), so one count per step
// says where every frame is: frame i has passed `step` iff count(step) > i. A count is advanced
// by its own thread after it wrote the frame's record; count() (acquire) makes that record
// visible to the reader. Waits take a deadline so that no thread of the run waits unboundedly.
class FrameProgress {
 public:
  // seen: the consumer's wait returned; done: the consumer is through with the frame (GPU
  // times read, output checked, retired), its slot is free.
  enum Step { submitted, signaled, seen, done, step_count };
  enum class WaitResult { reached, aborted, timed_out };

  void advance(Step step, std::uint32_t count);
  std::uint32_t count(Step step) const { return counts_[step].load(std::memory_order_acquire); }
  // Until count(step) >= at_least, abort(), or no count moved for stall_timeout (zero: no
  // deadline): the watchdog's own definition of a stall, so that a long wait behind frames that
  // do move is not one.
  WaitResult wait_for(Step step, std::uint32_t at_least, std::chrono::nanoseconds stall_timeout);
  // What is left of stall_timeout since the last progress (<= 0: stalled).
  std::chrono::nanoseconds left(std::chrono::nanoseconds stall_timeout) const {
    return std::chrono::nanoseconds(last_progress_ns() + stall_timeout.count() - now_ns());
  }
  void abort();
  bool aborted() const { return aborted_.load(); }
  // When a count last moved (or the run started).
  std::int64_t last_progress_ns() const { return last_progress_ns_.load(); }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<std::uint32_t> counts_[step_count] = {};
  std::atomic<bool> aborted_{false};
  std::atomic<std::int64_t> last_progress_ns_{now_ns()};
};

struct MonitorOptions {
  std::chrono::nanoseconds stall_timeout{0};  // zero: no watchdog
  bool progress_line = false;                 // stderr is a terminal and the report is not JSON
  std::int64_t program_start_ns = 0;          // the line only appears once the program ran 2 s
  std::string label;                          // "bridge/host, round 1/3"
  std::uint32_t frames = 0;
};

class RunMonitor {
 public:
  // When the stall was seen, for the line's times (it may be written up to 1 s later).
  struct StallMoment {
    std::int64_t at_ns = 0;    // now_ns() then
    std::int64_t idle_ns = 0;  // since the last progress
    bool ask_gpu = true;       // the line may ask the driver where the GPU is (see describe_stall())
  };
  // The watchdog's one line (frame, stage, paths, backend), without the program name.
  using StallLine = std::function<std::string(const StallMoment&)>;
  RunMonitor(const FrameProgress& progress, MonitorOptions options, StallLine stall_line);
  RunMonitor(const RunMonitor&) = delete;
  RunMonitor& operator=(const RunMonitor&) = delete;
  ~RunMonitor();  // stops the thread and erases the progress line

  // The run is stuck: prints the stall line and ends the process with status 1 at once
  // (std::_Exit: the stuck threads may be inside the driver, nothing could join them).
  [[noreturn]] void stalled();

 private:
  void loop();
  void show_progress(std::int64_t now);
  std::string describe_stall(StallMoment moment);

  const FrameProgress& progress_;
  MonitorOptions options_;
  StallLine stall_line_;
  const std::int64_t run_start_ns_ = now_ns();
  std::int64_t last_line_ns_ = 0;
  std::atomic<bool> line_shown_{false};
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // only when the watchdog or the progress line is on
};

}  // namespace gpu_pipeline
