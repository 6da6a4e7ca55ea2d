#include "ratio_reporter.h"

#include <algorithm>
#include <cstdio>

namespace syncbridge::bench {

namespace {
double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
}  // namespace

void RatioReporter::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& run : runs) {
    // Only the runs themselves: the aggregates (mean, median, ...) are recomputed from them.
    if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
    const std::string name = run.benchmark_name();
    ns_[name].push_back(run.GetAdjustedRealTime());  // default time unit is ns
    for (const auto& [key, c] : run.counters) counters_[name][key].push_back(c.value);
  }
  ConsoleReporter::ReportRuns(runs);
}

double RatioReporter::ns_per_iteration(const std::string& name) const {
  auto it = ns_.find(name);
  return it == ns_.end() ? -1 : median(it->second);
}

double RatioReporter::counter(const std::string& name, const std::string& key) const {
  auto it = counters_.find(name);
  if (it == counters_.end()) return -1;
  auto c = it->second.find(key);
  return c == it->second.end() ? -1 : median(c->second);
}

std::size_t RatioReporter::runs(const std::string& name) const {
  auto it = ns_.find(name);
  return it == ns_.end() ? 0 : it->second.size();
}

double RatioReporter::spread_percent(const std::string& name) const {
  auto it = ns_.find(name);
  if (it == ns_.end() || it->second.size() < 2) return 0;
  const auto [lo, hi] = std::minmax_element(it->second.begin(), it->second.end());
  const double m = median(it->second);
  return m > 0 ? 100 * (*hi - *lo) / m : 0;
}

int RatioReporter::print_ratios(const std::vector<Ratio>& ratios) const {
  int missed = 0;
  std::size_t reps = 0;
  for (const Ratio& r : ratios) reps = std::max({reps, runs(r.measured), runs(r.baseline)});
  std::printf("\n%-58s %12s %12s %8s %6s   %s\n", "ratio (same process)", "measured ns", "baseline ns", "ratio", "goal",
              "spread (max-min)/median, measured / baseline");
  if (reps > 1) std::printf("(medians of %zu runs each)\n", reps);
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
    std::printf("%-58s %12.1f %12.1f %8.2f ", r.what.c_str(), m, b, ratio);
    if (r.goal > 0)
      std::printf("%5.2fx", r.goal);
    else
      std::printf("%6s", "-");
    if (reps > 1) std::printf("   %3.0f%% / %3.0f%%", spread_percent(r.measured), spread_percent(r.baseline));
    std::printf("%s\n", ok ? "" : "  MISSED");
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
