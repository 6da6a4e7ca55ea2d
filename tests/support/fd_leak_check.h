// Test support: snapshots this process's open fds, so each test can prove it leaked none and
// closed none it did not own.
//
// A snapshot is the set of open fd numbers with what each refers to (the readlink() target of
// /proc/self/fd/N: a path, "pipe:[inode]", "anon_inode:[eventfd]"...). Two snapshots are
// compared as sets, not counts: a leaked fd and a wrongly closed one do not cancel out, and an
// fd number that now refers to something else is reported too.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>

#include <gtest/gtest.h>

namespace syncbridge::testing {

// fd number -> readlink target of /proc/self/fd/N.
using OpenFds = std::map<int, std::string>;

// This process's open fds, the directory stream's own fd excluded. Empty when /proc is missing.
inline OpenFds open_fds() {
  OpenFds fds;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return fds;
  const int own = dirfd(dir);
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd == own) continue;
    char target[4096];
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    // An fd closed by another thread between readdir and readlink: it is not open any more.
    if (n < 0) continue;
    fds.emplace(fd, std::string(target, static_cast<std::size_t>(n)));
  }
  closedir(dir);
  return fds;
}

// Number of entries in /proc/self/fd (the directory's own fd excluded); -1 without /proc.
inline int open_fd_count() {
  if (DIR* dir = opendir("/proc/self/fd")) {
    closedir(dir);
    return static_cast<int>(open_fds().size());
  }
  return -1;
}

// A file deleted while open reads "path (deleted)": still the same open fd.
inline std::string fd_identity(const std::string& target) {
  static const std::string deleted = " (deleted)";
  if (target.size() > deleted.size() && target.compare(target.size() - deleted.size(), deleted.size(), deleted) == 0)
    return target.substr(0, target.size() - deleted.size());
  return target;
}

// What changed from `before` to `after`, one line per fd ("" when nothing did):
//   leaked: fd 7 -> anon_inode:[eventfd]          open now, not before
//   closed: fd 5 -> pipe:[1234]                   open before, closed since
//   replaced: fd 9: was pipe:[1] now socket:[2]   the number now names another file
inline std::string describe_fd_changes(const OpenFds& before, const OpenFds& after) {
  std::string out;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out += "  closed: fd " + std::to_string(b->first) + " -> " + b->second + " (open before, closed since)\n";
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out += "  leaked: fd " + std::to_string(a->first) + " -> " + a->second + " (open now, not before)\n";
      ++a;
    } else {
      if (fd_identity(a->second) != fd_identity(b->second))
        out += "  replaced: fd " + std::to_string(a->first) + ": was " + b->second + ", now " + a->second +
               " (closed and reused for something else)\n";
      ++a;
      ++b;
    }
  }
  return out;
}

// A fixture base that fails the test when the set of open fds at its end differs from the set
// at its start: an fd leaked, or one the test did not open was closed (or replaced).
class FdLeakCheckedTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_at_start_ = open_fds(); }
  void TearDown() override {
    const OpenFds now = open_fds();
    const std::string changes = describe_fd_changes(fds_at_start_, now);
    if (!changes.empty())
      ADD_FAILURE() << "the test changed the set of open file descriptors (" << fds_at_start_.size()
                    << " open at its start, " << now.size() << " at its end):\n"
                    << changes;
  }

 private:
  OpenFds fds_at_start_;
};

}  // namespace syncbridge::testing
