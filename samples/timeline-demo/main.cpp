// syncbridge-timeline-demo: a CPU producer -> worker -> consumer pipeline on core timelines,
// the shape of the GPU sample with the GPU replaced by a worker thread. Every frame's data is
// checked; latency percentiles (producer signal -> consumer wake) are printed.
//   syncbridge-timeline-demo [--frames N] [--frames-in-flight K] [--deadline-ms MS]
// Every wait has a deadline: a stage that waits longer says which point of which timeline it
// waited for, and closes the three timelines so the other stages stop too (exit status 1).
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "syncbridge/timeline.h"

using namespace syncbridge;

namespace {
constexpr std::size_t kElements = 4096;

struct Options {
  std::uint64_t frames = 2000;
  std::uint64_t in_flight = 3;
  std::chrono::milliseconds deadline{10'000};  // per wait
};

struct Frame {
  std::array<std::uint32_t, kElements> data{};
  MonotonicTime produced_at{};
};

std::uint32_t transform(std::uint32_t x, std::uint64_t frame) { return x * 3u + static_cast<std::uint32_t>(frame); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--frames") && i + 1 < argc)
      o.frames = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--frames-in-flight") && i + 1 < argc)
      o.in_flight = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--deadline-ms") && i + 1 < argc)
      o.deadline = std::chrono::milliseconds(std::strtoll(argv[++i], nullptr, 10));
    else {
      std::fprintf(stderr, "usage: %s [--frames N] [--frames-in-flight K] [--deadline-ms MS]\n", argv[0]);
      return false;
    }
  }
  if (o.in_flight == 0 || o.frames == 0 || o.deadline.count() <= 0) {
    std::fprintf(stderr, "--frames, --frames-in-flight and --deadline-ms must be positive\n");
    return false;
  }
  return true;
}

class Pipeline {
 public:
  Pipeline(const Options& o, Timeline produced, Timeline processed, Timeline consumed)
      : o_(o),
        produced_(std::move(produced)),
        processed_(std::move(processed)),
        consumed_(std::move(consumed)),
        ring_(o.in_flight) {
    latency_us_.reserve(o.frames);
  }

  // Runs every frame through the three stages; false when a wait failed (already reported).
  bool run() {
    std::thread producer([this] { produce(); });
    std::thread worker([this] { work(); });
    consume();
    producer.join();
    worker.join();
    return !failed_.load();
  }
  std::uint64_t wrong_elements() const { return bad_; }
  const std::vector<double>& latency_us() const { return latency_us_; }

 private:
  // Waits for `point` of `tl` within the deadline and returns its signaled fence. On a timeout
  // or an error, reports what `stage` waited for, closes every timeline (which releases the
  // other stages' waits) and returns an empty fence.
  Fence wait_for(const char* stage, Timeline& tl, std::uint64_t point) {
    if (failed_.load()) return {};
    auto fence = tl.fence_at(point);
    auto waited = fence ? fence->wait(o_.deadline) : Result<WaitStatus>(fence.error());
    if (waited && *waited == WaitStatus::signaled) return std::move(fence).value();
    if (!failed_.exchange(true)) {
      const std::string why =
          !waited ? waited.error().describe() : "not signaled within " + std::to_string(o_.deadline.count()) + " ms";
      std::fprintf(stderr, "timeline-demo: the %s waited for point %llu of timeline '%s': %s\n", stage,
                   static_cast<unsigned long long>(point), tl.name().c_str(), why.c_str());
      for (Timeline* t : {&produced_, &processed_, &consumed_}) t->close();
    }
    return {};
  }

  void produce() {
    for (std::uint64_t i = 1; i <= o_.frames; ++i) {
      // The consumer must have released the slot this frame reuses.
      if (i > o_.in_flight && !wait_for("producer", consumed_, i - o_.in_flight)) return;
      Frame& f = ring_[i % o_.in_flight];
      for (std::size_t e = 0; e < kElements; ++e) f.data[e] = static_cast<std::uint32_t>(e + i);
      f.produced_at = std::chrono::steady_clock::now();
      (void)produced_.signal_to(i);
    }
  }

  void work() {
    for (std::uint64_t i = 1; i <= o_.frames; ++i) {
      if (!wait_for("worker", produced_, i)) return;
      for (auto& x : ring_[i % o_.in_flight].data) x = transform(x, i);
      (void)processed_.signal_to(i);
    }
  }

  void consume() {
    for (std::uint64_t i = 1; i <= o_.frames; ++i) {
      const Fence done = wait_for("consumer", processed_, i);
      if (!done) return;
      const Frame& f = ring_[i % o_.in_flight];
      if (const auto at = done.timestamp())
        latency_us_.push_back(std::chrono::duration<double, std::micro>(*at - f.produced_at).count());
      for (std::size_t e = 0; e < kElements; ++e)
        if (f.data[e] != transform(static_cast<std::uint32_t>(e + i), i)) ++bad_;
      (void)consumed_.signal_to(i);
    }
  }

  const Options o_;
  Timeline produced_, processed_, consumed_;
  std::vector<Frame> ring_;
  std::vector<double> latency_us_;
  std::uint64_t bad_ = 0;
  std::atomic<bool> failed_{false};
};
}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) return 2;
  auto produced = Timeline::create({.name = "produced"});
  auto processed = Timeline::create({.name = "processed"});
  auto consumed = Timeline::create({.name = "consumed"});
  if (!produced || !processed || !consumed) return 1;
  Pipeline pipeline(o, std::move(*produced), std::move(*processed), std::move(*consumed));
  const auto start = std::chrono::steady_clock::now();
  if (!pipeline.run()) return 1;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& lat = pipeline.latency_us();
  std::printf("timeline-demo: %llu frames, %llu in flight, %.0f frames/s\n", static_cast<unsigned long long>(o.frames),
              static_cast<unsigned long long>(o.in_flight), static_cast<double>(o.frames) / seconds);
  std::printf("producer signal -> processed: p50 %.1f us, p90 %.1f us, p99 %.1f us\n", percentile(lat, 0.5),
              percentile(lat, 0.9), percentile(lat, 0.99));
  if (pipeline.wrong_elements()) {
    std::printf("FAILED: %llu wrong elements\n", static_cast<unsigned long long>(pipeline.wrong_elements()));
    return 1;
  }
  std::printf("verified: every element of every frame is correct\n");
  return 0;
}
