// A real sync_file handed to another process (label "kernel"): the child adopts it, sees the
// same fence, and is woken when the parent signals.
#include <sys/syscall.h>
#include <unistd.h>

#include "bridge_test_util.h"
#include "child_process.h"
#include "syncbridge/fd_passing.h"
#include "thread_state.h"

namespace syncbridge::testing {
namespace {

class FdPassingKernelTest : public KernelTest {
 protected:
  // Forks a child that receives one fd, adopts it as a SyncFile and waits for it; the child's
  // exit code says how far it got (0: signaled). The parent sends `fd`, then calls signal().
  template <class Signal>
  void hand_to_child_and_signal(int fd, Signal signal) {
    ChildProcess child([](int sock) {
      auto got = receive_fd(sock);
      if (!got) return 10;
      auto file = SyncFile::adopt(std::move(got).value());
      if (!file) return 11;
      auto info = file->info();
      if (!info || info->fences.size() != 1 || info->fences[0].driver_name != "sw_sync") return 12;
      if (info->status != FenceStatus::pending) return 13;
      const char ready = 'r';
      if (::write(sock, &ready, 1) != 1) return 14;
      auto w = file->wait(20s);
      if (!w) return 15;
      return *w == WaitStatus::signaled ? 0 : 16;
    });
    ASSERT_TRUE(child.started());
    SB_ASSERT_OK(send_fd(child.socket(), fd));
    char ready = 0;
    const bool got_ready = ::read(child.socket(), &ready, 1) == 1;
    // Signal only once the child sleeps in its wait (ppoll on the sync_file): the parent's
    // signal has to wake it, not be found done when the child gets there.
    if (got_ready) {
      const pid_t pid = child.pid();
      const bool asleep = wait_until_asleep_in(pid, pid, {SYS_ppoll}, [&] { return child.has_exited(); });
      EXPECT_TRUE(asleep) << "the child never slept in its wait (now " << task_sleep(pid, pid).describe() << ")";
    }
    signal();
    const auto exited = child.exited_with(0, "the parent's signal to wake its wait");
    ASSERT_TRUE(got_ready);
    EXPECT_TRUE(exited);
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
