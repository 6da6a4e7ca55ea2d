// The fd-leak fixture itself: it must catch a leak that a wrong close would hide from a count.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gtest/gtest-spi.h>

#include "test_util.h"

namespace syncbridge::testing {
namespace {

// Runs the fixture's SetUp and TearDown around `body` and returns the failures TearDown reported.
class FixtureProbe : public FdLeakCheckedTest {
 public:
  template <class Body>
  std::string failures_around(Body body) {
    SetUp();
    body();
    ::testing::TestPartResultArray results;
    {
      ::testing::ScopedFakeTestPartResultReporter intercept(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
      TearDown();
    }
    std::string text;
    for (int i = 0; i < results.size(); ++i) text += results.GetTestPartResult(i).message();
    return text;
  }

 private:
  void TestBody() override {}
};

class FdLeakCheckTest : public FdLeakCheckedTest {};

TEST_F(FdLeakCheckTest, ALeakAndAWrongCloseDoNotCancelOut) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  int leaked = -1;
  const std::string failures = FixtureProbe().failures_around([&] {
    leaked = ::eventfd(0, EFD_CLOEXEC);  // opened first, so it cannot take the closed number
    ::close(pipe_fds[0]);                // not the test's to close
  });
  ASSERT_GE(leaked, 0);
  EXPECT_NE(failures.find("leaked: fd " + std::to_string(leaked) + " -> anon_inode:[eventfd]"), std::string::npos)
      << failures;
  EXPECT_NE(failures.find("closed: fd " + std::to_string(pipe_fds[0]) + " -> pipe:["), std::string::npos) << failures;
  ::close(leaked);
  ::close(pipe_fds[1]);
}

TEST_F(FdLeakCheckTest, AnFdNumberReusedForAnotherFileIsReported) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  int reopened = -1;
  const std::string failures = FixtureProbe().failures_around([&] {
    // Closes the pipe's read end and puts an eventfd at its number, in one step.
    const int efd = ::eventfd(0, EFD_CLOEXEC);
    reopened = ::dup3(efd, pipe_fds[0], O_CLOEXEC);
    ::close(efd);
  });
  ASSERT_EQ(reopened, pipe_fds[0]);
  EXPECT_NE(failures.find("replaced: fd " + std::to_string(reopened) + ": was pipe:["), std::string::npos) << failures;
  EXPECT_NE(failures.find("now anon_inode:[eventfd]"), std::string::npos) << failures;
  ::close(reopened);
  ::close(pipe_fds[1]);
}

TEST_F(FdLeakCheckTest, NoChangeNoFailure) {
  EXPECT_EQ(FixtureProbe().failures_around([] {
    const int fd = ::eventfd(0, EFD_CLOEXEC);
    ::close(fd);
  }),
            "");
}

}  // namespace
}  // namespace syncbridge::testing
