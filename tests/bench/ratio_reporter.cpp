#include "ratio_reporter.h"

#include <cstdio>

namespace syncbridge::bench {

void RatioReporter::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& run : runs) {
    if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
    const std::string name = run.benchmark_name();
    ns_[name] = run.GetAdjustedRealTime();  // default time unit is ns
    for (const auto& [key, c] : run.counters) counters_[name][key] = c.value;
  }
  ConsoleReporter::ReportRuns(runs);
}

double RatioReporter::ns_per_iteration(const std::string& name) const {
  auto it = ns_.find(name);
  return it == ns_.end() ? -1 : it->second;
}

double RatioReporter::counter(const std::string& name, const std::string& key) const {
  auto it = counters_.find(name);
  if (it == counters_.end()) return -1;
  auto c = it->second.find(key);
  return c == it->second.end() ? -1 : c->second;
}

int RatioReporter::print_ratios(const std::vector<Ratio>& ratios) const {
  int missed = 0;
  std::printf("\n%-58s %12s %12s %8s %6s\n", "ratio (same process)", "measured ns", "baseline ns", "ratio", "goal");
  for (const Ratio& r : ratios) {
    const double m = ns_per_iteration(r.measured);
    const double b = ns_per_iteration(r.baseline);
    if (m < 0 || b <= 0) {
      std::printf("%-58s %12s\n", r.what.c_str(), "(not run)");
      continue;
    }
    const double ratio = m / b;
    const bool ok = r.goal <= 0 || ratio <= r.goal;
    if (!ok) ++missed;
    if (r.goal > 0)
      std::printf("%-58s %12.1f %12.1f %8.2f %5.2fx%s\n", r.what.c_str(), m, b, ratio, r.goal, ok ? "" : "  MISSED");
    else
      std::printf("%-58s %12.1f %12.1f %8.2f %6s\n", r.what.c_str(), m, b, ratio, "-");
  }
  return missed;
}

int RatioReporter::print_paired(const std::vector<PairedRatio>& rows) const {
  int missed = 0;
  std::printf("\n%-58s %12s %12s %8s %6s\n", "paired, medians (judged)", "wrapped ns", "raw ns", "ratio", "goal");
  for (const PairedRatio& row : rows) {
    const double ratio = counter(row.name, "ratio");
    if (ratio < 0) {
      std::printf("%-58s %12s\n", row.what.c_str(), "(not run)");
      continue;
    }
    const bool ok = row.goal <= 0 || ratio <= row.goal;
    if (!ok) ++missed;
    std::printf("%-58s %12.1f %12.1f %8.2f ", row.what.c_str(), counter(row.name, "wrapped_ns"),
                counter(row.name, "raw_ns"), ratio);
    if (row.goal > 0)
      std::printf("%5.2fx%s\n", row.goal, ok ? "" : "  MISSED");
    else
      std::printf("%6s\n", "-");
  }
  return missed;
}

}  // namespace syncbridge::bench
