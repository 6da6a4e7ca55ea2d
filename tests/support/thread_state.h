// Test support: waiting until another thread (or a child process) is asleep in a given
// syscall, read from /proc, instead of sleeping "long enough" and hoping it got there.
//
// /proc/<pid>/task/<tid>/syscall names the syscall a task is in only while the task sleeps
// ("running" otherwise; "-1 ..." when it sleeps outside any syscall). A waiter seen asleep in
// futex(2), ppoll(2) or the DRM wait ioctl has done its last check and is queued: whatever
// wakes it now is what the test wants to prove. Reading that file needs ptrace access to the
// task (always there for the process's own threads; for a child, unless ptrace is locked down
// completely); without it the task's state letter in /proc/<pid>/task/<tid>/stat ('S': asleep)
// is the fallback, which cannot tell one syscall from another.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <initializer_list>
#include <iterator>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace syncbridge::testing {

inline pid_t current_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// What /proc says about a task right now.
struct TaskSleep {
  bool asleep = false;         // in state S or D
  long syscall = -1;           // the syscall it sleeps in, -1 when none or unknown
  bool syscall_known = false;  // the syscall file was readable
  std::string describe() const {
    if (!asleep) return "running";
    if (!syscall_known) return "asleep (syscall unknown: /proc/.../syscall unreadable)";
    return syscall < 0 ? "asleep outside any syscall" : "asleep in syscall " + std::to_string(syscall);
  }
};

inline TaskSleep task_sleep(pid_t pid, pid_t tid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid);
  TaskSleep s;
  std::ifstream syscall_file(dir + "/syscall");
  std::string first;
  if (syscall_file && (syscall_file >> first)) {
    s.syscall_known = true;
    if (first == "running") return s;
    s.asleep = true;
    s.syscall = std::strtol(first.c_str(), nullptr, 10);
    return s;
  }
  // Fallback: the state letter after the ")" that closes the command name.
  std::ifstream stat_file(dir + "/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  if (paren != std::string::npos && paren + 2 < stat.size())
    s.asleep = stat[paren + 2] == 'S' || stat[paren + 2] == 'D';
  return s;
}

// Waits until task `tid` of process `pid` sleeps in one of `syscalls` (any sleep, when the
// syscall cannot be read), or `gone()` returns true (the waiter finished or failed without
// sleeping: the caller's own checks then report it), or `limit` passes. True only for the first.
template <class Gone>
bool wait_until_asleep_in(pid_t pid, pid_t tid, std::initializer_list<long> syscalls, Gone gone,
                          std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < give_up) {
    const TaskSleep s = task_sleep(pid, tid);
    if (s.asleep) {
      if (!s.syscall_known) return true;
      for (long nr : syscalls)
        if (s.syscall == nr) return true;
    }
    if (gone()) return false;
    // A polling interval, not a synchronization: the loop reads the state it waits for.
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return false;
}

// The same for a thread of this process.
template <class Gone>
bool wait_until_thread_asleep_in(pid_t tid, std::initializer_list<long> syscalls, Gone gone,
                                 std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  return wait_until_asleep_in(::getpid(), tid, syscalls, gone, limit);
}

// Joins `thread` once `finished` is ready. When it is not ready within `limit`, the thread is
// stuck for good (a lost wake-up): reports `what` as a failure and exits the process, since a
// join would only end at ctest's timeout, with no word on why.
inline void join_or_fail(std::thread& thread, const std::future<void>& finished, std::chrono::seconds limit,
                         const std::string& what) {
  if (finished.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << what << " (still not done " << limit.count() << " s later; exiting, the thread cannot be joined)";
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(1);
  }
  thread.join();
}

}  // namespace syncbridge::testing
