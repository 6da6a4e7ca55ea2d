#include "run_monitor.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

namespace gpu_pipeline {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void FrameProgress::advance(Step step, std::uint32_t count) {
  {
    // Under the lock: a waiter between its check and its sleep must not miss the change.
    std::lock_guard guard(m_);
    counts_[step].store(count, std::memory_order_release);
    last_progress_ns_.store(now_ns());
  }
  cv_.notify_all();
}

FrameProgress::WaitResult FrameProgress::wait_for(Step step, std::uint32_t at_least,
                                                  std::chrono::nanoseconds stall_timeout) {
  std::unique_lock lock(m_);
  auto ready = [&] { return aborted_.load() || count(step) >= at_least; };
  if (stall_timeout <= std::chrono::nanoseconds::zero()) cv_.wait(lock, ready);
  // Every advance() wakes this up: the deadline moves with the last progress.
  for (std::chrono::nanoseconds l = left(stall_timeout); !ready(); l = left(stall_timeout)) {
    if (l <= std::chrono::nanoseconds::zero()) return WaitResult::timed_out;
    cv_.wait_for(lock, l);
  }
  return aborted_.load() ? WaitResult::aborted : WaitResult::reached;
}

void FrameProgress::abort() {
  {
    std::lock_guard guard(m_);
    aborted_.store(true);
  }
  cv_.notify_all();
}

RunMonitor::RunMonitor(const FrameProgress& progress, MonitorOptions options, StallLine stall_line)
    : progress_(progress), options_(std::move(options)), stall_line_(std::move(stall_line)) {
  if (options_.stall_timeout > std::chrono::nanoseconds::zero() || options_.progress_line)
    thread_ = std::thread([this] { loop(); });
}

RunMonitor::~RunMonitor() {
  if (thread_.joinable()) {
    {
      std::lock_guard guard(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  if (line_shown_) std::fputs("\r\033[K", stderr);  // the report starts on a clean line
}

void RunMonitor::loop() {
  // A tenth of the timeout (a short one is still checked often enough to be on time), at most
  // 0.1 s: fine enough for the 0.5 s progress line, and next to nothing for the CPU.
  std::chrono::nanoseconds tick = std::chrono::milliseconds(100);
  if (options_.stall_timeout > std::chrono::nanoseconds::zero())
    tick = std::clamp<std::chrono::nanoseconds>(options_.stall_timeout / 10, std::chrono::milliseconds(5), tick);
  std::unique_lock lock(m_);
  while (!cv_.wait_for(lock, tick, [&] { return stop_; })) {
    const std::int64_t now = now_ns();
    const std::int64_t timeout = options_.stall_timeout.count();
    if (timeout > 0 && now - progress_.last_progress_ns() >= timeout) {
      lock.unlock();
      stalled();
    }
    if (options_.progress_line) show_progress(now);
  }
}

void RunMonitor::show_progress(std::int64_t now) {
  // Only once the program has run long enough to wonder about it, at most twice a second.
  if (now - options_.program_start_ns < 2'000'000'000 || now - last_line_ns_ < 500'000'000) return;
  last_line_ns_ = now;
  const std::uint32_t done = progress_.count(FrameProgress::done);
  const double seconds = static_cast<double>(now - run_start_ns_) / 1e9;
  std::fprintf(stderr, "\r\033[K%s: %u/%u frames, %.0f frames/s", options_.label.c_str(), done, options_.frames,
               seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
  std::fflush(stderr);
  line_shown_ = true;
}

// The stall line, asking the driver where the GPU is, but for 1 s at most: a driver may hold a
// query read until its queue drains (lavapipe does, even without VK_QUERY_RESULT_WAIT_BIT),
// and a stalled queue never drains. The asking thread is left behind: the process exits.
std::string RunMonitor::describe_stall(StallMoment moment) {
  struct Answer {
    std::mutex m;
    std::condition_variable cv;
    std::optional<std::string> line;
  };
  auto answer = std::make_shared<Answer>();
  std::thread([answer, ask = stall_line_, moment] {
    std::string line = ask(moment);
    std::lock_guard guard(answer->m);
    answer->line = std::move(line);
    answer->cv.notify_all();
  }).detach();
  std::unique_lock lock(answer->m);
  if (answer->cv.wait_for(lock, std::chrono::seconds(1), [&] { return answer->line.has_value(); }))
    return *answer->line;
  moment.ask_gpu = false;
  return stall_line_(moment);
}

void RunMonitor::stalled() {
  // The watchdog and a timed-out wait may both get here: the first one reports and exits.
  StallMoment moment;
  moment.at_ns = now_ns();
  moment.idle_ns = moment.at_ns - progress_.last_progress_ns();
  static std::atomic_flag reporting = ATOMIC_FLAG_INIT;
  if (reporting.test_and_set())
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  const std::string line = describe_stall(moment);
  std::fprintf(stderr, "%ssyncbridge-gpu-pipeline: %s\n", line_shown_ ? "\r\033[K" : "", line.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(1);
}

}  // namespace gpu_pipeline
