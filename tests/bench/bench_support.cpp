#include "bench_support.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {
std::atomic<std::size_t> g_allocations{0};
std::atomic<std::size_t> g_bytes_reserved{0};
}  // namespace

void* operator new(std::size_t size) {
  void* p = std::malloc(size ? size : 1);
  if (!p) throw std::bad_alloc();
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_bytes_reserved.fetch_add(malloc_usable_size(p) + sizeof(std::size_t), std::memory_order_relaxed);
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace syncbridge::bench {

std::size_t allocations() noexcept { return g_allocations.load(std::memory_order_relaxed); }
std::size_t bytes_reserved() noexcept { return g_bytes_reserved.load(std::memory_order_relaxed); }

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine out;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0)
      out.smoke = true;
    else
      out.args.push_back(argv[i]);
  }
  return out;
}

int skip(const char* program, const std::string& why) {
  std::printf("%s: SKIP: %s\n", program, why.c_str());
  return 0;
}

void run_benchmarks(CommandLine& command_line, benchmark::BenchmarkReporter& reporter) {
  int n = command_line.argc();
  benchmark::Initialize(&n, command_line.args.data());
  benchmark::RunSpecifiedBenchmarks(&reporter);
}

double sample_median(std::vector<double>& samples) {
  if (samples.empty()) return 0;
  const auto middle = samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2);
  std::nth_element(samples.begin(), middle, samples.end());
  return *middle;
}

}  // namespace syncbridge::bench
