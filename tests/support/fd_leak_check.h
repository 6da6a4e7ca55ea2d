// Test support: counts this process's open fds, so each test can prove it leaked none.
#pragma once

#include <dirent.h>

#include <string>

#include <gtest/gtest.h>

namespace syncbridge::testing {

// Number of entries in /proc/self/fd (the directory's own fd excluded).
inline int open_fd_count() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int n = 0;
  while (dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n - 1;
}

// A fixture base that fails the test when it ends with more fds open than it started with.
class FdLeakCheckedTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_at_start_ = open_fd_count(); }
  void TearDown() override {
    EXPECT_EQ(open_fd_count(), fds_at_start_) << "the test leaked file descriptors";
  }

 private:
  int fds_at_start_ = 0;
};

}  // namespace syncbridge::testing
