// Shared by the benchmark programs: allocation accounting, the command line, and the paired
// measurement (raw and wrapped sequences taking turns, medians compared).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace syncbridge::bench {

// Counted by the replacement operator new in bench_support.cpp (linked into every benchmark).
std::size_t allocations() noexcept;
// What malloc really set aside for those allocations: usable size plus its chunk header.
std::size_t bytes_reserved() noexcept;

// Removes --smoke from argv (a ctest run that proves the benchmark works; its figures are never
// judged) and says whether it was there. Pass the rest to benchmark::Initialize.
struct CommandLine {
  bool smoke = false;
  std::vector<char*> args;
  int argc() const { return static_cast<int>(args.size()); }
};
CommandLine parse_command_line(int argc, char** argv);

// Says why the benchmark cannot run on this machine ("<program>: SKIP: <why>", what the smoke
// tests look for) and returns its exit status: 0.
int skip(const char* program, const std::string& why);

// benchmark::Initialize on the arguments --smoke left, then the selected benchmarks, reported to
// reporter.
void run_benchmarks(CommandLine& command_line, benchmark::BenchmarkReporter& reporter);

// The median of samples (reordered); 0 for none.
double sample_median(std::vector<double>& samples);

// ns per operation of `block` runs of op.
template <class Op>
double timed_block(int block, Op& op) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < block; ++i) op();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / block;
}

// Each benchmark iteration takes one raw and one wrapped sample, in alternating order; a sample
// returns its own ns per operation. Counters: raw_ns, wrapped_ns (the medians), ratio.
template <class Raw, class Wrapped>
void paired(benchmark::State& state, Raw raw, Wrapped wrapped) {
  std::vector<double> raw_ns, wrapped_ns;
  raw_ns.reserve(1 << 16);
  wrapped_ns.reserve(1 << 16);
  bool raw_first = true;
  for (auto _ : state) {
    if (raw_first) {
      raw_ns.push_back(raw());
      wrapped_ns.push_back(wrapped());
    } else {
      wrapped_ns.push_back(wrapped());
      raw_ns.push_back(raw());
    }
    raw_first = !raw_first;
  }
  const double r = sample_median(raw_ns), w = sample_median(wrapped_ns);
  state.counters["raw_ns"] = r;
  state.counters["wrapped_ns"] = w;
  state.counters["ratio"] = r > 0 ? w / r : 0;
}

// paired, each sample a timed block of `block` operations.
template <class Raw, class Wrapped>
void paired_blocks(benchmark::State& state, int block, Raw raw, Wrapped wrapped) {
  paired(
      state, [&] { return timed_block(block, raw); }, [&] { return timed_block(block, wrapped); });
}

}  // namespace syncbridge::bench
