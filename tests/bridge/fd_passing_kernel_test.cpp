// A real sync_file handed to another process (label "kernel"): the child adopts it, sees the
// same fence, and is woken when the parent signals.
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bridge_test_util.h"
#include "thread_state.h"
#include "syncbridge/fd_passing.h"

namespace syncbridge::testing {
namespace {

// True once the child has exited (it stays a zombie for waitpid to reap).
bool has_exited(pid_t child) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == child;
}

class FdPassingKernelTest : public KernelTest {
 protected:
  // Forks a child that receives one fd, adopts it as a SyncFile and waits for it; the child's
  // exit code says how far it got (0: signaled). The parent sends `fd`, then calls signal().
  template <class Signal>
  void hand_to_child_and_signal(int fd, Signal signal) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd mine(sv[0]), theirs(sv[1]);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      mine.reset();
      auto got = receive_fd(theirs.get());
      if (!got) ::_exit(10);
      auto file = SyncFile::adopt(std::move(got).value());
      if (!file) ::_exit(11);
      auto info = file->info();
      if (!info || info->fences.size() != 1 || info->fences[0].driver_name != "sw_sync") ::_exit(12);
      if (info->status != FenceStatus::pending) ::_exit(13);
      const char ready = 'r';
      if (::write(theirs.get(), &ready, 1) != 1) ::_exit(14);
      auto w = file->wait(20s);
      if (!w) ::_exit(15);
      ::_exit(*w == WaitStatus::signaled ? 0 : 16);
    }
    theirs.reset();
    SB_ASSERT_OK(send_fd(mine.get(), fd));
    char ready = 0;
    const bool got_ready = ::read(mine.get(), &ready, 1) == 1;
    // Signal only once the child sleeps in its wait (ppoll on the sync_file): the parent's
    // signal has to wake it, not be found done when the child gets there.
    if (got_ready) {
      const bool asleep = wait_until_asleep_in(child, child, {SYS_ppoll}, [&] { return has_exited(child); });
      EXPECT_TRUE(asleep) << "the child never slept in its wait (now " << task_sleep(child, child).describe() << ")";
    }
    signal();
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(got_ready);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed at step " << WEXITSTATUS(status);
  }
};

TEST_F(FdPassingKernelTest, ASwSyncFenceSignaledInTheParentWakesTheChild) {
  SwSyncTimeline tl = must(SwSyncTimeline::open());
  SyncFile f = must(tl.create_fence(1));
  hand_to_child_and_signal(f.fd(), [&] { EXPECT_TRUE(tl.inc(1).ok()); });
  EXPECT_EQ(must(f.wait(0ns)), WaitStatus::signaled);
}

TEST_F(FdPassingKernelTest, AnExportedPointReachesTheChild) {
  SwSyncExporter e = must(SwSyncExporter::create("to-child"));
  SyncFile f = must(e.sync_file_at(3));
  hand_to_child_and_signal(f.fd(), [&] { EXPECT_TRUE(e.signal_to(3).ok()); });
  EXPECT_EQ(e.held_fence_count(), 0u);
}

}  // namespace
}  // namespace syncbridge::testing
