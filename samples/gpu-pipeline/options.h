// The command line of syncbridge-gpu-pipeline (see main.cpp and README.md): parsed once, checked
// against the names the library prints; a bad option prints the usage and exits 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace gpu_pipeline {

struct Options {
  std::string backend = "auto";
  std::uint32_t frames = 500;
  std::uint32_t in_flight = 2;
  std::uint32_t elements = 16384;
  std::uint32_t rounds = 3;
  std::string device;
  bool json = false;
  bool validate = false;
  bool baseline = true;
  double stall_timeout_s = 10;                             // 0: no watchdog, and waits without a deadline
  std::string trace;                                       // --trace FILE ("": none)
  std::string require_wait_path, require_completion_path;  // "": anything goes

  std::chrono::nanoseconds stall_timeout() const {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(stall_timeout_s * 1e9));
  }
};

// Prints why (when not null) and the usage to stderr, then exits 2.
[[noreturn]] void usage(const char* why);
Options parse(int argc, char** argv);

}  // namespace gpu_pipeline
