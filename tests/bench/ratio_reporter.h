// A console reporter that also remembers each benchmark's time and counters, so main() can
// print every figure as a ratio against a baseline measured in the same process. With
// --benchmark_repetitions=N every figure is the median of the N runs, and the ratio table
// prints the spread of both sides.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace syncbridge::bench {

struct Ratio {
  std::string what;
  std::string measured;  // benchmark name
  std::string baseline;  // benchmark name
  double goal;           // measured / baseline should stay at or below this (0: none)
};

// A benchmark that alternates the wrapped and the raw sequence itself and reports the medians as
// counters "wrapped_ns", "raw_ns" and "ratio" (robust on a loaded or emulated machine).
struct PairedRatio {
  std::string what;
  std::string name;  // benchmark name
  double goal;       // ratio should stay at or below this (0: none)
};

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
  // ns per iteration (real time) of a finished benchmark, the median over its repetitions, or -1.
  double ns_per_iteration(const std::string& name) const;
  // The median over the repetitions, or -1.
  double counter(const std::string& name, const std::string& counter) const;
  // How many runs (repetitions) a benchmark had; 0 when it did not run.
  std::size_t runs(const std::string& name) const;
  // Prints the ratio table; returns the number of goals missed.
  int print_ratios(const std::vector<Ratio>& ratios) const;
  // Prints the paired table (the judged figures); returns the number of goals missed.
  int print_paired(const std::vector<PairedRatio>& rows) const;

 private:
  // (max - min) / median of a benchmark's times, in percent: the spread of its repetitions.
  double spread_percent(const std::string& name) const;
  std::map<std::string, std::vector<double>> ns_;
  std::map<std::string, std::map<std::string, std::vector<double>>> counters_;
};

}  // namespace syncbridge::bench
