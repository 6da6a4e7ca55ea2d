// A console reporter that also remembers each benchmark's time and counters, so main() can
// print every figure as a ratio against a baseline measured in the same process.
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

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
  // ns per iteration (real time) of a finished benchmark, or -1.
  double ns_per_iteration(const std::string& name) const;
  double counter(const std::string& name, const std::string& counter) const;
  // Prints the ratio table; returns the number of goals missed.
  int print_ratios(const std::vector<Ratio>& ratios) const;

 private:
  std::map<std::string, double> ns_;
  std::map<std::string, std::map<std::string, double>> counters_;
};

}  // namespace syncbridge::bench
