// Shared by the benchmark programs: allocation accounting and the command line.
#pragma once

#include <cstddef>
#include <vector>

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

}  // namespace syncbridge::bench
